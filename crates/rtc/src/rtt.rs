//! What recent round trips say about a link: how far over its least round trip it runs (a
//! standing queue) and how much round trips swing from one report to the next (jitter).

use std::time::Duration;

/// How many of the latest round trips are kept.
const RECENT: usize = 10;
/// How many of the latest round trips must all be over the least one for a standing queue…
const STANDING: usize = 3;
/// …and by more than this many times the link's swing: on a link with 0–700 ms of jitter
/// each way, three round trips in a row were often 60 ms over the least one without any
/// queue.
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
    recent: [Option<Duration>; RECENT],
}

impl RoundTrips {
    pub fn push(&mut self, rtt: Duration) {
        self.least = Some(self.least.map_or(rtt, |l| l.min(rtt)));
        self.recent.rotate_right(1);
        self.recent[0] = Some(rtt);
    }

    /// How long the latest round trips all wait in a queue, beyond what the link's jitter
    /// explains (zero if they do not). A keyframe's burst lengthens one round trip; a
    /// standing queue all of them, by about as much.
    pub fn queued(&self) -> Duration {
        let standing = self.recent[..STANDING].iter().copied().min().flatten();
        let queued = standing
            .zip(self.least)
            .map_or(Duration::ZERO, |(r, l)| r.saturating_sub(l));
        if queued > JITTER_STEPS * self.swing() {
            queued
        } else {
            Duration::ZERO
        }
    }

    /// How many of the latest round trips there are (at most ten).
    pub fn known(&self) -> usize {
        self.recent.iter().flatten().count()
    }

    /// The longest of the latest round trips.
    pub fn longest(&self) -> Option<Duration> {
        self.recent.iter().flatten().max().copied()
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
                .filter_map(|(a, b)| Some(a.as_ref()?.abs_diff(*b.as_ref()?)))
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
        let q = trips(&[20, 20, 150, 20, 20, 120, 120, 120]).queued();
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
}
