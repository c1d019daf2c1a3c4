//! A call in which Alice reads speech to Bob: how it sounds at Bob's speaker (PESQ-WB)
//! through the links a test sets up.

use std::time::Duration;

use super::World;
use crate::pesq::{lag, pesq_wb};

/// What Bob heard.
#[derive(Debug, Clone, Copy)]
pub struct SpeechRun {
    /// PESQ-WB of what Bob's speaker played against what Alice said, from 5 s on (None
    /// without the `pesq` package).
    pub pesq: Option<f64>,
    /// The share of 20 ms frames Bob's playout concealed over the whole call.
    pub concealed: f64,
    /// From Alice's microphone to Bob's speaker, ms.
    pub delay_ms: f64,
}

/// Alice reads `speech` (48 kHz mono) to Bob, with the links `links` sets on the world
/// (given Alice's and Bob's index).
pub fn speech_call(
    seed: u64,
    speech: &[f32],
    links: impl FnOnce(&mut World, usize, usize),
) -> SpeechRun {
    let mut w = World::new(seed);
    let alice = w.join("alice");
    let bob = w.join("bob");
    links(&mut w, alice, bob);
    w.publish_speech(alice, speech);
    let secs = speech.len() as f64 / 48_000.0;
    w.run_for(Duration::from_secs_f64(secs + 3.0));
    let (stats, heard) = w.clients[bob].hear(w.start, w.now);
    let last = stats.last().cloned().unwrap_or_default();
    let shift = lag(speech, &heard, 3 * 48_000);
    let from = 5 * 48_000;
    let to = speech.len().min(heard.len().saturating_sub(shift));
    let pesq = (to > from + 48_000)
        .then(|| pesq_wb(&speech[from..to], &heard[from + shift..to + shift]))
        .flatten();
    SpeechRun {
        pesq,
        concealed: last.concealed as f64 / last.frames.max(1) as f64,
        delay_ms: shift as f64 / 48.0,
    }
}
