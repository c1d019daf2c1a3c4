//! Whether each subscriber's link carries the camera layers it asked for (sans-IO). A
//! subscriber whose receiver reports on video say it loses more than a tenth three times in
//! a row, or 30 % twice, is moved to the small layers of the publishers that send them, so
//! one subscriber on a bad link costs only itself. After a while it tries its layers again;
//! when that fails at once, it waits twice as long before the next try (up to a minute), so
//! a link that cannot carry them is not flooded every few seconds.
//!
//! A radio losing in runs loses like a full queue, and a third of its reports say more than
//! a tenth. Once two in a row said it carries the video (what it loses comes back), its
//! loss counts as its own (`is_lossy`): the video goes out twice with parities there (see
//! `copies`), which repairs runs as well, and only reports as bad as a flooded link's
//! reduce it. A link that turns out narrow too is found so by those copies
//! ([`Downlinks::narrow`]), and its reports count as before. So only a subscriber that
//! measures its downlink (an engine, [`Downlinks::measures`]) gets that: a browser gets no
//! copies, and a link that grew narrow under it would never be found.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::room::MemberId;

/// Loss (0..1) in a receiver report that counts as "the link does not carry this", and the
/// reports in a row that must say so. A link losing 17 % in runs said so in a third of its
/// reports: with two in a row, one call in five was reduced before its loss was found its
/// own, and often again on each try.
const BAD_LOSS: f32 = 0.10;
const BAD_REPORTS: u8 = 3;
/// Loss that says the link is flooded (one that carries half of what it is sent says
/// half; the radio's runs said up to 36 % now and then), and the reports in a row.
const FLOOD_LOSS: f32 = 0.30;
const FLOOD_REPORTS: u8 = 2;
/// Reports in a row saying it carries the video that make a link's loss its own.
const GOOD_REPORTS: u8 = 2;
/// How long a reduced subscriber waits before trying its layers again, at first and at most.
const FIRST_WAIT: Duration = Duration::from_secs(8);
const LONGEST_WAIT: Duration = Duration::from_secs(64);
/// A try that lasts this long without being reduced again succeeded: the wait starts over.
const TRY_HELD: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
struct Link {
    bad_reports: u8,
    flood_reports: u8,
    /// Reports in a row that said it carries the video.
    good_reports: u8,
    /// Its loss is its own (see the module's text)…
    lossy: bool,
    /// …which only a subscriber that measures its downlink can have.
    measures: bool,
    /// Reduced since then, until `wait` has passed.
    reduced: Option<Instant>,
    /// Trying the asked layers again since then.
    trying: Option<Instant>,
    wait: Duration,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            bad_reports: 0,
            flood_reports: 0,
            good_reports: 0,
            lossy: false,
            measures: false,
            reduced: None,
            trying: None,
            wait: FIRST_WAIT,
        }
    }
}

#[derive(Debug, Default)]
pub struct Downlinks {
    links: HashMap<MemberId, Link>,
}

impl Downlinks {
    /// A receiver report from `sub` on video it receives; true if it must be reduced now.
    pub fn report(&mut self, now: Instant, sub: MemberId, loss: f32) -> bool {
        let l = self.links.entry(sub).or_default();
        if l.reduced.is_some() {
            return false;
        }
        l.flood_reports = if loss >= FLOOD_LOSS {
            l.flood_reports + 1
        } else {
            0
        };
        if loss <= BAD_LOSS {
            l.bad_reports = 0;
            l.good_reports = l.good_reports.saturating_add(1);
            l.lossy |= l.measures && l.good_reports >= GOOD_REPORTS;
            if l.trying.is_some_and(|t| now >= t + TRY_HELD) {
                l.trying = None;
                l.wait = FIRST_WAIT;
            }
            return false;
        }
        l.good_reports = 0;
        l.bad_reports += 1;
        let bad = !l.lossy && l.bad_reports >= BAD_REPORTS;
        if !bad && l.flood_reports < FLOOD_REPORTS {
            return false;
        }
        l.bad_reports = 0;
        l.flood_reports = 0;
        if l.trying.take().is_some() {
            l.wait = (l.wait * 2).min(LONGEST_WAIT);
        }
        l.lossy = false;
        l.reduced = Some(now);
        true
    }

    /// `sub` measures what its downlink loses (`downlink_loss`).
    pub fn measures(&mut self, sub: MemberId) {
        self.links.entry(sub).or_default().measures = true;
    }

    /// Whether what `sub`'s link loses is its own, not a full queue's.
    pub fn is_lossy(&self, sub: MemberId) -> bool {
        self.links.get(&sub).is_some_and(|l| l.lossy)
    }

    /// Video sent twice did not fit `sub`'s link: its loss may be a full queue's after all.
    pub fn narrow(&mut self, sub: MemberId) {
        if let Some(l) = self.links.get_mut(&sub) {
            l.lossy = false;
            l.good_reports = 0;
        }
    }

    /// Whether `sub` gets less video now.
    pub fn is_reduced(&self, sub: MemberId) -> bool {
        self.links.get(&sub).is_some_and(|l| l.reduced.is_some())
    }

    /// Reduced subscribers whose wait is over: they try their layers again from now.
    pub fn due(&mut self, now: Instant) -> Vec<MemberId> {
        let mut due = Vec::new();
        for (sub, l) in &mut self.links {
            if l.reduced.is_some_and(|t| now >= t + l.wait) {
                l.reduced = None;
                l.trying = Some(now);
                due.push(*sub);
            }
        }
        due
    }

    /// When [`due`](Self::due) next has something.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.links
            .values()
            .filter_map(|l| l.reduced.map(|t| t + l.wait))
            .min()
    }

    pub fn forget(&mut self, member: MemberId) {
        self.links.remove(&member);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: MemberId = MemberId(1);

    /// Reports `loss` once a second for `secs` from `t`; returns when it was reduced and
    /// when it tried again.
    fn run(d: &mut Downlinks, t: &mut Instant, secs: u64, loss: f32) -> (Vec<u64>, Vec<u64>) {
        let start = *t;
        let (mut reduced, mut tried) = (Vec::new(), Vec::new());
        for _ in 0..secs {
            *t += Duration::from_secs(1);
            if !d.due(*t).is_empty() {
                tried.push((*t - start).as_secs());
            }
            // While reduced, the small layer fits: no loss.
            let l = if d.is_reduced(SUB) { 0.0 } else { loss };
            if d.report(*t, SUB, l) {
                reduced.push((*t - start).as_secs());
            }
        }
        (reduced, tried)
    }

    #[test]
    fn a_good_link_is_never_reduced_and_one_bad_report_is_a_burst() {
        let mut d = Downlinks::default();
        let mut t = Instant::now();
        assert_eq!(run(&mut d, &mut t, 30, 0.02), (vec![], vec![]));
        assert!(!d.report(t, SUB, 0.5), "one bad report");
        assert!(!d.report(t, SUB, 0.0));
        assert!(!d.report(t, SUB, 0.5));
        assert!(!d.is_reduced(SUB));
        // Less than a flood: three in a row (it carried the video before: not even then).
        let mut d = Downlinks::default();
        assert_eq!(run(&mut d, &mut t, 3, 0.2).0, vec![3]);
        let mut d = Downlinks::default();
        d.measures(SUB);
        run(&mut d, &mut t, 2, 0.0);
        assert!(run(&mut d, &mut t, 10, 0.2).0.is_empty());
    }

    #[test]
    fn a_link_whose_reports_say_it_carries_the_video_loses_on_its_own() {
        let mut d = Downlinks::default();
        let mut t = Instant::now();
        // A browser's: its loss never counts as its own.
        run(&mut d, &mut t, 5, 0.0);
        assert!(!d.is_lossy(SUB));
        assert_eq!(run(&mut d, &mut t, 3, 0.17).0, vec![3]);
        let mut d = Downlinks::default();
        d.measures(SUB);
        assert!(!d.is_lossy(SUB), "not before it reported");
        run(&mut d, &mut t, 1, 0.05);
        assert!(!d.is_lossy(SUB), "one report can be luck");
        run(&mut d, &mut t, 1, 0.08);
        assert!(d.is_lossy(SUB));
        // Its runs now and then say more than a tenth, a few times in a row: no reason.
        assert_eq!(run(&mut d, &mut t, 4, 0.17), (vec![], vec![]));
        assert!(d.is_lossy(SUB));
        // Flooded: reduced, its loss was the video's.
        assert_eq!(run(&mut d, &mut t, 2, 0.5).0, vec![2]);
        assert!(d.is_reduced(SUB) && !d.is_lossy(SUB));
        // Its layers again; copies turn out not to fit: a tenth counts again.
        run(&mut d, &mut t, 10, 0.0);
        assert!(d.is_lossy(SUB));
        d.narrow(SUB);
        assert!(!d.is_lossy(SUB));
        assert_eq!(run(&mut d, &mut t, 3, 0.17).0, vec![3]);
    }

    #[test]
    fn a_bad_link_is_reduced_and_tried_again_ever_less_often() {
        let mut d = Downlinks::default();
        let mut t = Instant::now();
        let (reduced, tried) = run(&mut d, &mut t, 130, 0.4);
        // Reduced after two reports; tries after 8, 16, 32, 64 s, each failing in 2 s.
        assert_eq!(reduced, vec![2, 11, 28, 61, 126]);
        assert_eq!(tried, vec![10, 27, 60, 125]);
        assert_eq!(d.next_deadline(), Some(t + Duration::from_secs(60)));
    }

    #[test]
    fn a_link_that_got_better_keeps_its_layers() {
        let mut d = Downlinks::default();
        let mut t = Instant::now();
        run(&mut d, &mut t, 3, 0.4);
        assert!(d.is_reduced(SUB));
        let (reduced, tried) = run(&mut d, &mut t, 30, 0.0);
        assert_eq!((reduced, tried), (vec![], vec![7]));
        assert!(!d.is_reduced(SUB));
        // The wait started over: in a later bad spell the first try comes after 8 s again.
        let (reduced, tried) = run(&mut d, &mut t, 12, 0.4);
        assert_eq!((reduced, tried), (vec![2, 11], vec![10]));
    }
}
