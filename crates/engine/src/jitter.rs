//! Adaptive audio jitter buffer, sans-IO: packets go in with their arrival time, and the
//! playout clock takes one 20 ms frame out per tick. No clock, no threads: time is always a
//! parameter, so tests replay any network in microseconds.
//!
//! The target delay follows the measured arrival jitter (the spread of packets' arrival
//! times relative to their timestamps over the last few seconds): it grows at once when the
//! network gets worse and shrinks slowly, by dropping a frame at most every half second,
//! when it calms down. A missing frame is reported as `Lost` with the next packet when it is
//! already here, so the decoder can rebuild it from Opus in-band FEC.

use std::collections::{BTreeMap, VecDeque};

#[derive(Debug, Clone, Copy)]
pub struct JitterConfig {
    pub min_delay_ms: u32,
    pub max_delay_ms: u32,
    pub frame_ms: u32,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            min_delay_ms: 20,
            max_delay_ms: 1000,
            frame_ms: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    Packet(Vec<u8>),
    /// The frame due now is missing; `next` is the following packet if it is already here.
    Lost {
        next: Option<Vec<u8>>,
    },
    /// Nothing to play: before the first packet, or after a long silence (DTX).
    Empty,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct JitterStats {
    pub target_delay_ms: f64,
    pub current_delay_ms: f64,
    pub jitter_ms: f64,
    pub played: u64,
    pub lost: u64,
    pub late: u64,
    pub duplicates: u64,
    /// Frames dropped to bring the delay down.
    pub accelerated: u64,
}

/// How long arrival history is kept for the jitter estimate.
const WINDOW_US: u64 = 4_000_000;
/// Silence after which playout stops and re-anchors on the next packet.
const SILENCE_US: u64 = 100_000;
const SHRINK_EVERY_US: u64 = 500_000;

pub struct AudioJitterBuffer {
    cfg: JitterConfig,
    samples_per_frame: i64,
    /// RTP timestamp and arrival of the first packet: index 0.
    anchor: Option<(u64, u64)>,
    packets: BTreeMap<i64, Vec<u8>>,
    /// Index of the next frame to play, once playing.
    next: Option<i64>,
    /// (arrival, arrival minus expected arrival in µs) of recent packets.
    delays: VecDeque<(u64, i64)>,
    target_us: u64,
    last_packet_us: u64,
    last_shrink_us: u64,
    stats: JitterStats,
}

impl AudioJitterBuffer {
    pub fn new(cfg: JitterConfig) -> Self {
        Self {
            cfg,
            samples_per_frame: i64::from(cfg.frame_ms) * 48,
            anchor: None,
            packets: BTreeMap::new(),
            next: None,
            delays: VecDeque::new(),
            target_us: u64::from(cfg.min_delay_ms) * 1000,
            last_packet_us: 0,
            last_shrink_us: 0,
            stats: JitterStats::default(),
        }
    }

    fn frame_us(&self) -> u64 {
        u64::from(self.cfg.frame_ms) * 1000
    }

    /// `rtp_ts` is the extended RTP timestamp (48 kHz); one packet is one frame.
    pub fn push(&mut self, now_us: u64, rtp_ts: u64, payload: Vec<u8>) {
        let (ts0, t0) = *self.anchor.get_or_insert((rtp_ts, now_us));
        let offset = rtp_ts as i64 - ts0 as i64;
        let index = (offset + self.samples_per_frame / 2).div_euclid(self.samples_per_frame);
        self.last_packet_us = now_us;

        // Arrival relative to when the timestamp says it should arrive.
        let expected = t0 as i64 + offset * 1000 / 48;
        self.delays.push_back((now_us, now_us as i64 - expected));
        while self
            .delays
            .front()
            .is_some_and(|(t, _)| now_us.saturating_sub(*t) > WINDOW_US)
        {
            self.delays.pop_front();
        }
        self.adapt();

        if self.next.is_some_and(|n| index < n) {
            self.stats.late += 1;
            return;
        }
        if self.packets.contains_key(&index) {
            self.stats.duplicates += 1;
            return;
        }
        self.packets.insert(index, payload);
        // Never hold more than the maximum delay.
        let max_frames = i64::from(self.cfg.max_delay_ms / self.cfg.frame_ms).max(1);
        while let (Some((&first, _)), Some((&last, _))) = (
            self.packets.first_key_value(),
            self.packets.last_key_value(),
        ) {
            if last - first < max_frames {
                break;
            }
            self.packets.remove(&first);
            self.stats.late += 1;
            if let Some(n) = self.next.as_mut() {
                *n = (*n).max(first + 1);
            }
        }
    }

    /// Target = the spread of recent relative delays (95th percentile above the minimum)
    /// plus one frame, clamped to the configured range.
    fn adapt(&mut self) {
        let mut d: Vec<i64> = self.delays.iter().map(|(_, d)| *d).collect();
        d.sort_unstable();
        let (Some(min), Some(_)) = (d.first().copied(), d.last()) else {
            return;
        };
        let p95 = d[((d.len() - 1) * 95) / 100];
        let jitter = (p95 - min).max(0) as u64;
        self.stats.jitter_ms = jitter as f64 / 1000.0;
        let want = (jitter + self.frame_us()).clamp(
            u64::from(self.cfg.min_delay_ms) * 1000,
            u64::from(self.cfg.max_delay_ms) * 1000,
        );
        self.target_us = want;
    }

    fn buffered_us(&self) -> u64 {
        match (self.next, self.packets.last_key_value()) {
            (Some(n), Some((&last, _))) if last >= n => (last - n + 1) as u64 * self.frame_us(),
            (None, Some(_)) => {
                let (first, last) = (
                    self.packets.first_key_value(),
                    self.packets.last_key_value(),
                );
                match (first, last) {
                    (Some((&f, _)), Some((&l, _))) => (l - f + 1) as u64 * self.frame_us(),
                    _ => 0,
                }
            }
            _ => 0,
        }
    }

    /// The frame to play now. Call once per frame period.
    pub fn pop(&mut self, now_us: u64) -> Playout {
        let out = self.pop_inner(now_us);
        self.stats.current_delay_ms = self.buffered_us() as f64 / 1000.0;
        self.stats.target_delay_ms = self.target_us as f64 / 1000.0;
        out
    }

    fn pop_inner(&mut self, now_us: u64) -> Playout {
        let Some(next) = self.next else {
            // Start once the oldest packet has waited the target delay.
            let Some((&first, _)) = self.packets.first_key_value() else {
                return Playout::Empty;
            };
            let newest_age = now_us.saturating_sub(self.last_packet_us);
            let buffered = self.buffered_us() + newest_age;
            if buffered < self.target_us {
                return Playout::Empty;
            }
            self.next = Some(first);
            return self.pop_inner(now_us);
        };

        if let Some(p) = self.packets.remove(&next) {
            self.next = Some(next + 1);
            self.stats.played += 1;
            self.maybe_shrink(now_us);
            return Playout::Packet(p);
        }
        if self.packets.range(next..).next().is_some() {
            // A hole with packets after it: this frame is lost.
            self.next = Some(next + 1);
            self.stats.lost += 1;
            return Playout::Lost {
                next: self.packets.get(&(next + 1)).cloned(),
            };
        }
        // Nothing buffered. A short underrun is concealed without consuming the timeline
        // (the delay grows); a long one is silence: stop and re-anchor on the next packet.
        if now_us.saturating_sub(self.last_packet_us) > SILENCE_US {
            self.next = None;
            self.anchor = None;
            self.delays.clear();
            return Playout::Empty;
        }
        self.stats.lost += 1;
        Playout::Lost { next: None }
    }

    fn maybe_shrink(&mut self, now_us: u64) {
        let excess = self.buffered_us().saturating_sub(self.target_us);
        if excess >= 2 * self.frame_us()
            && now_us.saturating_sub(self.last_shrink_us) >= SHRINK_EVERY_US
            && let Some(n) = self.next
            && self.packets.remove(&n).is_some()
        {
            self.next = Some(n + 1);
            self.stats.accelerated += 1;
            self.last_shrink_us = now_us;
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: u64 = 20_000;

    fn pkt(i: u64) -> Vec<u8> {
        i.to_le_bytes().to_vec()
    }

    fn id(p: &[u8]) -> u64 {
        u64::from_le_bytes(p.try_into().expect("8 bytes"))
    }

    /// Plays `n` ticks starting at `t0`, one every 20 ms; packets arrive per `arrivals`
    /// (index, arrival µs). Returns what was played.
    fn simulate(arrivals: &[(u64, u64)], t0: u64, ticks: u64) -> (Vec<Playout>, AudioJitterBuffer) {
        let mut jb = AudioJitterBuffer::new(JitterConfig::default());
        let mut pending: Vec<(u64, u64)> = arrivals.to_vec();
        pending.sort_by_key(|(_, t)| *t);
        let mut out = Vec::new();
        let mut k = 0;
        for tick in 0..ticks {
            let now = t0 + tick * F;
            while k < pending.len() && pending[k].1 <= now {
                let (i, t) = pending[k];
                jb.push(t, 1_000_000 + i * 960, pkt(i));
                k += 1;
            }
            out.push(jb.pop(now));
        }
        (out, jb)
    }

    fn played(out: &[Playout]) -> Vec<u64> {
        out.iter()
            .filter_map(|p| {
                if let Playout::Packet(p) = p {
                    Some(id(p))
                } else {
                    None
                }
            })
            .collect()
    }

    #[test]
    fn in_order_stream_plays_every_frame_in_order() {
        let arrivals: Vec<_> = (0..100).map(|i| (i, i * F + 5_000)).collect();
        let (out, jb) = simulate(&arrivals, 0, 101);
        assert_eq!(played(&out), (0..100).collect::<Vec<_>>());
        assert_eq!(jb.stats().lost, 0);
        assert!(jb.stats().target_delay_ms <= 40.0, "{:?}", jb.stats());
    }

    #[test]
    fn reordering_and_duplicates_are_absorbed() {
        let mut arrivals: Vec<_> = (0..60).map(|i| (i, i * F + 5_000)).collect();
        arrivals.swap(10, 11);
        arrivals[10].1 = 11 * F + 5_000;
        arrivals[11].1 = 11 * F + 6_000;
        arrivals.push((20, 20 * F + 7_000));
        let (out, jb) = simulate(&arrivals, 0, 70);
        assert_eq!(played(&out), (0..60).collect::<Vec<_>>());
        assert_eq!(jb.stats().duplicates, 1);
    }

    #[test]
    fn a_lost_packet_is_reported_with_the_next_one_for_fec() {
        let arrivals: Vec<_> = (0..40)
            .filter(|i| *i != 15)
            .map(|i| (i, i * F + 5_000))
            .collect();
        let (out, jb) = simulate(&arrivals, 0, 42);
        // 16 arrives just after 15 was due: one concealed frame while waiting, then 15 is
        // declared lost with 16 at hand for FEC, and playout goes on without a gap.
        let lost_at = out
            .iter()
            .position(|p| matches!(p, Playout::Lost { next: Some(_) }))
            .expect("a loss");
        assert_eq!(
            out[lost_at],
            Playout::Lost {
                next: Some(pkt(16))
            }
        );
        assert_eq!(played(&out[..lost_at]).last(), Some(&14));
        assert_eq!(
            played(&out),
            (0..40).filter(|i| *i != 15).collect::<Vec<_>>()
        );
        assert!(jb.stats().lost <= 2, "{:?}", jb.stats());
    }

    #[test]
    fn target_grows_under_jitter_and_shrinks_after_calm() {
        // 3 s with up to 120 ms of jitter, then 8 s of a calm network.
        let mut arrivals = Vec::new();
        let mut seed = 7u64;
        for i in 0..150u64 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            arrivals.push((i, i * F + (seed >> 33) % 120_000));
        }
        for i in 150..550u64 {
            arrivals.push((i, i * F + 5_000));
        }
        let mut jb = AudioJitterBuffer::new(JitterConfig::default());
        let mut pending = arrivals.clone();
        pending.sort_by_key(|(_, t)| *t);
        let (mut k, mut max_target, mut lost_late_phase) = (0, 0.0f64, 0);
        for tick in 0..600u64 {
            let now = tick * F;
            while k < pending.len() && pending[k].1 <= now {
                jb.push(
                    pending[k].1,
                    1_000_000 + pending[k].0 * 960,
                    pkt(pending[k].0),
                );
                k += 1;
            }
            let p = jb.pop(now);
            if (200..545).contains(&tick) && matches!(p, Playout::Lost { .. }) {
                lost_late_phase += 1;
            }
            max_target = max_target.max(jb.stats().target_delay_ms);
        }
        assert!(max_target >= 100.0, "target never rose: {max_target}");
        let s = jb.stats();
        assert!(
            s.target_delay_ms <= 40.0,
            "target did not come back down: {s:?}"
        );
        assert!(s.current_delay_ms <= 80.0, "buffer did not drain: {s:?}");
        assert!(s.accelerated > 0);
        assert_eq!(lost_late_phase, 0);
    }

    #[test]
    fn silence_re_anchors_instead_of_counting_losses() {
        // 1 s of talk, 2 s of DTX silence, 1 s of talk.
        let mut arrivals: Vec<_> = (0..50).map(|i| (i, i * F + 5_000)).collect();
        arrivals.extend((150..200).map(|i| (i, i * F + 5_000)));
        let (out, jb) = simulate(&arrivals, 0, 210);
        assert_eq!(played(&out), (0..50).chain(150..200).collect::<Vec<_>>());
        // A few frames are concealed before the silence is recognised (100 ms), not 100.
        assert!(
            jb.stats().lost <= 12,
            "silence counted as loss: {:?}",
            jb.stats()
        );
        assert!(out.iter().filter(|p| **p == Playout::Empty).count() > 80);
    }

    #[test]
    fn late_packets_are_dropped() {
        let mut arrivals: Vec<_> = (0..40)
            .filter(|i| *i != 10)
            .map(|i| (i, i * F + 5_000))
            .collect();
        arrivals.push((10, 30 * F));
        let (out, jb) = simulate(&arrivals, 0, 50);
        assert!(!played(&out).contains(&10));
        assert_eq!(jb.stats().late, 1);
    }
}
