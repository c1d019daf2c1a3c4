//! Meetings through a real server: guests with only an invite link, what the host may do to
//! them (and nobody else may), and the message limits, as the users feel them.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use roomcast_engine::media::ToneSource;
use roomcast_engine::{Engine, EngineError, EngineEvent};
use roomcast_proto::{ErrorCode, MediaKind, Role, RoomOptions, Scene, UserId};
use roomcast_tests::{TestServer, eventually, receiving_engine};
use serde_json::Value;

fn roomcast() -> PathBuf {
    roomcast_tests::roomcast_bin()
}

fn code_of(r: Result<impl std::fmt::Debug, EngineError>) -> ErrorCode {
    match r {
        Err(e) => e.code().unwrap_or_else(|| panic!("no server code in {e}")),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

/// Waits for the first event `pick` accepts, skipping others.
async fn wait_for<T>(e: &mut Engine, what: &str, pick: impl Fn(&EngineEvent) -> Option<T>) -> T {
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(end, e.next_event()).await {
            Ok(Some(ev)) => {
                if let Some(t) = pick(&ev) {
                    return t;
                }
            }
            _ => panic!("no {what} within 10 s"),
        }
    }
}

async fn host(server: &TestServer, room: u32) -> Engine {
    let mut e = receiving_engine();
    e.enter_room(server.params("host", room, Role::Anchor, Scene::VideoCall))
        .await
        .expect("the host enters");
    e
}

fn uid(s: &str) -> UserId {
    UserId::new(s).expect("valid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_guest_joins_with_only_an_invite_link() {
    let server = TestServer::start().await;
    let mut host = host(&server, 5150).await;
    let out = Command::new(roomcast())
        .args([
            "invite",
            "--server",
            &server.url(),
            "--app",
            &server.app.to_string(),
        ])
        .args(["--key", &server.key, "--room", "5150", "--expires", "10m"])
        .output()
        .expect("roomcast invite runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    assert!(
        link.starts_with(&format!("{}/#invite=v1.", server.url())),
        "{link}"
    );
    assert!(!link.contains(&server.key), "the key never leaves the host");

    let dir = std::env::temp_dir().join(format!("roomcast-meeting-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let report = dir.join("guest.json");
    let guest = Command::new(roomcast())
        .args([
            "join",
            "--invite",
            &link,
            "--user",
            "김민지",
            "--say",
            "안녕하세요 👋",
        ])
        .args(["--duration", "4", "--video-size", "320x180", "--report"])
        .arg(&report)
        .spawn()
        .expect("roomcast join runs");

    let (guest_id, name) = wait_for(&mut host, "the guest", |e| match e {
        EngineEvent::RemoteUserEnter { user, name } => Some((user.clone(), name.clone())),
        _ => None,
    })
    .await;
    assert_eq!(name, "김민지", "the Korean name is shown as typed");
    assert!(guest_id.as_str().starts_with("guest_"), "{guest_id}");
    let line = wait_for(&mut host, "the guest's chat line", |e| match e {
        EngineEvent::Chat { user, text } if *user == guest_id => Some(text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(line, "안녕하세요 👋");
    host.send_chat("welcome, 민지").await.expect("host chats");

    let status = tokio::task::spawn_blocking(move || guest.wait_with_output())
        .await
        .expect("join task")
        .expect("join ends");
    assert!(status.status.success(), "roomcast join failed: {status:?}");
    let r: Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    let messages = r["messages"].as_array().expect("messages in the report");
    assert!(
        messages.iter().any(|m| m["from"] == "host"
            && m["text"] == "welcome, 민지"
            && m["ms"].as_u64().is_some()),
        "{r:#}"
    );
    assert_eq!(r["names"]["host"], "host", "the guest saw the host: {r:#}");
    assert_eq!(r["removed"], Value::Null);
    host.exit_room().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_expired_and_other_room_invites_are_refused_with_their_codes() {
    let server = TestServer::start().await;
    let grant = server.invite(77, Role::Anchor, false, 600);

    // The CLI says why, with the code, and fails.
    let flip = |at: usize| {
        let mut bad = grant.clone().into_bytes();
        bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bad).expect("ascii")
    };
    // One flip breaks the grant itself (caught before connecting), one its signature
    // (caught by the server).
    let (in_payload, in_signature) = (flip(grant.len() / 3), flip(grant.len() - 3));
    for (link, code) in [
        (format!("{}/#invite={in_payload}", server.url()), "2004"),
        (format!("{}/#invite={in_signature}", server.url()), "2004"),
        (
            format!(
                "{}/#invite={}",
                server.url(),
                server.invite(77, Role::Anchor, false, -5)
            ),
            "2005",
        ),
    ] {
        let out = Command::new(roomcast())
            .args([
                "join",
                "--invite",
                &link,
                "--user",
                "eve",
                "--duration",
                "1",
            ])
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(&format!("error {code}")), "{code}: {err}");
    }

    // A valid grant used for another room.
    let mut e = receiving_engine();
    let r = e
        .enter_room(server.guest_params(&grant, "eve", "Eve", 78))
        .await;
    assert_eq!(code_of(r), ErrorCode::InviteWrongRoom);
    // Signed with another key.
    let other = roomcast_proto::invite::sign(
        &roomcast_proto::invite::decode(&grant).expect("decodes"),
        "not the app key",
    );
    let r = e
        .enter_room(server.guest_params(&other, "eve", "Eve", 77))
        .await;
    assert_eq!(code_of(r), ErrorCode::InviteInvalid);
    // The right one works.
    e.enter_room(server.guest_params(&grant, "eve", "Eve", 77))
        .await
        .expect("a good invite enters");
    e.exit_room().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_mutes_removes_locks_and_ends_and_only_the_host_may() {
    let server = TestServer::start().await;
    let room = 6160;
    let mut host = host(&server, room).await;
    let grant = server.invite(room, Role::Anchor, false, 600);
    let mut guest = receiving_engine();
    guest
        .enter_room(server.guest_params(&grant, "guest_a1", "Ann", room))
        .await
        .expect("guest enters");
    guest
        .start_local_audio(Box::new(ToneSource::new(1)), Default::default())
        .await
        .expect("guest speaks");
    let decoded = |e: &Engine| {
        e.statistics()
            .remotes
            .get("guest_a1")
            .and_then(|r| r.audio.as_ref())
            .map(|a| a.decoded)
            .unwrap_or(0)
    };
    assert!(
        eventually(Duration::from_secs(5), || decoded(&host) > 50).await,
        "host hears the guest"
    );

    // A guest cannot use host controls: the server says so.
    let r = guest
        .mute_remote(Some(uid("host")), MediaKind::Audio, true)
        .await;
    assert_eq!(code_of(r), ErrorCode::RoleNotAllowed);
    assert_eq!(
        code_of(guest.remove_user(uid("host")).await),
        ErrorCode::RoleNotAllowed
    );
    assert_eq!(
        code_of(guest.end_meeting().await),
        ErrorCode::RoleNotAllowed
    );

    // Locked mute: the guest is told, the room hears nothing, unmuting is refused.
    host.mute_remote(Some(uid("guest_a1")), MediaKind::Audio, true)
        .await
        .expect("host mutes");
    let locked = wait_for(&mut guest, "muted", |e| match e {
        EngineEvent::MutedByHost {
            kind: MediaKind::Audio,
            locked,
            ..
        } => Some(*locked),
        _ => None,
    })
    .await;
    assert!(locked);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = decoded(&host);
    guest.mute_local_audio(false).await;
    let refused = wait_for(&mut guest, "the refusal", |e| match e {
        EngineEvent::Error { code, .. } => *code,
        _ => None,
    })
    .await;
    assert_eq!(refused, ErrorCode::MutedByHost);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(decoded(&host) <= before + 5, "nothing heard while locked");

    host.unlock_remote(Some(uid("guest_a1")), MediaKind::Audio)
        .await
        .expect("unlock");
    wait_for(&mut guest, "unlocked", |e| {
        matches!(e, EngineEvent::Unlocked { .. }).then_some(())
    })
    .await;
    guest.mute_local_audio(false).await;
    let resumed = decoded(&host);
    assert!(
        eventually(Duration::from_secs(5), || decoded(&host) > resumed + 30).await,
        "heard again after unlocking"
    );

    // Removed, and the same invite does not bring them back.
    host.remove_user(uid("guest_a1")).await.expect("remove");
    let code = wait_for(&mut guest, "removal", |e| match e {
        EngineEvent::Removed { code, .. } => Some(*code),
        _ => None,
    })
    .await;
    assert_eq!(code, ErrorCode::RemovedByHost);
    guest.exit_room().await;
    let r = guest
        .enter_room(server.guest_params(&grant, "guest_a1", "Ann", room))
        .await;
    assert_eq!(code_of(r), ErrorCode::UserBanned);

    // Passcode, then the lobby: a guest waits until admitted.
    let lobby = RoomOptions {
        locked: false,
        lobby: true,
        passcode: Some(Some("4821".into())),
    };
    host.set_room_options(lobby).await.expect("options");
    let mut late = receiving_engine();
    let r = late
        .enter_room(server.guest_params(&grant, "bo", "Bo", room))
        .await;
    assert_eq!(code_of(r), ErrorCode::PasscodeWrong);
    let mut params = server.guest_params(&grant, "bo", "Bo", room);
    params.passcode = Some("4821".into());
    let entering = tokio::spawn(async move {
        let r = late.enter_room(params).await;
        (late, r)
    });
    let waiting = wait_for(&mut host, "the lobby", |e| match e {
        EngineEvent::LobbyJoined { user, name } => Some((user.clone(), name.clone())),
        _ => None,
    })
    .await;
    assert_eq!(waiting, (uid("bo"), "Bo".to_string()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!entering.is_finished(), "still waiting for the host");
    host.admit(uid("bo"), true).await.expect("admit");
    let (mut late, r) = entering.await.expect("task");
    r.expect("admitted");

    // Lock: nobody new; end: everyone out, and the old invite no longer opens the room.
    host.set_room_options(RoomOptions {
        locked: true,
        ..RoomOptions::default()
    })
    .await
    .expect("lock");
    let mut third = receiving_engine();
    let r = third
        .enter_room(server.guest_params(&grant, "cy", "Cy", room))
        .await;
    assert_eq!(code_of(r), ErrorCode::RoomLocked);
    host.end_meeting().await.expect("end");
    let code = wait_for(&mut late, "the end", |e| match e {
        EngineEvent::Removed { code, .. } => Some(*code),
        _ => None,
    })
    .await;
    assert_eq!(code, ErrorCode::MeetingEnded);
    let r = third
        .enter_room(server.guest_params(&grant, "cy", "Cy", room))
        .await;
    assert_eq!(code_of(r), ErrorCode::MeetingEnded);
    host.exit_room().await;
    late.exit_room().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_sender_is_held_to_thirty_messages_a_second() {
    let server = TestServer::start().await;
    let room = 7170;
    let mut receiver = host(&server, room).await;
    let mut sender = receiving_engine();
    sender
        .enter_room(server.params("flood", room, Role::Anchor, Scene::VideoCall))
        .await
        .expect("enters");
    let mut events = receiver.take_events();
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Instant>::new()));
    let seen = arrivals.clone();
    let counter = tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            if let EngineEvent::CustomCmdMsg { cmd_id: 3, .. } = e {
                seen.lock().expect("lock").push(Instant::now());
            }
        }
    });

    // 100 a second for 2 s.
    let (mut ok, mut limited) = (0, 0);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for i in 0..200 {
        tick.tick().await;
        match sender
            .send_custom_cmd_msg(3, format!("{i:04}"), true, true)
            .await
        {
            Ok(()) => ok += 1,
            Err(e) => {
                assert_eq!(e.code(), Some(ErrorCode::MessageRateLimited), "{e}");
                limited += 1;
            }
        }
    }
    assert!((50..=62).contains(&ok), "{ok} accepted in 2 s");
    assert_eq!(ok + limited, 200);
    let big = sender
        .send_custom_cmd_msg(3, "x".repeat(2048), true, true)
        .await;
    assert_eq!(code_of(big), ErrorCode::CustomMessageTooLarge);

    assert!(
        eventually(Duration::from_secs(3), || arrivals
            .lock()
            .expect("lock")
            .len()
            == ok)
        .await,
        "every accepted message arrives"
    );
    let t = arrivals.lock().expect("lock").clone();
    for (i, start) in t.iter().enumerate() {
        // A 950 ms window leaves room for delivery jitter on loopback.
        let n = t[i..]
            .iter()
            .take_while(|u| u.duration_since(*start) < Duration::from_millis(950))
            .count();
        assert!(n <= 30, "{n} messages arrived within a second");
    }
    counter.abort();
    sender.exit_room().await;
    receiver.exit_room().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sei_messages_arrive_with_the_publishers_frames() {
    let server = TestServer::start().await;
    let room = 8180;
    let sender = roomcast_tests::participant(&server, "slides", room, (320, 180, 15, 300))
        .await
        .expect("publishes");
    let mut viewer = host(&server, room).await;
    wait_for(&mut viewer, "the first frame", |e| {
        matches!(e, EngineEvent::FirstVideoFrame { .. }).then_some(())
    })
    .await;
    let caption = "슬라이드 3 / slide 3".as_bytes();
    sender.send_sei_msg(caption, 2).expect("queued");
    let (from, data) = wait_for(&mut viewer, "the SEI message", |e| match e {
        EngineEvent::SeiMessage { user, data } => Some((user.clone(), data.clone())),
        _ => None,
    })
    .await;
    assert_eq!((from.as_str(), data.as_slice()), ("slides", caption));
    assert!(
        sender.send_sei_msg(&[0u8; 1001], 1).is_err(),
        "over 1000 bytes is refused"
    );
    viewer.exit_room().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_invite_link_still_gets_the_cli_in_over_plain_signaling() {
    let config = roomcast_server::ServerConfig {
        https: Some("127.0.0.1:0".parse().expect("addr")),
        ..roomcast_server::ServerConfig::ephemeral()
    };
    let server = roomcast_server::RunningServer::start(config)
        .await
        .expect("server with https");
    let https = server.https_addr.expect("https is served");
    assert_eq!(server.tls_fingerprint.as_deref().map(str::len), Some(64));
    let (app, key) = (server.dev_app.id.get(), server.dev_app.secret_key.clone());
    let out = Command::new(roomcast())
        .args([
            "invite",
            "--server",
            &server.url(),
            "--app",
            &app.to_string(),
            "--key",
            &key,
        ])
        .args(["--room", "9190", "--https-port", &https.port().to_string()])
        .output()
        .expect("runs");
    let link = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    assert!(
        link.starts_with(&format!("https://127.0.0.1:{}/#invite=v1.", https.port()))
            && link.ends_with(&format!("&http={}", server.http_addr.port())),
        "{link}"
    );
    let out = Command::new(roomcast())
        .args([
            "join",
            "--invite",
            &link,
            "--user",
            "cli",
            "--duration",
            "1",
        ])
        .args(["--audio", "none", "--video", "none"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.shutdown().await;
}
