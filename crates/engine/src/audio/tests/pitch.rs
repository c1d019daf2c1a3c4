//! Tests of [`super`] on synthetic signals.

use super::*;
use crate::audio::testsig::*;

fn shift(x: &[f32], ratio: f32) -> Vec<f32> {
    let mut p = PitchShifter::new(FS);
    p.set_ratio(ratio);
    run_frames(x, |f| p.process(f))
}

#[test]
fn shifts_harmonic_tone_by_requested_interval() {
    let tone = harmonic_tone(150.0, 1.0, 0.5);
    for st in [-7.0f32, -5.0, -3.0, 3.0, 5.0, 7.0] {
        let out = shift(&tone, 2f32.powf(st / 12.0));
        let measured = semitones(150.0, median_f0(&out[FS as usize / 10..]));
        println!("pitch {st:+} st -> measured {measured:+.2} st");
        assert!((measured - st).abs() < 0.5, "{st} st -> {measured}");
    }
}

#[test]
fn unity_ratio_is_bit_exact_and_zero_latency() {
    let x = voiced_speech(140.0, 0.5, 0.9);
    let mut p = PitchShifter::new(FS);
    assert_eq!(shift(&x, 1.0), x);
    // Also after having been on: once the fade-out finishes, output is the input again.
    p.set_ratio(1.5);
    run_frames(&x, |f| p.process(f));
    p.set_ratio(1.0);
    assert_eq!(p.latency_samples(), 0);
    let _ = run_frames(&x[..FRAME], |f| p.process(f));
    assert_eq!(run_frames(&x, |f| p.process(f)), x);
}

#[test]
fn latency_within_budget() {
    let mut p = PitchShifter::new(FS);
    for st in [-12.0f32, -7.0, -1.0, 1.0, 7.0, 12.0] {
        p.set_ratio(2f32.powf(st / 12.0));
        assert!(p.latency_samples() > 0 && p.latency_samples() <= 960);
    }
}

#[test]
fn full_scale_input_stays_bounded() {
    let tone = harmonic_tone(150.0, 0.5, 1.0);
    let square: Vec<f32> = (0..FS as usize / 2)
        .map(|i| if (i / 97) % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    for ratio in [0.5, 0.7, 0.94, 1.06, 1.5, 2.0, f32::NAN] {
        for x in [&tone, &square] {
            let out = shift(x, ratio);
            assert!(out.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
        }
    }
}

#[test]
fn switching_on_and_changing_ratio_does_not_click() {
    // 200 Hz sine: the largest natural step is ~0.013; a click would be far larger.
    let x: Vec<f32> = (0..FS as usize)
        .map(|i| 0.5 * (TAU * 200.0 * i as f32 / FS as f32).sin())
        .collect();
    let mut p = PitchShifter::new(FS);
    let mut out = Vec::new();
    for (i, chunk) in x.chunks(FRAME).enumerate() {
        p.set_ratio([1.0, 1.3, 0.8, 1.0][(i / 20) % 4]);
        let mut f = chunk.to_vec();
        p.process(&mut f);
        out.extend(f);
    }
    let max_step = out
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max);
    assert!(max_step < 0.05, "max step {max_step}");
}

#[test]
#[ignore = "timing, run with --release --ignored --nocapture"]
fn time_per_frame() {
    let x = voiced_speech(140.0, 2.0, 0.5);
    let mut p = PitchShifter::new(FS);
    p.set_ratio(1.4);
    let start = std::time::Instant::now();
    let mut frames = 0;
    for _ in 0..50 {
        run_frames(&x, |f| p.process(f));
        frames += x.len() / FRAME;
    }
    println!(
        "pitch: {:?} per 10 ms frame",
        start.elapsed() / frames as u32
    );
}
