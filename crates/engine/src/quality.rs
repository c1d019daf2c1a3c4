//! Network quality, TRTC-style (excellent … down): per remote user from what the receivers
//! saw in the last interval (concealed audio, video holes and decode errors, silence), and
//! for our own uplink from the loss the server reports.

use std::collections::HashMap;

use roomcast_proto::UserId;
use serde::Serialize;

use crate::stats::Statistics;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    Unknown,
    Excellent,
    Good,
    Poor,
    Bad,
    VeryBad,
    Down,
}

impl Quality {
    /// TRTC's numbering: 0 unknown, 1 excellent … 6 down.
    pub fn as_number(self) -> u8 {
        self as u8
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    audio_frames: u64,
    audio_bad: u64,
    audio_packets: u64,
    video_received: u64,
    video_bad: u64,
}

/// Compares each snapshot with the previous one.
#[derive(Debug, Default)]
pub struct QualityMeter {
    last: HashMap<String, Seen>,
}

impl QualityMeter {
    pub fn update(&mut self, stats: &Statistics) -> Vec<(Option<UserId>, Quality)> {
        let mut out = Vec::new();
        for (user, r) in &stats.remotes {
            let now = Seen {
                audio_frames: r.audio.as_ref().map_or(0, |a| a.frames),
                audio_bad: r
                    .audio
                    .as_ref()
                    .map_or(0, |a| a.concealed + a.fec_recovered),
                audio_packets: r.audio.as_ref().map_or(0, |a| a.packets),
                video_received: r.video.as_ref().map_or(0, |v| v.received),
                // Frame-counter gaps came from the test pattern's marks, which real cameras do not
                // carry; a keyframe request is the hole any stream shows.
                video_bad: r
                    .video
                    .as_ref()
                    .map_or(0, |v| v.keyframe_requests + v.decode_errors),
            };
            let before = self.last.insert(user.clone(), now).unwrap_or_default();
            let frames = now.audio_frames - before.audio_frames.min(now.audio_frames);
            let packets = now.audio_packets.saturating_sub(before.audio_packets)
                + now.video_received.saturating_sub(before.video_received);
            let bad = now.audio_bad.saturating_sub(before.audio_bad)
                + now.video_bad.saturating_sub(before.video_bad);
            let total = frames + now.video_received.saturating_sub(before.video_received);
            let quality = if total == 0 {
                Quality::Unknown
            } else if packets == 0 {
                Quality::Down
            } else {
                grade(bad as f64 / total as f64)
            };
            if let Ok(u) = UserId::new(user.clone()) {
                out.push((Some(u), quality));
            }
        }
        out
    }
}

/// Grades a share of bad frames or lost packets.
fn grade(ratio: f64) -> Quality {
    match ratio {
        r if r < 0.01 => Quality::Excellent,
        r if r < 0.03 => Quality::Good,
        r if r < 0.08 => Quality::Poor,
        r if r < 0.15 => Quality::Bad,
        _ => Quality::VeryBad,
    }
}

/// Our uplink: `connected` (to the server, media flowing) and the loss the server reports
/// on our streams.
pub fn uplink(connected: bool, loss: f32) -> Quality {
    if connected {
        grade(f64::from(loss))
    } else {
        Quality::Down
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{AudioStats, RemoteStats};

    fn stats(frames: u64, concealed: u64, packets: u64) -> Statistics {
        let mut s = Statistics::default();
        let audio = AudioStats {
            frames,
            concealed,
            packets,
            ..AudioStats::default()
        };
        s.remotes.insert(
            "bob".into(),
            RemoteStats {
                audio: Some(audio),
                ..RemoteStats::default()
            },
        );
        s
    }

    #[test]
    fn grades_follow_loss_and_silence() {
        let mut m = QualityMeter::default();
        assert_eq!(m.update(&stats(100, 0, 100))[0].1, Quality::Excellent);
        assert_eq!(m.update(&stats(200, 5, 195))[0].1, Quality::Poor);
        assert_eq!(m.update(&stats(300, 5, 295))[0].1, Quality::Excellent);
        // Playout went on (concealing) but no packet came: the sender is down.
        assert_eq!(m.update(&stats(400, 105, 295))[0].1, Quality::Down);
        assert_eq!(m.update(&stats(400, 105, 295))[0].1, Quality::Unknown);
    }

    #[test]
    fn the_uplink_grades_reported_loss() {
        assert_eq!(uplink(true, 0.0), Quality::Excellent);
        assert_eq!(uplink(true, 0.02), Quality::Good);
        assert_eq!(uplink(true, 0.05), Quality::Poor);
        assert_eq!(uplink(true, 0.3), Quality::VeryBad);
        assert_eq!(uplink(false, 0.0), Quality::Down);
    }
}
