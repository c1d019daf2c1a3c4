//! The playout: one clock pulls. The speaker's callback (or, with no speaker, the engine's
//! own 10 ms clock) asks for samples; each 10 ms the playout takes what is due from every
//! remote user's jitter buffer (decoding with Opus FEC or concealment for what is missing),
//! mixes them with per-user volumes plus the local music and ear monitor, and hands the mix
//! to the speaker and — the same samples — to the echo canceller as its far-end reference.
//!
//! Sans-IO apart from the per-user sinks (recording, raw-audio callbacks): the caller
//! passes the time. There is no second clock and no queue that drops audio to absorb drift:
//! the jitter buffer is the only buffer, and it adapts.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use super::{FRAME_10MS, SampleQueue};
use crate::codec::{CodecError, OpusDecoder};
use crate::jitter::{AudioJitterBuffer, JitterConfig, Playout as Due};
use crate::media::{AudioFrame, AudioSink, FRAME_SAMPLES, SAMPLE_RATE};
use crate::stats::{AudioStats, Shared, lock};

/// [`level`](crate::stats::level) of a quiet frame: below -45 dBFS.
const QUIET_LEVEL: u8 = 25;

/// Called once a user's first packet is decoded.
pub type OnFirstAudio = Box<dyn FnOnce() + Send>;

/// One remote user's received audio.
struct Voice {
    jitter: AudioJitterBuffer,
    decoder: OpusDecoder,
    channels: u16,
    /// Decoded mono samples not played yet (at most one 20 ms frame).
    decoded: VecDeque<f32>,
    sink: Box<dyn AudioSink>,
    stats: Shared<AudioStats>,
    started: bool,
    on_first: Option<OnFirstAudio>,
    /// Frames the decoder concealed, silence included (see `JitterStats::silence`).
    concealed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Decoded,
    Fec,
    Concealed,
    Silence,
}

impl Voice {
    /// Decodes the next 20 ms frame into `decoded`; false when there is nothing to play yet.
    fn decode_next(&mut self, now_us: u64) -> bool {
        let (pcm, how) = match self.jitter.pop(now_us) {
            Due::Packet(p) => (self.decoder.decode(&p), How::Decoded),
            Due::Lost { next: Some(n) } => (self.decoder.decode_fec(&n), How::Fec),
            Due::Lost { next: None } => (self.decoder.conceal(), How::Concealed),
            // Silence (DTX, nothing sent): keep the timeline continuous once started.
            Due::Empty if self.started => (
                Ok(vec![0; FRAME_SAMPLES * usize::from(self.channels)]),
                How::Silence,
            ),
            Due::Empty => return false,
        };
        self.started = true;
        let samples = pcm.unwrap_or_else(|e| {
            tracing::debug!("audio decode failed: {e}");
            vec![0; FRAME_SAMPLES * usize::from(self.channels)]
        });
        let level = crate::stats::level(&samples);
        // Below -45 dBFS: a pause between words, where the jitter buffer may splice.
        self.jitter.set_quiet(level < QUIET_LEVEL);
        {
            let mut st = lock(&self.stats);
            st.frames += 1;
            match how {
                How::Decoded => st.decoded += 1,
                How::Fec => st.fec_recovered += 1,
                How::Concealed => self.concealed += 1,
                How::Silence => {}
            }
            let jitter = self.jitter.stats();
            // What was concealed while the sender had gone quiet was silence, not loss: it
            // is known only once the silence is, so it comes off afterwards. What played as
            // silence in a gap that was loss after all goes on.
            st.concealed = self.concealed.saturating_sub(jitter.silence) + jitter.gap_lost;
            st.jitter_delay_ms = jitter.current_delay_ms;
            st.jitter_target_ms = jitter.target_delay_ms;
            st.level = level;
        }
        if how == How::Decoded
            && let Some(f) = self.on_first.take()
        {
            f();
        }
        let ch = usize::from(self.channels.max(1));
        self.decoded.extend(
            samples
                .chunks(ch)
                .map(|c| c.iter().map(|&s| f32::from(s)).sum::<f32>() / (ch as f32 * 32768.0)),
        );
        let frame = AudioFrame {
            samples,
            channels: self.channels,
            sample_rate: SAMPLE_RATE,
            capture_us: now_us,
        };
        if let Err(e) = self.sink.write(&frame) {
            tracing::warn!("audio sink failed: {e}");
        }
        true
    }
}

pub struct Playout {
    voices: BTreeMap<String, Voice>,
    /// Kept apart from the voices so a volume set before the user's audio starts (or
    /// across a rejoin) still applies.
    volumes: HashMap<String, u8>,
    volume: u8,
    /// What the speaker plays, for the echo canceller.
    far: Arc<SampleQueue>,
    /// Local music and ear monitor from the capture chain.
    local: Arc<SampleQueue>,
    ready: VecDeque<f32>,
    frame: Vec<f32>,
    local_frame: Vec<f32>,
}

impl Playout {
    pub fn new(far: Arc<SampleQueue>, local: Arc<SampleQueue>) -> Self {
        Self {
            voices: BTreeMap::new(),
            volumes: HashMap::new(),
            volume: 100,
            far,
            local,
            ready: VecDeque::new(),
            frame: vec![0.0; FRAME_10MS],
            local_frame: vec![0.0; FRAME_10MS],
        }
    }

    /// Starts playing `user`'s audio (stereo or mono Opus) and writing it to `sink`.
    pub fn add_user(
        &mut self,
        user: &str,
        channels: u16,
        sink: Box<dyn AudioSink>,
        stats: Shared<AudioStats>,
        on_first: OnFirstAudio,
    ) -> Result<(), CodecError> {
        let voice = Voice {
            jitter: AudioJitterBuffer::new(JitterConfig::default()),
            decoder: OpusDecoder::new(channels)?,
            channels,
            decoded: VecDeque::with_capacity(FRAME_SAMPLES),
            sink,
            stats,
            started: false,
            on_first: Some(on_first),
            concealed: 0,
        };
        if let Some(mut old) = self.voices.insert(user.to_string(), voice) {
            finish(old.sink.as_mut());
        }
        Ok(())
    }

    /// The user's audio ends: their sink is finished.
    pub fn remove_user(&mut self, user: &str) {
        if let Some(mut v) = self.voices.remove(user) {
            finish(v.sink.as_mut());
        }
    }

    /// A packet of `user`'s audio arrived (RTP timestamp unwrapped, 48 kHz; extended RTP
    /// sequence number).
    pub fn push_packet(
        &mut self,
        user: &str,
        arrival_us: u64,
        rtp_ts: u64,
        seq: u64,
        payload: Vec<u8>,
    ) {
        if let Some(v) = self.voices.get_mut(user) {
            lock(&v.stats).packets += 1;
            v.jitter.push(arrival_us, rtp_ts, seq, payload);
        }
    }

    /// TRTC `setRemoteAudioVolume`: 0..=100 (0 mutes the user locally).
    pub fn set_user_volume(&mut self, user: &str, volume: u8) {
        self.volumes.insert(user.to_string(), volume.min(100));
    }

    /// TRTC `setAudioPlayoutVolume`: 0..=100 for everything played.
    pub fn set_volume(&mut self, volume: u8) {
        self.volume = volume.min(100);
    }

    /// Fills `out` with the next samples (48 kHz mono) of the mix.
    pub fn pull(&mut self, now_us: u64, out: &mut [f32]) {
        while self.ready.len() < out.len() {
            self.tick(now_us);
        }
        let n = out.len();
        for (o, s) in out.iter_mut().zip(self.ready.drain(..n)) {
            *o = s;
        }
    }

    /// Mixes the next 10 ms.
    fn tick(&mut self, now_us: u64) {
        self.frame.fill(0.0);
        for (user, v) in &mut self.voices {
            while v.decoded.len() < FRAME_10MS && v.decode_next(now_us) {}
            let gain = f32::from(*self.volumes.get(user).unwrap_or(&100)) / 100.0;
            let n = FRAME_10MS.min(v.decoded.len());
            for (o, s) in self.frame.iter_mut().zip(v.decoded.drain(..n)) {
                *o += s * gain;
            }
        }
        if self.local.pop_frame(&mut self.local_frame) {
            for (o, s) in self.frame.iter_mut().zip(&self.local_frame) {
                *o += s;
            }
        }
        let gain = f32::from(self.volume) / 100.0;
        for s in self.frame.iter_mut() {
            *s = (*s * gain).clamp(-1.0, 1.0);
        }
        self.far.push(&self.frame);
        self.ready.extend(&self.frame);
    }
}

impl Drop for Playout {
    fn drop(&mut self) {
        for v in self.voices.values_mut() {
            finish(v.sink.as_mut());
        }
    }
}

fn finish(sink: &mut dyn AudioSink) {
    if let Err(e) = sink.finish() {
        tracing::warn!("audio sink failed to finish: {e}");
    }
}

/// What a speaker pulls 48 kHz mono samples from.
pub trait AudioPull: Send + Sync {
    fn pull(&self, out: &mut [f32]);
}

/// The engine's playout as a speaker sees it (see `Engine::playout`).
#[derive(Clone)]
pub struct PlayoutHandle(pub(crate) Arc<std::sync::Mutex<Playout>>);

impl AudioPull for PlayoutHandle {
    fn pull(&self, out: &mut [f32]) {
        lock(&self.0).pull(crate::media::now_us(), out);
    }
}

#[cfg(test)]
#[path = "tests/playout.rs"]
mod tests;
