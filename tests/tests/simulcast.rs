//! Big/small streams (simulcast): one publisher sends its camera twice; each viewer gets the
//! layer it asked for, can switch without a freeze, and a layer nobody receives is not
//! encoded.

use std::time::{Duration, Instant};

use roomcast_engine::Engine;
use roomcast_engine::media::PatternSource;
use roomcast_engine::video::SmallStream;
use roomcast_proto::{Role, Scene, Stream, UserId, VideoStreamType};
use roomcast_tests::{FrameLog, TestServer, eventually, frame_log_viewer, receiving_engine};

type Seen = FrameLog;

fn viewer() -> (Engine, Seen) {
    frame_log_viewer()
}

fn last_size(seen: &Seen) -> Option<(u32, u32)> {
    seen.lock().ok()?.last().map(|(s, _)| *s)
}

fn count(seen: &Seen, size: (u32, u32)) -> usize {
    seen.lock()
        .map(|v| v.iter().filter(|(s, _)| *s == size).count())
        .unwrap_or(0)
}

const BIG: (u32, u32) = (1280, 720);
const SMALL: (u32, u32) = (320, 180);

#[tokio::test]
async fn each_viewer_gets_the_layer_it_asked_for_and_switches_without_a_freeze() {
    let server = TestServer::start().await;
    let room = 31;
    let mut publisher = receiving_engine();
    publisher.enable_small_video_stream(Some(SmallStream::default()));
    publisher
        .enter_room(server.params("cam", room, Role::Anchor, Scene::VideoCall))
        .await
        .expect("publisher enters");
    publisher
        .start_local_video(
            Box::new(PatternSource::new(BIG.0, BIG.1, 15)),
            Stream::Main,
            1_500_000,
        )
        .await
        .expect("publishes");
    let cam = UserId::new("cam".to_string()).expect("valid");

    let (mut grid, grid_seen) = viewer();
    let (mut speaker, speaker_seen) = viewer();
    grid.enter_room(server.params("grid", room, Role::Anchor, Scene::VideoCall))
        .await
        .expect("grid viewer enters");
    grid.set_remote_video_stream_type(cam.clone(), VideoStreamType::Small)
        .await
        .expect("asks for small");
    speaker
        .enter_room(server.params("speaker", room, Role::Anchor, Scene::VideoCall))
        .await
        .expect("speaker viewer enters");

    assert!(
        eventually(Duration::from_secs(15), || {
            count(&grid_seen, SMALL) >= 15 && count(&speaker_seen, BIG) >= 15
        })
        .await,
        "grid got {:?} ({} small), speaker got {:?} ({} big)",
        last_size(&grid_seen),
        count(&grid_seen, SMALL),
        last_size(&speaker_seen),
        count(&speaker_seen, BIG)
    );
    // It may start on whichever layer's keyframe came first; once big, it stays big.
    let speaker_frames = speaker_seen.lock().map(|v| v.clone()).unwrap_or_default();
    let first_big = speaker_frames
        .iter()
        .position(|(s, _)| *s == BIG)
        .expect("big");
    assert!(
        speaker_frames[first_big..].iter().all(|(s, _)| *s == BIG),
        "the speaker view got small frames after big ones"
    );
    let small_sent = publisher.statistics().small_frames_sent;
    assert!(small_sent > 0);
    // The publisher reports the picture its big layer sends: all of it, on a clean link.
    let sent = publisher.statistics();
    assert_eq!(
        (sent.camera_width, sent.camera_height),
        (Some(BIG.0), Some(BIG.1))
    );

    // The grid viewer opens the speaker view: big, without a gap over 300 ms.
    let switch_at = Instant::now();
    grid.set_remote_video_stream_type(cam.clone(), VideoStreamType::Big)
        .await
        .expect("asks for big");
    assert!(
        eventually(Duration::from_secs(10), || last_size(&grid_seen)
            == Some(BIG))
        .await,
        "still {:?}",
        last_size(&grid_seen)
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let frames = grid_seen.lock().map(|v| v.clone()).unwrap_or_default();
    let around: Vec<Instant> = frames
        .iter()
        .map(|(_, t)| *t)
        .filter(|t| *t + Duration::from_millis(500) >= switch_at)
        .collect();
    let worst = around
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap_or_default();
    println!(
        "switch small → big: worst gap {worst:?} over {} frames",
        around.len()
    );
    assert!(
        worst <= Duration::from_millis(300),
        "the picture froze for {worst:?}"
    );
    let after_switch = frames
        .iter()
        .position(|(s, t)| *s == BIG && *t >= switch_at)
        .expect("big");
    assert!(
        frames[after_switch..].iter().all(|(s, _)| *s == BIG),
        "small frames after the switch"
    );

    // Nobody receives the small layer now: the publisher stops encoding it.
    let mut stopped = false;
    for _ in 0..10 {
        let a = publisher.statistics().small_frames_sent;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if publisher.statistics().small_frames_sent == a {
            stopped = true;
            break;
        }
    }
    assert!(stopped, "the small layer is still encoded for nobody");
    // And resumes (with a keyframe) when someone wants it again.
    speaker
        .set_remote_video_stream_type(cam.clone(), VideoStreamType::Small)
        .await
        .expect("asks for small");
    let before = count(&speaker_seen, SMALL);
    assert!(
        eventually(Duration::from_secs(10), || count(&speaker_seen, SMALL)
            >= before + 10)
        .await,
        "the small layer did not come back"
    );
    // Both watch small now: the big layer pauses and the small one goes on with ordinary
    // frames, not a keyframe each time.
    grid.set_remote_video_stream_type(cam.clone(), VideoStreamType::Small)
        .await
        .expect("asks for small");
    assert!(
        eventually(Duration::from_secs(10), || last_size(&grid_seen)
            == Some(SMALL))
        .await
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (k0, f0) = (
        publisher.statistics().keyframes_sent,
        publisher.statistics().video_frames_sent,
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (k1, f1) = (
        publisher.statistics().keyframes_sent,
        publisher.statistics().video_frames_sent,
    );
    assert!(
        f1 - f0 >= 10 && k1 - k0 <= 2,
        "{} keyframes in {} frames",
        k1 - k0,
        f1 - f0
    );

    for mut e in [publisher, grid, speaker] {
        e.exit_room().await;
    }
}
