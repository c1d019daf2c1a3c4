//! Screen and window capture: the platform module lists sources and grabs pictures; this
//! module paces the grabs, scales them to fit, and pushes them into the engine's push source
//! (the same pipeline a camera or a headless source feeds).

#[cfg(target_os = "linux")]
pub(crate) mod portal;
#[cfg(target_os = "linux")]
pub(crate) mod x11;
#[cfg(any(windows, target_os = "macos"))]
mod xcap_capture;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use roomcast_engine::media::{VideoFrame, VideoSource, push_video_source};

use crate::DeviceError;
use crate::convert::{ChannelOrder, Rgb4, fit, rgb4_to_i420_fit, scale_to_rgb};

/// Thumbnails fit in this box.
const THUMB_W: u32 = 320;
const THUMB_H: u32 = 240;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenKind {
    Screen,
    Window,
}

/// Something that can be shared: a whole screen or one window.
#[derive(Debug, Clone)]
pub struct ScreenSource {
    /// Pass to [`open_screen`].
    pub id: String,
    pub kind: ScreenKind,
    pub title: String,
    /// A PNG about 320 px wide; empty when the picture could not be taken.
    pub thumbnail_png: Vec<u8>,
}

/// One grabbed picture, 4 bytes per pixel.
#[derive(Clone)]
pub(crate) struct Picture {
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub order: ChannelOrder,
}

impl Picture {
    fn view(&self) -> Rgb4<'_> {
        Rgb4 {
            data: &self.data,
            width: self.width,
            height: self.height,
            stride: self.stride,
            order: self.order,
        }
    }

    fn to_i420(&self, max_w: u32, max_h: u32) -> VideoFrame {
        rgb4_to_i420_fit(&self.view(), max_w, max_h)
    }

    /// A small PNG of the picture; empty if encoding fails.
    pub fn thumbnail_png(&self) -> Vec<u8> {
        let (w, h) = fit(self.width, self.height, THUMB_W, THUMB_H);
        let rgb = scale_to_rgb(&self.view(), w, h);
        crate::thumbnail::png_rgb(&rgb, w, h).unwrap_or_else(|e| {
            tracing::warn!("cannot encode a thumbnail: {e}");
            Vec::new()
        })
    }
}

/// Takes pictures of one screen or window; lives on the capture thread only.
pub(crate) trait Grabber {
    /// Err = the source is gone (window closed, display lost); the message says so.
    fn grab(&mut self) -> Result<Picture, String>;
}

/// Whole screens and top-level windows that can be shared. In a Wayland session these are
/// the desktop portal's entries (the system asks which screen or window); X11 capture is the
/// fallback there, which sees only XWayland windows.
pub fn list_screen_sources() -> Result<Vec<ScreenSource>, DeviceError> {
    #[cfg(target_os = "linux")]
    if portal::wayland_session() {
        match portal::list_sources(None) {
            Ok(sources) => return Ok(sources),
            Err(e) => tracing::warn!("{e}; trying X11 capture (XWayland) instead"),
        }
    }
    #[cfg(target_os = "linux")]
    return x11::list_sources(None);
    #[cfg(any(windows, target_os = "macos"))]
    return xcap_capture::list_sources();
    #[allow(unreachable_code)]
    Err(DeviceError::Unavailable(
        "Screen sharing is not supported on this platform".into(),
    ))
}

/// Shares the source `id` (from [`list_screen_sources`]) at `fps`, scaled down to fit
/// `max_width`x`max_height`.
pub fn open_screen(
    id: &str,
    fps: u32,
    max_width: u32,
    max_height: u32,
) -> Result<Box<dyn VideoSource>, DeviceError> {
    #[cfg(target_os = "linux")]
    if portal::is_portal_id(id) {
        return portal::open(None, id, fps, max_width, max_height);
    }
    #[cfg(target_os = "linux")]
    return x11::open(None, id, fps, max_width, max_height);
    #[cfg(any(windows, target_os = "macos"))]
    return start(
        {
            let id = id.to_string();
            move || xcap_capture::grabber(&id)
        },
        fps,
        max_width,
        max_height,
    );
    #[allow(unreachable_code)]
    {
        let _ = (id, fps, max_width, max_height);
        Err(DeviceError::Unavailable(
            "Screen sharing is not supported on this platform".into(),
        ))
    }
}

/// Opens the grabber on a new thread, grabs the first picture (so a bad id fails here, not
/// later) and keeps grabbing at `fps` into a push source until the source is dropped or the
/// grabber fails.
pub(crate) fn start<G: Grabber + 'static>(
    open: impl FnOnce() -> Result<G, DeviceError> + Send + 'static,
    fps: u32,
    max_w: u32,
    max_h: u32,
) -> Result<Box<dyn VideoSource>, DeviceError> {
    let fps = fps.clamp(1, 60);
    let period = Duration::from_secs(1) / fps;
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("roomcast-screen".into())
        .spawn(move || {
            let first = open().and_then(|mut g| {
                let p = g.grab().map_err(DeviceError::Unavailable)?;
                Ok((g, p.to_i420(max_w, max_h)))
            });
            let (mut grabber, first) = match first {
                Ok(v) => v,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let (source, pusher) = push_video_source(first.width, first.height, fps);
            if ready_tx.send(Ok(source)).is_err() || pusher.push(first).is_err() {
                return;
            }
            let mut next = Instant::now() + period;
            loop {
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
                next = (next + period).max(Instant::now());
                let frame = match grabber.grab() {
                    Ok(p) => p.to_i420(max_w, max_h),
                    Err(e) => {
                        tracing::warn!("{e}; screen sharing ended");
                        break;
                    }
                };
                // Err only once the engine dropped the source: stop grabbing.
                if pusher.push(frame).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| DeviceError::Unavailable(format!("cannot start the screen thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(source)) => Ok(Box::new(source)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(DeviceError::Unavailable(
            "the screen capture thread ended while opening".into(),
        )),
    }
}
