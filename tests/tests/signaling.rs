//! Authentication, roles and hostile input, over a raw WebSocket: what a client that is not
//! our engine (or is malicious) gets from the server.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use roomcast_tests::{TestServer, sig, unix_now};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(server: &TestServer) -> Ws {
    let url = format!("ws://{}/ws", server.server.http_addr);
    tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("websocket connects")
        .0
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.expect("send");
}

/// The next message that is not an event (has an id or is an error).
async fn reply(ws: &mut Ws) -> Value {
    let fut = async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(t.as_str()).expect("server sends JSON");
                if v.get("id").is_some() || v["type"] == "error" {
                    return v;
                }
            }
        }
        panic!("connection closed while waiting for a reply");
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("a reply within 10 s")
}

fn enter(app: u32, user: &str, sig: &str, room: Value, role: &str, scene: &str) -> Value {
    json!({"id": 1, "type": "enter_room", "version": 1, "sdk_app_id": app, "user_id": user,
           "user_sig": sig, "room_id": room, "role": role, "scene": scene})
}

async fn enter_code(server: &TestServer, msg: Value) -> Value {
    let mut ws = connect(server).await;
    send(&mut ws, msg).await;
    reply(&mut ws).await
}

#[tokio::test]
async fn bad_usersigs_are_refused_with_their_codes() {
    let server = TestServer::start().await;
    let (app, key) = (server.app, server.key.clone());

    let good = enter_code(
        &server,
        enter(
            app,
            "alice",
            &server.sig("alice"),
            json!(7),
            "anchor",
            "videocall",
        ),
    )
    .await;
    assert_eq!(good["type"], "entered", "{good}");

    let forged = sig(app, "not-the-key", "alice", 3600);
    let r = enter_code(
        &server,
        enter(app, "alice", &forged, json!(7), "anchor", "videocall"),
    )
    .await;
    assert_eq!(
        (r["type"].as_str(), r["code"].as_u64()),
        (Some("error"), Some(2000)),
        "{r}"
    );

    let expired = roomcast_proto::usersig::generate(
        u64::from(app),
        &key,
        "alice",
        unix_now() - 7200,
        60,
        None,
    );
    let r = enter_code(
        &server,
        enter(app, "alice", &expired, json!(7), "anchor", "videocall"),
    )
    .await;
    assert_eq!(r["code"], 2001, "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{r}"
    );

    // A sig from another app, presented to this app: wrong key for this app.
    let other = server
        .server
        .store
        .create_app("other")
        .await
        .expect("second app");
    let theirs = sig(other.id.get(), &other.secret_key, "alice", 3600);
    let r = enter_code(
        &server,
        enter(app, "alice", &theirs, json!(7), "anchor", "videocall"),
    )
    .await;
    assert!(r["code"] == 2000 || r["code"] == 2003, "{r}");
    // The same sig with its own app id works: apps are separate tenants.
    let r = enter_code(
        &server,
        enter(
            other.id.get(),
            "alice",
            &theirs,
            json!(7),
            "anchor",
            "videocall",
        ),
    )
    .await;
    assert_eq!(r["type"], "entered", "{r}");

    // A sig for bob does not let alice in.
    let r = enter_code(
        &server,
        enter(
            app,
            "alice",
            &server.sig("bob"),
            json!(7),
            "anchor",
            "videocall",
        ),
    )
    .await;
    assert_eq!(r["code"], 2003, "{r}");

    let r = enter_code(
        &server,
        enter(
            999,
            "alice",
            &server.sig("alice"),
            json!(7),
            "anchor",
            "videocall",
        ),
    )
    .await;
    assert_eq!(r["code"], 2002, "{r}");

    let r = enter_code(
        &server,
        enter(
            app,
            "bad user!",
            &server.sig("alice"),
            json!(7),
            "anchor",
            "videocall",
        ),
    )
    .await;
    assert_eq!(r["code"], 1006, "{r}");
    let r = enter_code(
        &server,
        enter(
            app,
            "alice",
            &server.sig("alice"),
            json!(0),
            "anchor",
            "videocall",
        ),
    )
    .await;
    assert_eq!(r["code"], 1007, "{r}");
}

#[tokio::test]
async fn audience_cannot_publish_and_live_roster_hides_audience() {
    let server = TestServer::start().await;
    let mut anchor = connect(&server).await;
    send(
        &mut anchor,
        enter(
            server.app,
            "host",
            &server.sig("host"),
            json!("show"),
            "anchor",
            "live",
        ),
    )
    .await;
    assert_eq!(reply(&mut anchor).await["type"], "entered");

    let mut viewer = connect(&server).await;
    send(
        &mut viewer,
        enter(
            server.app,
            "viewer",
            &server.sig("viewer"),
            json!("show"),
            "audience",
            "live",
        ),
    )
    .await;
    let entered = reply(&mut viewer).await;
    assert_eq!(entered["role"], "audience");
    assert_eq!(entered["users"][0]["user_id"], "host", "{entered}");

    let publish = json!({"id": 5, "type": "negotiate", "sdp": "v=0",
                         "tracks": [{"mid": "0", "kind": "audio", "stream": "main"}]});
    send(&mut viewer, publish).await;
    let r = reply(&mut viewer).await;
    assert_eq!(
        (r["id"].as_u64(), r["code"].as_u64()),
        (Some(5), Some(3002)),
        "{r}"
    );
    send(&mut viewer, json!({"id": 6, "type": "set_available", "kind": "video", "stream": "main", "available": true})).await;
    assert_eq!(reply(&mut viewer).await["code"], 3002);

    // Switching to anchor is announced to the room; then publishing is allowed.
    send(
        &mut viewer,
        json!({"id": 7, "type": "switch_role", "role": "anchor"}),
    )
    .await;
    assert_eq!(reply(&mut viewer).await["type"], "ok");
    let announced = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(Message::Text(t))) = anchor.next().await {
            let v: Value = serde_json::from_str(t.as_str()).unwrap_or_default();
            if v["type"] == "user_enter" {
                return v;
            }
        }
        Value::Null
    })
    .await
    .expect("the anchor hears about the new anchor");
    assert_eq!(announced["user_id"], "viewer");
    send(&mut viewer, json!({"id": 8, "type": "set_available", "kind": "audio", "stream": "main", "available": true})).await;
    assert_eq!(reply(&mut viewer).await["type"], "ok");

    // In a call scene, switching role is refused.
    let mut caller = connect(&server).await;
    send(
        &mut caller,
        enter(
            server.app,
            "caller",
            &server.sig("caller"),
            json!(55),
            "anchor",
            "videocall",
        ),
    )
    .await;
    assert_eq!(reply(&mut caller).await["type"], "entered");
    send(
        &mut caller,
        json!({"id": 2, "type": "switch_role", "role": "audience"}),
    )
    .await;
    assert_eq!(reply(&mut caller).await["code"], 3002);
}

#[tokio::test]
async fn malformed_input_gets_an_error_and_the_connection_lives_on() {
    let server = TestServer::start().await;
    let mut ws = connect(&server).await;
    ws.send(Message::text("{not json")).await.expect("send");
    assert_eq!(reply(&mut ws).await["code"], 1000);
    send(&mut ws, json!({"id": 3, "type": "dance"})).await;
    let r = reply(&mut ws).await;
    assert_eq!(
        (r["id"].as_u64(), r["code"].as_u64()),
        (Some(3), Some(1001))
    );
    let big = "x".repeat(roomcast_proto::MAX_MESSAGE_BYTES + 10);
    send(&mut ws, json!({"id": 4, "type": "ping", "pad": big})).await;
    assert_eq!(reply(&mut ws).await["code"], 1002);
    ws.send(Message::binary(vec![0u8, 1, 2]))
        .await
        .expect("send");
    assert_eq!(reply(&mut ws).await["code"], 1000);
    send(
        &mut ws,
        json!({"id": 5, "type": "negotiate", "sdp": "v=0", "tracks": []}),
    )
    .await;
    assert_eq!(
        reply(&mut ws).await["code"],
        1004,
        "requests before enter_room need a room"
    );
    // Still serving this connection.
    send(
        &mut ws,
        enter(
            server.app,
            "alice",
            &server.sig("alice"),
            json!(9),
            "anchor",
            "videocall",
        ),
    )
    .await;
    assert_eq!(reply(&mut ws).await["type"], "entered");
    send(
        &mut ws,
        enter(
            server.app,
            "alice",
            &server.sig("alice"),
            json!(9),
            "anchor",
            "videocall",
        ),
    )
    .await;
    assert_eq!(reply(&mut ws).await["code"], 1005);
    // A broken offer is a negotiation error, not a crash.
    send(
        &mut ws,
        json!({"id": 6, "type": "negotiate", "sdp": "garbage", "tracks": []}),
    )
    .await;
    assert_eq!(reply(&mut ws).await["code"], 4000);
    send(&mut ws, json!({"id": 7, "type": "ping"})).await;
    assert_eq!(reply(&mut ws).await["type"], "ok");
}

/// The next event of `type` (skipping others), within 10 s.
async fn event(ws: &mut Ws, ty: &str) -> Value {
    let fut = async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(t.as_str()).expect("server sends JSON");
                if v["type"] == ty {
                    return v;
                }
            }
        }
        panic!("connection closed while waiting for {ty}");
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("the event within 10 s")
}

/// A socket that entered live room 31 as `user` with `role`.
async fn entered(server: &TestServer, user: &str, role: &str) -> Ws {
    let mut ws = connect(server).await;
    let msg = enter(server.app, user, &server.sig(user), json!(31), role, "live");
    send(&mut ws, msg).await;
    assert_eq!(reply(&mut ws).await["type"], "entered");
    ws
}

#[tokio::test]
async fn speaking_invitations_and_requests_check_roles() {
    let server = TestServer::start().await;
    let mut anchor = entered(&server, "host", "anchor").await;
    let mut viewer = entered(&server, "fan", "audience").await;

    // Wrong roles are refused with 3002, unknown users with 3003, and both sockets live on.
    send(
        &mut viewer,
        json!({"id": 2, "type": "invite_to_speak", "user_id": "host"}),
    )
    .await;
    let r = reply(&mut viewer).await;
    assert_eq!(
        (r["id"].as_u64(), r["code"].as_u64()),
        (Some(2), Some(3002)),
        "{r}"
    );
    assert!(
        r["message"]
            .as_str()
            .unwrap_or_default()
            .contains("only anchors"),
        "{r}"
    );
    send(&mut anchor, json!({"id": 2, "type": "request_to_speak"})).await;
    let r = reply(&mut anchor).await;
    assert_eq!(
        (r["id"].as_u64(), r["code"].as_u64()),
        (Some(2), Some(3002)),
        "{r}"
    );
    send(
        &mut anchor,
        json!({"id": 3, "type": "invite_to_speak", "user_id": "nobody"}),
    )
    .await;
    let r = reply(&mut anchor).await;
    assert_eq!(r["code"], 3003, "{r}");
    send(
        &mut viewer,
        json!({"id": 3, "type": "answer_invite", "accept": true}),
    )
    .await;
    let r = reply(&mut viewer).await;
    assert_eq!(r["code"], 3005, "nothing to answer: {r}");

    // The happy path still works on the same sockets.
    send(&mut viewer, json!({"id": 4, "type": "request_to_speak"})).await;
    assert_eq!(reply(&mut viewer).await["type"], "ok");
    let asked = event(&mut anchor, "speak_requested").await;
    assert_eq!(asked["user_id"], "fan", "{asked}");
    send(
        &mut anchor,
        json!({"id": 4, "type": "answer_request", "user_id": "fan", "accept": true}),
    )
    .await;
    assert_eq!(reply(&mut anchor).await["type"], "ok");
    let answered = event(&mut viewer, "speak_request_answered").await;
    assert_eq!(
        (&answered["accept"], &answered["by"]),
        (&json!(true), &json!("host"))
    );
}
