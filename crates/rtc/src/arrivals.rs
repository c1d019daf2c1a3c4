//! What share of a sender's video never arrived, as the receiver sees it. A sender cannot
//! tell that itself on a jittery link: receiver reports count a packet lost while it is only
//! late, and count it received once a resend brings it back (at 20 % loss they read 1–2 %);
//! the NACKs for late packets make it resend 39 % of its video on a link that loses nothing.
//! The receiver sees every packet that arrives, however late: a sequence number that has
//! not come by the time [`WINDOW`] newer ones have is lost. Only first transmissions count
//! (resends travel on their own SSRC), so this is the link's loss.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A packet not in by the time this many newer ones are is lost (some 4 s of video at
/// 500 kbit/s, over a second at 2 Mbit/s: longer than a jittery link holds one back).
const WINDOW: u64 = 512;

/// The most SSRCs counted (a camera's two layers and a screen share, with room to spare).
const MAX_STREAMS: usize = 8;

/// One SSRC's packets within the window.
#[derive(Debug, Clone)]
struct Stream {
    /// The first extended sequence number seen (none before it was sent).
    first: u64,
    /// The highest extended sequence number seen.
    highest: u64,
    /// Which of the last [`WINDOW`] sequence numbers came (bit `seq % WINDOW`).
    seen: [u64; (WINDOW / 64) as usize],
    /// Whether the last number to leave the window had come.
    last_came: bool,
}

/// What happened to the packets that left the window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Settled {
    arrived: u64,
    lost: u64,
    /// Lost where the packet before had come: loss a copy sent right after could repair.
    scattered: u64,
}

impl Stream {
    fn new(seq: u64) -> Self {
        let mut s = Stream {
            first: seq,
            highest: seq,
            seen: [0; (WINDOW / 64) as usize],
            last_came: true,
        };
        s.mark(seq);
        s
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

    /// `seq` arrived; returns what happened to the packets that left the window.
    fn arrive(&mut self, seq: u16) -> Settled {
        let seq = self.extend(seq);
        let mut settled = Settled::default();
        if seq + WINDOW <= self.highest || seq < self.first {
            // Later than the window: already counted lost.
            return settled;
        }
        if seq > self.highest {
            if seq - self.highest >= WINDOW {
                // A new stream, or so long a gap that it says nothing about loss.
                *self = Stream::new(seq);
                return settled;
            }
            // Every number that leaves the window is settled: it came or it is lost.
            for s in self.highest + 1..=seq {
                let leaving = s - WINDOW;
                if leaving >= self.first {
                    let came = self.has(leaving);
                    if came {
                        settled.arrived += 1;
                    } else {
                        settled.lost += 1;
                        settled.scattered += u64::from(self.last_came);
                    }
                    self.last_came = came;
                }
                let (word, bit) = Self::bit(s);
                self.seen[word] &= !bit;
            }
            self.highest = seq;
        }
        self.mark(seq);
        settled
    }
}

/// Counts first transmissions of video that arrive and that never do, per SSRC.
#[derive(Debug, Clone, Default)]
pub struct Arrivals {
    streams: HashMap<u32, Stream>,
    settled: Settled,
}

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
}

impl Loss {
    /// A loss as the other end reports it, made safe to compute with (see
    /// [`crate::loss_fraction`]; `scattered` is part of `lost`).
    pub fn reported(lost: f32, scattered: f32) -> Self {
        let lost = crate::loss_fraction(lost);
        Loss {
            lost,
            scattered: crate::loss_fraction(scattered).min(lost),
        }
    }
}

impl Arrivals {
    /// An RTP packet of video (not a resend) with this SSRC and sequence number arrived.
    pub fn arrive(&mut self, ssrc: u32, seq: u16) {
        let full = self.streams.len() >= MAX_STREAMS;
        match self.streams.get_mut(&ssrc) {
            Some(s) => {
                let n = s.arrive(seq);
                self.settled.arrived += n.arrived;
                self.settled.lost += n.lost;
                self.settled.scattered += n.scattered;
            }
            // Packets are counted before SRTP checks them: forged ones must not grow this.
            None if full => {}
            None => {
                // Numbered from one cycle up, so that earlier ones (late) still extend.
                self.streams
                    .insert(ssrc, Stream::new(u64::from(seq) + 0x1_0000));
            }
        }
    }

    /// An RTP datagram of video (not a resend: see [`crate::repair::Received::Video`])
    /// arrived.
    pub fn arrive_datagram(&mut self, d: &[u8]) {
        if d.len() >= 12 {
            let seq = u16::from_be_bytes([d[2], d[3]]);
            let ssrc = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
            self.arrive(ssrc, seq);
        }
    }

    /// The loss among the packets settled since the last call, if at least `min` were.
    pub fn take_loss(&mut self, min: u64) -> Option<Loss> {
        let Settled {
            arrived,
            lost,
            scattered,
        } = self.settled;
        let all = arrived + lost;
        if all < min.max(1) {
            return None;
        }
        self.settled = Settled::default();
        Some(Loss {
            lost: lost as f32 / all as f32,
            scattered: scattered as f32 / all as f32,
        })
    }
}

/// How often the receiving end tells what the link lost…
const TELL_EVERY: Duration = Duration::from_secs(1);
/// …once this many packets are settled (arrived or lost for good).
const TELL_AFTER: u64 = 20;

/// [`Arrivals`] on one end of a link, told about once a second to the other end (the server
/// tells a publisher its `uplink_loss`, a client tells the server its `downlink_loss`).
#[derive(Debug, Clone, Default)]
pub struct LossTeller {
    arrivals: Arrivals,
    told: Option<Instant>,
}

impl LossTeller {
    /// A datagram (not a copy) came in at `now`: counted if it is `video` (a first
    /// transmission, [`crate::repair::Received::Video`]). What the link lost, when it is
    /// time to tell.
    pub fn arrived(&mut self, now: Instant, datagram: &[u8], video: bool) -> Option<Loss> {
        if video {
            self.arrivals.arrive_datagram(datagram);
        }
        let told = *self.told.get_or_insert(now);
        if now < told + TELL_EVERY {
            return None;
        }
        let loss = self.arrivals.take_loss(TELL_AFTER)?;
        self.told = Some(now);
        Some(loss)
    }
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
        for (_, seq) in arrivals {
            a.arrive(42, seq);
        }
        let loss = a.take_loss(100).expect("enough packets");
        assert!((loss.lost - 0.1).abs() < 0.01, "{loss:?}");
        assert_eq!(loss.scattered, loss.lost, "never two in a row");
        assert_eq!(a.take_loss(1), None, "counted once");
    }

    #[test]
    fn a_clean_stream_across_the_wrap_loses_nothing() {
        let mut a = Arrivals::default();
        for i in 0..3000u32 {
            a.arrive(1, (i + 64000) as u16);
        }
        let loss = a.take_loss(100).expect("enough packets");
        assert_eq!(loss.lost, 0.0);
        // Too few settled since: no verdict.
        a.arrive(1, 3000u16.wrapping_add(64000));
        assert_eq!(a.take_loss(100), None);
    }

    #[test]
    fn a_jump_starts_over_rather_than_counting_a_gap() {
        let mut a = Arrivals::default();
        for i in 0..1000u16 {
            a.arrive(5, i);
        }
        a.take_loss(1);
        // The sender restarted (a new stream on the same SSRC) far ahead.
        for i in 30000..31000u16 {
            a.arrive(5, i);
        }
        assert_eq!(a.take_loss(1).map(|l| l.lost), Some(0.0));
    }

    #[test]
    fn forged_ssrcs_do_not_grow_the_count() {
        let mut a = Arrivals::default();
        for ssrc in 0..10_000 {
            a.arrive(ssrc, 1);
        }
        assert_eq!(a.streams.len(), MAX_STREAMS);
    }

    #[test]
    fn runs_of_loss_are_not_scattered() {
        // A queue overflowing: runs of 10 lost after every 10 that came.
        let mut a = Arrivals::default();
        for i in (0..4000u16).filter(|i| i % 20 < 10) {
            a.arrive(9, i);
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
        // Nothing until 20 packets have 512 newer ones (5.3 s), then once a second.
        let at: Vec<u128> = told.iter().map(|(n, _)| (*n - start).as_millis()).collect();
        assert_eq!(at, [5_310, 6_310, 7_310, 8_310, 9_310]);
        for (_, l) in told {
            assert!(
                (l.lost - 0.1).abs() < 0.02 && l.scattered == l.lost,
                "{l:?}"
            );
        }
    }
}
