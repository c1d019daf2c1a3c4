//! Background music and sound effects (TRTC's `startPlayMusic` family): files decoded
//! with symphonia (MP3, AAC/M4A, FLAC, OGG Vorbis, WAV) to 48 kHz mono, then played from
//! memory so seeking is exact and the audio thread never touches the disk. Each track has
//! its own publish volume (into the room) and playout volume (heard locally), pitch and
//! speed; several play at once (music plus applause).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::pitch::PitchShifter;
use crate::media::SAMPLE_RATE;

const PER_MS: f64 = SAMPLE_RATE as f64 / 1000.0;

/// TRTC's `AudioMusicParam`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MusicParam {
    /// Chosen by the caller; starting an id that plays replaces it.
    pub id: i32,
    pub path: PathBuf,
    /// Extra times to play after the first (0 = once).
    #[serde(default)]
    pub loop_count: u32,
    /// Mixed into what the room hears (otherwise only heard locally).
    #[serde(default)]
    pub publish: bool,
    /// A short sound effect (applause…); accepted for TRTC compatibility: every file is
    /// decoded to memory.
    #[serde(default)]
    pub is_short_file: bool,
    #[serde(default)]
    pub start_time_ms: u64,
    /// 0 = to the end of the file.
    #[serde(default)]
    pub end_time_ms: u64,
}

impl MusicParam {
    /// Played once from start to end and published: the common case.
    pub fn new(id: i32, path: impl Into<PathBuf>) -> Self {
        Self {
            id,
            path: path.into(),
            loop_count: 0,
            publish: true,
            is_short_file: false,
            start_time_ms: 0,
            end_time_ms: 0,
        }
    }
}

/// What `music_state` reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MusicState {
    pub id: i32,
    pub position_ms: u64,
    pub duration_ms: u64,
    pub paused: bool,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum MusicError {
    #[error("cannot open music file {path}: {reason}; check the path")]
    Open { path: String, reason: String },
    #[error(
        "cannot play {path}: {reason}; supported formats are MP3, AAC/M4A, FLAC, OGG Vorbis and WAV"
    )]
    Unsupported { path: String, reason: String },
    #[error("music file {path} holds no audio")]
    Empty { path: String },
    #[error("no music with id {0} is playing")]
    NotPlaying(i32),
    #[error("{0}")]
    BadParam(String),
}

/// Decodes a whole file to 48 kHz mono.
pub fn decode_file(path: &Path) -> Result<Vec<f32>, MusicError> {
    let shown = path.display().to_string();
    let unsupported = |e: SymphoniaError| MusicError::Unsupported {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(|e| MusicError::Open {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(unsupported)?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| MusicError::Empty {
            path: shown.clone(),
        })?;
    let track_id = track.id;
    let mut rate = track.codec_params.sample_rate.unwrap_or(SAMPLE_RATE);
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(unsupported)?;
    let mut mono = Vec::new();
    let mut buffer: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(unsupported(e)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A damaged packet: skip it, as players do.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => return Err(unsupported(e)),
        };
        let spec = *decoded.spec();
        rate = spec.rate;
        let channels = spec.channels.count().max(1);
        let buf = match &mut buffer {
            Some(b) if b.capacity() >= decoded.capacity() * channels => b,
            _ => buffer.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        buf.copy_interleaved_ref(decoded);
        mono.extend(
            buf.samples()
                .chunks(channels)
                .map(|c| c.iter().sum::<f32>() / channels as f32),
        );
    }
    if mono.is_empty() {
        return Err(MusicError::Empty { path: shown });
    }
    Ok(resample(&mono, rate))
}

/// Whole-buffer linear resampling to 48 kHz.
fn resample(input: &[f32], from_hz: u32) -> Vec<f32> {
    if from_hz == SAMPLE_RATE || from_hz == 0 {
        return input.to_vec();
    }
    let step = f64::from(from_hz) / f64::from(SAMPLE_RATE);
    let n = ((input.len() as f64) / step) as usize;
    (0..n)
        .map(|i| interpolate(input, i as f64 * step))
        .collect()
}

fn interpolate(pcm: &[f32], pos: f64) -> f32 {
    let i = pos as usize;
    let frac = (pos - i as f64) as f32;
    let a = pcm.get(i).copied().unwrap_or(0.0);
    let b = pcm.get(i + 1).copied().unwrap_or(a);
    a + (b - a) * frac
}

/// One playing file.
struct Track {
    pcm: Arc<[f32]>,
    start: f64,
    end: f64,
    pos: f64,
    loops_left: u32,
    publish: bool,
    paused: bool,
    publish_volume: f32,
    playout_volume: f32,
    speed: f64,
    pitch_semitones: f32,
    shifter: PitchShifter,
    scratch: Vec<f32>,
}

impl Track {
    fn new(param: &MusicParam, pcm: Arc<[f32]>) -> Self {
        let len = pcm.len() as f64;
        let start = (param.start_time_ms as f64 * PER_MS).min(len);
        let end = match param.end_time_ms {
            0 => len,
            ms => (ms as f64 * PER_MS).clamp(start, len),
        };
        Self {
            pcm,
            start,
            end,
            pos: start,
            loops_left: param.loop_count,
            publish: param.publish,
            paused: false,
            publish_volume: 1.0,
            playout_volume: 1.0,
            speed: 1.0,
            pitch_semitones: 0.0,
            shifter: PitchShifter::new(SAMPLE_RATE),
            scratch: vec![0.0; super::FRAME_10MS],
        }
    }

    /// Renders the next `n` samples into `scratch`; returns false once finished.
    fn render(&mut self, n: usize) -> bool {
        self.scratch.resize(n, 0.0);
        let mut finished = false;
        for s in self.scratch.iter_mut() {
            if self.pos >= self.end {
                if self.loops_left > 0 {
                    self.loops_left -= 1;
                    self.pos = self.start;
                } else {
                    finished = true;
                }
            }
            *s = if finished {
                0.0
            } else {
                interpolate(&self.pcm, self.pos)
            };
            self.pos += self.speed;
        }
        // Speed alone is varispeed (pitch follows); the shifter undoes that and applies
        // the requested pitch, so the two are independent.
        let ratio = 2f32.powf(self.pitch_semitones / 12.0) / self.speed as f32;
        self.shifter.set_ratio(ratio);
        self.shifter.process(&mut self.scratch);
        !finished
    }

    fn state(&self, id: i32) -> MusicState {
        MusicState {
            id,
            position_ms: (self.pos / PER_MS) as u64,
            duration_ms: (self.pcm.len() as f64 / PER_MS) as u64,
            paused: self.paused,
        }
    }
}

/// All playing music and effects of one engine.
#[derive(Default)]
pub struct Music {
    tracks: BTreeMap<i32, Track>,
}

impl Music {
    /// Starts (or restarts) `param.id` with already decoded samples.
    pub fn start(&mut self, param: &MusicParam, pcm: Arc<[f32]>) {
        self.tracks.insert(param.id, Track::new(param, pcm));
    }

    pub fn stop(&mut self, id: i32) -> bool {
        self.tracks.remove(&id).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }

    fn track(&mut self, id: i32) -> Result<&mut Track, MusicError> {
        self.tracks.get_mut(&id).ok_or(MusicError::NotPlaying(id))
    }

    pub fn set_paused(&mut self, id: i32, paused: bool) -> Result<(), MusicError> {
        self.track(id)?.paused = paused;
        Ok(())
    }

    pub fn seek(&mut self, id: i32, ms: u64) -> Result<(), MusicError> {
        let t = self.track(id)?;
        t.pos = (ms as f64 * PER_MS).clamp(0.0, t.pcm.len() as f64);
        Ok(())
    }

    /// Volumes 0..=100 (TRTC `setMusicPublishVolume` / `setMusicPlayoutVolume`).
    pub fn set_volume(
        &mut self,
        id: i32,
        publish: Option<u8>,
        playout: Option<u8>,
    ) -> Result<(), MusicError> {
        for v in publish.iter().chain(playout.iter()) {
            if *v > 100 {
                return Err(MusicError::BadParam(format!(
                    "music volume {v} is out of range; use 0..=100"
                )));
            }
        }
        let t = self.track(id)?;
        if let Some(v) = publish {
            t.publish_volume = f32::from(v) / 100.0;
        }
        if let Some(v) = playout {
            t.playout_volume = f32::from(v) / 100.0;
        }
        Ok(())
    }

    /// TRTC `setMusicPitch`: -1.0..=1.0 (±12 semitones).
    pub fn set_pitch(&mut self, id: i32, pitch: f32) -> Result<(), MusicError> {
        if !(-1.0..=1.0).contains(&pitch) {
            return Err(MusicError::BadParam(format!(
                "music pitch {pitch} is out of range; use -1.0..=1.0 (±12 semitones)"
            )));
        }
        self.track(id)?.pitch_semitones = pitch * 12.0;
        Ok(())
    }

    /// TRTC `setMusicSpeedRate`: 0.5..=2.0.
    pub fn set_speed(&mut self, id: i32, speed: f32) -> Result<(), MusicError> {
        if !(0.5..=2.0).contains(&speed) {
            return Err(MusicError::BadParam(format!(
                "music speed {speed} is out of range; use 0.5..=2.0"
            )));
        }
        self.track(id)?.speed = f64::from(speed);
        Ok(())
    }

    pub fn state(&self, id: i32) -> Option<MusicState> {
        self.tracks.get(&id).map(|t| t.state(id))
    }

    pub fn states(&self) -> Vec<MusicState> {
        self.tracks.iter().map(|(id, t)| t.state(*id)).collect()
    }

    /// Adds the next `publish.len()` samples of every playing track: into `publish` (what the
    /// room hears, for tracks started with `publish`) and `local` (what we hear). Returns the
    /// ids that finished.
    pub fn mix(&mut self, publish: &mut [f32], local: &mut [f32]) -> Vec<i32> {
        let mut done = Vec::new();
        for (id, t) in &mut self.tracks {
            if t.paused {
                continue;
            }
            let alive = t.render(publish.len());
            if t.publish {
                for (o, s) in publish.iter_mut().zip(&t.scratch) {
                    *o += s * t.publish_volume;
                }
            }
            for (o, s) in local.iter_mut().zip(&t.scratch) {
                *o += s * t.playout_volume;
            }
            if !alive {
                done.push(*id);
            }
        }
        for id in &done {
            self.tracks.remove(id);
        }
        done
    }
}
