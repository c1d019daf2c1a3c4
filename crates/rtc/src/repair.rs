//! Repairs go out twice on a lossy link. A video packet lost on the way comes back only if
//! the receiver's NACK reaches the sender and the resend then reaches the receiver: at 20 %
//! loss each way one try in three fails. str0m asks at most five times, one round trip
//! apart, and gives up once 100 newer packets have come in; under 700 ms of jitter that
//! leaves two or three tries, and every packet given up is a frame nobody can decode until
//! the next keyframe (a freeze of a second or two).
//!
//! So while a link loses [`COPY_FROM`] or more, resends (when what we send is lost) and RTCP
//! (when what we receive is: that is where our NACKs travel) go out twice, back to back. A
//! try then fails about one time in twelve instead of one in three; from [`THRICE_FROM`] on
//! they go out three times (one in sixty, and the first copy through the jitter is the
//! earliest of three). A sender whose own video
//! fills the link holds its resends back ([`Repairs::hold_resends`]). A receiver drops a
//! copy it already had before str0m sees it ([`Repairs::is_copy`]), so str0m handles each
//! NACK and report once, as it would without copies (it has no replay check for RTCP).
//! The extra bytes are the resends' share (roughly the loss) plus RTCP, and only while the
//! loss lasts.
//!
//! Video itself goes out twice too while the link loses a tenth of it or more at random
//! ([`Repairs::judge_video`]). Resends alone still froze the picture: at 20 % loss and
//! 0–700 ms of jitter a packet lost twice waits two round trips of up to 1.4 s, longer than
//! the playout holds frames, and one lost for good stops the picture until the next
//! keyframe. Twice, a packet is lost only if both are (4 %). That doubles the video's bytes,
//! so it is only for loss that is the link's own, not a queue overflowing:
//! - The measure is the server's (`uplink_loss`, from [`crate::arrivals`]): the share of
//!   packets lost while the one before came. A sender's own reports cannot tell: they count
//!   late packets lost and resent ones received. A full queue loses runs, which copies sent
//!   back to back would not survive either.
//! - Three of the last four measures must say so, and none counts while the sender's rate
//!   control has no verdict, is cutting for congestion on a steady link, or its latest round
//!   trip says packets queue ([`Repairs::hold_video`]). On a jittery link a cut is more often
//!   the jitter's doing and does not stop copies (a full cap holds round trips steady).
//! - Copies stop on the last ten measures, not on one: at 20 % loss a second's 30 packets
//!   often lose none twice, and two such seconds used to stop the copies for the three
//!   seconds it took to start them again (a fifth of the video lost).
//! - Where the other end rebuilds from parity (an engine's server; a subscribing engine),
//!   a parity of every four packets goes with the copied video ([`crate::parity`]).
//!
//! The server sends video twice the same way towards a subscriber whose downlink loses at
//! random, or in runs where its reports say the link carries the video (measured by the
//! subscriber: `downlink_loss`; see the server's `sfu::copies` and `sfu::downlink`).
//! An end that receives video twice copies its RTCP (its NACKs) as well, and one that sends
//! it copies its resends: the parities rebuild most of what that link loses, so the resends
//! that used to tell it are few. Most of what parities leave is then asked for below SRTP
//! ([`crate::fetch`]), and str0m's NACKs are what is left. A NACK whose copies were all lost
//! or held up waited for str0m to ask again a round-trip sample later (up to 1.4 s under
//! 0–700 ms of jitter), and copies sent back to back only beat loss, not jitter: the first
//! of two through 0–700 ms comes after 233 ms on average. So on such a link each NACK and
//! keyframe request goes again every 25 ms for 300 ms ([`NACK_AGAIN`]); the receiver drops
//! every copy after the first that came, and the first of thirteen comes after about 50 ms.
//! They are small (98 against 65 kbit/s from a subscriber at 20 % loss and 0–700 ms), and
//! before the asks they took the freezes over 500 ms on the subscriber's link from 76 to 22
//! in 384 calls. Resends go out twice then, not three times: the asks do more for the bytes.
//!
//! Audio is, where RED's six earlier frames are not enough: from 50 % loss of the link it
//! goes out twice, from 60 % three times (at 70 % a frame is then lost only if 21 packets
//! are, instead of seven: 8 % of frames). That is two or three times RED's bytes, paid only
//! on such a link, and not on a jittery one (`AudioCopies`).
//!
//! The loss is what the resends show: each second, resent packets per packet of video sent
//! (or received), and for what we send, the receiver reports too. Those alone cannot tell:
//! str0m counts a packet that came back by a resend as received, so at 20 % loss on a short
//! round trip they said 2–7 %.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use std::net::SocketAddr;
use str0m::Rtc;

use str0m::net::{Protocol, Transmit};

use crate::fetch::Keeper;
use crate::parity::ParitySender;
use crate::rtt::RoundTrips;
use crate::spread::Spread;

/// From this estimated loss on, repairs go out twice…
pub const COPY_FROM: f32 = 0.05;
/// …until the estimate falls below this one.
const COPY_UNTIL: f32 = 0.02;
/// From this estimated loss on, repairs go out three times. At 20 % loss with 0–700 ms of
/// jitter on a publisher's link, a packet whose resend was lost again took a round trip of
/// up to 1.4 s per try, and the frames behind it waited: 94 freezes over 500 ms in 48 calls
/// with two transmissions, 70 with three (the first of three copies also comes sooner
/// through the jitter).
const THRICE_FROM: f32 = 0.12;
/// While video is copied, each NACK or keyframe request goes again after each of these:
/// every 25 ms for 300 ms (see the module's text).
const NACK_AGAIN: [Duration; 12] = every_ms(25);

const fn every_ms<const N: usize>(step: u64) -> [Duration; N] {
    let mut all = [Duration::ZERO; N];
    let mut i = 0;
    while i < N {
        all[i] = Duration::from_millis(step * (i as u64 + 1));
        i += 1;
    }
    all
}

/// How much of the estimate a second without a higher measure keeps.
const FADE_PER_SEC: f32 = 0.85;
/// How long resends are counted for one measure…
const ROUND: Duration = Duration::from_secs(1);
/// …and how many video packets it needs to mean something.
const MIN_PACKETS: u32 = 10;
/// From this loss of the link on, audio goes out twice as well…
const AUDIO_TWICE_FROM: f32 = 0.5;
/// …from this one on three times…
const AUDIO_THRICE_FROM: f32 = 0.6;
/// …and once again below this one.
const AUDIO_ONCE_BELOW: f32 = 0.35;
/// From this loss of the link on, video goes out twice…
pub const VIDEO_TWICE_FROM: f32 = 0.1;
/// …once this many of the last [`VIDEO_TWICE_OF`] measures said so (a radio's runs make a
/// second's measure swing: at 17 % in runs one second in two or three said under a tenth,
/// and three in a row took up to 40 s to come, one call in a hundred never)…
const VIDEO_TWICE_AFTER: u32 = 3;
const VIDEO_TWICE_OF: u32 = 4;
/// …until the link's loss, read back from what the last [`VIDEO_ONCE_AFTER`] measures
/// since found lost both times, is below this. A second's measure cannot tell on its own:
/// at 20 % loss a packet is lost twice 4 % of the time, a packet a second of a 30 packet
/// second, and one second in three loses none. Judged on each second, with the estimate
/// fading by half a second, copies stopped after two such seconds in a row (now and then
/// in a minute's call), and the three seconds it took them to start again lost a fifth of
/// the video: 30 of the 34 freezes over 500 ms in 96 calls at 20 % loss and 0–700 ms of
/// jitter on the publisher's link came in such a gap.
const VIDEO_ONCE_BELOW: f32 = 0.05;
/// Ten measures at 20 % loss find none lost twice about once in 200,000 (300 packets): when
/// the loss ends, copies go on for ten seconds.
const VIDEO_ONCE_AFTER: usize = 10;
/// How many received packets are remembered to tell a copy: copies come back to back, but
/// jitter can put many packets between them (some 2 s of video and audio at 2 Mbit/s; a
/// copy that comes later is left to str0m, like any duplicate the network makes).
const REMEMBERED: usize = 1024;

/// What [`Repairs::receive`] makes of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// The copy of one already had: drop it.
    Copy,
    /// A first transmission of video (RTP, not a resend or padding).
    Video,
    /// Audio (Opus, plain or in RED), not a copy of one already had.
    Audio,
    /// Anything else, to hand on.
    Other,
}

/// What a datagram is, as far as repairs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Video (a payload type that has retransmission).
    Video,
    /// A resend of video (RTP on an RTX payload type), not padding: bandwidth probes are
    /// padding on the RTX stream, and copying them would mislead the estimate.
    Resend,
    Rtcp,
    /// Audio (Opus, plain or in RED).
    Audio,
    Other,
}

/// Video packets and resends counted one way in the current round.
#[derive(Debug, Clone, Copy, Default)]
struct Count {
    video: u32,
    resends: u32,
}

impl Count {
    fn add(&mut self, kind: Kind) {
        match kind {
            Kind::Video => self.video += 1,
            Kind::Resend => self.resends += 1,
            _ => {}
        }
    }

    fn share(&self) -> f32 {
        if self.video < MIN_PACKETS {
            return 0.0;
        }
        self.resends as f32 / self.video as f32
    }
}

/// The loss of one direction: rises at once, fades by `fade` a second; `lossy` from `from`
/// until below `until` (for repairs: [`COPY_FROM`], [`COPY_UNTIL`]).
#[derive(Debug, Clone, Copy)]
struct Loss {
    value: f32,
    at: Option<Instant>,
    lossy: bool,
    fade: f32,
    from: f32,
    until: f32,
}

impl Default for Loss {
    fn default() -> Self {
        Self {
            value: 0.0,
            at: None,
            lossy: false,
            fade: FADE_PER_SEC,
            from: COPY_FROM,
            until: COPY_UNTIL,
        }
    }
}

/// How many copies of a repair go out besides it while a link losing `loss` copies them.
fn repair_copies(loss: Loss) -> usize {
    if loss.value >= THRICE_FROM { 2 } else { 1 }
}

impl Loss {
    fn measure(&mut self, now: Instant, fraction: f32) {
        let fraction = crate::loss_fraction(fraction);
        let faded = self.at.map_or(0.0, |at| {
            let secs = now.saturating_duration_since(at).as_secs_f32();
            self.value * self.fade.powf(secs)
        });
        self.value = fraction.max(faded);
        self.at = Some(now);
        if self.value >= self.from {
            self.lossy = true;
        } else if self.value < self.until {
            self.lossy = false;
        }
    }
}

/// How many times audio goes out. The reports on audio count a packet as received if any
/// of its transmissions arrived, so they show the link's loss raised to the number of
/// transmissions: at 70 % loss and two, 49 %. The link's loss is read back from that (else
/// sending more would look like a better link, and copying would stop).
///
/// On a jittery link the reports cannot be trusted: a packet RED rebuilt before its original
/// arrived stays counted lost, and 0–1000 ms of jitter read as 57–69 % loss. While the round
/// trips swing, audio goes out once (nothing is lost there that copies would bring back;
/// on a link both jittery and very lossy, RED alone has to do).
#[derive(Debug, Clone)]
struct AudioCopies {
    link: Loss,
    transmissions: u8,
    round_trips: RoundTrips,
}

impl Default for AudioCopies {
    fn default() -> Self {
        Self {
            link: Loss::default(),
            transmissions: 1,
            round_trips: RoundTrips::default(),
        }
    }
}

impl AudioCopies {
    fn report(&mut self, now: Instant, fraction: f32, rtt: Option<Duration>) {
        if let Some(r) = rtt {
            self.round_trips.push(r);
        }
        let fraction = crate::loss_fraction(fraction);
        self.link
            .measure(now, fraction.powf(1.0 / f32::from(self.transmissions)));
        let loss = self.link.value;
        // Until three round trips say whether the link is jittery, copying does not start.
        // Without any (our sender reports do not get through: that is loss) it may.
        let known = self.round_trips.known();
        let jittery = known >= 3 && self.round_trips.jittery();
        let unsure = (1..3).contains(&known) && self.transmissions == 1;
        self.transmissions = if jittery || unsure {
            1
        } else if loss >= AUDIO_THRICE_FROM {
            3
        } else if loss >= AUDIO_TWICE_FROM {
            self.transmissions.max(2)
        } else if loss < AUDIO_ONCE_BELOW {
            1
        } else {
            self.transmissions.min(2)
        };
    }
}

/// One link's copying of repairs, on either end. Each direction decides its own copies:
/// resends are copied while what we send is lost (receiver reports, our resends), RTCP while
/// what we receive is (we are sending NACKs: the resends that come in). RTCP that carries
/// no NACKs needs no copies, and a narrow downlink was hurt by them.
#[derive(Debug, Clone)]
pub struct Repairs {
    outgoing: Loss,
    incoming: Loss,
    audio: AudioCopies,
    /// Whether resends may be copied at all (see [`Repairs::hold_resends`])…
    resends_held: bool,
    /// …and whether, while held, those past the round's video packets are not sent at all
    /// (see [`Repairs::cap_held_resends`]).
    held_resends_capped: bool,
    /// …and how many copies of each at most (see [`Repairs::copy_resends_once`]).
    resend_copies: usize,
    /// Whether audio may be copied at all (see [`Repairs::hold_audio`]).
    audio_held: bool,
    /// Whether our video may go out twice at all (see [`Repairs::hold_video`])…
    video_held: bool,
    /// …which of the latest measures of its loss were high (a bit each, newest lowest)…
    video_lossy: u8,
    /// …whether it does…
    video_twice: bool,
    /// …and while it does, what the latest measures found lost both times, newest last.
    video_lost_twice: VecDeque<f32>,
    /// When the other end's video last came twice.
    copied_at: Option<Instant>,
    /// Whether parities go with copied video (see [`Repairs::send_parity`])…
    sends_parity: bool,
    /// …and the groups they cover.
    parity: ParitySender,
    round_since: Option<Instant>,
    sent: Count,
    received: Count,
    /// The tails (authentication tags) of the last repairs received, with their lengths.
    seen: HashSet<u128>,
    /// Audio sent again later, on a link that loses in runs.
    spread: Spread,
    /// The same, oldest first, to forget them in order.
    order: VecDeque<u128>,
    /// What we sent lately, for the other end's asks ([`crate::fetch`]).
    keeper: Keeper,
}

impl Default for Repairs {
    fn default() -> Self {
        Self {
            outgoing: Loss::default(),
            incoming: Loss::default(),
            audio: AudioCopies::default(),
            resends_held: false,
            held_resends_capped: false,
            resend_copies: 2,
            audio_held: false,
            video_held: false,
            video_lossy: 0,
            video_twice: false,
            video_lost_twice: VecDeque::new(),
            copied_at: None,
            sends_parity: false,
            parity: ParitySender::default(),
            round_since: None,
            sent: Count::default(),
            received: Count::default(),
            seen: HashSet::new(),
            spread: Spread::default(),
            order: VecDeque::new(),
            keeper: Keeper::default(),
        }
    }
}

impl Repairs {
    /// The loss fraction (0..=1) a receiver report gives for what we send, at `now`.
    /// While video goes out twice, a packet is reported lost (or resent) only if both were:
    /// the link's loss is read back from that.
    pub fn report(&mut self, now: Instant, fraction: f32) {
        self.outgoing.measure(now, self.video_link_loss(fraction));
    }

    /// The same for a report on audio, with the round trip it measured.
    pub fn report_audio(&mut self, now: Instant, fraction: f32, rtt: Option<Duration>) {
        self.outgoing.measure(now, fraction);
        self.audio.report(now, fraction, rtt);
    }

    /// For a sender that controls its own video rate: the share of its video its receiver
    /// never got, however late (with video going out twice, read back from what was lost
    /// both times). Loss measured while video is held is the queue's: it does not count.
    ///
    /// Video starts going out twice after [`VIDEO_TWICE_AFTER`] of the last
    /// [`VIDEO_TWICE_OF`] measures at [`VIDEO_TWICE_FROM`] or more: a rate probing past a
    /// cap loses as much for a moment, until its cut (which holds video) takes effect.
    pub fn judge_video(&mut self, link_loss: f32) {
        if self.video_held {
            return;
        }
        let link_loss = crate::loss_fraction(link_loss);
        let lossy = u8::from(link_loss >= VIDEO_TWICE_FROM);
        self.video_lossy = ((self.video_lossy << 1) | lossy) & ((1 << VIDEO_TWICE_OF) - 1);
        if !self.video_twice {
            self.video_twice = self.video_lossy.count_ones() >= VIDEO_TWICE_AFTER;
            return;
        }
        if self.video_lost_twice.len() == VIDEO_ONCE_AFTER {
            self.video_lost_twice.pop_front();
        }
        self.video_lost_twice.push_back(link_loss * link_loss);
        let mean = self.video_lost_twice.iter().sum::<f32>() / VIDEO_ONCE_AFTER as f32;
        if self.video_lost_twice.len() == VIDEO_ONCE_AFTER && mean.sqrt() < VIDEO_ONCE_BELOW {
            self.video_twice = false;
            self.video_lost_twice.clear();
        }
    }

    /// The loss of the link under our video, read back from a measure of what was lost
    /// (while video goes out twice, a packet is lost only if both were).
    pub fn video_link_loss(&self, measured: f32) -> f32 {
        crate::loss_fraction(measured).powf(1.0 / f32::from(self.video_transmissions()))
    }

    /// For a sender that controls its own video rate: no copies of resends while that rate
    /// is being cut because the link is full, or has had no verdict yet. Loss is then a
    /// queue overflowing, and copies only add to what it drops.
    pub fn hold_resends(&mut self, held: bool) {
        self.resends_held = held;
    }

    /// For a sender that controls its own video rate: no copies of video while its link may
    /// be full (a cut for congestion, round trips that say packets queue) or its loss is not
    /// judged yet. What was lost before is the queue's too: video goes out twice only for
    /// loss measured after the hold.
    pub fn hold_video(&mut self, held: bool) {
        self.video_held = held;
        if self.video_held {
            self.video_lossy = 0;
            self.video_twice = false;
            self.video_lost_twice.clear();
        }
    }

    /// For a sender that lets resends take more of its bytes than a full link can spare (a
    /// jittery link asks again for most packets, see `crate::resend`): while resends are
    /// held, no more of them go out in a round than packets of video. At a 500 kbit/s cap
    /// the extra resends took a quarter of the camera's rate (300 → 224 kbit/s).
    pub fn cap_held_resends(&mut self) {
        self.held_resends_capped = true;
    }

    /// Resends go out twice at most, not three times: for the server towards a subscriber,
    /// whose link may be narrow as well as lossy (at 20 % loss and a 700 kbit/s cap, three
    /// times froze 61 times in 6 calls against 41), and where three did not help (20 % loss
    /// and 0–700 ms of jitter on the subscriber's link: 28 freezes in 24 calls against 25).
    pub fn copy_resends_once(&mut self) {
        self.resend_copies = 1;
    }

    /// For a sender that controls its own video rate: no copies of audio while that rate is
    /// being cut because the link is full (a full link loses as much, and copies add to it).
    pub fn hold_audio(&mut self, held: bool) {
        self.audio_held = held;
    }

    /// Whether our video goes out twice now: from [`VIDEO_TWICE_FROM`] of loss until below
    /// [`VIDEO_ONCE_BELOW`], never while held ([`Repairs::hold_video`]).
    pub fn copying_video(&self) -> bool {
        self.video_twice && !self.video_held
    }

    /// How many times each video packet goes out now (reports on it then count a packet
    /// lost only if all were: the link's loss is theirs to the power of one over this).
    pub fn video_transmissions(&self) -> u8 {
        1 + u8::from(self.copying_video())
    }

    /// How many copies of each audio packet go out now, besides the packet.
    pub fn audio_copies(&self) -> usize {
        if self.audio_held {
            0
        } else {
            usize::from(self.audio.transmissions - 1)
        }
    }

    /// Whether resends go out twice now: while what we send is lost, measured by our resends
    /// and the reports, or by the other end (then our video goes out twice, and parities
    /// rebuild most of what is lost, so few resends tell it).
    pub fn copying_resends(&self) -> bool {
        (self.outgoing.lossy || self.copying_video()) && !self.resends_held
    }

    /// Whether RTCP goes out twice now.
    pub fn copying_rtcp(&self) -> bool {
        self.incoming.lossy
    }

    /// Whether the other end sends its video twice (a copy came within the last second).
    fn copied_to_us(&self, now: Instant) -> bool {
        self.copied_at
            .is_some_and(|at| now.saturating_duration_since(at) < ROUND)
    }

    /// `t` goes out at `now`: the copies to send right after it, if it is a repair or audio
    /// and the link is lossy.
    pub fn copies_of(&mut self, now: Instant, t: &Transmit, rtc: &Rtc) -> Vec<Transmit> {
        self.sending(now, t, rtc).0
    }

    /// `t` is about to go out at `now`: None if it is a resend not to send at all (see
    /// [`Repairs::cap_held_resends`]), else the copies to send right after it.
    pub fn to_send(&mut self, now: Instant, t: &Transmit, rtc: &Rtc) -> Option<Vec<Transmit>> {
        let kind = kind(&t.contents, rtc);
        self.count(now);
        let over = self.sent.resends >= self.sent.video.max(MIN_PACKETS);
        if kind == Kind::Resend && self.held_resends_capped && self.resends_held && over {
            return None;
        }
        Some(self.sent_as(now, kind, t))
    }

    /// [`copies_of`](Self::copies_of), and whether `t` is video or a resend of it (from the
    /// same look at the datagram: a sender that paces video need not look again).
    pub fn sending(&mut self, now: Instant, t: &Transmit, rtc: &Rtc) -> (Vec<Transmit>, bool) {
        let kind = kind(&t.contents, rtc);
        self.count(now);
        let video = matches!(kind, Kind::Video | Kind::Resend);
        (self.sent_as(now, kind, t), video)
    }

    /// The receiving end measured `long_runs` of our audio lost beyond RED's reach: whether
    /// audio goes out again later ([`crate::spread`]).
    pub fn measure_audio_runs(&mut self, now: Instant, long_runs: f32) {
        self.spread.measure(now, long_runs);
    }

    /// The later copies of audio due at `now`.
    pub fn due_copies(&mut self, now: Instant) -> Vec<Transmit> {
        self.spread.due(now)
    }

    /// When the next later copy of audio is due.
    pub fn next_copy_due(&self) -> Option<Instant> {
        self.spread.next_due()
    }

    /// Counts `t` (of `kind`) sent; the copies to send after it.
    fn sent_as(&mut self, now: Instant, kind: Kind, t: &Transmit) -> Vec<Transmit> {
        // Not while audio is held (see [`Repairs::hold_audio`]): a full link loses runs too,
        // and later copies only add to it.
        if kind == Kind::Audio && !self.audio_held {
            self.spread.sent(now, t);
        }
        self.sent.add(kind);
        let copies = match kind {
            Kind::Resend => {
                // With video copied, the asks (`crate::fetch`) do more than a third one.
                let most = if self.copying_video() {
                    1
                } else {
                    self.resend_copies
                };
                usize::from(self.copying_resends()) * repair_copies(self.outgoing).min(most)
            }
            Kind::Rtcp => usize::from(self.copying_rtcp()) * repair_copies(self.incoming),
            Kind::Audio => self.audio_copies(),
            Kind::Video => usize::from(self.copying_video()),
            Kind::Other => 0,
        };
        let mut out: Vec<Transmit> = (0..copies).map(|_| crate::setup::copy(t)).collect();
        // A request whose copies were all lost or held up would wait for str0m to ask again,
        // one round trip sample later (up to 1.4 s under 0–700 ms of jitter): more copies go
        // later. Only where the other end copies its video (the loss is the link's own).
        if kind == Kind::Rtcp && copies > 0 && self.copied_to_us(now) && is_request(&t.contents) {
            self.spread.later(now, t, &NACK_AGAIN);
        }
        if kind == Kind::Video && self.sends_parity && self.copying_video() {
            self.keeper.sent(&t.contents);
            out.extend(self.parity.sent(&t.contents).into_iter().map(|p| Transmit {
                proto: t.proto,
                source: t.source,
                destination: t.destination,
                contents: p.into(),
            }));
        } else if kind == Kind::Video {
            self.parity.reset();
            self.keeper.clear();
        }
        out
    }

    /// The other end asked for packets of our video (`ask`, see [`crate::fetch`]) from
    /// `from`: the answers to send it, each twice.
    pub fn answer(
        &mut self,
        now: Instant,
        ask: &[u8],
        local: SocketAddr,
        from: SocketAddr,
    ) -> Vec<Transmit> {
        self.keeper
            .asked(now, ask)
            .into_iter()
            .flat_map(|a| {
                let t = Transmit {
                    proto: Protocol::Udp,
                    source: local,
                    destination: from,
                    contents: a.into(),
                };
                [crate::setup::copy(&t), t]
            })
            .collect()
    }

    /// The other end rebuilds video from parity ([`crate::parity`]): while our video goes
    /// out twice, a parity of every few packets goes out with it (twice as well).
    pub fn send_parity(&mut self, on: bool) {
        self.sends_parity = on;
    }

    /// Whether a datagram received at `now` is the copy of one we already had (drop it).
    pub fn is_copy(&mut self, now: Instant, datagram: &[u8], rtc: &Rtc) -> bool {
        self.receive(now, datagram, rtc) == Received::Copy
    }

    /// The same, telling also whether what is not a copy is a first transmission of video
    /// (for [`crate::arrivals`]), from the one look at the datagram.
    pub fn receive(&mut self, now: Instant, datagram: &[u8], rtc: &Rtc) -> Received {
        let kind = kind(datagram, rtc);
        if kind != Kind::Other {
            // SRTP and SRTCP end in an authentication tag: the same tail is the same packet.
            let tail = &datagram[datagram.len() - 10..];
            let mut key = datagram.len() as u128;
            for b in tail {
                key = (key << 8) | u128::from(*b);
            }
            if !self.seen.insert(key) {
                if kind == Kind::Video {
                    // The other end sends its video twice: the link loses a tenth or more
                    // its way, likely ours too, where our NACKs go. Its parities repair
                    // most of what it loses, so few resends come to tell it.
                    self.incoming.measure(now, VIDEO_TWICE_FROM);
                    self.copied_at = Some(now);
                }
                return Received::Copy;
            }
            self.order.push_back(key);
            if self.order.len() > REMEMBERED
                && let Some(old) = self.order.pop_front()
            {
                self.seen.remove(&old);
            }
        }
        self.count(now);
        self.received.add(kind);
        match kind {
            Kind::Video => Received::Video,
            Kind::Audio => Received::Audio,
            _ => Received::Other,
        }
    }

    /// Ends the round once it is [`ROUND`] old: the resend share each way is a measure of
    /// that direction's loss.
    fn count(&mut self, now: Instant) {
        let since = *self.round_since.get_or_insert(now);
        if now.saturating_duration_since(since) < ROUND {
            return;
        }
        let sent = self.video_link_loss(self.sent.share());
        self.outgoing.measure(now, sent);
        self.incoming.measure(now, self.received.share());
        (self.sent, self.received) = (Count::default(), Count::default());
        self.round_since = Some(now);
    }
}

/// Whether an RTCP datagram starts with a request for video: a generic NACK (RTPFB, FMT 1)
/// or a keyframe request (PSFB, PLI FMT 1 or FIR FMT 4). The first header is in the clear in
/// SRTCP; str0m sends these in datagrams of their own. A keyframe request ends a freeze
/// after a frame lost for good: it is worth sending again as much as a NACK.
fn is_request(d: &[u8]) -> bool {
    d.len() >= 2 && matches!((d[1], d[0] & 0x1F), (205, 1) | (206, 1) | (206, 4))
}

/// RFC 5761: RTCP packet types 192–223 sit where RTP has its marker bit and payload type.
fn kind(d: &[u8], rtc: &Rtc) -> Kind {
    if d.len() < 20 || d[0] >> 6 != 2 {
        return Kind::Other;
    }
    if (192..=223).contains(&d[1]) {
        return Kind::Rtcp;
    }
    let padding = d[0] & 0x20 != 0;
    let pt = d[1] & 0x7F;
    for p in rtc.codec_config().params() {
        if p.spec().codec.is_audio() && (*p.pt() == pt || p.red().is_some_and(|r| *r == pt)) {
            return Kind::Audio;
        }
        let Some(resend) = p.resend() else {
            continue;
        };
        if *resend == pt {
            return if padding { Kind::Other } else { Kind::Resend };
        }
        if *p.pt() == pt {
            return Kind::Video;
        }
    }
    Kind::Other
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::transmit;

    fn rtc() -> Rtc {
        Rtc::builder().enable_h264(true).build(Instant::now())
    }

    /// An RTP packet of payload type `pt` whose tail is `tag`.
    fn rtp(pt: u8, tag: u32) -> Vec<u8> {
        let mut d = vec![0x80, pt];
        d.extend([0; 30]);
        d.extend(tag.to_be_bytes());
        d
    }

    fn rtx_pt(rtc: &Rtc) -> u8 {
        let params = rtc.codec_config().params();
        *params
            .iter()
            .find_map(|p| p.resend())
            .expect("H.264 has RTX")
    }

    fn video_pt(rtc: &Rtc) -> u8 {
        let params = rtc.codec_config().params();
        *params
            .iter()
            .find(|p| p.resend().is_some())
            .expect("H.264")
            .pt()
    }

    /// Both ways lossy: we are told we lose 20 %, and we get 20 resends a second.
    fn lossy(now: Instant, rtc: &Rtc) -> Repairs {
        let mut r = Repairs::default();
        r.report(now, 0.2);
        second(&mut r, rtc, now, 0, (100, 20), false);
        second(&mut r, rtc, now, 1, (1, 0), false);
        r
    }

    #[test]
    fn on_a_lossy_link_resends_and_rtcp_are_copied_and_media_is_not() {
        let (rtc, now) = (rtc(), Instant::now());
        let mut r = lossy(now, &rtc);
        let resend = transmit(rtp(rtx_pt(&rtc), 1));
        let copies = r.copies_of(now, &resend, &rtc);
        assert_eq!(copies.len(), 2, "a resend goes three times at 20 %");
        assert_eq!(*copies[0].contents, *resend.contents);
        let rtcp = transmit(rtp(201, 2));
        assert!(r.copies_of(now, &rtcp, &rtc).len() == 2, "RTCP too");
        let media = transmit(rtp(video_pt(&rtc), 3));
        assert!(r.copies_of(now, &media, &rtc).is_empty(), "media is not");
        let mut probe = rtp(rtx_pt(&rtc), 4);
        probe[0] |= 0x20;
        assert!(
            r.copies_of(now, &transmit(probe), &rtc).is_empty(),
            "padding is not"
        );
        let stun = transmit(vec![0; 40]);
        assert!(r.copies_of(now, &stun, &rtc).is_empty());
    }

    /// Second `n` (from `start`) of `video` packets and `resends`, sent or received.
    fn second(r: &mut Repairs, rtc: &Rtc, start: Instant, n: u32, counts: (u32, u32), sent: bool) {
        let (video, resends) = counts;
        let at = start + ROUND * n;
        let kinds = (0..video)
            .map(|_| video_pt(rtc))
            .chain((0..resends).map(|_| rtx_pt(rtc)));
        for (i, pt) in kinds.enumerate() {
            let when = at + ROUND * i as u32 / (video + resends);
            let d = rtp(pt, i as u32 + 1000 * n);
            if sent {
                r.copies_of(when, &transmit(d), rtc);
            } else {
                assert!(!r.is_copy(when, &d, rtc));
            }
        }
    }

    #[test]
    fn each_way_copies_what_its_loss_calls_for() {
        let (rtc, now) = (rtc(), Instant::now());
        let resend = transmit(rtp(rtx_pt(&rtc), 1));
        let rtcp = transmit(rtp(201, 2));
        // We resend 20 % of what we send: our resends are copied, our RTCP is not.
        let mut r = Repairs::default();
        second(&mut r, &rtc, now, 0, (100, 3), true);
        second(&mut r, &rtc, now, 1, (100, 3), true);
        assert!(!r.copying_resends(), "3 %");
        second(&mut r, &rtc, now, 2, (100, 8), true);
        second(&mut r, &rtc, now, 3, (100, 0), true);
        assert!(r.copies_of(now, &resend, &rtc).len() == 1, "8 %: twice");
        assert!(r.copies_of(now, &rtcp, &rtc).is_empty());
        second(&mut r, &rtc, now, 4, (100, 20), true);
        second(&mut r, &rtc, now, 5, (100, 0), true);
        assert!(
            r.copies_of(now, &resend, &rtc).len() == 2,
            "20 %: three times"
        );
        // A fifth of what we receive comes by resend: we are sending NACKs, so RTCP is copied.
        let mut r = Repairs::default();
        second(&mut r, &rtc, now, 0, (100, 20), false);
        second(&mut r, &rtc, now, 1, (100, 0), false);
        assert!(r.copies_of(now, &resend, &rtc).is_empty());
        assert!(r.copies_of(now, &rtcp, &rtc).len() == 2);
        // A receiver report alone is about what we send.
        let mut r = Repairs::default();
        r.report(now, 0.2);
        assert!(r.copying_resends() && !r.copying_rtcp());
        // Too few packets to measure: no verdict.
        let mut quiet = Repairs::default();
        second(&mut quiet, &rtc, now, 0, (5, 5), false);
        second(&mut quiet, &rtc, now, 1, (5, 5), false);
        assert!(!quiet.copying_rtcp());
    }

    #[test]
    fn while_held_no_more_resends_go_out_than_video() {
        let (rtc, now) = (rtc(), Instant::now());
        let (video, resend) = (rtp(video_pt(&rtc), 1), rtp(rtx_pt(&rtc), 2));
        let sent = |r: &mut Repairs, d: &[u8], n: usize| {
            (0..n)
                .filter(|_| r.to_send(now, &transmit(d.to_vec()), &rtc).is_some())
                .count()
        };
        let mut r = Repairs::default();
        r.cap_held_resends();
        r.hold_resends(true);
        assert_eq!(sent(&mut r, &video, 30), 30, "video always goes");
        assert_eq!(sent(&mut r, &resend, 50), 30, "as many resends as video");
        assert_eq!(sent(&mut r, &video, 5), 5);
        assert_eq!(sent(&mut r, &resend, 10), 5);
        r.hold_resends(false);
        assert_eq!(sent(&mut r, &resend, 10), 10, "not held: all go");
        let mut server = Repairs::default();
        server.hold_resends(true);
        assert_eq!(sent(&mut server, &resend, 50), 50, "not capped: all go");
        // A new round starts afresh (at least a few resends before any video).
        let mut r2 = Repairs::default();
        r2.cap_held_resends();
        r2.hold_resends(true);
        assert_eq!(sent(&mut r2, &resend, 20), MIN_PACKETS as usize);
    }

    #[test]
    fn a_sender_whose_rate_is_being_cut_holds_its_resends() {
        let (rtc, now) = (rtc(), Instant::now());
        let mut r = lossy(now, &rtc);
        let resend = transmit(rtp(rtx_pt(&rtc), 1));
        let rtcp = transmit(rtp(201, 2));
        r.hold_resends(true);
        assert!(r.copies_of(now, &resend, &rtc).is_empty());
        assert!(
            r.copies_of(now, &rtcp, &rtc).len() == 2,
            "NACKs are still copied"
        );
        r.hold_resends(false);
        assert!(r.copies_of(now, &resend, &rtc).len() == 2);
    }

    #[test]
    fn a_clean_link_copies_nothing() {
        let (rtc, now) = (rtc(), Instant::now());
        let mut r = Repairs::default();
        r.report(now, 0.01);
        second(&mut r, &rtc, now, 0, (100, 1), false);
        second(&mut r, &rtc, now, 1, (100, 1), false);
        assert!(
            r.copies_of(now, &transmit(rtp(rtx_pt(&rtc), 1)), &rtc)
                .is_empty()
        );
        assert!(r.copies_of(now, &transmit(rtp(201, 2)), &rtc).is_empty());
    }

    #[test]
    fn copying_stops_once_the_loss_has_faded() {
        let now = Instant::now();
        let mut r = Repairs::default();
        r.report(now, 0.2);
        // A clean report a second later: the estimate fades, copying goes on.
        r.report(now + Duration::from_secs(1), 0.0);
        assert!(r.copying_resends());
        // 0.2 × 0.85^10 ≈ 0.039: still above the 2 % where copying stops.
        r.report(now + Duration::from_secs(10), 0.0);
        assert!(r.copying_resends(), "hysteresis between 2 % and 5 %");
        r.report(now + Duration::from_secs(15), 0.0);
        assert!(!r.copying_resends());
    }

    /// `n` reports on audio, a second apart from `start`, from a link losing `link` (a packet
    /// is reported lost if all its transmissions were), with round trips from `rtt` (report
    /// index -> round trip).
    fn audio_reports(
        r: &mut Repairs,
        start: Instant,
        n: u32,
        link: f32,
        rtt: impl Fn(u32) -> Option<Duration>,
    ) {
        for i in 0..n {
            let reported = link.powi(r.audio_copies() as i32 + 1);
            r.report_audio(start + Duration::from_secs(u64::from(i)), reported, rtt(i));
        }
    }

    #[test]
    fn audio_goes_out_two_or_three_times_on_a_very_lossy_steady_link() {
        let (rtc, now) = (rtc(), Instant::now());
        let opus = rtc
            .codec_config()
            .params()
            .iter()
            .find(|p| p.spec().codec.is_audio())
            .map(|p| *p.pt())
            .expect("Opus");
        let audio = transmit(rtp(opus, 1));
        let steady = |_| Some(Duration::from_millis(40));
        // 30 %: RED is enough.
        let mut r = Repairs::default();
        audio_reports(&mut r, now, 5, 0.3, steady);
        assert!(r.copies_of(now, &audio, &rtc).is_empty());
        // 70 %: three times. The reports then say 34 % (a packet is lost only if all three
        // are), which is still the same link: three times it stays.
        let mut r = Repairs::default();
        audio_reports(&mut r, now, 15, 0.7, steady);
        assert_eq!(r.copies_of(now, &audio, &rtc).len(), 2);
        // 55 %: twice.
        let mut r = Repairs::default();
        audio_reports(&mut r, now, 5, 0.55, steady);
        assert_eq!(r.audio_copies(), 1);
        // The link recovers: once again.
        audio_reports(&mut r, now + Duration::from_secs(5), 20, 0.0, steady);
        assert_eq!(r.audio_copies(), 0);
        // Held while our own video overfills the link.
        let mut r = Repairs::default();
        audio_reports(&mut r, now, 5, 0.7, steady);
        r.hold_audio(true);
        assert!(r.copies_of(now, &audio, &rtc).is_empty());
        // Without any round trip (our reports do not get through either): copies. With
        // one or two, not yet.
        let mut r = Repairs::default();
        audio_reports(&mut r, now, 3, 0.7, |_| None);
        assert_eq!(r.audio_copies(), 2);
        let mut r = Repairs::default();
        audio_reports(&mut r, now, 2, 0.7, steady);
        assert_eq!(r.audio_copies(), 0);
    }

    #[test]
    fn on_a_jittery_link_audio_goes_out_once_whatever_the_reports_say() {
        // 0–1000 ms of jitter: a packet RED rebuilt before its original arrived counts as
        // lost, and reports say 60 % on a link that loses nothing.
        let now = Instant::now();
        let jittery = |i: u32| {
            Some(Duration::from_millis(
                [100, 900, 400, 1200, 250][i as usize % 5],
            ))
        };
        let mut r = Repairs::default();
        for i in 0..10 {
            r.report_audio(now + Duration::from_secs(i), 0.6, jittery(i as u32));
            assert_eq!(r.audio_copies(), 0, "after {} reports", i + 1);
        }
    }

    /// `n` seconds of `uplink_loss` measures of `scattered` loss, read the way
    /// the engine reads them (the root of what both copies lost).
    fn video_measures(r: &mut Repairs, n: u32, scattered: f32) {
        for _ in 0..n {
            r.judge_video(r.video_link_loss(scattered));
        }
    }

    #[test]
    fn video_goes_out_twice_after_three_seconds_of_random_loss() {
        let (rtc, now) = (rtc(), Instant::now());
        let media = transmit(rtp(video_pt(&rtc), 1));
        let mut r = Repairs::default();
        video_measures(&mut r, 2, 0.16);
        assert!(
            r.copies_of(now, &media, &rtc).is_empty(),
            "two seconds say little"
        );
        video_measures(&mut r, 1, 0.16);
        assert_eq!(r.copies_of(now, &media, &rtc).len(), 1);
        assert_eq!(r.video_transmissions(), 2);
        // Twice, the server sees 0.16² lost: still the same link, copying goes on.
        video_measures(&mut r, 20, 0.16 * 0.16);
        assert!(r.copying_video());
        // Reports on video are read back the same way: 4 % is a link losing 20 %.
        r.report(now, 0.04);
        assert!(
            (r.outgoing.value - 0.2).abs() < 0.01,
            "{}",
            r.outgoing.value
        );
        // Seconds that find none lost twice are what 20 % loss often gives: copying goes
        // on through them.
        for i in 0..30 {
            let lost_twice = if i % 3 == 2 { 0.16 * 0.16 } else { 0.0 };
            video_measures(&mut r, 1, lost_twice);
            assert!(r.copying_video(), "second {i}");
        }
        // The link recovers: once ten seconds read back below 5 %, copying stops.
        video_measures(&mut r, 9, 0.0);
        assert!(r.copying_video());
        video_measures(&mut r, 1, 0.0);
        assert!(!r.copying_video());
        // 5 % is not enough to start.
        let mut r = Repairs::default();
        video_measures(&mut r, 10, 0.05);
        assert!(!r.copying_video());
    }

    #[test]
    fn video_is_not_copied_while_its_link_may_be_full() {
        let (rtc, now) = (rtc(), Instant::now());
        let media = transmit(rtp(video_pt(&rtc), 1));
        let mut r = Repairs::default();
        video_measures(&mut r, 5, 0.3);
        assert!(r.copying_video());
        // A cut for congestion (or a queue): copies stop at once, and what was measured
        // before does not count afterwards.
        r.hold_video(true);
        assert!(r.copies_of(now, &media, &rtc).is_empty());
        video_measures(&mut r, 5, 0.3);
        assert!(!r.copying_video(), "held: measures do not count");
        r.hold_video(false);
        video_measures(&mut r, 2, 0.3);
        assert!(!r.copying_video(), "three new measures are needed");
        r.judge_video(0.0);
        assert!(!r.copying_video());
        video_measures(&mut r, 1, 0.3);
        assert!(r.copying_video());
        // Loss that comes and goes (a rate probing past a cap now and then: two seconds in
        // four) never starts it.
        let mut r = Repairs::default();
        for i in 0..30 {
            let loss = if i % 4 < 2 { 0.4 } else { 0.0 };
            r.judge_video(loss);
        }
        assert!(!r.copying_video());
        // A radio's runs: most seconds lose a tenth or more, not all. They start it.
        for loss in [0.18, 0.04, 0.3, 0.0, 0.21, 0.15] {
            r.judge_video(loss);
        }
        assert!(r.copying_video());
    }

    #[test]
    fn a_sender_that_copies_its_video_gets_our_rtcp_twice_and_its_parities() {
        let (rtc, now) = (rtc(), Instant::now());
        let report = transmit(rtp(201, 1));
        let mut r = Repairs::default();
        assert!(r.copies_of(now, &report, &rtc).is_empty());
        // Video comes twice: the other end sees its link lose, and our NACKs cross it. Its
        // parities repair most of the loss, so our resend count could not tell.
        let media = rtp(video_pt(&rtc), 9);
        assert_eq!(r.receive(now, &media, &rtc), Received::Video);
        assert_eq!(r.receive(now, &media, &rtc), Received::Copy);
        assert_eq!(r.copies_of(now, &report, &rtc).len(), 1);
        // Our own video, copied, carries parities where the other end rebuilds from them: of
        // packets 0–3, and of 2–5.
        let mut r = Repairs::default();
        r.send_parity(true);
        video_measures(&mut r, 3, 0.2);
        let parities: Vec<Vec<u8>> = (0..6u32)
            .flat_map(|i| {
                let mut d = rtp(video_pt(&rtc), i);
                d[2..4].copy_from_slice(&(i as u16).to_be_bytes());
                r.copies_of(now, &transmit(d), &rtc)
            })
            .map(|t| t.contents.to_vec())
            .filter(|d| crate::parity::is_parity(d))
            .collect();
        assert_eq!(parities.len(), 2);
        // Not where it does not.
        r.send_parity(false);
        let sent =
            (0..8u32).flat_map(|i| r.copies_of(now, &transmit(rtp(video_pt(&rtc), i)), &rtc));
        assert_eq!(sent.count(), 8, "copies only");
    }

    #[test]
    fn requests_go_again_spread_over_300_ms_and_resends_do_not() {
        let (rtc, now) = (rtc(), Instant::now());
        let ms = Duration::from_millis;
        // The other end copies its video: our RTCP is copied, and a NACK (RTPFB, FMT 1)
        // goes again every 25 ms for 300 ms; a report or transport feedback does not.
        let mut r = Repairs::default();
        let media = rtp(video_pt(&rtc), 9);
        r.receive(now, &media, &rtc);
        r.receive(now, &media, &rtc);
        let mut nack = rtp(205, 1);
        nack[0] = 0x81;
        assert_eq!(r.copies_of(now, &transmit(nack.clone()), &rtc).len(), 1);
        assert_eq!(r.copies_of(now, &transmit(rtp(201, 2)), &rtc).len(), 1);
        let mut twcc = rtp(205, 3);
        twcc[0] = 0x8F;
        assert_eq!(r.copies_of(now, &transmit(twcc), &rtc).len(), 1);
        assert_eq!(r.next_copy_due(), Some(now + ms(25)));
        let due: Vec<usize> = (1..=13)
            .map(|i| r.due_copies(now + ms(25 * i)).len())
            .collect();
        assert_eq!(due, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
        // So does a keyframe request (PSFB, PLI).
        let mut pli = rtp(206, 4);
        pli[0] = 0x81;
        r.copies_of(now, &transmit(pli.clone()), &rtc);
        assert!(
            r.due_copies(now + ms(400))
                .iter()
                .all(|t| *t.contents == pli)
        );
        // We copy our video: our resends go out twice, even with few resends to measure the
        // loss by, never three times (the asks do more), and not again later.
        let mut r = Repairs::default();
        video_measures(&mut r, 3, 0.2);
        r.outgoing.measure(now, 0.3);
        let resend = transmit(rtp(rtx_pt(&rtc), 5));
        assert_eq!(r.copies_of(now, &resend, &rtc).len(), 1);
        assert_eq!(r.next_copy_due(), None);
    }

    #[test]
    fn a_sender_copying_its_video_answers_asks_for_it_twice() {
        let (rtc, now) = (rtc(), Instant::now());
        let (local, peer) = ("10.0.0.1:1".parse().unwrap(), "10.0.0.2:2".parse().unwrap());
        let mut media = rtp(video_pt(&rtc), 1);
        media[2..4].copy_from_slice(&7u16.to_be_bytes());
        media[8..12].copy_from_slice(&5u32.to_be_bytes());
        let ask = [crate::fetch::ASK, 1, 0, 0, 0, 5, 0, 7, 1];
        let mut r = Repairs::default();
        r.send_parity(true);
        r.copies_of(now, &transmit(media.clone()), &rtc);
        assert!(
            r.answer(now, &ask, local, peer).is_empty(),
            "not copying: not kept"
        );
        video_measures(&mut r, 3, 0.2);
        r.copies_of(now, &transmit(media.clone()), &rtc);
        let answers = r.answer(now, &ask, local, peer);
        assert_eq!(answers.len(), 2);
        for a in answers {
            assert_eq!(a.destination, peer);
            assert_eq!(crate::fetch::answered(&a.contents), Some(&media[..]));
        }
    }

    #[test]
    fn a_receiver_drops_copies_it_already_had() {
        let (rtc, now) = (rtc(), Instant::now());
        let mut r = Repairs::default();
        let first = rtp(201, 1);
        let other = rtp(201, 2);
        assert!(!r.is_copy(now, &first, &rtc));
        assert!(!r.is_copy(now, &other, &rtc));
        assert!(r.is_copy(now, &first, &rtc), "the copy of a report");
        let resend = rtp(rtx_pt(&rtc), 3);
        assert!(!r.is_copy(now, &resend, &rtc));
        assert!(r.is_copy(now, &resend, &rtc), "the copy of a resend");
        let media = rtp(video_pt(&rtc), 4);
        assert_eq!(r.receive(now, &media, &rtc), Received::Video);
        assert!(r.is_copy(now, &media, &rtc), "the copy of a video packet");
        // Anything else (STUN, DTLS) is left to str0m.
        assert!(!r.is_copy(now, &[0; 40], &rtc));
        assert!(!r.is_copy(now, &[0; 40], &rtc));
        // Memory is bounded: after enough other repairs the first is forgotten.
        for i in 0..REMEMBERED as u32 {
            assert!(!r.is_copy(now, &rtp(201, 100 + i), &rtc));
        }
        assert!(!r.is_copy(now, &first, &rtc));
    }
}
