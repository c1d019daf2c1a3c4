//! A video send rate that follows the loss the receiver reports: the loss-based half of
//! congestion control. (A delay-based estimate from every packet reads the moments a busy
//! 2-core machine delays packets as congestion and squeezed screen shares on a clean
//! loopback; loss does not lie that way.) Loss from a bandwidth cap grows with what is sent
//! over it and goes away below it; loss from a bad radio stays whatever is sent. So a cut
//! goes to just under what got through, and when loss stays about as high after a cut, it is
//! the link's own: the rate holds instead of sinking to the floor, and RED, FEC and resends
//! deal with the loss. From then on the loss's running average, not each report, says
//! whether it rose again.
//! - Once limited, the rate also comes down a little when every recent round trip is well
//!   over the least one: a standing queue, which would overflow soon and, meanwhile, delays
//!   the audio that shares it.
//! - It stays a little under the rate that last went wrong, and only now and then probes
//!   past it.
//! - While the link loses packets, it leaves room for repairs: str0m gives a missing packet
//!   up once 100 newer ones are in, so those 100 must span three of the longest recent round
//!   trips.
//! - While the stream goes out twice its reports hide the loss, so they cannot say where
//!   the link is: it grows slowly then, and stays under where its copies did not fit
//!   ([`crate::fit::CopiesCeiling`]).

use std::time::Duration;

use crate::fit::CopiesCeiling;
use crate::rtt::RoundTrips;

/// Loss above which the rate is cut…
const CUT_ABOVE: f32 = 0.03;
/// …and below which it grows (between the two it holds).
const GROW_BELOW: f32 = 0.02;
/// A cut goes this far under what got through (the receiver's share of what was sent).
const UNDER_DELIVERED: f64 = 0.9;
/// Growth per report (about one a second), and at least this much. Near the rate that last
/// lost packets or queued them (the cap is probably there) it holds, and after
/// `PROBE_AFTER` reports grows by the least: each probe past the cap costs a queue that
/// fills, so the other streams' packets wait.
const GROWTH: f64 = 1.08;
const MIN_GROWTH_BPS: u64 = 10_000;
const NEAR_CEILING: f64 = 0.9;
const PROBE_AFTER: u8 = 30;
/// Where a cut puts the rate that went wrong: what was sent, but no more than this much over
/// what got through (a send rate far over the link, as a camera starting too high, says
/// little about where the link is).
const CEILING_OVER_DELIVERED: f64 = 1.25;
/// After a cut, loss within these bounds of the loss that caused it is the link's own.
const SAME_LOSS: (f32, f32) = (0.6, 1.5);
/// Once the loss is judged the link's own, only a clear rise of its running average is
/// congestion again: more than this factor of it, plus this much.
const OWN_RISE: (f32, f32) = (1.5, 0.05);
/// How much of the running average of the link's own loss a report moves.
const OWN_WEIGHT: f32 = 0.3;
/// The report right after a cut still covers time before it (and a queue draining): it
/// does not cut again.
const REPORTS_BETWEEN_CUTS: u8 = 2;
/// Round trips all this much over the least one mean a standing queue (more than a busy
/// machine's scheduling adds, or a keyframe's burst): the rate comes down a little.
const QUEUE_DRAINS: Duration = Duration::from_millis(60);
const DRAIN: f64 = 0.92;
/// Below this a picture is not worth sending.
pub const FLOOR_BPS: u64 = 50_000;
/// str0m's receiver asks for a missing packet again only until 100 newer ones have come in
/// (fixed in str0m); after that the packet is lost for good and the picture stops until a
/// keyframe. While the link loses packets, the rate leaves room for this many of the
/// longest recent round trips within those 100 packets (20 calls at 20 % loss and 0–700 ms
/// of jitter: 92–113 freezes with room for two, 68–72 with three, at a quarter less
/// bitrate)…
const NACK_WINDOW_PACKETS: u64 = 100;
const REPAIR_TRIES: f64 = 3.0;
/// …for this many reports after the last one that said so.
const LOSSY_FOR: u8 = 10;
/// Until the stream's own packets say otherwise (str0m's usual video packet).
const PACKET_BYTES: u64 = 1_100;

/// The send rate of one video stream, from its receiver reports.
#[derive(Debug, Clone)]
pub struct LossRate {
    /// None: no limit (nothing lost lately).
    limit: Option<u64>,
    /// The loss that caused the last cut, until a report without loss.
    cut_at: Option<f32>,
    /// Once a report after a cut said the loss stayed: (the loss then, the running average
    /// since), until a report without loss.
    own: Option<(f32, f32)>,
    /// The rate that last lost packets or built a queue.
    ceiling: Option<u64>,
    /// Reports since the last cut.
    since_cut: u8,
    round_trips: RoundTrips,
    /// Reports since one said the link loses packets ([`observe`](Self::observe)).
    since_loss: u8,
    /// The mean size of the stream's packets.
    packet_bytes: u64,
    /// The most the repair window allows, while it is below what the encoder wants.
    window: Option<u64>,
    /// While the stream goes out twice: the most its copies may send.
    copies: CopiesCeiling,
}

impl Default for LossRate {
    fn default() -> Self {
        LossRate {
            limit: None,
            cut_at: None,
            own: None,
            ceiling: None,
            since_cut: u8::MAX,
            round_trips: RoundTrips::default(),
            since_loss: u8::MAX,
            packet_bytes: PACKET_BYTES,
            window: None,
            copies: CopiesCeiling::default(),
        }
    }
}

impl LossRate {
    /// A receiver report: `loss` (0..1) of what was sent since the last one and the round
    /// trip time it measured, while the encoder wants `wanted_bps`. Returns the limit now
    /// (None: send what it wants).
    pub fn report(&mut self, loss: f32, rtt: Option<Duration>, wanted_bps: u64) -> Option<u64> {
        if let Some(r) = rtt {
            self.round_trips.push(r);
        }
        // What the stream sent since the last report: the loss is of that.
        let rate = self.sending(wanted_bps);
        self.copies.sent(rate);
        self.window = self
            .repair_window()
            .filter(|w| *w < wanted_bps && self.since_loss < LOSSY_FOR);
        let wanted_bps = self.window.unwrap_or(wanted_bps);
        let queued = self.round_trips.queued();
        let settled = self.since_cut >= REPORTS_BETWEEN_CUTS || self.cut_at.is_none();
        self.since_cut = self.since_cut.saturating_add(1);
        if loss > CUT_ABOVE && !settled {
            // Too early to tell what the last cut did.
        } else if loss > CUT_ABOVE {
            // A second's report counts some 50 audio packets: at 20 % random loss one reads
            // 9–31 %. Judged on single reports, every stray one cut again and the camera sank
            // to the floor within a minute; once the loss has shown itself the link's own,
            // its running average decides.
            let links_own = match self.own {
                Some((at, average)) => {
                    let average = average + OWN_WEIGHT * (loss - average);
                    self.own = Some((at, average));
                    average <= OWN_RISE.0 * at + OWN_RISE.1
                }
                None => self
                    .cut_at
                    .is_some_and(|at| loss >= SAME_LOSS.0 * at && loss <= SAME_LOSS.1 * at),
            };
            if links_own && self.own.is_none() {
                let at = self.cut_at.map_or(loss, |c| (c + loss) / 2.0);
                self.own = Some((at, at));
            }
            if !links_own {
                self.own = None;
                let delivered = rate as f64 * f64::from(1.0 - loss);
                self.limit = Some(((delivered * UNDER_DELIVERED) as u64).max(FLOOR_BPS));
                self.cut_at = Some(loss);
                // The link is near what got through, not where what was sent was: a
                // camera starting at 1.2 Mbit/s on a 500 kbit/s uplink, cut to 280 kbit/s,
                // grew back to 560 within 8 s under a ceiling of 1.2 Mbit/s.
                let near_delivered = (delivered * CEILING_OVER_DELIVERED) as u64;
                self.ceiling = Some(rate.min(near_delivered).max(FLOOR_BPS));
                self.since_cut = 0;
            }
        } else if loss < GROW_BELOW && queued > QUEUE_DRAINS {
            // Packets wait in a queue on the way: we send a little more than gets through.
            // The rate comes down a little so that the queue drains before it overflows.
            self.cut_at = None;
            self.own = None;
            if self.limit.is_some() {
                self.limit = Some(((rate as f64 * DRAIN) as u64).max(FLOOR_BPS));
                self.ceiling = Some(rate);
                self.since_cut = 0;
            }
        } else if loss < GROW_BELOW {
            self.cut_at = None;
            self.own = None;
            if let Some(limit) = self.limit {
                let fast = (limit as f64 * GROWTH) as u64;
                let near = self
                    .ceiling
                    .is_some_and(|c| fast as f64 > NEAR_CEILING * c as f64);
                let grown = match near {
                    // Close under where it went wrong: stay, and only now and then see
                    // whether the link carries more.
                    true if self.since_cut < PROBE_AFTER => limit,
                    true => limit + MIN_GROWTH_BPS,
                    false => fast.max(limit + MIN_GROWTH_BPS),
                };
                if self.ceiling.is_some_and(|c| grown > c) {
                    // Past it without loss: the link got better.
                    self.ceiling = None;
                }
                self.limit = (grown < wanted_bps).then_some(grown);
            }
        }
        self.limit()
    }

    /// The stream goes out twice, wanting `wanted_bps` (see [`CopiesCeiling`]).
    pub fn copies_going(&mut self, wanted_bps: u64) {
        self.copies.going(self.sending(wanted_bps));
    }

    /// Its copies do not fit the link (`sure`), or may not (see [`CopiesCeiling::flood`]):
    /// the limit if it came down.
    pub fn copies_flood(&mut self, wanted_bps: u64, sure: bool) -> Option<u64> {
        self.copies.flood(self.sending(wanted_bps), sure)?;
        self.limit()
    }

    /// What the stream sends now while it wants `wanted_bps`.
    fn sending(&self, wanted_bps: u64) -> u64 {
        self.limit().unwrap_or(wanted_bps).min(wanted_bps)
    }

    /// The stream no longer goes out twice.
    pub fn copies_stopped(&mut self) {
        self.copies = CopiesCeiling::default();
    }

    /// What the stream may send now (None: what it wants).
    pub fn limit(&self) -> Option<u64> {
        [self.limit, self.window, self.copies.get()]
            .into_iter()
            .flatten()
            .min()
    }

    /// What a report says besides the loss [`report`](Self::report) judges: the loss as
    /// reported (late packets included: they too are lost once 100 newer ones are in), and
    /// how long the stream's packets are on average.
    pub fn observe(&mut self, reported_loss: f32, packet_bytes: Option<u64>) {
        self.since_loss = if reported_loss > GROW_BELOW {
            0
        } else {
            self.since_loss.saturating_add(1)
        };
        if let Some(b) = packet_bytes {
            self.packet_bytes = b.max(1);
        }
    }

    /// The most that leaves three of the longest recent round trips within str0m's window of
    /// 100 packets (None: no round trip measured yet).
    fn repair_window(&self) -> Option<u64> {
        let longest = self.round_trips.longest()?.as_secs_f64().max(0.001);
        let bps = (NACK_WINDOW_PACKETS * self.packet_bytes * 8) as f64 / (REPAIR_TRIES * longest);
        Some((bps as u64).max(FLOOR_BPS))
    }

    /// Whether the latest round trip says packets wait in a queue (more than a busy
    /// machine's scheduling adds): the link may be full even where no cut says so yet.
    pub fn queueing(&self) -> bool {
        !self.round_trips.jittery() && self.round_trips.queueing(QUEUE_DRAINS)
    }

    /// Whether the round trips swing as on a jittery link (a full cap holds them steady).
    pub fn jittery(&self) -> bool {
        self.round_trips.jittery()
    }

    /// Whether the rate was just cut for congestion (this report or the two after it, which
    /// still cover time before the cut took effect): loss other streams on the link see
    /// meanwhile is ours, and the cut deals with it.
    pub fn congested(&self) -> bool {
        self.since_cut <= REPORTS_BETWEEN_CUTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reports from a link that carries `cap` and loses `random` of what it carries, for a
    /// sender that wants `wanted`; returns the limits.
    fn run(cap: u64, random: f32, wanted: u64, reports: usize) -> Vec<Option<u64>> {
        let mut r = LossRate::default();
        (0..reports)
            .map(|_| {
                let sent = r.limit().unwrap_or(wanted);
                let over = sent.saturating_sub(cap) as f32 / sent as f32;
                let loss = over + (1.0 - over) * random;
                r.report(loss, None, wanted)
            })
            .collect()
    }

    #[test]
    fn a_clean_wide_link_sets_no_limit() {
        assert!(
            run(10_000_000, 0.0, 1_200_000, 30)
                .iter()
                .all(Option::is_none)
        );
    }

    #[test]
    fn under_a_cap_the_rate_drops_below_it_at_once_and_stays_near_it() {
        let limits = run(500_000, 0.0, 1_200_000, 60);
        let first = limits[0].expect("a limit");
        assert!(first < 500_000, "first cut to {first}");
        let settled: Vec<u64> = limits[10..].iter().map(|l| l.expect("limited")).collect();
        // Probing for more goes over now and then, by a little; on average it stays under.
        assert!(
            settled.iter().all(|l| (400_000..=525_000).contains(l)),
            "{limits:?}"
        );
        let mean = settled.iter().sum::<u64>() / settled.len() as u64;
        assert!(mean < 500_000, "{mean}: {limits:?}");
    }

    #[test]
    fn a_rate_far_over_the_link_does_not_grow_back_far_over_it() {
        // A camera starting at 1.2 Mbit/s on an uplink that carries 300 kbit/s of it: three
        // quarters lost. Then resends fill in what is lost, and reports read clean.
        let mut r = LossRate::default();
        let cut = r.report(0.75, None, 1_200_000).expect("cut");
        assert!((250_000..300_000).contains(&cut), "{cut}");
        let limits: Vec<u64> = (0..29)
            .map(|_| r.report(0.0, None, 1_200_000).expect("limited"))
            .collect();
        // It grew 8 % a report up to 560 kbit/s under a ceiling of what was sent.
        assert!(limits.iter().all(|l| *l <= 375_000), "{limits:?}");
        assert!(limits[28] > cut, "{limits:?}");
    }

    #[test]
    fn random_loss_cuts_once_then_holds() {
        let limits = run(10_000_000, 0.2, 1_200_000, 30);
        let after_first = limits[0].expect("cut");
        assert!(after_first > 700_000, "{after_first}");
        assert!(limits.iter().all(|l| *l == Some(after_first)), "{limits:?}");
    }

    #[test]
    fn random_loss_that_varies_from_report_to_report_does_not_sink_the_rate() {
        // 20 % random loss as one-second reports of some 50 packets read it (binomial).
        let mut x = 7u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as f32 / (1u64 << 31) as f32
        };
        let mut r = LossRate::default();
        let mut limits = Vec::new();
        for _ in 0..300 {
            let lost = (0..50).filter(|_| next() < 0.2).count();
            limits.push(r.report(lost as f32 / 50.0, None, 1_200_000));
        }
        let first = limits[0].expect("cut");
        let last = limits[299].expect("limited");
        assert!(last * 10 >= first * 7, "{first} -> {last}: {limits:?}");
    }

    #[test]
    fn while_copies_go_the_rate_grows_slowly_and_stays_under_where_they_did_not_fit() {
        // Copies hide the loss: the reports read clean while the link floods.
        let mut r = LossRate::default();
        r.report(0.3, None, 600_000);
        let before = r.limit().expect("cut");
        r.copies_going(600_000);
        let grown: Vec<u64> = (0..5)
            .map(|_| r.report(0.0, None, 600_000).expect("limited"))
            .collect();
        // The loss-based rate grows 8 % a report; with copies, 2 %.
        assert!(grown[4] < before * 111 / 100, "{before} -> {grown:?}");
        assert!(grown[4] > before, "{before} -> {grown:?}");
        let cut = r.copies_flood(600_000, true).expect("cut");
        assert!(cut < before, "{before} -> {cut}");
        for _ in 0..20 {
            assert_eq!(r.report(0.0, None, 600_000), Some(cut));
        }
        // Once the copies stop, the loss-based rate alone limits it.
        r.copies_stopped();
        assert!(r.report(0.0, None, 600_000).is_none_or(|l| l > cut));
    }

    #[test]
    fn a_cut_marks_congestion_until_it_has_had_its_effect() {
        let mut r = LossRate::default();
        assert!(!r.congested());
        r.report(0.4, None, 1_000_000);
        assert!(r.congested());
        r.report(0.0, None, 1_000_000);
        assert!(
            r.congested(),
            "the next report may still cover time before the cut"
        );
        r.report(0.0, None, 1_000_000);
        r.report(0.0, None, 1_000_000);
        assert!(!r.congested(), "the loss is gone");
        r.report(0.4, None, 1_000_000);
        assert!(r.congested());
        for _ in 0..2 {
            r.report(0.4, None, 1_000_000);
            assert!(r.congested(), "too early to tell");
        }
        r.report(0.4, None, 1_000_000);
        assert!(
            !r.congested(),
            "the loss stays after the cut: the link's own"
        );
    }

    #[test]
    fn a_standing_queue_brings_the_rate_down_a_little_and_a_burst_does_not() {
        let ms = |m| Some(Duration::from_millis(m));
        let mut r = LossRate::default();
        let cut = r.report(0.3, ms(20), 1_000_000).expect("cut");
        // A keyframe's burst makes one round trip long: no queue.
        for rtt in [20, 150, 20, 20] {
            r.report(0.0, ms(rtt), 1_000_000);
        }
        let before = r.limit().expect("limited");
        assert!(before > cut, "grew while clean: {before}");
        // Every round trip 100 ms longer: a queue builds up.
        for _ in 0..5 {
            r.report(0.0, ms(120), 1_000_000);
        }
        let after = r.limit().expect("limited");
        assert!(
            after < before && after as f64 >= before as f64 * 0.9,
            "{before} -> {after}"
        );
        assert!(r.congested());
    }

    #[test]
    fn round_trips_that_jitter_are_not_a_queue() {
        let ms = |m| Some(Duration::from_millis(m));
        let mut r = LossRate::default();
        let cut = r.report(0.3, ms(20), 1_000_000).expect("cut");
        // 0–700 ms of jitter each way: round trips anywhere from 20 ms to 1.4 s.
        let mut limits = Vec::new();
        for rtt in [
            400, 1100, 250, 900, 1300, 380, 700, 1200, 450, 1000, 300, 800,
        ] {
            limits.push(r.report(0.0, ms(rtt), 1_000_000));
        }
        let last = limits.last().copied().flatten();
        assert!(last.is_none_or(|l| l > cut), "{cut} -> {limits:?}");
    }

    #[test]
    fn a_lossy_link_with_long_round_trips_leaves_room_for_repairs() {
        let mut r = LossRate::default();
        let report = |r: &mut LossRate, reported: f32, rtt: u64| {
            r.observe(reported, Some(1_000));
            r.report(0.0, Some(Duration::from_millis(rtt)), 1_200_000)
        };
        // Clean, however long the round trips: no limit.
        for _ in 0..5 {
            assert_eq!(report(&mut r, 0.0, 1_250), None);
        }
        // Lossy with round trips up to 1.25 s: 100 packets of 1,000 bytes take at least
        // three of them, 213 kbit/s.
        let limit = report(&mut r, 0.1, 400).expect("limited");
        assert_eq!(limit, 213_333);
        // Short round trips leave room for all the camera wants, once the long ones are
        // out of the recent ten.
        for _ in 0..10 {
            report(&mut r, 0.1, 40);
        }
        assert_eq!(report(&mut r, 0.1, 40), None);
        // And the loss gone for ten reports, long round trips limit nothing either.
        report(&mut r, 0.1, 1_250);
        for _ in 0..9 {
            assert!(report(&mut r, 0.0, 1_250).is_some());
        }
        assert_eq!(report(&mut r, 0.0, 1_250), None);
    }

    #[test]
    fn when_loss_ends_the_limit_grows_back_and_goes_away() {
        let mut r = LossRate::default();
        r.report(0.5, None, 1_000_000);
        let mut reports = 0;
        while r.report(0.0, None, 1_000_000).is_some() {
            reports += 1;
            // Fast up to near where it lost, a while there, then probing past it.
            assert!(reports < 60, "still limited after 60 clean reports");
        }
    }
}
