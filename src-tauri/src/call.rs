//! Joining and leaving a call, the microphone and camera in it, roles and remote volumes.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex};

use roomcast_devices::Playout;
use roomcast_engine::audio::{AudioPull, CaptureChain};
use roomcast_engine::codec::AudioProfile;
use roomcast_engine::video::SmallStream;
use roomcast_engine::{Engine, EngineConfig, EnterRoomParams};
use roomcast_proto::{Role, RoomId, Scene, Stream, UserId};
use serde::Serialize;
use tauri::{AppHandle, State};

use crate::events::forward_events;
use crate::store::{CallRecord, Settings};
use crate::video::ViewSink;
use crate::{AppError, AppState, Result, check, devices, lock_check, lock_std, store};

pub(crate) struct Call {
    pub(crate) engine: Engine,
    pub(crate) server: String,
    pub(crate) room: String,
    pub(crate) started_ms: i64,
    pub(crate) participants: Arc<StdMutex<BTreeSet<String>>>,
    pub(crate) forward: tauri::async_runtime::JoinHandle<()>,
    pub(crate) mic_on: bool,
    pub(crate) camera_on: bool,
    pub(crate) sharing: bool,
    /// The chosen speaker, pulling the engine's playout; None plays nothing.
    pub(crate) playout: Option<Playout>,
    pub(crate) in_use: devices::InUse,
}

pub(crate) struct JoinArgs {
    pub(crate) server: Option<String>,
    pub(crate) room: String,
    pub(crate) user_id: String,
    pub(crate) role: Role,
    pub(crate) scene: Scene,
    pub(crate) sdk_app_id: Option<u32>,
    pub(crate) user_sig: Option<String>,
    /// An invite grant instead of a UserSig.
    pub(crate) invite: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) passcode: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RemoteUserOut {
    pub(crate) user_id: String,
    pub(crate) role: Role,
    pub(crate) audio: bool,
    pub(crate) video: bool,
    pub(crate) sub_video: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Joined {
    pub(crate) enter_room_ms: f64,
    pub(crate) users: Vec<RemoteUserOut>,
    pub(crate) user_id: String,
}

/// Where to connect and with which sig: the in-app server signs for its own users.
pub async fn resolve_server(state: &AppState, args: &JoinArgs) -> Result<(String, u32, String)> {
    if let Some(grant) = &args.invite {
        // The link names the server and the app; the server checks the grant.
        let g =
            roomcast_proto::invite::decode(grant).map_err(|e| AppError::input(e.to_string()))?;
        let server = args
            .server
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AppError::input("The invite link names no server."))?;
        return Ok((server, g.app, String::new()));
    }
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

pub(crate) fn video_settings(s: &Settings) -> (u32, u32, u32, u32) {
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

pub(crate) fn audio_profile(s: &Settings) -> AudioProfile {
    match s.audio_profile.as_str() {
        "speech" => AudioProfile::Speech,
        "music" => AudioProfile::Music,
        _ => AudioProfile::Default,
    }
}

/// Arguments arrive flat, in camelCase (ui/src/lib/backend.ts `JoinArgs`).
#[tauri::command]
#[allow(clippy::too_many_arguments)]
pub async fn join_room(
    app: AppHandle,
    state: State<'_, AppState>,
    server: Option<String>,
    room: String,
    user_id: String,
    role: Role,
    scene: Scene,
    sdk_app_id: Option<u32>,
    user_sig: Option<String>,
    invite: Option<String>,
    display_name: Option<String>,
    passcode: Option<String>,
) -> Result<Joined> {
    let args = JoinArgs {
        server,
        room,
        user_id,
        role,
        scene,
        sdk_app_id,
        user_sig,
        invite: invite.filter(|g| !g.is_empty()),
        display_name: display_name.filter(|n| !n.trim().is_empty()),
        passcode: passcode.filter(|p| !p.is_empty()),
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
    let released = {
        let mut c = lock_check(&state);
        (
            c.camera.take(),
            c.microphone.take(),
            c.chain.take(),
            c.ear.take(),
        )
    };
    drop(released);
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
    let video_effects = state.store.video_effects().await.unwrap_or_default();
    if let Err(e) = engine.set_video_effects(video_effects) {
        tracing::warn!("saved video effects cannot be used ({e}); joining without them");
    }
    // Others' grids receive a small copy of my camera (simulcast).
    engine.enable_small_video_stream(Some(SmallStream::default()));
    // The self views show what is sent (after the effects).
    for stream in [Stream::Main, Stream::Sub] {
        let sink = ViewSink {
            user: String::new(),
            stream,
            views: state.views.clone(),
        };
        engine.set_local_view(stream, Some(Box::new(sink)));
    }
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
        invite: args.invite.clone(),
        name: args.display_name.clone(),
        passcode: args.passcode.clone(),
    };
    // Events flow from the start: "waiting in the lobby" comes while entering.
    let participants = Arc::new(StdMutex::new(BTreeSet::new()));
    let forward = tauri::async_runtime::spawn(forward_events(
        app.clone(),
        engine.take_events(),
        participants.clone(),
    ));
    let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
    *lock_std(&state.joining) = Some(cancel);
    let entered = tokio::select! {
        r = engine.enter_room(params) => r.map_err(AppError::from),
        _ = cancelled => Err(AppError::input("Joining was cancelled.")),
    };
    lock_std(&state.joining).take();
    let enter_room_ms = match entered {
        Ok(ms) => ms,
        Err(e) => {
            forward.abort();
            return Err(e);
        }
    };
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
        user_id: args.user_id,
    })
}

/// The microphone from the settings; the test tone (with a notice) when there is none. A
/// running microphone is replaced (muted if it was).
pub async fn start_microphone(
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
pub async fn start_camera(
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
    call.engine
        .start_local_video(source, Stream::Main, bps)
        .await?;
    call.camera_on = true;
    call.in_use.camera = id;
    Ok(())
}

#[tauri::command]
pub async fn leave_room(state: State<'_, AppState>) -> Result<()> {
    // Still entering (e.g. waiting in the lobby): give up; join_room returns.
    if let Some(cancel) = lock_std(&state.joining).take() {
        let _ = cancel.send(());
        return Ok(());
    }
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
pub async fn set_microphone(app: AppHandle, state: State<'_, AppState>, on: bool) -> Result<()> {
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
pub async fn set_camera(app: AppHandle, state: State<'_, AppState>, on: bool) -> Result<()> {
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
            let chain = lock_check(&state).video_chain.clone();
            lock_check(&state).camera = check::camera(source, state.views.clone(), chain);
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
pub async fn switch_role(state: State<'_, AppState>, role: Role) -> Result<()> {
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

/// 0..=100 (default 100) for one remote user's audio on this computer only.
#[tauri::command]
pub async fn set_user_volume(
    state: State<'_, AppState>,
    user_id: String,
    volume: u8,
) -> Result<()> {
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    call.engine
        .set_remote_audio_volume(&user_id, volume.min(100));
    Ok(())
}
