//! The real desktop app, end to end, under Xvfb with tauri-driver + WebKitWebDriver
//! (tests/app/e2e.mjs does the driving). Needs the app and CLI built, the UI built into
//! ui/dist, and scripts/install-test-deps (Xvfb, webkit2gtk-driver, tauri-driver in
//! target/tools). Skipped locally when something is missing; fails under CI.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use roomcast_engine::audio::testsig::room::{rms, talker, to_f32, to_i16};
use roomcast_engine::audio::testsig::yin;
use roomcast_engine::media::{VideoSink, VideoSource, Y4mSink, Y4mSource};
use roomcast_engine::video::scene::{Scene, person_scene};
use roomcast_engine::video::testsig::{Region, hf_energy};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_path_buf()
}

fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

fn prerequisites() -> Result<(PathBuf, PathBuf, PathBuf, PathBuf), String> {
    let app = bin_dir().join("roomcast-app");
    let cli = bin_dir().join("roomcast");
    let driver = root().join("target/tools/bin/tauri-driver");
    for p in [&app, &cli, &driver] {
        if !p.exists() {
            return Err(format!(
                "{} missing (cargo build; scripts/install-test-deps)",
                p.display()
            ));
        }
    }
    if which("WebKitWebDriver").is_none() {
        return Err("WebKitWebDriver not found (apt install webkit2gtk-driver)".into());
    }
    let xvfb = which("Xvfb").ok_or("Xvfb not found (apt install xvfb)")?;
    Ok((app, cli, driver, xvfb))
}

fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Xvfb and tauri-driver for one app run; dropped, they stop.
struct Desktop {
    _x: Killed,
    _driver: Killed,
    port: u16,
}

/// Starts Xvfb and tauri-driver; the app they start gets `env` (plus the display).
fn desktop(
    driver: &Path,
    xvfb: &Path,
    display_no: u32,
    env: &[(&str, &std::ffi::OsStr)],
) -> Desktop {
    let display = format!(":{}", display_no);
    let x = Killed(
        Command::new(xvfb)
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
                // An X server resets when its last client leaves: without this, the
                // readiness probe's goodbye races the next connection (reset by peer).
                "-noreset",
            ])
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts"),
    );
    std::thread::sleep(Duration::from_millis(800));
    let port = 4444 + (display_no * 7 + std::process::id() % 400) as u16;
    let mut cmd = Command::new(driver);
    cmd.args([
        "--port",
        &port.to_string(),
        "--native-port",
        &(port + 1000).to_string(),
    ])
    .env("DISPLAY", &display)
    .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let driver = Killed(cmd.spawn().expect("tauri-driver starts"));
    assert!(
        wait_for_port(port, Duration::from_secs(15)),
        "tauri-driver did not listen on {port}"
    );
    Desktop {
        _x: x,
        _driver: driver,
        port,
    }
}

/// Runs a tests/app script against the app through `desk`.
fn drive(
    desk: &Desktop,
    script: &str,
    env: &[(&str, &std::ffi::OsStr)],
) -> std::process::ExitStatus {
    let mut cmd = Command::new("node");
    cmd.arg(root().join("tests/app").join(script))
        .env("WEBDRIVER", format!("http://127.0.0.1:{}", desk.port));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.status().expect("node runs")
}

macro_rules! prerequisites_or_skip {
    () => {
        match prerequisites() {
            Ok(p) => p,
            Err(why) if std::env::var("CI").is_err() => {
                eprintln!("skipping the desktop app e2e test: {why}");
                return;
            }
            Err(why) => panic!("the desktop app e2e test cannot run under CI: {why}"),
        }
    };
}

#[test]
fn host_a_meeting_in_the_app_with_a_headless_participant() {
    let (app, cli, driver, xvfb) = prerequisites_or_skip!();
    let artifacts = root().join("artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts");
    let data = std::env::temp_dir().join(format!("roomcast-app-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);

    // The app's microphone: a talker around 120 Hz, looped (no microphone on CI).
    let mic = data.with_extension("talker.wav");
    let talker = talker(11, 120.0, 12.0, 0.5);
    roomcast_engine::media::write_wav_mono(&mic, &to_i16(&talker)).expect("write the talker");
    let record = data.with_extension("record");
    let _ = std::fs::remove_dir_all(&record);
    // The app's camera: a person in front of a brick wall, her skin and outline known, looped
    // (no camera on CI).
    let camera = data.with_extension("person.y4m");
    let scene = person_scene(640, 360).expect("the sample images");
    let mut clip = Y4mSink::create(&camera)
        .expect("write the camera clip")
        .with_fps(15);
    clip.write(&scene.frame).expect("camera frame");
    clip.finish().expect("camera clip");

    let desk = desktop(
        &driver,
        &xvfb,
        90 + std::process::id() % 9,
        &[
            ("ROOMCAST_DATA_DIR", data.as_os_str()),
            ("ROOMCAST_FAKE_MIC", mic.as_os_str()),
            ("ROOMCAST_FAKE_CAMERA", camera.as_os_str()),
        ],
    );
    let status = drive(
        &desk,
        "e2e.mjs",
        &[
            ("APP", app.as_os_str()),
            ("ROOMCAST", cli.as_os_str()),
            ("DATA_DIR", data.as_os_str()),
            ("ARTIFACTS", artifacts.as_os_str()),
            ("RECORD", record.as_os_str()),
        ],
    );
    drop(desk);
    let _ = std::fs::remove_dir_all(&data);
    assert!(
        status.success(),
        "the app e2e run failed (screenshots in artifacts/): {status}"
    );
    voice_changed_in_the_recording(&record.join("Host.wav"));
    video_effects_in_the_recording(&record.join("Host-main.y4m"), &scene);
    let _ = std::fs::remove_dir_all(&record);
    let _ = std::fs::remove_file(&mic);
    let _ = std::fs::remove_file(&camera);
}

/// The meeting as a host runs it, in Korean: a browser guest joins with the invite link the
/// app copied, media flows both ways, chat lines and raised hands pass both ways, and the host
/// mutes and then removes the guest.
#[test]
fn a_browser_guest_joins_the_apps_meeting_with_its_invite_link_in_korean() {
    let (app, cli, driver, xvfb) = prerequisites_or_skip!();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        if std::env::var("CI").is_err() {
            eprintln!("skipping: {chromium} not found (scripts/install-test-deps)");
            return;
        }
        panic!("{chromium} not found under CI");
    }
    let artifacts = root().join("artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts");
    let data = std::env::temp_dir().join(format!("roomcast-app-meeting-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let korean = std::ffi::OsStr::new("ko_KR.UTF-8");
    let desk = desktop(
        &driver,
        &xvfb,
        80 + std::process::id() % 9,
        &[
            ("ROOMCAST_DATA_DIR", data.as_os_str()),
            ("LANG", korean),
            ("LANGUAGE", std::ffi::OsStr::new("ko")),
        ],
    );
    let status = drive(
        &desk,
        "meeting-e2e.mjs",
        &[
            ("APP", app.as_os_str()),
            ("ROOMCAST", cli.as_os_str()),
            ("ARTIFACTS", artifacts.as_os_str()),
            ("CHROMIUM", std::ffi::OsStr::new(&chromium)),
            ("GUEST", root().join("tests/browser/guest.mjs").as_os_str()),
        ],
    );
    drop(desk);
    let _ = std::fs::remove_dir_all(&data);
    assert!(
        status.success(),
        "the meeting e2e run failed (screenshots in artifacts/): {status}"
    );
}

/// The participant heard the talker (around 120 Hz) first, then, after the app turned on the
/// "child" voice changer (+8 semitones), the same talker around 190 Hz.
/// The participant's recording of the app's camera, measured per frame against the camera's
/// own picture: when the host turns on beauty and background blur from the Video effects panel
/// (e2e.mjs, midway), her skin texture drops, the brick wall's texture drops much more, and the
/// rest of her (hair, suit) stays sharp.
fn video_effects_in_the_recording(path: &Path, scene: &Scene) {
    let mut clip = Y4mSource::open(path).expect("the recorded camera");
    let frames: Vec<_> = std::iter::from_fn(|| clip.next_frame(0))
        .filter(|f| (f.width, f.height) == (scene.frame.width, scene.frame.height))
        .collect();
    assert!(
        frames.len() >= 60,
        "only {} frames of the camera recorded",
        frames.len()
    );
    let texture = |region: Region, frames: &[roomcast_engine::media::VideoFrame]| {
        let full = hf_energy(&scene.frame, &scene.regions, region);
        let mut v: Vec<f64> = frames
            .iter()
            .map(|f| hf_energy(f, &scene.regions, region) / full)
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (before, after) = (&frames[..20], &frames[frames.len() - 20..]);
    let [skin, wall, person] = [Region::Skin, Region::Outside, Region::Person]
        .map(|r| (texture(r, before), texture(r, after)));
    println!(
        "texture the participant saw, before → after the effects: skin {:.2} → {:.2}, wall {:.2} → {:.2}, rest of her {:.2} → {:.2}",
        skin.0, skin.1, wall.0, wall.1, person.0, person.1
    );
    // The app sends 360p at 500 kbit/s here, so the encoder already smooths some texture away.
    assert!(
        skin.0 > 0.2 && wall.0 > 0.2,
        "the camera arrived without its texture: skin {:.2}, wall {:.2}",
        skin.0,
        wall.0
    );
    assert!(
        skin.1 < 0.7 * skin.0,
        "beauty did not reach the participant: {:.2} → {:.2}",
        skin.0,
        skin.1
    );
    assert!(
        wall.1 < 0.3 * wall.0,
        "the blur did not reach the participant: {:.2} → {:.2}",
        wall.0,
        wall.1
    );
    assert!(
        person.1 > 0.7 * person.0,
        "the blur took her sharpness too: {:.2} → {:.2}",
        person.0,
        person.1
    );
}

fn voice_changed_in_the_recording(path: &Path) {
    let samples = to_f32(&roomcast_engine::media::read_wav_mono(path).expect("the recording"));
    let win = 1920;
    let loudest = samples.chunks(win).map(rms).fold(0f32, f32::max);
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for (i, w) in samples.chunks(win).enumerate() {
        if w.len() < win || rms(w) < 0.1 * loudest {
            continue;
        }
        let Some(f0) = yin(w) else { continue };
        if (95.0..=142.0).contains(&f0) {
            before.push(i);
        } else if (150.0..=230.0).contains(&f0) {
            after.push(i);
        }
    }
    println!(
        "recording: {} windows near 120 Hz, {} windows near 190 Hz",
        before.len(),
        after.len()
    );
    // 10 windows of 40 ms: 0.4 s of voiced speech in each band, at least.
    assert!(before.len() >= 10, "too little of the unchanged voice");
    assert!(
        after.len() >= 10,
        "the voice changer did not move the pitch"
    );
    let median = |v: &[usize]| v[v.len() / 2];
    assert!(
        median(&before) < median(&after),
        "the changed voice came before the original"
    );
}
