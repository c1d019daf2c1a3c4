//! The real desktop app, end to end, under Xvfb with tauri-driver + WebKitWebDriver
//! (tests/app/e2e.mjs does the driving). Needs the app and CLI built, the UI built into
//! ui/dist, and scripts/install-test-deps (Xvfb, webkit2gtk-driver, tauri-driver in
//! target/tools). Skipped locally when something is missing; fails under CI.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

#[test]
fn host_a_meeting_in_the_app_with_a_headless_participant() {
    let (app, cli, driver, xvfb) = match prerequisites() {
        Ok(p) => p,
        Err(why) if std::env::var("CI").is_err() => {
            eprintln!("skipping the desktop app e2e test: {why}");
            return;
        }
        Err(why) => panic!("the desktop app e2e test cannot run under CI: {why}"),
    };
    let artifacts = root().join("artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts");
    let data = std::env::temp_dir().join(format!("roomcast-app-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);

    let display = format!(":{}", 90 + std::process::id() % 9);
    let _x = Killed(
        Command::new(xvfb)
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts"),
    );
    std::thread::sleep(Duration::from_millis(800));
    let port = 4444 + (std::process::id() % 500) as u16;
    let _driver = Killed(
        Command::new(driver)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &(port + 1000).to_string(),
            ])
            .env("DISPLAY", &display)
            .env("ROOMCAST_DATA_DIR", &data)
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .spawn()
            .expect("tauri-driver starts"),
    );
    assert!(
        wait_for_port(port, Duration::from_secs(15)),
        "tauri-driver did not listen on {port}"
    );

    let status = Command::new("node")
        .arg(root().join("tests/app/e2e.mjs"))
        .env("WEBDRIVER", format!("http://127.0.0.1:{port}"))
        .env("APP", &app)
        .env("ROOMCAST", &cli)
        .env("DATA_DIR", &data)
        .env("ARTIFACTS", &artifacts)
        .status()
        .expect("node runs");
    let _ = std::fs::remove_dir_all(&data);
    assert!(
        status.success(),
        "the app e2e run failed (screenshots in artifacts/): {status}"
    );
}
