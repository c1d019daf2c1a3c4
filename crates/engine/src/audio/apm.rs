//! WebRTC's audio processing module (through `sonora`, a pure-Rust port): AEC3 echo
//! cancellation, high-pass filter, the classic noise suppressor and AGC2, configured from
//! [`AudioEffects`]. Rebuilt only when the set of enabled parts changes, so the echo
//! canceller keeps what it learnt about the room across unrelated setting changes.

use sonora::config::{
    AdaptiveDigital, EchoCanceller, GainController2, HighPassFilter, NoiseSuppression,
    NoiseSuppressionLevel,
};
use sonora::{AudioProcessing, Config, StreamConfig};

use super::{AudioEffects, FRAME_10MS};
use crate::media::SAMPLE_RATE;

/// The parts of [`AudioEffects`] the module implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parts {
    aec: bool,
    ns: bool,
    agc: bool,
    high_pass: bool,
}

impl Parts {
    fn of(e: &AudioEffects) -> Self {
        Self {
            aec: e.echo_cancellation,
            ns: e.noise_suppression == super::NoiseSuppression::Classic,
            agc: e.auto_gain,
            high_pass: e.high_pass,
        }
    }

    fn any(self) -> bool {
        self.aec || self.ns || self.agc || self.high_pass
    }
}

pub struct Apm {
    parts: Parts,
    apm: Option<AudioProcessing>,
    out: Vec<f32>,
}

impl Apm {
    pub fn new(effects: &AudioEffects) -> Self {
        let mut apm = Self {
            parts: Parts {
                aec: false,
                ns: false,
                agc: false,
                high_pass: false,
            },
            apm: None,
            out: vec![0.0; FRAME_10MS],
        };
        apm.configure(effects);
        apm
    }

    pub fn configure(&mut self, effects: &AudioEffects) {
        let parts = Parts::of(effects);
        if parts == self.parts && (self.apm.is_some() == parts.any()) {
            return;
        }
        self.parts = parts;
        self.apm = parts.any().then(|| build(parts));
    }

    /// Tells the echo canceller what the speaker played (10 ms).
    pub fn render(&mut self, far: &[f32]) {
        if let Some(apm) = self.apm.as_mut().filter(|_| self.parts.aec) {
            let mut scratch = [0.0f32; FRAME_10MS];
            if let Err(e) = apm.process_render_f32(&[far], &mut [&mut scratch[..far.len()]]) {
                tracing::debug!("echo canceller rejected a far-end frame: {e:?}");
            }
        }
    }

    /// Processes 10 ms of microphone in place.
    pub fn process(&mut self, frame: &mut [f32]) {
        let Some(apm) = self.apm.as_mut() else {
            return;
        };
        let out = &mut self.out[..frame.len()];
        match apm.process_capture_f32(&[frame], &mut [out]) {
            Ok(()) => frame.copy_from_slice(out),
            Err(e) => tracing::debug!("audio processing rejected a frame: {e:?}"),
        }
    }

    /// Echo return loss enhancement the canceller reports, dB.
    pub fn erle_db(&self) -> Option<f64> {
        self.apm
            .as_ref()
            .and_then(|a| a.statistics().echo_return_loss_enhancement)
    }
}

fn build(parts: Parts) -> AudioProcessing {
    let config = Config {
        high_pass_filter: parts.high_pass.then(HighPassFilter::default),
        echo_canceller: parts.aec.then(EchoCanceller::default),
        noise_suppression: parts.ns.then(|| NoiseSuppression {
            level: NoiseSuppressionLevel::High,
            ..NoiseSuppression::default()
        }),
        gain_controller2: parts.agc.then(|| GainController2 {
            adaptive_digital: Some(AdaptiveDigital::default()),
            ..GainController2::default()
        }),
        ..Config::default()
    };
    AudioProcessing::builder()
        .config(config)
        .capture_config(StreamConfig::new(SAMPLE_RATE, 1))
        .render_config(StreamConfig::new(SAMPLE_RATE, 1))
        .build()
}
