//! `roomcast join`: a headless participant. Publishes synthetic or file sources, receives
//! everyone, optionally records, and reports what arrived and how late.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use roomcast_engine::codec::AudioProfile;
use roomcast_engine::media::measure::{Measured, VideoMarks};
use roomcast_engine::media::{
    AudioFrame, AudioSink, AudioSource, MediaError, NullSink, PatternSource, ToneSource,
    VideoFrame, VideoSink, VideoSource, WavSink, WavSource, Y4mSink, Y4mSource, now_us,
};
use roomcast_engine::stats::{AudioStats, VideoStats};
use roomcast_engine::video::SmallStream;
use roomcast_engine::{
    Engine, EngineConfig, EngineError, EngineEvent, EnterRoomParams, Statistics, percentile,
};
use roomcast_proto::invite::{self, InviteLink};
use roomcast_proto::{ErrorCode, Role, RoomId, Scene, Stream, UserId, VideoStreamType};
use serde_json::{Value, json};

use crate::invite::MeetingLog;
use crate::process::EffectArgs;

#[derive(Args, Debug, Clone)]
pub struct JoinArgs {
    /// Room server, e.g. http://127.0.0.1:7880
    #[arg(long, required_unless_present = "invite")]
    pub server: Option<String>,
    #[arg(long, required_unless_present = "invite")]
    pub app: Option<u32>,
    /// The app's secret key (a UserSig is made from it) …
    #[arg(long, conflicts_with = "sig", required_unless_present_any = ["sig", "invite"])]
    pub key: Option<String>,
    /// … or a ready UserSig …
    #[arg(long)]
    pub sig: Option<String>,
    /// … or an invite link (from `roomcast invite` or the app's "Copy invite link"): it names
    /// the server, the app, the room and the role.
    #[arg(long, conflicts_with_all = ["key", "sig", "server", "app", "room"])]
    pub invite: Option<String>,
    /// The meeting's passcode, if it has one.
    #[arg(long)]
    pub passcode: Option<String>,
    /// Room number or name.
    #[arg(long, required_unless_present = "invite")]
    pub room: Option<String>,
    /// UserID, or with --invite any display name (a UserID is derived from it).
    #[arg(long)]
    pub user: String,
    /// Send this chat line once in the room.
    #[arg(long)]
    pub say: Option<String>,
    /// Raise a hand once in the room.
    #[arg(long)]
    pub raise_hand: bool,
    #[arg(long, default_value = "anchor", value_parser = parse_role)]
    pub role: Role,
    #[arg(long, default_value = "videocall", value_parser = parse_scene)]
    pub scene: Scene,
    /// `tone`, a 48 kHz WAV file, or `none`.
    #[arg(long, default_value = "tone")]
    pub audio: String,
    /// `pattern`, a Y4M file, or `none`.
    #[arg(long, default_value = "pattern")]
    pub video: String,
    /// Test pattern size, WIDTHxHEIGHT.
    #[arg(long, default_value = "640x360", value_parser = parse_size)]
    pub video_size: (u32, u32),
    #[arg(long, default_value_t = 15)]
    pub fps: u32,
    #[arg(long, default_value_t = 600)]
    pub video_kbps: u32,
    /// Also share a "screen" (the test pattern at WIDTHxHEIGHT) on the sub stream.
    #[arg(long, value_parser = parse_size)]
    pub share: Option<(u32, u32)>,
    #[arg(long, default_value_t = 10)]
    pub share_fps: u32,
    #[arg(long, default_value_t = 2000)]
    pub share_kbps: u32,
    /// Record what is received: DIR/<user>.wav and DIR/<user>-<stream>.y4m
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Seconds to stay in the room.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Write the JSON report here (default: stdout).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// What the published audio goes through (all off unless given).
    #[command(flatten)]
    pub effects: EffectArgs,
    #[command(flatten)]
    pub video_effects: crate::process_video::VideoEffectArgs,
    /// Also publish a small camera layer (320 wide, 15 fps, 100 kbit/s) as simulcast.
    #[arg(long)]
    pub small_stream: bool,
    /// Which layer of others' cameras to receive when they publish both.
    #[arg(long, value_name = "small|big")]
    pub want: Option<VideoStreamType>,
    /// Background music volume in what is published, 0..=100.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub bgm_publish_volume: u8,
}

pub fn parse_role(s: &str) -> Result<Role, String> {
    match s {
        "anchor" => Ok(Role::Anchor),
        "audience" => Ok(Role::Audience),
        _ => Err("expected anchor or audience".into()),
    }
}

fn parse_scene(s: &str) -> Result<Scene, String> {
    match s {
        "videocall" => Ok(Scene::VideoCall),
        "audiocall" => Ok(Scene::AudioCall),
        "live" => Ok(Scene::Live),
        "voicechatroom" => Ok(Scene::VoiceChatRoom),
        _ => Err("expected videocall, audiocall, live or voicechatroom".into()),
    }
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or("expected WIDTHxHEIGHT, e.g. 640x360")?;
    let w: u32 = w.parse().map_err(|_| "bad width")?;
    let h: u32 = h.parse().map_err(|_| "bad height")?;
    if w < 16 || h < 16 || w % 2 == 1 || h % 2 == 1 || w > 3840 || h > 2160 {
        return Err("width and height must be even, 16..=3840 x 16..=2160".into());
    }
    Ok((w, h))
}

/// Where and as whom to enter, from either the key/sig options or an invite link.
fn params(args: &JoinArgs) -> anyhow::Result<EnterRoomParams> {
    if let Some(link) = &args.invite {
        let link = InviteLink::parse(link).map_err(|e| anyhow::anyhow!("--invite: {e}"))?;
        let grant = invite::decode(&link.grant).map_err(|e| anyhow::anyhow!("--invite: {e}"))?;
        let user_id = match UserId::new(args.user.clone()) {
            Ok(id) => id.as_str().to_string(),
            Err(_) => invite::user_id_for(&args.user, &crate::invite::random_suffix(6)),
        };
        return Ok(EnterRoomParams {
            server_url: link.client_server().to_string(),
            sdk_app_id: grant.app,
            user_id,
            user_sig: String::new(),
            room_id: grant.room,
            role: grant.role,
            scene: args.scene,
            hidden: false,
            invite: Some(link.grant),
            name: Some(args.user.clone()),
            passcode: args.passcode.clone(),
        });
    }
    let missing = |what: &str| anyhow::anyhow!("give {what} (or --invite)");
    let app = args.app.ok_or_else(|| missing("--app"))?;
    let room = args.room.as_deref().ok_or_else(|| missing("--room"))?;
    let room = RoomId::parse(room).map_err(|e| anyhow::anyhow!("--room: {e}"))?;
    let sig = match (&args.sig, &args.key) {
        (Some(sig), _) => sig.clone(),
        (None, Some(key)) => roomcast_proto::usersig::generate(
            u64::from(app),
            key,
            &args.user,
            crate::invite::unix_now(),
            86_400,
            None,
        ),
        (None, None) => anyhow::bail!("give --key or --sig (or --invite)"),
    };
    Ok(EnterRoomParams {
        server_url: args.server.clone().ok_or_else(|| missing("--server"))?,
        sdk_app_id: app,
        user_id: args.user.clone(),
        user_sig: sig,
        room_id: room,
        role: args.role,
        scene: args.scene,
        hidden: false,
        invite: None,
        name: None,
        passcode: args.passcode.clone(),
    })
}

pub async fn run(args: JoinArgs) -> anyhow::Result<ExitCode> {
    if let Some(link) = &args.invite
        && let Err(e) = InviteLink::parse(link)
    {
        // The same code the server gives for a link it cannot verify.
        eprintln!("error {}: --invite: {e}", ErrorCode::InviteInvalid.code());
        return Ok(ExitCode::from(2));
    }
    let params = params(&args)?;
    // Open sources first: a missing file is an error before anyone sees us enter.
    let audio = audio_source(&args.audio)?;
    let video = video_source(&args)?;
    if let Some(dir) = &args.record {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let measured = Measured::new();
    let mut config = sink_config(args.record.clone(), &measured);
    config.audio_effects = args.effects.effects();
    let mut engine = Engine::new(config);
    engine
        .set_video_effects(args.video_effects.effects())
        .map_err(|e| anyhow::anyhow!("video effects: {e}"))?;
    if args.small_stream {
        engine.enable_small_video_stream(Some(SmallStream::default()));
    }
    if let Some(param) = args.effects.bgm_param() {
        let id = param.id;
        engine
            .start_play_music(param)
            .await
            .map_err(|e| anyhow::anyhow!("--bgm: {e}"))?;
        engine
            .set_music_publish_volume(id, args.bgm_publish_volume)
            .map_err(|e| anyhow::anyhow!("--bgm-publish-volume: {e}"))?;
    }
    if let Err(e) = engine.enter_room(params).await {
        return Ok(failed(&e));
    }
    let mut log = MeetingLog::new(std::time::Instant::now());
    if let Some(text) = &args.say
        && let Err(e) = engine.send_chat(text).await
    {
        return Ok(failed(&e));
    }
    if args.raise_hand
        && let Err(e) = engine.raise_hand(true).await
    {
        return Ok(failed(&e));
    }
    // Audience members watch; in call scenes the server makes everyone an anchor.
    let publish = engine.role() == Role::Anchor;
    if publish
        && let Some(source) = audio
        && let Err(e) = engine
            .start_local_audio(source, AudioProfile::Default)
            .await
    {
        return Ok(failed(&e));
    }
    if publish
        && let Some(source) = video
        && let Err(e) = engine
            .start_local_video(source, Stream::Main, args.video_kbps * 1000)
            .await
    {
        return Ok(failed(&e));
    }
    if publish
        && let Some((w, h)) = args.share
        && let Err(e) = engine
            .start_local_video(
                Box::new(PatternSource::new(w, h, args.share_fps.clamp(1, 60))),
                Stream::Sub,
                args.share_kbps * 1000,
            )
            .await
    {
        return Ok(failed(&e));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(args.duration.max(0.0));
    let mut roster = Roster::default();
    let mut removed = None;
    loop {
        match tokio::time::timeout_at(deadline, engine.next_event()).await {
            Err(_) | Ok(None) => break,
            Ok(Some(EngineEvent::Removed { code, message })) => {
                eprintln!("removed from the room: error {}: {message}", code.code());
                removed = Some(code.code());
                break;
            }
            Ok(Some(EngineEvent::ExitRoom)) => break,
            Ok(Some(EngineEvent::Statistics(s))) => tracing::debug!("{s:?}"),
            Ok(Some(EngineEvent::Volumes(_) | EngineEvent::NetworkQuality(_))) => {}
            Ok(Some(e)) => {
                if let (Some(want), EngineEvent::RemoteUserEnter { user, .. }) = (args.want, &e)
                    && let Err(err) = engine
                        .set_remote_video_stream_type(user.clone(), want)
                        .await
                {
                    eprintln!("--want: {err}");
                }
                roster.observe(&e);
                log.observe(&e);
                tracing::info!("{e:?}");
            }
        }
    }
    let mut stats = engine.statistics();
    roster.count_stalls(&mut stats, now_us());
    engine.exit_room().await;
    let mut report = report(&stats, &measured);
    roster.add_to(&mut report);
    log.add_to(&mut report);
    report["removed"] = json!(removed);
    let text = serde_json::to_string_pretty(&report)?;
    match &args.report {
        Some(path) => std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => println!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn failed(e: &EngineError) -> ExitCode {
    match e {
        EngineError::Server { code, message } => eprintln!("error {}: {message}", code.code()),
        other => eprintln!("error: {other}"),
    }
    ExitCode::from(2)
}

fn audio_source(spec: &str) -> anyhow::Result<Option<Box<dyn AudioSource>>> {
    Ok(match spec {
        "none" => None,
        "tone" => Some(Box::new(ToneSource::new(1))),
        path => Some(Box::new(
            WavSource::open(path.as_ref()).map_err(|e| anyhow::anyhow!("--audio {path}: {e}"))?,
        )),
    })
}

fn video_source(args: &JoinArgs) -> anyhow::Result<Option<Box<dyn VideoSource>>> {
    Ok(match args.video.as_str() {
        "none" => None,
        "pattern" => Some(Box::new(PatternSource::new(
            args.video_size.0,
            args.video_size.1,
            args.fps.clamp(1, 60),
        ))),
        path => Some(Box::new(
            Y4mSource::open(path.as_ref()).map_err(|e| anyhow::anyhow!("--video {path}: {e}"))?,
        )),
    })
}

/// Records remote media under `record` if given; `measured` reads the marks of what plays.
fn sink_config(record: Option<PathBuf>, measured: &Arc<Measured>) -> EngineConfig {
    let audio_dir = record.clone();
    let audio_files = Files::default();
    let video_files = Files::default();
    EngineConfig {
        auto_subscribe_audio: true,
        auto_subscribe_video: true,
        audio_sink: measured.audio_sinks(Arc::new(move |user: &str| -> Box<dyn AudioSink> {
            let Some(dir) = &audio_dir else {
                return Box::new(NullSink);
            };
            let path = dir.join(format!("{user}.wav"));
            match audio_files.open(&path, || {
                WavSink::create(&path, 2).map(|s| Box::new(s) as _)
            }) {
                Some(s) => Box::new(s),
                None => Box::new(NullSink),
            }
        })),
        video_sink: measured.video_sinks(Arc::new(
            move |user: &str, stream: Stream| -> Box<dyn VideoSink> {
                let name = match stream {
                    Stream::Main => "main",
                    Stream::Sub => "sub",
                };
                let Some(dir) = &record else {
                    return Box::new(NullSink);
                };
                let path = dir.join(format!("{user}-{name}.y4m"));
                match video_files.open(&path, || Y4mSink::create(&path).map(|s| Box::new(s) as _)) {
                    Some(s) => Box::new(s),
                    None => Box::new(NullSink),
                }
            },
        )),
        audio_effects: roomcast_engine::audio::AudioEffects::off(),
        headless_playout: true,
    }
}

fn round(v: Option<f64>) -> Value {
    v.map(|x| json!((x * 10.0).round() / 10.0))
        .unwrap_or(Value::Null)
}

fn audio_report(a: &AudioStats, latencies: &[f64]) -> Value {
    json!({
        "frames": a.frames,
        "decoded": a.decoded,
        "fec_recovered": a.fec_recovered,
        "concealed": a.concealed,
        "concealed_ratio": (a.concealed_ratio() * 10_000.0).round() / 10_000.0,
        "packets": a.packets,
        "bursts": latencies.len(),
        "jitter_delay_ms": round(Some(a.jitter_delay_ms)),
        "jitter_target_ms": round(Some(a.jitter_target_ms)),
        "latency_ms_p50": round(percentile(latencies, 50.0)),
        "latency_ms_p95": round(percentile(latencies, 95.0)),
    })
}

fn video_report(v: &VideoStats, m: &VideoMarks) -> Value {
    json!({
        "frames": v.frames,
        "received": v.received,
        "width": v.width,
        "height": v.height,
        "gaps": m.gaps,
        "out_of_order": m.out_of_order,
        "marks": m.latencies.len(),
        "decode_errors": v.decode_errors,
        "freezes": v.freezes,
        "max_freeze_ms": round(Some(v.max_freeze_ms)),
        "playout_delay_ms": round(Some(v.playout_delay_ms)),
        "latency_ms_p50": round(percentile(&m.latencies, 50.0)),
        "latency_ms_p95": round(percentile(&m.latencies, 95.0)),
    })
}

pub fn report(s: &Statistics, measured: &Measured) -> Value {
    let mut remotes = BTreeMap::new();
    for (user, r) in &s.remotes {
        let mut o = serde_json::Map::new();
        if let Some(a) = &r.audio {
            o.insert("audio".into(), audio_report(a, &measured.audio(user)));
        }
        if let Some(v) = &r.video {
            let m = measured.video(user, Stream::Main);
            o.insert("video".into(), video_report(v, &m));
        }
        if let Some(v) = &r.sub_video {
            let m = measured.video(user, Stream::Sub);
            o.insert("sub_video".into(), video_report(v, &m));
        }
        remotes.insert(user.clone(), Value::Object(o));
    }
    json!({
        "enter_room_ms": round(s.enter_room_ms),
        "first_video_frame_ms": round(s.first_video_frame_ms),
        "sent": {
            "audio_packets": s.audio_packets_sent,
            "video_frames": s.video_frames_sent,
            "small_video_frames": s.small_frames_sent,
            "keyframes": s.keyframes_sent,
            "camera_limit_kbps": s.camera_limit_bps.map(|b| b / 1000),
            "camera_width": s.camera_width,
            "camera_height": s.camera_height,
        },
        "reconnects": s.reconnects,
        "remotes": remotes,
    })
}

/// What the room told us about each remote user's streams being turned on and off (e.g. a
/// user muting their microphone), for the report.
#[derive(Default)]
struct Roster {
    users: BTreeMap<String, serde_json::Map<String, Value>>,
}

impl Roster {
    fn observe(&mut self, e: &EngineEvent) {
        let (user, key, available) = match e {
            EngineEvent::UserAudioAvailable { user, available } => (user, "audio", *available),
            EngineEvent::UserVideoAvailable {
                user,
                stream: Stream::Main,
                available,
            } => (user, "video", *available),
            EngineEvent::UserVideoAvailable {
                user,
                stream: Stream::Sub,
                available,
            } => (user, "sub_video", *available),
            _ => return,
        };
        let entry = self.users.entry(user.as_str().to_string()).or_default();
        entry.insert(format!("{key}_available"), json!(available));
        if !available {
            let n = entry
                .get(&format!("{key}_off_events"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            entry.insert(format!("{key}_off_events"), json!(n + 1));
        }
    }

    /// Counts, for each remote video still available at `now_us`, the time since its last
    /// frame as a gap (`VideoStats::until`): a picture that stopped for good is a freeze.
    fn count_stalls(&self, stats: &mut Statistics, now_us: u64) {
        for (user, r) in stats.remotes.iter_mut() {
            let Some(fields) = self.users.get(user) else {
                continue;
            };
            let on = |key: &str| fields.get(key).and_then(Value::as_bool) == Some(true);
            for (key, video) in [
                ("video_available", &mut r.video),
                ("sub_video_available", &mut r.sub_video),
            ] {
                if on(key)
                    && let Some(v) = video.as_mut()
                {
                    *v = v.until(now_us);
                }
            }
        }
    }

    /// Adds `available`/`off_events` fields under `remotes.<user>`.
    fn add_to(&self, report: &mut Value) {
        for (user, fields) in &self.users {
            let remote = &mut report["remotes"][user.as_str()];
            if remote.is_null() {
                *remote = json!({});
            }
            for (k, v) in fields {
                remote[k.as_str()] = v.clone();
            }
        }
    }
}

/// The recordings of one run, one file per remote stream: a user who leaves and comes back,
/// or whose stream resumes after a reconnection, goes on in the same file instead of
/// replacing it. Files are finished when the run ends.
struct Files<S: ?Sized>(Arc<Mutex<HashMap<PathBuf, Kept<S>>>>);

impl<S: ?Sized> Default for Files<S> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<S: ?Sized> Files<S> {
    fn open(
        &self,
        path: &std::path::Path,
        create: impl FnOnce() -> Result<Box<S>, MediaError>,
    ) -> Option<Kept<S>> {
        let mut files = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kept) = files.get(path) {
            return Some(Kept(kept.0.clone()));
        }
        match create() {
            Ok(sink) => {
                let kept = Kept(Arc::new(Mutex::new(sink)));
                files.insert(path.to_path_buf(), Kept(kept.0.clone()));
                Some(kept)
            }
            Err(e) => {
                tracing::error!("cannot record to {}: {e}", path.display());
                None
            }
        }
    }
}

struct Kept<S: ?Sized>(Arc<Mutex<Box<S>>>);

impl AudioSink for Kept<dyn AudioSink> {
    fn write(&mut self, frame: &AudioFrame) -> Result<(), MediaError> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write(frame)
    }
}

impl VideoSink for Kept<dyn VideoSink> {
    fn write(&mut self, frame: &VideoFrame) -> Result<(), MediaError> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write(frame)
    }
}
