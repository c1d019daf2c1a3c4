//! What share of a sender's video never arrived, as the receiver sees it. A sender cannot
//! tell that itself on a jittery link: receiver reports count a packet lost while it is only
//! late, and count it received once a resend brings it back (at 20 % loss they read 1–2 %);
//! the NACKs for late packets make it resend 39 % of its video on a link that loses nothing.
//! The receiver sees every packet that arrives, however late: a sequence number that has
//! not come [`SETTLE_AFTER`] after a newer one did, or by the time [`WINDOW`] newer ones
//! have, is lost. Only first transmissions count (resends travel on their own SSRC), so this
//! is the link's loss.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// A packet not in by the time this many newer ones are is lost (the bound on what is
/// remembered: half a second of video at 10 Mbit/s).
const WINDOW: u64 = 512;

/// A packet not in this long after a newer one is lost: longer than a jittery link holds
/// one back (0–700 ms of jitter puts a packet at most 0.7 s behind a newer one). Counting
/// by packets alone settled a packet only some 20 s later at 250 kbit/s, so the measure told
/// of loss long gone.
const SETTLE_AFTER: Duration = Duration::from_millis(1500);

/// The highest sequence number is noted at most this often, for [`SETTLE_AFTER`].
const NOTE_EVERY: Duration = Duration::from_millis(50);

/// Audio packets lost in a run this long or longer are what a bursty link loses. RED repeats
/// the six frames before each packet (`crate::protect::RED_DISTANCES`), so it brings back the
/// fifth and sixth of a run, 100–120 ms late; but where runs of five come, longer ones come
/// too, and the copies sent later (`crate::spread`) are for those. Counting from the seventh
/// (RED's reach) measured less, copies went on in fewer bursty calls, and speech there
/// scored PESQ-WB 2.75 instead of 3.35 on average (30 simulated calls each).
pub const LONG_RUN: u64 = 5;

/// The most SSRCs counted (a camera's two layers and a screen share, with room to spare).
const MAX_STREAMS: usize = 8;

/// One SSRC's packets within the window.
#[derive(Debug, Clone)]
struct Stream {
    /// The highest extended sequence number seen.
    highest: u64,
    /// Which of the last [`WINDOW`] sequence numbers came (bit `seq % WINDOW`).
    seen: [u64; (WINDOW / 64) as usize],
    /// Every number below this is settled (counted as arrived or lost); it starts at the
    /// first number seen (none before it was sent).
    settled_to: u64,
    /// Whether the last number settled had come…
    last_came: bool,
    /// …and how many in a row before it had not.
    run: u64,
    /// The highest number at a time, oldest first, for settling by time.
    notes: VecDeque<(Instant, u64)>,
}

/// What happened to the packets that left the window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Settled {
    arrived: u64,
    lost: u64,
    /// Lost where the packet before had come: loss a copy sent right after could repair.
    scattered: u64,
    /// Lost as the [`LONG_RUN`]th or later of a run.
    long_runs: u64,
}

impl Stream {
    fn new(now: Instant, seq: u64) -> Self {
        let mut s = Stream {
            highest: seq,
            seen: [0; (WINDOW / 64) as usize],
            settled_to: seq,
            last_came: true,
            run: 0,
            notes: VecDeque::from([(now, seq)]),
        };
        s.mark(seq);
        s
    }

    /// Counts the numbers from `settled_to` up to `to` (not included).
    fn settle(&mut self, to: u64, settled: &mut Settled) {
        for s in self.settled_to..to {
            let came = self.has(s);
            if came {
                settled.arrived += 1;
                self.run = 0;
            } else {
                settled.lost += 1;
                settled.scattered += u64::from(self.last_came);
                self.run += 1;
                settled.long_runs += u64::from(self.run >= LONG_RUN);
            }
            self.last_came = came;
        }
        self.settled_to = self.settled_to.max(to);
    }

    fn bit(seq: u64) -> (usize, u64) {
        let i = seq % WINDOW;
        ((i / 64) as usize, 1 << (i % 64))
    }

    fn mark(&mut self, seq: u64) {
        let (word, bit) = Self::bit(seq);
        self.seen[word] |= bit;
    }

    fn has(&self, seq: u64) -> bool {
        let (word, bit) = Self::bit(seq);
        self.seen[word] & bit != 0
    }

    /// The extended form of a 16-bit sequence number: the one nearest the highest.
    fn extend(&self, seq: u16) -> u64 {
        let base = self.highest & !0xFFFF;
        [base.wrapping_sub(0x1_0000), base, base + 0x1_0000]
            .into_iter()
            .map(|b| b.wrapping_add(u64::from(seq)))
            .filter(|c| *c < u64::MAX / 2)
            .min_by_key(|c| c.abs_diff(self.highest))
            .unwrap_or(u64::from(seq))
    }

    /// `seq` arrived at `now`; returns what happened to the packets settled meanwhile.
    fn arrive(&mut self, now: Instant, seq: u16) -> Settled {
        let seq = self.extend(seq);
        let mut settled = Settled::default();
        if seq > self.highest {
            if seq - self.highest >= WINDOW {
                // A new stream, or so long a gap that it says nothing about loss.
                *self = Stream::new(now, seq);
                return settled;
            }
            // Numbers leaving the window are settled: they came or they are lost.
            self.settle((seq + 1).saturating_sub(WINDOW), &mut settled);
            for s in self.highest + 1..=seq {
                let (word, bit) = Self::bit(s);
                self.seen[word] &= !bit;
            }
            self.highest = seq;
            match self.notes.back_mut() {
                Some((at, high)) if now < *at + NOTE_EVERY => *high = seq,
                _ => self.notes.push_back((now, seq)),
            }
        }
        if seq >= self.settled_to {
            self.mark(seq);
        }
        // Numbers below one that came `SETTLE_AFTER` ago are settled too.
        let mut to = None;
        while let Some(&(at, high)) = self.notes.front()
            && now >= at + SETTLE_AFTER
        {
            to = Some(high);
            self.notes.pop_front();
        }
        if let Some(high) = to {
            self.settle(high, &mut settled);
        }
        settled
    }
}

/// Counts first transmissions of video (or of audio) that arrive and that never do, per SSRC.
#[derive(Debug, Clone, Default)]
pub struct Arrivals {
    streams: HashMap<u32, Stream>,
    settled: Settled,
}

/// Loss is random when this share of it or more was scattered. At 20 % random loss 80 % is,
/// at 40 % 60 %; on a 300 kbit/s link under 600 kbit/s of video, 20–40 % was, and on a link
/// losing 17 % in runs of four about a third.
pub const RANDOM_SHARE: f32 = 0.5;

/// The share of packets lost among those settled over a while.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loss {
    /// All lost.
    pub lost: f32,
    /// Lost where the packet before had come. Random loss is mostly scattered (at 20 %, 16
    /// of the 20 points); a queue overflowing, a burst of interference or a sender that drops
    /// what it cannot send loses runs of packets, which copies sent back to back cannot
    /// repair (both go in the same run).
    pub scattered: f32,
    /// Lost as the [`LONG_RUN`]th or later of a run: for audio, a bursty link's long runs.
    pub long_runs: f32,
}

impl Loss {
    /// A loss as the other end reports it, made safe to compute with (see
    /// [`crate::loss_fraction`]; `scattered` is part of `lost`).
    pub fn reported(lost: f32, scattered: f32) -> Self {
        let lost = crate::loss_fraction(lost);
        Loss {
            lost,
            scattered: crate::loss_fraction(scattered).min(lost),
            long_runs: 0.0,
        }
    }

    /// Whether most of it was scattered (random loss, not runs: see [`RANDOM_SHARE`]).
    pub fn mostly_scattered(&self) -> bool {
        self.scattered >= RANDOM_SHARE * self.lost
    }

    /// What video copies are judged on where the loss is the link's own, not a full
    /// queue's: where most of it is scattered, that share, as back-to-back copies repair
    /// it; where most comes in runs (a radio's bursts), all of it, as the parities and asks
    /// that come with copies repair runs too.
    pub fn own(&self) -> f32 {
        if self.mostly_scattered() {
            self.scattered
        } else {
            self.lost
        }
    }
}

impl Arrivals {
    /// An RTP packet of video (not a resend) with this SSRC and sequence number arrived at
    /// `now`.
    pub fn arrive(&mut self, now: Instant, ssrc: u32, seq: u16) {
        let full = self.streams.len() >= MAX_STREAMS;
        match self.streams.get_mut(&ssrc) {
            Some(s) => {
                let n = s.arrive(now, seq);
                self.settled.arrived += n.arrived;
                self.settled.lost += n.lost;
                self.settled.scattered += n.scattered;
                self.settled.long_runs += n.long_runs;
            }
            // Packets are counted before SRTP checks them: forged ones must not grow this.
            None if full => {}
            None => {
                // Numbered from one cycle up, so that earlier ones (late) still extend.
                self.streams
                    .insert(ssrc, Stream::new(now, u64::from(seq) + 0x1_0000));
            }
        }
    }

    /// An RTP datagram of video (not a resend: see [`crate::repair::Received::Video`])
    /// arrived at `now`.
    pub fn arrive_datagram(&mut self, now: Instant, d: &[u8]) {
        if d.len() >= 12 {
            let seq = u16::from_be_bytes([d[2], d[3]]);
            let ssrc = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
            self.arrive(now, ssrc, seq);
        }
    }

    /// The loss among the packets settled since the last call, if at least `min` were.
    pub fn take_loss(&mut self, min: u64) -> Option<Loss> {
        let Settled {
            arrived,
            lost,
            scattered,
            long_runs,
        } = self.settled;
        let all = arrived + lost;
        if all < min.max(1) {
            return None;
        }
        self.settled = Settled::default();
        Some(Loss {
            lost: lost as f32 / all as f32,
            scattered: scattered as f32 / all as f32,
            long_runs: long_runs as f32 / all as f32,
        })
    }
}

/// How often the receiving end tells what the link lost…
const TELL_EVERY: Duration = Duration::from_secs(1);
/// …once this many packets are settled (arrived or lost for good); for audio, a second's.
const TELL_AFTER: u64 = 20;
const AUDIO_TELL_AFTER: u64 = 50;

/// [`Arrivals`] on one end of a link, told about once a second to the other end (the server
/// tells a publisher its `uplink_loss`, a client tells the server its `downlink_loss`), and
/// the same for audio (`uplink_audio_loss`, `downlink_audio_loss`).
#[derive(Debug, Clone, Default)]
pub struct LossTeller {
    arrivals: Arrivals,
    told: Option<Instant>,
    audio: Arrivals,
    audio_told: Option<Instant>,
}

impl LossTeller {
    /// A datagram of audio (not a copy: [`crate::repair::Received::Audio`]) came in at
    /// `now`. The share of audio lost beyond RED's reach ([`Loss::long_runs`]), when it is
    /// time to tell.
    pub fn arrived_audio(&mut self, now: Instant, datagram: &[u8]) -> Option<f32> {
        self.audio.arrive_datagram(now, datagram);
        let loss = tell(&mut self.audio, &mut self.audio_told, now, AUDIO_TELL_AFTER)?;
        Some(loss.long_runs)
    }

    /// A datagram (not a copy) came in at `now`: counted if it is `video` (a first
    /// transmission, [`crate::repair::Received::Video`]). What the link lost, when it is
    /// time to tell.
    pub fn arrived(&mut self, now: Instant, datagram: &[u8], video: bool) -> Option<Loss> {
        if video {
            self.arrivals.arrive_datagram(now, datagram);
        }
        tell(&mut self.arrivals, &mut self.told, now, TELL_AFTER)
    }
}

/// What `arrivals` settled since it was last `told`, if [`TELL_EVERY`] has passed and at
/// least `min` packets were.
fn tell(
    arrivals: &mut Arrivals,
    told: &mut Option<Instant>,
    now: Instant,
    min: u64,
) -> Option<Loss> {
    let last = *told.get_or_insert(now);
    if now < last + TELL_EVERY {
        return None;
    }
    let loss = arrivals.take_loss(min)?;
    *told = Some(now);
    Some(loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded generator (xorshift): the tests need no dependency.
    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn late_packets_are_not_lost_and_lost_ones_are() {
        // 5000 packets, each delayed by up to 60 packets' time; every tenth never comes.
        let mut next = rng(7);
        let mut arrivals: Vec<(u64, u16)> = (0..5000u64)
            .filter(|i| i % 10 != 3)
            .map(|i| (i * 100 + next() % 6000, (i as u16).wrapping_add(65000)))
            .collect();
        arrivals.sort();
        let mut a = Arrivals::default();
        let start = Instant::now();
        for (at, seq) in arrivals {
            a.arrive(start + Duration::from_micros(at), 42, seq);
        }
        let loss = a.take_loss(100).expect("enough packets");
        assert!((loss.lost - 0.1).abs() < 0.01, "{loss:?}");
        assert_eq!(loss.scattered, loss.lost, "never two in a row");
        assert_eq!(a.take_loss(1), None, "counted once");
    }

    #[test]
    fn runs_of_five_or_more_count_as_long_runs() {
        // Every 50 packets, a run of 7 (3 from its fifth on) and one of 4 (none).
        let (mut a, now) = (Arrivals::default(), Instant::now());
        for i in 0..5000u32 {
            if !(10..17).contains(&(i % 50)) && !(30..34).contains(&(i % 50)) {
                a.arrive(now, 5, i as u16);
            }
        }
        let loss = a.take_loss(100).expect("enough packets");
        assert!((loss.lost - 11.0 / 50.0).abs() < 0.01, "{loss:?}");
        assert!((loss.scattered - 2.0 / 50.0).abs() < 0.01, "{loss:?}");
        assert!((loss.long_runs - 3.0 / 50.0).abs() < 0.005, "{loss:?}");
    }

    #[test]
    fn a_clean_stream_across_the_wrap_loses_nothing() {
        let (mut a, now) = (Arrivals::default(), Instant::now());
        for i in 0..3000u32 {
            a.arrive(now, 1, (i + 64000) as u16);
        }
        let loss = a.take_loss(100).expect("enough packets");
        assert_eq!(loss.lost, 0.0);
        // Too few settled since: no verdict.
        a.arrive(now, 1, 3000u16.wrapping_add(64000));
        assert_eq!(a.take_loss(100), None);
    }

    #[test]
    fn a_jump_starts_over_rather_than_counting_a_gap() {
        let (mut a, now) = (Arrivals::default(), Instant::now());
        for i in 0..1000u16 {
            a.arrive(now, 5, i);
        }
        a.take_loss(1);
        // The sender restarted (a new stream on the same SSRC) far ahead.
        for i in 30000..31000u16 {
            a.arrive(now, 5, i);
        }
        assert_eq!(a.take_loss(1).map(|l| l.lost), Some(0.0));
    }

    #[test]
    fn forged_ssrcs_do_not_grow_the_count() {
        let (mut a, now) = (Arrivals::default(), Instant::now());
        for ssrc in 0..10_000 {
            a.arrive(now, ssrc, 1);
        }
        assert_eq!(a.streams.len(), MAX_STREAMS);
    }

    #[test]
    fn runs_of_loss_are_not_scattered() {
        // A queue overflowing: runs of 10 lost after every 10 that came.
        let (mut a, now) = (Arrivals::default(), Instant::now());
        for i in (0..4000u16).filter(|i| i % 20 < 10) {
            a.arrive(now, 9, i);
        }
        let loss = a.take_loss(100).expect("enough packets");
        assert!((loss.lost - 0.5).abs() < 0.01, "{loss:?}");
        assert!((loss.scattered - 0.05).abs() < 0.01, "{loss:?}");
    }

    /// An RTP header with this SSRC and sequence number, and some payload.
    fn datagram(ssrc: u32, seq: u16) -> Vec<u8> {
        let mut d = vec![0x80, 96];
        d.extend(seq.to_be_bytes());
        d.extend([0; 4]);
        d.extend(ssrc.to_be_bytes());
        d.extend([0; 20]);
        d
    }

    #[test]
    fn a_reported_loss_is_made_safe() {
        let l = Loss::reported(2.0, 3.0);
        assert_eq!((l.lost, l.scattered), (1.0, 1.0));
        let l = Loss::reported(-1.0, 0.5);
        assert_eq!((l.lost, l.scattered), (0.0, 0.0));
        let l = Loss::reported(0.2, f32::NAN);
        assert_eq!((l.lost, l.scattered), (0.2, 0.0));
    }

    #[test]
    fn the_loss_is_told_once_a_second_and_only_for_video() {
        let mut t = LossTeller::default();
        let start = Instant::now();
        let mut told = Vec::new();
        // 100 packets a second for 10 s, every tenth lost; audio and resends in between.
        for i in 0..1000u16 {
            let now = start + Duration::from_millis(u64::from(i) * 10);
            if i % 10 != 3 {
                told.extend(t.arrived(now, &datagram(7, i), true).map(|l| (now, l)));
            }
            assert_eq!(t.arrived(now, &datagram(8, i % 5), false), None);
        }
        // Nothing until 20 packets are 1.5 s behind a newer one (1.7 s), then once a second.
        let at: Vec<u128> = told.iter().map(|(n, _)| (*n - start).as_millis()).collect();
        assert_eq!(
            at,
            [
                1_700, 2_700, 3_700, 4_700, 5_700, 6_700, 7_700, 8_700, 9_700
            ]
        );
        for (_, l) in told {
            assert!(
                (l.lost - 0.1).abs() < 0.03 && l.scattered == l.lost,
                "{l:?}"
            );
        }
    }

    #[test]
    fn on_a_slow_stream_the_loss_is_told_while_it_lasts() {
        // 25 packets a second (250 kbit/s of video): 10 s clean, 10 s losing one in four,
        // 10 s clean; told once a second what was lost in the last.
        let mut t = LossTeller::default();
        let start = Instant::now();
        let mut told = Vec::new();
        for i in 0..750u16 {
            let now = start + Duration::from_millis(u64::from(i) * 40);
            let lossy = (250..500).contains(&i);
            if !(lossy && i % 4 == 0) {
                told.extend(t.arrived(now, &datagram(7, i), true).map(|l| (now, l)));
            }
        }
        let lossy_at = |from: u64, to: u64| {
            told.iter()
                .filter(|(n, _)| (from..to).contains(&(*n - start).as_secs()))
                .all(|(_, l)| l.lost > 0.2)
        };
        let clean_at = |from: u64, to: u64| {
            told.iter()
                .filter(|(n, _)| (from..to).contains(&(*n - start).as_secs()))
                .all(|(_, l)| l.lost == 0.0)
        };
        // Counting by packets alone told of this loss from 30 s on.
        assert!(clean_at(0, 11), "{told:?}");
        assert!(lossy_at(13, 21), "within 3 s of its start: {told:?}");
        assert!(clean_at(23, 30), "gone within 3 s of its end: {told:?}");
        assert!(told.len() >= 25, "{}", told.len());
    }

    #[test]
    fn a_packet_later_than_the_settling_time_stays_lost() {
        let (mut a, start) = (Arrivals::default(), Instant::now());
        let at = |ms: u64| start + Duration::from_millis(ms);
        for i in 0..100u16 {
            if i != 10 {
                a.arrive(at(u64::from(i) * 40), 3, i);
            }
        }
        // Number 10 comes 3.6 s after its turn: settled lost by then, not counted again.
        a.arrive(at(4_000), 3, 10);
        for i in 100..200u16 {
            a.arrive(at(u64::from(i) * 40), 3, i);
        }
        assert_eq!(a.settled.lost, 1, "{:?}", a.settled);
        assert!(a.settled.arrived > 100, "{:?}", a.settled);
    }
}
