//! Live scenes through the engine: the audience watches, cannot publish, and goes on mic by
//! switching role; hostile traffic during a call does not disturb it.

use std::time::Duration;

use futures_util::SinkExt;
use roomcast_engine::codec::AudioProfile;
use roomcast_engine::media::{PatternSource, ToneSource};
use roomcast_engine::{EngineError, EngineEvent};
use roomcast_proto::{ErrorCode, Role, Scene, Stream};
use roomcast_tests::{TestServer, eventually, participant, receiving_engine};
use tokio_tungstenite::tungstenite::Message;

fn video_frames(e: &roomcast_engine::Engine, from: &str) -> u64 {
    e.statistics()
        .remotes
        .get(from)
        .and_then(|r| r.video.as_ref())
        .map(|v| v.frames)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audience_watches_then_goes_on_mic() {
    let server = TestServer::start().await;
    let mut anchor = receiving_engine();
    anchor
        .enter_room(server.params("host", 77, Role::Anchor, Scene::Live))
        .await
        .expect("anchor enters");
    anchor
        .start_local_audio(Box::new(ToneSource::new(1)), AudioProfile::Default)
        .await
        .expect("audio");
    anchor
        .start_local_video(
            Box::new(PatternSource::new(320, 180, 15)),
            Stream::Main,
            300_000,
        )
        .await
        .expect("video");

    let mut viewer = receiving_engine();
    viewer
        .enter_room(server.params("viewer", 77, Role::Audience, Scene::Live))
        .await
        .expect("viewer enters");
    assert!(
        eventually(Duration::from_secs(10), || video_frames(&viewer, "host")
            >= 15)
        .await,
        "the audience sees the anchor"
    );

    // The audience is not announced to the anchor, and cannot publish.
    let err = viewer
        .start_local_audio(Box::new(ToneSource::new(1)), AudioProfile::Default)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Server {
                code: ErrorCode::RoleNotAllowed,
                ..
            }
        ),
        "{err:?}"
    );
    while let Some(e) = anchor.try_event() {
        assert!(
            !matches!(e, EngineEvent::RemoteUserEnter { .. }),
            "audience was announced: {e:?}"
        );
    }

    // Going on mic: switch role, publish, and the anchor receives it.
    let watched_before = video_frames(&viewer, "host");
    viewer
        .switch_role(Role::Anchor)
        .await
        .expect("switch to anchor");
    viewer
        .start_local_audio(Box::new(ToneSource::new(1)), AudioProfile::Default)
        .await
        .expect("publish after switch");
    viewer
        .start_local_video(
            Box::new(PatternSource::new(320, 180, 15)),
            Stream::Main,
            300_000,
        )
        .await
        .expect("video");
    assert!(
        eventually(Duration::from_secs(10), || video_frames(&anchor, "viewer")
            >= 15)
        .await,
        "the anchor sees the co-anchor"
    );
    let heard = eventually(Duration::from_secs(5), || {
        anchor
            .statistics()
            .remotes
            .get("viewer")
            .and_then(|r| r.audio.as_ref())
            .is_some_and(|a| a.decoded > 50)
    })
    .await;
    assert!(heard, "the anchor hears the co-anchor");
    // The co-anchor kept watching without a break.
    let watched_after = video_frames(&viewer, "host");
    assert!(
        watched_after >= watched_before + 15,
        "viewing stalled: {watched_before}→{watched_after}"
    );

    viewer.exit_room().await;
    anchor.exit_room().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_does_not_disturb_a_call() {
    let server = TestServer::start().await;
    let size = (320, 180, 15, 300);
    let mut a = participant(&server, "alice", 88, size)
        .await
        .expect("alice");
    let mut b = participant(&server, "bob", 88, size).await.expect("bob");
    assert!(
        eventually(Duration::from_secs(10), || video_frames(&a, "bob") >= 10
            && video_frames(&b, "alice") >= 10)
        .await
    );

    // Garbage on the signaling socket, from a client that is in the room and one that is not.
    let url = format!("ws://{}/ws", server.server.http_addr);
    let (mut bad, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("ws");
    for frame in [
        "{",
        "null",
        "[1,2,3]",
        r#"{"id":1,"type":"negotiate"}"#,
        r#"{"id":"x","type":"ping"}"#,
    ] {
        bad.send(Message::text(frame)).await.expect("send");
    }
    bad.send(Message::binary(vec![0xde, 0xad]))
        .await
        .expect("send");
    bad.send(Message::text("x".repeat(2 * 1024 * 1024)))
        .await
        .ok();
    // Garbage datagrams at the media port: random bytes, a fake STUN header, a fake RTP header.
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let target = server.server.udp_addr;
    let mut junk: Vec<Vec<u8>> = vec![
        vec![0; 1],
        vec![0xff; 1400],
        vec![0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4],
    ];
    junk.push(
        [0x80u8, 111, 0, 1, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]
            .iter()
            .copied()
            .chain(std::iter::repeat_n(7, 100))
            .collect(),
    );
    for i in 0..500u32 {
        let d = &junk[i as usize % junk.len()];
        udp.send_to(d, target).await.expect("send junk");
    }

    let (a0, b0) = (video_frames(&a, "bob"), video_frames(&b, "alice"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (a1, b1) = (video_frames(&a, "bob"), video_frames(&b, "alice"));
    assert!(
        a1 >= a0 + 30 && b1 >= b0 + 30,
        "the call stalled: alice {a0}→{a1}, bob {b0}→{b1}"
    );
    let garbage = server
        .server
        .stats
        .garbage_in
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(garbage >= 100, "the server did not see the junk: {garbage}");
    a.exit_room().await;
    b.exit_room().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_restart_remote_view() {
    let server = TestServer::start().await;
    let size = (320, 180, 15, 300);
    let mut a = participant(&server, "alice", 66, size)
        .await
        .expect("alice");
    let mut b = participant(&server, "bob", 66, size).await.expect("bob");
    assert!(eventually(Duration::from_secs(10), || video_frames(&b, "alice") >= 10).await);

    let alice = roomcast_proto::UserId::new("alice").expect("id");
    b.stop_remote_view(alice.clone(), Stream::Main)
        .expect("unsubscribe");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopped = video_frames(&b, "alice");
    let audio = |e: &roomcast_engine::Engine| {
        e.statistics()
            .remotes
            .get("alice")
            .and_then(|r| r.audio.as_ref())
            .map(|a| a.decoded)
            .unwrap_or(0)
    };
    let audio_before = audio(&b);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        video_frames(&b, "alice"),
        stopped,
        "video kept arriving after stop_remote_view"
    );
    assert!(audio(&b) >= audio_before + 25, "audio must continue");

    b.start_remote_view(alice, Stream::Main, None)
        .expect("subscribe again");
    assert!(
        eventually(Duration::from_secs(10), || video_frames(&b, "alice")
            >= stopped + 10)
        .await,
        "video did not come back after start_remote_view"
    );
    a.exit_room().await;
    b.exit_room().await;
}
