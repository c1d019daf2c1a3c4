//! Tests of [`super::CaptureChain`] on samples.

use super::*;
use crate::audio::VoiceChanger;

fn stereo_frame() -> Vec<i16> {
    (0..960 * 2)
        .map(|i| ((i * 37) % 2000) as i16 - 1000)
        .collect()
}

#[test]
fn with_everything_off_frames_pass_bit_exact_even_stereo() {
    let mut chain = CaptureChain::new(AudioEffects::off());
    assert!(!chain.is_active());
    let mut frame = stereo_frame();
    let before = frame.clone();
    chain.process_pcm(&mut frame, 2);
    assert_eq!(frame, before);
}

#[test]
fn capture_volume_scales_and_settings_change_at_runtime() {
    let mut chain = CaptureChain::new(AudioEffects::off());
    chain
        .set_effects(AudioEffects {
            capture_volume: 50,
            ..AudioEffects::off()
        })
        .expect("valid");
    let mut frame = vec![10_000i16; 960];
    chain.process_pcm(&mut frame, 1);
    assert!(
        frame.iter().all(|&s| (s - 5_000).abs() <= 1),
        "{:?}",
        &frame[..4]
    );
    let err = chain
        .set_effects(AudioEffects {
            capture_volume: 151,
            ..AudioEffects::off()
        })
        .expect_err("out of range");
    assert!(err.contains("0..=150"), "{err}");
    assert_eq!(
        chain.effects().capture_volume,
        50,
        "a bad setting changes nothing"
    );
}

#[test]
fn stereo_is_processed_as_mono_when_something_is_on() {
    let mut chain = CaptureChain::new(AudioEffects {
        voice_changer: VoiceChanger::HeavyMetal,
        ..AudioEffects::off()
    });
    let mut frame = stereo_frame();
    chain.process_pcm(&mut frame, 2);
    assert!(frame.chunks(2).all(|c| c[0] == c[1]));
    assert!(frame.iter().any(|&s| s != 0));
}

#[test]
fn the_ear_monitor_hands_the_processed_voice_to_the_playout() {
    let mut chain = CaptureChain::new(AudioEffects {
        ear_monitor: true,
        ear_monitor_volume: 50,
        ..AudioEffects::off()
    });
    let local = chain.local_out();
    let mut frame = vec![0.5f32; FRAME_10MS];
    chain.process(&mut frame);
    let mut heard = vec![0f32; FRAME_10MS];
    assert!(local.pop_frame(&mut heard));
    assert!(heard.iter().all(|&s| (s - 0.25).abs() < 1e-6));
    assert!(
        frame.iter().all(|&s| (s - 0.5).abs() < 1e-6),
        "what is sent is unchanged"
    );
}

#[test]
fn the_far_end_reaches_the_echo_canceller_before_the_microphone() {
    // A far end pushed in lockstep is consumed frame by frame (nothing piles up).
    let mut chain = CaptureChain::new(AudioEffects {
        echo_cancellation: true,
        ..AudioEffects::off()
    });
    let far = chain.far_end();
    for _ in 0..10 {
        far.push(&[0.1; FRAME_10MS]);
        let mut mic = [0.0f32; FRAME_10MS];
        chain.process(&mut mic);
    }
    let mut left = [0f32; 1];
    assert!(
        !far.pop_frame(&mut left),
        "every far-end frame was rendered"
    );
}
