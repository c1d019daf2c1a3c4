//! Tests of [`super::Playout`] on a virtual clock: packets in, pulled mix out.

use std::sync::{Arc, Mutex};

use super::*;
use crate::codec::{AudioProfile, OpusEncoder};
use crate::media::CallbackAudioSink;
use crate::stats::AudioStats;

const T0: u64 = 1_000_000_000;

/// 20 ms Opus packets of a constant-amplitude 440 Hz tone (mono).
fn packets(amplitude: f32, count: usize) -> Vec<Vec<u8>> {
    let mut enc = OpusEncoder::new(1, AudioProfile::Default).expect("encoder");
    (0..count)
        .map(|k| {
            let pcm: Vec<i16> = (0..FRAME_SAMPLES)
                .map(|i| {
                    let t = (k * FRAME_SAMPLES + i) as f32 / 48_000.0;
                    ((t * 440.0 * std::f32::consts::TAU).sin() * amplitude * 32767.0) as i16
                })
                .collect();
            enc.encode(&pcm).expect("encode")
        })
        .collect()
}

struct Rig {
    playout: Playout,
    far: Arc<SampleQueue>,
    local: Arc<SampleQueue>,
    recorded: Arc<Mutex<Vec<i16>>>,
    firsts: Arc<Mutex<u32>>,
}

fn rig(users: &[&str]) -> Rig {
    let far = Arc::new(SampleQueue::new(1000));
    let local = Arc::new(SampleQueue::new(200));
    let mut playout = Playout::new(far.clone(), local.clone());
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let firsts = Arc::new(Mutex::new(0));
    for (i, user) in users.iter().enumerate() {
        let rec = recorded.clone();
        let sink = CallbackAudioSink::new(move |f| {
            if i == 0 {
                rec.lock().unwrap().extend(&f.samples);
            }
        });
        let f = firsts.clone();
        playout
            .add_user(
                user,
                1,
                Box::new(sink),
                Arc::new(Mutex::new(AudioStats::default())),
                Box::new(move || *f.lock().unwrap() += 1),
            )
            .expect("decoder");
    }
    Rig {
        playout,
        far,
        local,
        recorded,
        firsts,
    }
}

/// Feeds each user's packets on time and pulls 10 ms per 10 ms of virtual time; returns
/// the mix.
fn run(rig: &mut Rig, feeds: &[(&str, Vec<Vec<u8>>)], ms: u64) -> Vec<f32> {
    let mut mix = Vec::new();
    let mut out = [0f32; FRAME_10MS];
    for step in 0..ms / 10 {
        let now = T0 + step * 10_000;
        if step % 2 == 0 {
            let k = (step / 2) as usize;
            for (user, p) in feeds {
                if let Some(payload) = p.get(k) {
                    rig.playout.push_packet(
                        user,
                        now,
                        (k * FRAME_SAMPLES) as u64,
                        k as u64,
                        payload.clone(),
                    );
                }
            }
        }
        rig.playout.pull(now, &mut out);
        mix.extend_from_slice(&out);
    }
    mix
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|s| s * s).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

#[test]
fn mixes_every_user_with_their_volume_and_feeds_the_echo_canceller() {
    let mut r = rig(&["alice", "bob"]);
    r.playout.set_user_volume("bob", 50);
    let feeds = [("alice", packets(0.2, 100)), ("bob", packets(0.2, 100))];
    let mix = run(&mut r, &feeds, 2_000);
    // Alice alone would be ~0.14 rms; bob adds half of the same in-phase tone.
    let level = rms(&mix[48_000..96_000]);
    assert!((0.18..0.24).contains(&level), "mix rms {level}");
    assert_eq!(*r.firsts.lock().unwrap(), 2, "each user's first audio once");
    // The echo canceller's reference is exactly what the speaker got (its queue keeps the
    // last second).
    let mut far = vec![0f32; 48_000];
    assert!(r.far.pop_frame(&mut far));
    assert_eq!(far[..], mix[mix.len() - 48_000..]);
    // Per-user sinks still get every decoded 20 ms frame (recording, callbacks).
    let recorded = r.recorded.lock().unwrap().len();
    assert!(
        recorded >= 95 * FRAME_SAMPLES,
        "recorded {recorded} samples"
    );
}

#[test]
fn a_user_who_leaves_or_is_muted_locally_is_not_heard() {
    let mut r = rig(&["alice"]);
    let feeds = [("alice", packets(0.2, 100))];
    r.playout.set_user_volume("alice", 0);
    let muted = run(&mut r, &feeds, 1_000);
    assert!(rms(&muted) < 1e-4, "volume 0 plays nothing");
    r.playout.set_user_volume("alice", 100);
    r.playout.remove_user("alice");
    let gone = run(&mut r, &feeds, 500);
    assert!(
        gone.iter().all(|&s| s == 0.0),
        "a removed user plays nothing"
    );
}

#[test]
fn local_music_and_ear_monitor_are_played_and_pull_sizes_are_free() {
    let mut r = rig(&[]);
    r.local.push(&vec![0.25f32; 960]);
    let mut odd = vec![0f32; 333];
    r.playout.pull(T0, &mut odd);
    assert!(odd.iter().all(|&s| (s - 0.25).abs() < 1e-6));
    let mut rest = vec![0f32; 960 - 333 + 480];
    r.playout.pull(T0, &mut rest);
    assert!(rest[..627].iter().all(|&s| (s - 0.25).abs() < 1e-6));
    assert!(rest[627..].iter().all(|&s| s == 0.0), "then silence");
    r.playout.set_volume(50);
    r.local.push(&vec![0.5f32; 480]);
    let mut half = vec![0f32; 480];
    r.playout.pull(T0, &mut half);
    assert!(
        half.iter().all(|&s| (s - 0.25).abs() < 1e-6),
        "playout volume"
    );
}
