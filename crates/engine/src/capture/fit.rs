//! What the network lets a video capture send: the encoder's bitrate, the share of frames it
//! encodes and, for the camera, the picture size.
//! - The camera lowers its bitrate first; once that leaves too few bits per pixel for a
//!   watchable picture it sends a smaller one (3/4, 1/2, then 1/4 of each side), and goes
//!   back up once the larger size would have bits to spare.
//! - The screen share keeps its size and its bits per frame and drops frames, so text stays
//!   sharp.

use std::sync::atomic::Ordering;

use roomcast_proto::Stream;

use super::Controls;

/// Below this a camera picture is not worth sending.
pub(super) const MIN_VIDEO_BPS: u32 = roomcast_rtc::rate::FLOOR_BPS as u32;

/// Each side of the camera's picture is multiplied by one of these (numerator, denominator).
pub(super) const CAMERA_SCALES: [(u32, u32); 4] = [(1, 1), (3, 4), (1, 2), (1, 4)];

/// Below this many bits per pixel (H.264, moving content) a picture turns to blocks: a
/// smaller one with more bits each looks better.
const SMALLER_BELOW_BPP: f64 = 0.04;
/// A larger picture comes back once it would get this many bits per pixel; well above
/// [`SMALLER_BELOW_BPP`] (one step up has 1.8 times the pixels), so the size does not swing
/// with every report.
const LARGER_FROM_BPP: f64 = 0.07;

/// The encoder bitrate and the share of frames to encode (1 in `thin`) that fit what the
/// network carries: the camera lowers its bitrate; the screen share, once the network carries
/// less than two thirds of it, keeps its bitrate per frame and drops frames (at most 5 in
/// 6), so text stays sharp.
pub(super) fn network_fit(c: &Controls, stream: Stream) -> (u32, u64) {
    let wanted = c.bitrate_bps.load(Ordering::Relaxed);
    let allowed = match c.network_bps.load(Ordering::Relaxed) {
        0 => return (wanted, 1),
        n => n,
    };
    match stream {
        Stream::Main => (allowed.max(MIN_VIDEO_BPS).min(wanted), 1),
        // A little short: a little less per frame. Far short: whole frames go.
        Stream::Sub if u64::from(allowed) * 3 >= u64::from(wanted) * 2 => (wanted.min(allowed), 1),
        Stream::Sub => (
            wanted,
            u64::from(wanted.div_ceil(allowed.max(1))).clamp(1, 6),
        ),
    }
}

/// The picture size at `scale` (an index into [`CAMERA_SCALES`]) of a camera of `size`,
/// even on both sides (I420).
pub(super) fn scaled_size((w, h): (u32, u32), scale: usize) -> (u32, u32) {
    let (n, d) = CAMERA_SCALES[scale.min(CAMERA_SCALES.len() - 1)];
    let side = |x: u32| ((x * n / d) & !1).max(16);
    (side(w), side(h))
}

/// Which of [`CAMERA_SCALES`] a camera of `size` at `fps` sends at `bps`, now at `current`.
pub(super) fn camera_scale(bps: u32, size: (u32, u32), fps: u32, current: usize) -> usize {
    let bpp = |scale: usize| {
        let (w, h) = scaled_size(size, scale);
        f64::from(bps) / (f64::from(w) * f64::from(h) * f64::from(fps.max(1)))
    };
    let mut scale = current.min(CAMERA_SCALES.len() - 1);
    while scale + 1 < CAMERA_SCALES.len() && bpp(scale) < SMALLER_BELOW_BPP {
        scale += 1;
    }
    while scale > 0 && bpp(scale - 1) >= LARGER_FROM_BPP {
        scale -= 1;
    }
    scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_camera_lowers_its_bitrate_and_the_screen_share_its_frame_rate() {
        let c = Controls::default();
        c.bitrate_bps.store(2_000_000, Ordering::Relaxed);
        assert_eq!(
            network_fit(&c, Stream::Main),
            (2_000_000, 1),
            "no estimate yet"
        );
        c.network_bps.store(500_000, Ordering::Relaxed);
        assert_eq!(network_fit(&c, Stream::Main), (500_000, 1));
        // Full quality per frame, one frame in four.
        assert_eq!(network_fit(&c, Stream::Sub), (2_000_000, 4));
        c.network_bps.store(1_600_000, Ordering::Relaxed);
        assert_eq!(
            network_fit(&c, Stream::Sub),
            (1_600_000, 1),
            "a little short"
        );
        c.network_bps.store(10_000, Ordering::Relaxed);
        assert_eq!(network_fit(&c, Stream::Main), (MIN_VIDEO_BPS, 1));
        assert_eq!(
            network_fit(&c, Stream::Sub),
            (2_000_000, 6),
            "at most 5 in 6 dropped"
        );
    }

    #[test]
    fn the_camera_keeps_its_size_while_the_bits_suffice() {
        // 640x360 at 15 fps: 1.2 Mbit/s down to 140 kbit/s keep it whole.
        for bps in [1_200_000, 500_000, 140_000] {
            assert_eq!(camera_scale(bps, (640, 360), 15, 0), 0, "{bps}");
        }
    }

    #[test]
    fn a_narrow_link_gets_a_smaller_picture_and_a_wide_one_the_whole() {
        let size = (1280, 720);
        let down = camera_scale(300_000, size, 30, 0);
        assert_eq!(scaled_size(size, down), (640, 360));
        assert_eq!(
            scaled_size(size, camera_scale(50_000, size, 30, down)),
            (320, 180)
        );
        // Back up only once the larger picture would get bits to spare.
        assert_eq!(camera_scale(400_000, size, 30, down), down, "no swing");
        assert_eq!(camera_scale(3_000_000, size, 30, 3), 0);
    }

    #[test]
    fn sizes_stay_even() {
        assert_eq!(scaled_size((642, 362), 1), (480, 270));
        assert_eq!(scaled_size((100, 50), 3), (24, 16));
    }
}
