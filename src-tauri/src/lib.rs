//! The Roomcast desktop app's bridge: Tauri commands that validate and call the engine, the
//! in-app room server ("Host on this computer"), engine events forwarded to the UI, decoded
//! video on binary channels, and the local store. Business logic lives in the engine and the
//! server crates; this crate only connects them to the window.

mod audio;
mod check;
mod devices;
mod error;
mod store;
mod video;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};

use roomcast_devices::{DeviceWatcher, Playout};
use roomcast_engine::audio::{AudioPull, CaptureChain};
use roomcast_engine::codec::AudioProfile;
use roomcast_engine::{Engine, EngineConfig, EngineEvent, EnterRoomParams};
use roomcast_proto::{Role, RoomId, Scene, Stream, UserId};
use roomcast_server::{RunningServer, ServerConfig};
use serde::Serialize;
use serde_json::{Value, json};
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::{AppHandle, Emitter, Manager, State};
use tokio::sync::Mutex;

pub use error::AppError;
use store::{CallRecord, LocalStore, RecentRoom, Settings};
use video::{PreviewSource, ViewSink, Views};

type Result<T> = std::result::Result<T, AppError>;

struct Hosted {
    server: RunningServer,
    /// What others on the LAN type.
    url: String,
}

struct Call {
    engine: Engine,
    server: String,
    room: String,
    started_ms: i64,
    participants: Arc<StdMutex<BTreeSet<String>>>,
    forward: tauri::async_runtime::JoinHandle<()>,
    mic_on: bool,
    camera_on: bool,
    sharing: bool,
    /// The chosen speaker, pulling the engine's playout; None plays nothing.
    playout: Option<Playout>,
    in_use: devices::InUse,
}

pub struct AppState {
    store: LocalStore,
    notice: Option<String>,
    data_dir: PathBuf,
    hosted: Mutex<Option<Hosted>>,
    call: Mutex<Option<Call>>,
    views: Arc<Views>,
    fallbacks: Arc<devices::Fallbacks>,
    _watcher: Option<DeviceWatcher>,
    /// The pre-join device check (camera preview, microphone level) outside a room.
    check: StdMutex<DeviceCheck>,
}

#[derive(Default)]
struct DeviceCheck {
    camera: Option<check::Check>,
    microphone: Option<check::Check>,
    /// The effects the microphone check runs through (the same chain a call uses).
    chain: Option<Arc<StdMutex<CaptureChain>>>,
    /// The speaker playing the ear monitor ("hear yourself") before joining.
    ear: Option<Playout>,
}

fn lock_check(state: &AppState) -> std::sync::MutexGuard<'_, DeviceCheck> {
    state.check.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HostInfo {
    url: String,
    sdk_app_id: u32,
}

struct JoinArgs {
    server: Option<String>,
    room: String,
    user_id: String,
    role: Role,
    scene: Scene,
    sdk_app_id: Option<u32>,
    user_sig: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RemoteUserOut {
    user_id: String,
    role: Role,
    audio: bool,
    video: bool,
    sub_video: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Joined {
    enter_room_ms: f64,
    users: Vec<RemoteUserOut>,
}

/// Guests' browsers get the same UI the app shows, from the assets Tauri embedded.
fn web_page(app: &AppHandle) -> roomcast_server::web::WebAssets {
    let assets = app.asset_resolver();
    roomcast_server::web::WebAssets::from_fn(move |path| {
        assets
            .get(path.to_string())
            .map(|a| std::borrow::Cow::Owned(a.bytes))
    })
}

#[tauri::command]
async fn host_meeting(app: AppHandle, state: State<'_, AppState>) -> Result<HostInfo> {
    let mut hosted = state.hosted.lock().await;
    if let Some(h) = hosted.as_ref() {
        return Ok(HostInfo {
            url: h.url.clone(),
            sdk_app_id: h.server.dev_app.id.get(),
        });
    }
    let data_dir = Some(state.data_dir.join("server"));
    // The usual ports when free, any free ones otherwise (a second app, a server running).
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let preferred = ServerConfig {
        listen: SocketAddr::new(any, 7880),
        udp_port: 7882,
        public_ip: None,
        data_dir: data_dir.clone(),
        web: Some(web_page(&app)),
    };
    let server = match RunningServer::start(preferred).await {
        Ok(s) => s,
        Err(_) => RunningServer::start(ServerConfig {
            listen: SocketAddr::new(any, 0),
            udp_port: 0,
            public_ip: None,
            data_dir,
            web: Some(web_page(&app)),
        })
        .await
        .map_err(|e| AppError::Internal {
            message: format!("cannot start the room server: {e}"),
        })?,
    };
    let ip = roomcast_server::config::guess_lan_ip().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let url = format!("http://{}", SocketAddr::new(ip, server.http_addr.port()));
    let info = HostInfo {
        url: url.clone(),
        sdk_app_id: server.dev_app.id.get(),
    };
    *hosted = Some(Hosted { server, url });
    Ok(info)
}

#[tauri::command]
async fn stop_hosting(state: State<'_, AppState>) -> Result<()> {
    if let Some(h) = state.hosted.lock().await.take() {
        h.server.shutdown().await;
    }
    Ok(())
}

/// Where to connect and with which sig: the in-app server signs for its own users.
async fn resolve_server(state: &AppState, args: &JoinArgs) -> Result<(String, u32, String)> {
    let hosted = state.hosted.lock().await;
    let local = hosted.as_ref().filter(|h| {
        args.server
            .as_deref()
            .is_none_or(|s| s.is_empty() || *s == h.url)
    });
    if let Some(h) = local {
        let app = h.server.dev_app.id.get();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let sig = roomcast_proto::usersig::generate(
            u64::from(app),
            &h.server.dev_app.secret_key,
            &args.user_id,
            now,
            86_400,
            None,
        );
        return Ok((
            format!("http://127.0.0.1:{}", h.server.http_addr.port()),
            app,
            sig,
        ));
    }
    let server = args
        .server
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            AppError::input("Enter the server address, or host the meeting on this computer.")
        })?;
    let app = args
        .sdk_app_id
        .ok_or_else(|| AppError::input("This server needs an SDKAppID."))?;
    let sig = args
        .user_sig
        .clone()
        .ok_or_else(|| AppError::input("This server needs a UserSig for you."))?;
    Ok((server, app, sig))
}

fn video_settings(s: &Settings) -> (u32, u32, u32, u32) {
    let (w, h) = match s.resolution.as_str() {
        "360p" => (640, 360),
        "540p" => (960, 540),
        "1080p" => (1920, 1080),
        _ => (1280, 720),
    };
    (
        w,
        h,
        s.fps.clamp(5, 60),
        s.bitrate_kbps.clamp(100, 8000) * 1000,
    )
}

fn audio_profile(s: &Settings) -> AudioProfile {
    match s.audio_profile.as_str() {
        "speech" => AudioProfile::Speech,
        "music" => AudioProfile::Music,
        _ => AudioProfile::Default,
    }
}

/// Arguments arrive flat, in camelCase (ui/src/lib/backend.ts `JoinArgs`).
#[tauri::command]
#[allow(clippy::too_many_arguments)]
async fn join_room(
    app: AppHandle,
    state: State<'_, AppState>,
    server: Option<String>,
    room: String,
    user_id: String,
    role: Role,
    scene: Scene,
    sdk_app_id: Option<u32>,
    user_sig: Option<String>,
) -> Result<Joined> {
    let args = JoinArgs {
        server,
        room,
        user_id,
        role,
        scene,
        sdk_app_id,
        user_sig,
    };
    UserId::new(args.user_id.clone()).map_err(|e| AppError::input(e.to_string()))?;
    let room = RoomId::parse(args.room.trim()).map_err(|e| AppError::input(e.to_string()))?;
    let mut call = state.call.lock().await;
    if call.is_some() {
        return Err(AppError::input(
            "You are already in a room; leave it first.",
        ));
    }
    let (server, sdk_app_id, user_sig) = resolve_server(&state, &args).await?;
    // The pre-join check lets go of the devices the call is about to open.
    let check = std::mem::take(&mut *lock_check(&state));
    drop(check);
    let settings = state.store.settings().await.unwrap_or_default();
    let speaker = settings.speaker.clone();
    let (playout, speaker) = devices::unblock(move || devices::playout(speaker.as_deref())).await?;
    let views = state.views.clone();
    let config = EngineConfig {
        auto_subscribe_audio: true,
        auto_subscribe_video: true,
        video_sink: Arc::new(move |user, stream| {
            Box::new(ViewSink {
                user: user.to_string(),
                stream,
                views: views.clone(),
            })
        }),
        audio_effects: state.store.audio_effects().await.unwrap_or_default(),
        // With a speaker, its callback is the playout clock; without one the engine keeps
        // its own, so the call still receives (and the echo canceller hears silence).
        headless_playout: playout.is_none(),
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(config);
    if let Some(p) = &playout {
        p.attach(Some(Arc::new(engine.playout())));
    }
    let params = EnterRoomParams {
        server_url: server.clone(),
        sdk_app_id,
        user_id: args.user_id.clone(),
        user_sig,
        room_id: room.clone(),
        role: args.role,
        scene: args.scene,
        hidden: false,
        invite: None,
        name: None,
        passcode: None,
    };
    let enter_room_ms = engine.enter_room(params).await?;
    let participants = Arc::new(StdMutex::new(BTreeSet::new()));
    let forward = tauri::async_runtime::spawn(forward_events(
        app.clone(),
        engine.take_events(),
        participants.clone(),
    ));
    let mut joined = Call {
        engine,
        server: args
            .server
            .clone()
            .unwrap_or_else(|| "this computer".into()),
        room: room.to_string(),
        started_ms: store::now_ms(),
        participants,
        forward,
        mic_on: false,
        camera_on: false,
        sharing: false,
        playout,
        in_use: devices::InUse {
            speaker,
            ..Default::default()
        },
    };
    // Anchors publish at once, as a call app should; the UI mutes from there.
    if joined.engine.role() == Role::Anchor {
        start_microphone(&app, &state, &mut joined, &settings).await?;
        start_camera(&app, &state, &mut joined, &settings).await?;
    }
    let remember = args.server.clone().unwrap_or_default();
    let scene = serde_json::to_value(args.scene)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    if let Err(e) = state
        .store
        .remember_room(&remember, &room.to_string(), &scene)
        .await
    {
        tracing::warn!("cannot remember the room: {e}");
    }
    *call = Some(joined);
    Ok(Joined {
        enter_room_ms,
        users: Vec::new(),
    })
}

/// The microphone from the settings; the test tone (with a notice) when there is none. A
/// running microphone is replaced (muted if it was).
async fn start_microphone(
    app: &AppHandle,
    state: &AppState,
    call: &mut Call,
    settings: &Settings,
) -> Result<()> {
    let profile = audio_profile(settings);
    let (app2, fallbacks, id) = (
        app.clone(),
        state.fallbacks.clone(),
        settings.microphone.clone(),
    );
    let (source, id) = devices::unblock(move || {
        devices::microphone(&app2, &fallbacks, id.as_deref(), profile.channels())
    })
    .await?;
    call.engine.start_local_audio(source, profile).await?;
    call.mic_on = true;
    call.in_use.microphone = id;
    Ok(())
}

/// The camera from the settings; the test pattern (with a notice) when there is none. A
/// running camera is replaced.
async fn start_camera(
    app: &AppHandle,
    state: &AppState,
    call: &mut Call,
    settings: &Settings,
) -> Result<()> {
    let (w, h, fps, bps) = video_settings(settings);
    let (app2, fallbacks, id) = (
        app.clone(),
        state.fallbacks.clone(),
        settings.camera.clone(),
    );
    let (source, id) =
        devices::unblock(move || devices::camera(&app2, &fallbacks, id.as_deref(), (w, h, fps)))
            .await?;
    let preview = PreviewSource {
        inner: source,
        views: state.views.clone(),
        stream: Stream::Main,
    };
    call.engine
        .start_local_video(Box::new(preview), Stream::Main, bps)
        .await?;
    call.camera_on = true;
    call.in_use.camera = id;
    Ok(())
}

async fn forward_events(
    app: AppHandle,
    mut events: tokio::sync::mpsc::UnboundedReceiver<EngineEvent>,
    participants: Arc<StdMutex<BTreeSet<String>>>,
) {
    while let Some(e) = events.recv().await {
        if let EngineEvent::RemoteUserEnter { user, .. } = &e {
            participants
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(user.as_str().to_string());
        }
        if let EngineEvent::SpeakRequestAnswered { accept: true, .. } = &e {
            publish_on_stage(&app);
        }
        if let EngineEvent::LocalVideoEnded {
            stream: Stream::Sub,
        } = &e
        {
            release_ended_share(&app);
        }
        if let EngineEvent::MusicProgress(states) = &e {
            // One event per track, as the UI's contract has it.
            for m in states {
                let _ = app.emit(
                    "room-event",
                    json!({"type": "music_progress", "id": m.id, "positionMs": m.position_ms, "durationMs": m.duration_ms}),
                );
            }
        }
        if let Some(payload) = event_payload(&e) {
            let _ = app.emit("room-event", payload);
        }
    }
}

fn stream_name(s: Stream) -> &'static str {
    match s {
        Stream::Main => "main",
        Stream::Sub => "sub",
    }
}

/// Engine events in the UI's contract (ui/src/lib/backend.ts).
fn event_payload(e: &EngineEvent) -> Option<Value> {
    Some(match e {
        EngineEvent::RemoteUserEnter { user, name } => json!({"type": "user_enter", "userId": user, "name": name}),
        EngineEvent::RemoteUserLeave { user, reason } => {
            json!({"type": "user_leave", "userId": user, "reason": reason})
        }
        EngineEvent::UserAudioAvailable { user, available } => {
            json!({"type": "audio_available", "userId": user, "available": available})
        }
        EngineEvent::UserVideoAvailable {
            user,
            stream,
            available,
        } => {
            json!({"type": "video_available", "userId": user, "stream": stream_name(*stream), "available": available})
        }
        EngineEvent::FirstVideoFrame {
            user,
            stream,
            width,
            height,
            ..
        } => {
            json!({"type": "first_video_frame", "userId": user, "stream": stream_name(*stream), "width": width, "height": height})
        }
        EngineEvent::Volumes(levels) => {
            let volumes: Vec<Value> = levels
                .iter()
                .map(|(u, v)| json!({"userId": u.as_ref().map(|u| u.as_str()).unwrap_or(""), "volume": v}))
                .collect();
            json!({"type": "volumes", "volumes": volumes})
        }
        EngineEvent::NetworkQuality(q) => {
            let qualities: Vec<Value> = q
                .iter()
                .map(|(u, q)| json!({"userId": u, "quality": q.as_number()}))
                .collect();
            json!({"type": "network_quality", "qualities": qualities})
        }
        EngineEvent::ConnectionLost => json!({"type": "connection_lost"}),
        EngineEvent::ConnectionRecovered => json!({"type": "connection_recovered"}),
        EngineEvent::SwitchRole { role } => json!({"type": "role_changed", "role": role}),
        EngineEvent::Error { code, message } => {
            json!({"type": "error", "code": code.map(|c| c.code()), "message": message})
        }
        EngineEvent::Removed { code, message } => {
            json!({"type": "exit_room", "reason": "removed", "code": code.code(), "message": message})
        }
        EngineEvent::ExitRoom => json!({"type": "exit_room", "reason": "left"}),
        EngineEvent::MusicComplete { id } => json!({"type": "music_complete", "id": id}),
        EngineEvent::LocalVideoEnded { stream } => {
            json!({"type": "local_video_ended", "stream": stream_name(*stream)})
        }
        EngineEvent::SpeakInvited { .. }
        | EngineEvent::SpeakRequested { .. }
        | EngineEvent::SpeakRequestAnswered { .. }
        | EngineEvent::SpeakInviteAnswered { .. } => return speak_payload(e),
        _ => return None,
    })
}

#[tauri::command]
async fn leave_room(state: State<'_, AppState>) -> Result<()> {
    let Some(mut call) = state.call.lock().await.take() else {
        return Ok(());
    };
    call.engine.exit_room().await;
    call.forward.abort();
    state.views.clear();
    let participants: Vec<String> = call
        .participants
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .cloned()
        .collect();
    let record = CallRecord {
        server: call.server,
        room: call.room,
        started_ms: call.started_ms,
        duration_s: (store::now_ms() - call.started_ms) as f64 / 1000.0,
        participants,
    };
    state.store.record_call(&record).await?;
    Ok(())
}

#[tauri::command]
async fn set_microphone(app: AppHandle, state: State<'_, AppState>, on: bool) -> Result<()> {
    let mut guard = state.call.lock().await;
    let Some(call) = guard.as_mut() else {
        // Outside a room: the pre-join check's level meter.
        let source = if on {
            let settings = state.store.settings().await.unwrap_or_default();
            let channels = audio_profile(&settings).channels();
            let (app2, fallbacks, id) = (app.clone(), state.fallbacks.clone(), settings.microphone);
            Some(
                devices::unblock(move || {
                    devices::microphone(&app2, &fallbacks, id.as_deref(), channels).0
                })
                .await?,
            )
        } else {
            None
        };
        let effects = state.store.audio_effects().await.unwrap_or_default();
        let chain = Arc::new(StdMutex::new(CaptureChain::new(effects.clone())));
        let ear = if on && effects.ear_monitor {
            let speaker = state.store.settings().await.unwrap_or_default().speaker;
            let (playout, _) =
                devices::unblock(move || devices::playout(speaker.as_deref())).await?;
            if let Some(p) = &playout {
                let queue: Arc<dyn AudioPull> = roomcast_engine::stats::lock(&chain).local_out();
                p.attach(Some(queue));
            }
            playout
        } else {
            None
        };
        let running = source.and_then(|s| check::microphone(s, app.clone(), chain.clone()));
        let mut check = lock_check(&state);
        let old = (
            std::mem::replace(&mut check.microphone, running),
            std::mem::replace(&mut check.ear, ear),
        );
        check.chain = check.microphone.is_some().then_some(chain);
        drop(check);
        drop(old);
        return Ok(());
    };
    if on && !call.mic_on && call.engine.role() == Role::Anchor {
        let settings = state.store.settings().await.unwrap_or_default();
        return start_microphone(&app, &state, call, &settings).await;
    }
    call.engine.mute_local_audio(!on).await;
    Ok(())
}

#[tauri::command]
async fn set_camera(app: AppHandle, state: State<'_, AppState>, on: bool) -> Result<()> {
    let mut guard = state.call.lock().await;
    let Some(call) = guard.as_mut() else {
        // Outside a room: the pre-join check's preview. The old camera closes first.
        let old = lock_check(&state).camera.take();
        drop(old);
        if on {
            let settings = state.store.settings().await.unwrap_or_default();
            let (w, h, fps, _) = video_settings(&settings);
            let (app2, fallbacks, id) = (app.clone(), state.fallbacks.clone(), settings.camera);
            let source = devices::unblock(move || {
                devices::camera(&app2, &fallbacks, id.as_deref(), (w, h, fps)).0
            })
            .await?;
            lock_check(&state).camera = check::camera(source, state.views.clone());
        }
        return Ok(());
    };
    if on && !call.camera_on && call.engine.role() == Role::Anchor {
        let settings = state.store.settings().await.unwrap_or_default();
        return start_camera(&app, &state, call, &settings).await;
    }
    call.engine.mute_local_video(Stream::Main, !on).await;
    Ok(())
}

#[tauri::command]
async fn switch_role(state: State<'_, AppState>, role: Role) -> Result<()> {
    let mut guard = state.call.lock().await;
    let call = guard.as_mut().ok_or_else(AppError::not_in_room)?;
    call.engine.switch_role(role).await?;
    if role == Role::Audience {
        call.mic_on = false;
        call.camera_on = false;
        call.sharing = false;
    }
    Ok(())
}

// Invitations and requests to speak (live scenes). Going on stage publishes the microphone
// and camera, as entering as an anchor does.

fn speak_payload(e: &EngineEvent) -> Option<Value> {
    Some(match e {
        EngineEvent::SpeakInvited { by } => json!({"type": "speak_invited", "by": by}),
        EngineEvent::SpeakRequested { user } => {
            json!({"type": "speak_requested", "userId": user})
        }
        EngineEvent::SpeakRequestAnswered { accept, by } => {
            json!({"type": "speak_request_answered", "accept": accept, "by": by})
        }
        EngineEvent::SpeakInviteAnswered { user, accept } => {
            json!({"type": "speak_invite_answered", "userId": user, "accept": accept})
        }
        _ => return None,
    })
}

/// After the engine went on stage by itself (an allowed request), publish as an anchor does.
/// Runs off the event loop: it waits for the call lock like any command.
/// The shared screen or window ended by itself (window closed, "Stop sharing" in the
/// system's indicator): stop publishing it so the others' large view goes away.
fn release_ended_share(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let mut guard = state.call.lock().await;
        if let Some(call) = guard.as_mut().filter(|c| c.sharing) {
            call.engine.stop_local_video(Stream::Sub).await;
            call.sharing = false;
        }
    });
}

fn publish_on_stage(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        if let Err(e) = go_on_stage(&app, &state).await {
            let payload = json!({"type": "error", "code": null, "message": e.to_string()});
            let _ = app.emit("room-event", payload);
        }
    });
}

async fn go_on_stage(app: &AppHandle, state: &AppState) -> Result<()> {
    let mut guard = state.call.lock().await;
    let Some(call) = guard.as_mut() else {
        return Ok(());
    };
    if call.engine.role() != Role::Anchor {
        return Ok(());
    }
    let settings = state.store.settings().await.unwrap_or_default();
    if !call.mic_on {
        start_microphone(app, state, call, &settings).await?;
    }
    if !call.camera_on {
        start_camera(app, state, call, &settings).await?;
    }
    Ok(())
}

fn speaker_id(user_id: String) -> Result<UserId> {
    UserId::new(user_id).map_err(|e| AppError::input(e.to_string()))
}

#[tauri::command]
async fn invite_to_speak(state: State<'_, AppState>, user_id: String) -> Result<()> {
    let user = speaker_id(user_id)?;
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    Ok(call.engine.invite_to_speak(user).await?)
}

#[tauri::command]
async fn request_to_speak(state: State<'_, AppState>) -> Result<()> {
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    Ok(call.engine.request_to_speak().await?)
}

#[tauri::command]
async fn answer_invite(app: AppHandle, state: State<'_, AppState>, accept: bool) -> Result<()> {
    {
        let mut guard = state.call.lock().await;
        let call = guard.as_mut().ok_or_else(AppError::not_in_room)?;
        call.engine.answer_invite(accept).await?;
    }
    if accept {
        go_on_stage(&app, &state).await?;
    }
    Ok(())
}

#[tauri::command]
async fn answer_request(state: State<'_, AppState>, user_id: String, accept: bool) -> Result<()> {
    let user = speaker_id(user_id)?;
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    Ok(call.engine.answer_request(user, accept).await?)
}

#[tauri::command]
async fn list_screen_sources() -> Result<Vec<devices::ScreenSource>> {
    let sources = devices::unblock(roomcast_devices::list_screen_sources).await??;
    Ok(sources.into_iter().map(Into::into).collect())
}

/// Publishes a screen or window on the sub stream (sharp text: more bits, fewer frames).
#[tauri::command]
async fn start_screen_share(state: State<'_, AppState>, source_id: String) -> Result<()> {
    let anchor_only = || AppError::input("Only anchors can share their screen; go on stage first.");
    let started_ms = {
        let guard = state.call.lock().await;
        let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
        if call.engine.role() != Role::Anchor {
            return Err(anchor_only());
        }
        call.started_ms
    };
    // Not under the call's lock: on Wayland this waits while the user picks in the system's
    // dialog, and mute, leave and the rest must keep working meanwhile.
    let (fps, (w, h)) = (devices::SCREEN_FPS, devices::SCREEN_MAX);
    let source =
        devices::unblock(move || roomcast_devices::open_screen(&source_id, fps, w, h)).await??;
    let mut guard = state.call.lock().await;
    // The call may have ended (or another begun) while the picker was open.
    let call = guard
        .as_mut()
        .filter(|c| c.started_ms == started_ms)
        .ok_or_else(AppError::not_in_room)?;
    if call.engine.role() != Role::Anchor {
        return Err(anchor_only());
    }
    if call.sharing {
        call.engine.stop_local_video(Stream::Sub).await;
    }
    let preview = PreviewSource {
        inner: source,
        views: state.views.clone(),
        stream: Stream::Sub,
    };
    call.engine
        .start_local_video(Box::new(preview), Stream::Sub, devices::SCREEN_BPS)
        .await?;
    call.sharing = true;
    Ok(())
}

#[tauri::command]
async fn stop_screen_share(state: State<'_, AppState>) -> Result<()> {
    let mut guard = state.call.lock().await;
    let call = guard.as_mut().ok_or_else(AppError::not_in_room)?;
    if call.sharing {
        call.engine.stop_local_video(Stream::Sub).await;
        call.sharing = false;
    }
    Ok(())
}

/// The pre-join speaker test: a one-second tone on the chosen speaker, through the same
/// mixer and device path as a call's audio. Returns the speaker's name.
#[tauri::command]
async fn test_speaker(state: State<'_, AppState>) -> Result<String> {
    if state.call.lock().await.is_some() {
        return Err(AppError::input(
            "The speaker test runs before joining; in a call, you hear the others on it.",
        ));
    }
    let speaker = state.store.settings().await.unwrap_or_default().speaker;
    Ok(devices::unblock(move || Playout::play_test_tone(speaker.as_deref())).await??)
}

/// 0..=100 (default 100) for one remote user's audio on this computer only.
#[tauri::command]
async fn set_user_volume(state: State<'_, AppState>, user_id: String, volume: u8) -> Result<()> {
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    call.engine
        .set_remote_audio_volume(&user_id, volume.min(100));
    Ok(())
}

#[tauri::command]
#[allow(clippy::too_many_arguments)]
async fn set_view(
    state: State<'_, AppState>,
    user_id: String,
    stream: Stream,
    width: u32,
    height: u32,
    viewer: Option<u64>,
    seq: Option<u64>,
    channel: Channel<InvokeResponseBody>,
) -> Result<()> {
    let req = video::Request { viewer, seq };
    state
        .views
        .set(user_id, stream, (width, height), channel, req);
    Ok(())
}

#[tauri::command]
async fn stop_view(
    state: State<'_, AppState>,
    user_id: String,
    stream: Stream,
    viewer: Option<u64>,
    seq: Option<u64>,
) -> Result<()> {
    let req = video::Request { viewer, seq };
    state.views.remove(&user_id, stream, req);
    Ok(())
}

#[tauri::command]
async fn list_devices() -> Result<devices::Devices> {
    let lists = devices::unblock(roomcast_devices::list_devices).await?;
    Ok(devices::Devices::from(&lists))
}

#[tauri::command]
async fn get_settings(state: State<'_, AppState>) -> Result<Settings> {
    Ok(state.store.settings().await?)
}

#[tauri::command]
async fn save_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<()> {
    state.store.save_settings(&settings).await?;
    // In a call, another microphone, camera or speaker takes over at once.
    if state.call.lock().await.is_some() {
        let lists = devices::unblock(roomcast_devices::list_devices).await?;
        devices::follow(&app, lists).await;
    }
    Ok(())
}

#[tauri::command]
async fn recent_rooms(state: State<'_, AppState>) -> Result<Vec<RecentRoom>> {
    Ok(state.store.recent_rooms().await?)
}

#[tauri::command]
async fn call_history(state: State<'_, AppState>) -> Result<Vec<CallRecord>> {
    Ok(state.store.call_history().await?)
}

#[tauri::command]
async fn store_notice(state: State<'_, AppState>) -> Result<Option<String>> {
    Ok(state.notice.clone())
}

/// Runs the app. `ROOMCAST_DATA_DIR` overrides where its data lives (tests use it).
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,roomcast=info".into()),
        )
        .try_init();
    tauri::Builder::default()
        .setup(|app| {
            let data_dir = match std::env::var_os("ROOMCAST_DATA_DIR") {
                Some(d) => PathBuf::from(d),
                None => app.path().app_data_dir()?,
            };
            let (store, notice) =
                tauri::async_runtime::block_on(LocalStore::open(&data_dir.join("app.db")))
                    .map_err(Box::new)?;
            app.manage(AppState {
                store,
                notice,
                data_dir,
                hosted: Mutex::new(None),
                call: Mutex::new(None),
                views: Arc::new(Views::default()),
                fallbacks: Arc::default(),
                _watcher: devices::watch(app.handle().clone()),
                check: StdMutex::new(DeviceCheck::default()),
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            host_meeting,
            stop_hosting,
            join_room,
            leave_room,
            set_microphone,
            set_camera,
            switch_role,
            list_screen_sources,
            start_screen_share,
            stop_screen_share,
            set_user_volume,
            test_speaker,
            set_view,
            stop_view,
            list_devices,
            get_settings,
            save_settings,
            recent_rooms,
            call_history,
            store_notice,
            invite_to_speak,
            request_to_speak,
            answer_invite,
            answer_request,
            audio::get_audio_effects,
            audio::set_audio_effects,
            audio::load_music,
            audio::music_control,
            audio::seek_music,
            audio::set_music_volume,
            audio::play_sound_effect,
        ])
        .run(tauri::generate_context!("../tauri.conf.json"))
        .unwrap_or_else(|e| {
            eprintln!("Roomcast could not start: {e}");
            std::process::exit(1);
        });
}
