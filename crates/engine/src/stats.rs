//! What the engine measured: per remote user and stream, frames, freezes, concealment,
//! sizes and buffer delays. (End-to-end latency read from the synthetic sources' marks is
//! the measuring tools' business: `media::measure`.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Received audio of one remote user.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AudioStats {
    /// 20 ms frames played out (decoded, recovered or concealed).
    pub frames: u64,
    pub decoded: u64,
    pub fec_recovered: u64,
    pub concealed: u64,
    pub packets: u64,
    /// How far behind the fastest packets playout runs now, and where the jitter buffer is
    /// heading (it covers 99.5 % of recent packet delays).
    pub jitter_delay_ms: f64,
    pub jitter_target_ms: f64,
    /// Loudness of the last frame played, 0..=100 (for volume indicators).
    pub level: u8,
}

/// Received video of one remote user's stream.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VideoStats {
    /// Frames decoded.
    pub frames: u64,
    /// Encoded frames received.
    pub received: u64,
    pub width: u32,
    pub height: u32,
    pub decode_errors: u64,
    pub keyframe_requests: u64,
    /// Gaps of more than [`FREEZE_MS`] between decoded frames: the picture stopped.
    pub freezes: u64,
    /// The longest gap between two decoded frames, ms (a freeze when over [`FREEZE_MS`]).
    pub max_freeze_ms: f64,
    /// How long frames are held beyond the fastest recent transit before they are shown, ms
    /// (see `video_playout`): what the link's jitter and resends cost in delay.
    pub playout_delay_ms: f64,
    #[serde(skip)]
    pub last_decoded_us: Option<u64>,
}

/// A gap between decoded frames longer than this is a freeze (TRTC counts 500 ms too).
pub const FREEZE_MS: f64 = 500.0;

impl AudioStats {
    /// The share of played frames that were concealed (made up, not decoded or recovered).
    pub fn concealed_ratio(&self) -> f64 {
        if self.frames == 0 {
            return 0.0;
        }
        self.concealed as f64 / self.frames as f64
    }
}

impl VideoStats {
    /// Accounts one decoded frame at wall time `now_us`.
    pub fn decoded(&mut self, now_us: u64) {
        self.frames += 1;
        if let Some(last) = self.last_decoded_us {
            let gap_ms = now_us.saturating_sub(last) as f64 / 1000.0;
            if gap_ms > FREEZE_MS {
                self.freezes += 1;
            }
            self.max_freeze_ms = self.max_freeze_ms.max(gap_ms);
        }
        self.last_decoded_us = Some(now_us);
    }

    /// These statistics with the time from the last decoded frame to `now_us` counted as a
    /// gap too: for a stream still expected at the end of a call, a picture that stopped and
    /// never came back is a freeze (gaps between frames alone would not show it).
    pub fn until(&self, now_us: u64) -> VideoStats {
        let mut s = self.clone();
        if let Some(last) = s.last_decoded_us {
            let gap_ms = now_us.saturating_sub(last) as f64 / 1000.0;
            if gap_ms > FREEZE_MS {
                s.freezes += 1;
            }
            s.max_freeze_ms = s.max_freeze_ms.max(gap_ms);
        }
        s
    }
}

pub type Shared<T> = Arc<Mutex<T>>;

/// Locks a stats cell; a panic elsewhere must not take statistics down with it.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RemoteStats {
    pub audio: Option<AudioStats>,
    pub video: Option<VideoStats>,
    pub sub_video: Option<VideoStats>,
}

/// A snapshot of everything the engine measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Statistics {
    pub enter_room_ms: Option<f64>,
    /// From `enter_room` to the first remote video frame decoded.
    pub first_video_frame_ms: Option<f64>,
    pub audio_packets_sent: u64,
    pub video_frames_sent: u64,
    /// Of those, frames of the small simulcast layer.
    pub small_frames_sent: u64,
    pub keyframes_sent: u64,
    pub local_level: u8,
    /// Times the session entered the room again after losing the server.
    pub reconnects: u64,
    /// What the uplink carries for the camera now (it reports loss above that), bit/s; None
    /// while it carries all the camera wants.
    pub camera_limit_bps: Option<u64>,
    /// The picture the camera sends now (its big layer, after the network's fit), pixels.
    pub camera_width: Option<u32>,
    pub camera_height: Option<u32>,
    pub remotes: BTreeMap<String, RemoteStats>,
}

/// The p-th percentile (0..=100) of samples, nearest-rank; None when empty.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&[3.0], 95.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn freezes_are_gaps_over_half_a_second() {
        let mut s = VideoStats::default();
        for t_ms in [0, 33, 66, 400, 433, 1_200, 1_233, 1_734] {
            s.decoded(t_ms * 1000);
        }
        assert_eq!(s.frames, 8);
        // 334 ms is a stutter, 767 and 501 ms are freezes.
        assert_eq!(s.freezes, 2);
        assert_eq!(s.max_freeze_ms, 767.0);
        // A picture that stops for the rest of the call is a freeze as well…
        let end = s.until(11_734_000);
        assert_eq!((end.freezes, end.max_freeze_ms), (3, 10_000.0));
        // …and one still moving at the end is not.
        let end = s.until(1_800_000);
        assert_eq!((end.freezes, end.max_freeze_ms), (2, 767.0));
        let a = AudioStats {
            frames: 200,
            concealed: 5,
            ..AudioStats::default()
        };
        assert_eq!(a.concealed_ratio(), 0.025);
        assert_eq!(AudioStats::default().concealed_ratio(), 0.0);
    }
}

/// Where the engine's threads record what they measure; `snapshot` reads it all.
#[derive(Debug, Default)]
pub struct Registry {
    pub local: Mutex<LocalStats>,
    remotes: Mutex<BTreeMap<String, RemoteCells>>,
}

#[derive(Debug, Default, Clone)]
pub struct LocalStats {
    pub enter_room_ms: Option<f64>,
    pub first_video_frame_ms: Option<f64>,
    pub audio_packets_sent: u64,
    pub video_frames_sent: u64,
    pub small_frames_sent: u64,
    pub keyframes_sent: u64,
    pub reconnects: u64,
    pub camera_limit_bps: Option<u64>,
    pub camera_size: Option<(u32, u32)>,
    /// Loudness of the last captured audio frame, 0..=100.
    pub local_level: u8,
}

#[derive(Debug, Default)]
struct RemoteCells {
    audio: Option<Shared<AudioStats>>,
    video: Option<Shared<VideoStats>>,
    sub_video: Option<Shared<VideoStats>>,
}

impl Registry {
    pub fn audio(&self, user: &str) -> Shared<AudioStats> {
        let mut r = lock(&self.remotes);
        r.entry(user.to_string())
            .or_default()
            .audio
            .get_or_insert_with(Default::default)
            .clone()
    }

    pub fn video(&self, user: &str, stream: roomcast_proto::Stream) -> Shared<VideoStats> {
        let mut r = lock(&self.remotes);
        let cells = r.entry(user.to_string()).or_default();
        let slot = match stream {
            roomcast_proto::Stream::Main => &mut cells.video,
            roomcast_proto::Stream::Sub => &mut cells.sub_video,
        };
        slot.get_or_insert_with(Default::default).clone()
    }

    /// Each remote user's current loudness (0..=100), for volume indicators.
    pub fn levels(&self) -> Vec<(roomcast_proto::UserId, u8)> {
        lock(&self.remotes)
            .iter()
            .filter_map(|(user, c)| {
                let level = c.audio.as_ref().map(|a| lock(a).level)?;
                Some((roomcast_proto::UserId::new(user.clone()).ok()?, level))
            })
            .collect()
    }

    pub fn snapshot(&self) -> Statistics {
        let local = lock(&self.local).clone();
        let remotes = lock(&self.remotes)
            .iter()
            .map(|(user, c)| {
                let stats = RemoteStats {
                    audio: c.audio.as_ref().map(|a| lock(a).clone()),
                    video: c.video.as_ref().map(|v| lock(v).clone()),
                    sub_video: c.sub_video.as_ref().map(|v| lock(v).clone()),
                };
                (user.clone(), stats)
            })
            .collect();
        Statistics {
            enter_room_ms: local.enter_room_ms,
            first_video_frame_ms: local.first_video_frame_ms,
            audio_packets_sent: local.audio_packets_sent,
            video_frames_sent: local.video_frames_sent,
            small_frames_sent: local.small_frames_sent,
            keyframes_sent: local.keyframes_sent,
            reconnects: local.reconnects,
            camera_limit_bps: local.camera_limit_bps,
            camera_width: local.camera_size.map(|s| s.0),
            camera_height: local.camera_size.map(|s| s.1),
            local_level: local.local_level,
            remotes,
        }
    }
}

/// Loudness of interleaved 16-bit samples on a 0..=100 scale: RMS in dBFS mapped from
/// -60 dB (0) to 0 dB (100), the range a speaking indicator needs.
pub fn level(samples: &[i16]) -> u8 {
    if samples.is_empty() {
        return 0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (sum / samples.len() as f64).sqrt() / 32768.0;
    if rms <= 0.0 {
        return 0;
    }
    let db = 20.0 * rms.log10();
    ((db + 60.0) / 60.0 * 100.0).clamp(0.0, 100.0).round() as u8
}

#[cfg(test)]
mod level_tests {
    use super::level;

    #[test]
    fn silence_is_zero_and_full_scale_is_hundred() {
        assert_eq!(level(&[0; 960]), 0);
        assert_eq!(level(&[]), 0);
        let loud: Vec<i16> = (0..960)
            .map(|i| if i % 2 == 0 { 32767 } else { -32767 })
            .collect();
        assert_eq!(level(&loud), 100);
        let quiet: Vec<i16> = (0..960)
            .map(|i| if i % 2 == 0 { 33 } else { -33 })
            .collect();
        assert!(level(&quiet) < 5, "{}", level(&quiet));
    }
}
