//! The capture chain: one 10 ms mono frame in, what the room hears out. See the module
//! docs of [`crate::audio`] for the order.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::apm::Apm;
use super::denoise::Denoiser;
use super::music::Music;
use super::{
    AudioEffects, FRAME_10MS, NoiseSuppression, ReverbProcessor, VoiceChangerProcessor, to_f32,
    to_i16,
};
use crate::media::SAMPLE_RATE;
use crate::stats::lock;

/// Samples handed from one clock to another: the playout's mix to the echo canceller (far
/// end), the capture chain's local music and ear monitor to the playout. Bounded: when the
/// consumer stalls the oldest samples go, so memory and delay cannot grow.
#[derive(Debug)]
pub struct SampleQueue {
    queue: Mutex<VecDeque<f32>>,
    max: usize,
}

impl SampleQueue {
    pub fn new(max_ms: usize) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            max: max_ms * SAMPLE_RATE as usize / 1000,
        }
    }

    pub fn push(&self, samples: &[f32]) {
        let mut q = lock(&self.queue);
        q.extend(samples);
        let excess = q.len().saturating_sub(self.max);
        q.drain(..excess);
    }

    /// Fills `out` if that many samples are queued.
    pub fn pop_frame(&self, out: &mut [f32]) -> bool {
        let mut q = lock(&self.queue);
        if q.len() < out.len() {
            return false;
        }
        let n = out.len();
        for (o, s) in out.iter_mut().zip(q.drain(..n)) {
            *o = s;
        }
        true
    }
}

/// A speaker can play a queue directly (the pre-join check's ear monitor): what is queued,
/// then silence.
impl super::AudioPull for SampleQueue {
    fn pull(&self, out: &mut [f32]) {
        let mut q = lock(&self.queue);
        let n = out.len().min(q.len());
        for (o, s) in out.iter_mut().zip(q.drain(..n)) {
            *o = s;
        }
        out[n..].fill(0.0);
    }
}

/// Something the chain reports (the engine turns it into an event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainEvent {
    /// A music track or sound effect played to its end (loops included).
    MusicComplete { id: i32 },
}

pub struct CaptureChain {
    effects: AudioEffects,
    apm: Apm,
    denoiser: Option<Denoiser>,
    voice: VoiceChangerProcessor,
    reverb: ReverbProcessor,
    music: Music,
    /// What the speaker played (from the playout), for the echo canceller.
    far: Arc<SampleQueue>,
    /// Local music and ear monitor, to the playout.
    local_out: Arc<SampleQueue>,
    far_frame: Vec<f32>,
    /// What we hear of ourselves for the last frame: music at its playout volume, ear
    /// monitor.
    local: Vec<f32>,
    mono: Vec<f32>,
    events: Vec<ChainEvent>,
}

impl CaptureChain {
    pub fn new(effects: AudioEffects) -> Self {
        let mut chain = Self {
            apm: Apm::new(&effects),
            denoiser: None,
            voice: VoiceChangerProcessor::new(SAMPLE_RATE),
            reverb: ReverbProcessor::new(SAMPLE_RATE),
            music: Music::default(),
            far: Arc::new(SampleQueue::new(1000)),
            local_out: Arc::new(SampleQueue::new(200)),
            far_frame: vec![0.0; FRAME_10MS],
            local: vec![0.0; FRAME_10MS],
            mono: vec![0.0; 2 * FRAME_10MS],
            events: Vec::new(),
            effects: AudioEffects::off(),
        };
        chain.apply(effects);
        chain
    }

    /// Takes new settings; processors keep their state where the setting did not change.
    pub fn set_effects(&mut self, effects: AudioEffects) -> Result<(), String> {
        effects.validate()?;
        self.apply(effects);
        Ok(())
    }

    fn apply(&mut self, effects: AudioEffects) {
        self.apm.configure(&effects);
        if effects.noise_suppression == NoiseSuppression::Ai {
            self.denoiser.get_or_insert_with(Denoiser::default);
        } else {
            self.denoiser = None;
        }
        self.voice.set_type(effects.voice_changer);
        self.reverb.set_type(effects.reverb);
        self.effects = effects;
    }

    pub fn effects(&self) -> &AudioEffects {
        &self.effects
    }

    /// Where the playout hands what the speaker plays.
    pub fn far_end(&self) -> Arc<SampleQueue> {
        self.far.clone()
    }

    /// Where the playout takes the local music and the ear monitor from.
    pub fn local_out(&self) -> Arc<SampleQueue> {
        self.local_out.clone()
    }

    pub fn music(&mut self) -> &mut Music {
        &mut self.music
    }

    /// False when every processor is off and nothing is mixed in: frames pass untouched
    /// (and stereo stays stereo).
    pub fn is_active(&self) -> bool {
        self.effects != AudioEffects::off() || !self.music.is_empty()
    }

    pub fn take_events(&mut self) -> Vec<ChainEvent> {
        std::mem::take(&mut self.events)
    }

    /// Echo return loss enhancement the canceller reports, dB.
    pub fn erle_db(&self) -> Option<f64> {
        self.apm.erle_db()
    }

    /// Processes one 10 ms mono frame in place.
    pub fn process(&mut self, frame: &mut [f32]) {
        while self.far.pop_frame(&mut self.far_frame[..frame.len()]) {
            self.apm.render(&self.far_frame[..frame.len()]);
        }
        if self.effects.capture_volume != 100 {
            let gain = f32::from(self.effects.capture_volume) / 100.0;
            frame.iter_mut().for_each(|s| *s *= gain);
        }
        self.apm.process(frame);
        if let Some(d) = &mut self.denoiser {
            d.process(frame);
        }
        self.voice.process(frame);
        self.reverb.process(frame);
        self.local.resize(frame.len(), 0.0);
        self.local.fill(0.0);
        if self.effects.ear_monitor {
            // We hear ourselves with the voice effects, before the music is added (the
            // music comes in below at its own playout volume).
            let gain = f32::from(self.effects.ear_monitor_volume) / 100.0;
            for (l, s) in self.local.iter_mut().zip(frame.iter()) {
                *l = s * gain;
            }
        }
        let music = !self.music.is_empty();
        if music {
            for id in self.music.mix(frame, &mut self.local) {
                self.events.push(ChainEvent::MusicComplete { id });
            }
        }
        if music || self.effects.ear_monitor {
            self.local_out.push(&self.local);
        }
        for s in frame.iter_mut() {
            *s = s.clamp(-1.0, 1.0);
        }
    }

    /// Processes an interleaved 16-bit frame of whole 10 ms steps in place (the capture
    /// path's 20 ms frames). Stereo is processed as mono when anything is on.
    pub fn process_pcm(&mut self, samples: &mut [i16], channels: u16) {
        if !self.is_active() {
            return;
        }
        let ch = usize::from(channels.max(1));
        let frames = samples.len() / ch;
        self.mono.resize(frames, 0.0);
        let mut mono = std::mem::take(&mut self.mono);
        for (m, c) in mono.iter_mut().zip(samples.chunks(ch)) {
            *m = c.iter().map(|&s| f32::from(s)).sum::<f32>() / (ch as f32 * 32768.0);
        }
        for step in mono.chunks_mut(FRAME_10MS) {
            self.process(step);
        }
        let mut pcm = [0i16; 1];
        for (m, c) in mono.iter().zip(samples.chunks_mut(ch)) {
            to_i16(std::slice::from_ref(m), &mut pcm);
            c.fill(pcm[0]);
        }
        self.mono = mono;
    }
}

/// Runs a recorded microphone (and, for the echo canceller, what the speaker played at the
/// same time) through a chain in 10 ms steps, as `roomcast process` does. Both are 48 kHz
/// mono; the far end may be shorter (silence after it).
pub fn process_offline(chain: &mut CaptureChain, mic: &[i16], far: Option<&[i16]>) -> Vec<i16> {
    let far_end = chain.far_end();
    let mut out = Vec::with_capacity(mic.len());
    let mut frame = [0f32; FRAME_10MS];
    let mut far_frame = [0f32; FRAME_10MS];
    let mut pcm = [0i16; FRAME_10MS];
    for (i, m) in mic.chunks(FRAME_10MS).enumerate() {
        if let Some(far) = far {
            far_frame.fill(0.0);
            let from = (i * FRAME_10MS).min(far.len());
            let to = (from + FRAME_10MS).min(far.len());
            to_f32(&far[from..to], &mut far_frame);
            far_end.push(&far_frame);
        }
        frame.fill(0.0);
        to_f32(m, &mut frame);
        chain.process(&mut frame);
        to_i16(&frame, &mut pcm);
        out.extend_from_slice(&pcm[..m.len()]);
    }
    out
}

#[cfg(test)]
#[path = "tests/chain.rs"]
mod tests;
