//! Video goes out twice towards a subscriber whose downlink loses a tenth or more of it at
//! random, as a publisher's own video does on its uplink (see `roomcast_rtc::repair`), and
//! so do resends there. The subscriber measures what never arrived (`downlink_loss`): the
//! server's receiver reports cannot tell, as they count late packets lost and resent ones
//! received.
//!
//! A link too narrow for the video loses too, and copies only add to that:
//! - Its loss comes mostly in runs (a full queue drops what comes while it is full), random
//!   loss mostly scattered. Loss counts as random only where most of it is scattered, or
//!   where receiver reports say the link carries the video (a radio's runs: `downlink`'s
//!   `is_lossy`); then all of it counts, as the parities and asks that come with copies
//!   repair runs too.
//! - A link both narrow and lossy can still look random. While video goes out twice there,
//!   receiver reports keep saying a lot is lost (after copies, random loss leaves little):
//!   then the copies stop for a while.
//!
//! A subscriber losing at random is not moved to less video on its receiver reports (less
//! video does not lose less there); one that is moved (`downlink`) gets no copies.

use std::time::{Duration, Instant};

use roomcast_rtc::arrivals::Loss;
use roomcast_rtc::repair::{Repairs, VIDEO_TWICE_FROM};

use super::Worker;
use crate::room::MemberId;

/// While video goes out twice, receiver reports saying this much is lost, this many in a row,
/// mean the copies do not fit. After copies, random loss of 20–40 % with 0–700 ms of jitter
/// left 0–28 % in the reports, links too narrow for the copies 23–60 %.
const FULL_LOSS: f32 = 0.3;
const FULL_REPORTS: u8 = 2;
/// Copies that did not fit do not start again for this long, twice as long each time they
/// did not fit again.
const FULL_WAIT: Duration = Duration::from_secs(30);
const LONGEST_WAIT: Duration = Duration::from_secs(240);

/// The share of its video a link loses on its own, read back from copies (a packet sent
/// `transmissions` times is lost only if all were); 0 if its loss may be a full queue's.
/// `lossy`: its loss is not a full queue's.
fn random_loss(loss: Loss, transmissions: u8, lossy: bool) -> f32 {
    let root = 1.0 / f32::from(transmissions);
    if lossy || loss.mostly_scattered() {
        return loss.own().powf(root);
    }
    // Too little loss to tell its shape from a second's packets: it is small either way.
    if loss.lost.powf(root) >= VIDEO_TWICE_FROM {
        return 0.0;
    }
    loss.scattered.powf(root)
}

/// Whether video goes out twice towards one subscriber (sans-IO: time is a parameter).
#[derive(Debug)]
pub struct DownlinkCopies {
    /// Its last measure said its link loses at random (or video goes out twice).
    random: bool,
    /// Receiver reports in a row that said the copies do not fit.
    full_reports: u8,
    /// Copies did not fit: none until then…
    held_until: Option<Instant>,
    /// …and the wait after they next do not.
    wait: Duration,
    /// The subscriber measures its downlink (an engine; a browser does not).
    measured: bool,
}

impl Default for DownlinkCopies {
    fn default() -> Self {
        Self {
            random: false,
            full_reports: 0,
            held_until: None,
            wait: FULL_WAIT,
            measured: false,
        }
    }
}

impl DownlinkCopies {
    /// The subscriber measured `loss`; `reduced` if it gets less video for a narrow link,
    /// `lossy` if its loss is not a full queue's.
    pub fn measure(
        &mut self,
        now: Instant,
        loss: Loss,
        (reduced, lossy): (bool, bool),
        repairs: &mut Repairs,
    ) {
        self.measured = true;
        // Only an engine measures its downlink, and an engine rebuilds from parity.
        repairs.send_parity(true);
        let held = self.did_not_fit(now);
        let random = random_loss(loss, repairs.video_transmissions(), lossy);
        repairs.hold_video(reduced || held);
        repairs.judge_video(random);
        self.random = repairs.copying_video() || (random >= VIDEO_TWICE_FROM && !held);
        repairs.hold_resends(!self.random);
    }

    /// Whether copies did not fit lately (they wait to start again).
    pub fn did_not_fit(&self, now: Instant) -> bool {
        self.held_until.is_some_and(|t| now < t)
    }

    /// Whether the subscriber measures its downlink, so that a narrow link is told from a
    /// lossy one.
    pub fn measured(&self) -> bool {
        self.measured
    }

    /// A receiver report from the subscriber on video: whether it counts for telling a
    /// narrow link. Not while the link loses at random, nor while video goes out twice (what
    /// copies that do not fit lose, the link would not without them).
    pub fn report(&mut self, now: Instant, loss: f32, repairs: &mut Repairs) -> bool {
        if !repairs.copying_video() {
            self.full_reports = 0;
            return !self.random;
        }
        self.full_reports = if loss >= FULL_LOSS {
            self.full_reports + 1
        } else {
            0
        };
        if self.full_reports >= FULL_REPORTS {
            self.full_reports = 0;
            self.held_until = Some(now + self.wait);
            self.wait = (self.wait * 2).min(LONGEST_WAIT);
            self.random = false;
            repairs.hold_video(true);
            repairs.hold_resends(true);
        }
        false
    }
}

impl Worker {
    /// `member` measured what its video downlink lost.
    pub(super) fn downlink_loss(&mut self, now: Instant, member: MemberId, loss: Loss) {
        self.downlinks.measures(member);
        let link = (
            self.downlinks.is_reduced(member),
            self.downlinks.is_lossy(member),
        );
        if let Some(peer) = self.members.get_mut(&member).and_then(|m| m.peer.as_mut()) {
            peer.copies.measure(now, loss, link, &mut peer.repairs);
        }
    }

    /// A receiver report on video from `member`: whether it may say the link is narrow.
    pub(super) fn narrow_downlink(&mut self, now: Instant, member: MemberId, loss: f32) -> bool {
        let Some(peer) = self.members.get_mut(&member).and_then(|m| m.peer.as_mut()) else {
            return true;
        };
        let counts = peer.copies.report(now, loss, &mut peer.repairs);
        if peer.copies.did_not_fit(now) {
            self.downlinks.narrow(member);
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss(lost: f32, scattered: f32) -> Loss {
        Loss::reported(lost, scattered)
    }

    /// Measures `m` once a second for `secs`; whether video went out twice at the end.
    fn measure(c: &mut DownlinkCopies, r: &mut Repairs, t: &mut Instant, secs: u32, m: Loss) {
        for _ in 0..secs {
            *t += Duration::from_secs(1);
            c.measure(*t, m, (false, false), r);
        }
    }

    #[test]
    fn random_loss_is_told_from_runs_and_read_back_from_copies() {
        assert_eq!(random_loss(loss(0.2, 0.16), 1, false), 0.16);
        // A narrow link: half lost, mostly in runs.
        assert_eq!(random_loss(loss(0.5, 0.12), 1, false), 0.0);
        // A radio's runs, found its own: all of it.
        assert_eq!(random_loss(loss(0.17, 0.05), 1, true), 0.17);
        // Copied, 4 % lost both times is 20 % of the link.
        assert!((random_loss(loss(0.04, 0.04), 2, false) - 0.2).abs() < 1e-6);
        // Too little to tell its shape.
        assert_eq!(random_loss(loss(0.005, 0.001), 2, false), 0.001f32.sqrt());
    }

    #[test]
    fn random_loss_copies_video_and_resends_and_is_no_reason_to_reduce() {
        let (mut c, mut r, mut t) = (
            DownlinkCopies::default(),
            Repairs::default(),
            Instant::now(),
        );
        assert!(c.report(t, 0.15, &mut r), "a clean link's reports count");
        measure(&mut c, &mut r, &mut t, 2, loss(0.2, 0.16));
        assert!(!r.copying_video(), "copies start after three measures");
        assert!(!c.report(t, 0.15, &mut r), "random loss does not reduce");
        measure(&mut c, &mut r, &mut t, 1, loss(0.2, 0.16));
        r.report(t, 0.2);
        assert!(r.copying_video() && r.copying_resends());
        // Copied, 4 % is lost both times: the link still loses 20 %, copies go on.
        measure(&mut c, &mut r, &mut t, 10, loss(0.04, 0.04));
        assert!(r.copying_video());
        assert!(!c.report(t, 0.1, &mut r));
        // Reduced for a narrow link after all: no copies.
        t += Duration::from_secs(1);
        c.measure(t, loss(0.04, 0.04), (true, false), &mut r);
        assert!(!r.copying_video());
    }

    #[test]
    fn a_narrow_link_gets_no_copies_and_copies_that_do_not_fit_stop() {
        let (mut c, mut r, mut t) = (
            DownlinkCopies::default(),
            Repairs::default(),
            Instant::now(),
        );
        measure(&mut c, &mut r, &mut t, 5, loss(0.5, 0.12));
        r.report(t, 0.5);
        assert!(!r.copying_video() && !r.copying_resends());
        assert!(c.report(t, 0.5, &mut r), "a narrow link's reports count");
        // Narrow and lossy: it looked random, but twice the video loses 45 %.
        measure(&mut c, &mut r, &mut t, 3, loss(0.2, 0.16));
        assert!(r.copying_video());
        assert!(!c.report(t, 0.45, &mut r), "one report can be a burst");
        assert!(r.copying_video());
        assert!(!c.report(t, 0.45, &mut r), "what copies lose is theirs");
        assert!(!r.copying_video() && !r.copying_resends());
        // Not again for a while, and its reports count meanwhile.
        measure(&mut c, &mut r, &mut t, 20, loss(0.2, 0.16));
        assert!(!r.copying_video());
        assert!(c.report(t, 0.15, &mut r));
        measure(&mut c, &mut r, &mut t, 15, loss(0.2, 0.16));
        assert!(r.copying_video(), "tried again once the wait is over");
        // Failing again, they wait twice as long.
        c.report(t, 0.45, &mut r);
        c.report(t, 0.45, &mut r);
        measure(&mut c, &mut r, &mut t, 50, loss(0.2, 0.16));
        assert!(!r.copying_video());
        measure(&mut c, &mut r, &mut t, 15, loss(0.2, 0.16));
        assert!(r.copying_video());
    }
}
