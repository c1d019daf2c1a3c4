//! Codecs: Opus for audio (48 kHz, 20 ms frames, in-band FEC, DTX) and H.264 constrained
//! baseline through OpenH264 built from its bundled source (no binary download).

mod h264;
mod opus;

pub use h264::{EncodedFrame, EncoderConfig, H264Decoder, H264Encoder};
pub use opus::{OpusDecoder, OpusEncoder};

/// The audio quality profile (TRTC's speech / default / music).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioProfile {
    /// Mono, 24 kbit/s, tuned for voice.
    Speech,
    /// Mono, 40 kbit/s.
    #[default]
    Default,
    /// Stereo, 128 kbit/s, full band, for music.
    Music,
}

impl AudioProfile {
    pub fn channels(self) -> u16 {
        match self {
            AudioProfile::Music => 2,
            _ => 1,
        }
    }

    pub fn bitrate_bps(self) -> u32 {
        match self {
            AudioProfile::Speech => 24_000,
            AudioProfile::Default => 40_000,
            AudioProfile::Music => 128_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("Opus: {0}")]
    Opus(String),
    #[error("H.264: {0}")]
    H264(String),
    #[error("unsupported input: {0}")]
    Input(String),
}
