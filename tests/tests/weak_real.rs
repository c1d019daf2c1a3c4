//! The weak-network cases of the virtual tests (`weak_network.rs`, `weak_video.rs`) once
//! through real sockets and the real binaries: `roomcast join`s reach the server through a
//! relay that does to each one's datagrams what the virtual network does, on real time
//! (`roomcast_tests::relay`). Fewer and shorter than the virtual ones: each takes its
//! seconds for real, and a loaded machine adds its own delays.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use roomcast_tests::relay::Relay;
use roomcast_tests::vnet::Impairment;
use roomcast_tests::{TestServer, eventually};
use serde_json::Value;

/// One call at a time: two or three clients encoding and decoding on two cores are load
/// enough.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `roomcast join` as `user` for `secs` with `extra` options, writing its report to `report`.
fn join(
    server: &TestServer,
    user: &str,
    secs: u32,
    extra: &[&str],
    report: &Path,
) -> tokio::task::JoinHandle<Output> {
    let mut cmd = Command::new(roomcast_tests::roomcast_bin());
    cmd.args(["join", "--server", &server.url()])
        .args(["--app", &server.app.to_string(), "--key", &server.key])
        .args(["--room", "weak", "--user", user])
        .args(["--duration", &secs.to_string()]);
    if !extra.contains(&"--video-size") {
        cmd.args(["--video-size", "320x180", "--fps", "15"]);
    }
    cmd.args(extra).arg("--report").arg(report);
    tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
}

/// Who joins: the UserID, for how many seconds, with which options, and how many seconds
/// after the one before reached the relay.
type Joiner<'a> = (&'a str, u32, &'a [&'a str], u64);

/// Starts the joins in order, each once the one before has reached the relay (so the relay
/// knows them as clients 0, 1, …); waits for all and returns their reports.
async fn call(
    server: &TestServer,
    relay: &Relay,
    name: &str,
    users: &[Joiner<'_>],
    during: impl std::future::Future<Output = ()>,
) -> Vec<Value> {
    let dir = roomcast_tests::temp_dir(name);
    let reports: Vec<PathBuf> = users
        .iter()
        .map(|(u, ..)| dir.join(format!("{u}.json")))
        .collect();
    let mut runs = Vec::new();
    for (i, (user, secs, extra, after)) in users.iter().enumerate() {
        tokio::time::sleep(Duration::from_secs(*after)).await;
        runs.push(join(server, user, *secs, extra, &reports[i]));
        let came = eventually(Duration::from_secs(10), || relay.clients() > i).await;
        assert!(came, "{user} never reached the relay");
    }
    during.await;
    for (run, (user, ..)) in runs.into_iter().zip(users) {
        let out = run.await.expect("join");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{user}: {stderr}");
    }
    let reports = reports
        .iter()
        .map(|r| serde_json::from_slice(&std::fs::read(r).expect("report")).expect("JSON"))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    reports
}

fn clean() -> Impairment {
    Impairment::default()
}

/// A link carrying `bps` with 300 ms of queue, as the virtual tests' narrow links.
fn capped(bps: u64) -> Impairment {
    Impairment {
        rate_bps: Some(bps),
        queue: Duration::from_millis(300),
        ..clean()
    }
}

const AUDIO_ONLY: &[&str] = &["--video", "none"];
const LISTENER: &[&str] = &["--video", "none", "--audio", "none"];

/// Alice talks to Bob for 15 s, Bob's downlink doing `down`; what Bob's report says of
/// Alice's audio.
async fn audio_to_bob(seed: u64, name: &str, down: Impairment) -> Value {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, relay) = TestServer::behind_impaired_relay(seed, clean()).await;
    relay.set_client(1, clean(), down);
    let r = call(
        &server,
        &relay,
        name,
        &[("alice", 17, AUDIO_ONLY, 0), ("bob", 15, LISTENER, 0)],
        async {},
    )
    .await;
    let audio = r[1]["remotes"]["alice"]["audio"].clone();
    let dropped = relay.dropped.load(std::sync::atomic::Ordering::Relaxed);
    println!("{dropped} datagrams dropped; Bob heard {audio}");
    assert!(audio["frames"].as_u64().unwrap_or(0) >= 500, "{audio}");
    audio
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_seventy_percent_downlink_loss_nearly_all_the_audio_arrives() {
    let audio = audio_to_bob(3, "weak-70", Impairment::loss(0.7)).await;
    // On the virtual network 97 % of frames arrive (RED and copies) and setup takes under
    // 2 s; here 6-8 % of frames were concealed over the call, setup included.
    let concealed = audio["concealed_ratio"].as_f64().expect("concealed_ratio");
    assert!(concealed <= 0.15, "{audio}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_second_of_jitter_the_playout_adapts() {
    let jitter = Impairment {
        jitter: Duration::from_millis(1000),
        ..clean()
    };
    let audio = audio_to_bob(4, "weak-jitter", jitter).await;
    // The virtual call conceals 3-4 % over a minute, most while the buffer grows; this one
    // is shorter, so the growing weighs more (8 % seen).
    let concealed = audio["concealed_ratio"].as_f64().expect("concealed_ratio");
    assert!(concealed <= 0.12, "{audio}");
    let target = audio["jitter_target_ms"]
        .as_f64()
        .expect("jitter_target_ms");
    assert!((500.0..=1_500.0).contains(&target), "{audio}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_500_kbit_uplink_the_camera_follows_and_audio_is_unhurt() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, relay) = TestServer::behind_impaired_relay(5, clean()).await;
    let narrow = capped(500_000);
    relay.set_client(0, narrow, clean());
    let camera = &[
        "--video-size",
        "640x360",
        "--fps",
        "30",
        "--video-kbps",
        "1200",
    ];
    let r = call(
        &server,
        &relay,
        "weak-cap",
        // Bob comes once Alice's camera has found the link's rate (the virtual test times
        // that: within 5 s), so his audio is what the call sounds like from then on.
        &[
            ("alice", 26, camera, 0),
            ("bob", 18, &["--video", "none"], 6),
        ],
        async {},
    )
    .await;
    let limit = r[0]["sent"]["camera_limit_kbps"].as_u64();
    let (audio, video) = (
        &r[1]["remotes"]["alice"]["audio"],
        &r[1]["remotes"]["alice"]["video"],
    );
    println!("Alice: {}; Bob: {audio}, {video}", r[0]["sent"]);
    // 129-306 kbit/s on the virtual network; below 100 the camera would have sunk.
    assert!(
        limit.is_some_and(|l| (100..500).contains(&l)),
        "{:?}",
        r[0]["sent"]
    );
    assert!(video["frames"].as_u64().unwrap_or(0) >= 150, "{video}");
    // The issue asks for audio unhurt: 0.1–0.3 % concealed in five runs (the virtual call:
    // 0 %). It was 2–6 % while stale loss measures copied the video and the camera grew
    // back over the link after its first cut (docs/DECISIONS.md); the bound leaves room for
    // a loaded machine.
    let concealed = audio["concealed_ratio"].as_f64().expect("concealed_ratio");
    assert!(concealed <= 0.02, "{audio}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_ten_second_outage_media_is_back_within_two_seconds() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, relay) = TestServer::behind_impaired_relay(6, clean()).await;
    let outage = async {
        tokio::time::sleep(Duration::from_secs(6)).await;
        relay.set_client(1, Impairment::loss(1.0), Impairment::loss(1.0));
        tokio::time::sleep(Duration::from_secs(10)).await;
        relay.set_client(1, clean(), clean());
    };
    let r = call(
        &server,
        &relay,
        "weak-outage",
        &[("alice", 26, &[], 0), ("bob", 24, &["--video", "none"], 0)],
        outage,
    )
    .await;
    let video = &r[1]["remotes"]["alice"]["video"];
    println!("Bob: {video}; reconnects {}", r[1]["reconnects"]);
    // The longest gap is the outage and the time until frames come again.
    let longest = video["max_freeze_ms"].as_f64().expect("max_freeze_ms");
    assert!((9_000.0..=12_000.0).contains(&longest), "{video}");
    // Before and after it (about 6 + 7 s at 15 fps), frames came.
    assert!(video["frames"].as_u64().unwrap_or(0) >= 150, "{video}");
    // And the picture is live again, not held to play out what queued during the outage.
    let held = video["playout_delay_ms"]
        .as_f64()
        .expect("playout_delay_ms");
    assert!(held <= 300.0, "{video}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_bobs_address_changes_under_him_media_follows() {
    // A NAT that rebinds, or a network change the client does not see itself: 6 s in, Bob's
    // datagrams reach the server from a new address, and what goes to the old one is lost.
    // (A change the client sees, of its own address, restarts ICE: the virtual test.)
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, relay) = TestServer::behind_impaired_relay(8, clean()).await;
    let change = async {
        tokio::time::sleep(Duration::from_secs(6)).await;
        relay.rebind(1);
    };
    let r = call(
        &server,
        &relay,
        "weak-rebind",
        &[("alice", 18, &[], 0), ("bob", 16, &[], 0)],
        change,
    )
    .await;
    let (to_bob, to_alice) = (&r[1]["remotes"]["alice"], &r[0]["remotes"]["bob"]);
    println!(
        "Bob: {to_bob}\nAlice: {to_alice}; reconnects {}",
        r[1]["reconnects"]
    );
    // Both ways, the longest gap is a moment, not the rest of the call: until the server
    // learns Bob's new address from his connectivity checks, 1.91–1.94 s towards Alice. Where
    // her playout then holds frames for a delay it had let pass once before (`video_playout`,
    // a lone stall), the picture waits that much more: 2.01 s in 2 of 9 runs.
    for remote in [to_bob, to_alice] {
        let longest = remote["video"]["max_freeze_ms"]
            .as_f64()
            .expect("max_freeze_ms");
        assert!(longest <= 2_500.0, "{remote}");
        assert!(
            remote["video"]["frames"].as_u64().unwrap_or(0) >= 180,
            "{remote}"
        );
        let audio = &remote["audio"];
        assert!(
            audio["concealed_ratio"].as_f64().is_some_and(|c| c <= 0.1),
            "{audio}"
        );
    }
    assert_eq!(
        r[1]["reconnects"].as_u64(),
        Some(0),
        "the same session carried on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_on_a_narrow_link_does_not_hurt_the_others() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, relay) = TestServer::behind_impaired_relay(7, clean()).await;
    let narrow = capped(300_000);
    relay.set_client(2, clean(), narrow);
    let camera = &["--video-size", "640x360", "--video-kbps", "600"];
    let watch = &["--video", "none", "--audio", "none"];
    let r = call(
        &server,
        &relay,
        "weak-narrow",
        &[
            ("alice", 22, camera, 0),
            ("bob", 20, watch, 0),
            ("carol", 20, watch, 0),
        ],
        async {},
    )
    .await;
    let (bob, carol) = (&r[1]["remotes"]["alice"], &r[2]["remotes"]["alice"]);
    println!("Bob: {bob}\nCarol: {carol}");
    // Bob's link is clean: he keeps every frame (15 fps for about 18 s).
    assert_eq!(bob["video"]["freezes"].as_u64(), Some(0), "{bob}");
    assert!(bob["video"]["frames"].as_u64().unwrap_or(0) >= 230, "{bob}");
    // Carol gets her audio, and keyframes (with the two frames after each) about every 3 s:
    // 12-21 pictures in 20 s. Sent at once, a 15-30 KB keyframe overflowed her 11 KB of
    // queue and she saw 2-4; the server now paces her video at what her link delivered.
    assert!(
        carol["video"]["frames"].as_u64().unwrap_or(0) >= 6,
        "{carol}"
    );
    // Her audio: 0.3-1.2 % concealed in most runs, 6 % in one CI run; 4.7 % in one of four
    // since RED repeats six frames (some 380 kbit/s of audio until she is found narrow, and
    // RED off: more of her link than four took). What is lost goes in
    // the first 4 s (before she is moved to keyframes) and in each try of the full video
    // (8 s later, then 16): both flood her link for 2-3 s (docs/DECISIONS.md).
    let concealed = carol["audio"]["concealed_ratio"]
        .as_f64()
        .expect("concealed_ratio");
    assert!(concealed <= 0.1, "{carol}");
}
