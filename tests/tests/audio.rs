//! The capture chain on a synthetic room: echo cancellation, noise suppression and music,
//! measured on what would be sent (as `roomcast process` writes it).

use std::sync::Arc;

use roomcast_engine::audio::testsig::room::{
    convolve, db, erle_db, noise, power, rms, room_impulse, secs, talker, to_f32, to_i16,
};
use roomcast_engine::audio::{
    AudioEffects, CaptureChain, MusicParam, NoiseSuppression, process_offline,
};
use roomcast_tests::pesq::pesq_wb;

const SECONDS: f64 = 20.0;
/// Far end alone until 12 s, near end alone 12–16 s, both talking 16–20 s.
const NEAR_FROM: f64 = 12.0;
const DOUBLE_FROM: f64 = 16.0;

struct Room {
    far: Vec<f32>,
    near: Vec<f32>,
    /// What the microphone would hear without the echo: the talker and the room's noise
    /// floor (PESQ's reference: digital silence in pauses is no microphone's reference).
    near_heard: Vec<f32>,
    mic: Vec<f32>,
}

fn room() -> Room {
    let n = (SECONDS * 48_000.0) as usize;
    let mut far = talker(1, 115.0, SECONDS, 0.6);
    let mut near = talker(2, 205.0, SECONDS, 0.6);
    far[secs(NEAR_FROM..DOUBLE_FROM)].fill(0.0);
    near[secs(0.0..NEAR_FROM)].fill(0.0);
    let mut echo = convolve(&far, &room_impulse(3, 55.0, 300.0));
    // The echo about as loud as the near-end talker.
    let gain = (power(&near, secs(NEAR_FROM..DOUBLE_FROM)) / power(&echo, secs(2.0..NEAR_FROM)))
        .sqrt() as f32;
    echo.iter_mut().for_each(|s| *s *= gain);
    let hiss = noise(4, n, 0.000_5);
    let near_heard: Vec<f32> = (0..n).map(|i| near[i] + hiss[i]).collect();
    let mic = (0..n).map(|i| echo[i] + near_heard[i]).collect();
    Room {
        far,
        near,
        near_heard,
        mic,
    }
}

fn run(effects: AudioEffects, mic: &[f32], far: Option<&[f32]>) -> Vec<f32> {
    let mut chain = CaptureChain::new(effects);
    let far = far.map(to_i16);
    to_f32(&process_offline(&mut chain, &to_i16(mic), far.as_deref()))
}

fn aec_only() -> AudioEffects {
    AudioEffects {
        echo_cancellation: true,
        high_pass: true,
        ..AudioEffects::off()
    }
}

#[test]
fn echo_canceller_removes_the_far_end_and_keeps_the_near_end() {
    let r = room();
    let out = run(aec_only(), &r.mic, Some(&r.far));

    let early = erle_db(&r.mic, &out, 2.0..NEAR_FROM);
    let converged = erle_db(&r.mic, &out, 8.0..NEAR_FROM);
    println!("ERLE from 2 s: {early:.1} dB, converged: {converged:.1} dB");
    assert!(early >= 25.0, "ERLE from 2 s on is {early:.1} dB");
    assert!(converged >= 30.0, "converged ERLE is {converged:.1} dB");

    // The near-end talker alone passes: same level, and PESQ against the clean talker.
    let near_only = secs(NEAR_FROM + 0.5..DOUBLE_FROM);
    let level = db(power(&out, near_only.clone()) / power(&r.near, near_only.clone()));
    println!("near end alone: level {level:+.1} dB");
    assert!(
        level.abs() <= 2.0,
        "near-end level changed by {level:.1} dB"
    );
    if let Some(mos) = pesq_wb(&r.near_heard[near_only.clone()], &out[near_only]) {
        println!("near end alone: PESQ-WB {mos:.2}");
        assert!(mos >= 3.3, "near-end speech PESQ-WB {mos:.2}");
    }

    // Double talk: the near end is not suppressed along with the echo.
    let both = secs(DOUBLE_FROM..SECONDS);
    let kept = db(power(&out, both.clone()) / power(&r.near, both));
    println!("double talk: near-end level {kept:+.1} dB");
    assert!(kept.abs() <= 6.0, "double talk: near end at {kept:+.1} dB");
}

#[test]
fn without_echo_cancellation_the_echo_goes_through() {
    // The measure above is not vacuous: the same room with AEC off keeps its echo.
    let r = room();
    let out = run(AudioEffects::off(), &r.mic, Some(&r.far));
    let erle = erle_db(&r.mic, &out, 2.0..NEAR_FROM);
    assert!(erle.abs() < 1.0, "ERLE with AEC off is {erle:.1} dB");
}

#[test]
fn noise_suppressors_lower_noise_and_keep_speech() {
    let n = (10.0 * 48_000.0) as usize;
    let speech = talker(5, 180.0, 10.0, 0.5);
    // Speech + noise at 5 dB SNR over the whole clip.
    let noise_rms = rms(&speech) / 10f32.powf(5.0 / 20.0);
    let hiss = noise(6, n, noise_rms);
    let mic: Vec<f32> = speech.iter().zip(&hiss).map(|(s, h)| s + h).collect();
    for ns in [NoiseSuppression::Classic, NoiseSuppression::Ai] {
        let out = run(
            AudioEffects {
                noise_suppression: ns,
                ..AudioEffects::off()
            },
            &mic,
            None,
        );
        // Pauses: where the talker is silent (after convergence).
        let quiet: Vec<usize> = (secs(2.0..10.0))
            .step_by(480)
            .filter(|&i| power(&speech, i..i + 480) == 0.0)
            .collect();
        assert!(quiet.len() > 50, "the talker pauses");
        let noise_in: f64 = quiet.iter().map(|&i| power(&mic, i..i + 480)).sum();
        let noise_out: f64 = quiet.iter().map(|&i| power(&out, i..i + 480)).sum();
        let reduction = db(noise_in / noise_out);
        let loud = secs(2.0..10.0);
        let speech_level = db(power(&out, loud.clone()) / power(&speech, loud.clone()));
        let mos = pesq_wb(&speech[loud.clone()], &out[loud.clone()]);
        let before = pesq_wb(&speech[loud.clone()], &mic[loud.clone()]);
        println!(
            "{ns:?}: noise -{reduction:.1} dB, speech {speech_level:+.1} dB, PESQ-WB {before:?} -> {mos:?}"
        );
        assert!(reduction >= 10.0, "{ns:?} removed only {reduction:.1} dB");
        assert!(
            speech_level > -6.0,
            "{ns:?} took speech down {speech_level:.1} dB"
        );
    }
}

#[test]
fn background_music_is_mixed_at_its_publish_volume() {
    let dir = std::env::temp_dir().join(format!("roomcast-bgm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("music.wav");
    // 2 s of a 440 Hz tone at -12 dBFS as the "music".
    let tone: Vec<i16> = (0..96_000)
        .map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin() * 8_192.0) as i16)
        .collect();
    roomcast_engine::media::write_wav_mono(&path, &tone).expect("write music");
    let pcm = roomcast_engine::audio::decode_file(&path).expect("decode music");
    assert_eq!(
        pcm.len(),
        tone.len(),
        "a 48 kHz file decodes sample for sample"
    );

    let mut chain = CaptureChain::new(AudioEffects::off());
    let param = MusicParam::new(7, &path);
    chain.music().start(&param, Arc::from(pcm));
    chain.music().set_volume(7, Some(50), None).expect("volume");
    let silence = vec![0i16; 48_000];
    let out = to_f32(&process_offline(&mut chain, &silence, None));
    let level = db(power(&out, 0..48_000) / power(&to_f32(&tone), 0..48_000));
    println!("music at publish volume 50: {level:+.2} dB");
    // Volume 50 is half the amplitude: -6 dB.
    assert!((level + 6.02).abs() <= 0.5, "music level {level:+.2} dB");

    chain.music().seek(7, 1_500).expect("seek");
    let at = chain.music().state(7).expect("still playing").position_ms;
    assert!(at.abs_diff(1_500) <= 50, "seek landed at {at} ms");
    // It ends at 2 s and says so.
    let _ = process_offline(&mut chain, &silence, None);
    assert_eq!(
        chain.take_events(),
        vec![roomcast_engine::audio::ChainEvent::MusicComplete { id: 7 }]
    );
    assert!(chain.music().state(7).is_none());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn unplayable_music_files_get_clear_errors() {
    let missing = roomcast_engine::audio::decode_file("/nonexistent/song.mp3".as_ref())
        .expect_err("a missing file fails");
    assert!(
        missing.to_string().contains("cannot open music file"),
        "{missing}"
    );
    let dir = std::env::temp_dir().join(format!("roomcast-badbgm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let garbage = dir.join("garbage.mp3");
    std::fs::write(&garbage, b"this is not audio at all, just text").expect("write");
    let bad = roomcast_engine::audio::decode_file(&garbage).expect_err("garbage fails");
    assert!(bad.to_string().contains("supported formats"), "{bad}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A microphone in a silent room.
struct Silence;

impl roomcast_engine::media::AudioSource for Silence {
    fn channels(&self) -> u16 {
        1
    }
    fn next_frame(&mut self, capture_us: u64) -> Option<roomcast_engine::media::AudioFrame> {
        Some(roomcast_engine::media::AudioFrame {
            samples: vec![0; 960],
            channels: 1,
            sample_rate: 48_000,
            capture_us,
        })
    }
}

/// Plays the speaker's part: pulls 10 ms every 10 ms, `blocks` times, and returns what it
/// heard.
async fn listen(speaker: roomcast_engine::audio::PlayoutHandle, blocks: u32) -> Vec<f32> {
    use roomcast_engine::audio::AudioPull;
    tokio::task::spawn_blocking(move || {
        let mut heard = Vec::new();
        let start = std::time::Instant::now();
        let mut block = [0f32; 480];
        for i in 0..blocks {
            let due = start + std::time::Duration::from_millis(u64::from(i) * 10);
            std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
            speaker.pull(&mut block);
            heard.extend_from_slice(&block);
        }
        heard
    })
    .await
    .expect("speaker thread")
}

/// Median RMS of the 10 ms blocks that are not silent.
fn steady_rms(x: &[f32]) -> f32 {
    let mut blocks: Vec<f32> = x.chunks(480).map(rms).filter(|&r| r > 1e-4).collect();
    assert!(blocks.len() > 50, "only {} audible blocks", blocks.len());
    blocks.sort_by(f32::total_cmp);
    blocks[blocks.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_music_reaches_the_room_at_its_publish_volume_and_plays_locally() {
    use roomcast_engine::codec::AudioProfile;
    use roomcast_engine::media::CallbackAudioSink;
    use roomcast_engine::{Engine, EngineConfig};
    use roomcast_proto::{Role, Scene};
    use roomcast_tests::{TestServer, eventually};
    use std::sync::Mutex;
    use std::time::Duration;

    let dir = std::env::temp_dir().join(format!("roomcast-bgm-room-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("song.wav");
    let song: Vec<i16> = (0..48_000 * 8)
        .map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin() * 8_192.0) as i16)
        .collect();
    roomcast_engine::media::write_wav_mono(&path, &song).expect("write song");

    let server = TestServer::start().await;
    let mut alice = Engine::new(EngineConfig {
        audio_effects: AudioEffects::off(),
        // The test is alice's speaker: it pulls her playout to hear what she hears.
        headless_playout: false,
        ..EngineConfig::default()
    });
    alice
        .enter_room(server.params("alice", 7101, Role::Anchor, Scene::AudioCall))
        .await
        .expect("alice enters");
    let received = Arc::new(Mutex::new(Vec::<f32>::new()));
    let rec = received.clone();
    let mut bob = Engine::new(EngineConfig {
        audio_effects: AudioEffects::off(),
        audio_sink: Arc::new(move |_user: &str| {
            let rec = rec.clone();
            Box::new(CallbackAudioSink::new(move |f| {
                // Stereo decode: keep the left channel.
                rec.lock()
                    .unwrap()
                    .extend(f.samples.chunks(2).map(|c| f32::from(c[0]) / 32768.0));
            }))
        }),
        ..EngineConfig::default()
    });
    bob.enter_room(server.params("bob", 7101, Role::Anchor, Scene::AudioCall))
        .await
        .expect("bob enters");

    let state = alice
        .start_play_music(MusicParam::new(1, &path))
        .await
        .expect("music starts");
    assert_eq!(state.duration_ms, 8_000);
    alice
        .set_music_publish_volume(1, 50)
        .expect("publish volume");
    alice
        .set_music_playout_volume(1, 25)
        .expect("playout volume");
    alice
        .start_local_audio(Box::new(Silence), AudioProfile::Default)
        .await
        .expect("alice publishes");

    // Alice's speaker: 10 ms every 10 ms for 3 s.
    let heard = listen(alice.playout(), 300).await;
    assert!(
        eventually(Duration::from_secs(5), || received.lock().unwrap().len()
            > 48_000 * 2)
        .await,
        "bob received no music"
    );

    // -12 dBFS tone (rms 0.177): published at 50 → 0.088, heard locally at 25 → 0.044.
    let full = 8_192.0 / 32_768.0 / std::f32::consts::SQRT_2;
    let sent = steady_rms(&received.lock().unwrap());
    let local = steady_rms(&heard);
    let sent_db = 20.0 * (sent / (full * 0.5)).log10();
    let local_db = 20.0 * (local / (full * 0.25)).log10();
    println!("music in the room {sent_db:+.2} dB, locally {local_db:+.2} dB");
    assert!(
        sent_db.abs() <= 3.0,
        "bob hears the music at {sent_db:+.2} dB"
    );
    assert!(
        local_db.abs() <= 3.0,
        "alice hears the music at {local_db:+.2} dB"
    );

    // Muted, alice still hears her music (and it moves on); the room gets nothing.
    alice.mute_local_audio(true).await;
    let before = alice.music_state(1).expect("playing").position_ms;
    let heard_muted = listen(alice.playout(), 100).await;
    let moved = alice.music_state(1).expect("playing").position_ms - before;
    assert!(
        moved >= 800,
        "muted, the music moved only {moved} ms in 1 s"
    );
    let muted_db = 20.0 * (steady_rms(&heard_muted) / (full * 0.25)).log10();
    assert!(
        muted_db.abs() <= 3.0,
        "muted, alice hears her music at {muted_db:+.2} dB"
    );
    alice.mute_local_audio(false).await;

    alice.seek_music_to_pos_in_ms(1, 6_000).expect("seek");
    let at = alice.music_state(1).expect("playing").position_ms;
    assert!(at.abs_diff(6_000) <= 50, "seek landed at {at} ms");
    alice.exit_room().await;
    bob.exit_room().await;
    std::fs::remove_dir_all(&dir).ok();
}

/// Music in every format sox writes here (MP3, OGG Vorbis, FLAC, WAV), at 44.1 kHz stereo:
/// decoded to 48 kHz mono with its length, pitch and level. (AAC/M4A goes through the same
/// symphonia path; nothing on this machine writes it.)
#[test]
fn music_files_in_each_format_decode_to_48k_mono() {
    let have_sox = std::process::Command::new("sox")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_sox {
        assert!(
            std::env::var("CI").is_err(),
            "sox missing under CI: scripts/install-test-deps must install it"
        );
        eprintln!("skipping: sox not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("roomcast-formats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for ext in ["mp3", "ogg", "flac", "wav"] {
        let file = dir.join(format!("tone.{ext}"));
        let made = std::process::Command::new("sox")
            .args(["-n", "-r", "44100", "-c", "2"])
            .arg(&file)
            .args(["synth", "2", "sine", "440", "vol", "0.5"])
            .status()
            .expect("sox runs");
        assert!(made.success(), "sox could not write {ext}");
        let pcm = roomcast_engine::audio::decode_file(&file)
            .unwrap_or_else(|e| panic!("{ext} does not decode: {e}"));
        let seconds = pcm.len() as f64 / 48_000.0;
        let middle = &pcm[24_000..72_000];
        let crossings = middle
            .windows(2)
            .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
            .count();
        let level = rms(middle);
        println!("{ext}: {seconds:.3} s, {crossings} Hz, rms {level:.3}");
        assert!((1.95..=2.1).contains(&seconds), "{ext}: {seconds} s");
        assert!((435..=445).contains(&crossings), "{ext}: {crossings} Hz");
        assert!((0.3..=0.4).contains(&level), "{ext}: rms {level}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
