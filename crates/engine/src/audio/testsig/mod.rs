//! Test and benchmark signals and measurements (feature `testsig`, never in the product): a harmonic tone, a synthetic "voiced speech" signal,
//! and a YIN pitch estimator used to check what the effects do to the fundamental.

pub mod room;

use std::f64::consts::TAU;

pub const FS: u32 = 48_000;
/// Frame size used by the engine (10 ms at 48 kHz).
pub const FRAME: usize = 480;

/// Normalizes to an exact peak so "full scale" tests really hit ±1.0.
fn normalize(mut x: Vec<f32>, peak: f32) -> Vec<f32> {
    let max = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if max > 0.0 {
        let g = peak / max;
        x.iter_mut().for_each(|v| *v *= g);
    }
    x
}

/// Ten harmonics with 1/k amplitudes: a bright, strongly periodic test tone.
pub fn harmonic_tone(f0: f64, seconds: f64, peak: f32) -> Vec<f32> {
    let n = (seconds * f64::from(FS)) as usize;
    let x = (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(FS);
            (1..=10)
                .map(|k| (TAU * f0 * f64::from(k) * t).sin() / f64::from(k))
                .sum::<f64>() as f32
        })
        .collect();
    normalize(x, peak)
}

/// RBJ band-pass biquad (0 dB peak gain), used as a formant resonator.
struct Resonator {
    b0: f64,
    a1: f64,
    a2: f64,
    x: [f64; 2],
    y: [f64; 2],
}

impl Resonator {
    fn new(freq: f64, bandwidth: f64) -> Self {
        let w = TAU * freq / f64::from(FS);
        let alpha = w.sin() * (freq / bandwidth).recip() / 2.0;
        let a0 = 1.0 + alpha;
        Self {
            b0: alpha / a0,
            a1: -2.0 * w.cos() / a0,
            a2: (1.0 - alpha) / a0,
            x: [0.0; 2],
            y: [0.0; 2],
        }
    }

    fn tick(&mut self, x: f64) -> f64 {
        let y = self.b0 * (x - self.x[1]) - self.a1 * self.y[0] - self.a2 * self.y[1];
        self.x = [x, self.x[0]];
        self.y = [y, self.y[0]];
        y
    }
}

/// Sawtooth "glottal" source at `f0` with slight 5 Hz vibrato, shaped by formants at
/// 700/1200/2600 Hz and gated into 4 Hz syllables with short pauses, normalized to `peak`.
pub fn voiced_speech(f0: f64, seconds: f64, peak: f32) -> Vec<f32> {
    let n = (seconds * f64::from(FS)) as usize;
    let mut formants = [
        (Resonator::new(700.0, 90.0), 1.0),
        (Resonator::new(1200.0, 110.0), 0.6),
        (Resonator::new(2600.0, 170.0), 0.3),
    ];
    let mut phase = 0.0f64;
    let x = (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(FS);
            let f = f0 * (1.0 + 0.012 * (TAU * 5.0 * t).sin());
            phase = (phase + f / f64::from(FS)).fract();
            let source = 2.0 * phase - 1.0;
            let voiced: f64 = formants.iter_mut().map(|(r, g)| *g * r.tick(source)).sum();
            let syllable = (t * 4.0).fract();
            let env = if syllable < 0.75 {
                (std::f64::consts::PI * syllable / 0.75).sin()
            } else {
                0.0
            };
            ((voiced + 0.1 * source) * env) as f32
        })
        .collect();
    normalize(x, peak)
}

/// YIN over one window (first half = lags, second half = integration). `None` if unvoiced.
pub fn yin(window: &[f32]) -> Option<f32> {
    let min_tau = (FS / 600) as usize;
    let max_tau = (FS / 55) as usize;
    let w = window.len().checked_sub(max_tau + 1)?;
    let mut cmnd = vec![1.0f32; max_tau + 2];
    let mut running = 0.0f32;
    for tau in 1..=max_tau + 1 {
        let d: f32 = (0..w)
            .map(|j| {
                let e = window[j] - window[j + tau];
                e * e
            })
            .sum();
        running += d;
        cmnd[tau] = if running > 0.0 {
            d * tau as f32 / running
        } else {
            1.0
        };
    }
    let mut best = (min_tau..=max_tau).find(|&t| cmnd[t] < 0.15);
    if let Some(t) = best.as_mut() {
        while *t < max_tau && cmnd[*t + 1] < cmnd[*t] {
            *t += 1;
        }
    } else {
        let t = (min_tau..=max_tau).min_by(|&a, &b| cmnd[a].total_cmp(&cmnd[b]))?;
        if cmnd[t] > 0.4 {
            return None;
        }
        best = Some(t);
    }
    let t = best?;
    let (a, b, c) = (cmnd[t - 1], cmnd[t], cmnd[t + 1]);
    let denom = a - 2.0 * b + c;
    let shift = if denom.abs() > 1e-12 {
        (0.5 * (a - c) / denom).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    Some(FS as f32 / (t as f32 + shift))
}

/// Median f0 over 40 ms windows (20 ms hop) whose level is within 20 dB of the loudest.
pub fn median_f0(x: &[f32]) -> f32 {
    let win = (FS / 25) as usize;
    let hop = win / 2;
    let rms = |s: &[f32]| (s.iter().map(|v| v * v).sum::<f32>() / s.len() as f32).sqrt();
    let starts: Vec<usize> = (0..x.len().saturating_sub(win)).step_by(hop).collect();
    let loudest = starts
        .iter()
        .map(|&s| rms(&x[s..s + win]))
        .fold(0.0f32, f32::max);
    let mut f0s: Vec<f32> = starts
        .iter()
        .filter(|&&s| rms(&x[s..s + win]) > 0.1 * loudest)
        .filter_map(|&s| yin(&x[s..s + win]))
        .collect();
    assert!(!f0s.is_empty(), "no voiced windows found");
    f0s.sort_by(f32::total_cmp);
    f0s[f0s.len() / 2]
}

pub fn semitones(from_hz: f32, to_hz: f32) -> f32 {
    12.0 * (to_hz / from_hz).log2()
}

/// Runs a processor over `x` in engine-sized frames, like the real audio thread does.
pub fn run_frames(x: &[f32], mut process: impl FnMut(&mut [f32])) -> Vec<f32> {
    let mut out = x.to_vec();
    out.chunks_mut(FRAME).for_each(&mut process);
    out
}

#[test]
fn estimator_finds_known_pitches() {
    for f0 in [93.0, 140.0, 150.0, 225.0, 300.0] {
        let tone = median_f0(&harmonic_tone(f0, 0.5, 0.5));
        assert!(semitones(f0 as f32, tone).abs() < 0.1, "{f0} -> {tone}");
        let voice = median_f0(&voiced_speech(f0, 1.0, 0.5));
        assert!(semitones(f0 as f32, voice).abs() < 0.3, "{f0} -> {voice}");
    }
}
