//! The loss a receiver report means once packets still on their way are allowed for.
//!
//! A report's fraction lost counts every packet missing below the highest one received. On
//! a link whose datagrams overtake one another (0–700 ms of jitter) many of those are only
//! late: on a link that loses nothing, one-second reports read 3–30 %, and the next report,
//! in which they arrive, reads 0 (the fraction is clamped). A rate control that cuts at 3 %
//! took that for congestion and sent a camera to its floor.
//!
//! The report's running totals (highest sequence number, packets lost) are not clamped: the
//! cumulative count falls when late packets arrive, and what is lost for good never does.
//! How far it fell after recent reports is how much of an interval's loss may be packets
//! still on their way, and only loss beyond that counts. Where nothing arrives late (a cap,
//! a lossy radio without jitter) it never falls and the loss is the report's.
//!
//! Packets resent after a real loss arrive late too, and make an interval after a cut at a
//! cap go below zero just as well: counted as lateness, they let a camera grow back into a
//! full queue, which then lost everything. So no more of an interval's packets count as late
//! than the link's jitter could hold back, as the round trips show it: under 0–700 ms of
//! jitter each way they swing by some 400 ms from one report to the next, behind a full cap
//! by a few. (The report's own interarrival jitter will not do: a video frame's packets
//! leave a cap spread out, and it read 400–500 ms there.)

use std::collections::VecDeque;
use std::time::Duration;

use crate::rtt::RoundTrips;

/// How many recent reports say how many packets are on their way at a time.
const REMEMBER: usize = 20;
/// At most this share of an interval (about a second) per second of the round trips' swing
/// is taken for packets on their way, once the link is jittery ([`RoundTrips::jittery`]).
const LATE_PER_SWING: f32 = 1.5;

/// The loss of one sent stream, from its receiver reports.
#[derive(Debug, Clone, Default)]
pub struct LateLoss {
    /// The last report's running totals: highest sequence number, packets lost.
    last: Option<(u64, i64)>,
    /// Recent reports: packets lost so far, and packets expected in the interval before.
    recent: VecDeque<(i64, u64)>,
    round_trips: RoundTrips,
}

impl LateLoss {
    /// A receiver report with its `fraction` lost and, if known, its running totals (the
    /// extended highest sequence number received, the cumulative packets lost as carried in
    /// the report: 24 bits, signed) and the round trip it measured. Returns the loss (0..1)
    /// of the interval beyond what late packets explain (never more than the fraction); the
    /// fraction itself until two reports give an interval, or where the round trips show no
    /// jitter.
    pub fn report(
        &mut self,
        fraction: f32,
        totals: Option<(u64, u64)>,
        rtt: Option<Duration>,
    ) -> f32 {
        if let Some(r) = rtt {
            self.round_trips.push(r);
        }
        let Some((seq, lost)) = totals else {
            return fraction;
        };
        let lost = signed_24(lost);
        let Some((seq0, lost0)) = self.last.replace((seq, lost)) else {
            return fraction;
        };
        // No packets since (a paused stream), or a restarted one: nothing to judge by.
        let Some(expected) = seq.checked_sub(seq0).filter(|e| *e > 0) else {
            self.recent.clear();
            return fraction;
        };
        if self.recent.len() == REMEMBER {
            self.recent.pop_front();
        }
        self.recent.push_back((lost, expected));
        let new = (lost - lost0) as f32 / expected as f32;
        let late = self.on_their_way().min(self.late_share());
        if late > 0.0 {
            (new - late).clamp(0.0, fraction.max(0.0))
        } else {
            fraction
        }
    }

    /// Whether the round trips show the link's delay swinging (packets overtake one another).
    pub fn jittery(&self) -> bool {
        self.round_trips.jittery()
    }

    /// The most of an interval's packets that the link's jitter could hold back.
    fn late_share(&self) -> f32 {
        if self.jittery() {
            LATE_PER_SWING * self.round_trips.swing().as_secs_f32()
        } else {
            0.0
        }
    }

    /// The most packets (as a share of their interval's) that were counted lost at a report
    /// and arrived later. What is lost for good never arrives, so the count of packets lost
    /// can only fall by those still on their way when it was taken.
    fn on_their_way(&self) -> f32 {
        let mut least_since = i64::MAX;
        let mut most = 0.0f32;
        for (lost, expected) in self.recent.iter().rev() {
            least_since = least_since.min(*lost);
            most = most.max((lost - least_since) as f32 / *expected as f32);
        }
        most
    }
}

/// A report's running totals as [`LateLoss::report`] takes them.
pub fn totals(remote: &str0m::stats::RemoteIngressStats) -> (u64, u64) {
    (*remote.maximum_sequence_number, remote.packets_lost)
}

/// The cumulative packets lost of a report (RFC 3550: a signed 24-bit number).
fn signed_24(v: u64) -> i64 {
    let v = (v & 0xff_ffff) as i64;
    if v & 0x80_0000 != 0 {
        v - 0x100_0000
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round trips as a jittery link's reports give them, one after another.
    fn jittery(i: usize) -> Option<Duration> {
        Some(Duration::from_millis(100 + scatter(i + 1000) % 1200))
    }

    /// Round trips behind a full queue.
    fn steady(i: usize) -> Option<Duration> {
        Some(Duration::from_millis(300 + (i % 3) as u64))
    }

    /// A stream of `per_report` packets a report; `lost(i)` of report `i` never arrive and
    /// `late(i)` are missing at report `i` but arrive before the next one.
    fn run(
        rtt: fn(usize) -> Option<Duration>,
        reports: usize,
        per_report: u64,
        lost: impl Fn(usize) -> u64,
        late: impl Fn(usize) -> u64,
    ) -> Vec<(f32, f32)> {
        let mut l = LateLoss::default();
        let (mut seq, mut gone, mut before) = (1_000u64, 0u64, 0u64);
        (0..reports)
            .map(|i| {
                seq += per_report;
                gone += lost(i);
                let missing = gone + late(i);
                // What the receiver's register says of this interval: clamped at zero.
                let fraction = (missing as f32 - before as f32).max(0.0) / per_report as f32;
                before = missing;
                (fraction, l.report(fraction, Some((seq, missing)), rtt(i)))
            })
            .collect()
    }

    /// A number that looks random for each `i`.
    fn scatter(i: usize) -> u64 {
        (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40
    }

    #[test]
    fn packets_that_are_only_late_are_not_loss() {
        // 100 packets a second, 0–25 of them still on their way at each report.
        let late = |i: usize| scatter(i) % 26;
        let got = run(jittery, 60, 100, |_| 0, late);
        let raw = got.iter().filter(|(f, _)| *f > 0.03).count();
        assert!(raw > 10, "the reports' own fractions: {got:?}");
        let judged: Vec<f32> = got[REMEMBER..].iter().map(|g| g.1).collect();
        let over = judged.iter().filter(|l| **l > 0.03).count();
        assert!(over <= 2, "{judged:?}");
    }

    #[test]
    fn loss_without_late_packets_is_the_reports() {
        // A cap losing 30 %, then 10 % random loss: nothing arrives late.
        let got = run(steady, 40, 100, |i| if i < 20 { 30 } else { 10 }, |_| 0);
        for (i, (fraction, judged)) in got.iter().enumerate() {
            assert!((fraction - judged).abs() < 1e-6, "report {i}: {got:?}");
        }
        assert!((got[10].1 - 0.3).abs() < 1e-6);
    }

    #[test]
    fn a_cap_shows_through_late_packets() {
        // Jitter first, then a cap's loss of 25 % on top of it.
        let late = |i: usize| scatter(i) % 11;
        let got = run(jittery, 40, 100, |i| if i < 20 { 0 } else { 25 }, late);
        let after: Vec<f32> = got[20..].iter().map(|g| g.1).collect();
        assert!(after.iter().all(|l| *l > 0.05), "{after:?}");
    }

    #[test]
    fn resends_after_a_cut_are_not_taken_for_late_packets_on_a_steady_link() {
        // A cap loses 50 % for three reports; resends bring a third of that back in the next
        // interval. Then it loses 10 %: round trips that hardly change say little can be late.
        let lost = |i: usize| match i {
            0..3 => 50,
            3 => 0,
            _ => 10,
        };
        let mut l = LateLoss::default();
        let (mut seq, mut gone) = (0u64, 0i64);
        let mut judged = Vec::new();
        for i in 0..10 {
            seq += 100;
            gone += lost(i) as i64 - if i == 3 { 50 } else { 0 };
            let fraction = (lost(i) as f32 / 100.0).max(0.0);
            judged.push(l.report(fraction, Some((seq, gone as u64)), steady(i)));
        }
        assert!(judged[4..].iter().all(|j| *j >= 0.07), "{judged:?}");
    }

    #[test]
    fn negative_totals_and_restarts_are_read_right() {
        assert_eq!(signed_24(0xff_ffff), -1);
        assert_eq!(signed_24(5), 5);
        let mut l = LateLoss::default();
        assert_eq!(l.report(0.2, None, None), 0.2);
        assert_eq!(l.report(0.1, Some((100, 0)), None), 0.1);
        // Sequence numbers went back (a new sender): the report's fraction.
        assert_eq!(l.report(0.05, Some((50, 0)), None), 0.05);
        assert_eq!(l.report(0.0, Some((150, 0xff_fffe)), None), 0.0);
    }
}
