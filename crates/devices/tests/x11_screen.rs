//! Screen and window capture through the real X11 code path, on a private Xvfb.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use roomcast_devices::ScreenKind;
use roomcast_engine::media::VideoFrame;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ConnectionExt as _, CreateWindowAux, MapState, PropMode, WindowClass,
};
use x11rb::wrapper::ConnectionExt as _;

/// A private X server, killed on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    /// None (with the reason printed) when the Xvfb binary is missing.
    fn start() -> Option<Self> {
        let n = (150..400).find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })?;
        let display = format!(":{n}");
        let child = match Command::new("Xvfb")
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1280x720x24",
                "-nolisten",
                "tcp",
                // An X server resets when its last client leaves: without this, the
                // readiness probe's goodbye races the next connection (reset by peer).
                "-noreset",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                println!("SKIPPED: Xvfb is not installed (scripts/install-test-deps installs it)");
                return None;
            }
            Err(e) => panic!("cannot start Xvfb: {e}"),
        };
        let x = Self { child, display };
        let deadline = Instant::now() + Duration::from_secs(20);
        while x11rb::connect(Some(&x.display)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Xvfb {} does not accept connections",
                x.display
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(x)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_i420(frame: &VideoFrame, w: u32, h: u32) {
    assert_eq!((frame.width, frame.height), (w, h));
    frame.validate().expect("tightly packed I420");
    assert_eq!(frame.y.len(), (w * h) as usize);
    assert_eq!(frame.u.len(), (w * h / 4) as usize);
}

#[test]
fn screen_and_window_capture_under_xvfb() {
    let Some(x) = Xvfb::start() else { return };
    // A 320x240 solid red window with a known title.
    let (conn, screen) = x11rb::connect(Some(&x.display)).expect("connect");
    let root = conn.setup().roots[screen].root;
    let window = conn.generate_id().expect("id");
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        window,
        root,
        100,
        100,
        320,
        240,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new().background_pixel(0xff0000),
    )
    .expect("create window");
    let title = "Roomcast test window";
    conn.change_property8(
        PropMode::REPLACE,
        window,
        AtomEnum::WM_NAME,
        AtomEnum::STRING,
        title.as_bytes(),
    )
    .expect("title");
    conn.map_window(window).expect("map");
    conn.flush().expect("flush");
    let deadline = Instant::now() + Duration::from_secs(10);
    while conn
        .get_window_attributes(window)
        .expect("attrs")
        .reply()
        .expect("attrs")
        .map_state
        != MapState::VIEWABLE
    {
        assert!(Instant::now() < deadline, "window never mapped");
        std::thread::sleep(Duration::from_millis(20));
    }

    let sources = roomcast_devices::list_screen_sources_on(Some(&x.display)).expect("list");
    let screen_src = sources
        .iter()
        .find(|s| s.kind == ScreenKind::Screen)
        .expect("the screen is listed");
    assert!(
        screen_src.thumbnail_png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "screen thumbnail is a PNG"
    );
    let win_src = sources
        .iter()
        .find(|s| s.title == title)
        .expect("the window is listed by title");
    assert_eq!(win_src.kind, ScreenKind::Window);
    assert!(win_src.thumbnail_png.starts_with(b"\x89PNG"));

    // The whole screen, scaled to fit 640x360.
    let mut screen =
        roomcast_devices::open_screen_on(Some(&x.display), &screen_src.id, 10, 640, 360)
            .expect("open screen");
    assert_eq!(screen.size(), (640, 360));
    for _ in 0..3 {
        assert_i420(&screen.next_frame(0).expect("screen frame"), 640, 360);
    }
    drop(screen);

    // The window, unscaled: its pixels are red (BT.601 studio range Y 82, U 90, V 240).
    let mut win = roomcast_devices::open_screen_on(Some(&x.display), &win_src.id, 10, 1920, 1080)
        .expect("open window");
    for _ in 0..2 {
        let frame = win.next_frame(0).expect("window frame");
        assert_i420(&frame, 320, 240);
        let near = |p: &[u8], v: u8| p.iter().all(|&a| a.abs_diff(v) <= 3);
        assert!(
            near(&frame.y, 82) && near(&frame.u, 90) && near(&frame.v, 240),
            "not red: {:?}",
            (frame.y[0], frame.u[0], frame.v[0])
        );
    }
    // Closing the window ends the source.
    conn.destroy_window(window).expect("destroy");
    conn.flush().expect("flush");
    let ended = (0..100).any(|_| win.next_frame(0).is_none());
    assert!(ended, "the source ends when its window closes");

    let bad = roomcast_devices::open_screen_on(Some(&x.display), "window:12345", 10, 1920, 1080);
    assert!(
        bad.is_err(),
        "a window that does not exist cannot be shared"
    );
}
