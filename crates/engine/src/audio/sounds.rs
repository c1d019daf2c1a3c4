//! Built-in sound effects, synthesised (no sample files to ship or license): applause, a
//! bell and a drum roll, 48 kHz mono. Played like music (`Engine::play_sound_effect`), so
//! several can sound at once over the voice.

use std::f32::consts::TAU;

use crate::media::SAMPLE_RATE;

pub const NAMES: [&str; 3] = ["applause", "bell", "drumroll"];

/// The effect's samples, or None for an unknown name.
pub fn builtin(name: &str) -> Option<Vec<f32>> {
    match name {
        "applause" => Some(applause()),
        "bell" => Some(bell()),
        "drumroll" => Some(drumroll()),
        _ => None,
    }
}

/// xorshift noise: deterministic, so the effect is the same every time.
struct Noise(u32);

impl Noise {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 as f32 / u32::MAX as f32) * 2.0 - 1.0
    }
}

fn seconds(s: f32) -> usize {
    (s * SAMPLE_RATE as f32) as usize
}

/// Adds one percussive hit: band-limited noise with a fast exponential decay.
fn hit(out: &mut [f32], at: usize, gain: f32, decay_ms: f32, brightness: f32, noise: &mut Noise) {
    let len = seconds(decay_ms * 5.0 / 1000.0);
    let k = (-1.0 / (decay_ms / 1000.0 * SAMPLE_RATE as f32)).exp();
    let (mut env, mut lp) = (gain, 0.0f32);
    for s in out.iter_mut().skip(at).take(len) {
        lp += brightness * (noise.next() - lp);
        *s += lp * env;
        env *= k;
    }
}

/// A crowd clapping: many claps at random times, swelling and fading over 3 s.
fn applause() -> Vec<f32> {
    let mut out = vec![0.0; seconds(3.0)];
    let mut noise = Noise(0x1234_5678);
    let claps = 900;
    for _ in 0..claps {
        let t = (noise.next() * 0.5 + 0.5).powf(1.3);
        let at = (t * (out.len() - seconds(0.05)) as f32) as usize;
        let swell = (std::f32::consts::PI * t).sin().max(0.1);
        let gain = swell * (0.3 + 0.2 * noise.next().abs());
        hit(&mut out, at, gain, 6.0, 0.6, &mut noise);
    }
    normalize(out, 0.5)
}

/// A small bell: inharmonic partials with long, partial-dependent decays.
fn bell() -> Vec<f32> {
    let partials = [
        (880.0, 1.0, 1.2),
        (1_760.0 * 1.19, 0.5, 0.8),
        (2_640.0 * 1.33, 0.3, 0.5),
    ];
    let out = (0..seconds(2.0))
        .map(|i| {
            let t = i as f32 / SAMPLE_RATE as f32;
            partials
                .iter()
                .map(|&(f, a, d)| a * (TAU * f * t).sin() * (-t / d * 3.0).exp())
                .sum::<f32>()
        })
        .collect();
    normalize(out, 0.5)
}

/// A snare roll: hits closer and louder over 2 s, then a last accent.
fn drumroll() -> Vec<f32> {
    let mut out = vec![0.0; seconds(2.3)];
    let mut noise = Noise(0x9e37_79b9);
    let mut t = 0.0f32;
    while t < 2.0 {
        let progress = t / 2.0;
        hit(
            &mut out,
            seconds(t),
            0.3 + 0.5 * progress,
            25.0,
            0.8,
            &mut noise,
        );
        t += 0.06 - 0.03 * progress;
    }
    hit(&mut out, seconds(2.05), 1.0, 60.0, 0.8, &mut noise);
    normalize(out, 0.6)
}

fn normalize(mut x: Vec<f32>, peak: f32) -> Vec<f32> {
    let max = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if max > 0.0 {
        x.iter_mut().for_each(|v| *v *= peak / max);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_effect_is_audible_bounded_and_short() {
        for name in NAMES {
            let x = builtin(name).expect("known");
            let peak = x.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!((0.4..=0.61).contains(&peak), "{name}: peak {peak}");
            assert!(x.len() <= seconds(3.0), "{name} is short");
            assert!(x.iter().all(|v| v.is_finite()));
        }
        assert!(builtin("kazoo").is_none());
    }
}
