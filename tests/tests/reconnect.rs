//! Reconnection through real sockets and the real binaries: two `roomcast join` processes
//! talk while the room server restarts under them (same ports, same database). Both enter
//! again by themselves and the audio comes back; the finer cases (a Wi-Fi drop, refusals,
//! the 90 s window) run on the virtual network in `weak_network.rs`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use roomcast_engine::media::{AudioSource, WavSource};
use roomcast_server::{RunningServer, ServerConfig};
use serde_json::Value;

fn free_port() -> u16 {
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").expect("probe");
    let port = probe.local_addr().expect("addr").port();
    let tcp = std::net::TcpListener::bind(("127.0.0.1", port));
    if tcp.is_ok() { port } else { free_port() }
}

/// The RMS of the recording between `from` and `to` seconds.
fn rms(wav: &std::path::Path, from: f64, to: f64) -> f64 {
    let mut src = WavSource::open(wav).expect("recorded WAV");
    let (mut t, mut sum, mut n) = (0.0, 0.0, 0usize);
    while let Some(frame) = src.next_frame(0) {
        let per_second = f64::from(frame.sample_rate) * f64::from(frame.channels);
        let secs = frame.samples.len() as f64 / per_second;
        if t >= from && t + secs <= to {
            let square = |s: i16| (f64::from(s) / 32768.0).powi(2);
            sum += frame.samples.iter().map(|&s| square(s)).sum::<f64>();
            n += frame.samples.len();
        }
        t += secs;
    }
    (sum / n.max(1) as f64).sqrt()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_users_enter_again_after_a_server_restart() {
    let dir = roomcast_tests::temp_dir("reconnect");
    let port = free_port();
    let config = ServerConfig {
        listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        udp_port: port,
        data_dir: Some(dir.join("db")),
        ..ServerConfig::ephemeral()
    };
    let server = RunningServer::start(config.clone()).await.expect("server");
    let (url, app, key) = (
        server.url(),
        server.dev_app.id.get().to_string(),
        server.dev_app.secret_key.clone(),
    );
    let run = |user: &'static str| {
        let (url, app, key, dir) = (url.clone(), app.clone(), key.clone(), dir.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(roomcast_tests::roomcast_bin())
                .args(["join", "--server", &url, "--app", &app, "--key", &key])
                .args(["--room", "7", "--user", user, "--video", "none"])
                .args(["--duration", "14", "--record"])
                .arg(dir.join(user))
                .arg("--report")
                .arg(dir.join(format!("{user}.json")))
                .output()
                .expect("runs")
        })
    };
    let (a, b) = (run("alice"), run("bob"));
    tokio::time::sleep(Duration::from_secs(5)).await;
    server.shutdown().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server = RunningServer::start(config)
        .await
        .expect("the server starts again");
    let (a, b) = (a.await.expect("alice"), b.await.expect("bob"));
    server.shutdown().await;
    for (user, other, out) in [("alice", "bob", a), ("bob", "alice", b)] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{user}: {stderr}");
        let report: Value = serde_json::from_slice(
            &std::fs::read(dir.join(format!("{user}.json"))).expect("report"),
        )
        .expect("JSON");
        assert_eq!(
            report["reconnects"].as_u64(),
            Some(1),
            "{user}: {report:#}\n{stderr}"
        );
        // One recording across the restart, with the other's tone before and after it.
        let wav = dir.join(user).join(format!("{other}.wav"));
        let (before, after) = (rms(&wav, 2.0, 4.0), rms(&wav, 10.0, 12.0));
        println!("{user} hears {other}: RMS {before:.3} before, {after:.3} after the restart");
        assert!(before > 0.01, "{user}: silent before the restart");
        assert!(after > 0.01, "{user}: {other}'s audio did not come back");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
