//! One room session: the WebSocket to the server and the client's str0m `Rtc`, driven by a
//! single tokio task. The client always offers; subscriptions and publications are m-lines
//! it adds and describes in `negotiate`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use roomcast_proto::{
    ClientMessage, ErrorCode, LeaveReason, MediaKind, PROTOCOL_VERSION, Request, Role,
    ServerMessage, Stream, Track, UserId, VideoStreamType,
};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, KeyframeRequestKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::audio::Playout;
use crate::capture::{Controls, Encoded};
use crate::engine::{EngineConfig, EngineError, EngineEvent, EnterRoomParams};
use crate::media::{AudioSink, VideoSink, now_us};
use crate::remote::{self, Feedback, Receiving, VideoPacket};
use crate::stats::{Registry, lock};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
type Done = oneshot::Sender<Result<(), EngineError>>;

/// What the engine asks of a running session.
pub enum Cmd {
    Publish {
        kind: MediaKind,
        stream: Stream,
        /// A camera with a small layer.
        simulcast: bool,
        done: Done,
    },
    SetAvailable {
        kind: MediaKind,
        stream: Stream,
        available: bool,
    },
    RegisterAudio {
        controls: Arc<Controls>,
    },
    RegisterVideo {
        stream: Stream,
        controls: Arc<Controls>,
    },
    Subscribe {
        user: UserId,
        kind: MediaKind,
        stream: Stream,
        video_sink: Option<Box<dyn VideoSink>>,
    },
    Unsubscribe {
        user: UserId,
        kind: MediaKind,
        stream: Stream,
    },
    SwitchRole {
        role: Role,
        done: Done,
    },
    /// A request whose reply is `ok` or an error, e.g. inviting or requesting to speak.
    Request {
        request: Request,
        done: Done,
    },
    Feedback {
        mid: Mid,
        feedback: Feedback,
    },
    Exit {
        done: oneshot::Sender<()>,
    },
}

enum Pending {
    Reply(oneshot::Sender<Result<ServerMessage, EngineError>>),
    /// Our offer; the answer completes it.
    Offer(SdpPendingOffer, Vec<Done>, Vec<Mid>),
    Ignore,
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

struct Queued {
    kind: MediaKind,
    stream: Stream,
    /// None: we publish; Some: we receive this user's stream.
    user: Option<UserId>,
    video_sink: Option<Box<dyn VideoSink>>,
    /// Send with big and small layers (RIDs).
    simulcast: bool,
}

struct Line {
    track: Track,
    pt: Option<Pt>,
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

pub struct Session {
    ws: Ws,
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    next_id: u64,
    pending: HashMap<u64, Pending>,
    lines: HashMap<Mid, Line>,
    order: Vec<Mid>,
    offer_in_flight: bool,
    /// m-lines to add in the next offer (str0m assigns their mids when the offer is made).
    queued: Vec<Queued>,
    waiting: Vec<Done>,
    receivers: HashMap<Mid, Receiver>,
    video_controls: HashMap<Stream, Arc<Controls>>,
    audio_controls: Option<Arc<Controls>>,
    quality: crate::quality::QualityMeter,
    events: mpsc::UnboundedSender<EngineEvent>,
    cmd_tx: mpsc::UnboundedSender<Cmd>,
    config: EngineConfig,
    registry: Arc<Registry>,
    playout: Arc<Mutex<Playout>>,
    /// The local role as the server last confirmed it; the engine reads it too.
    role: Arc<Mutex<Role>>,
    started: Instant,
    connected: bool,
    ice_lost: bool,
    /// Users known to be in the room with their available streams.
    users: HashMap<UserId, (bool, bool, bool)>,
    /// What the host locked off (main stream).
    locked: Vec<MediaKind>,
}

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub async fn new(
        ws: Ws,
        server_url: &str,
        events: mpsc::UnboundedSender<EngineEvent>,
        cmd_tx: mpsc::UnboundedSender<Cmd>,
        config: EngineConfig,
        registry: Arc<Registry>,
        playout: Arc<Mutex<Playout>>,
        role: Arc<Mutex<Role>>,
        started: Instant,
    ) -> Result<Self, EngineError> {
        let local_ip = route_ip(server_url).await;
        let socket = UdpSocket::bind(SocketAddr::new(local_ip, 0))
            .await
            .map_err(|e| {
                EngineError::Connect(format!("cannot open a UDP socket for media: {e}"))
            })?;
        let local = socket
            .local_addr()
            .map_err(|e| EngineError::Connect(e.to_string()))?;
        let mut rtc = Rtc::builder()
            .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
            .clear_codecs()
            .enable_opus(true, false)
            .enable_h264(true)
            .build(Instant::now());
        let candidate =
            Candidate::host(local, "udp").map_err(|e| EngineError::Connect(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        Ok(Self {
            ws,
            rtc,
            socket,
            local,
            next_id: 2,
            pending: HashMap::new(),
            lines: HashMap::new(),
            order: Vec::new(),
            offer_in_flight: false,
            queued: Vec::new(),
            waiting: Vec::new(),
            receivers: HashMap::new(),
            video_controls: HashMap::new(),
            audio_controls: None,
            quality: crate::quality::QualityMeter::default(),
            events,
            cmd_tx,
            config,
            registry,
            playout,
            role,
            started,
            connected: false,
            ice_lost: false,
            users: HashMap::new(),
            locked: Vec::new(),
        })
    }

    /// The host turned our microphone or camera off: stop sending it, as a local mute does.
    fn host_muted(&mut self, kind: MediaKind, locked: bool) {
        let controls = match kind {
            MediaKind::Audio => self.audio_controls.as_ref(),
            MediaKind::Video => self.video_controls.get(&Stream::Main),
        };
        if let Some(c) = controls {
            c.muted.store(true, Ordering::Relaxed);
        }
        if locked && !self.locked.contains(&kind) {
            self.locked.push(kind);
        }
    }

    fn emit(&self, e: EngineEvent) {
        let _ = self.events.send(e);
    }

    fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    /// Takes the `entered` reply's roster, then runs until exit or disconnection.
    pub async fn run(
        mut self,
        entered: ServerMessage,
        mut cmds: mpsc::UnboundedReceiver<Cmd>,
        mut media: mpsc::UnboundedReceiver<Encoded>,
    ) {
        if let ServerMessage::Entered { users, room, .. } = entered {
            self.emit(EngineEvent::RoomChanged(room));
            for u in users {
                self.emit(EngineEvent::RemoteUserEnter {
                    user: u.user_id.clone(),
                    name: u.name.clone(),
                });
                if u.hand.is_some() {
                    self.emit(EngineEvent::Hand {
                        user: u.user_id.clone(),
                        hand: u.hand,
                    });
                }
                self.users.insert(u.user_id.clone(), (false, false, false));
                self.stream_available(u.user_id.clone(), MediaKind::Audio, Stream::Main, u.audio)
                    .await;
                self.stream_available(u.user_id.clone(), MediaKind::Video, Stream::Main, u.video)
                    .await;
                self.stream_available(u.user_id, MediaKind::Video, Stream::Sub, u.sub_video)
                    .await;
            }
        }
        let mut buf = vec![0u8; 2048];
        let mut ping = tokio::time::interval(Duration::from_secs(10));
        let mut report = tokio::time::interval(Duration::from_secs(2));
        report.tick().await;
        let mut volumes = tokio::time::interval(Duration::from_millis(300));
        loop {
            let timeout = self.drive();
            tokio::select! {
                frame = self.ws.next() => {
                    match frame {
                        Some(Ok(Message::Text(t))) => match serde_json::from_str::<ServerMessage>(t.as_str()) {
                            Ok(msg) => if !self.server_message(msg).await { break },
                            Err(e) => tracing::warn!("unreadable server message: {e}"),
                        },
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                            self.emit(EngineEvent::ConnectionLost);
                            self.emit(EngineEvent::Error { code: None, message: "the connection to the room server was lost".into() });
                            break;
                        }
                        Some(Ok(_)) => {}
                    }
                }
                cmd = cmds.recv() => match cmd {
                    Some(Cmd::Exit { done }) => {
                        self.exit().await;
                        let _ = done.send(());
                        break;
                    }
                    Some(cmd) => self.command(cmd).await,
                    None => { self.exit().await; break; }
                },
                enc = media.recv() => if let Some(e) = enc { self.write_media(e) },
                received = self.socket.recv_from(&mut buf) => {
                    if let Ok((n, source)) = received {
                        self.input(source, &buf[..n]);
                        while let Ok((n, source)) = self.socket.try_recv_from(&mut buf) {
                            self.input(source, &buf[..n]);
                        }
                    }
                }
                _ = tokio::time::sleep_until(timeout.into()) => {
                    let _ = self.rtc.handle_input(Input::Timeout(Instant::now()));
                }
                _ = report.tick() => {
                    let stats = self.registry.snapshot();
                    let qualities = self.quality.update(&stats);
                    self.emit(EngineEvent::NetworkQuality(qualities));
                    self.emit(EngineEvent::Statistics(Box::new(stats)));
                }
                _ = volumes.tick() => {
                    let local = self.audio_controls.as_ref().map(|c| c.level.load(Ordering::Relaxed)).unwrap_or(0);
                    let mut levels = vec![(None, local)];
                    levels.extend(self.registry.levels().into_iter().map(|(u, l)| (Some(u), l)));
                    self.emit(EngineEvent::Volumes(levels));
                }
                _ = ping.tick() => self.notify(Request::Ping).await,
            }
        }
        self.receivers.clear();
        self.rtc.disconnect();
        self.emit(EngineEvent::ExitRoom);
    }

    /// Sends a request whose reply only matters if it is an error (reported as an event).
    async fn notify(&mut self, request: Request) {
        let id = self.request_id();
        self.pending.insert(id, Pending::Ignore);
        if let Err(e) = send(&mut self.ws, &ClientMessage { id, request }).await {
            tracing::debug!("cannot send: {e}");
        }
    }

    /// Sends `request`; `done` gets its reply and `then` runs on success. The reply arrives
    /// through the main loop, so this finishes in its own task without blocking it.
    async fn request(
        &mut self,
        request: Request,
        done: Done,
        then: impl FnOnce() + Send + 'static,
    ) {
        let (tx, rx) = oneshot::channel();
        let id = self.request_id();
        self.pending.insert(id, Pending::Reply(tx));
        if let Err(e) = send(&mut self.ws, &ClientMessage { id, request }).await {
            self.pending.remove(&id);
            let _ = done.send(Err(e));
            return;
        }
        tokio::spawn(async move {
            let r = match rx.await {
                Ok(Ok(_)) => {
                    then();
                    Ok(())
                }
                Ok(Err(e)) => Err(e),
                Err(_) => Err(EngineError::NotInRoom),
            };
            let _ = done.send(r);
        });
    }

    async fn switch_role(&mut self, role: Role, done: Done) {
        let events = self.events.clone();
        let current = self.role.clone();
        self.request(Request::SwitchRole { role }, done, move || {
            *lock(&current) = role;
            let _ = events.send(EngineEvent::SwitchRole { role });
        })
        .await;
    }

    /// An anchor allowed our request to speak: go on stage without asking the user again.
    async fn go_on_stage(&mut self) {
        let (done, result) = oneshot::channel();
        self.switch_role(Role::Anchor, done).await;
        let events = self.events.clone();
        tokio::spawn(async move {
            if let Ok(Err(e)) = result.await {
                let _ = events.send(EngineEvent::Error {
                    code: e.code(),
                    message: format!("cannot go on stage: {e}"),
                });
            }
        });
    }

    fn request_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn input(&mut self, source: SocketAddr, data: &[u8]) {
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            Instant::now(),
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.local,
                contents,
            },
        );
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!("bad media input: {e}");
        }
    }

    /// Polls the `Rtc` until it is idle; returns when it next needs a timeout.
    fn drive(&mut self) -> Instant {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    let _ = self.socket.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Timeout(t)) => return t,
                Ok(Output::Event(e)) => self.rtc_event(e),
                Err(e) => {
                    tracing::warn!("media connection failed: {e}");
                    return Instant::now() + Duration::from_millis(100);
                }
            }
        }
    }

    fn rtc_event(&mut self, e: Event) {
        if !matches!(e, Event::MediaData(_)) {
            tracing::debug!("rtc event: {e:?}");
        }
        match e {
            Event::Connected => {
                self.connected = true;
                // Frames encoded before the connection were dropped: start with a keyframe.
                for c in self.video_controls.values() {
                    c.force_keyframe.store(true, Ordering::Relaxed);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.ice_lost = true;
                self.emit(EngineEvent::ConnectionLost);
            }
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) if std::mem::take(&mut self.ice_lost) => {
                self.emit(EngineEvent::ConnectionRecovered);
            }
            Event::KeyframeRequest(req) => {
                if let Some(line) = self.lines.get(&req.mid)
                    && line.track.user_id.is_none()
                    && line.track.kind == MediaKind::Video
                    && let Some(c) = self.video_controls.get(&line.track.stream)
                {
                    let small = req.rid.and_then(|r| VideoStreamType::from_rid(&r))
                        == Some(VideoStreamType::Small);
                    let flag = if small {
                        &c.force_small_keyframe
                    } else {
                        &c.force_keyframe
                    };
                    flag.store(true, Ordering::Relaxed);
                }
            }
            Event::MediaData(data) => match self.receivers.get(&data.mid) {
                Some(Receiver::Audio(r)) => {
                    crate::stats::lock(&r.playout).push_packet(
                        &r.user,
                        now_us(),
                        data.time.numer(),
                        data.data.to_vec(),
                    );
                }
                Some(Receiver::Video(r)) => {
                    let _ = r.tx.send(VideoPacket {
                        data: data.data.to_vec(),
                        contiguous: data.contiguous,
                    });
                }
                None => {}
            },
            _ => {}
        }
    }

    fn write_media(&mut self, e: Encoded) {
        if !self.connected {
            return;
        }
        let Some(mid) = self.order.iter().copied().find(|m| {
            self.lines.get(m).is_some_and(|l| {
                l.track.user_id.is_none() && l.track.kind == e.kind && l.track.stream == e.stream
            })
        }) else {
            return;
        };
        let Some(pt) = self.lines.get(&mid).and_then(|l| l.pt) else {
            return;
        };
        let time = match e.kind {
            MediaKind::Audio => {
                MediaTime::new(e.capture_us * 48 / 1000, Frequency::FORTY_EIGHT_KHZ)
            }
            MediaKind::Video => MediaTime::new(e.capture_us * 9 / 100, Frequency::NINETY_KHZ),
        };
        if let Some(mut writer) = self.rtc.writer(mid) {
            if let Some(l) = e.layer {
                writer = writer.rid(str0m::media::Rid::from(l.rid()));
            }
            let stats = &self.registry;
            match writer.write(pt, Instant::now(), time, e.data) {
                Ok(()) => {
                    let mut s = lock(&stats.local);
                    match e.kind {
                        MediaKind::Audio => s.audio_packets_sent += 1,
                        MediaKind::Video => {
                            s.video_frames_sent += 1;
                            s.small_frames_sent +=
                                u64::from(e.layer == Some(VideoStreamType::Small));
                            s.keyframes_sent += u64::from(e.keyframe);
                        }
                    }
                }
                Err(err) => tracing::debug!("dropping a media frame: {err}"),
            }
        }
    }

    /// The payload type to send on a publishing m-line: Opus, or H.264 constrained
    /// baseline with packetization-mode 1 (what every browser decodes).
    fn choose_pt(&mut self, mid: Mid, kind: MediaKind) -> Option<Pt> {
        let writer = self.rtc.writer(mid)?;
        let params: Vec<_> = writer.payload_params().cloned().collect();
        let score = |p: &str0m::format::PayloadParams| {
            let spec = p.spec();
            match (kind, spec.codec) {
                (MediaKind::Audio, Codec::Opus) => 3,
                (MediaKind::Video, Codec::H264) => {
                    let pm1 = spec.format.packetization_mode == Some(1);
                    let cb = spec.format.profile_level_id == Some(0x42e01f);
                    1 + u8::from(pm1) + u8::from(pm1 && cb)
                }
                _ => 0,
            }
        };
        params
            .iter()
            .filter(|p| score(p) > 0)
            .max_by_key(|p| score(p))
            .map(|p| p.pt())
    }

    async fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Publish {
                kind,
                stream,
                simulcast,
                done,
            } => {
                let exists = self.lines.values().any(|l| {
                    l.track.user_id.is_none() && l.track.kind == kind && l.track.stream == stream
                }) || self
                    .queued
                    .iter()
                    .any(|q| q.user.is_none() && q.kind == kind && q.stream == stream);
                if exists {
                    let _ = done.send(Ok(()));
                } else {
                    self.queued.push(Queued {
                        kind,
                        stream,
                        user: None,
                        video_sink: None,
                        simulcast,
                    });
                    self.waiting.push(done);
                    self.negotiate().await;
                }
            }
            Cmd::SetAvailable {
                kind,
                stream,
                available,
            } => {
                if available && stream == Stream::Main && self.locked.contains(&kind) {
                    // The host locked it: keep it off here too rather than send what the
                    // server would drop.
                    self.host_muted(kind, true);
                    self.emit(EngineEvent::Error {
                        code: Some(roomcast_proto::ErrorCode::MutedByHost),
                        message:
                            "the host turned this off and locked it; ask the host to unlock it"
                                .into(),
                    });
                    return;
                }
                self.notify(Request::SetAvailable {
                    kind,
                    stream,
                    available,
                })
                .await;
            }
            Cmd::RegisterAudio { controls } => self.audio_controls = Some(controls),
            Cmd::RegisterVideo { stream, controls } => {
                self.video_controls.insert(stream, controls);
            }
            Cmd::Subscribe {
                user,
                kind,
                stream,
                video_sink,
            } => self.subscribe(user, kind, stream, video_sink).await,
            Cmd::Unsubscribe { user, kind, stream } => {
                let mids: Vec<Mid> = self
                    .lines
                    .iter()
                    .filter(|(_, l)| {
                        l.track.user_id.as_ref() == Some(&user)
                            && l.track.kind == kind
                            && l.track.stream == stream
                    })
                    .map(|(m, _)| *m)
                    .collect();
                for mid in mids {
                    self.receivers.remove(&mid);
                    self.lines.remove(&mid);
                    self.notify(Request::Unsubscribe {
                        mid: mid.to_string(),
                    })
                    .await;
                }
            }
            Cmd::SwitchRole { role, done } => self.switch_role(role, done).await,
            Cmd::Request { request, done } => self.request(request, done, || {}).await,
            Cmd::Feedback { mid, feedback } => {
                let Some(line) = self.lines.get(&mid) else {
                    return;
                };
                let Some(user) = line.track.user_id.clone() else {
                    return;
                };
                let stream = line.track.stream;
                match feedback {
                    Feedback::KeyframeNeeded => {
                        if let Some(mut w) = self.rtc.writer(mid) {
                            let _ = w.request_keyframe(None, KeyframeRequestKind::Pli);
                        }
                    }
                    Feedback::FirstFrame { width, height } => {
                        let elapsed_ms = self.elapsed_ms();
                        lock(&self.registry.local)
                            .first_video_frame_ms
                            .get_or_insert(elapsed_ms);
                        self.emit(EngineEvent::FirstVideoFrame {
                            user,
                            stream,
                            width,
                            height,
                            elapsed_ms,
                        });
                    }
                    Feedback::SizeChanged { width, height } => {
                        self.emit(EngineEvent::VideoSizeChanged {
                            user,
                            stream,
                            width,
                            height,
                        });
                    }
                    Feedback::FirstAudio => {
                        let elapsed_ms = self.elapsed_ms();
                        self.emit(EngineEvent::FirstAudioFrame { user, elapsed_ms });
                    }
                    Feedback::Sei(data) => self.emit(EngineEvent::SeiMessage { user, data }),
                }
            }
            Cmd::Exit { .. } => {}
        }
    }

    fn add_line(&mut self, mid: Mid, track: Track) {
        self.order.push(mid);
        self.lines.insert(mid, Line { track, pt: None });
    }

    async fn subscribe(
        &mut self,
        user: UserId,
        kind: MediaKind,
        stream: Stream,
        video_sink: Option<Box<dyn VideoSink>>,
    ) {
        let exists = self.lines.values().any(|l| {
            l.track.user_id.as_ref() == Some(&user)
                && l.track.kind == kind
                && l.track.stream == stream
        }) || self
            .queued
            .iter()
            .any(|q| q.user.as_ref() == Some(&user) && q.kind == kind && q.stream == stream);
        if !exists {
            self.queued.push(Queued {
                kind,
                stream,
                user: Some(user),
                video_sink,
                simulcast: false,
            });
            self.negotiate().await;
        }
    }

    /// Starts the thread that receives `user`'s stream on `mid`.
    fn start_receiver(
        &mut self,
        mid: Mid,
        user: &UserId,
        kind: MediaKind,
        stream: Stream,
        video_sink: Option<Box<dyn VideoSink>>,
    ) {
        let tx = self.cmd_tx.clone();
        let fb = move |feedback| {
            let _ = tx.send(Cmd::Feedback { mid, feedback });
        };
        let receiver = match kind {
            MediaKind::Audio => {
                let sink: Box<dyn AudioSink> = (self.config.audio_sink)(user.as_str());
                let stats = self.registry.audio(user.as_str());
                let first: crate::audio::OnFirstAudio = Box::new(move || fb(Feedback::FirstAudio));
                crate::stats::lock(&self.playout)
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
                let sink =
                    video_sink.unwrap_or_else(|| (self.config.video_sink)(user.as_str(), stream));
                let stats = self.registry.video(user.as_str(), stream);
                remote::start_video(sink, stats, fb)
                    .map(Receiver::Video)
                    .map_err(|e| e.to_string())
            }
        };
        match receiver {
            Ok(r) => {
                self.receivers.insert(mid, r);
            }
            Err(e) => self.emit(EngineEvent::Error {
                code: None,
                message: format!("cannot start a receiver: {e}"),
            }),
        }
    }

    /// Sends an offer with every queued m-line, unless one is already in flight (then the
    /// answer triggers the next).
    async fn negotiate(&mut self) {
        if self.offer_in_flight || self.queued.is_empty() {
            return;
        }
        let queued = std::mem::take(&mut self.queued);
        let mut api = self.rtc.sdp_api();
        let mut added = Vec::new();
        let mut mids = Vec::new();
        for q in queued {
            let (dir, stream_id) = match q.user {
                None => (Direction::SendOnly, Some("roomcast".to_string())),
                Some(_) => (Direction::RecvOnly, None),
            };
            let layers = q.simulcast.then(|| {
                let mut s = str0m::media::Simulcast::new();
                for l in [VideoStreamType::Big, VideoStreamType::Small] {
                    s.add_send_layer(str0m::media::SimulcastLayer::new(l.rid()));
                }
                s
            });
            let mid = api.add_media(rtc_kind(q.kind), dir, stream_id, None, layers);
            mids.push(mid);
            added.push((mid, q));
        }
        let applied = api.apply();
        for (mid, q) in added {
            if let Some(user) = &q.user {
                self.start_receiver(mid, user, q.kind, q.stream, q.video_sink);
            }
            self.add_line(
                mid,
                Track {
                    mid: mid.to_string(),
                    kind: q.kind,
                    stream: q.stream,
                    user_id: q.user,
                },
            );
        }
        let Some((offer, pending)) = applied else {
            for d in self.waiting.drain(..) {
                let _ = d.send(Ok(()));
            }
            return;
        };
        let tracks: Vec<Track> = self
            .order
            .iter()
            .filter_map(|m| self.lines.get(m))
            .map(|l| l.track.clone())
            .collect();
        let id = self.request_id();
        let waiting = std::mem::take(&mut self.waiting);
        self.pending
            .insert(id, Pending::Offer(pending, waiting, mids));
        self.offer_in_flight = true;
        let msg = ClientMessage {
            id,
            request: Request::Negotiate {
                sdp: offer.to_sdp_string(),
                tracks,
            },
        };
        tracing::debug!("sending offer {id}");
        if let Err(e) = send(&mut self.ws, &msg).await {
            self.emit(EngineEvent::Error {
                code: None,
                message: e.to_string(),
            });
        }
    }

    /// Handles one server message; false ends the session.
    async fn server_message(&mut self, msg: ServerMessage) -> bool {
        if let Some(id) = msg.reply_to() {
            match self.pending.remove(&id) {
                Some(Pending::Reply(tx)) => {
                    let r = match msg {
                        ServerMessage::Error { code, message, .. } => {
                            Err(EngineError::Server { code, message })
                        }
                        other => Ok(other),
                    };
                    let _ = tx.send(r);
                }
                Some(Pending::Offer(pending, waiting, mids)) => {
                    self.offer_in_flight = false;
                    let result = match msg {
                        ServerMessage::Answer { sdp, .. } => {
                            tracing::debug!("answer {id}");
                            self.accept_answer(pending, &sdp)
                        }
                        ServerMessage::Error { code, message, .. } => {
                            Err(EngineError::Server { code, message })
                        }
                        _ => Err(EngineError::Protocol(
                            "unexpected reply to negotiate".into(),
                        )),
                    };
                    if let Err(e) = &result {
                        // The offer's new m-lines never came to be.
                        for mid in mids {
                            self.lines.remove(&mid);
                            self.receivers.remove(&mid);
                            self.order.retain(|m| *m != mid);
                        }
                        self.emit(EngineEvent::Error {
                            code: e.code(),
                            message: e.to_string(),
                        });
                    }
                    for d in waiting {
                        let _ = d.send(result.clone());
                    }
                    self.negotiate().await;
                }
                Some(Pending::Ignore) => {
                    if let ServerMessage::Error { code, message, .. } = msg {
                        self.emit(EngineEvent::Error {
                            code: Some(code),
                            message,
                        });
                    }
                }
                None => {}
            }
            return true;
        }
        match msg {
            ServerMessage::UserEnter { user_id, name, .. } => {
                self.users
                    .entry(user_id.clone())
                    .or_insert((false, false, false));
                self.emit(EngineEvent::RemoteUserEnter {
                    user: user_id,
                    name,
                });
            }
            ServerMessage::Muted { kind, by, locked } => {
                self.host_muted(kind, locked);
                self.emit(EngineEvent::MutedByHost { kind, by, locked });
            }
            ServerMessage::Unlocked { kind } => {
                self.locked.retain(|k| *k != kind);
                self.emit(EngineEvent::Unlocked { kind });
            }
            other @ (ServerMessage::Custom { .. }
            | ServerMessage::Hand { .. }
            | ServerMessage::RoomChanged { .. }
            | ServerMessage::LobbyJoined { .. }
            | ServerMessage::LobbyLeft { .. }) => {
                if let Some(e) = crate::meeting::event(other) {
                    self.emit(e);
                }
            }
            ServerMessage::LayerDemand { big, small } => {
                if let Some(c) = self.video_controls.get(&Stream::Main) {
                    c.skip_big.store(!big, Ordering::Relaxed);
                    c.skip_small.store(!small, Ordering::Relaxed);
                }
            }
            ServerMessage::UserLeave { user_id, reason } => self.user_left(user_id, reason),
            ServerMessage::StreamAvailable {
                user_id,
                kind,
                stream,
                available,
            } => {
                self.stream_available(user_id, kind, stream, available)
                    .await
            }
            ServerMessage::Removed { code, message } => {
                self.emit(EngineEvent::Removed { code, message });
                return false;
            }
            ServerMessage::SpeakInvited { by } => self.emit(EngineEvent::SpeakInvited { by }),
            ServerMessage::SpeakRequested { user_id } => {
                self.emit(EngineEvent::SpeakRequested { user: user_id })
            }
            ServerMessage::SpeakInviteAnswered { user_id, accept } => {
                self.emit(EngineEvent::SpeakInviteAnswered {
                    user: user_id,
                    accept,
                })
            }
            ServerMessage::SpeakRequestAnswered { accept, by } => {
                self.emit(EngineEvent::SpeakRequestAnswered { accept, by });
                if accept && *lock(&self.role) == Role::Audience {
                    self.go_on_stage().await;
                }
            }
            ServerMessage::Error { code, message, .. } => {
                self.emit(EngineEvent::Error {
                    code: Some(code),
                    message,
                });
            }
            _ => {}
        }
        true
    }

    fn accept_answer(&mut self, pending: SdpPendingOffer, sdp: &str) -> Result<(), EngineError> {
        let answer = SdpAnswer::from_sdp_string(sdp)
            .map_err(|e| EngineError::Protocol(format!("bad SDP answer: {e}")))?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| EngineError::Protocol(format!("cannot apply the SDP answer: {e}")))?;
        let publishing: Vec<(Mid, MediaKind)> = self
            .lines
            .iter()
            .filter(|(_, l)| l.track.user_id.is_none() && l.pt.is_none())
            .map(|(m, l)| (*m, l.track.kind))
            .collect();
        for (mid, kind) in publishing {
            let pt = self.choose_pt(mid, kind);
            if let Some(l) = self.lines.get_mut(&mid) {
                l.pt = pt;
            }
        }
        Ok(())
    }

    fn user_left(&mut self, user: UserId, reason: LeaveReason) {
        self.users.remove(&user);
        let mids: Vec<Mid> = self
            .lines
            .iter()
            .filter(|(_, l)| l.track.user_id.as_ref() == Some(&user))
            .map(|(m, _)| *m)
            .collect();
        for mid in mids {
            self.receivers.remove(&mid);
        }
        self.emit(EngineEvent::RemoteUserLeave { user, reason });
    }

    async fn stream_available(
        &mut self,
        user: UserId,
        kind: MediaKind,
        stream: Stream,
        available: bool,
    ) {
        let flags = self
            .users
            .entry(user.clone())
            .or_insert((false, false, false));
        let slot = match (kind, stream) {
            (MediaKind::Audio, _) => &mut flags.0,
            (MediaKind::Video, Stream::Main) => &mut flags.1,
            (MediaKind::Video, Stream::Sub) => &mut flags.2,
        };
        if *slot == available {
            return;
        }
        *slot = available;
        match kind {
            MediaKind::Audio => self.emit(EngineEvent::UserAudioAvailable {
                user: user.clone(),
                available,
            }),
            MediaKind::Video => self.emit(EngineEvent::UserVideoAvailable {
                user: user.clone(),
                stream,
                available,
            }),
        }
        let auto = match kind {
            MediaKind::Audio => self.config.auto_subscribe_audio,
            MediaKind::Video => self.config.auto_subscribe_video,
        };
        if available && auto {
            self.subscribe(user, kind, stream, None).await;
        }
    }

    async fn exit(&mut self) {
        let id = self.request_id();
        let _ = send(
            &mut self.ws,
            &ClientMessage {
                id,
                request: Request::ExitRoom,
            },
        )
        .await;
        // Wait briefly for the ok so the server records a clean exit, not a lost connection.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(Ok(Some(msg))) =
            tokio::time::timeout_at(deadline, next_message(&mut self.ws)).await
        {
            if msg.reply_to() == Some(id) {
                break;
            }
        }
        let _ = self.ws.close(None).await;
    }
}

fn rtc_kind(kind: MediaKind) -> str0m::media::MediaKind {
    match kind {
        MediaKind::Audio => str0m::media::MediaKind::Audio,
        MediaKind::Video => str0m::media::MediaKind::Video,
    }
}

/// The local address the OS would use to reach the server (no packet is sent).
async fn route_ip(server_url: &str) -> IpAddr {
    let host = server_url
        .split("://")
        .nth(1)
        .unwrap_or(server_url)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let target = tokio::net::lookup_host(if host.contains(':') {
        host.clone()
    } else {
        format!("{host}:80")
    })
    .await
    .ok()
    .and_then(|mut a| a.next());
    let fallback = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    let Some(target) = target else {
        return fallback;
    };
    let Ok(probe) = std::net::UdpSocket::bind(SocketAddr::new(
        if target.is_ipv4() {
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        },
        0,
    )) else {
        return fallback;
    };
    if probe.connect(target).is_err() {
        return fallback;
    }
    probe.local_addr().map(|a| a.ip()).unwrap_or(fallback)
}

impl EngineError {
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            EngineError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }
}
