//! `roomcast process-video`: runs a Y4M clip through the engine's camera chain (beauty,
//! colour filter, mirror) and writes what a call would send. The effect options are shared
//! with `roomcast join`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use roomcast_engine::media::{VideoSink, VideoSource, Y4mSink, Y4mSource};
use roomcast_engine::percentile;
use roomcast_engine::video::{Background, BeautyStyle, VideoChain, VideoEffects};
use serde_json::json;

/// Video effect options, as `process-video` and `join` take them.
#[derive(Args, Debug, Clone, Default)]
pub struct VideoEffectArgs {
    /// Beauty style: smooth or natural (with --smooth 5 unless given).
    #[arg(long, value_name = "smooth|natural")]
    pub beauty: Option<BeautyStyle>,
    /// Skin smoothing level, 0..=9.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=9))]
    pub smooth: Option<u8>,
    /// Whitening level, 0..=9.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=9))]
    pub whiten: u8,
    /// Ruddiness level, 0..=9.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=9))]
    pub ruddy: u8,
    /// Sharpness enhancement.
    #[arg(long)]
    pub sharpen: bool,
    /// Colour filter: a PNG LUT image (512×512 lookup or n²×n strip) or a bundled look
    /// (warm, cool, vivid, fade, mono).
    #[arg(long, value_name = "FILE.png|LOOK")]
    pub lut: Option<String>,
    /// Filter strength, 0..=1.
    #[arg(long, default_value_t = 0.8, value_parser = parse_unit)]
    pub lut_strength: f32,
    /// Background: blur:LEVEL (1..=9), or a PNG or JPEG picture behind the person.
    #[arg(long, value_name = "blur:LEVEL|FILE.png", value_parser = parse_background)]
    pub background: Option<Background>,
    /// Mirror what is sent.
    #[arg(long)]
    pub mirror: bool,
}

fn parse_unit(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?}: give a number from 0 to 1")),
    }
}

fn parse_background(s: &str) -> Result<Background, String> {
    match s.strip_prefix("blur:") {
        Some(level) => match level.parse::<u8>() {
            Ok(level @ 1..=9) => Ok(Background::Blur { level }),
            _ => Err(format!("blur level {level:?}: use 1..9")),
        },
        None if s == "none" => Ok(Background::None),
        None => Ok(Background::Image { path: s.into() }),
    }
}

impl VideoEffectArgs {
    pub fn effects(&self) -> VideoEffects {
        VideoEffects {
            beauty_style: self.beauty.unwrap_or_default(),
            smoothness: self
                .smooth
                .unwrap_or(if self.beauty.is_some() { 5 } else { 0 }),
            whiteness: self.whiten,
            ruddiness: self.ruddy,
            sharpen: self.sharpen,
            filter: self.lut.clone(),
            filter_strength: self.lut_strength,
            background: self.background.clone().unwrap_or_default(),
            mirror_encoded: self.mirror,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ProcessVideoArgs {
    /// The clip: a 4:2:0 YUV4MPEG2 file.
    #[arg(long = "in")]
    pub input: PathBuf,
    /// Where to write the processed clip (Y4M, same size and frame rate).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub effects: VideoEffectArgs,
}

pub fn run(args: ProcessVideoArgs) -> anyhow::Result<ExitCode> {
    let effects = args.effects.effects();
    let mut chain = VideoChain::new(effects).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut source = Y4mSource::open(&args.input).map_err(|e| anyhow::anyhow!("--in: {e}"))?;
    let (width, height) = source.size();
    let fps = source.fps();
    let mut sink = args
        .out
        .as_ref()
        .map(|p| {
            Y4mSink::create(p)
                .map(|s| s.with_fps(fps))
                .with_context(|| format!("--out {}", p.display()))
        })
        .transpose()?;
    let mut ms = Vec::new();
    while let Some(mut frame) = source.next_frame(0) {
        let started = Instant::now();
        chain.process(&mut frame);
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        if let Some(s) = &mut sink {
            s.write(&frame).context("--out")?;
        }
        if ms.len() % 300 == 0 {
            eprintln!("process-video: {} frames", ms.len());
        }
    }
    if let Some(s) = &mut sink {
        s.finish().context("--out")?;
    }
    if ms.is_empty() {
        anyhow::bail!("--in {}: the clip has no frames", args.input.display());
    }
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let report = json!({
        "frames": ms.len(),
        "width": width,
        "height": height,
        "fps": fps,
        "ms_per_frame": round(ms.iter().sum::<f64>() / ms.len() as f64),
        "ms_p95": round(percentile(&ms, 95.0).unwrap_or(0.0)),
        "effects": chain.effects(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
