//! A virtual world for weak-network tests: the real media worker (rooms and SFU, with its
//! str0m peers) and real engine session cores, on one virtual clock, exchanging datagrams
//! through a [`Network`]. Audio is real Opus from the tone source, 20 ms per packet of
//! virtual time. Signaling goes straight to the worker (authentication is the WebSocket
//! layer's job and has its own tests), and a minute of calling takes about a second.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roomcast_engine::codec::{AudioProfile, OpusEncoder};
use roomcast_engine::media::{AudioFrame, AudioSource, FRAME_SAMPLES, ToneSource};
use roomcast_engine::session_core::{
    Ask, AutoSubscribe, Command, Controls, Core, Encoded, Output, Token,
};
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

use crate::vnet::{Datagram, Impairment, Network};

mod camera;
mod playout;
pub use playout::freezes;
pub mod speech;
pub mod uplink;
use camera::Camera;

/// Every step of the clock is at least this long (nothing in a call needs finer).
const STEP: Duration = Duration::from_millis(1);
const AUDIO_FRAME: Duration = Duration::from_millis(20);
/// The wall-clock time (µs) the world's start stands for: capture times are wall clock.
const CAPTURE_BASE_US: u64 = 1_700_000_000_000_000;

type WorkerReply = oneshot::Receiver<Result<Reply, (ErrorCode, String)>>;

/// One audio packet or video frame a client received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub mid: Mid,
    pub rtp_time: u64,
    /// The extended RTP sequence number (of the first packet).
    pub seq: u64,
    pub bytes: usize,
    pub data: Arc<[u8]>,
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
    /// What the engine would report in its statistics.
    pub registry: Arc<Registry>,
    /// Finished commands.
    pub done: HashMap<Token, Result<(), EngineError>>,
    next_token: Token,
    audio: Option<AudioOut>,
    camera: Option<Camera>,
    /// What each receiving m-line carries.
    pub kinds: HashMap<Mid, MediaKind>,
    /// The signaling connection is open.
    signal_up: bool,
    /// The core asked to enter again with this role.
    reenter: Option<Role>,
    pub finished: bool,
}

struct AudioOut {
    source: Box<dyn AudioSource>,
    opus: OpusEncoder,
    next: Instant,
    /// What the core tells the capture (Opus FEC's expected loss), as a real capture reads it.
    controls: Arc<Controls>,
    expected_loss: u8,
}

/// Samples to send (48 kHz mono), and how far they went; silence after them.
struct Samples(Vec<f32>, usize);

impl AudioSource for Samples {
    fn channels(&self) -> u16 {
        1
    }

    fn next_frame(&mut self, capture_us: u64) -> Option<AudioFrame> {
        let mut samples = vec![0i16; FRAME_SAMPLES];
        let from = self.1.min(self.0.len());
        let to = (self.1 + FRAME_SAMPLES).min(self.0.len());
        roomcast_engine::audio::to_i16(&self.0[from..to], &mut samples);
        self.1 += FRAME_SAMPLES;
        Some(AudioFrame {
            samples,
            channels: 1,
            sample_rate: 48_000,
            capture_us,
        })
    }
}

pub struct World {
    pub start: Instant,
    pub now: Instant,
    pub net: Network,
    worker: Worker,
    /// The server's counters (new ones when it restarts).
    pub server_stats: Arc<sfu::WorkerStats>,
    pub server_addr: SocketAddr,
    pub clients: Vec<Client>,
    next_member: u64,
    /// A client's signaling connection breaks when its link goes out, and entering again
    /// fails while it is out (a Wi-Fi drop); otherwise signaling is never impaired.
    pub signaling_follows_link: bool,
    /// While set, entering again is refused with this code (as an expired UserSig, or a
    /// server that keeps failing, would be).
    pub refuse_reentry: Option<ErrorCode>,
}

impl World {
    /// Alice (0) sends a camera at `bitrate_bps` to Bob (1) for `secs`, her link impaired
    /// both ways as `link` says.
    pub fn camera_through(seed: u64, link: Impairment, bitrate_bps: u32, secs: u64) -> World {
        Self::camera_over(seed, 0, link, bitrate_bps, secs)
    }

    /// The same with the link of `whose` (Alice 0, Bob 1) impaired.
    pub fn camera_over(
        seed: u64,
        whose: usize,
        link: Impairment,
        bitrate_bps: u32,
        secs: u64,
    ) -> World {
        Self::camera_with(seed, whose, link, (bitrate_bps, false), secs)
    }

    /// The same with the camera at `bitrate_bps` and, if `simulcast`, a small layer.
    pub fn camera_with(
        seed: u64,
        whose: usize,
        link: Impairment,
        (bitrate_bps, simulcast): (u32, bool),
        secs: u64,
    ) -> World {
        let mut w = World::new(seed);
        let alice = w.join("alice");
        w.join("bob");
        let addr = w.clients[whose].addr;
        w.net.set_link(addr, link.clone(), link);
        w.publish_camera(alice, bitrate_bps, simulcast);
        w.run_for(Duration::from_secs(secs));
        w
    }

    pub fn new(seed: u64) -> Self {
        let start = Instant::now();
        let server_addr = SocketAddr::from(([10, 0, 0, 1], 5000));
        let (ledger, _) = mpsc::unbounded_channel();
        let server_stats = Arc::new(sfu::WorkerStats::default());
        Self {
            start,
            now: start,
            net: Network::new(start, seed),
            worker: Worker::new(server_addr, ledger, server_stats.clone()),
            server_stats,
            server_addr,
            clients: Vec::new(),
            next_member: 1,
            signaling_follows_link: false,
            refuse_reentry: None,
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
        let member = self.member_id();
        let (events, entered) =
            enter(&mut self.worker, self.now, member, &user, Role::Anchor).expect("entered");
        let auto = AutoSubscribe {
            audio: true,
            video: true,
        };
        let role = Arc::new(Mutex::new(Role::Anchor));
        let registry = Arc::new(Registry::default());
        let mut core = Core::new(addr, self.now, self.now, auto, registry.clone(), role)
            .expect("a session core");
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
            registry,
            done: HashMap::new(),
            next_token: 0,
            audio: None,
            camera: None,
            kinds: HashMap::new(),
            signal_up: true,
            reenter: None,
            finished: false,
        });
        index
    }

    fn member_id(&mut self) -> MemberId {
        self.next_member += 1;
        MemberId(self.next_member - 1)
    }

    /// Client `i`'s signaling connection closes (the server sees it go, the core notices).
    pub fn drop_signaling(&mut self, i: usize) {
        let (now, c) = (self.now, &mut self.clients[i]);
        if c.signal_up {
            c.signal_up = false;
            let member = c.member;
            self.worker
                .handle_command(now, sfu::Command::Disconnected { member });
            c.core.connection_lost(now);
        }
    }

    /// Client `i`'s network changes (Wi-Fi to Ethernet): its old address is gone, and its
    /// engine learns the new one as the driver would, from the route to the server. The
    /// signaling connection stays up.
    pub fn change_address(&mut self, i: usize, addr: SocketAddr) {
        let (now, c) = (self.now, &mut self.clients[i]);
        c.addr = addr;
        c.core.address_changed(now, addr);
    }

    /// The server process restarts: every room and media connection is forgotten, and every
    /// client's signaling connection closes. It comes back at once on the same address.
    pub fn restart_server(&mut self) {
        let (ledger, _) = mpsc::unbounded_channel();
        self.server_stats = Arc::new(sfu::WorkerStats::default());
        self.worker.shut_down();
        self.worker = Worker::new(self.server_addr, ledger, self.server_stats.clone());
        let now = self.now;
        for c in &mut self.clients {
            if std::mem::take(&mut c.signal_up) {
                c.core.connection_lost(now);
            }
        }
    }

    /// Carries out the clients' requests to enter again.
    fn reenter(&mut self) -> bool {
        let mut any = false;
        for i in 0..self.clients.len() {
            let Some(role) = self.clients[i].reenter.take() else {
                continue;
            };
            any = true;
            let now = self.now;
            if self.net.is_out(self.clients[i].addr, now) {
                let e = EngineError::Connect("the network is unreachable".into());
                self.clients[i].core.reconnect_failed(now, e);
                continue;
            }
            if let Some(code) = self.refuse_reentry {
                let message = code.describe().to_string();
                let e = EngineError::Server { code, message };
                self.clients[i].core.reconnect_failed(now, e);
                continue;
            }
            let member = self.member_id();
            let c = &mut self.clients[i];
            match enter(&mut self.worker, now, member, &c.user, role) {
                Ok((events, entered)) => {
                    c.member = member;
                    c.events = events;
                    c.owed.clear();
                    c.signal_up = true;
                    c.core
                        .reconnected(now, c.addr, entered)
                        .expect("a fresh media connection");
                }
                Err(e) => c.core.reconnect_failed(now, e),
            }
        }
        any
    }

    /// Breaks the signaling of clients whose link is out, if signaling follows the link.
    fn signaling_outages(&mut self) {
        if !self.signaling_follows_link {
            return;
        }
        for i in 0..self.clients.len() {
            if self.clients[i].signal_up && self.net.is_out(self.clients[i].addr, self.now) {
                self.drop_signaling(i);
            }
        }
    }

    /// Client `i` publishes the tone source's audio (Opus, speech profile).
    pub fn publish_audio(&mut self, i: usize) {
        self.publish_audio_from(i, Box::new(ToneSource::new(1)), AudioProfile::Speech);
    }

    /// Client `i` publishes `samples` (48 kHz mono, then silence) with the Opus bitrate
    /// `roomcast join` uses.
    pub fn publish_speech(&mut self, i: usize, samples: &[f32]) {
        let source = Samples(samples.to_vec(), 0);
        self.publish_audio_from(i, Box::new(source), AudioProfile::Default);
    }

    fn publish_audio_from(
        &mut self,
        i: usize,
        source: Box<dyn AudioSource>,
        profile: AudioProfile,
    ) {
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
        let controls = Arc::new(Controls::default());
        c.core
            .handle_command(now, Command::RegisterAudio(controls.clone()));
        c.audio = Some(AudioOut {
            source,
            opus: OpusEncoder::new(1, profile).expect("an Opus encoder"),
            next: now,
            controls,
            expected_loss: 0,
        });
    }

    /// The loss (percent) client `i`'s Opus encoder plans FEC for, as its core set it.
    pub fn audio_expected_loss(&self, i: usize) -> u8 {
        self.clients[i]
            .audio
            .as_ref()
            .map_or(0, |a| a.expected_loss)
    }

    /// Client `i` publishes a camera at `bitrate_bps` (see [`Camera`]).
    pub fn publish_video(&mut self, i: usize, bitrate_bps: u32) {
        self.publish_camera(i, bitrate_bps, false);
    }

    /// Client `i` publishes a camera at `bitrate_bps`, with a small layer if `simulcast`.
    pub fn publish_camera(&mut self, i: usize, bitrate_bps: u32, simulcast: bool) {
        let now = self.now;
        let c = &mut self.clients[i];
        c.next_token += 1;
        let ask = Ask::Publish {
            kind: MediaKind::Video,
            stream: Stream::Main,
            simulcast,
        };
        c.core.handle_command(now, Command::Ask(ask, c.next_token));
        let controls = Arc::new(Controls::default());
        controls.bitrate_bps.store(bitrate_bps, Ordering::Relaxed);
        let register = Command::RegisterVideo(Stream::Main, controls.clone());
        c.core.handle_command(now, register);
        let available = Command::SetAvailable {
            kind: MediaKind::Video,
            stream: Stream::Main,
            available: true,
        };
        c.core.handle_command(now, available);
        c.camera = Some(Camera::new(controls, now, simulcast));
    }

    /// Client `i`'s camera makes keyframes `times` the size of a frame (3 unless set: a real
    /// 640x360 keyframe at 600 kbit/s is 15–30 KB, 3–6 frames).
    pub fn set_keyframe_size(&mut self, i: usize, times: u64) {
        if let Some(c) = self.clients[i].camera.as_mut() {
            c.keyframe_size = times.max(1);
        }
    }

    /// Client `i`'s camera makes a keyframe of its own every `every` (a real encoder: about
    /// once a minute), besides the ones asked for.
    pub fn set_keyframe_interval(&mut self, i: usize, every: Duration) {
        if let Some(c) = self.clients[i].camera.as_mut() {
            c.keyframe_every = (every.as_millis() as u64 * camera::VIDEO_FPS / 1000).max(1);
        }
    }

    /// The bitrate client `i`'s camera encodes at now.
    pub fn video_bitrate(&self, i: usize) -> Option<u32> {
        self.clients[i].camera.as_ref().map(Camera::bitrate)
    }

    /// The keyframes client `i`'s camera made because someone asked.
    pub fn asked_keyframes(&self, i: usize) -> u32 {
        self.clients[i]
            .camera
            .as_ref()
            .map_or(0, |c| c.asked_keyframes)
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
            let video = c.camera.as_ref().map(|v| v.next);
            std::iter::once(c.core.next_timeout())
                .chain(audio)
                .chain(video)
        });
        clients
            .chain(self.net.next_arrival())
            .chain(std::iter::once(self.worker.next_deadline(self.now)))
            .min()
            .unwrap_or(self.now)
    }

    /// Everything due at `now`: arrivals, timeouts, media.
    fn tick(&mut self) {
        self.signaling_outages();
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
                let Some(frame) = a.source.next_frame(capture_us) else {
                    break;
                };
                let loss = a.controls.expected_loss.load(Ordering::Relaxed);
                if loss != a.expected_loss {
                    a.opus.set_expected_loss(loss).expect("a loss percentage");
                    a.expected_loss = loss;
                }
                let data = a.opus.encode(&frame.samples).expect("Opus encodes");
                let e = Encoded {
                    kind: MediaKind::Audio,
                    stream: Stream::Main,
                    data,
                    keyframe: false,
                    layer: None,
                    capture_us,
                    size: None,
                };
                c.core.write_media(now, e);
            }
            while let Some(v) = c.camera.as_mut().filter(|v| v.next <= now) {
                let capture_us = CAPTURE_BASE_US + (v.next - self.start).as_micros() as u64;
                for f in v.encode() {
                    let e = Encoded {
                        kind: MediaKind::Video,
                        stream: Stream::Main,
                        data: f.data,
                        keyframe: f.keyframe,
                        layer: f.layer,
                        capture_us,
                        size: None,
                    };
                    c.core.write_media(now, e);
                }
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
            busy |= self.reenter();
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
                // A socket on an address we no longer have sends nothing.
                Output::Transmit(t) if t.source != self.addr => {}
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
                    seq,
                    data,
                    ..
                } => self.received.push(Received {
                    at: now,
                    mid,
                    rtp_time,
                    seq,
                    bytes: data.len(),
                    data,
                }),
                Output::Reconnect { role } => self.reenter = Some(role),
                Output::Finished => self.finished = true,
                Output::StartReceiver { mid, kind, .. } => {
                    self.kinds.insert(mid, kind);
                }
                Output::StopReceiver(_) => {}
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
        if !self.signal_up {
            return;
        }
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
            Request::DownlinkLoss { video, scattered } => {
                let c = sfu::Command::DownlinkLoss {
                    member,
                    video,
                    scattered,
                };
                worker.handle_command(now, c);
                self.core
                    .handle_server(now, ServerMessage::Ok { id: msg.id });
                return;
            }
            Request::DownlinkAudioLoss { long_runs } => {
                let c = sfu::Command::DownlinkAudioLoss { member, long_runs };
                worker.handle_command(now, c);
                self.core
                    .handle_server(now, ServerMessage::Ok { id: msg.id });
                return;
            }
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

    /// Whether the core reported this event (compared by its debug text's variant name).
    pub fn saw(&self, variant: &str) -> Vec<Instant> {
        self.engine_events
            .iter()
            .filter(|(_, e)| {
                let text = format!("{e:?}");
                text == variant
                    || text.starts_with(&format!("{variant} "))
                    || text.starts_with(&format!("{variant}("))
            })
            .map(|(t, _)| *t)
            .collect()
    }

    /// Whether media arrived in `[from, to)`.
    pub fn received_between(&self, from: Instant, to: Instant) -> bool {
        self.received.iter().any(|r| r.at >= from && r.at < to)
    }

    /// How many distinct audio frames (20 ms each) arrived in `[from, to)`: recovered ones
    /// count, duplicates do not.
    pub fn frames_between(&self, from: Instant, to: Instant) -> usize {
        let mut times: Vec<u64> = self
            .received
            .iter()
            .filter(|r| r.at >= from && r.at < to)
            .filter(|r| self.kinds.get(&r.mid) != Some(&MediaKind::Video))
            .map(|r| r.rtp_time)
            .collect();
        times.sort_unstable();
        times.dedup();
        times.len()
    }

    /// The video frames received, in the order they came: RTP time, and whether it is a
    /// keyframe (an IDR NAL first).
    pub fn video_frames(&self) -> Vec<(u64, bool)> {
        self.received
            .iter()
            .filter(|r| self.kinds.get(&r.mid) == Some(&MediaKind::Video))
            .map(|r| (r.rtp_time, r.data.get(4).is_some_and(|nal| nal & 0x1f == 5)))
            .collect()
    }

    /// The sizes of the video frames received since `since`, in order.
    pub fn video_sizes(&self, since: Instant) -> Vec<usize> {
        self.received
            .iter()
            .filter(|r| r.at >= since && self.kinds.get(&r.mid) == Some(&MediaKind::Video))
            .map(|r| r.bytes)
            .collect()
    }

    /// Video bytes received in `[from, to)`, as bit/s.
    pub fn video_bps_between(&self, from: Instant, to: Instant) -> f64 {
        let bytes: usize = self
            .received
            .iter()
            .filter(|r| r.at >= from && r.at < to)
            .filter(|r| self.kinds.get(&r.mid) == Some(&MediaKind::Video))
            .map(|r| r.bytes)
            .sum();
        bytes as f64 * 8.0 / (to - from).as_secs_f64()
    }

    /// When this client first received media.
    pub fn first_media(&self) -> Option<Instant> {
        self.received.first().map(|r| r.at)
    }
}

/// Enters `user` into room 1 as `member`: its server events and the `entered` reply.
fn enter(
    worker: &mut Worker,
    now: Instant,
    member: MemberId,
    user: &UserId,
    role: Role,
) -> Result<(mpsc::UnboundedReceiver<ServerMessage>, ServerMessage), EngineError> {
    let (events_tx, events) = mpsc::unbounded_channel();
    let (reply, answer) = oneshot::channel();
    let room = RoomId::number(1).expect("room 1");
    worker.handle_command(
        now,
        sfu::Command::Enter {
            member,
            app: SdkAppId::new(1_400_000_001).expect("an app id"),
            room: room.clone(),
            entrant: Entrant::trusted(user.clone(), role, false),
            scene: Scene::VideoCall,
            invite_issued: None,
            events: events_tx,
            reply,
        },
    );
    match reply_now(answer) {
        Ok(Reply::Entered {
            role,
            users,
            room: view,
        }) => Ok((
            events,
            ServerMessage::Entered {
                id: 1,
                room_id: room,
                user_id: user.clone(),
                role,
                users,
                room: view,
            },
        )),
        Ok(_) => Err(EngineError::Protocol("unexpected reply to enter".into())),
        Err((code, message)) => Err(EngineError::Server { code, message }),
    }
}

/// The worker answers every command before `handle_command` returns.
fn reply_now(mut rx: WorkerReply) -> Result<Reply, (ErrorCode, String)> {
    rx.try_recv()
        .unwrap_or_else(|_| Err((ErrorCode::Internal, "no reply".into())))
}
