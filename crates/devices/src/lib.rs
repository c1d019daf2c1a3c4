//! Real capture and playout devices behind the engine's source and sink traits: microphones
//! and speakers (cpal), cameras (nokhwa), screens and windows (the desktop portal and
//! PipeWire on Wayland, x11rb on X11, xcap on Windows and macOS), and a watcher for plugged
//! and unplugged devices.
//!
//! Devices feed the engine's push sources, so a camera goes through exactly the capture
//! pipeline a headless test source does, and a speaker pulls the engine's playout. What is
//! logic — resampling, pixel conversion, scaling, list diffs — lives in sans-IO modules
//! with unit tests; the device
//! modules are thin threads around them. Not for: encoding, networking, UI.

mod audio;
mod camera;
mod convert;
mod render;
mod resample;
mod screen;
pub mod thumbnail;
mod watch;

pub use audio::{Playout, open_microphone};
pub use camera::open_camera;
pub use convert::{box_scale, nv12_to_i420, rgb_to_i420, yuyv_to_i420};
pub use render::{Renderer, TestTone};
pub use resample::{MicFramer, Resampler};
#[cfg(target_os = "linux")]
pub use screen::portal::{list_sources as list_portal_sources_on, open as open_portal_screen_on};
#[cfg(target_os = "linux")]
pub use screen::x11::{list_sources as list_screen_sources_on, open as open_screen_on};
pub use screen::{ScreenKind, ScreenSource, list_screen_sources, open_screen};
pub use watch::{DeviceChange, DeviceWatcher, diff, resolve};

/// A camera, microphone or speaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Stable id to store in settings and pass to the `open_*` functions.
    pub id: String,
    /// What the user sees.
    pub name: String,
    /// The system's default device of its kind.
    pub is_default: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceLists {
    pub cameras: Vec<DeviceInfo>,
    pub microphones: Vec<DeviceInfo>,
    pub speakers: Vec<DeviceInfo>,
}

/// Every device on this machine; a backend that fails gives an empty list (and a log line).
pub fn list_devices() -> DeviceLists {
    DeviceLists {
        cameras: list_cameras(),
        microphones: list_microphones(),
        speakers: list_speakers(),
    }
}

/// One kind of device, for when only that kind is about to be opened.
pub fn list_cameras() -> Vec<DeviceInfo> {
    camera::list()
}

pub fn list_microphones() -> Vec<DeviceInfo> {
    audio::list(true)
}

pub fn list_speakers() -> Vec<DeviceInfo> {
    audio::list(false)
}

/// Why a device cannot be used; the message is meant for the user.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// No such device (or none at all).
    #[error("{0}")]
    NotFound(String),
    /// The device exists but cannot be used now: busy, unplugged, refused, unsupported.
    #[error("{0}")]
    Unavailable(String),
}
