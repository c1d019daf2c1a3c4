//! The session's logic without IO: signaling, the client's str0m `Rtc`, and what to ask of
//! the world. Inputs come in with the time as a parameter (server messages, datagrams,
//! commands, encoded media, timeouts); [`Core::poll_output`] hands out what to do (messages
//! to send, datagrams, events, receivers to start or stop, completed requests) and
//! [`Core::next_timeout`] says when to call [`Core::handle_timeout`]. The tokio driver in
//! `session/mod.rs` is the only thing that touches sockets and clocks, so a test can run this
//! on a virtual clock and a simulated network.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roomcast_proto::{
    ClientMessage, MediaKind, Request, Role, ServerMessage, Stream, Track, UserId, VideoStreamType,
};
use roomcast_rtc::arrivals::LossTeller;
use roomcast_rtc::fetch::{self, Asker};
use roomcast_rtc::parity::{self, ParityReceiver};
use roomcast_rtc::reorder::{Handover, Reorder, udp_input};
use roomcast_rtc::repair::{Received, Repairs};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, KeyframeRequestKind, MediaTime, Mid, Pt};
use str0m::net::Transmit;
use str0m::{Candidate, Event, IceConnectionState, Input, Rtc};

mod negotiate;
mod reconnect;
mod roam;
mod server;
mod uplink;

use reconnect::{Link, new_rtc, reconnecting};

use super::rtc_kind;
pub use crate::capture::{Controls, Encoded};
use crate::engine::{EngineError, EngineEvent};
pub use crate::remote::Feedback;
use crate::stats::{Registry, lock};

/// Names a command whose completion the driver is waiting for.
pub type Token = u64;

const PING_EVERY: Duration = Duration::from_secs(10);
const REPORT_EVERY: Duration = Duration::from_secs(2);
const VOLUMES_EVERY: Duration = Duration::from_millis(300);
/// Connectivity checks go again at least this often until answered: on a link losing 70 %
/// of the answers, checks every 500 ms made setup take 1.8 s (median) and up to 23 s; every
/// 250 ms, 1.5 s and at most 6 s. Once connected, a check every 250 ms costs about 3 kbit/s.
const STUN_MAX_RTO: Duration = Duration::from_millis(250);
/// Unanswered checks before ICE calls the pair gone: 30 s, as with 60 at 500 ms.
const STUN_RESENDS: usize = 120;
/// How long an exit waits for the server's ok before it gives up.
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// Requests whose completion somebody waits for.
pub enum Ask {
    Publish {
        kind: MediaKind,
        stream: Stream,
        /// A camera with a small layer.
        simulcast: bool,
    },
    SwitchRole {
        role: Role,
    },
    /// A request whose reply is `ok` or an error, e.g. inviting or requesting to speak.
    Request {
        request: Request,
    },
}

/// What the engine asks of the session.
pub enum Command {
    /// Finishes with an [`Output::Done`] carrying the token.
    Ask(Ask, Token),
    SetAvailable {
        kind: MediaKind,
        stream: Stream,
        available: bool,
    },
    RegisterAudio(Arc<Controls>),
    RegisterVideo(Stream, Arc<Controls>),
    Subscribe {
        user: UserId,
        kind: MediaKind,
        stream: Stream,
    },
    Unsubscribe {
        user: UserId,
        kind: MediaKind,
        stream: Stream,
    },
    Feedback {
        mid: Mid,
        feedback: Feedback,
    },
    Exit,
}

/// What the session needs done.
pub enum Output {
    /// A message for the room server.
    Signal(ClientMessage),
    /// A datagram for the network.
    Transmit(Transmit),
    Event(EngineEvent),
    /// The command with this token finished.
    Done {
        token: Token,
        result: Result<(), EngineError>,
    },
    /// Start receiving `user`'s stream on `mid`.
    StartReceiver {
        mid: Mid,
        user: UserId,
        kind: MediaKind,
        stream: Stream,
    },
    StopReceiver(Mid),
    /// Media arrived on a receiving m-line.
    Media {
        mid: Mid,
        rtp_time: u64,
        /// The (first) packet's extended RTP sequence number.
        seq: u64,
        data: Arc<[u8]>,
        contiguous: bool,
    },
    /// Open a new connection to the room server and enter again as `role` with the same
    /// identity; report with [`Core::reconnected`] or [`Core::reconnect_failed`].
    Reconnect {
        role: Role,
    },
    /// The session is over (exit, removal, or no way back to the server).
    Finished,
}

/// What to do when a request's reply arrives.
enum Then {
    Nothing,
    /// Our role changed.
    Role(Role),
    /// Going on stage after an anchor allowed it; failure is reported as an event.
    Stage,
}

enum Pending {
    Reply {
        token: Option<Token>,
        then: Then,
    },
    /// Our offer; the answer completes it.
    Offer {
        offer: SdpPendingOffer,
        waiting: Vec<Token>,
        mids: Vec<Mid>,
        /// The offer restarts ICE (our address changed).
        restart: bool,
    },
    Ignore,
    Exit,
}

struct Queued {
    kind: MediaKind,
    stream: Stream,
    /// None: we publish; Some: we receive this user's stream.
    user: Option<UserId>,
    /// Send with big and small layers (RIDs).
    simulcast: bool,
}

struct Line {
    track: Track,
    pt: Option<Pt>,
    /// Published with big and small layers.
    simulcast: bool,
}

/// Which remote streams to subscribe to as soon as they are available.
#[derive(Debug, Clone, Copy)]
pub struct AutoSubscribe {
    pub audio: bool,
    pub video: bool,
}

/// When the periodic work is next due.
struct Timers {
    ping: Instant,
    report: Instant,
    volumes: Instant,
}

pub struct Core {
    rtc: Rtc,
    local: SocketAddr,
    now: Instant,
    rtc_timeout: Instant,
    timers: Timers,
    next_id: u64,
    pending: HashMap<u64, Pending>,
    lines: HashMap<Mid, Line>,
    order: Vec<Mid>,
    offer_in_flight: bool,
    /// The next offer restarts ICE: our address changed.
    restart_ice: bool,
    /// When our last ICE restart went out.
    ice_restarted_at: Option<Instant>,
    /// m-lines to add in the next offer (str0m assigns their mids when the offer is made).
    queued: Vec<Queued>,
    waiting: Vec<Token>,
    video_controls: HashMap<Stream, Arc<Controls>>,
    audio_controls: Option<Arc<Controls>>,
    quality: crate::quality::QualityMeter,
    auto: AutoSubscribe,
    registry: Arc<Registry>,
    /// The local role as the server last confirmed it; the engine reads it too.
    role: Arc<Mutex<Role>>,
    started: Instant,
    connected: bool,
    /// Since when ICE has been disconnected.
    ice_lost: Option<Instant>,
    /// When the first offer of this media connection went out, until it connects.
    setup_since: Option<Instant>,
    link: Link,
    /// Our streams that are on, as we last told the server.
    available: Vec<(MediaKind, Stream)>,
    /// The loss the server reports on our audio, and the protection it calls for: RED until
    /// its first report, which comes 1–3 s after our audio starts (later on a lossy uplink,
    /// where reports are lost too); unprotected, those were the first words a lossy uplink
    /// cost.
    audio_loss: roomcast_rtc::protect::LossProtection,
    /// The rate each of our video streams may send at, from the loss reported on it.
    video_rates: HashMap<Stream, roomcast_rtc::rate::LossRate>,
    /// The loss reported on each of our streams (and layers) beyond packets that are only
    /// late, for the video rates.
    late_loss: HashMap<(Mid, Option<str0m::media::Rid>), roomcast_rtc::late::LateLoss>,
    /// This round's receiver reports on our streams, judged together once all are in.
    loss_round: uplink::Round,
    /// What our uplink loses (all of it, congestion too), for its quality.
    uplink_loss: f32,
    /// Whether our video's copies fit the uplink, from the server's measures.
    copies_fit: roomcast_rtc::fit::CopiesFit,
    /// Resends and RTCP go out twice while the link to the server is lossy.
    repairs: Repairs,
    /// The video we receive as it arrives, for `downlink_loss`.
    downlink: LossTeller,
    /// The video we receive, handed to str0m in order (see `roomcast_rtc::reorder`), and
    /// where it last came from.
    reorder: Reorder,
    video_from: Option<SocketAddr>,
    /// The video we receive rebuilt from the server's parities (`roomcast_rtc::parity`).
    parity: ParityReceiver,
    /// Asks the server for video lost on the way (`roomcast_rtc::fetch`).
    asker: Asker,
    /// Where our media goes (str0m's latest transmit): asks for our video come from there.
    media_to: Option<SocketAddr>,
    /// Per video stream (and small layer or not): when we last made it send a keyframe, and
    /// a request held back until then.
    keyframes: HashMap<(Stream, bool), (Instant, Option<Instant>)>,
    /// Users known to be in the room with their available streams.
    users: HashMap<UserId, (bool, bool, bool)>,
    /// What the host locked off (main stream).
    locked: Vec<MediaKind>,
    out: VecDeque<Output>,
    /// Exiting: give up waiting for the server's ok at this time.
    exit_deadline: Option<Instant>,
    finished: bool,
}

impl Core {
    /// A session whose media leaves from `local`, entered at `started` (the time every
    /// elapsed figure is measured from).
    pub fn new(
        local: SocketAddr,
        now: Instant,
        started: Instant,
        auto: AutoSubscribe,
        registry: Arc<Registry>,
        role: Arc<Mutex<Role>>,
    ) -> Result<Self, EngineError> {
        Ok(Self {
            rtc: new_rtc(local, now)?,
            local,
            now,
            rtc_timeout: now,
            timers: Timers {
                ping: now + PING_EVERY,
                report: now + REPORT_EVERY,
                volumes: now + VOLUMES_EVERY,
            },
            next_id: 2,
            pending: HashMap::new(),
            lines: HashMap::new(),
            order: Vec::new(),
            offer_in_flight: false,
            restart_ice: false,
            ice_restarted_at: None,
            queued: Vec::new(),
            waiting: Vec::new(),
            video_controls: HashMap::new(),
            audio_controls: None,
            quality: crate::quality::QualityMeter::default(),
            auto,
            registry,
            role,
            started,
            connected: false,
            ice_lost: None,
            setup_since: None,
            link: Link::Up,
            available: Vec::new(),
            audio_loss: roomcast_rtc::protect::LossProtection::provisional(),
            video_rates: HashMap::new(),
            late_loss: HashMap::new(),
            loss_round: Default::default(),
            uplink_loss: 0.0,
            copies_fit: Default::default(),
            repairs: {
                let mut r = Repairs::default();
                r.cap_held_resends();
                r.send_parity(true);
                r
            },
            downlink: LossTeller::default(),
            reorder: Reorder::default(),
            video_from: None,
            parity: ParityReceiver::default(),
            asker: Asker::default(),
            media_to: None,
            keyframes: HashMap::new(),
            users: HashMap::new(),
            locked: Vec::new(),
            out: VecDeque::new(),
            exit_deadline: None,
            finished: false,
        })
    }

    fn emit(&mut self, e: EngineEvent) {
        self.out.push_back(Output::Event(e));
    }

    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.rtc.disconnect();
            self.out.push_back(Output::Finished);
        }
    }

    fn elapsed_ms(&self) -> f64 {
        self.now
            .saturating_duration_since(self.started)
            .as_secs_f64()
            * 1000.0
    }

    fn tick(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// What to do next; `None` once everything pending has been handed out (then wait for
    /// input or [`next_timeout`](Self::next_timeout)).
    pub fn poll_output(&mut self) -> Option<Output> {
        loop {
            if let Some(o) = self.out.pop_front() {
                return Some(o);
            }
            if self.finished {
                return None;
            }
            let due = self.repairs.due_copies(self.now);
            if !due.is_empty() {
                self.out.extend(due.into_iter().map(Output::Transmit));
                continue;
            }
            match self.rtc.poll_output() {
                Ok(str0m::Output::Transmit(t)) => {
                    self.media_to = Some(t.destination);
                    let Some(repairs) = self.repairs.to_send(self.now, &t, &self.rtc) else {
                        continue;
                    };
                    let up = self.connected && self.ice_lost.is_none();
                    let copies = roomcast_rtc::setup::extra_copies(&t, up);
                    self.out.extend(copies.map(Output::Transmit));
                    self.out.extend(repairs.into_iter().map(Output::Transmit));
                    return Some(Output::Transmit(t));
                }
                Ok(str0m::Output::Timeout(t)) => {
                    self.rtc_timeout = t;
                    // All of this round's receiver reports are in.
                    self.end_loss_round();
                    return None;
                }
                Ok(str0m::Output::Event(e)) => self.rtc_event(e),
                Err(e) => {
                    tracing::warn!("media connection failed: {e}");
                    self.rtc_timeout = self.now + Duration::from_millis(100);
                    return None;
                }
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn next_timeout(&self) -> Instant {
        let t = &self.timers;
        [self.rtc_timeout, t.ping, t.report, t.volumes]
            .into_iter()
            .chain(self.exit_deadline)
            .chain(self.link_due())
            .chain(self.keyframes.values().filter_map(|(_, due)| *due))
            .chain(self.repairs.next_copy_due())
            .chain(self.reorder.next_due())
            .chain(self.asker.next_due())
            .min()
            .unwrap_or(self.now)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        if self.exit_deadline.is_some_and(|d| now >= d) {
            self.finish();
            return;
        }
        self.link_timeout(now);
        if self.finished {
            return;
        }
        let held = self.reorder.due(now);
        if let Some(source) = self.video_from {
            for d in held {
                self.receive(now, source, &d);
            }
            let asks = self.asker.sends(now, self.local, source);
            self.out.extend(asks.into_iter().map(Output::Transmit));
        }
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            tracing::debug!("media timeout: {e}");
        }
        self.held_keyframes(now);
        if now >= self.timers.ping && self.link.is_up() {
            self.timers.ping = now + PING_EVERY;
            self.notify(Request::Ping);
        }
        if now >= self.timers.report {
            self.timers.report = now + REPORT_EVERY;
            let stats = self.registry.snapshot();
            let mut qualities = self.quality.update(&stats);
            let connected = self.link.is_up() && self.connected && self.ice_lost.is_none();
            let uplink = crate::quality::uplink(connected, self.uplink_loss);
            qualities.push((None, uplink));
            self.emit(EngineEvent::NetworkQuality(qualities));
            self.emit(EngineEvent::Statistics(Box::new(stats)));
        }
        if now >= self.timers.volumes {
            self.timers.volumes = now + VOLUMES_EVERY;
            let local = self
                .audio_controls
                .as_ref()
                .map(|c| c.level.load(Ordering::Relaxed))
                .unwrap_or(0);
            let mut levels = vec![(None, local)];
            levels.extend(
                self.registry
                    .levels()
                    .into_iter()
                    .map(|(u, l)| (Some(u), l)),
            );
            self.emit(EngineEvent::Volumes(levels));
        }
    }

    /// A datagram from `source` arrived on our socket.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        self.tick(now);
        if parity::is_parity(data) {
            self.asker.parity_seen(now);
            for rebuilt in self.parity.parity(data) {
                self.receive_rebuilt(now, source, &rebuilt);
            }
            return;
        }
        if fetch::is_ask(data) {
            if self.media_to == Some(source) {
                let answers = self.repairs.answer(now, data, self.local, source);
                self.out.extend(answers.into_iter().map(Output::Transmit));
            }
            return;
        }
        if let Some(answered) = fetch::answered(data) {
            if self.video_from == Some(source) {
                self.receive_rebuilt(now, source, answered);
                for rebuilt in self.parity.arrived(answered) {
                    self.receive_rebuilt(now, source, &rebuilt);
                }
            }
            return;
        }
        let received = self.repairs.receive(now, data, &self.rtc);
        if received == Received::Copy {
            return;
        }
        // Measures: if the server cannot take one (we are entering again), no matter.
        let quiet = || Pending::Reply {
            token: None,
            then: Then::Nothing,
        };
        if received == Received::Audio
            && let Some(long_runs) = self.downlink.arrived_audio(now, data)
        {
            self.signal(Request::DownlinkAudioLoss { long_runs }, quiet());
        } else if let Some(loss) = self
            .downlink
            .arrived(now, data, received == Received::Video)
        {
            let request = Request::DownlinkLoss {
                video: loss.lost,
                scattered: loss.scattered,
            };
            self.signal(request, quiet());
        }
        let handover = if received == Received::Video {
            self.video_from = Some(source);
            self.asker.arrived(now, data);
            self.reorder.push(now, data)
        } else {
            Handover::now()
        };
        self.hand_over(now, source, data, handover);
        if received == Received::Video {
            for rebuilt in self.parity.arrived(data) {
                self.receive_rebuilt(now, source, &rebuilt);
            }
        }
    }

    /// Video rebuilt from parity, as if it had arrived (not counted as the link's: the
    /// server is told what the link loses; the packet itself coming later is a duplicate
    /// str0m drops).
    fn receive_rebuilt(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        self.asker.arrived(now, data);
        let handover = self.reorder.push(now, data);
        self.hand_over(now, source, data, handover);
    }

    /// Hands `data` (if the reorder says so) and what it held to str0m.
    fn hand_over(&mut self, now: Instant, source: SocketAddr, data: &[u8], handover: Handover) {
        if handover.this {
            self.receive(now, source, data);
        }
        for d in handover.then {
            self.receive(now, source, &d);
        }
    }

    /// Hands a datagram to str0m.
    fn receive(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        let Some(input) = udp_input(now, source, self.local, data) else {
            return;
        };
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!("bad media input: {e}");
        }
    }

    fn signal(&mut self, request: Request, pending: Pending) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        if !self.link.is_up() {
            // Nobody to tell: what waits for a reply fails now, an exit needs no goodbye.
            match pending {
                Pending::Reply { token: Some(t), .. } => self.done(t, Err(reconnecting())),
                Pending::Exit => self.finish(),
                _ => {}
            }
            return id;
        }
        self.pending.insert(id, pending);
        self.out
            .push_back(Output::Signal(ClientMessage { id, request }));
        id
    }

    /// Sends a request whose reply only matters if it is an error (reported as an event).
    fn notify(&mut self, request: Request) {
        self.signal(request, Pending::Ignore);
    }

    fn done(&mut self, token: Token, result: Result<(), EngineError>) {
        self.out.push_back(Output::Done { token, result });
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

    fn rtc_event(&mut self, e: Event) {
        if !matches!(e, Event::MediaData(_)) {
            tracing::debug!("rtc event: {e:?}");
        }
        match e {
            Event::Connected => {
                self.connected = true;
                self.setup_since = None;
                // Frames encoded before the connection were dropped: start with a keyframe.
                for c in self.video_controls.values() {
                    c.force_keyframe.store(true, Ordering::Relaxed);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                if !self.lost_reported() {
                    self.emit(EngineEvent::ConnectionLost);
                }
                self.ice_lost.get_or_insert(self.now);
            }
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) if self.ice_lost.take().is_some() && self.link.is_up() => {
                self.emit(EngineEvent::ConnectionRecovered);
            }
            Event::KeyframeRequest(req) => {
                if let Some(line) = self.lines.get(&req.mid)
                    && line.track.user_id.is_none()
                    && line.track.kind == MediaKind::Video
                {
                    let small = req.rid.and_then(|r| VideoStreamType::from_rid(&r))
                        == Some(VideoStreamType::Small);
                    self.keyframe_asked(line.track.stream, small);
                }
            }
            Event::MediaEgressStats(s) => {
                if let Some(loss) = s.loss {
                    let audio = self
                        .lines
                        .get(&s.mid)
                        .is_some_and(|l| l.track.kind == MediaKind::Audio);
                    if audio {
                        self.repairs.report_audio(s.timestamp, loss, s.rtt);
                    } else {
                        self.repairs.report(s.timestamp, loss);
                    }
                    let sent = (s.packets > 0).then(|| s.bytes / s.packets);
                    self.loss_report(s.mid, s.rid, loss, s.remote.as_ref(), sent, s.rtt);
                }
            }
            Event::MediaData(data) => self.out.push_back(Output::Media {
                mid: data.mid,
                rtp_time: data.time.numer(),
                seq: **data.seq_range.start(),
                data: data.data,
                contiguous: data.contiguous,
            }),
            _ => {}
        }
    }

    /// An encoded frame from one of our captures.
    pub fn write_media(&mut self, now: Instant, e: Encoded) {
        self.tick(now);
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
        let Some(mut writer) = self.rtc.writer(mid) else {
            return;
        };
        if let Some(l) = e.layer {
            writer = writer.rid(str0m::media::Rid::from(l.rid()));
        }
        match writer.write(pt, now, time, e.data) {
            Ok(()) => {
                let mut s = lock(&self.registry.local);
                match e.kind {
                    MediaKind::Audio => s.audio_packets_sent += 1,
                    MediaKind::Video => {
                        s.video_frames_sent += 1;
                        s.small_frames_sent += u64::from(e.layer == Some(VideoStreamType::Small));
                        s.keyframes_sent += u64::from(e.keyframe);
                        let big = e.layer != Some(VideoStreamType::Small);
                        if big && e.stream == Stream::Main && e.size.is_some() {
                            s.camera_size = e.size;
                        }
                    }
                }
            }
            Err(err) => tracing::debug!("dropping a media frame: {err}"),
        }
    }

    pub fn handle_command(&mut self, now: Instant, cmd: Command) {
        self.tick(now);
        if self.finished {
            if let Command::Ask(_, token) = cmd {
                self.done(token, Err(EngineError::NotInRoom));
            }
            return;
        }
        match cmd {
            Command::Ask(
                Ask::Publish {
                    kind,
                    stream,
                    simulcast,
                },
                token,
            ) => {
                if self.has_line(None, kind, stream) {
                    self.done(token, Ok(()));
                } else {
                    self.queued.push(Queued {
                        kind,
                        stream,
                        user: None,
                        simulcast,
                    });
                    self.waiting.push(token);
                    self.negotiate();
                }
            }
            Command::SetAvailable {
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
                self.available.retain(|a| *a != (kind, stream));
                if available {
                    self.available.push((kind, stream));
                }
                self.notify(Request::SetAvailable {
                    kind,
                    stream,
                    available,
                });
            }
            Command::RegisterAudio(controls) => self.audio_controls = Some(controls),
            Command::RegisterVideo(stream, controls) => {
                self.video_controls.insert(stream, controls);
                self.judge_repairs();
            }
            Command::Subscribe { user, kind, stream } => self.subscribe(user, kind, stream),
            Command::Unsubscribe { user, kind, stream } => {
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
                    self.out.push_back(Output::StopReceiver(mid));
                    self.lines.remove(&mid);
                    self.notify(Request::Unsubscribe {
                        mid: mid.to_string(),
                    });
                }
            }
            Command::Ask(Ask::SwitchRole { role }, token) => {
                let then = Then::Role(role);
                let token = Some(token);
                self.signal(Request::SwitchRole { role }, Pending::Reply { token, then });
            }
            Command::Ask(Ask::Request { request }, token) => {
                let (token, then) = (Some(token), Then::Nothing);
                self.signal(request, Pending::Reply { token, then });
            }
            Command::Feedback { mid, feedback } => self.feedback(mid, feedback),
            Command::Exit => self.exit(),
        }
    }

    /// What a receiver reported about the stream it plays.
    fn feedback(&mut self, mid: Mid, feedback: Feedback) {
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
}
