//! Audio processing between the microphone and the encoder: the capture chain (3A, AI noise
//! suppression, voice changer, reverb, background music and sound effects), in 10 ms mono
//! frames of `f32` samples in -1.0..=1.0.
//!
//! Every processor is a plain sans-IO struct with `process(&mut self, frame)`; the
//! [`CaptureChain`] strings them together in a fixed order and is owned by the
//! [`Engine`](crate::Engine), not by a capture thread, so effects keep their state across a
//! microphone switch and take new settings while running. The same chain runs in
//! `roomcast process`, so what the CLI writes is what a call sends.
//!
//! Order, and why: capture volume → high-pass → echo canceller (needs the microphone as
//! captured, before anything non-linear) → classic noise suppression → AGC → AI noise
//! suppression → voice changer → reverb → background music and effects (mixed last so the
//! suppressors do not eat the music and the voice changer does not bend it).

mod apm;
mod chain;
mod clock;
mod denoise;
mod music;
mod pitch;
mod playout;
mod reverb;
pub mod sounds;
#[cfg(any(test, feature = "testsig"))]
pub mod testsig;
mod voice;

pub use chain::{CaptureChain, ChainEvent, SampleQueue, process_offline};
pub use clock::HeadlessClock;
pub use music::{Music, MusicError, MusicParam, MusicState, decode_file};
pub use pitch::PitchShifter;
pub use playout::{AudioPull, OnFirstAudio, Playout, PlayoutHandle};
pub use reverb::{Reverb, ReverbProcessor};
pub use voice::{VoiceChanger, VoiceChangerProcessor};

use serde::{Deserialize, Serialize};

/// Samples in one 10 ms processing frame at 48 kHz.
pub const FRAME_10MS: usize = 480;

/// Which noise suppressor runs (TRTC: `setAudioQuality` / AI noise reduction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseSuppression {
    Off,
    /// WebRTC's spectral noise suppressor (stationary noise: fans, hum).
    #[default]
    Classic,
    /// RNNoise, a recurrent network (keyboard, coughs, non-stationary noise).
    Ai,
}

impl std::str::FromStr for NoiseSuppression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(Self::Off),
            "classic" => Ok(Self::Classic),
            "ai" => Ok(Self::Ai),
            _ => Err(format!(
                "unknown noise suppression '{s}'; use one of: off, classic, ai"
            )),
        }
    }
}

/// The capture chain's settings; everything a user can switch on the microphone's way to
/// the room. Serialisable so the app can persist it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AudioEffects {
    /// Acoustic echo cancellation (fed what the speaker plays by the [`Playout`]).
    pub echo_cancellation: bool,
    /// Automatic gain control (AGC2: adaptive digital gain and limiter).
    pub auto_gain: bool,
    pub noise_suppression: NoiseSuppression,
    /// Removes rumble below ~80 Hz.
    pub high_pass: bool,
    /// TRTC `setVoiceCaptureVolume`: 0..=150, 100 = unchanged.
    pub capture_volume: u8,
    /// TRTC `setVoiceChangerType`.
    pub voice_changer: VoiceChanger,
    /// TRTC `setVoiceReverbType`.
    pub reverb: Reverb,
    /// TRTC `enableVoiceEarMonitor`: hear yourself, with the effects.
    pub ear_monitor: bool,
    /// TRTC `setVoiceEarMonitorVolume`: 0..=100.
    pub ear_monitor_volume: u8,
}

impl Default for AudioEffects {
    fn default() -> Self {
        Self {
            echo_cancellation: true,
            auto_gain: true,
            noise_suppression: NoiseSuppression::Classic,
            high_pass: true,
            capture_volume: 100,
            voice_changer: VoiceChanger::Off,
            reverb: Reverb::Off,
            ear_monitor: false,
            ear_monitor_volume: 100,
        }
    }
}

impl AudioEffects {
    /// Nothing at all: the microphone goes to the encoder untouched.
    pub fn off() -> Self {
        Self {
            echo_cancellation: false,
            auto_gain: false,
            noise_suppression: NoiseSuppression::Off,
            high_pass: false,
            capture_volume: 100,
            voice_changer: VoiceChanger::Off,
            reverb: Reverb::Off,
            ear_monitor: false,
            ear_monitor_volume: 100,
        }
    }

    /// Checks the ranges; the message says what is accepted.
    pub fn validate(&self) -> Result<(), String> {
        if self.ear_monitor_volume > 100 {
            return Err(format!(
                "ear monitor volume {} is out of range; use 0..=100",
                self.ear_monitor_volume
            ));
        }
        if self.capture_volume > 150 {
            return Err(format!(
                "capture volume {} is out of range; use 0..=150 (100 = unchanged)",
                self.capture_volume
            ));
        }
        Ok(())
    }
}

/// Samples to process before a pending type switch: while fading out, exactly up to where
/// the fade reaches zero (`steps_left`), so the new type starts mid-frame instead of leaving
/// the rest of the frame silent.
fn until_switch(switching: bool, steps_left: f32, remaining: usize) -> usize {
    if switching {
        (steps_left.ceil() as usize).clamp(1, remaining)
    } else {
        remaining
    }
}

/// Parses one of `all` by its `name` (case-insensitive); the error lists the names.
fn parse_named<T: Copy>(
    s: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
    what: &str,
) -> Result<T, String> {
    let wanted = s.trim();
    all.iter()
        .copied()
        .find(|v| name(*v).eq_ignore_ascii_case(wanted))
        .ok_or_else(|| {
            let names: Vec<_> = all.iter().map(|v| name(*v)).collect();
            format!("unknown {what} '{s}'; use one of: {}", names.join(", "))
        })
}

/// Converts 16-bit PCM to -1.0..=1.0.
pub fn to_f32(samples: &[i16], out: &mut [f32]) {
    for (o, &s) in out.iter_mut().zip(samples) {
        *o = f32::from(s) / 32768.0;
    }
}

/// Converts -1.0..=1.0 to 16-bit PCM, saturating.
pub fn to_i16(samples: &[f32], out: &mut [i16]) {
    for (o, &s) in out.iter_mut().zip(samples) {
        *o = (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
    }
}
