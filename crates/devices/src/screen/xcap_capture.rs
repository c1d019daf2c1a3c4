//! Windows and macOS screen capture through xcap (not built on Linux, where x11rb is used:
//! xcap pulls PipeWire/Wayland bindings there). Ids: `monitor:<id>` and `window:<id>`.

use xcap::{Monitor, Window};

use super::{Grabber, Picture, ScreenKind, ScreenSource};
use crate::DeviceError;
use crate::convert::ChannelOrder;

fn failed(e: impl std::fmt::Display) -> DeviceError {
    DeviceError::Unavailable(format!("Screen capture failed: {e}"))
}

fn picture(image: xcap::image::RgbaImage) -> Picture {
    let (width, height) = (image.width(), image.height());
    Picture {
        data: image.into_raw(),
        width,
        height,
        stride: width as usize * 4,
        order: ChannelOrder::Rgba,
    }
}

fn thumbnail(image: xcap::XCapResult<xcap::image::RgbaImage>) -> Vec<u8> {
    image
        .map(|i| picture(i).thumbnail_png())
        .unwrap_or_default()
}

pub(crate) fn list_sources() -> Result<Vec<ScreenSource>, DeviceError> {
    let mut out = Vec::new();
    let monitors = Monitor::all().map_err(failed)?;
    let many = monitors.len() > 1;
    for (i, m) in monitors.iter().enumerate() {
        let Ok(id) = m.id() else { continue };
        out.push(ScreenSource {
            id: format!("monitor:{id}"),
            kind: ScreenKind::Screen,
            title: if many {
                format!("Screen {}", i + 1)
            } else {
                "Entire screen".into()
            },
            thumbnail_png: thumbnail(m.capture_image()),
        });
    }
    for w in Window::all().unwrap_or_default() {
        let (Ok(id), Ok(title)) = (w.id(), w.title()) else {
            continue;
        };
        let small = w.width().unwrap_or(0) < 50 || w.height().unwrap_or(0) < 50;
        if title.trim().is_empty() || small || w.is_minimized().unwrap_or(true) {
            continue;
        }
        out.push(ScreenSource {
            id: format!("window:{id}"),
            kind: ScreenKind::Window,
            title,
            thumbnail_png: thumbnail(w.capture_image()),
        });
    }
    Ok(out)
}

pub(crate) enum XcapGrabber {
    Monitor(Monitor),
    Window(Window),
}

/// Finds the monitor or window named by `id`; runs on the capture thread.
pub(crate) fn grabber(id: &str) -> Result<XcapGrabber, DeviceError> {
    let not_found = || {
        DeviceError::NotFound(format!(
            "The screen or window '{id}' is no longer there; pick another"
        ))
    };
    if let Some(n) = id
        .strip_prefix("monitor:")
        .and_then(|n| n.parse::<u32>().ok())
    {
        let m = Monitor::all()
            .map_err(failed)?
            .into_iter()
            .find(|m| m.id().ok() == Some(n));
        return m.map(XcapGrabber::Monitor).ok_or_else(not_found);
    }
    if let Some(n) = id
        .strip_prefix("window:")
        .and_then(|n| n.parse::<u32>().ok())
    {
        let w = Window::all()
            .map_err(failed)?
            .into_iter()
            .find(|w| w.id().ok() == Some(n));
        return w.map(XcapGrabber::Window).ok_or_else(not_found);
    }
    Err(not_found())
}

impl Grabber for XcapGrabber {
    fn grab(&mut self) -> Result<Picture, String> {
        match self {
            Self::Monitor(m) => m
                .capture_image()
                .map(picture)
                .map_err(|e| format!("cannot capture the screen: {e}")),
            Self::Window(w) => w
                .capture_image()
                .map(picture)
                .map_err(|e| format!("the shared window closed ({e})")),
        }
    }
}
