//! Screen sharing through the desktop portal, the way it works on Wayland: the real
//! xdg-desktop-portal on a private D-Bus session bus, the real PipeWire daemon with
//! WirePlumber, and this test playing the desktop's part — a portal backend
//! (`org.freedesktop.impl.portal.ScreenCast`, what xdg-desktop-portal-gnome/-kde/-wlr
//! implement) whose "screen" is a PipeWire video source the test paints.
//!
//! Why not a real compositor: sway + xdg-desktop-portal-wlr 0.7 run headless here, but xdpw
//! refuses to start a cast unless the compositor offers DMA-BUF frames, which needs a GPU render
//! node (xdg-desktop-portal-wlr issue #289; pixman, the only renderer without one, offers
//! shared memory only). Everything from our D-Bus calls to the pixels we read is the real path.
#![cfg(target_os = "linux")]

use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use dbus::arg::{PropMap, RefArg, Variant};
use dbus::blocking::Connection;
use dbus::channel::{Channel, MatchingReceiver, Sender};
use dbus::message::{MatchRule, Message};
use dbus::strings::ErrorName;
use pipewire as pw;
use pw::spa::param::format::{FormatProperties, MediaSubtype, MediaType};
use pw::spa::param::video::VideoFormat;
use pw::spa::pod::{Pod, Value, serialize::PodSerializer};
use pw::spa::utils::{Fraction, Rectangle, SpaTypes};
use roomcast_devices::ScreenKind;
use roomcast_engine::media::{VideoFrame, VideoSource};

const PROGRAMS: [&str; 4] = [
    "dbus-daemon",
    "pipewire",
    "wireplumber",
    "/usr/libexec/xdg-desktop-portal",
];
const BACKEND: &str = "org.freedesktop.impl.portal.desktop.roomcasttest";
/// The test screen: 1280x720, rows padded to a stride wider than the picture (as GPUs do).
const W: u32 = 1280;
const H: u32 = 720;
const STRIDE: u32 = W * 4 + 64;
/// The right half of the test screen stays blue; the test repaints the left half.
const RIGHT: u32 = 0x2020d0;

fn installed(program: &str) -> bool {
    if program.starts_with('/') {
        return Path::new(program).exists();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
}

fn wait_for(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !ready() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The desktop's processes; killed, and the folder removed, on drop.
struct Desktop {
    dir: PathBuf,
    bus: String,
    children: Vec<(String, Child)>,
}

impl Desktop {
    /// None (with the reason printed) when a program is missing outside CI; on CI
    /// (`CI=true`) the install script must have put them there, so that fails the test.
    fn start() -> Option<Self> {
        let missing: Vec<_> = PROGRAMS.iter().filter(|p| !installed(p)).collect();
        if !missing.is_empty() {
            let why =
                format!("{missing:?} not installed (scripts/install-test-deps installs them)");
            assert!(std::env::var("CI").is_err(), "{why}");
            println!("SKIPPED: {why}");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("roomcast-portal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["run", "portals"] {
            std::fs::create_dir_all(dir.join(sub)).expect("test folders");
        }
        std::fs::set_permissions(
            dir.join("run"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .expect("chmod");
        let socket = dir.join("bus");
        // A session bus that starts nothing on demand: every service here is started by hand.
        std::fs::write(
            dir.join("bus.conf"),
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
                 <busconfig><type>session</type><listen>unix:path={}</listen>\
                 <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
                 <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n",
                socket.display()
            ),
        )
        .expect("bus config");
        std::fs::write(
            dir.join("portals/roomcasttest.portal"),
            format!(
                "[portal]\nDBusName={BACKEND}\nInterfaces=org.freedesktop.impl.portal.ScreenCast;\n\
                 UseIn=roomcasttest\n"
            ),
        )
        .expect("portal file");
        let mut desktop = Self {
            bus: format!("unix:path={}", socket.display()),
            dir,
            children: Vec::new(),
        };
        let mut bus = Command::new("dbus-daemon");
        bus.args(["--nofork", "--nopidfile"]).arg(format!(
            "--config-file={}",
            desktop.dir.join("bus.conf").display()
        ));
        desktop.spawn("dbus-daemon", bus);
        if !wait_for(Duration::from_secs(10), || socket.exists()) {
            desktop.fail("dbus-daemon did not start");
        }
        desktop.spawn("pipewire", Command::new("pipewire"));
        let pw_socket = desktop.pipewire_socket();
        if !wait_for(Duration::from_secs(10), || pw_socket.exists()) {
            desktop.fail("pipewire did not start");
        }
        desktop.spawn("wireplumber", Command::new("wireplumber"));
        Some(desktop)
    }

    fn pipewire_socket(&self) -> PathBuf {
        self.dir.join("run/pipewire-0")
    }

    /// Starts a program with this desktop's environment, its output in `<name>.log`.
    fn spawn(&mut self, name: &str, mut command: Command) {
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).expect("log");
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.dir)
            .env("XDG_RUNTIME_DIR", self.dir.join("run"))
            .env("XDG_CURRENT_DESKTOP", "roomcasttest")
            .env("XDG_DESKTOP_PORTAL_DIR", self.dir.join("portals"))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        let child = command
            .spawn()
            .unwrap_or_else(|e| self.fail(&format!("cannot start {name}: {e}")));
        self.children.push((name.to_string(), child));
    }

    /// Prints every program's log, then fails the test.
    fn fail(&self, why: &str) -> ! {
        for (name, _) in &self.children {
            let log =
                std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default();
            let tail: Vec<_> = log.lines().rev().take(25).collect();
            println!("--- {name}.log (last lines)");
            for line in tail.iter().rev() {
                println!("{line}");
            }
        }
        panic!("{why}");
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The test's screen: a PipeWire video source, its left half `colour` (0xRRGGBB), its right
/// half blue.
struct TestScreen {
    colour: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestScreen {
    /// Starts the source; returns it and its PipeWire node id.
    fn start(socket: &Path, colour: u32) -> (Self, u32) {
        let colour = Arc::new(AtomicU32::new(colour));
        let stop = Arc::new(AtomicBool::new(false));
        let (node_tx, node_rx) = mpsc::channel();
        let fd = UnixStream::connect(socket).expect("PipeWire socket").into();
        let thread = std::thread::spawn({
            let (colour, stop) = (colour.clone(), stop.clone());
            move || run_screen(fd, &colour, &stop, &node_tx)
        });
        let node = node_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the test screen's node id");
        let screen = Self {
            colour,
            stop,
            thread: Some(thread),
        };
        (screen, node)
    }
}

impl Drop for TestScreen {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn pod_bytes(object: pw::spa::pod::Object) -> Vec<u8> {
    PodSerializer::serialize(std::io::Cursor::new(Vec::new()), &Value::Object(object))
        .expect("pod")
        .0
        .into_inner()
}

fn run_screen(
    fd: std::os::fd::OwnedFd,
    colour: &Arc<AtomicU32>,
    stop: &AtomicBool,
    node_tx: &mpsc::Sender<u32>,
) {
    pw::init();
    let main_loop = pw::main_loop::MainLoop::new(None).expect("loop");
    let context = pw::context::Context::new(&main_loop).expect("context");
    let core = context.connect_fd(fd, None).expect("connect");
    let stream = Rc::new(
        pw::stream::Stream::new(
            &core,
            "roomcast-test-screen",
            pw::properties::properties! {
                *pw::keys::MEDIA_CLASS => "Video/Source",
                *pw::keys::MEDIA_TYPE => "Video",
                *pw::keys::MEDIA_ROLE => "Screen",
            },
        )
        .expect("stream"),
    );
    let announced = Rc::new(std::cell::Cell::new(false));
    let _listener = stream
        .add_local_listener_with_user_data(colour.clone())
        .state_changed({
            let (announced, node_tx) = (announced.clone(), node_tx.clone());
            move |s, _, _, new| {
                if matches!(new, pw::stream::StreamState::Paused) && !announced.get() {
                    announced.set(true);
                    let _ = node_tx.send(s.node_id());
                }
            }
        })
        .param_changed(|s, _, id, param| {
            if param.is_none() || id != pw::spa::param::ParamType::Format.as_raw() {
                return;
            }
            // Our buffers: one block of padded rows each.
            let buffers = pod_bytes(pw::spa::pod::object!(
                SpaTypes::ObjectParamBuffers,
                pw::spa::param::ParamType::Buffers,
                pw::spa::pod::Property::new(pw::spa::sys::SPA_PARAM_BUFFERS_buffers, Value::Int(4)),
                pw::spa::pod::Property::new(pw::spa::sys::SPA_PARAM_BUFFERS_blocks, Value::Int(1)),
                pw::spa::pod::Property::new(
                    pw::spa::sys::SPA_PARAM_BUFFERS_size,
                    Value::Int((STRIDE * H) as i32)
                ),
                pw::spa::pod::Property::new(
                    pw::spa::sys::SPA_PARAM_BUFFERS_stride,
                    Value::Int(STRIDE as i32)
                ),
            ));
            let _ = s.update_params(&mut [Pod::from_bytes(&buffers).expect("pod")]);
        })
        .process(|s, colour| {
            let Some(mut buffer) = s.dequeue_buffer() else {
                return;
            };
            let bgrx = |rgb: u32| [rgb as u8, (rgb >> 8) as u8, (rgb >> 16) as u8, 255];
            let (left, right) = (bgrx(colour.load(Ordering::Relaxed)), bgrx(RIGHT));
            let Some(data) = buffer.datas_mut().first_mut() else {
                return;
            };
            if let Some(bytes) = data.data() {
                for row in bytes.chunks_mut(STRIDE as usize).take(H as usize) {
                    let (l, r) = row[..(W * 4) as usize].split_at_mut((W * 2) as usize);
                    l.chunks_exact_mut(4)
                        .for_each(|px| px.copy_from_slice(&left));
                    r.chunks_exact_mut(4)
                        .for_each(|px| px.copy_from_slice(&right));
                }
            }
            let chunk = data.chunk_mut();
            *chunk.offset_mut() = 0;
            *chunk.stride_mut() = STRIDE as i32;
            *chunk.size_mut() = STRIDE * H;
        })
        .register()
        .expect("listener");

    let format = pod_bytes(pw::spa::pod::object!(
        SpaTypes::ObjectParamFormat,
        pw::spa::param::ParamType::EnumFormat,
        pw::spa::pod::property!(FormatProperties::MediaType, Id, MediaType::Video),
        pw::spa::pod::property!(FormatProperties::MediaSubtype, Id, MediaSubtype::Raw),
        pw::spa::pod::property!(FormatProperties::VideoFormat, Id, VideoFormat::BGRx),
        pw::spa::pod::property!(
            FormatProperties::VideoSize,
            Rectangle,
            Rectangle {
                width: W,
                height: H
            }
        ),
        pw::spa::pod::property!(
            FormatProperties::VideoFramerate,
            Fraction,
            Fraction { num: 30, denom: 1 }
        ),
    ));
    stream
        .connect(
            pw::spa::utils::Direction::Output,
            None,
            pw::stream::StreamFlags::DRIVER | pw::stream::StreamFlags::MAP_BUFFERS,
            &mut [Pod::from_bytes(&format).expect("pod")],
        )
        .expect("stream connect");
    // A driver paces itself: a new picture every 33 ms.
    let timer = main_loop.loop_().add_timer({
        let stream = stream.clone();
        move |_| {
            let _ = stream.trigger_process();
        }
    });
    timer.update_timer(
        Some(Duration::from_millis(10)),
        Some(Duration::from_millis(33)),
    );
    while !stop.load(Ordering::Relaxed) {
        main_loop.loop_().iterate(Duration::from_millis(50));
    }
}

/// What the test backend saw; `cancel` makes the next Start answer "cancelled".
#[derive(Default)]
struct Seen {
    started: u32,
    closed: Vec<String>,
    cancel: bool,
    /// The session of the last CreateSession.
    session: String,
    /// Set to make the backend end that session, as a desktop's "Stop sharing" does.
    end_session: bool,
}

/// The desktop's half of the portal: answers xdg-desktop-portal's calls on its own thread.
fn serve_backend(bus: &str, node: u32, seen: Arc<Mutex<Seen>>, stop: Arc<AtomicBool>) {
    let mut channel = Channel::open_private(bus).expect("bus");
    channel.register().expect("register");
    let conn = Connection::from(channel);
    conn.request_name(BACKEND, false, true, true)
        .expect("backend name");
    let seen_end = seen.clone();
    conn.start_receive(
        MatchRule::new_method_call(),
        Box::new(move |msg: Message, conn: &Connection| {
            let reply = answer(&msg, node, &seen);
            let _ = conn.send(reply);
            true
        }),
    );
    while !stop.load(Ordering::Relaxed) {
        let _ = conn.process(Duration::from_millis(50));
        let mut seen = seen_end.lock().expect("seen");
        if std::mem::take(&mut seen.end_session) {
            let closed = Message::new_signal(
                seen.session.as_str(),
                "org.freedesktop.impl.portal.Session",
                "Closed",
            )
            .expect("signal");
            let _ = conn.send(closed);
        }
    }
}

fn u32_prop(v: u32) -> Variant<Box<dyn RefArg>> {
    Variant(Box::new(v))
}

fn answer(msg: &Message, node: u32, seen: &Mutex<Seen>) -> Message {
    let interface = msg.interface().map(|i| i.to_string()).unwrap_or_default();
    let member = msg.member().map(|m| m.to_string()).unwrap_or_default();
    let props: PropMap = HashMap::from([
        ("AvailableSourceTypes".to_string(), u32_prop(1 | 2)),
        ("AvailableCursorModes".to_string(), u32_prop(1 | 2)),
        ("version".to_string(), u32_prop(4)),
    ]);
    match (interface.as_str(), member.as_str()) {
        ("org.freedesktop.DBus.Properties", "GetAll") => msg.method_return().append1(props),
        ("org.freedesktop.DBus.Properties", "Get") => {
            let name: String = msg
                .read2::<String, String>()
                .map(|(_, n)| n)
                .unwrap_or_default();
            match props.get(&name) {
                Some(v) => msg.method_return().append1(Variant(v.0.box_clone())),
                None => error(msg, "no such property"),
            }
        }
        ("org.freedesktop.impl.portal.ScreenCast", "CreateSession") => {
            if let Ok((_, session)) = msg.read2::<dbus::Path, dbus::Path>() {
                seen.lock().expect("seen").session = session.to_string();
            }
            msg.method_return().append2(0u32, PropMap::new())
        }
        ("org.freedesktop.impl.portal.ScreenCast", "SelectSources") => {
            msg.method_return().append2(0u32, PropMap::new())
        }
        ("org.freedesktop.impl.portal.ScreenCast", "Start") => {
            let mut seen = seen.lock().expect("seen");
            if seen.cancel {
                seen.cancel = false;
                return msg.method_return().append2(1u32, PropMap::new());
            }
            seen.started += 1;
            let stream: PropMap = HashMap::from([
                (
                    "size".to_string(),
                    Variant(Box::new((W as i32, H as i32)) as Box<dyn RefArg>),
                ),
                ("source_type".to_string(), u32_prop(1)),
            ]);
            let results: PropMap = HashMap::from([(
                "streams".to_string(),
                Variant(Box::new(vec![(node, stream)]) as Box<dyn RefArg>),
            )]);
            msg.method_return().append2(0u32, results)
        }
        ("org.freedesktop.impl.portal.Session", "Close") => {
            let path = msg.path().map(|p| p.to_string()).unwrap_or_default();
            seen.lock().expect("seen").closed.push(path);
            msg.method_return()
        }
        _ => error(msg, "not implemented by the test backend"),
    }
}

fn error(msg: &Message, text: &str) -> Message {
    msg.error(
        &ErrorName::new("org.freedesktop.DBus.Error.UnknownMethod").expect("name"),
        &CString::new(text).expect("text"),
    )
}

/// The (Y, U, V) of the pixel at fractions `fx`, `fy` of the width and height.
fn sample(frame: &VideoFrame, fx: f32, fy: f32) -> (u8, u8, u8) {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let (x, y) = ((w as f32 * fx) as usize, (h as f32 * fy) as usize);
    (
        frame.y[y * w + x],
        frame.u[(y / 2) * (w / 2) + x / 2],
        frame.v[(y / 2) * (w / 2) + x / 2],
    )
}

/// The middle of the screen's left half (the half the test repaints).
fn centre(frame: &VideoFrame) -> (u8, u8, u8) {
    sample(frame, 0.25, 0.5)
}

/// The right half is blue (Cb high, Cr low) from the first row to the last: the padded rows
/// were read at their stride (a wrong stride shears the picture sideways row by row).
fn assert_right_half_blue(frame: &VideoFrame) {
    for fy in [0.02, 0.5, 0.98] {
        let (_, u, v) = sample(frame, 0.75, fy);
        assert!(u > 200 && v < 120, "not blue at row {fy}: U {u} V {v}");
        let (_, _, v) = sample(frame, 0.02, fy);
        assert!(
            v > 150,
            "the left edge is not the left half at row {fy}: V {v}"
        );
    }
}

/// Reads frames until one is `wanted`, for up to 10 s.
fn frames_until(
    source: &mut dyn VideoSource,
    what: &str,
    wanted: impl Fn((u8, u8, u8)) -> bool,
) -> VideoFrame {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let frame = source.next_frame(0).expect("the share keeps running");
        frame.validate().expect("tightly packed I420");
        if wanted(centre(&frame)) {
            return frame;
        }
        assert!(
            Instant::now() < deadline,
            "the shared screen never showed {what}; its centre is (Y, U, V) {:?}",
            centre(&frame)
        );
    }
}

#[test]
fn the_portal_shares_the_screen_the_system_hands_over() {
    let Some(mut desktop) = Desktop::start() else {
        return;
    };
    let (screen, node) = TestScreen::start(&desktop.pipewire_socket(), 0xd02020);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let backend = std::thread::spawn({
        let (bus, seen, stop) = (desktop.bus.clone(), seen.clone(), stop.clone());
        move || serve_backend(&bus, node, seen, stop)
    });
    let mut portal = Command::new("/usr/libexec/xdg-desktop-portal");
    portal.arg("-v");
    desktop.spawn("xdg-desktop-portal", portal);
    let bus = Some(desktop.bus.as_str());

    // The portal answers once it has found the backend.
    let mut sources = Err(roomcast_devices::DeviceError::NotFound(String::new()));
    if !wait_for(Duration::from_secs(30), || {
        sources = roomcast_devices::list_portal_sources_on(bus);
        sources.is_ok()
    }) {
        desktop.fail(&format!("the portal never answered: {:?}", sources.err()));
    }
    let sources = sources.expect("listed");
    let kinds: Vec<_> = sources.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [ScreenKind::Screen, ScreenKind::Window]);
    assert!(
        sources.iter().all(|s| s.title.contains("asks which")),
        "the entries say the system will ask: {sources:?}"
    );
    let screen_id = sources[0].id.clone();

    // The 1280x720 screen, scaled to fit 640x480: 640x360, red (Cr high, Cb low).
    let mut share = roomcast_devices::open_portal_screen_on(bus, &screen_id, 10, 640, 480)
        .unwrap_or_else(|e| desktop.fail(&format!("sharing failed: {e}")));
    assert_eq!(share.size(), (640, 360));
    let red = |(_, u, v): (u8, u8, u8)| v > 200 && u < 120;
    let frame = frames_until(share.as_mut(), "red", red);
    assert_right_half_blue(&frame);

    // What changes on the screen reaches the share.
    screen.colour.store(0x20d020, Ordering::Relaxed);
    let green = |(y, u, v): (u8, u8, u8)| y > 110 && v < 90 && u < 110;
    frames_until(share.as_mut(), "green", green);

    // Stopping the share closes the portal session: the desktop's "sharing" indicator goes.
    drop(share);
    assert!(
        wait_for(Duration::from_secs(10), || !seen
            .lock()
            .expect("seen")
            .closed
            .is_empty()),
        "the portal session was not closed"
    );

    // Cancelled in the system's picker: a clear error, and sharing works again afterwards.
    seen.lock().expect("seen").cancel = true;
    let cancelled = roomcast_devices::open_portal_screen_on(bus, &screen_id, 10, 640, 480);
    let err = cancelled.err().expect("cancelled").to_string();
    assert!(err.contains("cancelled"), "{err}");
    let mut again = roomcast_devices::open_portal_screen_on(bus, &screen_id, 10, 320, 320)
        .unwrap_or_else(|e| desktop.fail(&format!("sharing again failed: {e}")));
    assert_eq!(again.size(), (320, 180));
    frames_until(again.as_mut(), "green again", green);
    assert_eq!(seen.lock().expect("seen").started, 2);

    // "Stop sharing" in the desktop's own indicator ends the share.
    seen.lock().expect("seen").end_session = true;
    let ended = (0..100).any(|_| again.next_frame(0).is_none());
    assert!(ended, "the share ends when the desktop closes the session");

    // The desktop's stream goes away: the share ends, it does not hang on the last picture.
    let mut third = roomcast_devices::open_portal_screen_on(bus, &screen_id, 10, 640, 480)
        .unwrap_or_else(|e| desktop.fail(&format!("sharing a third time failed: {e}")));
    frames_until(third.as_mut(), "green a third time", green);
    drop(screen);
    let ended = (0..100).any(|_| third.next_frame(0).is_none());
    assert!(ended, "the share ends when the system's stream ends");

    stop.store(true, Ordering::Relaxed);
    backend.join().expect("backend thread");
}
