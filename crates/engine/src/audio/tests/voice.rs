//! Tests of [`super`] on synthetic signals.

use super::*;
use crate::audio::testsig::*;

fn render(t: VoiceChanger, x: &[f32]) -> Vec<f32> {
    let mut p = VoiceChangerProcessor::new(FS);
    p.set_type(t);
    run_frames(x, |f| p.process(f))
}

fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
    let energy = |s: &[f32]| s.iter().map(|v| v * v).sum::<f32>();
    let diff: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    (diff / energy(a).max(energy(b)).max(1e-12)).sqrt()
}

#[test]
fn names_round_trip() {
    for t in VoiceChanger::ALL {
        assert_eq!(t.name().parse::<VoiceChanger>(), Ok(t));
        assert_eq!(t.to_string(), t.name());
    }
    assert_eq!(" Little-Girl ".parse(), Ok(VoiceChanger::LittleGirl));
    let err = "x".parse::<VoiceChanger>().unwrap_err();
    assert!(err.starts_with("unknown voice changer 'x'; use one of: off, child,"));
    assert!(err.ends_with("heavy-machinery, ethereal"));
}

#[test]
fn presets_shift_pitch_as_promised_and_are_distinct() {
    let x = voiced_speech(140.0, 2.0, 0.5);
    let skip = FS as usize / 5;
    let f0_in = median_f0(&x[skip..]);
    let outs: Vec<Vec<f32>> = VoiceChanger::ALL.iter().map(|&t| render(t, &x)).collect();
    println!("{:<16} {:>9} {:>8}", "type", "f0 shift", "latency");
    for (t, out) in VoiceChanger::ALL.iter().zip(&outs) {
        let shift = semitones(f0_in, median_f0(&out[skip..]));
        let latency = VoiceChangerProcessor::new(FS).tap(*t).latency_samples();
        println!(
            "{:<16} {shift:>+8.2}  {:>5.1} ms",
            t.name(),
            latency as f32 / 48.0
        );
        assert!(latency <= 960, "{t:?}: {latency}");
        match t {
            VoiceChanger::Child | VoiceChanger::LittleGirl => assert!(shift >= 4.0, "{t:?}"),
            VoiceChanger::Uncle | VoiceChanger::Fatso | VoiceChanger::TrappedBeast => {
                assert!(shift <= -2.0, "{t:?}: {shift}")
            }
            _ => {}
        }
        assert!(out.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
    }
    assert_eq!(outs[0], x, "off must be bit-exact");
    for i in 1..outs.len() {
        assert!(
            rel_diff(&outs[i], &x) > 0.1,
            "{:?} ~ input",
            VoiceChanger::ALL[i]
        );
        for j in 1..i {
            let d = rel_diff(&outs[i], &outs[j]);
            let (a, b) = (VoiceChanger::ALL[i], VoiceChanger::ALL[j]);
            assert!(d > 0.1, "{a:?} ~ {b:?} ({d})");
        }
    }
}

impl VoiceChangerProcessor {
    fn tap(mut self, t: VoiceChanger) -> Self {
        self.set_type(t);
        self
    }
}

#[test]
fn full_scale_input_and_switching_stay_bounded() {
    let x = voiced_speech(110.0, 1.5, 1.0);
    for t in VoiceChanger::ALL {
        assert!(
            render(t, &x)
                .iter()
                .all(|v| v.is_finite() && v.abs() <= 1.0)
        );
    }
    let mut p = VoiceChangerProcessor::new(FS);
    let mut out = x.clone();
    for (i, frame) in out.chunks_mut(FRAME).enumerate() {
        p.set_type(VoiceChanger::ALL[(i / 7) % 12]);
        p.process(frame);
    }
    assert!(out.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
}

#[test]
fn odd_frame_sizes_match_engine_frames() {
    let x = voiced_speech(140.0, 0.5, 0.5);
    let mut p = VoiceChangerProcessor::new(FS);
    p.set_type(VoiceChanger::Ethereal);
    let mut odd = x.clone();
    odd.chunks_mut(37).for_each(|f| p.process(f));
    assert!(rel_diff(&odd, &render(VoiceChanger::Ethereal, &x)) < 1e-4);
}

#[test]
#[ignore = "timing, run with --release --ignored --nocapture"]
fn time_per_frame() {
    let x = voiced_speech(140.0, 2.0, 0.5);
    for t in VoiceChanger::ALL {
        let mut p = VoiceChangerProcessor::new(FS);
        p.set_type(t);
        let start = std::time::Instant::now();
        for _ in 0..20 {
            run_frames(&x, |f| p.process(f));
        }
        let per = start.elapsed() / (20 * x.len() / FRAME) as u32;
        println!("voice {:<16} {per:?} per 10 ms frame", t.name());
    }
}
