//! Glue between the app and `roomcast-devices`: the settings' device choices with a test
//! tone / test pattern fallback (announced once to the UI), the device lists and screen
//! sources in the UI's contract, and the device watcher's events.

use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;
use roomcast_devices::{
    DeviceError, DeviceInfo, DeviceLists, DeviceWatcher, Playout, ScreenKind, resolve,
};
use roomcast_engine::media::{
    AudioSource, LoopingWavSource, LoopingY4mSource, PatternSource, ToneSource, VideoSource,
};
use serde::Serialize;

use tauri::{AppHandle, Manager};

use crate::AppError;
use crate::events::RoomEvent;

/// Frames per second of a screen share: text changes slowly, and sharpness matters more
/// than motion.
pub const SCREEN_FPS: u32 = 10;
pub const SCREEN_MAX: (u32, u32) = (1920, 1080);
pub const SCREEN_BPS: u32 = 2_000_000;

impl From<DeviceError> for AppError {
    fn from(e: DeviceError) -> Self {
        AppError::Device {
            message: e.to_string(),
        }
    }
}

/// One notice per kind per app run: a machine without a camera should not toast on every
/// unmute.
#[derive(Default)]
pub struct Fallbacks {
    microphone: AtomicBool,
    camera: AtomicBool,
}

fn notice(app: &AppHandle, shown: &AtomicBool, why: &DeviceError, instead: &str) {
    let message = match why {
        DeviceError::NotFound(m) | DeviceError::Unavailable(m) => format!("{m} — {instead}"),
    };
    tracing::warn!("{message}");
    if !shown.swap(true, Ordering::Relaxed) {
        RoomEvent::error(message).emit(app);
    }
}

/// The device ids a call has open (None: a test source, or no speaker), to notice when the
/// settings or the plugged devices mean another one.
#[derive(Debug, Default, Clone)]
pub struct InUse {
    pub microphone: Option<String>,
    pub camera: Option<String>,
    pub speaker: Option<String>,
}

/// A 48 kHz WAV file played in a loop instead of any microphone (demos, tests on machines
/// without one), like Chromium's fake audio capture.
pub const FAKE_MIC: &str = "ROOMCAST_FAKE_MIC";

/// The microphone a setting means now (see [`resolve`]), or the test tone when there is
/// none; with the id of the device opened. `ROOMCAST_FAKE_MIC` replaces it with a file.
pub fn microphone(
    app: &AppHandle,
    fallbacks: &Fallbacks,
    choice: Option<&str>,
    tone_channels: u16,
) -> (Box<dyn AudioSource>, Option<String>) {
    if let Some(path) = std::env::var_os(FAKE_MIC) {
        match LoopingWavSource::open(path.as_ref()) {
            Ok(source) => return (Box::new(source), None),
            Err(e) => tracing::warn!("{FAKE_MIC}: {e}; using the real microphone"),
        }
    }
    let id = resolve(choice, &roomcast_devices::list_microphones());
    match roomcast_devices::open_microphone(id.as_deref().or(choice)) {
        Ok(source) => (source, id),
        Err(e) => {
            notice(app, &fallbacks.microphone, &e, "sending a test tone");
            (Box::new(ToneSource::new(tone_channels)), None)
        }
    }
}

/// A 4:2:0 Y4M clip played in a loop instead of any camera (demos, tests on machines without
/// one), like Chromium's fake video capture.
pub const FAKE_CAMERA: &str = "ROOMCAST_FAKE_CAMERA";

/// The camera a setting means now, or the test pattern when there is none; with the id of
/// the device opened. `ROOMCAST_FAKE_CAMERA` replaces it with a file.
pub fn camera(
    app: &AppHandle,
    fallbacks: &Fallbacks,
    choice: Option<&str>,
    (w, h, fps): (u32, u32, u32),
) -> (Box<dyn VideoSource>, Option<String>) {
    if let Some(path) = std::env::var_os(FAKE_CAMERA) {
        match LoopingY4mSource::open(path.as_ref()) {
            Ok(source) => return (Box::new(source), None),
            Err(e) => tracing::warn!("{FAKE_CAMERA}: {e}; using the real camera"),
        }
    }
    let id = resolve(choice, &roomcast_devices::list_cameras());
    match roomcast_devices::open_camera(id.as_deref().or(choice), w, h, fps) {
        Ok(source) => (source, id),
        Err(e) => {
            notice(app, &fallbacks.camera, &e, "sending a test pattern");
            (Box::new(PatternSource::new(w, h, fps)), None)
        }
    }
}

/// The speaker a setting means now, opened for a call's audio (None: nothing is played).
pub fn playout(choice: Option<&str>) -> (Option<Playout>, Option<String>) {
    let id = resolve(choice, &roomcast_devices::list_speakers());
    match Playout::open(id.as_deref().or(choice)) {
        Ok(p) => {
            tracing::info!("playing remote audio on '{}'", p.name());
            (Some(p), id)
        }
        Err(e) => {
            tracing::warn!("remote audio will not be played: {e}");
            (None, None)
        }
    }
}

/// Moves a running call to the devices its settings mean now: after the settings change, or
/// when a device is plugged in, unplugged or becomes the default. Only what is open moves
/// (a muted microphone stays muted), and the user is told which device took over.
pub async fn follow(app: &AppHandle, lists: DeviceLists) {
    let state = app.state::<crate::AppState>();
    let settings = state.store.settings().await.unwrap_or_default();
    let mut guard = state.call.lock().await;
    let Some(call) = guard.as_mut() else {
        return;
    };
    let name = |list: &[DeviceInfo], id: &Option<String>| {
        list.iter()
            .find(|d| Some(&d.id) == id.as_ref())
            .map_or_else(|| "the test source".to_string(), |d| d.name.clone())
    };
    let tell = |what: &str, name: String| {
        let message = format!("{what}: now using {name}");
        tracing::info!("{message}");
        RoomEvent::Notice { message }.emit(app);
    };
    let mic = resolve(settings.microphone.as_deref(), &lists.microphones);
    if call.mic_on && mic != call.in_use.microphone {
        match crate::call::start_microphone(app, &state, call, &settings).await {
            Ok(()) => tell(
                "Microphone",
                name(&lists.microphones, &call.in_use.microphone),
            ),
            Err(e) => tracing::warn!("cannot switch the microphone: {e}"),
        }
    }
    let cam = resolve(settings.camera.as_deref(), &lists.cameras);
    if call.camera_on && cam != call.in_use.camera {
        match crate::call::start_camera(app, &state, call, &settings).await {
            Ok(()) => tell("Camera", name(&lists.cameras, &call.in_use.camera)),
            Err(e) => tracing::warn!("cannot switch the camera: {e}"),
        }
    }
    let speaker = resolve(settings.speaker.as_deref(), &lists.speakers);
    if speaker.is_some()
        && speaker != call.in_use.speaker
        && let Some(p) = call.playout.as_mut()
    {
        // Opening a speaker takes milliseconds; the others' audio keeps queueing meanwhile.
        match p.switch_to(speaker.as_deref()) {
            Ok(()) => {
                call.in_use.speaker = speaker;
                tell("Speaker", p.name().to_string());
            }
            Err(e) => tracing::warn!("cannot switch the speaker: {e}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    id: String,
    name: String,
    is_default: bool,
}

/// `DeviceList` in ui/src/lib/backend.ts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Devices {
    cameras: Vec<Device>,
    microphones: Vec<Device>,
    speakers: Vec<Device>,
}

impl From<&DeviceLists> for Devices {
    fn from(l: &DeviceLists) -> Self {
        let map = |v: &[DeviceInfo]| {
            v.iter()
                .map(|d| Device {
                    id: d.id.clone(),
                    name: d.name.clone(),
                    is_default: d.is_default,
                })
                .collect()
        };
        Self {
            cameras: map(&l.cameras),
            microphones: map(&l.microphones),
            speakers: map(&l.speakers),
        }
    }
}

/// Emits `devices_changed` whenever a device comes, goes or becomes the default, and moves
/// a running call to the devices its settings now mean.
pub fn watch(app: AppHandle) -> Option<DeviceWatcher> {
    DeviceWatcher::start(move |lists, _| {
        RoomEvent::DevicesChanged {
            devices: Devices::from(lists),
        }
        .emit(&app);
        let (app, lists) = (app.clone(), lists.clone());
        tauri::async_runtime::spawn(async move { follow(&app, lists).await });
    })
    .map_err(|e| tracing::warn!("cannot watch devices: {e}"))
    .ok()
}

/// `ScreenSource` in ui/src/lib/backend.ts.
#[derive(Serialize)]
pub struct ScreenSource {
    id: String,
    kind: &'static str,
    title: String,
    /// `data:image/png;base64,…`, or "" without a picture.
    thumbnail: String,
}

impl From<roomcast_devices::ScreenSource> for ScreenSource {
    fn from(s: roomcast_devices::ScreenSource) -> Self {
        let thumbnail = if s.thumbnail_png.is_empty() {
            String::new()
        } else {
            format!(
                "data:image/png;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(&s.thumbnail_png)
            )
        };
        Self {
            id: s.id,
            kind: match s.kind {
                ScreenKind::Screen => "screen",
                ScreenKind::Window => "window",
            },
            title: s.title,
            thumbnail,
        }
    }
}

/// Runs blocking device work (enumerating, opening) off the async runtime's threads.
pub async fn unblock<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal {
            message: format!("device task failed: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_shapes_match_backend_ts() {
        let lists = DeviceLists {
            microphones: vec![DeviceInfo {
                id: "alsa:null".into(),
                name: "Null".into(),
                is_default: true,
            }],
            ..Default::default()
        };
        let v = serde_json::to_value(Devices::from(&lists)).expect("serialises");
        assert_eq!(
            v,
            serde_json::json!({"cameras": [], "microphones": [{"id": "alsa:null", "name": "Null", "isDefault": true}], "speakers": []})
        );
        let source = ScreenSource::from(roomcast_devices::ScreenSource {
            id: "window:7".into(),
            kind: ScreenKind::Window,
            title: "Slides".into(),
            thumbnail_png: b"\x89PNG\r\n\x1a\n".to_vec(),
        });
        let v = serde_json::to_value(source).expect("serialises");
        assert_eq!(v["kind"], "window");
        assert_eq!(v["thumbnail"], "data:image/png;base64,iVBORw0KGgo=");
    }
}
