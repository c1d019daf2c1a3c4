//! Adaptive audio jitter buffer, sans-IO: the caller passes the time to every call.
//!
//! Packets are keyed by their (unwrapped) RTP timestamp, so reordering is free and a
//! timestamp already buffered or recently played is a duplicate. The playout point is
//! `next_ts`; each [`AudioJitterBuffer::pop`] (one per frame, driven by the caller's
//! playout clock) plays the frame due there, or reports it [`Playout::Lost`] so the decoder
//! can use the following packet's FEC or conceal.
//!
//! *Delay* is measured against the fastest packet seen recently: a packet's relative delay
//! is its transit time (arrival − send time from its timestamp) minus the minimum transit
//! in the window, and the playout delay is how far behind that best case we play. The
//! target delay is the 99.5th percentile of relative delays over the last
//! [`WINDOW_US`] plus a small margin, clamped to `[min_delay_ms, max_delay_ms]`.
//!
//! The buffer grows by inserting a concealed frame without advancing, and shrinks by
//! skipping a frame. Either is a 20 ms splice in what the listener hears, so both wait for a
//! quiet frame (the caller says which frames were, see [`AudioJitterBuffer::set_quiet`]),
//! where a splice is inaudible. Growing waits at most [`GROW_WAIT_US`] (not at all when a
//! whole frame short, or when the frame due is missing anyway). Shrinking starts only once
//! the delay has stayed above the highest target of the last [`SHRINK_MEMORY_US`] for
//! [`SHRINK_AFTER_US`], and skips a sounding frame only after [`SHRINK_WAIT_US`] without a
//! quiet one, at most one every [`DROP_INTERVAL_US`].
//!
//! Underrun: when the frame due is missing and nothing later is buffered, it may only be late
//! (a sender whose clock runs slower than ours, a burst of jitter), so the buffer conceals in
//! its place and keeps waiting for it (`held`). If it comes, it plays; if a later packet comes
//! first, the frames concealed while waiting stood in for the missing ones, and playout goes
//! on past them. Skipping the frame instead would conceal it and then throw it away when it
//! came: a sender 4 % slow cost almost three concealed frames per frame it never made.
//!
//! Silence (Opus DTX, muted sender): once nothing has arrived for [`SILENCE_US`] and the
//! buffer is empty, the buffer returns [`Playout::Empty`] and re-anchors on the next packet,
//! so a long pause is not a long run of losses. Only frames missing while a later packet is
//! already buffered count as lost at once; the rest of a gap counts as silence until the next
//! packet's sequence number says otherwise. A sender that paused (DTX, mute) keeps its
//! sequence numbers contiguous, so sequence numbers skipped across a gap were packets lost on
//! the way: that many frames of the gap (from its start) were loss after all, including those
//! played as silence after the buffer gave up waiting (`gap_lost`). (Frames an SFU never got
//! leave no hole in the numbers it sends on; across a long gap those still read as silence.)

use std::collections::{BTreeMap, VecDeque};

/// Window over which inter-arrival jitter is measured.
pub const WINDOW_US: u64 = 5_000_000;
/// No arrivals for this long with an empty buffer means silence, not loss.
pub const SILENCE_US: u64 = 200_000;
/// Shrinking skips at most one sounding frame this often (quiet ones may go back to back).
pub const DROP_INTERVAL_US: u64 = 500_000;
/// Growing by less than a frame waits this long at most for a quiet frame.
pub const GROW_WAIT_US: u64 = 1_000_000;
/// The delay must stay above target this long before shrinking starts. The target follows a
/// percentile of the last [`WINDOW_US`], which falls back each time the window forgets a
/// rare late packet (a frame RED brought back on both hops); shrinking at once would make
/// the next such packet late, and growing again costs another splice.
pub const SHRINK_AFTER_US: u64 = 10_000_000;
/// Shrinking goes no lower than the highest target of this long: under heavy jitter the
/// few late packets the target covers make its estimate swing as the window slides (RED
/// brings most late frames back early, so the tail is thin: 830–970 ms at 0–1000 ms of
/// jitter), and following every dip spliced speech down and then up again.
pub const SHRINK_MEMORY_US: u64 = 20_000_000;
/// Shrinking skips sounding frames only after this long above target without a quiet frame.
pub const SHRINK_WAIT_US: u64 = 15_000_000;
/// The share of recent packets the delay covers: a frame arriving after its turn is lost to
/// playout, so under heavy jitter this is about the share that plays. At 30 % loss on both
/// hops, frames RED brings back come 20–160 ms late; 98 % left one in fifty of them to
/// conceal, which speech scores (PESQ-WB) heard clearly.
const PERCENTILE: f64 = 0.995;
/// Headroom above the measured jitter percentile.
const MARGIN_MS: f64 = 5.0;
/// Timestamps this far behind the playout point mean the sender restarted its clock (well
/// beyond the largest delay, so a packet late by 2 s of jitter is just late).
const RESTART_TS_MS: u64 = 5_000;
const RTP_RATE: u64 = 48_000;
/// Bound on buffered packets so a flood cannot grow memory without limit.
const MAX_PACKETS: usize = 512;
const RECENT_PLAYED: usize = 64;

#[derive(Debug, Clone, Copy)]
pub struct JitterConfig {
    pub min_delay_ms: u32,
    pub max_delay_ms: u32,
    pub frame_ms: u32,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            // Below the spread of a loaded machine's thread scheduling: at 20 ms a sender
            // or playout thread a frame late underran a clean loopback call about one run
            // in five (one frame concealed in 23 s) on 2 busy cores.
            min_delay_ms: 30,
            // Covers the 1–2 s of jitter of the worst mobile links; the target follows what
            // is measured, so a clean link still plays within a frame or two.
            max_delay_ms: 2500,
            frame_ms: 20,
        }
    }
}

/// What to play for the frame due now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    Packet(Vec<u8>),
    /// the frame due now is missing; `next` = the following packet if already here (for Opus FEC)
    Lost {
        next: Option<Vec<u8>>,
    },
    /// nothing to play yet (before the first packet / after a long silence e.g. DTX)
    Empty,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct JitterStats {
    pub target_delay_ms: f64,
    pub current_delay_ms: f64,
    /// RFC 3550 interarrival jitter.
    pub jitter_ms: f64,
    pub played: u64,
    pub lost: u64,
    pub late: u64,
    pub duplicates: u64,
    /// Frames played as concealment while waiting for packets that never came because the
    /// sender had gone quiet (DTX, mute, the end of its stream): not losses.
    pub silence: u64,
    /// Frames played as silence (nothing to play) in a gap that the next packet's sequence
    /// number showed was packets lost, not a pause: concealed, for the listener.
    pub gap_lost: u64,
}

pub struct AudioJitterBuffer {
    cfg: JitterConfig,
    frame_ts: u64,
    packets: BTreeMap<u64, Vec<u8>>,
    next_ts: Option<u64>,
    recent_played: VecDeque<u64>,
    /// Frames concealed in place of `next_ts` while nothing was buffered (an underrun): it
    /// may be late, lost, or the sender may have gone quiet.
    held: u64,
    /// (arrival time, transit in µs) within [`WINDOW_US`].
    arrivals: VecDeque<(u64, f64)>,
    /// (time, target ms) of the last [`SHRINK_MEMORY_US`], each lower than the one before:
    /// the front is the highest.
    recent_targets: VecDeque<(u64, f64)>,
    last_arrival_us: Option<u64>,
    last_transit_us: Option<f64>,
    last_drop_us: Option<u64>,
    /// The last frame played was quiet: a splice there is inaudible.
    quiet: bool,
    /// Since when the delay has been below target / more than a frame above it.
    short_since: Option<u64>,
    above_since: Option<u64>,
    /// The highest sequence number pushed.
    max_seq: Option<u64>,
    /// Concealed frames of the current gap taken for silence so far. The next new packet's
    /// sequence number settles them.
    gap_silenced: u64,
    stats: JitterStats,
}

fn ts_to_us(ts: u64) -> f64 {
    ts as f64 * 1e6 / RTP_RATE as f64
}

impl AudioJitterBuffer {
    pub fn new(cfg: JitterConfig) -> Self {
        let frame_ms = cfg.frame_ms.max(1);
        let min = cfg.min_delay_ms.min(cfg.max_delay_ms);
        let cfg = JitterConfig {
            min_delay_ms: min,
            max_delay_ms: cfg.max_delay_ms,
            frame_ms,
        };
        Self {
            cfg,
            frame_ts: RTP_RATE / 1000 * u64::from(frame_ms),
            packets: BTreeMap::new(),
            next_ts: None,
            recent_played: VecDeque::new(),
            held: 0,
            arrivals: VecDeque::new(),
            recent_targets: VecDeque::new(),
            last_arrival_us: None,
            last_transit_us: None,
            last_drop_us: None,
            quiet: false,
            short_since: None,
            above_since: None,
            max_seq: None,
            gap_silenced: 0,
            stats: JitterStats {
                target_delay_ms: f64::from(min),
                ..JitterStats::default()
            },
        }
    }

    /// rtp_ts: extended (unwrapped) RTP timestamp in 48 kHz units; one packet = one 20 ms frame
    /// (960). seq: the packet's extended RTP sequence number.
    pub fn push(&mut self, now_us: u64, rtp_ts: u64, seq: u64, payload: Vec<u8>) {
        if self.packets.contains_key(&rtp_ts) || self.recent_played.contains(&rtp_ts) {
            self.stats.duplicates += 1;
            return;
        }
        if let Some(next) = self.next_ts
            && next > rtp_ts + RTP_RATE / 1000 * RESTART_TS_MS
        {
            // The sender's timestamps went back by seconds: a new stream, start over.
            self.reset();
            self.arrivals.clear();
            self.recent_targets.clear();
            self.last_transit_us = None;
            self.max_seq = None;
        }
        // Packets the sender numbered between the newest so far and this one, not here.
        let skipped = match self.max_seq {
            Some(max) if seq <= max => None,
            Some(max) => Some(seq - max - 1),
            None => Some(0),
        };
        if skipped.is_some() {
            self.max_seq = Some(seq);
        }
        // Playout gave up waiting and starts afresh at this packet: it will not walk through
        // the frames skipped before it. (A packet merely far ahead of a running playout is
        // not enough: under jitter, the ones it overtook are still on the way.)
        let afresh = self.next_ts.is_none();
        self.push_frame(now_us, rtp_ts, payload);
        if let Some(skipped) = skipped {
            self.settle_gap(skipped, afresh);
        }
    }

    /// What went silent in the gap before a new packet with `skipped` sequence numbers missing
    /// before it: that many frames, from the gap's start, were lost. The concealed frames
    /// taken for silence stood in for the first of them. When playout starts afresh at this
    /// packet, the rest are lost too, whatever played in their time (silence, or the wait to
    /// start again, which can be a frame longer or shorter than the gap); otherwise playout
    /// walks through them and counts each as it comes.
    fn settle_gap(&mut self, skipped: u64, afresh: bool) {
        let concealed = skipped.min(self.gap_silenced);
        self.stats.silence -= concealed;
        self.stats.lost += concealed;
        if afresh {
            self.stats.lost += skipped - concealed;
            self.stats.gap_lost += skipped - concealed;
        }
        self.gap_silenced = 0;
    }

    /// Frames concealed while nothing was buffered are taken for silence (for now).
    fn assume_silence(&mut self) {
        self.stats.silence += self.held;
        self.gap_silenced += self.held;
        self.held = 0;
    }

    fn push_frame(&mut self, now_us: u64, rtp_ts: u64, payload: Vec<u8>) {
        // Late packets count too: leaving them out would hide exactly the jitter that
        // the target delay must cover.
        self.record_arrival(now_us, rtp_ts);
        if let Some(next) = self.next_ts {
            if rtp_ts < next {
                self.stats.late += 1;
                return;
            }
            // A packet this far ahead starts a new talk spurt: what was concealed while
            // waiting was silence. (Nearer, the next pop settles the wait.)
            if rtp_ts >= next + self.silence_ts() {
                self.assume_silence();
            }
        }
        self.packets.insert(rtp_ts, payload);
        if self.packets.len() > MAX_PACKETS {
            self.packets.pop_first();
        }
    }

    fn record_arrival(&mut self, now_us: u64, rtp_ts: u64) {
        let transit = now_us as f64 - ts_to_us(rtp_ts);
        if let Some(last) = self.last_transit_us {
            let d = (transit - last).abs() / 1000.0;
            self.stats.jitter_ms += (d - self.stats.jitter_ms) / 16.0;
        }
        self.last_transit_us = Some(transit);
        self.arrivals.push_back((now_us, transit));
        while self
            .arrivals
            .front()
            .is_some_and(|&(t, _)| t + WINDOW_US < now_us)
        {
            self.arrivals.pop_front();
        }
        self.last_arrival_us = Some(now_us);
        self.update_target(now_us);
    }

    fn silence_ts(&self) -> u64 {
        RTP_RATE * SILENCE_US / 1_000_000
    }

    /// Forget the playout point; frames concealed but not confirmed lost were silence.
    fn reset(&mut self) {
        self.next_ts = None;
        self.packets.clear();
        self.assume_silence();
        self.short_since = None;
        self.above_since = None;
    }

    /// Whether the frame just played was quiet (silence between words): the caller decodes,
    /// so it is the one that can tell.
    pub fn set_quiet(&mut self, quiet: bool) {
        self.quiet = quiet;
    }

    /// called by the playout clock every frame_ms
    pub fn pop(&mut self, now_us: u64) -> Playout {
        let frame_ms = f64::from(self.cfg.frame_ms);
        let Some(mut next) = self.anchor(now_us) else {
            // Played as silence: a pause, unless the next packet's number says otherwise.
            return Playout::Empty;
        };
        if self.held > 0 && !self.packets.contains_key(&next) && !self.packets.is_empty() {
            next = self.settle_hold(next);
        }
        let target = self.stats.target_delay_ms;
        let mut current = self.delay_ms(now_us, next);

        // Short when packets the target covers would come after their turn (the margin is a
        // cushion, not a reason to splice).
        let short = current + MARGIN_MS < target;
        if let Some(short_for) = held_for(&mut self.short_since, short, now_us)
            && (current + MARGIN_MS + frame_ms <= target
                || self.quiet
                || !self.packets.contains_key(&next)
                || short_for >= GROW_WAIT_US)
        {
            // Grow: play a concealed frame and keep the playout point where it is. When the
            // frame due now is missing, a concealed frame plays anyway: growing then costs
            // nothing, and keeps that frame for its turn if it is only late.
            self.short_since = None;
            self.stats.current_delay_ms = current + frame_ms;
            return Playout::Lost { next: None };
        }
        let above = current > self.shrink_floor_ms() + frame_ms;
        let may_drop = held_for(&mut self.above_since, above, now_us).is_some_and(|above_for| {
            if self.quiet {
                above_for >= SHRINK_AFTER_US
            } else {
                above_for >= SHRINK_WAIT_US
                    && self
                        .last_drop_us
                        .is_none_or(|t| now_us >= t + DROP_INTERVAL_US)
            }
        });
        if may_drop
            && self.packets.contains_key(&(next + self.frame_ts))
            && let Some(_dropped) = self.packets.remove(&next)
        {
            self.remember_played(next);
            next += self.frame_ts;
            current -= frame_ms;
            self.last_drop_us = Some(now_us);
        }
        if let Some(packet) = self.packets.remove(&next) {
            self.stats.current_delay_ms = current;
            self.next_ts = Some(next + self.frame_ts);
            self.held = 0;
            self.remember_played(next);
            self.stats.played += 1;
            return Playout::Packet(packet);
        }
        if self.packets.is_empty() {
            // Underrun: nothing came after this frame, so it may only be late (a sender
            // whose clock runs slower than ours, a burst of jitter). Conceal in its place and
            // keep waiting for it: skipping it would conceal it now and throw it away when it
            // comes, twice the damage.
            self.held += 1;
            return Playout::Lost { next: None };
        }
        self.stats.current_delay_ms = current;
        self.next_ts = Some(next + self.frame_ts);
        self.stats.lost += 1;
        Playout::Lost {
            next: self.packets.get(&(next + self.frame_ts)).cloned(),
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// After an underrun, a later packet came but not the one waited for: the frames
    /// concealed while waiting stood in for the missing ones (lost), so playout goes on from
    /// as many frames further, without concealing them again. Returns the new playout point.
    fn settle_hold(&mut self, next: u64) -> u64 {
        let first = self.packets.first_key_value().map_or(next, |(&ts, _)| ts);
        let skip = ((first - next) / self.frame_ts).min(self.held);
        self.stats.lost += skip;
        self.held = 0;
        let next = next + skip * self.frame_ts;
        self.next_ts = Some(next);
        next
    }

    /// The timestamp due now, anchoring or re-anchoring the playout point as needed.
    fn anchor(&mut self, now_us: u64) -> Option<u64> {
        let silence_ts = self.silence_ts();
        if let Some(next) = self.next_ts {
            let quiet = self
                .last_arrival_us
                .is_none_or(|t| now_us >= t + SILENCE_US);
            match self.packets.first_key_value() {
                None if quiet => self.reset(),
                // Talk spurt after DTX arrived before the silence timer: start afresh.
                Some((&first, _)) if first >= next + silence_ts => {
                    self.next_ts = None;
                    self.assume_silence();
                }
                _ => return Some(next),
            }
        }
        let (&first, _) = self.packets.first_key_value()?;
        let waited = self.delay_ms(now_us, first);
        if waited + MARGIN_MS >= self.stats.target_delay_ms {
            self.next_ts = Some(first);
            Some(first)
        } else {
            None
        }
    }

    /// How far behind the best-case arrival the frame `ts` plays if played now.
    fn delay_ms(&self, now_us: u64, ts: u64) -> f64 {
        let min_transit = self.min_transit().unwrap_or(0.0);
        (now_us as f64 - ts_to_us(ts) - min_transit) / 1000.0
    }

    fn min_transit(&self) -> Option<f64> {
        self.arrivals.iter().map(|&(_, t)| t).reduce(f64::min)
    }

    fn update_target(&mut self, now_us: u64) {
        let Some(min) = self.min_transit() else {
            return;
        };
        let mut rel: Vec<f64> = self.arrivals.iter().map(|&(_, t)| t - min).collect();
        rel.sort_by(f64::total_cmp);
        let idx = ((rel.len() as f64 * PERCENTILE).ceil() as usize).saturating_sub(1);
        let covered_ms = rel.get(idx).copied().unwrap_or(0.0) / 1000.0;
        let target = (covered_ms + MARGIN_MS).clamp(
            f64::from(self.cfg.min_delay_ms),
            f64::from(self.cfg.max_delay_ms),
        );
        self.stats.target_delay_ms = target;
        while self
            .recent_targets
            .back()
            .is_some_and(|&(_, t)| t <= target)
        {
            self.recent_targets.pop_back();
        }
        self.recent_targets.push_back((now_us, target));
        while self
            .recent_targets
            .front()
            .is_some_and(|&(t, _)| t + SHRINK_MEMORY_US < now_us)
        {
            self.recent_targets.pop_front();
        }
    }

    /// The delay shrinking may not go below: the highest target of [`SHRINK_MEMORY_US`].
    fn shrink_floor_ms(&self) -> f64 {
        let recent = self.recent_targets.front().map_or(0.0, |&(_, t)| t);
        recent.max(self.stats.target_delay_ms)
    }

    fn remember_played(&mut self, ts: u64) {
        self.recent_played.push_back(ts);
        if self.recent_played.len() > RECENT_PLAYED {
            self.recent_played.pop_front();
        }
    }
}

/// How long a condition has held (None while it does not), with `since` remembering when
/// it started to.
fn held_for(since: &mut Option<u64>, holds: bool, now_us: u64) -> Option<u64> {
    if holds {
        Some(now_us - *since.get_or_insert(now_us))
    } else {
        *since = None;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: u64 = 960;
    const T0: u64 = 1_000_000_000;

    fn payload(k: u64) -> Vec<u8> {
        k.to_be_bytes().to_vec()
    }

    fn id(p: &[u8]) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(p);
        u64::from_be_bytes(b)
    }

    /// Packet k is sent at T0 + k*20 ms (sequence number k: frames missing from `ks` were
    /// lost) and arrives `delay(k)` µs later; pops run every 20 ms offset by 7 ms. Returns
    /// one entry per pop.
    fn simulate(
        jb: &mut AudioJitterBuffer,
        ks: impl Iterator<Item = u64>,
        delay: impl Fn(u64) -> u64,
        pops: u64,
    ) -> Vec<Playout> {
        simulate_quiet(jb, ks, delay, pops, |_| false)
    }

    /// [`simulate`], telling the buffer after pop `p` whether the frame was `quiet(p)`.
    fn simulate_quiet(
        jb: &mut AudioJitterBuffer,
        ks: impl Iterator<Item = u64>,
        delay: impl Fn(u64) -> u64,
        pops: u64,
        quiet: impl Fn(u64) -> bool,
    ) -> Vec<Playout> {
        simulate_sent(jb, ks, |k| k, delay, pops, quiet)
    }

    /// [`simulate_quiet`] with the sender numbering frame k `seq(k)` (a sender that pauses
    /// numbers on without a hole).
    fn simulate_sent(
        jb: &mut AudioJitterBuffer,
        ks: impl Iterator<Item = u64>,
        seq: impl Fn(u64) -> u64,
        delay: impl Fn(u64) -> u64,
        pops: u64,
        quiet: impl Fn(u64) -> bool,
    ) -> Vec<Playout> {
        let mut arrivals: Vec<(u64, u64)> = ks.map(|k| (T0 + k * 20_000 + delay(k), k)).collect();
        arrivals.sort();
        let mut arrivals = arrivals.into_iter().peekable();
        let mut out = Vec::new();
        for p in 0..pops {
            let now = T0 + p * 20_000 + 7_000;
            while let Some((t, k)) = arrivals.next_if(|&(t, _)| t <= now) {
                jb.push(t, 5_000 + k * F, seq(k), payload(k));
            }
            out.push(jb.pop(now));
            jb.set_quiet(quiet(p));
        }
        out
    }

    fn played(out: &[Playout]) -> Vec<u64> {
        out.iter()
            .filter_map(|p| match p {
                Playout::Packet(b) => Some(id(b)),
                _ => None,
            })
            .collect()
    }

    /// How many pops played a concealed frame.
    fn concealed(out: &[Playout]) -> u64 {
        out.iter()
            .filter(|p| matches!(p, Playout::Lost { .. }))
            .count() as u64
    }

    #[test]
    fn in_order_plays_everything_with_minimum_delay() {
        let mut jb = AudioJitterBuffer::new(JitterConfig::default());
        let out = simulate(&mut jb, 0..100, |_| 10_000, 102);
        assert_eq!(out[0], Playout::Empty);
        assert_eq!(played(&out), (0..100).collect::<Vec<_>>());
        let s = jb.stats();
        assert_eq!((s.played, s.lost, s.late, s.duplicates), (100, 0, 0, 0));
        assert!(
            s.target_delay_ms <= 30.0 && s.current_delay_ms <= 40.0,
            "{s:?}"
        );
    }

    #[test]
    fn reordered_packets_play_in_order() {
        let mut jb = AudioJitterBuffer::new(JitterConfig::default());
        // Odd packets overtake even ones.
        let out = simulate(
            &mut jb,
            0..200,
            |k| if k % 2 == 0 { 30_000 } else { 5_000 },
            210,
        );
        let got = played(&out);
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
        assert!(got.len() >= 195, "{}", got.len());
        assert!(jb.stats().target_delay_ms >= 25.0, "{:?}", jb.stats());
        assert_eq!(got[got.len() - 100..], (100..200).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn duplicates_are_dropped() {
        let mut jb = AudioJitterBuffer::new(JitterConfig::default());
        jb.push(T0, 0, 0, payload(0));
        jb.push(T0 + 1, 0, 0, payload(0));
        assert_eq!(jb.pop(T0 + 30_000), Playout::Packet(payload(0)));
        jb.push(T0 + 31_000, 0, 0, payload(0));
        assert_eq!(jb.stats().duplicates, 2);
    }

    #[test]
    fn lost_packet_offers_the_next_for_fec() {
        // With 40 ms of buffering the packet after the hole is already here.
        let cfg = JitterConfig {
            min_delay_ms: 40,
            ..JitterConfig::default()
        };
        let mut jb = AudioJitterBuffer::new(cfg);
        let out = simulate(&mut jb, (0..50).filter(|&k| k != 20), |_| 10_000, 50);
        let i = out
            .iter()
            .position(|p| matches!(p, Playout::Lost { .. }))
            .expect("one loss");
        assert_eq!(
            out[i],
            Playout::Lost {
                next: Some(payload(21))
            }
        );
        assert_eq!(out[i - 1], Playout::Packet(payload(19)));
        assert_eq!(out[i + 1], Playout::Packet(payload(21)));
        assert_eq!(jb.stats().lost, 1);
    }

    #[test]
    fn loss_at_minimum_delay_is_confirmed_by_the_next_packet() {
        let mut jb = AudioJitterBuffer::new(JitterConfig::default());
        let out = simulate(&mut jb, (0..50).filter(|&k| k != 20), |_| 10_000, 50);
        assert_eq!(concealed(&out), 1);
        assert_eq!(jb.stats().lost, 1);
    }

    #[test]
    fn late_packet_is_counted_and_discarded() {
        let mut jb = AudioJitterBuffer::new(JitterConfig::default());
        let out = simulate(
            &mut jb,
            0..50,
            |k| if k == 20 { 200_000 } else { 10_000 },
            50,
        );
        assert!(!played(&out).contains(&20));
        let s = jb.stats();
        assert_eq!((s.late, s.lost), (1, 1), "{s:?}");
    }

    fn lcg(seed: u64) -> u64 {
        seed.wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
            >> 33
    }

    #[test]
    fn delay_grows_under_jitter_and_shrinks_after_calm() {
        let mut jb = AudioJitterBuffer::new(JitterConfig::default());
        // 10 s of 0–100 ms random delay, then 30 s of a constant 10 ms.
        let jittery = |k: u64| if k < 500 { lcg(k) % 100_000 } else { 10_000 };
        let mut ks = 0..2000u64;
        let out = simulate(&mut jb, ks.by_ref(), jittery, 500);
        let s = jb.stats();
        assert!(s.target_delay_ms >= 80.0, "{s:?}");
        assert!(s.current_delay_ms >= 70.0, "{s:?}");
        // Once adapted, nearly everything arrives in time.
        let tail = played(&out[250..]).len();
        assert!(tail >= 240, "{tail}");

        // The calm lasts 50 s: the window forgets the jitter after 5 s, shrinking remembers
        // the target 20 s longer and waits 10 s more.
        let mut jb2 = AudioJitterBuffer::new(JitterConfig::default());
        let out = simulate(&mut jb2, 0..3000u64, jittery, 3000);
        let s = jb2.stats();
        assert!(s.target_delay_ms <= 30.0, "{s:?}");
        assert!(s.current_delay_ms <= 50.0, "{s:?}");
        assert!(played(&out[2500..]).len() == 500);
    }

    #[test]
    fn a_step_in_delay_grows_at_once_while_speech_sounds() {
        // The path gets 25 ms slower at 2 s; no frame is quiet. A concealed frame would play
        // in place of each late one anyway, so the buffer grows at the first of them.
        let mut jb = AudioJitterBuffer::new(JitterConfig::default());
        let step = |k: u64| if k < 100 { 10_000 } else { 35_000 };
        let out = simulate(&mut jb, 0..500u64, step, 500);
        // Frame 100 is late before anything says so; frame 101 is the first the buffer
        // grows at. (Until 7 s: then the window forgets the faster packets, and the buffer
        // tops up to its 30 ms floor over the new fastest.)
        let gaps = out[100..350]
            .iter()
            .filter(|p| !matches!(p, Playout::Packet(_)))
            .count();
        assert!(gaps <= 2, "{gaps} frames not played from their packet");
        assert_eq!(played(&out[100..350]).len(), 250 - gaps);
    }

    #[test]
    fn rare_late_packets_keep_their_room_between_visits() {
        // Every 17 s three packets within a second come 900 ms late, the rest within 20 ms;
        // pauses come often. The 5 s window forgets the late ones long before the next: a
        // buffer that shrank whenever its target dipped made room again for them by
        // concealing, a splice down and a splice up every 17 s.
        let mut jb = AudioJitterBuffer::new(JitterConfig::default());
        let delay = |k: u64| {
            if [100, 125, 150].contains(&(k % 850)) {
                900_000
            } else {
                lcg(k) % 20_000
            }
        };
        let out = simulate_quiet(&mut jb, 0..3000u64, delay, 3000, |p| (p / 25) % 2 == 1);
        let heard = played(&out);
        let missing: Vec<u64> = (200..2900).filter(|k| !heard.contains(k)).collect();
        assert!(missing.is_empty(), "not played: {missing:?}");
        assert!(jb.stats().current_delay_ms >= 850.0, "{:?}", jb.stats());
    }

    #[test]
    fn shrinking_waits_until_the_delay_stays_high_then_skips_quiet_frames() {
        let mut jb = AudioJitterBuffer::new(JitterConfig::default());
        // 10 s of 0–100 ms random delay, then a constant 10 ms; every other half second is
        // a pause between words.
        let jittery = |k: u64| if k < 500 { lcg(k) % 100_000 } else { 10_000 };
        let mut skipped = Vec::new();
        let mut due = 0;
        let out = simulate_quiet(&mut jb, 0..3000u64, jittery, 3000, |p| (p / 25) % 2 == 1);
        for (p, o) in out.iter().enumerate() {
            if let Playout::Packet(b) = o {
                let k = id(b);
                skipped.extend((due..k).map(|s| (p as u64, s)));
                due = k + 1;
            }
        }
        // The window forgets the jitter 5 s into the calm (pop ~750), shrinking remembers its
        // target 20 s longer (pop ~1750) and starts 10 s after that, not before.
        let early: Vec<_> = skipped
            .iter()
            .filter(|&&(p, _)| (300..2200).contains(&p))
            .collect();
        assert!(early.is_empty(), "skipped early: {early:?}");
        // Every frame skipped to shrink was in a pause (the frame before it was quiet).
        let late: Vec<_> = skipped.iter().filter(|&&(p, _)| p >= 2200).collect();
        assert!(!late.is_empty(), "never shrank");
        for &&(p, _) in &late {
            assert!(
                (p - 1) / 25 % 2 == 1,
                "skipped at pop {p}, after a sounding frame"
            );
        }
        assert!(jb.stats().current_delay_ms <= 40.0, "{:?}", jb.stats());
    }

    #[test]
    fn one_and_two_seconds_of_jitter_are_absorbed_after_adapting() {
        for spread_us in [1_000_000u64, 2_000_000] {
            let mut jb = AudioJitterBuffer::new(JitterConfig::default());
            // 60 s of packets each delayed by 0..spread at random.
            let out = simulate(&mut jb, 0..3000u64, |k| lcg(k + 7) % spread_us, 3000);
            let s = jb.stats();
            let spread_ms = (spread_us / 1000) as f64;
            assert!(
                (0.8 * spread_ms..=2500.0).contains(&s.target_delay_ms),
                "{spread_ms} ms: {s:?}"
            );
            // After the first 20 s, 97 % of the frames play from their own packet (uniform
            // jitter is the worst case for a percentile: 2 % always arrive after it).
            let tail = played(&out[1000..]).len();
            assert!(tail >= 1940, "{spread_ms} ms: {tail} of 2000 played, {s:?}");
        }
    }

    #[test]
    fn dtx_silence_re_anchors_instead_of_counting_losses() {
        let mut jb = AudioJitterBuffer::new(JitterConfig::default());
        // Talk 1 s, 3 s of DTX (nothing sent, so nothing numbered), talk 1 s.
        let talking = (0..50).chain(200..250);
        let seq = |k: u64| if k < 50 { k } else { k - 150 };
        let out = simulate_sent(&mut jb, talking, seq, |_| 10_000, 260, |_| false);
        let empties_in_gap = out[60..200]
            .iter()
            .filter(|p| **p == Playout::Empty)
            .count();
        assert!(empties_in_gap >= 125, "{empties_in_gap}");
        assert_eq!(played(&out), (0..50).chain(200..250).collect::<Vec<_>>());
        assert_eq!(jb.stats().lost, 0);
        // The frames concealed before the silence was known are counted as silence, so
        // statistics do not call a pause loss.
        let waited = concealed(&out[..200]);
        assert!(waited > 0);
        assert_eq!(jb.stats().silence, waited);
    }

    #[test]
    fn a_gap_whose_packets_were_numbered_is_loss_not_silence() {
        // Half a second of packets lost on the way (25 frames): the buffer cannot know at
        // first, and plays the gap as concealment, then as silence. The first packet after it
        // skips 25 sequence numbers: all 25 frames count as lost, those played as silence too.
        // Playout starts afresh at packet 75, which waits out the target delay first: those
        // slots of silence are the gap's too, however many they are. (This once missed one
        // frame at a 30 ms target, where the gap's last slot fell after packet 75 came.)
        for min_delay_ms in [20, 30, 50] {
            gap_at_target(min_delay_ms);
        }
    }

    fn gap_at_target(min_delay_ms: u32) {
        let mut jb = AudioJitterBuffer::new(JitterConfig {
            min_delay_ms,
            ..JitterConfig::default()
        });
        let out = simulate(&mut jb, (0..50).chain(75..125), |_| 10_000, 140);
        assert_eq!(played(&out), (0..50).chain(75..125).collect::<Vec<_>>());
        let s = jb.stats();
        let (in_gap, trailing) = (concealed(&out[50..80]), concealed(&out[125..]));
        assert!(in_gap > 0 && in_gap < 25, "{min_delay_ms} ms: {in_gap}");
        assert_eq!(s.lost, 25, "{min_delay_ms} ms: {s:?}");
        assert_eq!(s.gap_lost, 25 - in_gap, "{min_delay_ms} ms: {s:?}");
        // After the last packet nothing tells: that stays silence (the end of a stream).
        assert_eq!(s.silence, trailing, "{min_delay_ms} ms: {s:?}");
    }

    #[test]
    fn sender_restart_is_not_late_forever() {
        let mut jb = AudioJitterBuffer::new(JitterConfig::default());
        simulate(&mut jb, 0..500, |_| 10_000, 500);
        let now = T0 + 10_020_000;
        jb.push(now, 0, 0, payload(7));
        assert_eq!(jb.stats().late, 0);
        assert_eq!(jb.pop(now + 30_000), Playout::Packet(payload(7)));
    }

    #[test]
    fn a_sender_whose_clock_runs_slow_costs_only_the_frames_it_never_made() {
        // The sender's clock runs 4 % slow (a browser starved of CPU, a drifting sound
        // card): in 20 s it makes 40 frames fewer than we play. Each shortfall is an underrun
        // whose frame is late, not lost: it plays when it comes, after one concealed frame.
        let mut jb = AudioJitterBuffer::new(JitterConfig::default());
        let out = simulate(
            &mut jb,
            0..961,
            |k| 10_000 + k * 800 + (k * 7919 % 13) * 1000,
            1000,
        );
        assert_eq!(played(&out), (0..961).collect::<Vec<_>>());
        let concealed = concealed(&out);
        assert!(concealed <= 40, "{concealed} concealed: {:?}", jb.stats());
        let s = jb.stats();
        assert_eq!((s.lost, s.late), (0, 0), "{s:?}");
    }
}
