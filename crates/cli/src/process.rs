//! `roomcast process`: runs a recorded microphone (and what the speaker played meanwhile)
//! through the engine's capture chain in 10 ms steps and writes what a call would send.
//! The effect options are shared with `roomcast join`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use roomcast_engine::audio::{
    AudioEffects, CaptureChain, MusicParam, NoiseSuppression, Reverb, VoiceChanger, decode_file,
    process_offline,
};
use roomcast_engine::media::{read_wav_mono, write_wav_mono};
use serde_json::json;

/// Audio effect options, as `process` and `join` take them.
#[derive(Args, Debug, Clone, Default)]
pub struct EffectArgs {
    /// Acoustic echo cancellation.
    #[arg(long)]
    pub aec: bool,
    /// Noise suppression: classic (WebRTC) or ai (RNNoise).
    #[arg(long, value_name = "classic|ai")]
    pub ns: Option<NoiseSuppression>,
    /// Automatic gain control.
    #[arg(long)]
    pub agc: bool,
    /// High-pass filter (rumble below ~80 Hz).
    #[arg(long)]
    pub high_pass: bool,
    /// child, little-girl, uncle, heavy-metal, cold, foreigner, trapped-beast, fatso,
    /// strong-current, heavy-machinery, ethereal.
    #[arg(long, value_name = "TYPE")]
    pub voice_changer: Option<VoiceChanger>,
    /// ktv, small-room, great-hall, deep, loud, metallic, magnetic.
    #[arg(long, value_name = "TYPE")]
    pub reverb: Option<Reverb>,
    /// Microphone volume, 0..=150 (100 = unchanged).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u8).range(0..=150))]
    pub capture_volume: u8,
    /// Background music mixed into what is sent (MP3, AAC/M4A, FLAC, OGG, WAV).
    #[arg(long, value_name = "FILE")]
    pub bgm: Option<PathBuf>,
}

impl EffectArgs {
    pub fn effects(&self) -> AudioEffects {
        AudioEffects {
            echo_cancellation: self.aec,
            auto_gain: self.agc,
            noise_suppression: self.ns.unwrap_or(NoiseSuppression::Off),
            high_pass: self.high_pass,
            capture_volume: self.capture_volume,
            voice_changer: self.voice_changer.unwrap_or_default(),
            reverb: self.reverb.unwrap_or_default(),
            ..AudioEffects::off()
        }
    }

    /// The background music as a published track (id 1), looped.
    pub fn bgm_param(&self) -> Option<MusicParam> {
        self.bgm.as_ref().map(|path| MusicParam {
            loop_count: u32::MAX,
            ..MusicParam::new(1, path.clone())
        })
    }
}

#[derive(Args, Debug, Clone)]
pub struct ProcessArgs {
    /// The recorded microphone: 48 kHz 16-bit WAV (stereo is averaged).
    #[arg(long)]
    pub mic: PathBuf,
    /// What the speaker played meanwhile (the echo canceller's reference), same format.
    #[arg(long)]
    pub far: Option<PathBuf>,
    /// Where to write what would be sent (mono 48 kHz WAV).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub effects: EffectArgs,
    /// Background music volume in what is sent, 0..=100.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub bgm_volume: u8,
}

pub fn run(args: ProcessArgs) -> anyhow::Result<ExitCode> {
    let mic = read_wav_mono(&args.mic).map_err(|e| anyhow::anyhow!("--mic: {e}"))?;
    let far = args
        .far
        .as_ref()
        .map(|p| read_wav_mono(p).map_err(|e| anyhow::anyhow!("--far: {e}")))
        .transpose()?;
    let mut chain = CaptureChain::new(args.effects.effects());
    if let Some(param) = args.effects.bgm_param() {
        let pcm = decode_file(&param.path).map_err(|e| anyhow::anyhow!("--bgm: {e}"))?;
        let music = chain.music();
        music.start(&param, Arc::from(pcm));
        music
            .set_volume(param.id, Some(args.bgm_volume), None)
            .map_err(|e| anyhow::anyhow!("--bgm-volume: {e}"))?;
    }
    let started = Instant::now();
    let out = process_offline(&mut chain, &mic, far.as_deref());
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(path) = &args.out {
        write_wav_mono(path, &out).with_context(|| format!("--out {}", path.display()))?;
    }
    let frames = mic.len().div_ceil(480).max(1);
    let report = json!({
        "frames": frames,
        "seconds": mic.len() as f64 / 48_000.0,
        "ms_per_frame": (elapsed * 1000.0 / frames as f64 * 1000.0).round() / 1000.0,
        "erle_db": chain.erle_db().map(|v| (v * 10.0).round() / 10.0),
        "effects": chain.effects(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
