//! A virtual world for weak-network tests: the real media worker (rooms and SFU, with its
//! str0m peers) and real engine session cores, on one virtual clock, exchanging datagrams
//! through a [`Network`]. Audio is real Opus from the tone source, 20 ms per packet of
//! virtual time. Signaling goes straight to the worker (authentication is the WebSocket
//! layer's job and has its own tests), and a minute of calling takes about a second.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roomcast_engine::codec::{AudioProfile, OpusEncoder};
use roomcast_engine::media::{AudioSource, ToneSource};
use roomcast_engine::session_core::{Ask, AutoSubscribe, Command, Core, Encoded, Output, Token};
use roomcast_engine::stats::Registry;
use roomcast_engine::{EngineError, EngineEvent};
use roomcast_proto::{
    ClientMessage, ErrorCode, MediaKind, Request, Role, RoomId, Scene, SdkAppId, ServerMessage,
    Stream, UserId,
};
use roomcast_server::room::{Entrant, MemberId};
use roomcast_server::sfu::{self, Reply, Worker};
use str0m::media::Mid;
use tokio::sync::{mpsc, oneshot};

use crate::vnet::{Datagram, Network};

/// Every step of the clock is at least this long (nothing in a call needs finer).
const STEP: Duration = Duration::from_millis(1);
const AUDIO_FRAME: Duration = Duration::from_millis(20);
/// The wall-clock time (µs) the world's start stands for: capture times are wall clock.
const CAPTURE_BASE_US: u64 = 1_700_000_000_000_000;

type WorkerReply = oneshot::Receiver<Result<Reply, (ErrorCode, String)>>;

/// One audio packet a client received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub mid: Mid,
    pub rtp_time: u64,
    pub bytes: usize,
}

/// A participant: an engine session core at its own address.
pub struct Client {
    pub user: UserId,
    pub addr: SocketAddr,
    core: Core,
    member: MemberId,
    events: mpsc::UnboundedReceiver<ServerMessage>,
    /// Replies the worker owes for our requests: (request id, reply, is negotiate).
    owed: Vec<(u64, WorkerReply, bool)>,
    /// What the engine would have told the app.
    pub engine_events: Vec<(Instant, EngineEvent)>,
    pub received: Vec<Received>,
    /// Finished commands.
    pub done: HashMap<Token, Result<(), EngineError>>,
    next_token: Token,
    audio: Option<AudioOut>,
}

struct AudioOut {
    tone: ToneSource,
    opus: OpusEncoder,
    next: Instant,
}

pub struct World {
    pub start: Instant,
    pub now: Instant,
    pub net: Network,
    worker: Worker,
    pub server_addr: SocketAddr,
    pub clients: Vec<Client>,
    next_member: u64,
}

impl World {
    pub fn new(seed: u64) -> Self {
        let start = Instant::now();
        let server_addr = SocketAddr::from(([10, 0, 0, 1], 5000));
        let (ledger, _) = mpsc::unbounded_channel();
        Self {
            start,
            now: start,
            net: Network::new(start, seed),
            worker: Worker::new(server_addr, ledger, Arc::new(sfu::WorkerStats::default())),
            server_addr,
            clients: Vec::new(),
            next_member: 1,
        }
    }

    /// Time since the world started.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// `user` enters room 1 as an anchor from its own address; returns its index.
    pub fn join(&mut self, user: &str) -> usize {
        let index = self.clients.len();
        let addr = SocketAddr::from(([10, 0, 1, index as u8 + 1], 40_000));
        let user = UserId::new(user).expect("a valid user id");
        let member = MemberId(self.next_member);
        self.next_member += 1;
        let (events_tx, events) = mpsc::unbounded_channel();
        let (reply, answer) = oneshot::channel();
        let room = RoomId::number(1).expect("room 1");
        self.worker.handle_command(
            self.now,
            sfu::Command::Enter {
                member,
                app: SdkAppId::new(1_400_000_001).expect("an app id"),
                room: room.clone(),
                entrant: Entrant::trusted(user.clone(), Role::Anchor, false),
                scene: Scene::VideoCall,
                invite_issued: None,
                events: events_tx,
                reply,
            },
        );
        let entered = match reply_now(answer) {
            Ok(Reply::Entered {
                role,
                users,
                room: view,
            }) => ServerMessage::Entered {
                id: 1,
                room_id: room,
                user_id: user.clone(),
                role,
                users,
                room: view,
            },
            _ => panic!("{user} could not enter"),
        };
        let auto = AutoSubscribe {
            audio: true,
            video: true,
        };
        let role = Arc::new(Mutex::new(Role::Anchor));
        let registry = Arc::new(Registry::default());
        let mut core =
            Core::new(addr, self.now, self.now, auto, registry, role).expect("a session core");
        core.entered(self.now, entered);
        self.clients.push(Client {
            user,
            addr,
            core,
            member,
            events,
            owed: Vec::new(),
            engine_events: Vec::new(),
            received: Vec::new(),
            done: HashMap::new(),
            next_token: 0,
            audio: None,
        });
        index
    }

    /// Client `i` publishes the tone source's audio (Opus, speech profile).
    pub fn publish_audio(&mut self, i: usize) {
        let now = self.now;
        let c = &mut self.clients[i];
        c.next_token += 1;
        let token = c.next_token;
        c.core.handle_command(
            now,
            Command::Ask(
                Ask::Publish {
                    kind: MediaKind::Audio,
                    stream: Stream::Main,
                    simulcast: false,
                },
                token,
            ),
        );
        c.core.handle_command(
            now,
            Command::SetAvailable {
                kind: MediaKind::Audio,
                stream: Stream::Main,
                available: true,
            },
        );
        c.audio = Some(AudioOut {
            tone: ToneSource::new(1),
            opus: OpusEncoder::new(1, AudioProfile::Speech).expect("an Opus encoder"),
            next: now,
        });
    }

    /// Runs the world for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        self.run_until(end, |_| false);
    }

    /// Runs until `done` says so or `end`; returns whether `done` did.
    pub fn run_until(&mut self, end: Instant, mut done: impl FnMut(&World) -> bool) -> bool {
        loop {
            self.settle();
            if done(self) {
                return true;
            }
            if self.now >= end {
                return false;
            }
            let next = self
                .next_event()
                .clamp(self.now + STEP, end.max(self.now + STEP));
            self.now = next;
            self.tick();
        }
    }

    /// The earliest time something is due.
    fn next_event(&self) -> Instant {
        let clients = self.clients.iter().flat_map(|c| {
            let audio = c.audio.as_ref().map(|a| a.next);
            std::iter::once(c.core.next_timeout()).chain(audio)
        });
        clients
            .chain(self.net.next_arrival())
            .chain(std::iter::once(self.worker.next_deadline(self.now)))
            .min()
            .unwrap_or(self.now)
    }

    /// Everything due at `now`: arrivals, timeouts, media.
    fn tick(&mut self) {
        let now = self.now;
        while let Some(d) = self.net.receive(now) {
            if d.to == self.server_addr {
                self.worker.handle_datagram(now, d.from, &d.data);
            } else if let Some(c) = self.clients.iter_mut().find(|c| c.addr == d.to) {
                c.core.handle_datagram(now, d.from, &d.data);
            }
        }
        if self.worker.next_deadline(now) <= now {
            self.worker.handle_timeout(now);
        }
        for c in &mut self.clients {
            if c.core.next_timeout() <= now {
                c.core.handle_timeout(now);
            }
            while let Some(a) = c.audio.as_mut().filter(|a| a.next <= now) {
                let capture_us = CAPTURE_BASE_US + (a.next - self.start).as_micros() as u64;
                a.next += AUDIO_FRAME;
                let Some(frame) = a.tone.next_frame(capture_us) else {
                    break;
                };
                let data = a.opus.encode(&frame.samples).expect("Opus encodes");
                let e = Encoded {
                    kind: MediaKind::Audio,
                    stream: Stream::Main,
                    data,
                    keyframe: false,
                    layer: None,
                    capture_us,
                };
                c.core.write_media(now, e);
            }
        }
    }

    /// Hands out everything the cores and the worker produced until nobody has more.
    fn settle(&mut self) {
        let now = self.now;
        loop {
            let mut busy = false;
            for c in &mut self.clients {
                busy |= c.flush(now, &mut self.net, self.server_addr, &mut self.worker);
            }
            for t in self.worker.take_transmits() {
                busy = true;
                let from = self.server_addr;
                let (to, data) = (t.destination, t.contents.to_vec());
                self.net.send(now, Datagram { from, to, data });
            }
            for c in &mut self.clients {
                while let Ok(msg) = c.events.try_recv() {
                    busy = true;
                    c.core.handle_server(now, msg);
                }
            }
            if !busy {
                return;
            }
        }
    }
}

impl Client {
    /// Carries out the core's outputs; true if there were any.
    fn flush(
        &mut self,
        now: Instant,
        net: &mut Network,
        server: SocketAddr,
        worker: &mut Worker,
    ) -> bool {
        let mut any = false;
        while let Some(o) = self.core.poll_output() {
            any = true;
            match o {
                Output::Signal(msg) => self.signal(now, msg, worker),
                Output::Transmit(t) => {
                    let (from, data) = (self.addr, t.contents.to_vec());
                    debug_assert_eq!(t.destination, server);
                    net.send(
                        now,
                        Datagram {
                            from,
                            to: t.destination,
                            data,
                        },
                    );
                }
                Output::Event(e) => self.engine_events.push((now, e)),
                Output::Done { token, result } => {
                    self.done.insert(token, result);
                }
                Output::Media {
                    mid,
                    rtp_time,
                    data,
                    ..
                } => self.received.push(Received {
                    at: now,
                    mid,
                    rtp_time,
                    bytes: data.len(),
                }),
                Output::StartReceiver { .. } | Output::StopReceiver(_) | Output::Finished => {}
            }
        }
        let owed = std::mem::take(&mut self.owed);
        for (id, reply, negotiate) in owed {
            any = true;
            let msg = match (reply_now(reply), negotiate) {
                (Ok(Reply::Answer(sdp)), true) => ServerMessage::Answer { id, sdp },
                (Ok(_), _) => ServerMessage::Ok { id },
                (Err((code, message)), _) => ServerMessage::error(Some(id), code, message),
            };
            self.core.handle_server(now, msg);
        }
        any
    }

    /// A request from the core, handed to the worker as signaling would.
    fn signal(&mut self, now: Instant, msg: ClientMessage, worker: &mut Worker) {
        let member = self.member;
        let (reply, answer) = oneshot::channel();
        let (command, negotiate) = match msg.request {
            Request::Negotiate { sdp, tracks } => {
                let c = sfu::Command::Negotiate {
                    member,
                    sdp,
                    tracks,
                    reply,
                };
                (c, true)
            }
            Request::SetAvailable {
                kind,
                stream,
                available,
            } => {
                let c = sfu::Command::SetAvailable {
                    member,
                    kind,
                    stream,
                    available,
                    reply,
                };
                (c, false)
            }
            Request::Unsubscribe { mid } => {
                (sfu::Command::Unsubscribe { member, mid, reply }, false)
            }
            Request::ExitRoom => (sfu::Command::Exit { member, reply }, false),
            Request::Ping => {
                self.core
                    .handle_server(now, ServerMessage::Ok { id: msg.id });
                return;
            }
            other => panic!("the virtual world does not route {other:?}"),
        };
        worker.handle_command(now, command);
        self.owed.push((msg.id, answer, negotiate));
    }

    /// When this client first received media.
    pub fn first_media(&self) -> Option<Instant> {
        self.received.first().map(|r| r.at)
    }
}

/// The worker answers every command before `handle_command` returns.
fn reply_now(mut rx: WorkerReply) -> Result<Reply, (ErrorCode, String)> {
    rx.try_recv()
        .unwrap_or_else(|_| Err((ErrorCode::Internal, "no reply".into())))
}
