//! Live scenes through the engine: the audience watches, cannot publish, and goes on mic by
//! switching role, by asking or by invitation; hostile traffic during a call does not disturb
//! it.

use std::time::Duration;

use futures_util::SinkExt;
use roomcast_engine::codec::AudioProfile;
use roomcast_engine::media::{PatternSource, ToneSource};
use roomcast_engine::stats::RemoteStats;
use roomcast_engine::{Engine, EngineError, EngineEvent};
use roomcast_proto::{ErrorCode, Role, Scene, Stream, UserId};
use roomcast_tests::{TestServer, eventually, participant, receiving_engine};
use tokio_tungstenite::tungstenite::Message;

/// One number from what `e` receives from `from`; 0 before anything arrived.
fn received(e: &Engine, from: &str, pick: impl Fn(&RemoteStats) -> Option<u64>) -> u64 {
    e.statistics().remotes.get(from).and_then(pick).unwrap_or(0)
}

fn video_frames(e: &Engine, from: &str) -> u64 {
    received(e, from, |r| r.video.as_ref().map(|v| v.frames))
}

fn decoded_audio(e: &Engine, from: &str) -> u64 {
    received(e, from, |r| r.audio.as_ref().map(|a| a.decoded))
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
    assert_role_not_allowed(&err);
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
        decoded_audio(&anchor, "viewer") > 50
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

fn assert_role_not_allowed(err: &EngineError) {
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
}

/// The first event `pick` accepts within 10 s, skipping the others.
async fn wait_event<T>(e: &mut Engine, pick: impl Fn(&EngineEvent) -> Option<T>) -> T {
    let fut = async {
        loop {
            let event = e.next_event().await.expect("the engine is alive");
            if let Some(t) = pick(&event) {
                return t;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("the event within 10 s")
}

/// An anchor "host" (publishing audio) and an audience member "fan" in live room `room`.
async fn stage(server: &TestServer, room: u32) -> (Engine, Engine) {
    let mut anchor = receiving_engine();
    anchor
        .enter_room(server.params("host", room, Role::Anchor, Scene::Live))
        .await
        .expect("anchor enters");
    anchor
        .start_local_audio(Box::new(ToneSource::new(1)), AudioProfile::Default)
        .await
        .expect("audio");
    let mut fan = receiving_engine();
    fan.enter_room(server.params("fan", room, Role::Audience, Scene::Live))
        .await
        .expect("fan enters");
    (anchor, fan)
}

/// `fan` has become an anchor: it publishes its microphone and `anchor` decodes it.
async fn fan_is_heard(anchor: &mut Engine, mut fan: Engine) {
    assert_eq!(fan.role(), Role::Anchor);
    fan.start_local_audio(Box::new(ToneSource::new(1)), AudioProfile::Default)
        .await
        .expect("a new anchor publishes");
    let heard = eventually(Duration::from_secs(10), || {
        decoded_audio(anchor, "fan") > 50
    })
    .await;
    assert!(heard, "the anchor hears the fan who went on stage");
    fan.exit_room().await;
    anchor.exit_room().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audience_requests_to_speak_and_is_allowed_on_stage() {
    let server = TestServer::start().await;
    let (mut anchor, mut fan) = stage(&server, 78).await;
    fan.request_to_speak().await.expect("audience may ask");
    let asker = wait_event(&mut anchor, |e| match e {
        EngineEvent::SpeakRequested { user } => Some(user.clone()),
        _ => None,
    })
    .await;
    assert_eq!(asker.as_str(), "fan");
    anchor
        .answer_request(asker, true)
        .await
        .expect("anchor allows");
    let by = wait_event(&mut fan, |e| match e {
        EngineEvent::SpeakRequestAnswered { accept: true, by } => Some(by.clone()),
        _ => None,
    })
    .await;
    assert_eq!(by.as_str(), "host");
    // The engine switches role by itself once allowed.
    wait_event(&mut fan, |e| {
        matches!(e, EngineEvent::SwitchRole { role: Role::Anchor }).then_some(())
    })
    .await;
    fan_is_heard(&mut anchor, fan).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anchor_invites_audience_which_accepts_and_publishes() {
    let server = TestServer::start().await;
    let (mut anchor, mut fan) = stage(&server, 79).await;
    // An anchor cannot ask to speak; the error says why and the session lives on.
    let err = anchor.request_to_speak().await.unwrap_err();
    assert_role_not_allowed(&err);
    let fan_id = UserId::new("fan").expect("valid id");
    anchor
        .invite_to_speak(fan_id)
        .await
        .expect("anchor invites");
    let by = wait_event(&mut fan, |e| match e {
        EngineEvent::SpeakInvited { by } => Some(by.clone()),
        _ => None,
    })
    .await;
    assert_eq!(by.as_str(), "host");
    fan.answer_invite(true)
        .await
        .expect("accept and go on stage");
    let (user, accept) = wait_event(&mut anchor, |e| match e {
        EngineEvent::SpeakInviteAnswered { user, accept } => Some((user.clone(), *accept)),
        _ => None,
    })
    .await;
    assert_eq!((user.as_str(), accept), ("fan", true));
    fan_is_heard(&mut anchor, fan).await;
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
    let audio = |e: &Engine| decoded_audio(e, "alice");
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
