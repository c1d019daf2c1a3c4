//! Shared harness for the end-to-end tests: a server in-process on ephemeral ports, and
//! helpers to make UserSigs and headless participants.

pub mod pesq;
pub mod relay;
pub mod vnet;
pub mod world;

pub use roomcast_engine::write_bench_section;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use roomcast_engine::codec::AudioProfile;
use std::sync::Arc;

use roomcast_engine::media::measure::Measured;
use roomcast_engine::media::{PatternSource, ToneSource};
use roomcast_engine::{Engine, EngineConfig, EngineError, EnterRoomParams};
use roomcast_proto::{Role, RoomId, Scene, Stream};
use roomcast_server::{RunningServer, ServerConfig};

pub struct TestServer {
    pub server: RunningServer,
    pub app: u32,
    pub key: String,
}

/// The web page's build in `ui/dist`.
fn web_page() -> roomcast_server::web::WebAssets {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    roomcast_server::web::WebAssets::dir(dir)
}

impl TestServer {
    /// Serves the web page from `ui/dist` (build it with `npm --prefix ui run build`).
    pub async fn start() -> Self {
        let server = RunningServer::start(ServerConfig {
            web: Some(web_page()),
            ..ServerConfig::ephemeral()
        })
        .await
        .expect("server starts on ephemeral ports");
        let app = server.dev_app.id.get();
        let key = server.dev_app.secret_key.clone();
        Self { server, app, key }
    }

    /// A server whose clients reach it through a [`Relay`](relay::Relay) losing `loss` each
    /// way.
    pub async fn behind_relay(loss: f64, seed: u64) -> (Self, relay::Relay) {
        Self::behind_impaired_relay(seed, vnet::Impairment::loss(loss)).await
    }

    /// A server whose clients reach it through a [`Relay`](relay::Relay) that does `link` to
    /// each client's datagrams both ways unless told otherwise: it binds 127.0.0.1:P and
    /// advertises 127.0.0.2:P, where the relay listens.
    pub async fn behind_impaired_relay(seed: u64, link: vnet::Impairment) -> (Self, relay::Relay) {
        use std::net::{IpAddr, Ipv4Addr, SocketAddr};
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").expect("probe");
        let port = probe.local_addr().expect("addr").port();
        drop(probe);
        let relay_ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let config = ServerConfig {
            udp_port: port,
            public_ip: Some(relay_ip),
            web: Some(web_page()),
            ..ServerConfig::ephemeral()
        };
        let server = RunningServer::start(config).await.expect("server");
        let backend = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        let listen = SocketAddr::new(relay_ip, port);
        let relay = relay::Relay::start(listen, backend, seed, link).await;
        let app = server.dev_app.id.get();
        let key = server.dev_app.secret_key.clone();
        (Self { server, app, key }, relay)
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn sig(&self, user: &str) -> String {
        sig(self.app, &self.key, user, 3600)
    }

    pub fn params(&self, user: &str, room: u32, role: Role, scene: Scene) -> EnterRoomParams {
        EnterRoomParams {
            server_url: self.url(),
            sdk_app_id: self.app,
            user_id: user.to_string(),
            user_sig: self.sig(user),
            room_id: RoomId::Number(room),
            role,
            scene,
            hidden: false,
            invite: None,
            name: None,
            passcode: None,
        }
    }
}

impl TestServer {
    /// An invite grant for `room`, signed with the app's key, valid for `secs` (negative:
    /// already expired).
    pub fn invite(&self, room: u32, role: Role, host: bool, secs: i64) -> String {
        let now = unix_now();
        let grant = roomcast_proto::invite::Grant {
            app: self.app,
            room: RoomId::Number(room),
            role,
            host,
            iat: now,
            exp: now + secs,
            id: format!("t{now}"),
        };
        roomcast_proto::invite::sign(&grant, &self.key)
    }

    /// What a guest with `grant` sends: no UserSig, a display name, the room it asks for.
    pub fn guest_params(&self, grant: &str, user: &str, name: &str, room: u32) -> EnterRoomParams {
        EnterRoomParams {
            server_url: self.url(),
            sdk_app_id: self.app,
            user_id: user.to_string(),
            user_sig: String::new(),
            room_id: RoomId::Number(room),
            role: Role::Anchor,
            scene: Scene::VideoCall,
            hidden: false,
            invite: Some(grant.to_string()),
            name: Some(name.to_string()),
            passcode: None,
        }
    }
}

/// The `roomcast` binary next to the running test (`cargo build -p roomcast-cli` makes it).
pub fn roomcast_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let bin = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target dir")
        .join(format!("roomcast{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "build the binary first: cargo build -p roomcast-cli ({} missing)",
        bin.display()
    );
    bin
}

/// A fresh, empty directory for one test's files (`roomcast-<name>-<pid>` in the temp dir).
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("roomcast-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn sig(app: u32, key: &str, user: &str, expire: i64) -> String {
    roomcast_proto::usersig::generate(u64::from(app), key, user, unix_now(), expire, None)
}

/// An engine that receives everything. Its microphone processing is off: these tests
/// measure the transport with the tone's bursts, which a noise suppressor would eat.
pub fn receiving_engine() -> Engine {
    measured_receiving_engine().0
}

/// [`receiving_engine`], and the marks (latency, frame counters) of what it plays.
pub fn measured_receiving_engine() -> (Engine, Arc<Measured>) {
    let measured = Measured::new();
    let d = EngineConfig::default();
    let e = Engine::new(EngineConfig {
        auto_subscribe_audio: true,
        auto_subscribe_video: true,
        audio_effects: roomcast_engine::audio::AudioEffects::off(),
        audio_sink: measured.audio_sinks(d.audio_sink.clone()),
        video_sink: measured.video_sinks(d.video_sink.clone()),
        ..d
    });
    (e, measured)
}

/// Enters a video call and publishes the tone and the test pattern.
pub async fn participant(
    server: &TestServer,
    user: &str,
    room: u32,
    size: (u32, u32, u32, u32),
) -> Result<Engine, EngineError> {
    Ok(measured_participant(server, user, room, size).await?.0)
}

/// [`participant`], and the marks of what it plays.
pub async fn measured_participant(
    server: &TestServer,
    user: &str,
    room: u32,
    (w, h, fps, kbps): (u32, u32, u32, u32),
) -> Result<(Engine, Arc<Measured>), EngineError> {
    let (mut e, measured) = measured_receiving_engine();
    e.enter_room(server.params(user, room, Role::Anchor, Scene::VideoCall))
        .await?;
    e.start_local_audio(Box::new(ToneSource::new(1)), AudioProfile::Default)
        .await?;
    e.start_local_video(
        Box::new(PatternSource::new(w, h, fps)),
        Stream::Main,
        kbps * 1000,
    )
    .await?;
    Ok((e, measured))
}

/// (size, when decoded) of every remote video frame a [`frame_log_viewer`] got.
pub type FrameLog = std::sync::Arc<std::sync::Mutex<Vec<((u32, u32), Instant)>>>;

/// An engine that receives every video and logs each decoded frame's size and time.
pub fn frame_log_viewer() -> (Engine, FrameLog) {
    let seen = FrameLog::default();
    let into = seen.clone();
    let e = Engine::new(EngineConfig {
        auto_subscribe_video: true,
        audio_effects: roomcast_engine::audio::AudioEffects::off(),
        video_sink: std::sync::Arc::new(move |_, _| {
            let into = into.clone();
            Box::new(roomcast_engine::media::CallbackVideoSink::new(move |f| {
                let mut v = into.lock().unwrap_or_else(|e| e.into_inner());
                v.push(((f.width, f.height), Instant::now()));
            }))
        }),
        ..EngineConfig::default()
    });
    (e, seen)
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}
