//! Screen sharing on Wayland through the desktop portal (`org.freedesktop.portal.ScreenCast`).
//!
//! Under Wayland an application can neither list nor grab other windows; the compositor shows
//! its own picker and hands over a PipeWire stream of what the user chose. This is the same on
//! GNOME, KDE and wlroots desktops (each ships a portal backend). The D-Bus conversation is
//! CreateSession → SelectSources → Start (the picker) → OpenPipeWireRemote; each of the first
//! three answers through a `Request.Response` signal on a path we can predict from our token,
//! so we subscribe before calling. Frames arrive on the PipeWire thread; the grabber hands out
//! the newest one when the pacing loop asks.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dbus::arg::{AppendAll, PropMap, RefArg, Variant};
use dbus::blocking::Connection;
use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
use dbus::channel::Channel;
use dbus::message::MatchRule;
use pipewire as pw;
use pw::spa::param::format::{FormatProperties, MediaSubtype, MediaType};
use pw::spa::param::video::{VideoFormat, VideoInfoRaw};
use pw::spa::pod::{Pod, Value, serialize::PodSerializer};
use pw::stream::{Stream, StreamFlags, StreamState};
use roomcast_engine::media::VideoSource;

use super::{Grabber, Picture, ScreenKind, ScreenSource, start};
use crate::DeviceError;
use crate::convert::ChannelOrder;

const DEST: &str = "org.freedesktop.portal.Desktop";
const PATH: &str = "/org/freedesktop/portal/desktop";
const SCREENCAST: &str = "org.freedesktop.portal.ScreenCast";
/// Source type bits of `AvailableSourceTypes` / `SelectSources.types`.
const MONITOR: u32 = 1;
const WINDOW: u32 = 2;
/// Cursor mode bit: the pointer is drawn into the picture.
const CURSOR_EMBEDDED: u32 = 2;
/// Ids [`list_sources`] hands out.
const SCREEN_ID: &str = "portal:screen";
const WINDOW_ID: &str = "portal:window";
/// Plain calls answer at once; `Start` waits for the user in the system's picker.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const PICK_TIMEOUT: Duration = Duration::from_secs(300);
const FIRST_PICTURE_TIMEOUT: Duration = Duration::from_secs(10);
/// Numbers the portal sessions this process opens (their handles must differ).
static SESSIONS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// True in a Wayland session, where X11 capture sees at best the XWayland windows.
pub fn wayland_session() -> bool {
    std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty())
        || std::env::var("XDG_SESSION_TYPE").is_ok_and(|v| v == "wayland")
}

/// What the portal can share, as picker entries (the system asks which screen or window when
/// one is opened, so there are no thumbnails). `bus` is a D-Bus address; `None` = the session
/// bus of this login.
pub fn list_sources(bus: Option<&str>) -> Result<Vec<ScreenSource>, DeviceError> {
    let portal = Portal::connect(bus)?;
    let types = portal.available("AvailableSourceTypes")?;
    let mut out = Vec::new();
    if types & MONITOR != 0 {
        out.push(ScreenSource {
            id: SCREEN_ID.into(),
            kind: ScreenKind::Screen,
            title: "A whole screen (your system asks which)".into(),
            thumbnail_png: Vec::new(),
        });
    }
    if types & WINDOW != 0 {
        out.push(ScreenSource {
            id: WINDOW_ID.into(),
            kind: ScreenKind::Window,
            title: "One window (your system asks which)".into(),
            thumbnail_png: Vec::new(),
        });
    }
    if out.is_empty() {
        return Err(DeviceError::Unavailable(
            "The desktop portal offers nothing to share on this system".into(),
        ));
    }
    Ok(out)
}

/// True for the ids [`list_sources`] hands out.
pub fn is_portal_id(id: &str) -> bool {
    id == SCREEN_ID || id == WINDOW_ID
}

/// Asks the system for the screen (or window) and shares it at `fps`, scaled to fit.
pub fn open(
    bus: Option<&str>,
    id: &str,
    fps: u32,
    max_w: u32,
    max_h: u32,
) -> Result<Box<dyn VideoSource>, DeviceError> {
    let types = match id {
        SCREEN_ID => MONITOR,
        WINDOW_ID => WINDOW,
        _ => {
            return Err(DeviceError::NotFound(format!(
                "'{id}' is not a screen or window to share; pick one from the list"
            )));
        }
    };
    let bus = bus.map(str::to_string);
    start(
        move || PortalGrabber::open(bus.as_deref(), types, fps),
        fps,
        max_w,
        max_h,
    )
}

/// A D-Bus connection to the portal.
struct Portal {
    conn: Connection,
    next_token: u32,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> DeviceError {
    DeviceError::Unavailable(format!("{what}: {e}"))
}

impl Portal {
    fn connect(bus: Option<&str>) -> Result<Self, DeviceError> {
        let no_bus = |e: dbus::Error| {
            unavailable(
                "Screen sharing on Wayland needs the desktop portal, but the session bus cannot be reached",
                e.message().unwrap_or("unknown error"),
            )
        };
        let conn = match bus {
            None => Connection::new_session().map_err(no_bus)?,
            Some(address) => {
                let mut channel = Channel::open_private(address).map_err(no_bus)?;
                channel.register().map_err(no_bus)?;
                Connection::from(channel)
            }
        };
        Ok(Self {
            conn,
            next_token: 0,
        })
    }

    /// A `u` bit-set property of the ScreenCast interface, e.g. `AvailableSourceTypes`.
    fn available(&self, name: &str) -> Result<u32, DeviceError> {
        self.conn
            .with_proxy(DEST, PATH, CALL_TIMEOUT)
            .get::<u32>(SCREENCAST, name)
            .map_err(|e| {
                unavailable(
                    "Screen sharing on Wayland needs xdg-desktop-portal with a backend for your desktop \
                     (xdg-desktop-portal-gnome, -kde or -wlr); it did not answer",
                    e.message().unwrap_or("unknown error"),
                )
            })
    }

    /// Calls a portal method that answers through a `Request` object, and waits (up to
    /// `timeout`) for that answer's results. `args` receives the options dict, which already
    /// holds the `handle_token`.
    fn request<A: AppendAll>(
        &mut self,
        method: &str,
        mut options: PropMap,
        args: impl FnOnce(PropMap) -> A,
        timeout: Duration,
    ) -> Result<PropMap, DeviceError> {
        self.next_token += 1;
        let token = format!("roomcast{}_{}", std::process::id(), self.next_token);
        let sender = self
            .conn
            .unique_name()
            .trim_start_matches(':')
            .replace('.', "_");
        let path = dbus::Path::new(format!("{PATH}/request/{sender}/{token}"))
            .map_err(|e| unavailable("bad portal request path", e))?;
        options.insert("handle_token".into(), Variant(Box::new(token)));

        type Answer = Arc<Mutex<Option<(u32, PropMap)>>>;
        let answer: Answer = Arc::default();
        let slot = answer.clone();
        let rule =
            MatchRule::new_signal("org.freedesktop.portal.Request", "Response").with_path(path);
        let matched = self
            .conn
            .add_match(rule, move |(), _, msg| {
                if let Ok(reply) = msg.read2::<u32, PropMap>() {
                    *lock(&slot) = Some(reply);
                }
                false
            })
            .map_err(|e| unavailable("cannot listen to the desktop portal", e))?;

        let called: Result<(dbus::Path<'static>,), _> = self
            .conn
            .with_proxy(DEST, PATH, CALL_TIMEOUT)
            .method_call(SCREENCAST, method, args(options));
        if let Err(e) = called {
            let _ = self.conn.remove_match(matched);
            return Err(unavailable(
                &format!("The desktop portal refused {method}"),
                e.message().unwrap_or("unknown error"),
            ));
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((code, results)) = lock(&answer).take() {
                return match code {
                    0 => Ok(results),
                    1 => Err(DeviceError::Unavailable(
                        "Screen sharing was cancelled in the system's picker".into(),
                    )),
                    _ => Err(DeviceError::Unavailable(
                        "The system did not allow screen sharing".into(),
                    )),
                };
            }
            if Instant::now() >= deadline {
                let _ = self.conn.remove_match(matched);
                return Err(DeviceError::Unavailable(format!(
                    "The desktop portal did not answer {method} within {} s",
                    timeout.as_secs()
                )));
            }
            self.conn
                .process(Duration::from_millis(100))
                .map_err(|e| unavailable("lost the session bus", e))?;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn string(results: &PropMap, key: &str) -> Option<String> {
    results.get(key)?.0.as_str().map(str::to_string)
}

/// The PipeWire node of the first stream in `Start`'s results (`streams: a(ua{sv})`).
fn first_node(results: &PropMap) -> Option<u32> {
    let mut streams = results.get("streams")?.0.as_iter()?;
    let mut fields = streams.next()?.as_iter()?;
    u32::try_from(fields.next()?.as_u64()?).ok()
}

/// The newest picture and whether the stream ended, shared with the PipeWire thread.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    latest: Option<Picture>,
    ended: Option<String>,
    stop: bool,
}

impl Shared {
    fn publish(&self, picture: Picture) {
        lock(&self.state).latest = Some(picture);
        self.changed.notify_all();
    }

    fn end(&self, why: String) {
        lock(&self.state).ended.get_or_insert(why);
        self.changed.notify_all();
    }
}

struct PortalGrabber {
    portal: Portal,
    session: dbus::Path<'static>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl PortalGrabber {
    fn open(bus: Option<&str>, types: u32, fps: u32) -> Result<Self, DeviceError> {
        let mut portal = Portal::connect(bus)?;
        let available = portal.available("AvailableSourceTypes")?;
        if available & types == 0 {
            return Err(DeviceError::Unavailable(
                "The desktop portal cannot share that kind of source here".into(),
            ));
        }
        let mut options = PropMap::new();
        options.insert(
            "session_handle_token".into(),
            Variant(Box::new(format!(
                "roomcast{}_{}",
                std::process::id(),
                SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ))),
        );
        let created = portal.request("CreateSession", options, |o| (o,), CALL_TIMEOUT)?;
        let session = string(&created, "session_handle")
            .and_then(|s| dbus::Path::new(s).ok())
            .ok_or_else(|| {
                DeviceError::Unavailable("The desktop portal created no session".into())
            })?;
        // The desktop ends the share itself when the user presses its "Stop sharing".
        let shared: Arc<Shared> = Arc::default();
        let closed = MatchRule::new_signal("org.freedesktop.portal.Session", "Closed")
            .with_path(session.clone());
        portal
            .conn
            .add_match(closed, {
                let shared = shared.clone();
                move |(), _, _| {
                    shared.end("The screen share was stopped from the system".into());
                    false
                }
            })
            .map_err(|e| unavailable("cannot listen to the desktop portal", e))?;
        // From here on the session exists: dropping the grabber closes it.
        let mut grabber = Self {
            portal,
            session,
            shared,
            thread: None,
        };

        let mut options = PropMap::new();
        options.insert("types".into(), Variant(Box::new(types)));
        options.insert("multiple".into(), Variant(Box::new(false)));
        let cursors = grabber
            .portal
            .available("AvailableCursorModes")
            .unwrap_or(0);
        if cursors & CURSOR_EMBEDDED != 0 {
            options.insert("cursor_mode".into(), Variant(Box::new(CURSOR_EMBEDDED)));
        }
        let session = grabber.session.clone();
        grabber
            .portal
            .request("SelectSources", options, |o| (session, o), CALL_TIMEOUT)?;
        let session = grabber.session.clone();
        let started =
            grabber
                .portal
                .request("Start", PropMap::new(), |o| (session, "", o), PICK_TIMEOUT)?;
        let node = first_node(&started).ok_or_else(|| {
            DeviceError::Unavailable("The desktop portal started sharing nothing".into())
        })?;
        let (fd,): (OwnedFd,) = grabber
            .portal
            .conn
            .with_proxy(DEST, PATH, CALL_TIMEOUT)
            .method_call(
                SCREENCAST,
                "OpenPipeWireRemote",
                (grabber.session.clone(), PropMap::new()),
            )
            .map_err(|e| {
                unavailable(
                    "The desktop portal did not hand over the screen stream",
                    e.message().unwrap_or("unknown error"),
                )
            })?;

        let shared = grabber.shared.clone();
        let thread = std::thread::Builder::new()
            .name("roomcast-pipewire".into())
            .spawn(move || {
                if let Err(e) = stream_pictures(fd, node, fps, &shared) {
                    shared.end(format!("The screen stream cannot be received: {e}"));
                }
            })
            .map_err(|e| unavailable("cannot start the PipeWire thread", e))?;
        grabber.thread = Some(thread);
        Ok(grabber)
    }
}

impl Grabber for PortalGrabber {
    fn grab(&mut self) -> Result<Picture, String> {
        // Delivers the session's Closed signal, if the desktop sent it.
        if let Err(e) = self.portal.conn.process(Duration::ZERO) {
            self.shared.end(format!("Lost the session bus: {e}"));
        }
        let deadline = Instant::now() + FIRST_PICTURE_TIMEOUT;
        let mut state = lock(&self.shared.state);
        loop {
            if let Some(why) = &state.ended {
                return Err(why.clone());
            }
            if let Some(p) = &state.latest {
                return Ok(p.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "The screen stream sent no picture within {} s",
                    FIRST_PICTURE_TIMEOUT.as_secs()
                ));
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for PortalGrabber {
    fn drop(&mut self) {
        lock(&self.shared.state).stop = true;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Ends the share on the compositor side too (its "sharing" indicator goes away).
        let closed: Result<(), _> = self
            .portal
            .conn
            .with_proxy(DEST, &self.session, CALL_TIMEOUT)
            .method_call("org.freedesktop.portal.Session", "Close", ());
        if let Err(e) = closed {
            tracing::debug!("closing the portal session: {e}");
        }
    }
}

/// What the PipeWire callbacks see.
struct Listener {
    shared: Arc<Shared>,
    format: VideoInfoRaw,
}

/// Receives the portal's stream on this thread until the grabber stops or the stream ends.
fn stream_pictures(fd: OwnedFd, node: u32, fps: u32, shared: &Arc<Shared>) -> Result<(), String> {
    fn err(what: &'static str) -> impl Fn(pw::Error) -> String {
        move |e| format!("{what}: {e}")
    }
    pw::init();
    let main_loop = pw::main_loop::MainLoop::new(None).map_err(err("PipeWire loop"))?;
    let context = pw::context::Context::new(&main_loop).map_err(err("PipeWire context"))?;
    let core = context
        .connect_fd(fd, None)
        .map_err(err("connecting to PipeWire"))?;
    let stream = Stream::new(
        &core,
        "roomcast-screen",
        pw::properties::properties! {
            *pw::keys::MEDIA_TYPE => "Video",
            *pw::keys::MEDIA_CATEGORY => "Capture",
            *pw::keys::MEDIA_ROLE => "Screen",
        },
    )
    .map_err(err("PipeWire stream"))?;
    let listener = Listener {
        shared: shared.clone(),
        format: VideoInfoRaw::default(),
    };
    let _listener = stream
        .add_local_listener_with_user_data(listener)
        .state_changed(|_, l, _, new| match new {
            StreamState::Error(e) => l.shared.end(format!("The screen stream failed: {e}")),
            StreamState::Unconnected => l.shared.end("The system ended the screen share".into()),
            _ => {}
        })
        .param_changed(|_, l, id, param| {
            let Some(param) = param else { return };
            if id != pw::spa::param::ParamType::Format.as_raw() {
                return;
            }
            match pw::spa::param::format_utils::parse_format(param) {
                Ok((MediaType::Video, MediaSubtype::Raw)) => {
                    if let Err(e) = l.format.parse(param) {
                        l.shared
                            .end(format!("The screen stream has an unreadable format: {e}"));
                    }
                }
                _ => l
                    .shared
                    .end("The screen stream is not raw video".to_string()),
            }
        })
        .process(|stream, l| {
            if let Some(picture) = stream
                .dequeue_buffer()
                .and_then(|mut b| picture(&mut b, &l.format))
            {
                l.shared.publish(picture);
            }
        })
        .register()
        .map_err(err("PipeWire listener"))?;

    let format = format_pod(fps)?;
    let mut params = [Pod::from_bytes(&format).ok_or("bad format description")?];
    stream
        .connect(
            pw::spa::utils::Direction::Input,
            Some(node),
            StreamFlags::AUTOCONNECT | StreamFlags::MAP_BUFFERS | StreamFlags::DONT_RECONNECT,
            &mut params,
        )
        .map_err(err("connecting the screen stream"))?;
    loop {
        {
            let state = lock(&shared.state);
            if state.stop || state.ended.is_some() {
                return Ok(());
            }
        }
        main_loop.loop_().iterate(Duration::from_millis(50));
    }
}

/// The formats we take: 4-byte RGB in either order, any size, about `fps` frames a second.
/// No DMA-BUF modifiers are offered, so the compositor sends memory we can read.
fn format_pod(fps: u32) -> Result<Vec<u8>, String> {
    use pw::spa::utils::{Fraction, Rectangle, SpaTypes};
    let object = pw::spa::pod::object!(
        SpaTypes::ObjectParamFormat,
        pw::spa::param::ParamType::EnumFormat,
        pw::spa::pod::property!(FormatProperties::MediaType, Id, MediaType::Video),
        pw::spa::pod::property!(FormatProperties::MediaSubtype, Id, MediaSubtype::Raw),
        pw::spa::pod::property!(
            FormatProperties::VideoFormat,
            Choice,
            Enum,
            Id,
            VideoFormat::BGRx,
            VideoFormat::BGRx,
            VideoFormat::BGRA,
            VideoFormat::RGBx,
            VideoFormat::RGBA,
        ),
        pw::spa::pod::property!(
            FormatProperties::VideoSize,
            Choice,
            Range,
            Rectangle,
            Rectangle {
                width: 1920,
                height: 1080
            },
            Rectangle {
                width: 2,
                height: 2
            },
            Rectangle {
                width: 8192,
                height: 8192
            }
        ),
        pw::spa::pod::property!(
            FormatProperties::VideoFramerate,
            Choice,
            Range,
            Fraction,
            Fraction { num: fps, denom: 1 },
            Fraction { num: 0, denom: 1 },
            Fraction { num: 240, denom: 1 }
        ),
    );
    PodSerializer::serialize(std::io::Cursor::new(Vec::new()), &Value::Object(object))
        .map(|(bytes, _)| bytes.into_inner())
        .map_err(|e| format!("cannot describe the formats: {e:?}"))
}

/// Copies one PipeWire buffer into a picture; None when it holds no new picture (an empty
/// or cursor-only update) or a format we did not ask for.
fn picture(buffer: &mut pw::buffer::Buffer<'_>, format: &VideoInfoRaw) -> Option<Picture> {
    let order = match format.format() {
        VideoFormat::BGRx | VideoFormat::BGRA => ChannelOrder::Bgra,
        VideoFormat::RGBx | VideoFormat::RGBA => ChannelOrder::Rgba,
        _ => return None,
    };
    let (width, height) = (format.size().width, format.size().height);
    let data = buffer.datas_mut().first_mut()?;
    let chunk = data.chunk();
    let (offset, size) = (chunk.offset() as usize, chunk.size() as usize);
    let row = width as usize * 4;
    let stride = usize::try_from(chunk.stride())
        .ok()
        .filter(|&s| s >= row)
        .unwrap_or(row);
    if size == 0 || width == 0 || height == 0 {
        return None;
    }
    let bytes = data.data()?.get(offset..)?;
    let wanted = stride * height as usize;
    let used = (stride * (height as usize - 1) + row).min(wanted);
    if bytes.len() < used {
        return None;
    }
    let mut pixels = bytes[..wanted.min(bytes.len())].to_vec();
    pixels.resize(wanted, 0);
    Some(Picture {
        data: pixels,
        width,
        height,
        stride,
        order,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_ids_are_recognised_and_others_refused() {
        assert!(is_portal_id("portal:screen") && is_portal_id("portal:window"));
        assert!(!is_portal_id("screen:0,0,10,10"));
        let err = open(Some("unix:path=/nonexistent"), "window:7", 5, 64, 64)
            .err()
            .expect("a non-portal id is refused");
        assert!(err.to_string().contains("pick one from the list"), "{err}");
    }

    #[test]
    fn a_missing_bus_is_a_clear_error() {
        let err = list_sources(Some("unix:path=/nonexistent/roomcast-bus")).expect_err("no bus");
        assert!(
            err.to_string().contains("session bus cannot be reached"),
            "{err}"
        );
    }

    #[test]
    fn the_format_description_serialises() {
        let bytes = format_pod(15).expect("pod");
        assert!(Pod::from_bytes(&bytes).is_some());
    }
}
