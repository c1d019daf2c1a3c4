//! Speech from one `roomcast join` to another through the server, as a new user would
//! measure it: Alice sends a 48 kHz WAV, Bob records what he hears, PESQ-WB scores it. On a
//! clean loopback, and through a relay that loses 30 % of datagrams each way.

use std::process::Command;

use roomcast_engine::audio::{to_f32, to_i16};
use roomcast_engine::media::{read_wav_mono, write_wav_mono};
use roomcast_tests::TestServer;
use roomcast_tests::pesq::{align, pesq_wb, python, speech};
use serde_json::Value;

/// Alice speaks for 20 s (joins of 23 s); what Bob heard, scored by PESQ-WB from 5 s into
/// what both have, and Bob's report of Alice's audio. None where espeak-ng or Python's pesq
/// is missing (scripts/install-test-deps installs both).
async fn speech_call(server: &TestServer, name: &str) -> Option<(f64, Value)> {
    // One call at a time: four clients, two servers and a relay on two cores played late
    // what one call plays on time, and the score measured the machine, not the call.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let speech = speech(20.0)?;
    python()?;
    let dir = roomcast_tests::temp_dir(name);
    let wav = dir.join("speech.wav");
    let mut pcm = vec![0i16; speech.len()];
    to_i16(&speech, &mut pcm);
    write_wav_mono(&wav, &pcm).expect("speech WAV");
    let run = |user: &'static str, extra: Vec<std::ffi::OsString>| {
        let (url, app, key) = (server.url(), server.app.to_string(), server.key.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(roomcast_tests::roomcast_bin())
                .args(["join", "--server", &url, "--app", &app, "--key", &key])
                .args(["--room", "speech", "--user", user, "--video", "none"])
                .args(["--duration", "23"])
                .args(extra)
                .output()
                .expect("runs")
        })
    };
    let alice = run("alice", vec!["--audio".into(), wav.into()]);
    let bob = run(
        "bob",
        vec![
            "--audio".into(),
            "none".into(),
            "--record".into(),
            dir.join("bob").into(),
            "--report".into(),
            dir.join("bob.json").into(),
        ],
    );
    let (a, b) = (alice.await.expect("alice"), bob.await.expect("bob"));
    for (who, out) in [("alice", &a), ("bob", &b)] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{who}: {stderr}");
    }
    let recorded = read_wav_mono(&dir.join("bob/alice.wav")).expect("Bob's recording of Alice");
    let mut heard = vec![0.0; recorded.len()];
    to_f32(&recorded, &mut heard);
    // Bob's recording starts with the first frame he heard: it lags the file by the time
    // both took to enter, or leads it when the call took longer to set up than that.
    let (s, h) = align(&speech, &heard, 5 * 48_000);
    let (from, to) = (5 * 48_000, (speech.len() - s).min(heard.len() - h));
    assert!(
        to > from + 10 * 48_000,
        "Bob recorded {} s, {} s of it aligned with the source",
        heard.len() / 48_000,
        to / 48_000
    );
    let pesq = pesq_wb(&speech[s + from..s + to], &heard[h + from..h + to]).expect("pesq");
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.join("bob.json")).expect("report"))
            .expect("JSON");
    let _ = std::fs::remove_dir_all(&dir);
    Some((pesq, report["remotes"]["alice"]["audio"].clone()))
}

/// The issue measured 3.7 on a clean loopback where Opus alone scores 4.0, and 8 frames
/// concealed in 23 s (the wait for packets after the sender's last one, counted as loss).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_clean_loopback_speech_arrives_as_sent() {
    let server = TestServer::start().await;
    let Some((pesq, audio)) = speech_call(&server, "speech-clean").await else {
        return;
    };
    println!("PESQ-WB {pesq:.2}; {audio}");
    assert_eq!(audio["concealed"].as_u64(), Some(0), "{audio}");
    // At the default 50 kbit/s Opus alone scores 4.26 on this speech; runs score 4.24–4.25
    // (the issue asks 4.2, which the virtual call asserts; here a loaded machine gets slack).
    assert!(pesq >= 4.15, "PESQ-WB {pesq:.2} on a clean loopback");
}

/// The issue measured PESQ-WB 1.7 at about 10 % loss; at 30 % the first audio came after
/// 20 s. Both legs (Alice to the server, the server to Bob) lose 30 % each way here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_relay_losing_thirty_percent_each_way_speech_stays_clear() {
    let (server, relay) = TestServer::behind_relay(0.3, 7).await;
    let Some((pesq, audio)) = speech_call(&server, "speech-lossy").await else {
        return;
    };
    let dropped = relay.dropped.load(std::sync::atomic::Ordering::Relaxed);
    println!("PESQ-WB {pesq:.2}; {dropped} datagrams dropped; {audio}");
    assert!(dropped > 500, "the relay dropped only {dropped} datagrams");
    // Nine runs scored 3.23–4.14 (3.23 in a CI run) with 0.9–1.8 % of frames concealed;
    // the virtual network's version of this case scores 3.2–3.9 by seed, so one run's score
    // varies that much. What the runs lost, and what the fix of Alice's first
    // seconds brought back, shows in the concealment: before it, 3–7 % were concealed and
    // a CI run scored 2.30. Another scored 2.65 with 2.3 % concealed and 330 ms held: stray
    // runs of random loss had turned on the copies sent 200 ms later, which a rule over ten
    // seconds now keeps off (`roomcast_rtc::spread`). Later CI runs scored 2.65 and 2.75 with
    // 1 % concealed: runs of two to five frames lost in words, beyond RED's four earlier
    // frames on one hop or the other. With six (`roomcast_rtc::protect`), ten runs scored
    // 3.54–4.22. The target for this case is 3.5 (see BENCHMARKS.md).
    assert!(
        pesq >= 3.0,
        "PESQ-WB {pesq:.2} at 30 % loss each way: {audio}"
    );
    let concealed = audio["concealed_ratio"].as_f64().expect("concealed_ratio");
    assert!(concealed <= 0.03, "{audio}");
}
