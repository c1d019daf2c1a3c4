//! How a sender of audio (a publishing client, or the server towards each subscriber) protects
//! it from the loss its receiver reports in RTCP receiver reports: a loss estimate that rises
//! at once and falls slowly, RFC 2198 redundancy (RED) on while the loss is worth the extra
//! bandwidth, and Opus in-band FEC tuned to the loss RED leaves (none). Both sides follow the same rule, so it lives
//! here.

/// Which earlier frames each RED packet repeats: the previous six, so a frame is lost only
/// if seven packets in a row are (0.02 % of frames at 30 % random loss, 0.8 % at 50 %), for
/// seven times the audio bitrate while RED is on. With four, 0.24 % and 3 % were lost: runs
/// of two to five frames in words, which took speech at 30 % loss each way from PESQ-WB 4.05
/// to 3.83 on average and to 2.3–2.9 in some real-socket calls, and at 50 % from 3.85 to 3.35.
pub const RED_DISTANCES: &[u32] = &[1, 2, 3, 4, 5, 6];

/// How often each side sends receiver reports for audio (str0m's default is 5 s: too slow to
/// follow a link that turns bad, and on a lossy link several in a row go missing) and has
/// str0m sum them up.
pub const REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// RED goes on at this smoothed loss…
const RED_ON: f32 = 0.02;
/// …and off again below this one (hysteresis: no flapping around one value).
const RED_OFF: f32 = 0.005;
/// How much of the old estimate a lower report keeps (per report, about one a second).
const DECAY: f32 = 0.85;

/// What a sender should do now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Protection {
    /// Wrap audio in RED (previous frames repeated in each packet).
    pub red: bool,
    /// Opus' expected packet loss, 0..=100 (drives how much in-band FEC it adds).
    pub fec_percent: u8,
}

/// The loss estimate of one sent stream and what follows from it.
#[derive(Debug, Clone, Default)]
pub struct LossProtection {
    loss: f32,
    red: bool,
    /// RED is on only until the first report, which decides without hysteresis.
    provisional: bool,
}

impl LossProtection {
    /// A clean link until reports say otherwise: no redundancy, no FEC.
    pub fn new() -> Self {
        Self::default()
    }

    /// RED on until the first report says the link is clean. Both senders start this way (a
    /// publisher on its uplink, the server towards each new subscriber): the first receiver
    /// report comes 1–3 s after media starts (later on a lossy link, where reports are lost
    /// too), and at 30 % loss those seconds were what cost a call its first words.
    pub fn provisional() -> Self {
        Self {
            loss: 0.0,
            red: true,
            provisional: true,
        }
    }

    /// The smoothed loss fraction, 0..=1.
    pub fn loss(&self) -> f32 {
        self.loss
    }

    /// Opus FEC follows the loss that RED leaves: with RED on, a frame whose next packet
    /// arrives comes back whole from that packet's redundancy (distance 1), so the in-band
    /// FEC in the same packet could never be used, while it costs the primary frames dearly
    /// (PESQ-WB of speech at 40 kbit/s: 4.11 with none, 3.64 at 10 %, 3.14 at 20 %).
    pub fn protection(&self) -> Protection {
        let uncovered = if self.red { 0.0 } else { self.loss };
        Protection {
            red: self.red,
            fec_percent: (uncovered * 100.0).round() as u8,
        }
    }

    /// The first report came, but its loss is not for redundancy to cover (the sender's own
    /// video caused it, and RED would only add to it): RED started before it ends.
    pub fn settle(&mut self) -> Protection {
        if std::mem::take(&mut self.provisional) {
            self.red = false;
        }
        self.protection()
    }

    /// A receiver report's fraction lost (0..=1) since the last one.
    pub fn report(&mut self, fraction: f32) -> Protection {
        let fraction = crate::loss_fraction(fraction);
        self.loss = if fraction >= self.loss {
            fraction
        } else {
            DECAY * self.loss + (1.0 - DECAY) * fraction
        };
        if self.loss >= RED_ON {
            self.red = true;
        } else if self.loss < RED_OFF || self.provisional {
            self.red = false;
        }
        self.provisional = false;
        self.protection()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_link_sends_neither_red_nor_fec() {
        let mut p = LossProtection::new();
        for _ in 0..10 {
            assert_eq!(
                p.report(0.0),
                Protection {
                    red: false,
                    fec_percent: 0
                }
            );
        }
    }

    #[test]
    fn loss_turns_red_on_at_once_and_fec_off_while_red_covers_it() {
        let mut p = LossProtection::new();
        let now = p.report(0.3);
        assert!(now.red);
        assert_eq!(now.fec_percent, 0);
        assert_eq!(p.report(0.7).fec_percent, 0);
    }

    #[test]
    fn below_the_red_threshold_fec_follows_the_loss() {
        let mut p = LossProtection::new();
        let now = p.report(0.015);
        assert!(!now.red);
        assert_eq!(now.fec_percent, 2);
    }

    #[test]
    fn red_stays_on_through_a_quiet_second_and_goes_off_once_loss_is_gone() {
        let mut p = LossProtection::new();
        p.report(0.1);
        assert!(p.report(0.0).red, "one clean report does not turn it off");
        let mut reports = 1;
        while p.report(0.0).red {
            reports += 1;
            assert!(reports < 30, "RED never went off");
        }
        // 10 % decays below 0.5 % in about 19 reports (~19 s).
        assert!((15..=25).contains(&reports), "{reports}");
        assert_eq!(p.protection().fec_percent, 0);
    }

    #[test]
    fn settling_ends_provisional_red_and_nothing_else() {
        let mut p = LossProtection::provisional();
        assert!(!p.settle().red);
        let mut p = LossProtection::new();
        p.report(0.3);
        assert!(p.settle().red, "RED a report asked for stays");
    }

    #[test]
    fn provisional_red_lasts_until_the_first_report() {
        let p = LossProtection::provisional();
        assert!(p.protection().red);
        assert_eq!(p.protection().fec_percent, 0);
        for (first, red) in [(0.0, false), (0.01, false), (0.05, true)] {
            let mut p = LossProtection::provisional();
            assert_eq!(p.report(first).red, red, "first report {first}");
        }
    }

    #[test]
    fn garbage_reports_are_clamped() {
        let mut p = LossProtection::new();
        assert_eq!(p.report(f32::NAN), Protection::default());
        assert!(p.report(7.0).red);
        assert!(p.loss() <= 1.0);
    }
}
