//! Low-latency pitch shifter for live speech.
//!
//! This is a delay-line ("Doppler") shifter: input goes into a short ring buffer and two read
//! taps move through it at a constant speed of `1 - ratio` samples per sample, which scales
//! every frequency by `ratio`. Each tap wraps around a 20 ms window; the two taps sit half a
//! window apart and are weighted with complementary Hann (raised-cosine) gains that are zero
//! exactly where a tap wraps, so the jumps are never heard and the summed gain stays at one.
//! Compared with FFT or PSOLA shifters it needs no pitch tracking and its delay is only half
//! the window (10 ms); the price is a slight chorus-like roughness, fine for voice effects.

use std::f32::consts::TAU;

/// Long enough to hold a couple of periods of a low male voice (so grains stay periodic),
/// short enough that the mean delay (half of it) stays well below the 20 ms budget.
const WINDOW_SECONDS: f32 = 0.020;
/// Fading between the dry path and the taps avoids a click when the delay jumps in or out.
const BYPASS_FADE_SECONDS: f32 = 0.005;
/// Beyond an octave either way the taps wrap so often that the result is mostly modulation.
const MIN_RATIO: f32 = 0.5;
const MAX_RATIO: f32 = 2.0;

/// Ring buffer with fractional-delay reads, shared with the voice effects.
pub(crate) struct DelayLine {
    buf: Vec<f32>,
    mask: usize,
    write: usize,
}

impl DelayLine {
    /// Power-of-two length so wrapping is a mask instead of a division.
    pub(crate) fn new(max_delay: usize) -> Self {
        let len = (max_delay + 2).next_power_of_two();
        Self {
            buf: vec![0.0; len],
            mask: len - 1,
            write: 0,
        }
    }

    pub(crate) fn push(&mut self, x: f32) {
        self.write = (self.write + 1) & self.mask;
        self.buf[self.write] = x;
    }

    /// `delay` 0 is the most recently pushed sample. Linear interpolation is used because it
    /// never overshoots (output stays within the input's range) and is cheap; at 48 kHz its
    /// treble loss is negligible in the speech band.
    pub(crate) fn read(&self, delay: f32) -> f32 {
        let whole = delay.floor();
        let frac = delay - whole;
        let i = self.write.wrapping_sub(whole as usize);
        let a = self.buf[i & self.mask];
        let b = self.buf[i.wrapping_sub(1) & self.mask];
        a + (b - a) * frac
    }

    pub(crate) fn clear(&mut self) {
        self.buf.fill(0.0);
    }
}

pub struct PitchShifter {
    line: DelayLine,
    /// Tap sweep window in samples.
    window: f32,
    /// Current delay of each tap in samples, in `0..window`, half a window apart.
    delays: [f32; 2],
    ratio: f32,
    /// 0 = dry input, 1 = shifted taps.
    mix: f32,
    mix_step: f32,
}

impl PitchShifter {
    pub fn new(sample_rate: u32) -> Self {
        let sr = sample_rate.max(1) as f32;
        let window = (WINDOW_SECONDS * sr).round().max(4.0);
        Self {
            line: DelayLine::new(window as usize + 1),
            window,
            delays: [0.0, window / 2.0],
            ratio: 1.0,
            mix: 0.0,
            mix_step: 1.0 / (BYPASS_FADE_SECONDS * sr).max(1.0),
        }
    }

    /// Frequency ratio (2^(semitones/12)); clamped to one octave either way, non-finite
    /// values mean bypass. Changing it only changes the tap speed, so it never clicks.
    pub fn set_ratio(&mut self, ratio: f32) {
        self.ratio = if ratio.is_finite() {
            ratio.clamp(MIN_RATIO, MAX_RATIO)
        } else {
            1.0
        };
    }

    pub fn ratio(&self) -> f32 {
        self.ratio
    }

    /// Mean added delay: zero when bypassed (ratio exactly 1.0), else half the window.
    pub fn latency_samples(&self) -> usize {
        if self.ratio == 1.0 {
            0
        } else {
            self.shifting_latency_samples()
        }
    }

    /// The delay any ratio other than 1.0 adds, so callers can plan before switching on.
    pub fn shifting_latency_samples(&self) -> usize {
        (self.window / 2.0).round() as usize
    }

    pub fn process(&mut self, frame: &mut [f32]) {
        let target = if self.ratio == 1.0 { 0.0 } else { 1.0 };
        if self.mix == 0.0 && target == 0.0 {
            // Keep the history current so switching on later has real audio to read.
            frame.iter().for_each(|&x| self.line.push(x));
            return;
        }
        let rate = 1.0 - self.ratio;
        let window = self.window;
        for sample in frame.iter_mut() {
            let x = *sample;
            self.line.push(x);
            let mut shifted = 0.0;
            for delay in &mut self.delays {
                *delay += rate;
                if *delay < 0.0 {
                    *delay += window;
                } else if *delay >= window {
                    *delay -= window;
                }
                let gain = 0.5 - 0.5 * (TAU * *delay / window).cos();
                shifted += gain * self.line.read(*delay);
            }
            self.mix = if target > self.mix {
                (self.mix + self.mix_step).min(target)
            } else {
                (self.mix - self.mix_step).max(target)
            };
            // The Hann gains sum to 1 only up to rounding; clamp keeps full scale in range.
            *sample = (x + (shifted - x) * self.mix).clamp(-1.0, 1.0);
        }
    }
}

#[cfg(test)]
#[path = "tests/pitch.rs"]
mod tests;
