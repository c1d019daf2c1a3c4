//! What recent round trips say about a link: how far over its least round trip it runs (a
//! standing queue) and how much round trips swing from one report to the next (jitter).

use std::collections::VecDeque;
use std::time::Duration;

/// How many of the latest round trips are kept: the swing is the median of their steps.
/// Over ten, a calm stretch under 0–700 ms of jitter each way read as a steady link now and
/// then (its median step under 50 ms), and then as a standing queue.
const RECENT: usize = 30;
/// The longest of this many of the latest round trips is the one repairs must allow for.
const LONGEST_OF: usize = 10;
/// How many of the latest round trips must all be over the least one for a standing queue…
const STANDING: usize = 5;
/// …and by more than this many times the link's swing: on a link with 0–700 ms of jitter
/// each way, three round trips in a row were often 60 ms over the least one without any
/// queue, and even three times the swing over it every 30 reports or so (each time the
/// rate came down 8 %, and the camera sank to 120 kbit/s on a link that loses nothing).
const JITTER_STEPS: u32 = 3;

/// Round trips that swing by more than this from one report to the next mean a jittery
/// link (behind a full cap they swing by a few ms).
pub const JITTERY: Duration = Duration::from_millis(50);

/// The round trips one stream's receiver reports measured.
#[derive(Debug, Clone, Default)]
pub struct RoundTrips {
    /// The least seen: the link without a queue.
    least: Option<Duration>,
    /// The latest, newest first.
    recent: VecDeque<Duration>,
}

impl RoundTrips {
    pub fn push(&mut self, rtt: Duration) {
        self.least = Some(self.least.map_or(rtt, |l| l.min(rtt)));
        self.recent.truncate(RECENT - 1);
        self.recent.push_front(rtt);
    }

    /// Whether the latest round trip waited in a queue: over the least one by more than
    /// `margin` and what the link's jitter explains. Quicker than [`queued`](Self::queued)
    /// and less sure (under 0–700 ms of jitter each way, one in six says so): for what may
    /// only go on while nothing queues.
    pub fn queueing(&self, margin: Duration) -> bool {
        let (Some(latest), Some(least)) = (self.recent.front(), self.least) else {
            return false;
        };
        latest.saturating_sub(least) > margin + JITTER_STEPS * self.swing()
    }

    /// How long the latest round trips all wait in a queue, beyond what the link's jitter
    /// explains (zero if they do not). A keyframe's burst lengthens one round trip; a
    /// standing queue all of them, by about as much.
    pub fn queued(&self) -> Duration {
        let standing = (self.recent.len() >= STANDING)
            .then(|| self.recent.iter().take(STANDING).min().copied())
            .flatten();
        let queued = standing
            .zip(self.least)
            .map_or(Duration::ZERO, |(r, l)| r.saturating_sub(l));
        if queued > JITTER_STEPS * self.swing() {
            queued
        } else {
            Duration::ZERO
        }
    }

    /// Whether the round trips swing by more than [`JITTERY`]: packets overtake one another.
    pub fn jittery(&self) -> bool {
        self.swing() > JITTERY
    }

    /// How many of the latest round trips there are.
    pub fn known(&self) -> usize {
        self.recent.len()
    }

    /// The longest of the last ten round trips.
    pub fn longest(&self) -> Option<Duration> {
        self.recent.iter().take(LONGEST_OF).max().copied()
    }

    /// How much the link's delay swings from one report to the next: the median step
    /// between recent round trips, or between every other one if that is less. (str0m's
    /// round trips on a clean virtual link alternate between two values, 40 and 120 ms, for
    /// a reason not found; a queue that fills shows as one step, not as a swing.)
    pub fn swing(&self) -> Duration {
        let median_step = |lag: usize| {
            let mut steps: Vec<Duration> = self
                .recent
                .iter()
                .zip(self.recent.iter().skip(lag))
                .map(|(a, b)| a.abs_diff(*b))
                .collect();
            steps.sort();
            steps.get(steps.len() / 2).copied().unwrap_or_default()
        };
        median_step(1).min(median_step(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trips(ms: &[u64]) -> RoundTrips {
        let mut r = RoundTrips::default();
        for m in ms {
            r.push(Duration::from_millis(*m));
        }
        r
    }

    #[test]
    fn a_standing_queue_shows_and_a_burst_does_not() {
        assert_eq!(trips(&[20, 20, 150, 20]).queued(), Duration::ZERO);
        let q = trips(&[20, 20, 150, 20, 20, 20, 120, 120, 120, 120, 120]).queued();
        assert_eq!(q, Duration::from_millis(100));
    }

    #[test]
    fn jitter_is_no_queue() {
        let r = trips(&[20, 400, 1100, 250, 900, 1300, 380, 700, 1200, 450, 1000]);
        assert_eq!(r.queued(), Duration::ZERO);
        assert!(r.swing() >= Duration::from_millis(300), "{:?}", r.swing());
        assert!(trips(&[300, 302, 299, 301, 300]).swing() <= Duration::from_millis(3));
        assert_eq!(trips(&[40, 120, 40, 120, 40, 120]).swing(), Duration::ZERO);
    }

    #[test]
    fn the_latest_round_trip_says_at_once_whether_packets_queue() {
        let margin = Duration::from_millis(60);
        assert!(!RoundTrips::default().queueing(margin));
        // A steady link, then one round trip behind a full 300 ms queue.
        assert!(!trips(&[20, 21, 20, 22, 20]).queueing(margin));
        assert!(trips(&[20, 21, 20, 22, 20, 320]).queueing(margin));
        // Under jitter the same step is the jitter's.
        assert!(
            !trips(&[20, 400, 1100, 250, 900, 1300, 380, 700, 1200, 450, 320]).queueing(margin)
        );
    }
}
