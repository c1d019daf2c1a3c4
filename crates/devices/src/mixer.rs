//! The playout mixer: one queue of 48 kHz mono samples per remote user, mixed into one
//! output. Sans-IO: the engine's per-user sinks `push`, the device callback `mix`es.
//!
//! Each queue is bounded to [`MAX_QUEUED`] (200 ms): a sender whose clock runs faster than
//! our speaker's would otherwise grow latency forever, so the oldest samples go. A queue that
//! ran dry waits for [`PRIME`] (40 ms) before playing again, so one late frame does not turn
//! into a long train of clicks.

use std::collections::{HashMap, VecDeque};

use roomcast_engine::media::{AudioFrame, SAMPLE_RATE};

use crate::resample::Resampler;

/// Most samples queued per user before the oldest are dropped (200 ms).
pub const MAX_QUEUED: usize = SAMPLE_RATE as usize / 5;
/// Samples a dry queue must gather before it plays again (40 ms).
pub const PRIME: usize = SAMPLE_RATE as usize / 25;
/// Volume when none was set.
pub const DEFAULT_VOLUME: u8 = 100;

#[derive(Debug, Default)]
struct Queue {
    samples: VecDeque<i16>,
    playing: bool,
}

#[derive(Debug, Default)]
pub struct Mixer {
    queues: HashMap<String, Queue>,
    /// Kept apart from the queues so a volume set before the user's audio starts (or across
    /// a rejoin) still applies.
    volumes: HashMap<String, u8>,
    dropped: u64,
}

impl Mixer {
    /// Queues a decoded 48 kHz frame; stereo is averaged down to mono.
    pub fn push(&mut self, user: &str, frame: &AudioFrame) {
        let q = self.queues.entry(user.to_string()).or_default();
        let channels = usize::from(frame.channels.max(1));
        q.samples.extend(
            frame
                .samples
                .chunks(channels)
                .map(|c| (c.iter().map(|&s| i32::from(s)).sum::<i32>() / c.len() as i32) as i16),
        );
        let excess = q.samples.len().saturating_sub(MAX_QUEUED);
        if excess > 0 {
            q.samples.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    /// The user left: their queued audio is dropped.
    pub fn remove(&mut self, user: &str) {
        self.queues.remove(user);
    }

    pub fn set_volume(&mut self, user: &str, volume: u8) {
        self.volumes.insert(user.to_string(), volume.min(100));
    }

    /// Samples dropped so far to bound latency.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn users(&self) -> usize {
        self.queues.len()
    }

    /// Mixes the next `out.len()` samples of every user into `out` (as -1.0..=1.0), with
    /// each user's volume, saturating; users without enough audio contribute silence.
    pub fn mix(&mut self, out: &mut [f32]) {
        let mut acc = vec![0i32; out.len()];
        for (user, q) in &mut self.queues {
            if !q.playing && q.samples.len() >= PRIME {
                q.playing = true;
            }
            if !q.playing {
                continue;
            }
            let volume = i32::from(*self.volumes.get(user).unwrap_or(&DEFAULT_VOLUME));
            let n = out.len().min(q.samples.len());
            for (a, s) in acc.iter_mut().zip(q.samples.drain(..n)) {
                *a += i32::from(s) * volume / 100;
            }
            if q.samples.is_empty() {
                q.playing = false;
            }
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = a.clamp(-32768, 32767) as f32 / 32768.0;
        }
    }
}

/// The speaker test: `ms` of a `hz` sine at a comfortable level (-14 dBFS) in 20 ms mono
/// 48 kHz frames, faded in and out over 10 ms so it starts and ends without a click.
pub fn test_tone(hz: f32, ms: u32) -> Vec<AudioFrame> {
    let per_frame = SAMPLE_RATE as usize / 50;
    let total = SAMPLE_RATE as usize * ms as usize / 1000;
    let fade = SAMPLE_RATE as usize / 100;
    let samples: Vec<i16> = (0..total)
        .map(|i| {
            let edge = i.min(total - 1 - i).min(fade) as f32 / fade as f32;
            let s = (std::f32::consts::TAU * hz * i as f32 / SAMPLE_RATE as f32).sin();
            (s * edge * 0.2 * 32767.0) as i16
        })
        .collect();
    samples
        .chunks(per_frame)
        .map(|c| AudioFrame {
            samples: c.to_vec(),
            channels: 1,
            sample_rate: SAMPLE_RATE,
            capture_us: 0,
        })
        .collect()
}

/// Samples mixed per step (10 ms): small enough to add little latency, large enough to
/// keep the mixer lock rare.
const MIX_CHUNK: usize = SAMPLE_RATE as usize / 100;

/// Feeds a speaker from the mixer: 48 kHz mono mixed audio resampled to the device's rate
/// and copied to each of its channels.
#[derive(Debug)]
pub struct Renderer {
    channels: usize,
    resampler: Resampler,
    pending: VecDeque<f32>,
    mixed: Vec<f32>,
    resampled: Vec<f32>,
}

impl Renderer {
    pub fn new(rate_hz: u32, channels: u16) -> Self {
        Self {
            channels: usize::from(channels.max(1)),
            resampler: Resampler::new(SAMPLE_RATE, rate_hz),
            pending: VecDeque::new(),
            mixed: vec![0.0; MIX_CHUNK],
            resampled: Vec::new(),
        }
    }

    /// Produces `total` interleaved output samples through `write(index, sample)`, calling
    /// `mix` for 10 ms of mixed 48 kHz audio whenever it needs more.
    pub fn render(
        &mut self,
        total: usize,
        mut mix: impl FnMut(&mut [f32]),
        mut write: impl FnMut(usize, f32),
    ) {
        let frames = total / self.channels;
        while self.pending.len() < frames {
            mix(&mut self.mixed);
            self.resampled.clear();
            self.resampler.process(&self.mixed, &mut self.resampled);
            self.pending.extend(&self.resampled);
        }
        for (f, s) in self.pending.drain(..frames).enumerate() {
            for c in 0..self.channels {
                write(f * self.channels + c, s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roomcast_engine::media::FRAME_SAMPLES;

    fn frame(value: i16, channels: u16) -> AudioFrame {
        AudioFrame {
            samples: vec![value; FRAME_SAMPLES * usize::from(channels)],
            channels,
            sample_rate: SAMPLE_RATE,
            capture_us: 0,
        }
    }

    fn mix(m: &mut Mixer, n: usize) -> Vec<f32> {
        let mut out = vec![9.0; n];
        m.mix(&mut out);
        out
    }

    #[test]
    fn the_speaker_test_tone_is_a_clickless_second_of_440_hz_through_the_mixer() {
        let frames = test_tone(440.0, 1000);
        assert_eq!(frames.len(), 50);
        assert!(frames.iter().all(|f| f.samples.len() == FRAME_SAMPLES));
        let all: Vec<i16> = frames.iter().flat_map(|f| f.samples.clone()).collect();
        // Faded: the first and last samples are silent, the middle is loud but not clipping.
        assert_eq!((all[0], all[all.len() - 1]), (0, 0));
        let peak = all.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((6000..7000).contains(&peak), "peak {peak}");
        // It plays through the mixer as a remote user's audio would, at 440 Hz.
        let mut m = Mixer::default();
        let mut out = Vec::new();
        for f in &frames[..10] {
            m.push("", f);
            out.extend(mix(&mut m, FRAME_SAMPLES));
        }
        let hz = crate::resample::tests::frequency(&out[1920..], SAMPLE_RATE);
        assert!((hz - 440.0).abs() < 10.0, "{hz} Hz");
    }

    #[test]
    fn mixes_users_with_volume_and_saturation() {
        let mut m = Mixer::default();
        for _ in 0..2 {
            m.push("a", &frame(1000, 1));
            m.push("b", &frame(3000, 2));
        }
        m.set_volume("b", 50);
        let out = mix(&mut m, 480);
        assert!(
            out.iter().all(|&s| (s - 2500.0 / 32768.0).abs() < 1e-6),
            "{}",
            out[0]
        );
        m.set_volume("b", 0);
        assert!(
            mix(&mut m, 480)
                .iter()
                .all(|&s| (s - 1000.0 / 32768.0).abs() < 1e-6)
        );

        let mut loud = Mixer::default();
        for u in ["x", "y", "z"] {
            loud.push(u, &frame(20_000, 1));
            loud.push(u, &frame(20_000, 1));
        }
        assert!(mix(&mut loud, 480).iter().all(|&s| s == 32767.0 / 32768.0));
    }

    #[test]
    fn underrun_is_silence_and_waits_to_reprime() {
        let mut m = Mixer::default();
        m.push("a", &frame(1000, 1)); // 20 ms < PRIME
        assert!(mix(&mut m, 480).iter().all(|&s| s == 0.0), "not primed yet");
        m.push("a", &frame(1000, 1)); // 40 ms
        let out = mix(&mut m, 1440); // 30 ms asked, 40 ms queued
        assert!(out.iter().all(|&s| s > 0.0));
        let out = mix(&mut m, 960); // only 10 ms left: then silence
        assert!(out[..480].iter().all(|&s| s > 0.0));
        assert!(out[480..].iter().all(|&s| s == 0.0));
        m.push("a", &frame(1000, 1));
        assert!(mix(&mut m, 480).iter().all(|&s| s == 0.0), "re-priming");
    }

    #[test]
    fn drift_is_bounded_by_dropping_the_oldest() {
        let mut m = Mixer::default();
        for k in 0..50 {
            m.push("fast", &frame(k, 1));
        }
        assert_eq!(m.dropped() as usize, 50 * FRAME_SAMPLES - MAX_QUEUED);
        let out = mix(&mut m, 1);
        assert_eq!(
            out[0],
            40.0 / 32768.0,
            "the newest 200 ms (frames 40..50) remain"
        );
    }

    #[test]
    fn users_that_leave_stop_playing_and_volume_survives() {
        let mut m = Mixer::default();
        m.set_volume("a", 0);
        m.push("a", &frame(1000, 1));
        m.push("a", &frame(1000, 1));
        assert!(
            mix(&mut m, 480).iter().all(|&s| s == 0.0),
            "volume set before audio applies"
        );
        m.remove("a");
        assert_eq!(m.users(), 0);
        m.set_volume("a", 100);
        m.push("a", &frame(1000, 1));
        m.push("a", &frame(1000, 1));
        assert!(mix(&mut m, 480).iter().all(|&s| s > 0.0));
    }

    #[test]
    fn renderer_resamples_the_mix_to_the_device_and_fills_every_channel() {
        use crate::resample::tests::{frequency, tone};
        let mut m = Mixer::default();
        for chunk in tone(1000.0, SAMPLE_RATE, 1.0).chunks(FRAME_SAMPLES) {
            let samples = chunk.iter().map(|&s| crate::resample::to_i16(s)).collect();
            m.push(
                "a",
                &AudioFrame {
                    samples,
                    channels: 1,
                    sample_rate: SAMPLE_RATE,
                    capture_us: 0,
                },
            );
        }
        // The last 200 ms stay queued (the bound); render 100 ms of them.
        let mut r = Renderer::new(44_100, 2);
        let mut out = vec![0f32; 2 * 441 * 10]; // 100 ms at 44.1 kHz stereo
        r.render(out.len(), |buf| m.mix(buf), |i, s| out[i] = s);
        let left: Vec<f32> = out.chunks(2).map(|c| c[0]).collect();
        assert!(out.chunks(2).all(|c| c[0] == c[1]));
        assert!(
            (frequency(&left, 44_100) - 1000.0).abs() < 20.0,
            "{}",
            frequency(&left, 44_100)
        );
    }
}
