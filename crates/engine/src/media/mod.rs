//! Media frames, sources and sinks.
//!
//! Every capture path (synthetic, file, app-pushed, device) is an [`AudioSource`] or a
//! [`VideoSource`]; every render path is an [`AudioSink`] or a [`VideoSink`]. The pipeline
//! between them is the same whatever the source, so a test that runs on [`ToneSource`] and
//! [`PatternSource`] exercises the code path a camera and a microphone use.
//!
//! The synthetic sources carry measurement marks: audio bursts on wall-clock multiples of
//! 500 ms, each numbered by a code tone so delays up to 12 s read right ([`BurstDetector`]),
//! and a frame counter plus capture time drawn into the picture ([`read_mark`]). Both survive the codecs, so end-to-end tests measure what users feel:
//! latency, frame loss and continuity.

mod files;
mod mark;
pub mod measure;
mod push;
mod sinks;
mod synth;
mod wav;
mod y4m;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

pub use mark::{PatternSource, VideoMark, read_mark};
pub use push::{
    AudioPusher, PushAudioSource, PushVideoSource, VideoPusher, push_audio_source,
    push_video_source,
};
pub use sinks::{CallbackAudioSink, CallbackVideoSink, NullSink};
pub use synth::{BurstDetector, ToneSource};
pub use wav::{LoopingWavSource, WavSink, WavSource, read_wav_mono, write_wav_mono};
pub use y4m::{LoopingY4mSource, Y4mSink, Y4mSource};

/// Audio sample rate used everywhere in the engine (Opus' native rate).
pub const SAMPLE_RATE: u32 = 48_000;
/// Duration of one audio frame.
pub const FRAME_MS: u32 = 20;
/// Samples per channel in one audio frame.
pub const FRAME_SAMPLES: usize = (SAMPLE_RATE / 1000 * FRAME_MS) as usize;

/// Interleaved 16-bit PCM.
#[derive(Debug, Clone)]
pub struct AudioFrame {
    /// Interleaved samples, `samples.len() == frames * channels`.
    pub samples: Vec<i16>,
    pub channels: u16,
    pub sample_rate: u32,
    /// Wall-clock capture time of `samples[0]`, see [`now_us`].
    pub capture_us: u64,
}

/// An I420 picture with even dimensions and tightly packed planes.
#[derive(Debug, Clone)]
pub struct VideoFrame {
    pub width: u32,
    pub height: u32,
    /// `width * height` bytes.
    pub y: Vec<u8>,
    /// `width/2 * height/2` bytes.
    pub u: Vec<u8>,
    /// `width/2 * height/2` bytes.
    pub v: Vec<u8>,
    /// Wall-clock capture time, see [`now_us`].
    pub capture_us: u64,
}

impl VideoFrame {
    /// A black picture (studio-range luma 16, neutral chroma).
    pub fn black(width: u32, height: u32) -> Self {
        let (w, h) = (width as usize, height as usize);
        let chroma = (w / 2) * (h / 2);
        Self {
            width,
            height,
            y: vec![16; w * h],
            u: vec![128; chroma],
            v: vec![128; chroma],
            capture_us: 0,
        }
    }

    /// Checks that the dimensions are even and non-zero and the planes have the right sizes.
    pub fn validate(&self) -> Result<(), MediaError> {
        let (w, h) = (self.width as usize, self.height as usize);
        if w == 0 || h == 0 || w % 2 != 0 || h % 2 != 0 {
            return Err(MediaError::InvalidFrame(format!(
                "video frame is {w}x{h}; I420 needs non-zero even dimensions"
            )));
        }
        let chroma = (w / 2) * (h / 2);
        if self.y.len() != w * h || self.u.len() != chroma || self.v.len() != chroma {
            return Err(MediaError::InvalidFrame(format!(
                "video frame {w}x{h} has planes of {}/{}/{} bytes; expected {}/{chroma}/{chroma} (tightly packed I420)",
                self.y.len(),
                self.u.len(),
                self.v.len(),
                w * h
            )));
        }
        Ok(())
    }
}

/// Microseconds since the UNIX epoch (wall clock): shared by all processes on the machine,
/// so a sender's capture time and a receiver's playout time can be compared.
pub fn now_us() -> u64 {
    // A clock before 1970 is a broken machine, not an input; report 0 rather than panic.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// What went wrong reading, writing or pushing media.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("cannot access {}: {source}; check the path and its permissions", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not in a format we read; the message says which and how to convert it.
    #[error("{0}")]
    Format(String),
    /// A pushed or written frame does not match what the source/sink was created for.
    #[error("invalid frame: {0}")]
    InvalidFrame(String),
    /// The other side of a push source was dropped.
    #[error("the media source was closed; stop pushing frames")]
    Closed,
}

impl MediaError {
    fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A microphone-like source of 20 ms frames.
pub trait AudioSource: Send {
    fn channels(&self) -> u16;
    /// 20 ms (960*channels samples); None = source ended.
    fn next_frame(&mut self, capture_us: u64) -> Option<AudioFrame>;
}

/// A camera-like source of pictures.
pub trait VideoSource: Send {
    fn size(&self) -> (u32, u32);
    fn fps(&self) -> u32;
    /// None = ended.
    fn next_frame(&mut self, capture_us: u64) -> Option<VideoFrame>;
}

/// Where decoded audio goes (speaker, file, app callback).
pub trait AudioSink: Send {
    fn write(&mut self, frame: &AudioFrame) -> Result<(), MediaError>;
    fn finish(&mut self) -> Result<(), MediaError> {
        Ok(())
    }
}

/// Where decoded video goes (window, file, app callback).
pub trait VideoSink: Send {
    fn write(&mut self, frame: &VideoFrame) -> Result<(), MediaError>;
    fn finish(&mut self) -> Result<(), MediaError> {
        Ok(())
    }
}
