//! One room session: the tokio driver that connects the sans-IO [`core::Core`] (signaling and
//! the client's str0m `Rtc`) to the WebSocket, the UDP socket, the clock and the receivers
//! that decode and play what arrives. The client always offers; subscriptions and
//! publications are m-lines the core adds and describes in its offers.

pub mod core;
mod route;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use roomcast_proto::{
    ClientMessage, ErrorCode, MediaKind, PROTOCOL_VERSION, Request, Role, ServerMessage, Stream,
    UserId,
};
use str0m::media::Mid;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

pub use self::core::{Ask, Command};
use self::core::{AutoSubscribe, Core, Output, Token};
use self::route::{Route, media_socket};
use crate::audio::Playout;
use crate::capture::Encoded;
use crate::engine::{EngineConfig, EngineError, EngineEvent, EnterRoomParams};
use crate::media::{AudioSink, VideoSink, now_us};
use crate::remote::{self, Feedback, Receiving, VideoPacket};
use crate::stats::{Registry, lock};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
type Done = oneshot::Sender<Result<(), EngineError>>;

/// What the engine asks of a running session: the core's commands, plus what only the driver
/// can hold (reply channels and video sinks).
pub enum Cmd {
    /// Taken by the core as it is.
    Core(Command),
    /// `done` gets the result.
    Ask(Ask, Done),
    /// Subscribes, with where the video goes (the default sink if `None`).
    Subscribe {
        user: UserId,
        kind: MediaKind,
        stream: Stream,
        video_sink: Option<Box<dyn VideoSink>>,
    },
    Exit {
        done: oneshot::Sender<()>,
    },
}

enum Receiver {
    Audio(AudioReceiver),
    Video(Receiving<VideoPacket>),
}

/// A remote user's audio in the engine's playout; dropping it ends the user's audio there.
struct AudioReceiver {
    user: String,
    playout: Arc<Mutex<Playout>>,
}

impl Drop for AudioReceiver {
    fn drop(&mut self) {
        crate::stats::lock(&self.playout).remove_user(&self.user);
    }
}

/// Connects, authenticates and enters (waiting in the lobby if the meeting has one);
/// returns the running session's entry data as an `entered`.
pub async fn connect(
    p: &EnterRoomParams,
    events: &mpsc::UnboundedSender<EngineEvent>,
) -> Result<(Ws, ServerMessage), EngineError> {
    let url = ws_url(&p.server_url)?;
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .map_err(|e| EngineError::Connect(format!("cannot reach the room server at {url}: {e}")))?;
    let enter = ClientMessage {
        id: 1,
        request: Request::EnterRoom(roomcast_proto::EnterRoom {
            version: PROTOCOL_VERSION,
            sdk_app_id: p.sdk_app_id,
            user_id: p.user_id.clone(),
            user_sig: p.user_sig.clone(),
            room_id: serde_json::to_value(&p.room_id).expect("a room id always serialises"),
            role: p.role,
            scene: p.scene,
            hidden: p.hidden,
            invite: p.invite.clone(),
            name: p.name.clone(),
            passcode: p.passcode.clone(),
        }),
    };
    send(&mut ws, &enter).await?;
    loop {
        let msg = next_message(&mut ws).await?.ok_or_else(|| {
            EngineError::Connect("the server closed the connection while entering".into())
        })?;
        match msg {
            ServerMessage::Entered { .. } => return Ok((ws, msg)),
            ServerMessage::Waiting { .. } => {
                let _ = events.send(EngineEvent::WaitingInLobby);
            }
            ServerMessage::Admitted {
                room_id,
                user_id,
                role,
                users,
                room,
            } => {
                let entered = ServerMessage::Entered {
                    id: 1,
                    room_id,
                    user_id,
                    role,
                    users,
                    room,
                };
                return Ok((ws, entered));
            }
            ServerMessage::Error { code, message, .. }
            | ServerMessage::Removed { code, message } => {
                return Err(EngineError::Server { code, message });
            }
            _ => continue,
        }
    }
}

/// `http://host:port` (what users type) → `ws://host:port/ws`.
fn ws_url(server: &str) -> Result<String, EngineError> {
    let s = server.trim_end_matches('/');
    let url = if let Some(rest) = s.strip_prefix("http://") {
        format!("ws://{rest}/ws")
    } else if let Some(rest) = s.strip_prefix("https://") {
        format!("wss://{rest}/ws")
    } else if s.starts_with("ws://") || s.starts_with("wss://") {
        s.to_string()
    } else if !s.is_empty() && !s.contains("://") {
        format!("ws://{s}/ws")
    } else {
        return Err(EngineError::Connect(format!(
            "not a server address: {server:?} (use http://host:port)"
        )));
    };
    Ok(url)
}

async fn send(ws: &mut Ws, msg: &ClientMessage) -> Result<(), EngineError> {
    let text = serde_json::to_string(msg).expect("client messages always serialise");
    ws.send(Message::text(text))
        .await
        .map_err(|e| EngineError::Connect(format!("lost the connection to the room server: {e}")))
}

async fn next_message(ws: &mut Ws) -> Result<Option<ServerMessage>, EngineError> {
    while let Some(frame) = ws.next().await {
        match frame {
            Ok(Message::Text(t)) => {
                return serde_json::from_str(t.as_str())
                    .map(Some)
                    .map_err(|e| EngineError::Protocol(format!("unreadable server message: {e}")));
            }
            Ok(Message::Close(_)) => return Ok(None),
            Ok(_) => continue,
            Err(e) => {
                return Err(EngineError::Connect(format!(
                    "lost the connection to the room server: {e}"
                )));
            }
        }
    }
    Ok(None)
}

type Entering = tokio::task::JoinHandle<Result<(Ws, ServerMessage), EngineError>>;

/// Who receives a remote stream: the same receiver plays it across reconnections.
type StreamKey = (UserId, MediaKind, Stream);

/// A reconnection attempt that hangs (a dead route) counts as failed after this.
const ENTER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

pub struct Session {
    /// None while the connection to the server is lost.
    ws: Option<Ws>,
    /// How we entered, to enter again after a lost connection.
    params: EnterRoomParams,
    entering: Option<Entering>,
    socket: UdpSocket,
    /// To the server; looked at every [`route::CHECK_EVERY`].
    route: Route,
    core: Core,
    receivers: HashMap<StreamKey, (Mid, Receiver)>,
    /// Which stream each receiving m-line carries.
    mids: HashMap<Mid, StreamKey>,
    /// Sinks the engine gave with a subscription, until its receiver starts.
    sinks: HashMap<(UserId, MediaKind, Stream), Box<dyn VideoSink>>,
    dones: HashMap<Token, Done>,
    next_token: Token,
    exits: Vec<oneshot::Sender<()>>,
    events: mpsc::UnboundedSender<EngineEvent>,
    cmd_tx: mpsc::UnboundedSender<Cmd>,
    config: EngineConfig,
    registry: Arc<Registry>,
    playout: Arc<Mutex<Playout>>,
}

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub async fn new(
        ws: Ws,
        params: EnterRoomParams,
        events: mpsc::UnboundedSender<EngineEvent>,
        cmd_tx: mpsc::UnboundedSender<Cmd>,
        config: EngineConfig,
        registry: Arc<Registry>,
        playout: Arc<Mutex<Playout>>,
        role: Arc<Mutex<Role>>,
        started: Instant,
    ) -> Result<Self, EngineError> {
        let route = Route::resolve(&params.server_url).await;
        let (socket, local) = media_socket(route.local_ip_or_loopback()).await?;
        let auto = AutoSubscribe {
            audio: config.auto_subscribe_audio,
            video: config.auto_subscribe_video,
        };
        let core = Core::new(local, Instant::now(), started, auto, registry.clone(), role)?;
        Ok(Self {
            ws: Some(ws),
            params,
            entering: None,
            socket,
            route,
            core,
            receivers: HashMap::new(),
            mids: HashMap::new(),
            sinks: HashMap::new(),
            dones: HashMap::new(),
            next_token: 0,
            exits: Vec::new(),
            events,
            cmd_tx,
            config,
            registry,
            playout,
        })
    }

    /// Takes the `entered` reply's roster, then runs until exit or disconnection.
    pub async fn run(
        mut self,
        entered: ServerMessage,
        mut cmds: mpsc::UnboundedReceiver<Cmd>,
        mut media: mpsc::UnboundedReceiver<Encoded>,
    ) {
        self.core.entered(Instant::now(), entered);
        let mut buf = vec![0u8; 2048];
        let (mut cmds_open, mut media_open) = (true, true);
        let mut route_check = tokio::time::interval_at(
            (Instant::now() + route::CHECK_EVERY).into(),
            route::CHECK_EVERY,
        );
        route_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while self.flush().await {
            let timeout = self.core.next_timeout();
            tokio::select! {
                frame = next_frame(&mut self.ws) => {
                    let now = Instant::now();
                    match frame {
                        Some(Ok(Message::Text(t))) => match serde_json::from_str::<ServerMessage>(t.as_str()) {
                            Ok(msg) => self.core.handle_server(now, msg),
                            Err(e) => tracing::warn!("unreadable server message: {e}"),
                        },
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                            self.ws = None;
                            self.core.connection_lost(now);
                        }
                        Some(Ok(_)) => {}
                    }
                }
                entered = wait_entering(&mut self.entering) => {
                    self.entering = None;
                    self.entered_again(entered).await;
                }
                cmd = cmds.recv(), if cmds_open => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => {
                        cmds_open = false;
                        self.core.handle_command(Instant::now(), Command::Exit);
                    }
                },
                enc = media.recv(), if media_open => match enc {
                    Some(e) => self.core.write_media(Instant::now(), e),
                    None => media_open = false,
                },
                received = self.socket.recv_from(&mut buf) => {
                    if let Ok((n, source)) = received {
                        self.core.handle_datagram(Instant::now(), source, &buf[..n]);
                        while let Ok((n, source)) = self.socket.try_recv_from(&mut buf) {
                            self.core.handle_datagram(Instant::now(), source, &buf[..n]);
                        }
                    }
                }
                _ = route_check.tick() => {
                    if let Some(local) = self.follow_route().await {
                        self.core.address_changed(Instant::now(), local);
                    }
                }
                _ = tokio::time::sleep_until(timeout.into()) => self.core.handle_timeout(Instant::now()),
            }
        }
        self.receivers.clear();
        if let Some(e) = self.entering.take() {
            e.abort();
        }
        if let Some(mut ws) = self.ws.take() {
            let _ = ws.close(None).await;
        }
        let _ = self.events.send(EngineEvent::ExitRoom);
        for done in self.exits.drain(..) {
            let _ = done.send(());
        }
    }

    /// Carries out everything the core asks; false once the session is over.
    async fn flush(&mut self) -> bool {
        let mut running = true;
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Signal(msg) => {
                    if let Some(ws) = self.ws.as_mut()
                        && let Err(e) = send(ws, &msg).await
                    {
                        tracing::debug!("cannot send: {e}");
                    }
                }
                Output::Reconnect { role } => self.enter_again(role),
                Output::Transmit(t) => {
                    let _ = self.socket.try_send_to(&t.contents, t.destination);
                }
                Output::Event(e) => {
                    let _ = self.events.send(e);
                }
                Output::Done { token, result } => {
                    if let Some(done) = self.dones.remove(&token) {
                        let _ = done.send(result);
                    }
                }
                Output::StartReceiver {
                    mid,
                    user,
                    kind,
                    stream,
                } => self.start_receiver(mid, &user, kind, stream),
                Output::StopReceiver(mid) => {
                    if let Some(key) = self.mids.remove(&mid)
                        && self.receivers.get(&key).is_some_and(|(m, _)| *m == mid)
                    {
                        self.receivers.remove(&key);
                    }
                }
                Output::Media {
                    mid,
                    rtp_time,
                    seq,
                    data,
                    contiguous,
                } => match self
                    .mids
                    .get(&mid)
                    .and_then(|k| self.receivers.get(k))
                    .map(|(_, r)| r)
                {
                    Some(Receiver::Audio(r)) => {
                        let data = data.to_vec();
                        lock(&r.playout).push_packet(&r.user, now_us(), rtp_time, seq, data);
                    }
                    Some(Receiver::Video(r)) => {
                        let data = data.to_vec();
                        let _ = r.tx.send(VideoPacket {
                            data,
                            contiguous,
                            rtp_time,
                        });
                    }
                    None => {}
                },
                Output::Finished => running = false,
            }
        }
        running
    }

    fn token(&mut self, done: Done) -> Token {
        self.next_token += 1;
        self.dones.insert(self.next_token, done);
        self.next_token
    }

    fn command(&mut self, cmd: Cmd) {
        let command = match cmd {
            Cmd::Core(command) => command,
            Cmd::Ask(ask, done) => Command::Ask(ask, self.token(done)),
            Cmd::Subscribe {
                user,
                kind,
                stream,
                video_sink,
            } => {
                if let Some(sink) = video_sink {
                    self.sinks.insert((user.clone(), kind, stream), sink);
                }
                Command::Subscribe { user, kind, stream }
            }
            Cmd::Exit { done } => {
                self.exits.push(done);
                Command::Exit
            }
        };
        self.core.handle_command(Instant::now(), command);
    }

    /// Starts the thread that receives `user`'s stream on `mid`, or moves the one that
    /// received it before a reconnection to the new m-line.
    fn start_receiver(&mut self, mid: Mid, user: &UserId, kind: MediaKind, stream: Stream) {
        let key = (user.clone(), kind, stream);
        self.mids.insert(mid, key.clone());
        if let Some((old, _)) = self.receivers.get_mut(&key) {
            let old = std::mem::replace(old, mid);
            self.mids.remove(&old);
            return;
        }
        let tx = self.cmd_tx.clone();
        let fb = move |feedback| {
            let _ = tx.send(Cmd::Core(Command::Feedback { mid, feedback }));
        };
        let receiver = match kind {
            MediaKind::Audio => {
                let sink: Box<dyn AudioSink> = (self.config.audio_sink)(user.as_str());
                let stats = self.registry.audio(user.as_str());
                let first: crate::audio::OnFirstAudio = Box::new(move || fb(Feedback::FirstAudio));
                lock(&self.playout)
                    .add_user(user.as_str(), 2, sink, stats, first)
                    .map(|()| {
                        Receiver::Audio(AudioReceiver {
                            user: user.as_str().to_string(),
                            playout: self.playout.clone(),
                        })
                    })
                    .map_err(|e| e.to_string())
            }
            MediaKind::Video => {
                let sink = self
                    .sinks
                    .remove(&(user.clone(), kind, stream))
                    .unwrap_or_else(|| (self.config.video_sink)(user.as_str(), stream));
                let stats = self.registry.video(user.as_str(), stream);
                remote::start_video(sink, stats, fb)
                    .map(Receiver::Video)
                    .map_err(|e| e.to_string())
            }
        };
        match receiver {
            Ok(r) => {
                self.receivers.insert(key, (mid, r));
            }
            Err(e) => {
                let _ = self.events.send(EngineEvent::Error {
                    code: None,
                    message: format!("cannot start a receiver: {e}"),
                });
            }
        }
    }
}

impl Session {
    /// Opens a new connection and enters as `role` with the same identity, in the background.
    fn enter_again(&mut self, role: Role) {
        self.ws = None;
        let mut params = self.params.clone();
        params.role = role;
        let events = self.events.clone();
        self.entering = Some(tokio::spawn(async move {
            tokio::time::timeout(ENTER_TIMEOUT, connect(&params, &events))
                .await
                .unwrap_or_else(|_| {
                    Err(EngineError::Connect(
                        "the room server did not answer".into(),
                    ))
                })
        }));
    }

    /// The outcome of [`enter_again`](Self::enter_again). Media leaves from a new socket if
    /// the route to the server now goes through another address (a network change).
    async fn entered_again(&mut self, result: Result<(Ws, ServerMessage), EngineError>) {
        let now = Instant::now();
        let (ws, entered) = match result {
            Ok(r) => r,
            Err(e) => return self.core.reconnect_failed(now, e),
        };
        // The server may have moved (a restart elsewhere), and so may we.
        self.route = Route::resolve(&self.params.server_url).await;
        let moved = self.follow_route().await;
        let local = moved.or_else(|| self.socket.local_addr().ok());
        self.ws = Some(ws);
        let result = match local {
            Some(local) => self.core.reconnected(Instant::now(), local, entered),
            None => Err(EngineError::Connect(
                "the media socket has no address".into(),
            )),
        };
        if let Err(e) = result {
            self.ws = None;
            self.core.reconnect_failed(Instant::now(), e);
        }
    }
}

impl Session {
    /// Moves media to a new socket if the route to the server now leaves from another
    /// address (a network change); returns the new local address.
    async fn follow_route(&mut self) -> Option<SocketAddr> {
        let ip = self.route.local_ip()?;
        if self.socket.local_addr().ok().map(|a| a.ip()) == Some(ip) {
            return None;
        }
        match media_socket(ip).await {
            Ok((socket, local)) => {
                tracing::info!("the route to the server now leaves from {ip}");
                self.socket = socket;
                Some(local)
            }
            Err(e) => {
                tracing::warn!("network changed to {ip}, but {e}");
                None
            }
        }
    }
}

async fn next_frame(
    ws: &mut Option<Ws>,
) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match ws {
        Some(ws) => ws.next().await,
        None => std::future::pending().await,
    }
}

async fn wait_entering(
    entering: &mut Option<Entering>,
) -> Result<(Ws, ServerMessage), EngineError> {
    match entering {
        Some(task) => task
            .await
            .unwrap_or_else(|e| Err(EngineError::Connect(format!("entering again failed: {e}")))),
        None => std::future::pending().await,
    }
}

fn rtc_kind(kind: MediaKind) -> str0m::media::MediaKind {
    match kind {
        MediaKind::Audio => str0m::media::MediaKind::Audio,
        MediaKind::Video => str0m::media::MediaKind::Video,
    }
}

impl EngineError {
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            EngineError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }
}
