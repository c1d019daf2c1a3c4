//! `roomcast bench`: measures what the targets in docs/BENCHMARKS.md are about and writes
//! the table there. Not a test: figures depend on the machine.
//!
//! - H.264 encode cost per 720p30 frame (the test pattern, release build);
//! - SFU forwarding: a `roomcast serve` child process, P publishers × S subscribers (headless
//!   engines in this process); forwarded datagrams per CPU-second of the server process,
//!   the server's own forwarding delay, end-to-end latency and time to first frame;
//! - server memory per idle participant.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use roomcast_engine::codec::{AudioProfile, EncoderConfig, H264Encoder};
use roomcast_engine::media::measure::Measured;
use roomcast_engine::media::{PatternSource, ToneSource, VideoSource, now_us};
use roomcast_engine::{Engine, EngineConfig, EnterRoomParams, percentile};
use roomcast_proto::{Role, RoomId, Scene, Stream};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Markdown file to write.
    #[arg(long, default_value = "docs/BENCHMARKS.md")]
    pub out: PathBuf,
    /// Seconds of forwarding per SFU configuration.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

/// Where the sections written by other benchmark commands begin in docs/BENCHMARKS.md.
const KEPT_SECTIONS: &str = "<!-- written by scripts/bench-render -->";

pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let mut md = String::new();
    md.push_str("# Benchmarks\n\n");
    md.push_str(&format!(
        "Made by `roomcast bench` (release build: `cargo run --release -p roomcast-cli -- bench`) on {}.\n\
         Figures depend on the machine; the targets are those of the foundation issue.\n\n",
        machine()
    ));

    eprintln!("bench: H.264 720p30 encode");
    let enc = tokio::task::spawn_blocking(encode_bench).await??;
    md.push_str("## H.264 encode (OpenH264, 1280×720 test pattern, 1.5 Mbit/s, 30 fps)\n\n");
    md.push_str("| frames | mean ms/frame | p50 | p95 | target |\n|---|---|---|---|---|\n");
    md.push_str(&format!(
        "| {} | {:.2} | {:.2} | {:.2} | ≤ 10 ms |\n\n",
        enc.len(),
        enc.iter().sum::<f64>() / enc.len() as f64,
        percentile(&enc, 50.0).unwrap_or(0.0),
        percentile(&enc, 95.0).unwrap_or(0.0)
    ));

    let server = Server::spawn()?;
    md.push_str("## SFU forwarding (server in its own process, clients on loopback)\n\n");
    md.push_str("Publishers send Opus (tone) + H.264 320×180 @ 15 fps, 300 kbit/s. ");
    md.push_str("Packets/core-s = UDP datagrams the server sent per CPU-second of the whole server process.\n\n");
    md.push_str("| publishers × subscribers | datagrams out/s | server CPU % | packets per core-s | server forwarding delay (mean) | audio p50 / p95 ms | video p50 / p95 ms | enter → first frame p50 ms |\n");
    md.push_str("|---|---|---|---|---|---|---|---|\n");
    let configs = [
        (1usize, 4usize, true),
        (2, 6, true),
        (4, 4, true),
        (16, 0, false),
    ];
    for (i, (p, s, video)) in configs.into_iter().enumerate() {
        eprintln!("bench: SFU {p} publishers × {s} subscribers (video: {video})");
        let row = sfu_bench(&server, 100 + i as u32, p, s, video, args.seconds).await?;
        md.push_str(&row);
    }
    md.push_str("\nThe last row is an audio-only room where all 16 publish and hear each other (16 × 15 streams).\n");
    md.push_str("\nTargets: ≥ 150,000 packets per core-second; loopback audio p50 ≤ 60 ms, video p50 ≤ 80 ms; enter → first frame ≤ 300 ms.\n\n");

    eprintln!("bench: memory per idle participant");
    let (n, per) = memory_bench(&server, 100).await?;
    md.push_str("## Server memory per idle participant\n\n");
    md.push_str(&format!(
        "{n} participants entered one room without media: server RSS grew by {:.1} KiB per participant.\n",
        per / 1024.0
    ));
    drop(server);

    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    // Sections other benchmarks own (scripts/bench-render) are kept as they are.
    if let Ok(old) = std::fs::read_to_string(&args.out)
        && let Some(start) = old.find(KEPT_SECTIONS)
    {
        md.push('\n');
        md.push_str(&old[start..]);
    }
    std::fs::write(&args.out, &md)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!("{md}");
    eprintln!("bench: wrote {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cpu}, {cores} cores, {}", std::env::consts::OS)
}

fn encode_bench() -> anyhow::Result<Vec<f64>> {
    let mut source = PatternSource::new(1280, 720, 30);
    let mut enc = H264Encoder::new(EncoderConfig {
        width: 1280,
        height: 720,
        fps: 30,
        bitrate_bps: 1_500_000,
    })?;
    let mut times = Vec::new();
    for i in 0..180u64 {
        let frame = source
            .next_frame(now_us())
            .context("pattern source ended")?;
        let t = Instant::now();
        enc.encode(&frame, i == 0)?;
        if i >= 30 {
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(times)
}

struct Server {
    child: Child,
    url: String,
    app: u32,
    key: String,
    _dir: TempDir,
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Server {
    fn spawn() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("roomcast-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--udp-port",
                "0",
                "--data",
            ])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start the server process")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let (mut url, mut app, mut key) = (None, None, None);
        while url.is_none() || app.is_none() {
            let Some(line) = lines.next() else {
                bail!("the server exited before it was ready")
            };
            let line = line?;
            if let Some(rest) = line.strip_prefix("Roomcast server listening on ") {
                url = rest.split_whitespace().next().map(str::to_string);
            }
            if line.starts_with("Development app") {
                let words: Vec<&str> = line.split_whitespace().collect();
                let after = |w: &str| {
                    words
                        .iter()
                        .position(|x| *x == w)
                        .and_then(|i| words.get(i + 1))
                        .map(|s| s.to_string())
                };
                app = after("SDKAppID").and_then(|s| s.parse().ok());
                key = after("key");
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Ok(Self {
            child,
            url: url.context("server url")?,
            app: app.context("dev app id")?,
            key: key.context("dev app key")?,
            _dir: TempDir(dir),
        })
    }

    fn params(&self, user: &str, room: u32) -> EnterRoomParams {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        EnterRoomParams {
            server_url: self.url.clone(),
            sdk_app_id: self.app,
            user_id: user.into(),
            user_sig: roomcast_proto::usersig::generate(
                u64::from(self.app),
                &self.key,
                user,
                now,
                3600,
                None,
            ),
            room_id: RoomId::Number(room),
            role: Role::Anchor,
            scene: Scene::VideoCall,
            hidden: false,
            invite: None,
            name: None,
            passcode: None,
        }
    }

    /// (cpu seconds, rss bytes) of the server process.
    fn usage(&self) -> (f64, f64) {
        let pid = self.child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks: f64 = fields
            .get(11)
            .and_then(|u| u.parse::<f64>().ok())
            .unwrap_or(0.0)
            + fields
                .get(12)
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(0.0);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss_kb: f64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        (ticks / 100.0, rss_kb * 1024.0)
    }

    async fn counters(&self) -> anyhow::Result<serde_json::Value> {
        let addr = self.url.trim_start_matches("http://").to_string();
        let mut stream = tokio::net::TcpStream::connect(&addr).await?;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(
                format!("GET /stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut body = String::new();
        stream.read_to_string(&mut body).await?;
        let json = body.split("\r\n\r\n").nth(1).context("no body in /stats")?;
        Ok(serde_json::from_str(json)?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn sfu_bench(
    server: &Server,
    room: u32,
    publishers: usize,
    subscribers: usize,
    video: bool,
    seconds: u64,
) -> anyhow::Result<String> {
    let config = EngineConfig {
        auto_subscribe_audio: true,
        auto_subscribe_video: true,
        // The transport is measured: the tone passes unprocessed.
        audio_effects: roomcast_engine::audio::AudioEffects::off(),
        ..EngineConfig::default()
    };
    // Each engine reads the marks of what it plays through its own sinks.
    let (mut engines, mut measures) = (Vec::new(), Vec::new());
    let mut measured_engine = || {
        let m = Measured::new();
        let mut c = config.clone();
        c.audio_sink = m.audio_sinks(c.audio_sink.clone());
        c.video_sink = m.video_sinks(c.video_sink.clone());
        measures.push(m);
        Engine::new(c)
    };
    for i in 0..publishers {
        let mut e = measured_engine();
        e.enter_room(server.params(&format!("pub{i}"), room))
            .await?;
        e.start_local_audio(Box::new(ToneSource::new(1)), AudioProfile::Default)
            .await?;
        if video {
            let source = Box::new(PatternSource::new(320, 180, 15));
            e.start_local_video(source, Stream::Main, 300_000).await?;
        }
        engines.push(e);
    }
    for i in 0..subscribers {
        let mut e = measured_engine();
        e.enter_room(server.params(&format!("sub{i}"), room))
            .await?;
        engines.push(e);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu0, _) = server.usage();
    let c0 = server.counters().await?;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (cpu1, _) = server.usage();
    let c1 = server.counters().await?;
    let wall = t0.elapsed().as_secs_f64();
    let d = |k: &str| c1[k].as_f64().unwrap_or(0.0) - c0[k].as_f64().unwrap_or(0.0);
    let out = d("datagrams_out");
    let cpu = (cpu1 - cpu0).max(0.01);
    let delay_us = d("forward_delay_us_total") / d("frames_forwarded").max(1.0);
    let (mut audio, mut video_lat, mut first) = (Vec::new(), Vec::new(), Vec::new());
    // With subscribers, only they listen; otherwise the publishers hear each other.
    let skip = if subscribers > 0 { publishers } else { 0 };
    for (e, m) in engines.iter().zip(&measures).skip(skip) {
        let s = e.statistics();
        first.extend(s.first_video_frame_ms);
        for user in s.remotes.keys() {
            audio.extend(m.audio(user));
            video_lat.extend(m.video(user, Stream::Main).latencies);
        }
    }
    for mut e in engines {
        e.exit_room().await;
    }
    let f = |v: &[f64], p: f64| {
        percentile(v, p)
            .map(|x| format!("{x:.0}"))
            .unwrap_or_else(|| "–".into())
    };
    Ok(format!(
        "| {publishers} × {} {} | {:.0} | {:.1} | {:.0} | {:.2} ms | {} / {} | {} / {} | {} |\n",
        if subscribers > 0 {
            subscribers
        } else {
            publishers - 1
        },
        if video { "" } else { "(audio only)" },
        out / wall,
        100.0 * cpu / wall,
        out / cpu,
        delay_us / 1000.0,
        f(&audio, 50.0),
        f(&audio, 95.0),
        f(&video_lat, 50.0),
        f(&video_lat, 95.0),
        f(&first, 50.0),
    ))
}

async fn memory_bench(server: &Server, n: usize) -> anyhow::Result<(usize, f64)> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, before) = server.usage();
    let mut engines = Vec::new();
    for i in 0..n {
        let mut e = Engine::new(EngineConfig::default());
        e.enter_room(server.params(&format!("idle{i}"), 999))
            .await?;
        engines.push(e);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, after) = server.usage();
    for mut e in engines {
        e.exit_room().await;
    }
    Ok((n, (after - before) / n as f64))
}
