//! A synthetic room for echo and noise tests: talkers whose vowels, pitch and pauses vary
//! like speech, a loudspeaker-to-microphone path (delay plus a decaying tail of
//! reflections), noise, and the measures the tests assert on.

use std::f64::consts::TAU;
use std::ops::Range;

use super::FS;

/// A small deterministic generator (tests must be reproducible).
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1))
    }

    /// Uniform in 0.0..1.0.
    pub fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in -1.0..1.0.
    pub fn signed(&mut self) -> f64 {
        2.0 * self.uniform() - 1.0
    }
}

/// Formants (F1, F2, F3) of a few vowels.
const VOWELS: [(f64, f64, f64); 6] = [
    (730.0, 1090.0, 2440.0),
    (270.0, 2290.0, 3010.0),
    (530.0, 1840.0, 2480.0),
    (570.0, 840.0, 2410.0),
    (300.0, 870.0, 2240.0),
    (660.0, 1720.0, 2410.0),
];

/// Two-pole resonator (unity gain at its centre, roughly).
#[derive(Default)]
struct Formant {
    y1: f64,
    y2: f64,
}

impl Formant {
    fn tick(&mut self, x: f64, freq: f64, bw: f64) -> f64 {
        let r = (-std::f64::consts::PI * bw / f64::from(FS)).exp();
        let c = 2.0 * r * (TAU * freq / f64::from(FS)).cos();
        let y = (1.0 - r) * x + c * self.y1 - r * r * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// A talker: syllables of 120–320 ms on changing vowels with a consonant-like noise onset,
/// pauses of 40–400 ms, pitch wandering ±15 % around `f0`. Peak normalised to `peak`.
pub fn talker(seed: u64, f0: f64, seconds: f64, peak: f32) -> Vec<f32> {
    let n = (seconds * f64::from(FS)) as usize;
    let mut rng = Lcg::new(seed);
    let mut out = vec![0f32; n];
    let mut formants: [Formant; 3] = Default::default();
    let mut phase = 0.0;
    let mut i = (rng.uniform() * 0.2 * f64::from(FS)) as usize;
    while i < n {
        let len = ((0.12 + 0.2 * rng.uniform()) * f64::from(FS)) as usize;
        let vowel = VOWELS[(rng.uniform() * VOWELS.len() as f64) as usize % VOWELS.len()];
        let pitch = f0 * (1.0 + 0.15 * rng.signed());
        let glide = 0.1 * rng.signed();
        let onset = (0.03 * f64::from(FS)) as usize;
        for k in 0..len.min(n - i) {
            let t = k as f64 / len as f64;
            let f = pitch * (1.0 + glide * t);
            phase = (phase + f / f64::from(FS)).fract();
            let glottal = if phase < 0.6 {
                (std::f64::consts::PI * phase / 0.6).sin().powi(2)
            } else {
                0.0
            } - 0.3; // the pulse's mean: no DC
            let noise = if k < onset { rng.signed() * 0.6 } else { 0.0 };
            let x = glottal + noise;
            let v = formants[0].tick(x, vowel.0, 80.0)
                + 0.7 * formants[1].tick(x, vowel.1, 100.0)
                + 0.3 * formants[2].tick(x, vowel.2, 150.0);
            let env = (std::f64::consts::PI * t).sin().powf(0.6);
            out[i + k] = (v * env) as f32;
        }
        i += len + ((0.04 + 0.36 * rng.uniform()) * f64::from(FS)) as usize;
    }
    normalize(&mut out, peak);
    out
}

fn normalize(x: &mut [f32], peak: f32) {
    let max = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if max > 0.0 {
        x.iter_mut().for_each(|v| *v *= peak / max);
    }
}

/// A loudspeaker-to-microphone path: the direct sound after `delay_ms`, then reflections
/// every ~0.5 ms decaying by 60 dB over `rt60_ms`. Sparse taps (sample offset, gain).
pub fn room_impulse(seed: u64, delay_ms: f64, rt60_ms: f64) -> Vec<(usize, f32)> {
    let mut rng = Lcg::new(seed);
    let fs = f64::from(FS) / 1000.0;
    let delay = (delay_ms * fs) as usize;
    let mut taps = vec![(delay, 1.0f32)];
    let mut t = 2.0;
    while t < rt60_ms {
        let gain = 0.5 * 10f64.powf(-3.0 * t / rt60_ms) * rng.signed();
        taps.push((delay + (t * fs) as usize, gain as f32));
        t += 0.25 + 0.5 * rng.uniform();
    }
    taps
}

pub fn convolve(x: &[f32], taps: &[(usize, f32)]) -> Vec<f32> {
    let mut y = vec![0f32; x.len()];
    for &(at, g) in taps {
        for (o, s) in y[at.min(x.len())..].iter_mut().zip(x) {
            *o += g * s;
        }
    }
    y
}

/// White-ish noise at `rms`.
pub fn noise(seed: u64, len: usize, rms: f32) -> Vec<f32> {
    let mut rng = Lcg::new(seed);
    (0..len)
        .map(|_| (rng.signed() * 3f64.sqrt()) as f32 * rms)
        .collect()
}

/// Mean power of `x[range]`.
pub fn power(x: &[f32], range: Range<usize>) -> f64 {
    let s = &x[range.start.min(x.len())..range.end.min(x.len())];
    s.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / s.len().max(1) as f64
}

pub fn rms(x: &[f32]) -> f32 {
    power(x, 0..x.len()).sqrt() as f32
}

pub fn db(ratio: f64) -> f64 {
    10.0 * ratio.max(1e-20).log10()
}

/// Echo return loss enhancement over `range` (seconds): microphone power over output power.
pub fn erle_db(mic: &[f32], out: &[f32], range: Range<f64>) -> f64 {
    let r = secs(range);
    db(power(mic, r.clone()) / power(out, r))
}

/// Seconds to a sample range.
pub fn secs(range: Range<f64>) -> Range<usize> {
    (range.start * f64::from(FS)) as usize..(range.end * f64::from(FS)) as usize
}

pub fn to_i16(x: &[f32]) -> Vec<i16> {
    x.iter()
        .map(|&v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

pub fn to_f32(x: &[i16]) -> Vec<f32> {
    x.iter().map(|&v| f32::from(v) / 32768.0).collect()
}
