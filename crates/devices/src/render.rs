//! Feeding a speaker: the device's callback pulls 48 kHz mono from the engine's playout (or
//! the speaker test's tone), resampled to the device's rate and copied to each channel.
//! Sans-IO, so the conversion is tested without a sound card.

use std::collections::VecDeque;
use std::sync::Mutex;

use roomcast_engine::audio::AudioPull;
use roomcast_engine::media::SAMPLE_RATE;

use crate::resample::Resampler;

/// Samples pulled per step (10 ms): the playout's own step.
const CHUNK: usize = SAMPLE_RATE as usize / 100;

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
            mixed: vec![0.0; CHUNK],
            resampled: Vec::new(),
        }
    }

    /// Produces `total` interleaved output samples through `write(index, sample)`, calling
    /// `pull` for 10 ms of 48 kHz audio whenever it needs more.
    pub fn render(
        &mut self,
        total: usize,
        mut pull: impl FnMut(&mut [f32]),
        mut write: impl FnMut(usize, f32),
    ) {
        let frames = total / self.channels;
        while self.pending.len() < frames {
            pull(&mut self.mixed);
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

/// The speaker test: `ms` of a `hz` sine at a comfortable level (-14 dBFS), faded in and out
/// over 10 ms so it starts and ends without a click, then silence.
pub struct TestTone {
    hz: f32,
    total: usize,
    played: Mutex<usize>,
}

impl TestTone {
    pub fn new(hz: f32, ms: u32) -> Self {
        Self {
            hz,
            total: SAMPLE_RATE as usize * ms as usize / 1000,
            played: Mutex::new(0),
        }
    }

    pub fn finished(&self) -> bool {
        *self.played.lock().unwrap_or_else(|e| e.into_inner()) >= self.total
    }
}

impl AudioPull for TestTone {
    fn pull(&self, out: &mut [f32]) {
        let mut played = self.played.lock().unwrap_or_else(|e| e.into_inner());
        let fade = SAMPLE_RATE as usize / 100;
        for o in out.iter_mut() {
            let i = *played;
            *o = if i < self.total {
                let edge = i.min(self.total - 1 - i).min(fade) as f32 / fade as f32;
                let s = (std::f32::consts::TAU * self.hz * i as f32 / SAMPLE_RATE as f32).sin();
                s * edge * 0.2
            } else {
                0.0
            };
            *played = (i + 1).min(self.total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resample::tests::frequency;

    #[test]
    fn the_speaker_test_tone_is_a_clickless_second_of_440_hz() {
        let tone = TestTone::new(440.0, 1000);
        let mut all = vec![9.0f32; 48_000];
        tone.pull(&mut all);
        assert!(tone.finished());
        // Faded: the first and last samples are silent, the middle is loud but not clipping.
        assert_eq!((all[0], all[all.len() - 1]), (0.0, 0.0));
        let peak = all.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((0.18..0.21).contains(&peak), "peak {peak}");
        assert!((frequency(&all, SAMPLE_RATE) - 440.0).abs() < 5.0);
        let mut after = [1.0f32; 480];
        tone.pull(&mut after);
        assert!(after.iter().all(|&s| s == 0.0), "silence after the tone");
    }

    #[test]
    fn renderer_resamples_to_the_device_and_fills_every_channel() {
        let tone = TestTone::new(1000.0, 1000);
        let mut r = Renderer::new(44_100, 2);
        let mut out = vec![0f32; 2 * 441 * 10]; // 100 ms at 44.1 kHz stereo
        r.render(out.len(), |buf| tone.pull(buf), |i, s| out[i] = s);
        let left: Vec<f32> = out.chunks(2).map(|c| c[0]).collect();
        assert!(out.chunks(2).all(|c| c[0] == c[1]));
        let f = frequency(&left[441..], 44_100);
        assert!((f - 1000.0).abs() < 20.0, "{f}");
    }
}
