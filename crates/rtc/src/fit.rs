//! Whether the copies of video a sender sends fit the link they go over, and how fast a
//! stream whose copies go may send.
//!
//! Copied, a link's random loss is lost about its square (20 % → 4 %, 40 % → 16 %); a link
//! too narrow for the copies drops what its queue cannot hold, runs that both copies fall
//! in, and the receiver's measure of what never came stays high. After copies, random loss
//! of 20–40 % with 0–700 ms of jitter left 0–28 % in a second's measure, links too narrow
//! for them 30–65 % ([`CopiesFit`]). A link filling up shows sooner, before its queue
//! overflows: the receiver's gauge of the queue the video waits in ([`crate::queue`]) says
//! so while jitter alone does not.
//!
//! Copies sent twice with parities are some 2.6 times the stream, and on a link that also
//! loses at random the sender's receiver reports show neither the queue nor where the link
//! is: copies hide the loss, so they read clean. A camera whose rate grew (its repair window
//! widens when the longest round trips leave it, 20–30 % at once) then flooded a 1 Mbit/s
//! uplink losing 20 % for seconds, until the copies and resends filled it five times over
//! and the picture froze for 2–6 s. So while copies go a stream grows slowly, and once they
//! are found not to fit it stays under what fitted ([`CopiesCeiling`]): at 1 Mbit/s, 20 %
//! and 0–700 ms of jitter on Alice's uplink, 156 freezes over 500 ms in 96 calls became 40,
//! and 15 with the queue's gauge.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A measure of this much lost, while video goes out twice…
pub const FULL_LOSS: f32 = 0.3;
/// …this many in a row, means the copies do not fit.
const FULL_MEASURES: u8 = 2;
/// A queue this long on the way to the receiver ([`crate::queue`]) says the copies may not
/// fit: the link fills up before its queue overflows and loses what copies cannot bring back.
pub const FULL_QUEUE: Duration = Duration::from_millis(100);
/// Measures lag what is sent by a second or two: those this soon after copies start (of
/// video sent once) or after the sender answered copies that did not fit (of what it sent
/// before) do not count.
pub const SETTLE: Duration = Duration::from_secs(5);

/// What a measure says of the copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    Fits,
    /// One measure said they do not fit, or the video waits in a queue: they may not (see
    /// [`CopiesCeiling::flood`]).
    Doubtful,
    DoesNotFit,
}

/// Judges a receiver's measures of our copied video (sans-IO: time is a parameter).
#[derive(Debug, Clone, Default)]
pub struct CopiesFit {
    /// Video went out twice at the last measure.
    copying: bool,
    /// Measures in a row that said the copies do not fit.
    full: u8,
    /// Measures before this do not count.
    counts_from: Option<Instant>,
}

impl CopiesFit {
    /// The receiver measured `lost` (0..1) of our video, and its `queue`, while it went out
    /// twice or not (`copying`): whether the copies fit. Once they did not, the next
    /// measures count only after [`SETTLE`], for what the sender did about it.
    pub fn measure(&mut self, now: Instant, (lost, queue): (f32, Duration), copying: bool) -> Fit {
        if copying && !self.copying {
            self.counts_from = Some(now + SETTLE);
        }
        self.copying = copying;
        if !copying || self.counts_from.is_some_and(|t| now < t) {
            self.full = 0;
            return Fit::Fits;
        }
        self.full = if lost >= FULL_LOSS {
            self.full.saturating_add(1)
        } else {
            0
        };
        match self.full {
            0 if queue >= FULL_QUEUE => Fit::Doubtful,
            0 => Fit::Fits,
            n if n < FULL_MEASURES => Fit::Doubtful,
            _ => {
                self.answered(now);
                Fit::DoesNotFit
            }
        }
    }

    /// The sender sent less for a measure: the next ones count after [`SETTLE`].
    pub fn answered(&mut self, now: Instant) {
        self.full = 0;
        self.counts_from = Some(now + SETTLE);
    }
}

/// The rates sent at this many reports are remembered: copies that do not fit are told
/// some seconds after the rate that floods the link (the queue fills as resends grow, and
/// the receiver's measures lag), so the least of them fitted.
const SENT_REMEMBERED: usize = 10;
/// Where copies fit so far, their ceiling grows this much a report the stream sends at it
/// (the loss-based rate grows 8 %, and probes past where it last went wrong: with copies
/// it cannot tell).
const GROWTH: f64 = 1.02;
const MIN_GROWTH_BPS: u64 = 1_000;
/// Copies that do not fit get a little under the least of the last rates…
const UNDER_LEAST: f64 = 0.9;
/// …and, if they still do not, this much of their ceiling.
const AGAIN: f64 = 0.75;
/// The rate rose lately if the least of the last ones is under this share of it.
const ROSE: f64 = 0.95;
/// Below this a picture is not worth sending (as `crate::rate`'s floor).
const FLOOR_BPS: u64 = crate::rate::FLOOR_BPS;

/// The most one stream may send while it goes out twice (sans-IO: fed once a report).
#[derive(Debug, Clone, Default)]
pub struct CopiesCeiling {
    /// What was sent at the last reports, newest last.
    sent: VecDeque<u64>,
    ceiling: Option<u64>,
    /// Whether the copies have not been found not to fit (the ceiling grows).
    growing: bool,
}

impl CopiesCeiling {
    /// The most the stream may send now (None: no ceiling, no copies).
    pub fn get(&self) -> Option<u64> {
        self.ceiling
    }

    /// The stream went out at `rate` since the last report.
    pub fn sent(&mut self, rate: u64) {
        if self.sent.len() == SENT_REMEMBERED {
            self.sent.pop_front();
        }
        self.sent.push_back(rate);
        match self.ceiling {
            Some(c) if self.growing && rate >= c => {
                let grown = (c as f64 * GROWTH) as u64;
                self.ceiling = Some(grown.max(c + MIN_GROWTH_BPS));
            }
            _ => {}
        }
    }

    /// Copies go, the stream sending `rate`: from there it grows slowly.
    pub fn going(&mut self, rate: u64) {
        if self.ceiling.is_none() {
            self.ceiling = Some(rate);
            self.growing = true;
        }
    }

    /// The copies do not fit (`sure`), or one measure says they may not, while the stream
    /// sends `rate`. From now on it sends a little under the least of the last rates, which
    /// fitted, or if they had a ceiling that still does not fit, a quarter less. A measure
    /// that only may say so counts where the rate rose lately (one high measure on a link
    /// losing 40 % at random is not rare). The new ceiling if it came down.
    pub fn flood(&mut self, rate: u64, sure: bool) -> Option<u64> {
        let least = self.sent.iter().copied().fold(rate, u64::min);
        let rose = (least as f64) < ROSE * rate as f64;
        if !sure && !rose {
            return None;
        }
        let under_least = least as f64 * UNDER_LEAST;
        let ceiling = match self.ceiling {
            Some(c) if sure && !self.growing => under_least.min(c as f64 * AGAIN),
            _ => under_least,
        };
        let ceiling = (ceiling as u64).max(FLOOR_BPS);
        self.ceiling = Some(ceiling);
        self.growing = false;
        self.sent.clear();
        Some(ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Measures a second apart from `start`: which said the copies do not fit.
    fn run(fit: &mut CopiesFit, start: Instant, measures: &[(f32, bool)]) -> Vec<bool> {
        verdicts(fit, start, measures)
            .into_iter()
            .map(|f| f == Fit::DoesNotFit)
            .collect()
    }

    fn verdicts(fit: &mut CopiesFit, start: Instant, measures: &[(f32, bool)]) -> Vec<Fit> {
        (0..)
            .zip(measures)
            .map(|(i, &(lost, copying))| {
                let at = start + Duration::from_secs(i);
                fit.measure(at, (lost, Duration::ZERO), copying)
            })
            .collect()
    }

    #[test]
    fn two_high_measures_in_a_row_after_copies_settle_mean_they_do_not_fit() {
        let mut fit = CopiesFit::default();
        let t = Instant::now();
        // Copies start at 0 s: the first five seconds' measures are of video sent once.
        let mut m = vec![(0.5, true); 5];
        m.extend([(0.35, true), (0.1, true), (0.35, true), (0.4, true)]);
        let said = run(&mut fit, t, &m);
        assert_eq!(said.iter().position(|&s| s), Some(8));
        assert_eq!(said.iter().filter(|&&s| s).count(), 1);
    }

    #[test]
    fn after_copies_did_not_fit_the_next_measures_wait_for_the_answer() {
        let mut fit = CopiesFit::default();
        let t = Instant::now();
        let said = run(&mut fit, t, &[(0.5, true); 20]);
        // At 6 s (5 s to settle, two measures), then again 6 s later: 5 s, two measures.
        let at: Vec<usize> = (0..20).filter(|&i| said[i]).collect();
        assert_eq!(at, vec![6, 12, 18]);
    }

    #[test]
    fn one_high_measure_is_doubtful_and_once_answered_the_next_ones_wait() {
        let mut fit = CopiesFit::default();
        let t = Instant::now();
        let mut m = vec![(0.0, true); 5];
        m.push((0.4, true));
        let said = verdicts(&mut fit, t, &m);
        assert_eq!(said[5], Fit::Doubtful);
        fit.answered(t + Duration::from_secs(5));
        let later = t + Duration::from_secs(6);
        assert_eq!(fit.measure(later, (0.5, Duration::ZERO), true), Fit::Fits);
        // Once settled, a queue on the way alone makes a measure doubtful.
        let settled = t + Duration::from_secs(11);
        let queued = (0.0, Duration::from_millis(150));
        assert_eq!(fit.measure(settled, queued, true), Fit::Doubtful);
    }

    #[test]
    fn copies_grow_slowly_until_they_do_not_fit_and_then_stay_under_what_fitted() {
        let mut c = CopiesCeiling::default();
        c.going(300_000);
        // Sending at the ceiling, it grows 2 % a report; under it, it does not.
        c.sent(300_000);
        assert_eq!(c.get(), Some(306_000));
        c.sent(200_000);
        assert_eq!(c.get(), Some(306_000));
        // Copies starting again later do not reset it.
        c.going(100_000);
        assert_eq!(c.get(), Some(306_000));
        for _ in 0..10 {
            c.sent(300_000);
        }
        // One high measure where the rate did not rise says little…
        assert_eq!(c.flood(300_000, false), None);
        for _ in 0..3 {
            c.sent(400_000);
        }
        // …where it rose, the flood is its doing: back under what fitted.
        assert_eq!(c.flood(400_000, false), Some(270_000));
        for _ in 0..10 {
            c.sent(270_000);
        }
        assert_eq!(c.get(), Some(270_000), "it no longer grows");
        // Still too much: a quarter less.
        assert_eq!(c.flood(270_000, true), Some(202_500));
    }

    #[test]
    fn without_copies_nothing_is_judged() {
        let mut fit = CopiesFit::default();
        let t = Instant::now();
        assert!(run(&mut fit, t, &[(0.9, false); 20]).iter().all(|s| !s));
    }
}
