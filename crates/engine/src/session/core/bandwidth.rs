//! Sharing what the uplink carries: str0m's transport-wide congestion control estimates the
//! send bandwidth; audio keeps what it needs (more while RED repeats frames), and the video
//! streams share the rest in proportion to the bitrates they were started with. Each video
//! capture reads its share from its controls (see `capture/video.rs`).

use str0m::bwe::{Bitrate, BweKind};

use super::*;

/// Where the estimate starts, before feedback says more: a camera at a modest quality.
pub(super) const INITIAL_ESTIMATE_BPS: u64 = 800_000;
/// Headroom under the estimate, for RTCP, retransmissions and estimate error.
const USE_OF_ESTIMATE: f64 = 0.85;
/// Opus at the default profile plus packet headers, without redundancy.
const AUDIO_BPS: u64 = 32_000;
const AUDIO_OVERHEAD_BPS: u64 = 24_000;
/// A stream never gets less than this, however little the estimate leaves.
const FLOOR_BPS: u64 = 50_000;

/// Each video stream's share of `estimate` once audio has what it needs: proportional to
/// `configured` (what each was started with), never more than that, never below the floor.
pub(super) fn allocate(
    estimate_bps: u64,
    audio_bps: u64,
    configured: &[(Stream, u64)],
) -> Vec<(Stream, u64)> {
    let budget = (estimate_bps as f64 * USE_OF_ESTIMATE) as u64;
    let budget = budget.saturating_sub(audio_bps);
    let total: u64 = configured.iter().map(|(_, c)| *c).sum();
    configured
        .iter()
        .map(|&(stream, c)| {
            let share = if total == 0 {
                0
            } else {
                (budget as u128 * c as u128 / total as u128) as u64
            };
            (stream, share.min(c).max(FLOOR_BPS))
        })
        .collect()
}

/// What our audio needs now: each RED level repeats a frame's payload.
pub(super) fn audio_bps(red: bool) -> u64 {
    let copies = if red {
        1 + roomcast_rtc::protect::RED_DISTANCES.len() as u64
    } else {
        1
    };
    AUDIO_BPS * copies + AUDIO_OVERHEAD_BPS
}

impl Core {
    /// A new send bandwidth estimate.
    pub(super) fn bandwidth_estimate(&mut self, kind: BweKind) {
        let BweKind::Twcc { estimate, .. } = kind else {
            return;
        };
        let estimate = estimate.as_u64();
        lock(&self.registry.local).send_estimate_bps = Some(estimate);
        let configured: Vec<(Stream, u64)> = self
            .video_controls
            .iter()
            .map(|(s, c)| (*s, u64::from(c.bitrate_bps.load(Ordering::Relaxed))))
            .collect();
        let audio = audio_bps(self.audio_loss.protection().red);
        for (stream, allowed) in allocate(estimate, audio, &configured) {
            if let Some(c) = self.video_controls.get(&stream) {
                let allowed = u32::try_from(allowed).unwrap_or(u32::MAX);
                c.network_bps.store(allowed, Ordering::Relaxed);
            }
        }
        // Probe for what everything would like to send, so the estimate can grow into it.
        let desired: u64 = configured.iter().map(|(_, c)| c).sum::<u64>() + audio;
        self.rtc
            .bwe()
            .set_bitrate(Bitrate::bps(audio), Bitrate::bps(desired));
    }
}

impl Core {
    /// Our own network quality: connected, the loss the server reports on our audio, and
    /// whether the estimate leaves a video stream less than it was started with.
    pub(super) fn uplink_quality(
        &self,
        stats: &crate::stats::Statistics,
    ) -> crate::quality::Quality {
        let squeezed = stats.send_estimate_bps.is_some()
            && self.video_controls.values().any(|c| {
                let allowed = c.network_bps.load(Ordering::Relaxed);
                allowed != 0 && allowed < c.bitrate_bps.load(Ordering::Relaxed)
            });
        let connected = self.link.is_up() && self.connected && self.ice_lost.is_none();
        crate::quality::uplink(connected, self.audio_loss.loss(), squeezed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plenty_of_bandwidth_gives_each_stream_what_it_was_started_with() {
        let got = allocate(
            10_000_000,
            56_000,
            &[(Stream::Main, 600_000), (Stream::Sub, 2_000_000)],
        );
        assert_eq!(got, vec![(Stream::Main, 600_000), (Stream::Sub, 2_000_000)]);
    }

    #[test]
    fn a_narrow_link_is_shared_after_audio_in_proportion() {
        // 500 kbit/s: 425 usable, 56 for audio, 369 for video split 600:1800 (1:3).
        let got = allocate(
            500_000,
            56_000,
            &[(Stream::Main, 600_000), (Stream::Sub, 1_800_000)],
        );
        assert_eq!(got, vec![(Stream::Main, 92_250), (Stream::Sub, 276_750)]);
    }

    #[test]
    fn audio_comes_first_and_video_keeps_a_floor() {
        let red = audio_bps(true);
        assert!(red > audio_bps(false) * 3, "RED repeats frames");
        let got = allocate(150_000, red, &[(Stream::Main, 600_000)]);
        assert_eq!(got, vec![(Stream::Main, FLOOR_BPS)]);
    }
}
