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
//!   the copies do not fit. Then the subscriber gets the small layers of the publishers
//!   that send them, and their copies, for a while ([`DownlinkCopies::small`]). Where there
//!   are none, or the small layers' copies do not fit either, the copies stop for a while.
//!   A big layer sent once on a link losing a fifth at random froze: at 1 Mbit/s, 20 % and
//!   0–700 ms of jitter, 77 freezes over 500 ms in 24 calls, the picture 2.4 s behind; the
//!   small layer copied, none, 0.9 s behind. Each try of the big layers again floods the
//!   link for a few seconds and costs 3–4 freezes, so the waits are long ([`SMALL_WAIT`]).
//!
//! A subscriber losing at random is not moved to less video on its receiver reports (less
//! video does not lose less there); one that is moved (`downlink`) gets no copies.

use std::time::{Duration, Instant};

use roomcast_proto::{MediaKind, Stream};
use roomcast_rtc::arrivals::Loss;
use roomcast_rtc::fit::{FULL_LOSS, SETTLE};
use roomcast_rtc::repair::{Repairs, VIDEO_TWICE_FROM};

use super::Worker;
use crate::room::MemberId;

/// While video goes out twice, receiver reports (or measures) saying [`FULL_LOSS`] is lost,
/// this many in a row, mean the copies do not fit. After copies, random loss of 20–40 % with
/// 0–700 ms of jitter left 0–28 % in the reports, links too narrow for the copies 23–60 %.
const FULL_REPORTS: u8 = 2;
/// Big layers tried again after small ones are judged on one report (or measure) for this
/// long: on two, each try cost 4–7 freezes, on one 3–4 (3-minute calls at 1 Mbit/s and 20 %:
/// 78 freezes in 16 calls, 63).
const TRY: Duration = Duration::from_secs(10);
/// Copies that did not fit do not start again for this long, twice as long each time they
/// did not fit again.
const FULL_WAIT: Duration = Duration::from_secs(30);
const LONGEST_WAIT: Duration = Duration::from_secs(240);
/// Small layers whose copies fit are kept this long before big ones are tried again (while
/// the link still loses enough for copies), twice as long each time they did not fit again.
/// Each try floods the link for 3–4 s, and the picture froze 4–7 times before it was back
/// on small layers: with a 30 s wait, as often as a big layer sent once had frozen.
const SMALL_WAIT: Duration = Duration::from_secs(60);

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

/// One more report (or measure) that says copies do not fit (`full`) or fit: how many in a
/// row have said so.
fn run_of(count: &mut u8, full: bool) -> u8 {
    *count = if full { count.saturating_add(1) } else { 0 };
    *count
}

/// Whether video goes out twice towards one subscriber (sans-IO: time is a parameter).
#[derive(Debug)]
pub struct DownlinkCopies {
    /// Its last measure said its link loses at random (or video goes out twice).
    random: bool,
    /// Receiver reports in a row that said the copies do not fit…
    full_reports: u8,
    /// …and the subscriber's own measures…
    full_measures: u8,
    /// …which count from then (they lag: those just after copies start are of video sent
    /// once).
    measures_from: Option<Instant>,
    /// Video went out twice at the last measure.
    copying: bool,
    /// Copies did not fit: none until then…
    held_until: Option<Instant>,
    /// Big layers' copies did not fit: small layers until then…
    small_until: Option<Instant>,
    /// …and reports before this do not count…
    settled_at: Option<Instant>,
    /// …and the wait after big ones next do not fit.
    small_wait: Duration,
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
            full_measures: 0,
            measures_from: None,
            copying: false,
            held_until: None,
            small_until: None,
            settled_at: None,
            small_wait: SMALL_WAIT,
            wait: FULL_WAIT,
            measured: false,
        }
    }
}

impl DownlinkCopies {
    /// The subscriber measured `loss`; `reduced` if it gets less video for a narrow link,
    /// `lossy` if its loss is not a full queue's, `big` if it gets a big layer that has a
    /// small one.
    pub fn measure(
        &mut self,
        now: Instant,
        loss: Loss,
        (reduced, lossy, big): (bool, bool, bool),
        repairs: &mut Repairs,
    ) {
        self.measured = true;
        // Only an engine measures its downlink, and an engine rebuilds from parity.
        repairs.send_parity(true);
        self.judge_fit(now, loss.lost, big, repairs);
        let held = self.did_not_fit(now);
        let random = random_loss(loss, repairs.video_transmissions(), lossy);
        repairs.hold_video(reduced || held);
        repairs.judge_video(random);
        self.random = repairs.copying_video() || (random >= VIDEO_TWICE_FROM && !held);
        if !repairs.copying_video() {
            // Small layers were for the copies' sake.
            self.small_until = None;
        }
        repairs.hold_resends(!self.random);
    }

    /// Whether copies did not fit lately (they wait to start again).
    pub fn did_not_fit(&self, now: Instant) -> bool {
        self.held_until.is_some_and(|t| now < t)
    }

    /// Whether the subscriber gets small layers now, so that their copies fit.
    pub fn small(&self, now: Instant) -> bool {
        self.small_until.is_some_and(|t| now < t)
    }

    /// Whether the subscriber measures its downlink, so that a narrow link is told from a
    /// lossy one.
    pub fn measured(&self) -> bool {
        self.measured
    }

    /// A receiver report from the subscriber on video: whether it counts for telling a
    /// narrow link. Not while the link loses at random, nor while video goes out twice (what
    /// copies that do not fit lose, the link would not without them). `big`: it gets a big
    /// layer that has a small one.
    pub fn report(&mut self, now: Instant, loss: f32, big: bool, repairs: &mut Repairs) -> bool {
        if !repairs.copying_video() {
            self.full_reports = 0;
            return !self.random;
        }
        if self.counts(now, repairs)
            && run_of(&mut self.full_reports, loss >= FULL_LOSS) >= self.full_after(now)
        {
            self.full(now, big, repairs);
        }
        false
    }

    /// The subscriber measured `lost` of the video. Copied, a link's random loss is lost
    /// about its square (40 % → 16 %); copies that lose as much as a link that does not carry
    /// them ([`FULL_LOSS`]), twice in a row, do not fit. At 2 Mbit/s and 20 % the receiver
    /// reports said 20–36 % for a minute where these said 50–65 %. The measures just after
    /// copies start are of video sent once.
    fn judge_fit(&mut self, now: Instant, lost: f32, big: bool, repairs: &mut Repairs) {
        if repairs.copying_video() && !self.copying {
            self.measures_from = Some(now + SETTLE);
        }
        self.copying = repairs.copying_video();
        if !self.counts(now, repairs) || self.measures_from.is_some_and(|t| now < t) {
            return;
        }
        if run_of(&mut self.full_measures, lost >= FULL_LOSS) >= self.full_after(now) {
            self.full(now, big, repairs);
        }
    }

    /// Whether what is lost now says whether copies fit: while they go out, and not just
    /// after a move to small layers.
    fn counts(&mut self, now: Instant, repairs: &Repairs) -> bool {
        let counts = repairs.copying_video() && self.settled_at.is_none_or(|t| now >= t);
        if !counts {
            self.full_measures = 0;
        }
        counts
    }

    /// How many reports (or measures) in a row say copies do not fit: one while big layers
    /// are tried again after small ones ([`TRY`]), where each second of a flood is freezes.
    fn full_after(&self, now: Instant) -> u8 {
        let trying = self.small_until.is_some_and(|t| now >= t && now < t + TRY);
        if trying { 1 } else { FULL_REPORTS }
    }

    /// The copies do not fit: small layers with theirs if it gets big ones, else none.
    fn full(&mut self, now: Instant, big: bool, repairs: &mut Repairs) {
        self.full_reports = 0;
        self.full_measures = 0;
        if big && !self.small(now) {
            self.small_until = Some(now + self.small_wait);
            self.small_wait = (self.small_wait * 2).min(LONGEST_WAIT);
            // What is lost for a while after the move is what the big ones left queued
            // (the subscriber's measures lag its receiver reports by a second or two): with
            // 3 s, the small layers' copies were judged on the big ones' loss and stopped.
            self.settled_at = Some(now + SETTLE);
            return;
        }
        self.small_until = None;
        self.held_until = Some(now + self.wait);
        self.wait = (self.wait * 2).min(LONGEST_WAIT);
        self.random = false;
        repairs.hold_video(true);
        repairs.hold_resends(true);
    }
}

impl Worker {
    /// `member` measured what its video downlink lost.
    pub(super) fn downlink_loss(&mut self, now: Instant, member: MemberId, loss: Loss) {
        self.downlinks.measures(member);
        let link = (
            self.downlinks.is_reduced(member),
            self.downlinks.is_lossy(member),
            self.layers.gets_big(member),
        );
        if let Some(peer) = self.members.get_mut(&member).and_then(|m| m.peer.as_mut()) {
            peer.copies.measure(now, loss, link, &mut peer.repairs);
        }
        self.small_for_repairs(now, member);
    }

    /// A receiver report on video from `member`: whether it may say the link is narrow.
    pub(super) fn narrow_downlink(&mut self, now: Instant, member: MemberId, loss: f32) -> bool {
        let Some(peer) = self.members.get_mut(&member).and_then(|m| m.peer.as_mut()) else {
            return true;
        };
        let big = self.layers.gets_big(member);
        let counts = peer.copies.report(now, loss, big, &mut peer.repairs);
        if peer.copies.did_not_fit(now) {
            self.downlinks.narrow(member);
        }
        self.small_for_repairs(now, member);
        counts
    }

    /// Moves `member` to small layers while their copies fit where big ones' did not, or
    /// back.
    fn small_for_repairs(&mut self, now: Instant, member: MemberId) {
        let Some(m) = self.members.get(&member) else {
            return;
        };
        let small = m.peer.as_ref().is_some_and(|p| p.copies.small(now));
        if small == self.layers.is_small_for_repairs(member) {
            return;
        }
        let room = m.room;
        for (user, layer) in self.layers.small_for_repairs(member, small) {
            self.request_keyframe(now, room, &user, MediaKind::Video, Stream::Main, layer);
        }
        self.update_demand(room);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss(lost: f32, scattered: f32) -> Loss {
        Loss::reported(lost, scattered)
    }

    /// Measures `m` once a second for `secs`.
    fn measure(c: &mut DownlinkCopies, r: &mut Repairs, t: &mut Instant, secs: u32, m: Loss) {
        for _ in 0..secs {
            *t += Duration::from_secs(1);
            c.measure(*t, m, (false, false, false), r);
        }
    }

    /// The same for a subscriber that gets a big layer that has a small one.
    fn measure_big(c: &mut DownlinkCopies, r: &mut Repairs, t: &mut Instant, secs: u32, m: Loss) {
        for _ in 0..secs {
            *t += Duration::from_secs(1);
            c.measure(*t, m, (false, false, !c.small(*t)), r);
        }
    }

    /// Copies going out after three measures of 20 % at random.
    fn copying() -> (DownlinkCopies, Repairs, Instant) {
        let (mut c, mut r, mut t) = (
            DownlinkCopies::default(),
            Repairs::default(),
            Instant::now(),
        );
        measure_big(&mut c, &mut r, &mut t, 3, loss(0.2, 0.16));
        assert!(r.copying_video());
        (c, r, t)
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
        assert!(
            c.report(t, 0.15, false, &mut r),
            "a clean link's reports count"
        );
        measure(&mut c, &mut r, &mut t, 2, loss(0.2, 0.16));
        assert!(!r.copying_video(), "copies start after three measures");
        assert!(
            !c.report(t, 0.15, false, &mut r),
            "random loss does not reduce"
        );
        measure(&mut c, &mut r, &mut t, 1, loss(0.2, 0.16));
        r.report(t, 0.2);
        assert!(r.copying_video() && r.copying_resends());
        // Copied, 4 % is lost both times: the link still loses 20 %, copies go on.
        measure(&mut c, &mut r, &mut t, 10, loss(0.04, 0.04));
        assert!(r.copying_video());
        assert!(!c.report(t, 0.1, false, &mut r));
        // Reduced for a narrow link after all: no copies.
        t += Duration::from_secs(1);
        c.measure(t, loss(0.04, 0.04), (true, false, false), &mut r);
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
        assert!(
            c.report(t, 0.5, false, &mut r),
            "a narrow link's reports count"
        );
        // Narrow and lossy: it looked random, but twice the video loses 45 %.
        measure(&mut c, &mut r, &mut t, 3, loss(0.2, 0.16));
        assert!(r.copying_video());
        assert!(
            !c.report(t, 0.45, false, &mut r),
            "one report can be a burst"
        );
        assert!(r.copying_video());
        assert!(
            !c.report(t, 0.45, false, &mut r),
            "what copies lose is theirs"
        );
        assert!(!r.copying_video() && !r.copying_resends());
        // Not again for a while, and its reports count meanwhile.
        measure(&mut c, &mut r, &mut t, 20, loss(0.2, 0.16));
        assert!(!r.copying_video());
        assert!(c.report(t, 0.15, false, &mut r));
        measure(&mut c, &mut r, &mut t, 15, loss(0.2, 0.16));
        assert!(r.copying_video(), "tried again once the wait is over");
        // Failing again, they wait twice as long.
        c.report(t, 0.45, false, &mut r);
        c.report(t, 0.45, false, &mut r);
        measure(&mut c, &mut r, &mut t, 50, loss(0.2, 0.16));
        assert!(!r.copying_video());
        measure(&mut c, &mut r, &mut t, 15, loss(0.2, 0.16));
        assert!(r.copying_video());
    }

    #[test]
    fn where_big_layers_copies_do_not_fit_small_layers_go_copied_for_a_while() {
        let (mut c, mut r, mut t) = copying();
        assert!(!c.report(t, 0.45, true, &mut r));
        assert!(!c.report(t, 0.45, true, &mut r));
        assert!(c.small(t) && r.copying_video() && !c.did_not_fit(t));
        // What the big layers left queued does not count.
        t += Duration::from_secs(1);
        c.report(t, 0.45, false, &mut r);
        c.report(t, 0.45, false, &mut r);
        assert!(c.small(t) && r.copying_video());
        // The small layers' copies fit; after a minute the big ones are tried again…
        measure_big(&mut c, &mut r, &mut t, 58, loss(0.04, 0.04));
        assert!(c.small(t));
        measure_big(&mut c, &mut r, &mut t, 2, loss(0.04, 0.04));
        assert!(!c.small(t) && r.copying_video());
        // …and when they do not fit again (one report says so while they are tried), the
        // small ones go twice as long.
        c.report(t, 0.5, true, &mut r);
        assert!(c.small(t));
        measure_big(&mut c, &mut r, &mut t, 115, loss(0.04, 0.04));
        assert!(c.small(t));
        measure_big(&mut c, &mut r, &mut t, 10, loss(0.04, 0.04));
        assert!(!c.small(t));
    }

    #[test]
    fn where_small_layers_copies_do_not_fit_either_there_are_none() {
        let (mut c, mut r, mut t) = copying();
        c.report(t, 0.45, true, &mut r);
        c.report(t, 0.45, true, &mut r);
        t += Duration::from_secs(6);
        c.report(t, 0.45, false, &mut r);
        c.report(t, 0.45, false, &mut r);
        assert!(!c.small(t) && !r.copying_video() && c.did_not_fit(t));
    }

    #[test]
    fn the_subscribers_measures_also_tell_copies_that_do_not_fit() {
        let (mut c, mut r, mut t) = copying();
        // Those just after copies start are of video sent once.
        measure_big(&mut c, &mut r, &mut t, 4, loss(0.4, 0.3));
        assert!(!c.small(t) && r.copying_video());
        // Copied, a link losing 40 % at random loses 16 %; these copies lose 40 %.
        measure_big(&mut c, &mut r, &mut t, 3, loss(0.4, 0.3));
        assert!(c.small(t) && r.copying_video());
    }

    #[test]
    fn small_layers_are_only_for_copies() {
        let (mut c, mut r, mut t) = copying();
        c.report(t, 0.45, true, &mut r);
        c.report(t, 0.45, true, &mut r);
        // The link stops losing: the copies stop, and so do the small layers.
        measure_big(&mut c, &mut r, &mut t, 12, loss(0.0, 0.0));
        assert!(!r.copying_video() && !c.small(t));
    }
}
