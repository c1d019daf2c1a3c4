//! Glue between the app and `roomcast-devices`: the settings' device choices with a test
//! tone / test pattern fallback (announced once to the UI), the device lists and screen
//! sources in the UI's contract, and the device watcher's events.

use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;
use roomcast_devices::{DeviceError, DeviceInfo, DeviceLists, DeviceWatcher, ScreenKind};
use roomcast_engine::media::{AudioSource, PatternSource, ToneSource, VideoSource};
use serde::Serialize;
use serde_json::json;
use tauri::{AppHandle, Emitter};

use crate::AppError;

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
        let _ = app.emit(
            "room-event",
            json!({"type": "error", "code": null, "message": message}),
        );
    }
}

/// The chosen microphone (None = default), or the test tone when there is none.
pub fn microphone(
    app: &AppHandle,
    fallbacks: &Fallbacks,
    id: Option<&str>,
    tone_channels: u16,
) -> Box<dyn AudioSource> {
    roomcast_devices::open_microphone(id).unwrap_or_else(|e| {
        notice(app, &fallbacks.microphone, &e, "sending a test tone");
        Box::new(ToneSource::new(tone_channels))
    })
}

/// The chosen camera (None = default), or the test pattern when there is none.
pub fn camera(
    app: &AppHandle,
    fallbacks: &Fallbacks,
    id: Option<&str>,
    (w, h, fps): (u32, u32, u32),
) -> Box<dyn VideoSource> {
    roomcast_devices::open_camera(id, w, h, fps).unwrap_or_else(|e| {
        notice(app, &fallbacks.camera, &e, "sending a test pattern");
        Box::new(PatternSource::new(w, h, fps))
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    id: String,
    name: String,
    is_default: bool,
}

/// `DeviceList` in ui/src/lib/backend.ts.
#[derive(Serialize)]
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

/// Emits `devices_changed` whenever a device comes, goes or becomes the default.
pub fn watch(app: AppHandle) -> Option<DeviceWatcher> {
    DeviceWatcher::start(move |lists, _| {
        let _ = app.emit(
            "room-event",
            json!({"type": "devices_changed", "devices": Devices::from(lists)}),
        );
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
            json!({"cameras": [], "microphones": [{"id": "alsa:null", "name": "Null", "isDefault": true}], "speakers": []})
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
