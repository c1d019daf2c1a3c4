//! Real calls on loopback: everyone receives everyone's audio and video, decoded, in order,
//! with low latency measured from the marks in the media itself.

use std::time::Duration;

use std::sync::Arc;

use roomcast_engine::media::measure::Measured;
use roomcast_engine::{Engine, Statistics, percentile};
use roomcast_proto::Stream;
use roomcast_tests::{TestServer, eventually, measured_participant, participant};

fn check_received(name: &str, stats: &Statistics, marks: &Measured, from: &str, size: (u32, u32)) {
    let r = stats
        .remotes
        .get(from)
        .unwrap_or_else(|| panic!("{name} got nothing from {from}: {stats:#?}"));
    let v = r
        .video
        .as_ref()
        .unwrap_or_else(|| panic!("{name} got no video from {from}"));
    let a = r
        .audio
        .as_ref()
        .unwrap_or_else(|| panic!("{name} got no audio from {from}"));
    assert!(
        v.frames >= 20,
        "{name} decoded only {} frames from {from}",
        v.frames
    );
    assert_eq!((v.width, v.height), size, "{name}: {from}'s video size");
    let m = marks.video(from, Stream::Main);
    assert!(
        m.latencies.len() as u64 >= v.frames * 9 / 10,
        "{name}: marks unreadable in {from}'s video"
    );
    assert_eq!(m.out_of_order, 0, "{name}: {from}'s frames out of order");
    assert!(
        m.gaps <= 2,
        "{name}: {} frames of {from} missing on loopback",
        m.gaps
    );
    let vp50 = percentile(&m.latencies, 50.0).expect("video latencies");
    assert!(
        vp50 < 150.0,
        "{name}: video from {from} p50 latency {vp50} ms"
    );
    assert!(
        a.decoded >= 50,
        "{name} decoded only {} audio frames from {from}",
        a.decoded
    );
    let bursts = marks.audio(from);
    assert!(
        bursts.len() >= 3,
        "{name}: no tone bursts detected in {from}'s audio: {a:?}"
    );
    let ap50 = percentile(&bursts, 50.0).expect("audio latencies");
    assert!(
        ap50 < 150.0,
        "{name}: audio from {from} p50 latency {ap50} ms"
    );
}

async fn call(n: usize, size: (u32, u32, u32, u32), room: u32, seconds: u64) {
    let server = TestServer::start().await;
    let names: Vec<String> = (0..n).map(|i| format!("user{i}")).collect();
    let (mut engines, mut marks): (Vec<Engine>, Vec<Arc<Measured>>) = (Vec::new(), Vec::new());
    for name in &names {
        let (e, m) = measured_participant(&server, name, room, size)
            .await
            .expect("enters and publishes");
        engines.push(e);
        marks.push(m);
    }
    // Everyone must see everyone's first frames before we start counting.
    let ready = eventually(Duration::from_secs(20), || {
        engines.iter().all(|e| {
            let s = e.statistics();
            s.remotes.len() == n - 1
                && s.remotes
                    .values()
                    .all(|r| r.video.as_ref().is_some_and(|v| v.frames > 0))
        })
    })
    .await;
    assert!(
        ready,
        "not everyone received video: {:#?}",
        engines.iter().map(|e| e.statistics()).collect::<Vec<_>>()
    );
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    for (i, e) in engines.iter().enumerate() {
        let stats = e.statistics();
        for (j, other) in names.iter().enumerate() {
            if i != j {
                check_received(&names[i], &stats, &marks[i], other, (size.0, size.1));
            }
        }
    }
    for mut e in engines {
        e.exit_room().await;
    }
    // Every stay is written to the usage ledger.
    let ledger_complete = {
        let store = server.server.store.clone();
        let app = server.server.dev_app.id;
        let mut ok = false;
        for _ in 0..40 {
            if store.usage(app).await.map(|u| u.len()).unwrap_or(0) == n {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ok
    };
    assert!(ledger_complete, "usage ledger does not hold {n} stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_party_call_640x360() {
    call(2, (640, 360, 30, 800), 1001, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_party_call_320x180() {
    call(5, (320, 180, 15, 200), 1002, 4).await;
}

/// Another microphone or camera mid-call (the user picks one, or unplugs a headset) replaces
/// the source on the same tracks: the others keep hearing and seeing, now the new device,
/// and a muted microphone stays muted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_devices_mid_call_keeps_media_flowing() {
    use roomcast_engine::codec::AudioProfile;
    use roomcast_engine::media::{PatternSource, ToneSource};
    use roomcast_proto::Stream;

    let server = TestServer::start().await;
    let mut alice = participant(&server, "alice", 1003, (320, 180, 15, 300))
        .await
        .expect("alice enters and publishes");
    let mut bob = participant(&server, "bob", 1003, (320, 180, 15, 300))
        .await
        .expect("bob enters");
    let from_alice = |bob: &Engine| {
        let s = bob.statistics();
        let r = s.remotes.get("alice").cloned().unwrap_or_default();
        let (a, v) = (r.audio.unwrap_or_default(), r.video.unwrap_or_default());
        (a.decoded, v.frames, (v.width, v.height))
    };
    assert!(
        eventually(Duration::from_secs(20), || from_alice(&bob).1 > 10).await,
        "bob sees alice's first camera"
    );

    // The "camera" changes to one that captures 640x360; the "microphone" to another.
    alice
        .start_local_video(
            Box::new(PatternSource::new(640, 360, 15)),
            Stream::Main,
            600_000,
        )
        .await
        .expect("camera switched");
    alice
        .start_local_audio(Box::new(ToneSource::new(1)), AudioProfile::Default)
        .await
        .expect("microphone switched");
    let switched = eventually(Duration::from_secs(10), || from_alice(&bob).2 == (640, 360)).await;
    assert!(
        switched,
        "bob never saw the new camera: {:?}",
        from_alice(&bob)
    );
    let (audio0, video0, _) = from_alice(&bob);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (audio1, video1, _) = from_alice(&bob);
    assert!(
        audio1 >= audio0 + 50,
        "alice's new microphone is not heard: {audio0} -> {audio1} frames decoded in 2 s"
    );
    assert!(
        video1 >= video0 + 15,
        "alice's new camera is not moving: {video0} -> {video1} frames in 2 s"
    );

    // Muted, then another microphone: still muted.
    alice.mute_local_audio(true).await;
    alice
        .start_local_audio(Box::new(ToneSource::new(1)), AudioProfile::Default)
        .await
        .expect("microphone switched while muted");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (muted0, _, _) = from_alice(&bob);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (muted1, _, _) = from_alice(&bob);
    assert!(
        muted1 <= muted0 + 5,
        "a muted microphone switched to another one was heard: {muted0} -> {muted1} frames"
    );
    alice.exit_room().await;
    bob.exit_room().await;
}

/// A shared window that closes (or a share the system stops) ends by itself: the engine says
/// so, and once the app releases the stream the others see the share go away. A share the
/// user stops is not reported as ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_share_that_ends_by_itself_is_reported() {
    use roomcast_engine::EngineEvent;
    use roomcast_engine::media::{PatternSource, VideoFrame, VideoSource};
    use roomcast_proto::Stream;

    /// A screen that closes after `left` pictures.
    struct Closing {
        inner: PatternSource,
        left: u32,
    }
    impl VideoSource for Closing {
        fn size(&self) -> (u32, u32) {
            self.inner.size()
        }
        fn fps(&self) -> u32 {
            self.inner.fps()
        }
        fn next_frame(&mut self, capture_us: u64) -> Option<VideoFrame> {
            self.left = self.left.checked_sub(1)?;
            self.inner.next_frame(capture_us)
        }
    }
    async fn next_matching(
        engine: &mut Engine,
        limit: Duration,
        wanted: impl Fn(&EngineEvent) -> bool,
    ) -> Option<EngineEvent> {
        tokio::time::timeout(limit, async {
            loop {
                match engine.next_event().await {
                    Some(e) if wanted(&e) => return Some(e),
                    Some(_) => {}
                    None => return None,
                }
            }
        })
        .await
        .ok()
        .flatten()
    }

    let server = TestServer::start().await;
    let mut alice = participant(&server, "alice", 1004, (320, 180, 15, 300))
        .await
        .expect("alice enters and publishes");
    let mut bob = participant(&server, "bob", 1004, (320, 180, 15, 300))
        .await
        .expect("bob enters");
    let share_available = |available: bool| {
        move |e: &EngineEvent| {
            matches!(e, EngineEvent::UserVideoAvailable { user, stream: Stream::Sub, available: a }
                if user.as_str() == "alice" && *a == available)
        }
    };

    // A share the user stops: no "ended" report.
    alice
        .start_local_video(
            Box::new(PatternSource::new(640, 360, 10)),
            Stream::Sub,
            500_000,
        )
        .await
        .expect("share");
    assert!(
        next_matching(&mut bob, Duration::from_secs(10), share_available(true))
            .await
            .is_some(),
        "bob sees alice's share"
    );
    alice.stop_local_video(Stream::Sub).await;
    assert!(
        next_matching(&mut bob, Duration::from_secs(10), share_available(false))
            .await
            .is_some(),
        "bob sees the share stop"
    );

    // A window that closes after 20 pictures (2 s at 10 fps).
    let closing = Closing {
        inner: PatternSource::new(640, 360, 10),
        left: 20,
    };
    alice
        .start_local_video(Box::new(closing), Stream::Sub, 500_000)
        .await
        .expect("share a window");
    let ended = next_matching(&mut alice, Duration::from_secs(15), |e| {
        matches!(e, EngineEvent::LocalVideoEnded { .. })
    })
    .await;
    assert!(
        matches!(
            ended,
            Some(EngineEvent::LocalVideoEnded {
                stream: Stream::Sub
            })
        ),
        "alice is told her share ended: {ended:?}"
    );
    alice.stop_local_video(Stream::Sub).await;
    assert!(
        next_matching(&mut bob, Duration::from_secs(10), share_available(false))
            .await
            .is_some(),
        "bob sees the ended share go away"
    );
    alice.exit_room().await;
    bob.exit_room().await;
}
