//! Sample-rate conversion and framing between a device's native format and the engine's
//! 48 kHz mono 20 ms frames. Linear interpolation: devices run at 44.1/48/96 kHz, where its
//! error is far below what Opus keeps of speech.

use roomcast_engine::media::{AudioFrame, FRAME_SAMPLES, SAMPLE_RATE};

/// Streaming linear-interpolation resampler for one channel; state carries across calls so
/// chunk boundaries are seamless.
#[derive(Debug, Clone)]
pub struct Resampler {
    /// Input samples per output sample.
    step: f64,
    /// Position of the next output sample, counted from `prev` (index 0).
    pos: f64,
    prev: f32,
}

impl Resampler {
    pub fn new(from_hz: u32, to_hz: u32) -> Self {
        Self {
            step: f64::from(from_hz.max(1)) / f64::from(to_hz.max(1)),
            pos: 1.0,
            prev: 0.0,
        }
    }

    /// Appends the resampled `input` to `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if input.is_empty() {
            return;
        }
        let at = |i: usize| if i == 0 { self.prev } else { input[i - 1] };
        let n = input.len() as f64;
        while self.pos < n {
            let i = self.pos as usize;
            let frac = (self.pos - i as f64) as f32;
            out.push(at(i) * (1.0 - frac) + at(i + 1) * frac);
            self.pos += self.step;
        }
        self.pos -= n;
        self.prev = input[input.len() - 1];
    }
}

/// Turns a device's interleaved float capture (any rate, any channel count) into 20 ms
/// 48 kHz mono frames.
#[derive(Debug)]
pub struct MicFramer {
    channels: usize,
    resampler: Resampler,
    mono: Vec<f32>,
    resampled: Vec<f32>,
    pending: Vec<i16>,
}

impl MicFramer {
    pub fn new(rate_hz: u32, channels: u16) -> Self {
        Self {
            channels: usize::from(channels.max(1)),
            resampler: Resampler::new(rate_hz, SAMPLE_RATE),
            mono: Vec::new(),
            resampled: Vec::new(),
            pending: Vec::with_capacity(FRAME_SAMPLES * 2),
        }
    }

    /// Feeds captured samples; calls `emit` with every complete frame (capture time 0: the
    /// engine's capture thread stamps it).
    pub fn feed(&mut self, interleaved: &[f32], mut emit: impl FnMut(AudioFrame)) {
        self.mono.clear();
        self.mono.extend(
            interleaved
                .chunks(self.channels)
                .map(|c| c.iter().sum::<f32>() / c.len() as f32),
        );
        self.resampled.clear();
        self.resampler.process(&self.mono, &mut self.resampled);
        for &s in &self.resampled {
            self.pending.push(to_i16(s));
            if self.pending.len() == FRAME_SAMPLES {
                emit(AudioFrame {
                    samples: std::mem::replace(
                        &mut self.pending,
                        Vec::with_capacity(FRAME_SAMPLES),
                    ),
                    channels: 1,
                    sample_rate: SAMPLE_RATE,
                    capture_us: 0,
                });
            }
        }
    }
}

pub fn to_i16(s: f32) -> i16 {
    (s * 32767.0).round().clamp(-32768.0, 32767.0) as i16
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn tone(hz: f32, rate: u32, seconds: f32) -> Vec<f32> {
        let n = (rate as f32 * seconds) as usize;
        (0..n)
            .map(|i| 0.5 * (std::f32::consts::TAU * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    /// Frequency estimated from rising zero crossings.
    pub fn frequency(samples: &[f32], rate: u32) -> f32 {
        let rising = samples
            .windows(2)
            .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
            .count();
        rising as f32 * rate as f32 / samples.len() as f32
    }

    #[test]
    fn keeps_a_1khz_tone_at_1khz_in_small_chunks() {
        for (from, to) in [
            (44_100, 48_000),
            (48_000, 44_100),
            (16_000, 48_000),
            (96_000, 48_000),
        ] {
            let input = tone(1000.0, from, 1.0);
            let mut r = Resampler::new(from, to);
            let mut out = Vec::new();
            for chunk in input.chunks(441) {
                r.process(chunk, &mut out);
            }
            let expected = to as f32;
            assert!(
                (out.len() as f32 - expected).abs() <= 2.0,
                "{from}->{to}: {} samples",
                out.len()
            );
            let f = frequency(&out, to);
            assert!((f - 1000.0).abs() < 5.0, "{from}->{to}: {f} Hz");
        }
    }

    #[test]
    fn framer_makes_48k_mono_20ms_frames_from_stereo_44k() {
        let mono = tone(1000.0, 44_100, 1.0);
        let stereo: Vec<f32> = mono.iter().flat_map(|&s| [s, s]).collect();
        let mut framer = MicFramer::new(44_100, 2);
        let mut frames = Vec::new();
        for chunk in stereo.chunks(512 * 2) {
            framer.feed(chunk, |f| frames.push(f));
        }
        assert!((49..=50).contains(&frames.len()), "{} frames", frames.len());
        assert!(
            frames
                .iter()
                .all(|f| f.samples.len() == FRAME_SAMPLES && f.channels == 1)
        );
        let all: Vec<f32> = frames
            .iter()
            .flat_map(|f| f.samples.iter().map(|&s| f32::from(s) / 32768.0))
            .collect();
        assert!((frequency(&all, SAMPLE_RATE) - 1000.0).abs() < 5.0);
        let peak = all.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((0.45..0.55).contains(&peak), "peak {peak}");
    }
}
