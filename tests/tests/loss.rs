//! Loss recovery end to end: with 5 % of datagrams dropped each way by a relay between the
//! clients and the server, NACK/RTX (str0m on both legs) and keyframe requests keep video
//! decoding in order, and Opus FEC/PLC keeps audio flowing.

use std::time::Duration;

use roomcast_engine::percentile;
use roomcast_proto::Stream;
use roomcast_tests::{TestServer, eventually, measured_participant, participant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_and_audio_survive_five_percent_loss() {
    let (server, relay) = TestServer::behind_relay(0.05, 42).await;

    let size = (320, 180, 15, 300);
    let mut a = participant(&server, "alice", 31, size)
        .await
        .expect("alice");
    let (mut b, marks) = measured_participant(&server, "bob", 31, size)
        .await
        .expect("bob");
    let started = eventually(Duration::from_secs(15), || {
        b.statistics()
            .remotes
            .get("alice")
            .and_then(|r| r.video.as_ref())
            .is_some_and(|v| v.frames > 0)
    })
    .await;
    assert!(started, "no video through the lossy relay");
    tokio::time::sleep(Duration::from_secs(6)).await;

    let s = b.statistics();
    let v = s.remotes["alice"].video.clone().expect("video");
    let au = s.remotes["alice"].audio.clone().expect("audio");
    let m = marks.video("alice", Stream::Main);
    let dropped = relay.dropped.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        dropped > 50,
        "the relay dropped too little to test anything: {dropped}"
    );
    // ~90 frames in 6 s at 15 fps; NACK/RTX must recover nearly all of them.
    assert!(
        v.frames >= 70,
        "video decoded {} frames under 5 % loss: {v:?}",
        v.frames
    );
    assert_eq!(m.out_of_order, 0);
    assert!(
        m.gaps <= 6,
        "video lost {} frames under 5 % loss (NACK not working?): {v:?}",
        m.gaps
    );
    assert!(au.frames >= 250, "audio stalled: {au:?}");
    let p50 = percentile(&m.latencies, 50.0).expect("latencies");
    println!(
        "video latency p50 {p50} ms; playout holds frames {} ms",
        v.playout_delay_ms
    );
    assert!(p50 < 200.0, "video latency under loss: {p50} ms");
    a.exit_room().await;
    b.exit_room().await;
}
