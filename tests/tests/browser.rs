//! Browser interop: Debian's headless Chromium (playwright-core, fake camera and microphone)
//! joins a room through the server's web page (the `ui/` build with its browser backend)
//! together with a `roomcast join` participant; both directions must decode. Needs
//! `scripts/install-test-deps` (Chromium, node modules), `ui/dist` (`npm --prefix ui run
//! build`) and the `roomcast` binary (`cargo build`); skipped locally when missing, fails
//! under CI.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use roomcast_tests::TestServer;
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// target/<profile>/roomcast, next to this test's own executable.
fn roomcast_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?;
    let bin = dir.join(format!("roomcast{}", std::env::consts::EXE_SUFFIX));
    bin.exists().then_some(bin)
}

fn prerequisites() -> Result<PathBuf, String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Err(format!(
            "{chromium} not found (run scripts/install-test-deps)"
        ));
    }
    if !repo_root()
        .join("tests/browser/node_modules/playwright-core")
        .exists()
    {
        return Err("tests/browser/node_modules missing (run scripts/install-test-deps)".into());
    }
    if !repo_root().join("ui/dist/index.html").exists() {
        return Err("the web page is not built (npm --prefix ui run build)".into());
    }
    roomcast_binary()
        .ok_or_else(|| "the roomcast binary is not built (cargo build -p roomcast-cli)".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_and_headless_client_exchange_media() {
    let roomcast = match prerequisites() {
        Ok(b) => b,
        Err(why) if std::env::var("CI").is_err() => {
            eprintln!("skipping browser interop: {why}");
            return;
        }
        Err(why) => panic!("browser interop cannot run under CI: {why}"),
    };
    let server = TestServer::start().await;
    let artifacts = repo_root().join("artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    let report = artifacts.join("browser-cli-report.json");
    let browser_out = artifacts.join("browser-stats.json");
    let _ = std::fs::remove_file(&report);

    let cli = Command::new(&roomcast)
        .args([
            "join",
            "--server",
            &server.url(),
            "--app",
            &server.app.to_string(),
            "--key",
            &server.key,
        ])
        .args([
            "--room",
            "4242",
            "--user",
            "cli",
            "--duration",
            "14",
            "--video-size",
            "640x360",
            "--fps",
            "15",
        ])
        .arg("--report")
        .arg(&report)
        .spawn()
        .expect("roomcast join starts");
    // A second participant watches the browser in a grid: it asks for the small layer of the
    // browser's simulcast camera.
    let small_report = artifacts.join("browser-cli-small-report.json");
    let _ = std::fs::remove_file(&small_report);
    let small = Command::new(&roomcast)
        .args([
            "join",
            "--server",
            &server.url(),
            "--app",
            &server.app.to_string(),
            "--key",
            &server.key,
        ])
        .args([
            "--room",
            "4242",
            "--user",
            "grid",
            "--duration",
            "14",
            "--video",
            "none",
            "--audio",
            "none",
            "--want",
            "small",
        ])
        .arg("--report")
        .arg(&small_report)
        .spawn()
        .expect("roomcast join starts");
    // Give the CLI a head start so the browser finds it in the room's roster.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let url = format!(
        "{}/?app={}&user=browser&sig={}&room=4242&autojoin=1",
        server.url(),
        server.app,
        urlencode(&server.sig("browser"))
    );
    let browser = tokio::task::spawn_blocking({
        let out = browser_out.clone();
        let shot = artifacts.join("browser.png");
        move || {
            Command::new("node")
                .arg(repo_root().join("tests/browser/join.mjs"))
                .args(["--url", &url, "--duration", "8"])
                .arg("--out")
                .arg(&out)
                .arg("--screenshot")
                .arg(&shot)
                .status()
                .expect("node runs")
        }
    })
    .await
    .expect("browser task");
    let cli = tokio::task::spawn_blocking(move || cli.wait_with_output())
        .await
        .expect("cli task")
        .expect("cli ends");
    let small = tokio::task::spawn_blocking(move || small.wait_with_output())
        .await
        .expect("cli task")
        .expect("cli ends");
    assert!(
        small.status.success(),
        "roomcast join --want small failed: {}",
        small.status
    );
    assert!(browser.success(), "the browser driver failed: {browser}");
    assert!(cli.status.success(), "roomcast join failed: {}", cli.status);

    let stats: Value =
        serde_json::from_slice(&std::fs::read(&browser_out).expect("browser stats")).expect("json");
    let inbound = stats["stats"]["inbound"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let video = inbound
        .iter()
        .find(|s| s["kind"] == "video" && s["user_id"] == "cli")
        .unwrap_or_else(|| panic!("the browser received no video from cli: {stats:#}"));
    assert!(
        video["framesDecoded"].as_u64().unwrap_or(0) >= 30,
        "browser decoded too little: {video}"
    );
    assert_eq!(video["frameWidth"], 640, "{video}");
    assert!(
        video["codec"].as_str().unwrap_or("").contains("H264"),
        "{video}"
    );
    let audio = inbound
        .iter()
        .find(|s| s["kind"] == "audio" && s["user_id"] == "cli")
        .unwrap_or_else(|| panic!("the browser received no audio from cli: {stats:#}"));
    assert!(
        audio["totalSamplesReceived"].as_u64().unwrap_or(0) >= 48_000,
        "browser audio: {audio}"
    );

    let report: Value =
        serde_json::from_slice(&std::fs::read(&report).expect("cli report")).expect("json");
    let from_browser = &report["remotes"]["browser"];
    assert!(
        from_browser["video"]["frames"].as_u64().unwrap_or(0) >= 30,
        "cli got little video from the browser: {report:#}"
    );
    assert!(
        from_browser["video"]["width"].as_u64().unwrap_or(0) > 0,
        "{report:#}"
    );
    assert!(
        from_browser["audio"]["decoded"].as_u64().unwrap_or(0) >= 100,
        "cli got little audio from the browser: {report:#}"
    );

    // The browser published simulcast: the big layer went to cli, the small one to grid.
    let small: Value =
        serde_json::from_slice(&std::fs::read(&small_report).expect("grid report")).expect("json");
    let (big_w, small_w) = (
        from_browser["video"]["width"].as_u64().unwrap_or(0),
        small["remotes"]["browser"]["video"]["width"]
            .as_u64()
            .unwrap_or(0),
    );
    println!("the browser's camera: big {big_w} wide, small {small_w} wide");
    assert!(
        small["remotes"]["browser"]["video"]["frames"]
            .as_u64()
            .unwrap_or(0)
            >= 30,
        "grid got little video from the browser: {small:#}"
    );
    assert!(
        small_w > 0 && small_w <= 320 && small_w < big_w,
        "grid asked for small and got {small_w} wide (big is {big_w}): {small:#}"
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
