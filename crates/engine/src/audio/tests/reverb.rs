//! Tests of [`super`] on synthetic signals.

use super::*;
use crate::audio::testsig::*;

const CLICK: f32 = 0.5;

/// Click at t = 0 followed by 3 s of silence, processed in engine frames.
fn impulse_response(t: Reverb) -> Vec<f32> {
    let mut x = vec![0.0; 3 * FS as usize];
    x[0] = CLICK;
    let mut r = ReverbProcessor::new(FS);
    r.set_type(t);
    run_frames(&x, |f| r.process(f))
}

/// Time from the loudest 10 ms block of the tail (output minus the untouched dry click)
/// to the last block still within 30 dB of it.
fn decay_30db_ms(out: &[f32]) -> usize {
    let mut tail = out.to_vec();
    tail[0] -= CLICK;
    let block = FS as usize / 100;
    let energy: Vec<f32> = tail
        .chunks(block)
        .map(|b| b.iter().map(|v| v * v).sum())
        .collect();
    let (peak_at, peak) = energy
        .iter()
        .copied()
        .enumerate()
        .fold(
            (0, 0.0f32),
            |best, (i, e)| if e > best.1 { (i, e) } else { best },
        );
    if peak <= 0.0 {
        return 0;
    }
    let last = (peak_at..energy.len())
        .rev()
        .find(|&i| energy[i] >= peak * 1e-3)
        .unwrap();
    (last - peak_at) * 10
}

#[test]
fn names_round_trip() {
    for t in Reverb::ALL {
        assert_eq!(t.name().parse::<Reverb>(), Ok(t));
        assert_eq!(t.to_string(), t.name());
    }
    assert_eq!("GREAT-HALL".parse(), Ok(Reverb::GreatHall));
    let err = "x".parse::<Reverb>().unwrap_err();
    assert_eq!(
        err,
        "unknown reverb 'x'; use one of: off, ktv, small-room, great-hall, deep, loud, metallic, magnetic"
    );
}

#[test]
fn decay_times_match_room_types() {
    let mut decay = [0usize; 8];
    for (i, t) in Reverb::ALL.into_iter().enumerate() {
        let out = impulse_response(t);
        assert!(out.iter().all(|v| v.is_finite() && v.abs() <= 1.0), "{t:?}");
        assert_eq!(
            out[0], CLICK,
            "{t:?}: dry click must pass unchanged, undelayed"
        );
        let tail_peak = out[1..].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        decay[i] = decay_30db_ms(&out);
        println!(
            "{:<11} decay -30 dB {:>5} ms, tail peak {tail_peak:.3}",
            t.name(),
            decay[i]
        );
        if t == Reverb::Off {
            assert!(out[1..].iter().all(|&v| v == 0.0));
        } else {
            assert!(decay[i] > 50, "{t:?}: {} ms", decay[i]);
        }
    }
    let ms = |t: Reverb| decay[Reverb::ALL.iter().position(|&x| x == t).unwrap()] as f32;
    assert!(ms(Reverb::GreatHall) > 1.5 * ms(Reverb::SmallRoom));
}

#[test]
fn off_is_bit_exact_and_clears_tails() {
    let x = voiced_speech(140.0, 1.0, 0.9);
    let mut r = ReverbProcessor::new(FS);
    assert_eq!(run_frames(&x, |f| r.process(f)), x);
    r.set_type(Reverb::GreatHall);
    let wet = run_frames(&x, |f| r.process(f));
    assert!(wet != x && wet.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
    r.set_type(Reverb::Off);
    let mut fade = vec![0.0; FRAME];
    r.process(&mut fade);
    // After the 10 ms fade the ringing hall is gone and the input passes untouched.
    assert_eq!(run_frames(&x, |f| r.process(f)), x);
    // Re-enabling starts from silence: an impulse response identical to a fresh one.
    r.set_type(Reverb::SmallRoom);
    let mut click = vec![0.0; 3 * FS as usize];
    click[0] = CLICK;
    assert_eq!(
        run_frames(&click, |f| r.process(f)),
        impulse_response(Reverb::SmallRoom)
    );
}

#[test]
fn switching_types_keeps_output_bounded() {
    let x = voiced_speech(140.0, 2.0, 1.0);
    let mut r = ReverbProcessor::new(FS);
    let mut out = x.clone();
    for (i, frame) in out.chunks_mut(FRAME).enumerate() {
        r.set_type(Reverb::ALL[(i / 9) % 8]);
        r.process(frame);
    }
    assert!(out.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
}

#[test]
#[ignore = "timing, run with --release --ignored --nocapture"]
fn time_per_frame() {
    let x = voiced_speech(140.0, 2.0, 0.5);
    for t in Reverb::ALL {
        let mut r = ReverbProcessor::new(FS);
        r.set_type(t);
        let start = std::time::Instant::now();
        for _ in 0..20 {
            run_frames(&x, |f| r.process(f));
        }
        let per = start.elapsed() / (20 * x.len() / FRAME) as u32;
        println!("reverb {:<11} {per:?} per 10 ms frame", t.name());
    }
}
