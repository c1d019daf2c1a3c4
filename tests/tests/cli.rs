//! The `roomcast` binary as an operator and a tester use it: app creation, UserSigs,
//! refused joins with their codes, and a recorded headless call with its JSON report. Speech
//! from one join to another is in `speech.rs`.

use std::path::PathBuf;
use std::process::Command;

use roomcast_engine::media::{AudioSource, VideoSource, WavSource, Y4mSource};
use roomcast_tests::TestServer;
use serde_json::Value;

fn roomcast() -> PathBuf {
    roomcast_tests::roomcast_bin()
}

fn temp_dir(name: &str) -> PathBuf {
    roomcast_tests::temp_dir(&format!("cli-{name}"))
}

#[test]
fn app_create_prints_id_and_key_and_usersig_verifies() {
    let dir = temp_dir("app");
    let out = Command::new(roomcast())
        .args(["app", "create", "--name", "acme", "--data"])
        .arg(&dir)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let app = v["sdkAppId"].as_u64().expect("sdkAppId");
    let key = v["secretKey"].as_str().expect("secretKey");
    assert_eq!(key.len(), 64);
    let out = Command::new(roomcast())
        .args([
            "usersig",
            "--app",
            &app.to_string(),
            "--key",
            key,
            "--user",
            "alice",
            "--expire",
            "600",
        ])
        .output()
        .expect("runs");
    let sig = String::from_utf8(out.stdout).expect("utf-8");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    roomcast_proto::usersig::verify(sig.trim(), app, key, "alice", now)
        .expect("the printed sig verifies");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_join_exits_with_the_error_code() {
    let server = TestServer::start().await;
    let url = server.url();
    let app = server.app.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(roomcast())
            .args([
                "join",
                "--server",
                &url,
                "--app",
                &app,
                "--key",
                "wrong-key",
                "--room",
                "5",
                "--user",
                "eve",
            ])
            .args(["--duration", "1"])
            .output()
            .expect("runs")
    })
    .await
    .expect("join");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error 2000"), "stderr: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_participants_record_and_report() {
    let server = TestServer::start().await;
    let dir = temp_dir("record");
    let run = |user: &'static str, dur: &'static str, extra: &'static [&'static str]| {
        let (url, app, key, dir) = (
            server.url(),
            server.app.to_string(),
            server.key.clone(),
            dir.clone(),
        );
        tokio::task::spawn_blocking(move || {
            Command::new(roomcast())
                .args([
                    "join",
                    "--server",
                    &url,
                    "--app",
                    &app,
                    "--key",
                    &key,
                    "--room",
                    "team.standup",
                    "--user",
                    user,
                ])
                .args([
                    "--duration",
                    dur,
                    "--video-size",
                    "320x180",
                    "--fps",
                    "15",
                    "--record",
                ])
                .arg(dir.join(user))
                .arg("--report")
                .arg(dir.join(format!("{user}.json")))
                .args(extra)
                .output()
                .expect("runs")
        })
    };
    // Alice also shares a "screen" (the sub stream) at its own size and frame rate.
    let a = run("alice", "6", &["--share", "640x360", "--share-fps", "10"]);
    let b = run("bob", "5", &[]);
    let (a, b) = (a.await.expect("alice"), b.await.expect("bob"));
    assert!(
        a.status.success() && b.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );

    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.join("bob.json")).expect("report"))
            .expect("JSON");
    assert!(report["enter_room_ms"].as_f64().expect("enter_room_ms") > 0.0);
    let video = &report["remotes"]["alice"]["video"];
    assert!(video["frames"].as_u64().unwrap_or(0) >= 30, "{report:#}");
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(320), Some(180))
    );
    assert!(video["latency_ms_p50"].as_f64().is_some(), "{report:#}");
    // At least one gap was measured between frames, and a freeze is counted only above it.
    let longest = video["max_freeze_ms"].as_f64().expect("max_freeze_ms");
    let freezes = video["freezes"].as_u64().expect("freezes");
    assert!(
        longest > 0.0 && (freezes > 0) == (longest > 500.0),
        "{report:#}"
    );
    let share = &report["remotes"]["alice"]["sub_video"];
    assert!(share["frames"].as_u64().unwrap_or(0) >= 15, "{report:#}");
    assert_eq!(
        (share["width"].as_u64(), share["height"].as_u64()),
        (Some(640), Some(360)),
        "{report:#}"
    );
    assert_eq!(share["out_of_order"].as_u64(), Some(0), "{report:#}");
    let audio = &report["remotes"]["alice"]["audio"];
    assert!(audio["frames"].as_u64().unwrap_or(0) >= 100, "{report:#}");
    assert!(
        audio["latency_ms_p50"].as_f64().is_some(),
        "no bursts measured: {report:#}"
    );
    let concealed = audio["concealed_ratio"].as_f64().expect("concealed_ratio");
    assert!((0.0..=1.0).contains(&concealed), "{report:#}");
    // A loopback call needs little buffering: the target stays near the minimum.
    let target = audio["jitter_target_ms"]
        .as_f64()
        .expect("jitter_target_ms");
    assert!((20.0..=200.0).contains(&target), "{report:#}");
    assert_eq!(report["reconnects"].as_u64(), Some(0), "{report:#}");

    // What bob recorded of alice reads back as media.
    let mut wav = WavSource::open(&dir.join("bob/alice.wav")).expect("recorded WAV");
    assert!(wav.next_frame(0).is_some(), "empty recording");
    let mut y4m = Y4mSource::open(&dir.join("bob/alice-main.y4m")).expect("recorded Y4M");
    assert_eq!(y4m.size(), (320, 180));
    let mut n = 0;
    while y4m.next_frame(0).is_some() {
        n += 1;
    }
    assert!(n >= 30, "only {n} frames recorded");
    let share = Y4mSource::open(&dir.join("bob/alice-sub.y4m")).expect("recorded share");
    assert_eq!(share.size(), (640, 360));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `roomcast process` as a sound engineer scripts it: a recorded voice through the voice
/// changer and reverb comes out as long as it went in, higher, with a report; bad options and
/// files are refused with what to do.
#[test]
fn process_runs_a_recording_through_the_effects() {
    use roomcast_engine::audio::testsig::room::{talker, to_f32, to_i16};
    use roomcast_engine::audio::testsig::{median_f0, semitones};
    use roomcast_engine::media::{read_wav_mono, write_wav_mono};

    let dir = temp_dir("process");
    let mic = dir.join("mic.wav");
    let voice = talker(21, 120.0, 4.0, 0.5);
    write_wav_mono(&mic, &to_i16(&voice)).expect("write mic");
    let out = dir.join("out.wav");
    let run = Command::new(roomcast())
        .arg("process")
        .arg("--mic")
        .arg(&mic)
        .arg("--out")
        .arg(&out)
        .args([
            "--voice-changer",
            "little-girl",
            "--reverb",
            "small-room",
            "--ns",
            "ai",
        ])
        .output()
        .expect("runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).expect("JSON report");
    assert_eq!(report["frames"], 400);
    assert_eq!(report["effects"]["voiceChanger"], "little-girl");
    assert_eq!(report["effects"]["noiseSuppression"], "ai");
    let sent = to_f32(&read_wav_mono(&out).expect("output WAV"));
    assert_eq!(sent.len(), voice.len());
    let shift = semitones(median_f0(&voice), median_f0(&sent[4_800..]));
    assert!(
        shift >= 4.0,
        "little-girl moved the voice by {shift:.1} semitones"
    );

    let bad = Command::new(roomcast())
        .arg("process")
        .arg("--mic")
        .arg(&mic)
        .args(["--voice-changer", "robot"])
        .output()
        .expect("runs");
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("unknown voice changer 'robot'") && err.contains("little-girl"),
        "{err}"
    );
    let missing = Command::new(roomcast())
        .args(["process", "--mic", "/nonexistent/mic.wav"])
        .output()
        .expect("runs");
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("--mic") && err.contains("/nonexistent/mic.wav"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
