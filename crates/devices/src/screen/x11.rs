//! X11 screen and window capture with core `GetImage` (no compositor, no MIT-SHM needed):
//! whole screens are RandR monitors (or the root window), windows come from the window
//! manager's `_NET_CLIENT_LIST`, or the root's mapped children when there is no window
//! manager.

use roomcast_engine::media::VideoSource;
use x11rb::connection::Connection;
use x11rb::protocol::randr::ConnectionExt as _;
use x11rb::protocol::xproto::{
    AtomEnum, ConnectionExt as _, ImageFormat, ImageOrder, MapState, Window,
};
use x11rb::rust_connection::RustConnection;

use super::{Grabber, Picture, ScreenKind, ScreenSource, start};
use crate::DeviceError;
use crate::convert::ChannelOrder;

/// Windows smaller than this (in either direction) are tool tips, docks and the like.
const MIN_WINDOW: u16 = 50;

/// What a source id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A rectangle of the root window (a monitor, or the whole screen).
    Area {
        x: i16,
        y: i16,
        w: u16,
        h: u16,
    },
    Window(Window),
}

impl Target {
    fn id(self) -> String {
        match self {
            Self::Area { x, y, w, h } => format!("screen:{x},{y},{w},{h}"),
            Self::Window(w) => format!("window:{w}"),
        }
    }

    fn parse(id: &str) -> Option<Self> {
        if let Some(rest) = id.strip_prefix("screen:") {
            let n: Vec<&str> = rest.split(',').collect();
            let [x, y, w, h] = n.as_slice() else {
                return None;
            };
            return Some(Self::Area {
                x: x.parse().ok()?,
                y: y.parse().ok()?,
                w: w.parse().ok().filter(|&v| v > 0)?,
                h: h.parse().ok().filter(|&v| v > 0)?,
            });
        }
        id.strip_prefix("window:")?.parse().ok().map(Self::Window)
    }
}

fn connect(display: Option<&str>) -> Result<(RustConnection, Window), DeviceError> {
    let (conn, screen) = x11rb::connect(display).map_err(|e| {
        DeviceError::Unavailable(format!(
            "Cannot reach the X display {}: {e}; screen sharing needs an X11 session",
            display.unwrap_or("$DISPLAY")
        ))
    })?;
    let root = conn.setup().roots[screen].root;
    Ok((conn, root))
}

fn x_err(e: impl std::fmt::Display) -> DeviceError {
    DeviceError::Unavailable(format!("the X server refused a request: {e}"))
}

fn atom(conn: &RustConnection, name: &str) -> Option<u32> {
    Some(
        conn.intern_atom(false, name.as_bytes())
            .ok()?
            .reply()
            .ok()?
            .atom,
    )
}

fn property(conn: &RustConnection, window: Window, prop: u32) -> Option<Vec<u8>> {
    let reply = conn
        .get_property(false, window, prop, AtomEnum::ANY, 0, u32::MAX / 4)
        .ok()?
        .reply()
        .ok()?;
    (reply.format != 0).then_some(reply.value)
}

fn title(conn: &RustConnection, window: Window) -> String {
    let utf8 = atom(conn, "_NET_WM_NAME").and_then(|a| property(conn, window, a));
    let bytes = utf8.or_else(|| property(conn, window, AtomEnum::WM_NAME.into()));
    String::from_utf8_lossy(&bytes.unwrap_or_default())
        .trim()
        .to_string()
}

/// Top-level windows: the window manager's list, or the root's children without one.
fn windows(conn: &RustConnection, root: Window) -> Vec<Window> {
    let managed = atom(conn, "_NET_CLIENT_LIST")
        .and_then(|a| {
            conn.get_property(false, root, a, AtomEnum::WINDOW, 0, u32::MAX / 4)
                .ok()?
                .reply()
                .ok()
        })
        .and_then(|r| r.value32().map(|v| v.collect::<Vec<_>>()))
        .filter(|v| !v.is_empty());
    managed.unwrap_or_else(|| {
        conn.query_tree(root)
            .ok()
            .and_then(|c| c.reply().ok())
            .map(|r| r.children)
            .unwrap_or_default()
    })
}

fn viewable(conn: &RustConnection, window: Window) -> bool {
    conn.get_window_attributes(window)
        .ok()
        .and_then(|c| c.reply().ok())
        .is_some_and(|a| a.map_state == MapState::VIEWABLE)
}

fn screens(conn: &RustConnection, root: Window) -> Result<Vec<(Target, String)>, DeviceError> {
    let monitors = conn
        .randr_get_monitors(root, true)
        .ok()
        .and_then(|c| c.reply().ok())
        .map(|r| r.monitors)
        .unwrap_or_default();
    if monitors.is_empty() {
        let g = conn
            .get_geometry(root)
            .map_err(x_err)?
            .reply()
            .map_err(x_err)?;
        let area = Target::Area {
            x: 0,
            y: 0,
            w: g.width,
            h: g.height,
        };
        return Ok(vec![(area, "Entire screen".into())]);
    }
    let many = monitors.len() > 1;
    Ok(monitors
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let area = Target::Area {
                x: m.x,
                y: m.y,
                w: m.width,
                h: m.height,
            };
            let name = conn
                .get_atom_name(m.name)
                .ok()
                .and_then(|c| c.reply().ok())
                .map(|r| String::from_utf8_lossy(&r.name).into_owned());
            let title = match (many, name) {
                (true, Some(n)) => format!("Screen {} ({n})", i + 1),
                (true, None) => format!("Screen {}", i + 1),
                (false, _) => "Entire screen".into(),
            };
            (area, title)
        })
        .collect())
}

/// Screens and windows on `display` (None = `$DISPLAY`), with thumbnails.
pub fn list_sources(display: Option<&str>) -> Result<Vec<ScreenSource>, DeviceError> {
    let (conn, root) = connect(display)?;
    let mut grabber = X11Grabber::new(
        conn,
        root,
        Target::Area {
            x: 0,
            y: 0,
            w: 1,
            h: 1,
        },
    )?;
    let mut out = Vec::new();
    for (target, title) in screens(&grabber.conn, root)? {
        grabber.target = target;
        out.push(ScreenSource {
            id: target.id(),
            kind: ScreenKind::Screen,
            title,
            thumbnail_png: grabber.thumbnail(),
        });
    }
    for window in windows(&grabber.conn, root) {
        let Some(g) = grabber
            .conn
            .get_geometry(window)
            .ok()
            .and_then(|c| c.reply().ok())
        else {
            continue;
        };
        if g.width < MIN_WINDOW || g.height < MIN_WINDOW || !viewable(&grabber.conn, window) {
            continue;
        }
        let title = title(&grabber.conn, window);
        if title.is_empty() {
            continue;
        }
        grabber.target = Target::Window(window);
        out.push(ScreenSource {
            id: Target::Window(window).id(),
            kind: ScreenKind::Window,
            title,
            thumbnail_png: grabber.thumbnail(),
        });
    }
    Ok(out)
}

/// Shares `id` from `display` (None = `$DISPLAY`); see [`super::open_screen`].
pub fn open(
    display: Option<&str>,
    id: &str,
    fps: u32,
    max_w: u32,
    max_h: u32,
) -> Result<Box<dyn VideoSource>, DeviceError> {
    let target = Target::parse(id).ok_or_else(|| {
        DeviceError::NotFound(format!(
            "'{id}' is not a screen or window to share; pick one from the list"
        ))
    })?;
    let display = display.map(str::to_string);
    start(
        move || {
            let (conn, root) = connect(display.as_deref())?;
            X11Grabber::new(conn, root, target)
        },
        fps,
        max_w,
        max_h,
    )
}

struct X11Grabber {
    conn: RustConnection,
    root: Window,
    target: Target,
    /// Shown while a shared window is minimised, so viewers keep the last picture.
    last: Option<Picture>,
}

impl X11Grabber {
    fn new(conn: RustConnection, root: Window, target: Target) -> Result<Self, DeviceError> {
        let setup = conn.setup();
        if setup.image_byte_order != ImageOrder::LSB_FIRST
            || !setup
                .pixmap_formats
                .iter()
                .any(|f| f.depth == 24 && f.bits_per_pixel == 32)
        {
            return Err(DeviceError::Unavailable(
                "this X display's pixel format is not supported (Roomcast shares 24-bit, 32 bits per pixel displays)".into(),
            ));
        }
        Ok(Self {
            conn,
            root,
            target,
            last: None,
        })
    }

    fn thumbnail(&mut self) -> Vec<u8> {
        match self.grab() {
            Ok(p) => p.thumbnail_png(),
            Err(e) => {
                tracing::debug!("no thumbnail for {}: {e}", self.target.id());
                Vec::new()
            }
        }
    }

    /// The visible part of `window` in its own coordinates: GetImage fails on parts outside
    /// the screen.
    fn visible_rect(&self, window: Window) -> Result<(i16, i16, u16, u16), String> {
        let gone = |e: &dyn std::fmt::Display| format!("the shared window closed ({e})");
        let g = self
            .conn
            .get_geometry(window)
            .map_err(|e| gone(&e))?
            .reply()
            .map_err(|e| gone(&e))?;
        let root = self
            .conn
            .get_geometry(self.root)
            .map_err(|e| gone(&e))?
            .reply()
            .map_err(|e| gone(&e))?;
        let at = self
            .conn
            .translate_coordinates(window, self.root, 0, 0)
            .map_err(|e| gone(&e))?
            .reply()
            .map_err(|e| gone(&e))?;
        let (x0, y0) = (i32::from(at.dst_x).max(0), i32::from(at.dst_y).max(0));
        let x1 = (i32::from(at.dst_x) + i32::from(g.width)).min(i32::from(root.width));
        let y1 = (i32::from(at.dst_y) + i32::from(g.height)).min(i32::from(root.height));
        if x1 - x0 < 2 || y1 - y0 < 2 {
            return Err("the shared window is off screen".into());
        }
        let (dx, dy) = (x0 - i32::from(at.dst_x), y0 - i32::from(at.dst_y));
        Ok((dx as i16, dy as i16, (x1 - x0) as u16, (y1 - y0) as u16))
    }

    fn image(&self, drawable: Window, x: i16, y: i16, w: u16, h: u16) -> Result<Picture, String> {
        let reply = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, drawable, x, y, w, h, !0)
            .map_err(|e| e.to_string())?
            .reply()
            .map_err(|e| e.to_string())?;
        let stride = usize::from(w) * 4;
        if reply.data.len() < stride * usize::from(h) {
            return Err(format!(
                "the X server sent {} bytes for a {w}x{h} picture",
                reply.data.len()
            ));
        }
        Ok(Picture {
            data: reply.data,
            width: u32::from(w),
            height: u32::from(h),
            stride,
            order: self.order(reply.visual),
        })
    }

    /// Where red sits in a pixel of this visual (BGRA unless the visual says otherwise).
    fn order(&self, visual: u32) -> ChannelOrder {
        let red_low = self
            .conn
            .setup()
            .roots
            .iter()
            .flat_map(|s| &s.allowed_depths)
            .flat_map(|d| &d.visuals)
            .find(|v| v.visual_id == visual)
            .is_some_and(|v| v.red_mask == 0xff);
        if red_low {
            ChannelOrder::Rgba
        } else {
            ChannelOrder::Bgra
        }
    }
}

impl Grabber for X11Grabber {
    fn grab(&mut self) -> Result<Picture, String> {
        match self.target {
            Target::Area { x, y, w, h } => self
                .image(self.root, x, y, w, h)
                .map_err(|e| format!("cannot capture the screen: {e}")),
            Target::Window(window) => {
                let (x, y, w, h) = self.visible_rect(window)?;
                if !viewable(&self.conn, window)
                    && let Some(last) = &self.last
                {
                    return Ok(last.clone());
                }
                let picture = self
                    .image(window, x, y, w, h)
                    .map_err(|e| format!("cannot capture the shared window: {e}"))?;
                self.last = Some(picture.clone());
                Ok(picture)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        for t in [
            Target::Area {
                x: -1920,
                y: 0,
                w: 1920,
                h: 1080,
            },
            Target::Window(0x40_0007),
        ] {
            assert_eq!(Target::parse(&t.id()), Some(t));
        }
        for bad in [
            "",
            "screen:1,2,3",
            "screen:0,0,0,10",
            "window:x",
            "camera:0",
        ] {
            assert_eq!(Target::parse(bad), None, "{bad}");
        }
    }
}
