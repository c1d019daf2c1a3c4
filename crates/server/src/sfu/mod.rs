//! The media worker: owns every room's state machine and every client's `Rtc`, reads the
//! one UDP port, and forwards each publisher's media to the members that subscribed to it.
//!
//! It runs on its own thread with a single-threaded tokio runtime, so forwarding a packet
//! takes no lock. Signaling talks to it through [`Command`]s and gets one reply each.

mod copies;
mod downlink;
mod holes;
mod keyframes_only;
mod layers;
mod pace;
mod peer;
mod simulcast;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use roomcast_proto::{
    ErrorCode, MediaKind, RemoteUser, Role, RoomId, RoomOptions, RoomView, Scene, SdkAppId,
    ServerMessage, Stream, Track, UserId, VideoStreamType,
};
use roomcast_rtc::fetch;
use roomcast_rtc::parity;
use roomcast_rtc::reorder::{Handover, udp_input};
use roomcast_rtc::repair::Received;
use str0m::media::{KeyframeRequestKind, MediaData, Mid, Rid};
use str0m::net::Transmit;
use str0m::{Event, IceConnectionState, Input, Output};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::ledger::{LedgerEvent, RoomKey, now_ms};
use crate::room::{Entrant, Entry, Limits, MemberId, Room, RoomEvent, SpeakAction};
use peer::{Peer, Use};

type Failure = (ErrorCode, String);
type ReplyTx = oneshot::Sender<Result<Reply, Failure>>;

/// Requests from signaling.
pub enum Command {
    Enter {
        member: MemberId,
        app: SdkAppId,
        room: RoomId,
        entrant: Entrant,
        scene: Scene,
        /// When the invite used was issued (unix seconds): an invite older than the end of
        /// this room's last meeting does not open it again.
        invite_issued: Option<i64>,
        events: mpsc::UnboundedSender<ServerMessage>,
        reply: ReplyTx,
    },
    Exit {
        member: MemberId,
        reply: ReplyTx,
    },
    /// The WebSocket closed without `exit_room`: the member counts as lost (90 s rule).
    Disconnected {
        member: MemberId,
    },
    SwitchRole {
        member: MemberId,
        role: Role,
        reply: ReplyTx,
    },
    Negotiate {
        member: MemberId,
        sdp: String,
        tracks: Vec<Track>,
        reply: ReplyTx,
    },
    Unsubscribe {
        member: MemberId,
        mid: String,
        reply: ReplyTx,
    },
    SetAvailable {
        member: MemberId,
        kind: MediaKind,
        stream: Stream,
        available: bool,
        reply: ReplyTx,
    },
    /// Invitations and requests to speak (live scenes).
    Speak {
        member: MemberId,
        action: SpeakAction,
        reply: ReplyTx,
    },
    /// Messages, hands and host controls.
    Meeting {
        member: MemberId,
        action: MeetingAction,
        reply: ReplyTx,
    },
    /// Which layer of a user's simulcast camera this member receives.
    SetStreamType {
        member: MemberId,
        user: UserId,
        layer: VideoStreamType,
        reply: ReplyTx,
    },
    /// What this member's video downlink loses, as it measured (`downlink_loss`).
    DownlinkLoss {
        member: MemberId,
        video: f32,
        scattered: f32,
    },
    /// What this member's audio downlink loses beyond RED's reach (`downlink_audio_loss`).
    DownlinkAudioLoss {
        member: MemberId,
        long_runs: f32,
    },
    Shutdown,
}

pub enum Reply {
    Done,
    Entered {
        role: Role,
        users: Vec<RemoteUser>,
        room: RoomView,
    },
    /// In the lobby.
    Waiting,
    Answer(String),
}

/// What a member asks of the meeting (see `room::meeting` and `room::messages`).
pub enum MeetingAction {
    Custom {
        cmd_id: u32,
        data: String,
        reliable: bool,
        ordered: bool,
    },
    RaiseHand(bool),
    Mute {
        user: Option<UserId>,
        kind: MediaKind,
        lock: bool,
    },
    Unlock {
        user: Option<UserId>,
        kind: MediaKind,
    },
    Remove(UserId),
    Options(RoomOptions),
    End,
    Admit {
        user: UserId,
        accept: bool,
    },
}

/// Counters for benchmarks and health, readable from any thread.
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub datagrams_in: AtomicU64,
    pub datagrams_out: AtomicU64,
    /// Media frames written to subscribers (one audio packet or one video frame each).
    pub frames_forwarded: AtomicU64,
    /// UDP datagrams that were not STUN/DTLS/RTP or that no client claimed.
    pub garbage_in: AtomicU64,
    /// Packets of publishers' video rebuilt from their parities (`roomcast_rtc::parity`).
    pub video_rebuilt: AtomicU64,
    /// Packets of publishers' video that came in answer to our asks (`roomcast_rtc::fetch`).
    pub video_answered: AtomicU64,
    /// Sum over forwarded frames of the time from the frame's arrival to its forwarding, µs.
    pub forward_delay_us_total: AtomicU64,
    pub members: AtomicU64,
    pub rooms: AtomicU64,
}

impl WorkerStats {
    pub fn to_json(&self) -> serde_json::Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        serde_json::json!({
            "datagrams_in": g(&self.datagrams_in),
            "datagrams_out": g(&self.datagrams_out),
            "frames_forwarded": g(&self.frames_forwarded),
            "garbage_in": g(&self.garbage_in),
            "video_rebuilt": g(&self.video_rebuilt),
            "video_answered": g(&self.video_answered),
            "forward_delay_us_total": g(&self.forward_delay_us_total),
            "members": g(&self.members),
            "rooms": g(&self.rooms),
        })
    }
}

pub fn spawn(
    udp: std::net::UdpSocket,
    advertised: SocketAddr,
    commands: mpsc::UnboundedReceiver<Command>,
    ledger: mpsc::UnboundedSender<LedgerEvent>,
    stats: Arc<WorkerStats>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    udp.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("roomcast-sfu".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime only fails when the OS is out of resources");
            runtime.block_on(async move {
                let socket = match UdpSocket::from_std(udp) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!("media socket unusable: {e}");
                        return;
                    }
                };
                let mut worker = Worker::new(advertised, ledger, stats);
                worker.run(&socket, commands).await;
            });
        })
}

struct RoomEntry {
    room: Room,
    app: SdkAppId,
    id: RoomId,
    peak: usize,
}

struct Member {
    room: RoomKey,
    user: UserId,
    events: mpsc::UnboundedSender<ServerMessage>,
    peer: Option<Peer>,
    addr: Option<SocketAddr>,
    last_keyframe_request: HashMap<Mid, Instant>,
    /// Keyframe requests that came within the throttle interval: sent when it ends, so a
    /// subscriber that connects just after another still gets its keyframe promptly.
    keyframe_pending: Vec<(Mid, Option<Rid>)>,
    /// The simulcast layers this member (as a publisher) was last told are wanted.
    demand: Option<(bool, bool)>,
    /// Where its media (RTP, RTCP) last came from…
    media_addr: Option<SocketAddr>,
    /// …and when it was last told its media comes from a new address.
    told_moved: Option<Instant>,
}

/// The media worker's state: rooms, members and their `Rtc`s. It does no IO itself: time is a
/// parameter of every input, and datagrams to send wait in [`Worker::take_transmits`], so a
/// test can run it on a virtual clock and network (`run` is the UDP driver).
pub struct Worker {
    /// Datagrams to send.
    outbox: Vec<Transmit>,
    advertised: SocketAddr,
    ledger: mpsc::UnboundedSender<LedgerEvent>,
    stats: Arc<WorkerStats>,
    rooms: HashMap<RoomKey, RoomEntry>,
    room_index: HashMap<(SdkAppId, RoomId), RoomKey>,
    members: HashMap<MemberId, Member>,
    by_addr: HashMap<SocketAddr, MemberId>,
    next_room: RoomKey,
    /// Members whose `Rtc` got input and must be polled.
    dirty: Vec<MemberId>,
    /// When each room's meeting was last ended by its host (unix seconds).
    ended: HashMap<(SdkAppId, RoomId), i64>,
    /// Who receives which simulcast layer.
    layers: layers::Layers,
    /// Video streams held back after a hole until their next keyframe.
    holes: holes::Holes,
    /// Which subscribers' links carry the layers they asked for.
    downlinks: downlink::Downlinks,
    /// Keyframes for subscribers reduced on video without simulcast.
    keyframes_only: keyframes_only::KeyframesOnly,
}

/// What polling one peer produced that concerns other members.
enum Forward {
    Media {
        from: MemberId,
        data: Box<MediaData>,
    },
    KeyframeRequest {
        from: MemberId,
        mid: Mid,
    },
    Connected {
        member: MemberId,
    },
    Lost {
        member: MemberId,
    },
    Restored {
        member: MemberId,
    },
    /// A subscriber's receiver report on video it receives.
    VideoLoss {
        member: MemberId,
        loss: f32,
    },
}

const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(250);
/// A member whose media comes from a new address is told so at most this often.
const MOVED_EVERY: Duration = Duration::from_secs(5);

impl Worker {
    pub fn new(
        advertised: SocketAddr,
        ledger: mpsc::UnboundedSender<LedgerEvent>,
        stats: Arc<WorkerStats>,
    ) -> Self {
        Self {
            outbox: Vec::new(),
            advertised,
            ledger,
            stats,
            rooms: HashMap::new(),
            room_index: HashMap::new(),
            members: HashMap::new(),
            by_addr: HashMap::new(),
            next_room: 1,
            dirty: Vec::new(),
            ended: HashMap::new(),
            layers: layers::Layers::default(),
            holes: holes::Holes::default(),
            downlinks: downlink::Downlinks::default(),
            keyframes_only: keyframes_only::KeyframesOnly::default(),
        }
    }

    /// Datagrams to send since the last call.
    pub fn take_transmits(&mut self) -> Vec<Transmit> {
        std::mem::take(&mut self.outbox)
    }

    /// Handles one command from signaling (at `now`).
    pub fn handle_command(&mut self, now: Instant, cmd: Command) {
        self.command(now, cmd);
        self.drive(now);
    }

    /// A datagram from `source` arrived on the media port.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        self.datagram(now, source, data);
        self.drive(now);
    }

    /// Runs what is due at `now`; call it at [`next_deadline`](Self::next_deadline).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.timeouts(now);
        self.drive(now);
    }

    /// Drops every peer (the server is shutting down).
    pub fn shut_down(&mut self) {
        for m in self.members.values_mut() {
            if let Some(mut p) = m.peer.take() {
                p.rtc.disconnect();
            }
        }
    }

    async fn run(&mut self, socket: &UdpSocket, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut buf = vec![0u8; 2048];
        loop {
            for t in self.outbox.drain(..) {
                let _ = socket.try_send_to(&t.contents, t.destination);
            }
            let deadline = self.next_deadline(Instant::now());
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(Command::Shutdown) | None => break,
                    Some(cmd) => self.handle_command(Instant::now(), cmd),
                },
                received = socket.recv_from(&mut buf) => {
                    if let Ok((n, source)) = received {
                        self.datagram(Instant::now(), source, &buf[..n]);
                        // Take what else is already queued before polling everyone again.
                        for _ in 0..64 {
                            match socket.try_recv_from(&mut buf) {
                                Ok((n, source)) => self.datagram(Instant::now(), source, &buf[..n]),
                                Err(_) => break,
                            }
                        }
                        self.drive(Instant::now());
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    self.handle_timeout(Instant::now());
                }
            }
        }
        self.shut_down();
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due (at most a second after
    /// `now`).
    pub fn next_deadline(&self, now: Instant) -> Instant {
        let far = now + Duration::from_secs(1);
        let peers = self
            .members
            .values()
            .filter_map(|m| m.peer.as_ref().map(|p| p.timeout));
        let rooms = self.rooms.values().filter_map(|r| r.room.poll_timeout());
        let keyframes = self.members.values().flat_map(|m| {
            m.keyframe_pending.iter().filter_map(|(mid, _)| {
                m.last_keyframe_request
                    .get(mid)
                    .map(|t| *t + KEYFRAME_REQUEST_INTERVAL)
            })
        });
        let downlinks = self.downlinks.next_deadline();
        let paced = self
            .members
            .values()
            .filter_map(|m| m.peer.as_ref().and_then(|p| p.pacer.next_due()));
        let later = self
            .members
            .values()
            .filter_map(|m| m.peer.as_ref().and_then(|p| p.repairs.next_copy_due()));
        let held = self.members.values().filter_map(|m| {
            let p = m.peer.as_ref()?;
            [p.reorder.next_due(), p.asker.next_due()]
                .into_iter()
                .flatten()
                .min()
        });
        peers
            .chain(later)
            .chain(held)
            .chain(paced)
            .chain(rooms)
            .chain(keyframes)
            .chain(downlinks)
            .fold(far, Instant::min)
    }

    fn timeouts(&mut self, now: Instant) {
        self.pending_keyframes(now);
        for sub in self.downlinks.due(now) {
            self.set_reduced(now, sub, false);
        }
        for (id, m) in self.members.iter_mut() {
            if let Some(p) = m.peer.as_mut() {
                self.outbox.extend(p.pacer.due(now));
                self.outbox.extend(p.repairs.due_copies(now));
                if let Some(to) = m.media_addr {
                    self.outbox.extend(p.asker.sends(now, self.advertised, to));
                }
                let held = p.reorder.due(now);
                if !held.is_empty() {
                    if let Some(source) = m.media_addr {
                        for d in held {
                            receive_held(now, source, self.advertised, p, &d);
                        }
                    }
                    self.dirty.push(*id);
                }
            }
            if let Some(p) = m.peer.as_mut()
                && p.timeout <= now
            {
                if p.rtc.handle_input(Input::Timeout(now)).is_err() {
                    p.rtc.disconnect();
                }
                self.dirty.push(*id);
            }
        }
        let due: Vec<RoomKey> = self
            .rooms
            .iter()
            .filter(|(_, r)| r.room.poll_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            if let Some(r) = self.rooms.get_mut(&key) {
                r.room.handle_timeout(now);
            }
            self.room_events(key);
        }
    }

    fn datagram(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        self.stats.datagrams_in.fetch_add(1, Ordering::Relaxed);
        if parity::is_parity(data) || fetch::is_ask(data) || fetch::is_answer(data) {
            self.below_srtp(now, source, data);
            return;
        }
        // The destination str0m must see is the address we advertised in our candidate
        // (behind NAT or a relay it differs from the socket's own address).
        let Some(input) = udp_input(now, source, self.advertised, data) else {
            self.stats.garbage_in.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let owner = match self.by_addr.get(&source) {
            Some(m) => Some(*m),
            None => self
                .members
                .iter()
                .find(|(_, m)| m.peer.as_ref().is_some_and(|p| p.rtc.accepts(&input)))
                .map(|(id, _)| *id),
        };
        let Some(owner) = owner else {
            self.stats.garbage_in.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let Some(member) = self.members.get_mut(&owner) else {
            return;
        };
        let Some(peer) = member.peer.as_mut() else {
            return;
        };
        if member.addr != Some(source) {
            if let Some(old) = member.addr.replace(source) {
                self.by_addr.remove(&old);
            }
            self.by_addr.insert(source, owner);
        }
        // Media (RTP, RTCP: not the connectivity checks a full-ICE client sends from each of
        // its candidates) from a new address: ICE-lite keeps sending to the address it chose,
        // so the client restarts ICE from where it is now (told at most once per
        // `MOVED_EVERY`: datagrams from the old address may still be on their way).
        if (128..192).contains(&data[0]) && member.media_addr != Some(source) {
            let moved = member.media_addr.replace(source).is_some();
            let told = member.told_moved.is_some_and(|t| now < t + MOVED_EVERY);
            if moved && !told {
                member.told_moved = Some(now);
                let _ = member.events.send(ServerMessage::AddressChanged);
            }
        }
        let received = peer.repairs.receive(now, data, &peer.rtc);
        if received == Received::Copy {
            return;
        }
        if let Some(m) = peer.arrived(now, data, received) {
            let _ = member.events.send(m);
        }
        let handover = if received == Received::Video {
            peer.asker.arrived(now, data);
            peer.reorder.push(now, data)
        } else {
            Handover::now()
        };
        if handover.this
            && let Err(e) = peer.rtc.handle_input(input)
        {
            tracing::debug!("dropping a peer after bad input: {e}");
            peer.rtc.disconnect();
        }
        for d in handover.then {
            receive_held(now, source, self.advertised, peer, &d);
        }
        if received == Received::Video {
            for rebuilt in peer.parity.arrived(data) {
                self.stats.video_rebuilt.fetch_add(1, Ordering::Relaxed);
                receive_rebuilt(now, source, self.advertised, peer, &rebuilt);
            }
        }
        self.dirty.push(owner);
    }

    /// One of our own datagrams below SRTP from a client's address: a parity (the video it
    /// rebuilds goes to str0m), an ask for video we sent it, or an answer to ours (see
    /// `roomcast_rtc::parity` and `roomcast_rtc::fetch`).
    fn below_srtp(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        let Some(owner) = self.by_addr.get(&source).copied() else {
            self.stats.garbage_in.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let Some(peer) = self.members.get_mut(&owner).and_then(|m| m.peer.as_mut()) else {
            return;
        };
        if fetch::is_ask(data) {
            let answers = peer.repairs.answer(now, data, self.advertised, source);
            self.outbox.extend(answers);
            return;
        }
        let rebuilt = if let Some(answered) = fetch::answered(data) {
            self.stats.video_answered.fetch_add(1, Ordering::Relaxed);
            receive_rebuilt(now, source, self.advertised, peer, answered);
            self.dirty.push(owner);
            peer.parity.arrived(answered)
        } else {
            peer.asker.parity_seen(now);
            peer.parity.parity(data)
        };
        for d in &rebuilt {
            self.stats.video_rebuilt.fetch_add(1, Ordering::Relaxed);
            receive_rebuilt(now, source, self.advertised, peer, d);
        }
        if !rebuilt.is_empty() {
            self.dirty.push(owner);
        }
    }

    /// Polls every peer that got input until all are idle, forwarding what they produce.
    fn drive(&mut self, now: Instant) {
        let mut forwards = Vec::new();
        while !self.dirty.is_empty() {
            let mut dirty = std::mem::take(&mut self.dirty);
            dirty.sort_unstable();
            dirty.dedup();
            for id in dirty {
                self.poll_peer(now, id, &mut forwards);
            }
            for f in forwards.drain(..) {
                self.forward(now, f);
            }
        }
    }

    fn poll_peer(&mut self, now: Instant, id: MemberId, out: &mut Vec<Forward>) {
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        let Some(peer) = member.peer.as_mut() else {
            return;
        };
        loop {
            if !peer.rtc.is_alive() {
                member.peer = None;
                if let Some(addr) = member.addr.take() {
                    self.by_addr.remove(&addr);
                }
                out.push(Forward::Lost { member: id });
                return;
            }
            match peer.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    let copies = roomcast_rtc::setup::extra_copies(&t, peer.connected);
                    let mut copies: Vec<Transmit> = copies.collect();
                    let (repairs, video) = peer.repairs.sending(now, &t, &peer.rtc);
                    copies.extend(repairs);
                    let sent = 1 + copies.len() as u64;
                    self.stats.datagrams_out.fetch_add(sent, Ordering::Relaxed);
                    if video {
                        let all = std::iter::once(t).chain(copies);
                        let unpaced = all.filter_map(|t| peer.pacer.push(now, t));
                        self.outbox.extend(unpaced);
                    } else {
                        self.outbox.push(t);
                        self.outbox.extend(copies);
                    }
                }
                Ok(Output::Timeout(t)) => {
                    peer.timeout = t;
                    self.outbox.extend(peer.pacer.due(now));
                    return;
                }
                Ok(Output::Event(e)) => match e {
                    Event::Connected => {
                        peer.connected = true;
                        out.push(Forward::Connected { member: id });
                    }
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        out.push(Forward::Lost { member: id })
                    }
                    Event::IceConnectionStateChange(
                        IceConnectionState::Connected | IceConnectionState::Completed,
                    ) => out.push(Forward::Restored { member: id }),
                    Event::MediaData(data) => out.push(Forward::Media {
                        from: id,
                        data: Box::new(data),
                    }),
                    Event::MediaEgressStats(s) => {
                        if let Some(loss) = s.loss {
                            // What we forward there (the server sends on no other m-line).
                            let kind = match peer.uses.get(&s.mid) {
                                Some(Use::Subscribe { kind, .. }) => Some(*kind),
                                _ => None,
                            };
                            if kind == Some(MediaKind::Audio) {
                                peer.repairs.report_audio(s.timestamp, loss, s.rtt);
                            } else {
                                peer.repairs.report(s.timestamp, loss);
                            }
                            peer.loss_report(s.mid, loss);
                            if kind == Some(MediaKind::Video) {
                                out.push(Forward::VideoLoss { member: id, loss });
                            }
                        }
                    }
                    Event::KeyframeRequest(req) => out.push(Forward::KeyframeRequest {
                        from: id,
                        mid: req.mid,
                    }),
                    _ => {}
                },
                Err(e) => {
                    tracing::debug!("peer failed: {e}");
                    peer.rtc.disconnect();
                }
            }
        }
    }

    fn forward(&mut self, now: Instant, f: Forward) {
        match f {
            Forward::Media { from, data } => self.forward_media(now, from, *data),
            Forward::KeyframeRequest { from, mid } => {
                let Some(Use::Subscribe { user, kind, stream }) = self
                    .members
                    .get(&from)
                    .and_then(|m| m.peer.as_ref())
                    .and_then(|p| p.uses.get(&mid))
                    .cloned()
                else {
                    return;
                };
                let Some(room) = self.members.get(&from).map(|m| m.room) else {
                    return;
                };
                let layer = self.layers.wanted(from, &user);
                self.request_keyframe(now, room, &user, kind, stream, layer);
            }
            Forward::Connected { member } => self.request_keyframes_for(now, member),
            Forward::VideoLoss { member, loss } => {
                if self.narrow_downlink(now, member, loss)
                    && self.downlinks.report(now, member, loss)
                {
                    self.set_reduced(now, member, true);
                    if let Some(p) = self.members.get_mut(&member).and_then(|m| m.peer.as_mut()) {
                        p.pacer.start(now, 1.0 - loss);
                        tracing::debug!(
                            "video to {member:?} paced at {:?} bit/s",
                            p.pacer.rate_bps()
                        );
                    }
                }
            }
            Forward::Lost { member } => {
                if let Some(key) = self.members.get(&member).map(|m| m.room) {
                    if let Some(r) = self.rooms.get_mut(&key) {
                        r.room.handle_connection_lost(now, member);
                    }
                    self.room_events(key);
                }
            }
            Forward::Restored { member } => {
                if let Some(key) = self.members.get(&member).map(|m| m.room) {
                    if let Some(r) = self.rooms.get_mut(&key) {
                        r.room.handle_connection_restored(now, member);
                    }
                    self.room_events(key);
                }
            }
        }
    }

    fn forward_media(&mut self, now: Instant, from: MemberId, data: MediaData) {
        let Some(publisher) = self.members.get(&from) else {
            return;
        };
        let Some(Use::Publish { kind, stream }) = publisher
            .peer
            .as_ref()
            .and_then(|p| p.uses.get(&data.mid))
            .cloned()
        else {
            return;
        };
        let room_key = publisher.room;
        let Some(entry) = self.rooms.get(&room_key) else {
            return;
        };
        // Defence in depth: only anchors' media is forwarded, whatever was negotiated, and
        // nothing the host muted.
        if entry.room.role_of(from) != Some(Role::Anchor)
            || !entry.room.forwards(from, kind, stream)
        {
            return;
        }
        let user = publisher.user.clone();
        let delay_us = data.network_time.elapsed().as_micros() as u64;
        let subscribers: Vec<MemberId> = entry.room.members().filter(|m| *m != from).collect();
        let layer = simulcast::layer_of(&data, kind, stream);
        if kind == MediaKind::Video
            && !self.holes.admit(
                (from, data.mid, data.rid),
                data.contiguous,
                data.is_keyframe(),
            )
        {
            let layer = layer.unwrap_or_default();
            self.request_keyframe(now, room_key, &user, kind, stream, layer);
            return;
        }
        let keyframe = layer.is_some() && data.is_keyframe();
        // Video without simulcast: what a reduced subscriber gets is its keyframes.
        let whole = kind == MediaKind::Video && layer.is_none();
        let to_reduced = whole
            && self
                .keyframes_only
                .frame(now, (from, data.mid), data.is_keyframe());
        let mut keyframes_only = false;
        let mut switched = false;
        // Layers a subscriber waits for a keyframe of (asked again, throttled, until it comes).
        let mut awaited: Vec<VideoStreamType> = Vec::new();
        for sub in subscribers {
            let Some(member) = self.members.get_mut(&sub) else {
                continue;
            };
            if whole && self.layers.is_reduced(sub) {
                keyframes_only = true;
                if !to_reduced {
                    continue;
                }
            }
            if layer.is_some() && member.peer.as_ref().is_some_and(|p| p.connected) {
                let admit = self.layers.admit(sub, &user, layer, keyframe);
                if self.layers.switching(sub, &user) {
                    awaited.push(self.layers.wanted(sub, &user));
                }
                match admit {
                    layers::Admit::Drop => continue,
                    layers::Admit::Switched => switched = true,
                    layers::Admit::Forward => {}
                }
            }
            let Some(peer) = member.peer.as_mut() else {
                continue;
            };
            if !peer.connected {
                continue;
            }
            let mids: Vec<Mid> = peer.subscription_mids(&user, kind, stream).collect();
            for mid in mids {
                let Some(writer) = peer.rtc.writer(mid) else {
                    continue;
                };
                let Some(pt) = writer.match_params(data.params) else {
                    continue;
                };
                // str0m sends queued frames in the order of this wallclock. `now` keeps the
                // publisher's order: a frame's arrival time would put a frame whose first
                // packet came late by retransmission after the frames that followed it.
                if writer.write(pt, now, data.time, data.data.clone()).is_ok() {
                    self.stats.frames_forwarded.fetch_add(1, Ordering::Relaxed);
                    self.stats
                        .forward_delay_us_total
                        .fetch_add(delay_us, Ordering::Relaxed);
                }
                self.dirty.push(sub);
            }
        }
        if switched {
            self.update_demand(room_key);
        }
        if keyframes_only && self.keyframes_only.ask(now, (from, data.mid)) {
            self.request_keyframe(now, room_key, &user, kind, stream, VideoStreamType::Big);
        }
        awaited.sort();
        awaited.dedup();
        for l in awaited {
            self.request_keyframe(now, room_key, &user, MediaKind::Video, Stream::Main, l);
        }
    }

    /// Asks `user`'s publisher in `room` for a keyframe of `stream` (of `layer` if it sends
    /// simulcast), at most every 250 ms.
    fn request_keyframe(
        &mut self,
        now: Instant,
        room: RoomKey,
        user: &UserId,
        kind: MediaKind,
        stream: Stream,
        layer: VideoStreamType,
    ) {
        if kind != MediaKind::Video {
            return;
        }
        let Some(publisher) = self.rooms.get(&room).and_then(|r| r.room.member_of(user)) else {
            return;
        };
        let Some(member) = self.members.get_mut(&publisher) else {
            return;
        };
        let Some(peer) = member.peer.as_mut() else {
            return;
        };
        let Some(mid) = peer.publish_mid(kind, stream) else {
            return;
        };
        let rid = simulcast::rid_of(peer, mid, layer);
        if member
            .last_keyframe_request
            .get(&mid)
            .is_some_and(|t| now.duration_since(*t) < KEYFRAME_REQUEST_INTERVAL)
        {
            if !member.keyframe_pending.contains(&(mid, rid)) {
                member.keyframe_pending.push((mid, rid));
            }
            return;
        }
        if let Some(mut writer) = peer.rtc.writer(mid)
            && writer
                .request_keyframe(rid, KeyframeRequestKind::Pli)
                .is_ok()
        {
            member.last_keyframe_request.insert(mid, now);
            self.dirty.push(publisher);
        }
    }

    /// Sends the keyframe requests held back by the throttle whose interval has passed.
    fn pending_keyframes(&mut self, now: Instant) {
        for (id, m) in self.members.iter_mut() {
            if m.keyframe_pending.is_empty() {
                continue;
            }
            let Some(peer) = m.peer.as_mut() else {
                m.keyframe_pending.clear();
                continue;
            };
            let last = &mut m.last_keyframe_request;
            m.keyframe_pending.retain(|&(mid, rid)| {
                if last
                    .get(&mid)
                    .is_some_and(|t| now.duration_since(*t) < KEYFRAME_REQUEST_INTERVAL)
                {
                    return true;
                }
                if let Some(mut writer) = peer.rtc.writer(mid) {
                    let _ = writer.request_keyframe(rid, KeyframeRequestKind::Pli);
                    last.insert(mid, now);
                    self.dirty.push(*id);
                }
                false
            });
        }
    }

    /// A subscriber can only start decoding at a keyframe: ask every publisher it receives.
    fn request_keyframes_for(&mut self, now: Instant, member: MemberId) {
        let Some(m) = self.members.get(&member) else {
            return;
        };
        let room = m.room;
        let wanted: Vec<(UserId, MediaKind, Stream)> = m
            .peer
            .iter()
            .flat_map(|p| p.uses.values())
            .filter_map(|u| match u {
                Use::Subscribe { user, kind, stream } => Some((user.clone(), *kind, *stream)),
                _ => None,
            })
            .collect();
        for (user, kind, stream) in wanted {
            let layer = self.layers.wanted(member, &user);
            self.request_keyframe(now, room, &user, kind, stream, layer);
        }
    }

    fn command(&mut self, now: Instant, cmd: Command) {
        match cmd {
            Command::Enter {
                member,
                app,
                room,
                entrant,
                scene,
                invite_issued,
                events,
                reply,
            } => {
                let r = match self.ended.get(&(app, room.clone())) {
                    Some(&end) if invite_issued.is_some_and(|iat| iat <= end) => Err((
                        ErrorCode::MeetingEnded,
                        "the meeting this invite was for has ended; ask the host for a new invite"
                            .to_string(),
                    )),
                    _ => self.enter(now, member, app, room, entrant, scene, events),
                };
                let _ = reply.send(r);
            }
            Command::Exit { member, reply } => {
                self.leave(now, member);
                let _ = reply.send(Ok(Reply::Done));
            }
            Command::Disconnected { member } => {
                if let Some(m) = self.members.get_mut(&member) {
                    if let Some(mut p) = m.peer.take() {
                        p.rtc.disconnect();
                    }
                    if let Some(addr) = m.addr.take() {
                        self.by_addr.remove(&addr);
                    }
                }
                self.forward(now, Forward::Lost { member });
            }
            Command::SwitchRole {
                member,
                role,
                reply,
            } => {
                let r = self.with_room(member, |room| room.handle_switch_role(now, member, role));
                let _ = reply.send(r.map(|_| Reply::Done));
            }
            Command::SetAvailable {
                member,
                kind,
                stream,
                available,
                reply,
            } => {
                let r = self.with_room(member, |room| {
                    room.handle_set_available(now, member, kind, stream, available)
                });
                let _ = reply.send(r.map(|_| Reply::Done));
            }
            Command::Speak {
                member,
                action,
                reply,
            } => {
                let r = self.with_room(member, |room| room.handle_speak(now, member, action));
                let _ = reply.send(r.map(|_| Reply::Done));
            }
            Command::Meeting {
                member,
                action,
                reply,
            } => {
                let r = self.with_room(member, |room| meeting(room, now, member, action));
                let _ = reply.send(r.map(|_| Reply::Done));
            }
            Command::Negotiate {
                member,
                sdp,
                tracks,
                reply,
            } => {
                let r = self.negotiate(now, member, &sdp, &tracks);
                if let Some(room) = self.members.get(&member).map(|m| m.room) {
                    self.update_demand(room);
                }
                let _ = reply.send(r.map(Reply::Answer));
            }
            Command::Unsubscribe { member, mid, reply } => {
                if let Some(p) = self.members.get_mut(&member).and_then(|m| m.peer.as_mut()) {
                    p.uses.remove(&Mid::from(mid.as_str()));
                }
                if let Some(room) = self.members.get(&member).map(|m| m.room) {
                    self.update_demand(room);
                }
                let _ = reply.send(Ok(Reply::Done));
            }
            Command::SetStreamType {
                member,
                user,
                layer,
                reply,
            } => {
                let r = self.set_stream_type(now, member, &user, layer);
                let _ = reply.send(r.map(|()| Reply::Done));
            }
            Command::DownlinkLoss {
                member,
                video,
                scattered,
            } => {
                let loss = roomcast_rtc::arrivals::Loss::reported(video, scattered);
                self.downlink_loss(now, member, loss);
            }
            Command::DownlinkAudioLoss { member, long_runs } => {
                if let Some(p) = self.members.get_mut(&member).and_then(|m| m.peer.as_mut()) {
                    p.repairs.measure_audio_runs(now, long_runs);
                }
            }
            Command::Shutdown => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn enter(
        &mut self,
        now: Instant,
        member: MemberId,
        app: SdkAppId,
        room_id: RoomId,
        entrant: Entrant,
        scene: Scene,
        events: mpsc::UnboundedSender<ServerMessage>,
    ) -> Result<Reply, Failure> {
        let (user, role) = (entrant.user.clone(), entrant.role);
        let key = match self.room_index.get(&(app, room_id.clone())) {
            Some(k) => *k,
            None => {
                let key = self.next_room;
                self.next_room += 1;
                let room = Room::new(app, room_id.clone(), scene, Limits::default(), now);
                self.rooms.insert(
                    key,
                    RoomEntry {
                        room,
                        app,
                        id: room_id.clone(),
                        peak: 0,
                    },
                );
                self.room_index.insert((app, room_id.clone()), key);
                self.stats.rooms.fetch_add(1, Ordering::Relaxed);
                let _ = self.ledger.send(LedgerEvent::RoomOpened {
                    key,
                    app,
                    room: room_id.to_string(),
                    scene,
                    at_ms: now_ms(),
                });
                key
            }
        };
        let entry = self
            .rooms
            .get_mut(&key)
            .expect("the room was just looked up or created");
        let entry_result = entry.room.handle_enter_as(now, member, entrant);
        let entered = match entry_result {
            Ok(e) => e,
            Err(e) => {
                // A room opened by an entrant who was refused (e.g. a bad passcode) stays
                // empty: nothing else ever closes it.
                if entry.room.is_empty() && !entry.room.has_lobby() {
                    self.close_room(key);
                }
                return Err((e.code(), e.to_string()));
            }
        };
        let role = entry.room.role_of(member).unwrap_or(role);
        let view = entry.room.view();
        entry.peak = entry.peak.max(entry.room.len());
        self.members.insert(
            member,
            Member {
                room: key,
                user,
                events,
                peer: None,
                addr: None,
                last_keyframe_request: HashMap::new(),
                keyframe_pending: Vec::new(),
                demand: None,
                media_addr: None,
                told_moved: None,
            },
        );
        self.stats.members.fetch_add(1, Ordering::Relaxed);
        self.room_events(key);
        Ok(match entered {
            Entry::Entered(users) => Reply::Entered {
                role,
                users,
                room: view,
            },
            Entry::Waiting => Reply::Waiting,
        })
    }

    /// Forgets a room and records its end in the ledger.
    fn close_room(&mut self, key: RoomKey) {
        if let Some(entry) = self.rooms.remove(&key) {
            self.room_index.remove(&(entry.app, entry.id.clone()));
            self.stats.rooms.fetch_sub(1, Ordering::Relaxed);
            let _ = self.ledger.send(LedgerEvent::RoomClosed {
                key,
                at_ms: now_ms(),
                peak_users: entry.peak as i64,
            });
        }
    }

    fn leave(&mut self, now: Instant, member: MemberId) {
        let Some(key) = self.members.get(&member).map(|m| m.room) else {
            return;
        };
        if let Some(r) = self.rooms.get_mut(&key) {
            r.room.handle_exit(now, member);
        }
        self.drop_member(member);
        self.room_events(key);
    }

    fn drop_member(&mut self, member: MemberId) {
        if let Some(mut m) = self.members.remove(&member) {
            self.layers.forget(member, Some(&m.user));
            self.holes.forget(member);
            self.downlinks.forget(member);
            self.keyframes_only.forget(member);
            self.update_demand(m.room);
            self.stats.members.fetch_sub(1, Ordering::Relaxed);
            if let Some(addr) = m.addr.take() {
                self.by_addr.remove(&addr);
            }
            if let Some(mut p) = m.peer.take() {
                p.rtc.disconnect();
            }
        }
    }

    fn with_room(
        &mut self,
        member: MemberId,
        f: impl FnOnce(&mut Room) -> Result<(), crate::room::RoomError>,
    ) -> Result<(), Failure> {
        let key = self
            .members
            .get(&member)
            .map(|m| m.room)
            .ok_or((ErrorCode::NotInRoom, "enter a room first".to_string()))?;
        let r = match self.rooms.get_mut(&key) {
            Some(entry) => f(&mut entry.room).map_err(|e| (e.code(), e.to_string())),
            None => Err((ErrorCode::NotInRoom, "the room has closed".to_string())),
        };
        self.room_events(key);
        r
    }

    fn negotiate(
        &mut self,
        now: Instant,
        member: MemberId,
        sdp: &str,
        tracks: &[Track],
    ) -> Result<String, Failure> {
        let m = self
            .members
            .get(&member)
            .ok_or((ErrorCode::NotInRoom, "enter a room first".to_string()))?;
        let key = m.room;
        if self
            .rooms
            .get(&key)
            .is_some_and(|r| r.room.role_of(member).is_none())
        {
            return Err((
                ErrorCode::NotInRoom,
                "waiting in the lobby until the host lets you in".to_string(),
            ));
        }
        if tracks.iter().any(|t| t.user_id.is_none())
            && let Some(r) = self.rooms.get(&key)
        {
            r.room
                .check_publish(member)
                .map_err(|e| (e.code(), e.to_string()))?;
        }
        let advertised = self.advertised;
        let m = self.members.get_mut(&member).expect("checked above");
        if m.peer.is_none() {
            m.peer = Some(Peer::new(now, advertised).map_err(|e| (ErrorCode::Internal, e))?);
            m.media_addr = None;
        }
        let peer = m.peer.as_mut().expect("created above");
        let answer = peer
            .negotiate(sdp, tracks)
            .map_err(|e| (ErrorCode::NegotiationFailed, e))?;
        let connected = peer.connected;
        self.dirty.push(member);
        if connected {
            self.request_keyframes_for(now, member);
        }
        Ok(answer)
    }

    /// Carries out what a room decided.
    fn room_events(&mut self, key: RoomKey) {
        loop {
            let Some(entry) = self.rooms.get_mut(&key) else {
                return;
            };
            let Some(event) = entry.room.poll_event() else {
                return;
            };
            match event {
                RoomEvent::Send { to, msg } => {
                    if let Some(m) = self.members.get(&to) {
                        let _ = m.events.send(msg);
                    }
                }
                RoomEvent::Remove {
                    member,
                    code,
                    message,
                } => {
                    if let Some(m) = self.members.get(&member) {
                        let _ = m.events.send(ServerMessage::Removed { code, message });
                    }
                    self.drop_member(member);
                }
                RoomEvent::Admitted {
                    member,
                    role,
                    users,
                } => {
                    let room = entry.room.view();
                    let room_id = entry.id.clone();
                    if let Some(m) = self.members.get(&member) {
                        let _ = m.events.send(ServerMessage::Admitted {
                            room_id,
                            user_id: m.user.clone(),
                            role,
                            users,
                            room,
                        });
                    }
                }
                RoomEvent::Ended => {
                    let unix = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs() as i64)
                        .unwrap_or(0);
                    self.ended.insert((entry.app, entry.id.clone()), unix);
                }
                RoomEvent::Usage(u) => {
                    let (app, room) = (entry.app, entry.id.to_string());
                    let _ = self.ledger.send(LedgerEvent::Stay {
                        app,
                        room,
                        user: u.user.as_str().to_string(),
                        role: u.role,
                        left_at_ms: now_ms(),
                        seconds_connected: u.connected.as_secs_f64(),
                        seconds_lost: u.lost.as_secs_f64(),
                    });
                }
                RoomEvent::Destroyed => {
                    self.close_room(key);
                    let orphans: Vec<MemberId> = self
                        .members
                        .iter()
                        .filter(|(_, m)| m.room == key)
                        .map(|(id, _)| *id)
                        .collect();
                    for m in orphans {
                        self.drop_member(m);
                    }
                    return;
                }
            }
        }
    }
}

fn meeting(
    room: &mut Room,
    now: Instant,
    member: MemberId,
    action: MeetingAction,
) -> Result<(), crate::room::RoomError> {
    match action {
        MeetingAction::Custom {
            cmd_id,
            data,
            reliable,
            ordered,
        } => room.handle_custom(now, member, cmd_id, data, reliable, ordered),
        MeetingAction::RaiseHand(up) => room.handle_raise_hand(member, up),
        MeetingAction::Mute { user, kind, lock } => {
            room.handle_mute(member, user.as_ref(), kind, lock)
        }
        MeetingAction::Unlock { user, kind } => room.handle_unlock(member, user.as_ref(), kind),
        MeetingAction::Remove(user) => room.handle_remove(now, member, &user),
        MeetingAction::Options(options) => room.handle_set_options(now, member, options),
        MeetingAction::End => room.handle_end(now, member),
        MeetingAction::Admit { user, accept } => room.handle_admit(now, member, &user, accept),
    }
}

/// Hands a held datagram of video to its peer's str0m.
/// Video rebuilt from parity, as if it had arrived (but not counted as the link's: it
/// measures what the link loses; the packet itself coming later is a duplicate str0m drops).
fn receive_rebuilt(
    now: Instant,
    source: SocketAddr,
    destination: SocketAddr,
    peer: &mut Peer,
    d: &[u8],
) {
    peer.asker.arrived(now, d);
    let handover = peer.reorder.push(now, d);
    if handover.this {
        receive_held(now, source, destination, peer, d);
    }
    for d in handover.then {
        receive_held(now, source, destination, peer, &d);
    }
}

fn receive_held(
    now: Instant,
    source: SocketAddr,
    destination: SocketAddr,
    peer: &mut Peer,
    d: &[u8],
) {
    let Some(input) = udp_input(now, source, destination, d) else {
        return;
    };
    if let Err(e) = peer.rtc.handle_input(input) {
        tracing::debug!("dropping a peer after bad input: {e}");
        peer.rtc.disconnect();
    }
}
