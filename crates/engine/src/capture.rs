//! Capture threads: pull frames from a source on the media clock, process (audio: the
//! engine's capture chain), encode them, and hand the encoded frames to the session. Real devices and headless sources go through the same
//! path: only the `AudioSource`/`VideoSource` differs.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use roomcast_proto::{MediaKind, Stream, VideoStreamType};
use tokio::sync::mpsc;

use crate::EngineError;
use crate::audio::{CaptureChain, ChainEvent, MusicState};
use crate::codec::{AudioProfile, OpusEncoder};
use crate::media::{AudioSource, FRAME_MS, now_us};
use crate::stats::lock;

/// One encoded frame on its way to the network.
#[derive(Debug)]
pub struct Encoded {
    pub kind: MediaKind,
    pub stream: Stream,
    pub data: Vec<u8>,
    pub keyframe: bool,
    /// The simulcast layer (camera with a small stream), sent with its RID.
    pub layer: Option<VideoStreamType>,
    /// Wall-clock capture time; the RTP timestamp is derived from it.
    pub capture_us: u64,
    /// Video: the encoded picture's width and height.
    pub size: Option<(u32, u32)>,
}

/// Controls shared between the API and a running capture thread.
#[derive(Debug, Default)]
pub struct Controls {
    pub stop: AtomicBool,
    pub muted: AtomicBool,
    /// A keyframe on every layer.
    pub force_keyframe: AtomicBool,
    /// A keyframe on the small layer only.
    pub force_small_keyframe: AtomicBool,
    /// Layers someone receives (the server's `layer_demand`); both until told otherwise.
    pub skip_big: AtomicBool,
    pub skip_small: AtomicBool,
    pub bitrate_bps: AtomicU32,
    /// Video: what the network carries for this stream now (from the loss the server
    /// reports), bit/s; 0: no limit. The camera encodes at most this; the screen share keeps
    /// its bitrate per frame (text stays sharp) and sends fewer frames instead.
    pub network_bps: AtomicU32,
    /// Audio: the loss (percent) the receiver reports, for Opus' in-band FEC.
    pub expected_loss: AtomicU8,
    /// Loudness of the last captured audio frame, 0..=100 (0 while muted).
    pub level: AtomicU8,
    /// SEI messages to attach to the next encoded frames, with how many frames each goes on.
    pub sei: std::sync::Mutex<Vec<(Vec<u8>, u32)>>,
}

impl Controls {
    pub fn is_muted(&self) -> bool {
        self.muted.load(Ordering::Relaxed)
    }
}

pub struct Capture {
    pub controls: Arc<Controls>,
    thread: Option<JoinHandle<()>>,
}

impl Capture {
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.controls.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Sleeps until the wall clock reaches `at_us`; returns false when asked to stop.
fn wait_until(at_us: u64, controls: &Controls) -> bool {
    loop {
        if controls.stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = now_us();
        if now >= at_us {
            return true;
        }
        std::thread::sleep(Duration::from_micros((at_us - now).min(5_000)));
    }
}

/// What the audio capture thread reports besides encoded frames.
pub enum AudioNotice {
    Error(String),
    Chain(ChainEvent),
    /// Every [`MUSIC_PROGRESS_FRAMES`] frames while music plays.
    MusicProgress(Vec<MusicState>),
}

/// Music progress is reported every 200 ms.
const MUSIC_PROGRESS_FRAMES: u32 = 10;

/// Captures from `source`, runs each frame through the engine's `chain` (which outlives
/// this thread: a new microphone gets the same chain), encodes and sends.
pub fn start_audio(
    mut source: Box<dyn AudioSource>,
    profile: AudioProfile,
    chain: Arc<Mutex<CaptureChain>>,
    out: mpsc::UnboundedSender<Encoded>,
    notify: impl Fn(AudioNotice) + Send + 'static,
) -> Result<Capture, EngineError> {
    let channels = source.channels();
    let mut encoder = OpusEncoder::new(channels, profile)?;
    let controls = Arc::new(Controls::default());
    let c = controls.clone();
    let frame_us = u64::from(FRAME_MS) * 1000;
    let thread = std::thread::Builder::new()
        .name("roomcast-audio-capture".into())
        .spawn(move || {
            // Frames start on 20 ms wall-clock boundaries so capture times are comparable
            // across processes.
            let mut next = (now_us() / frame_us + 1) * frame_us;
            let mut frames = 0u32;
            let mut expected_loss = 0;
            while wait_until(next, &c) {
                let capture_us = next;
                next += frame_us;
                let Some(mut frame) = source.next_frame(capture_us) else {
                    break;
                };
                // The chain runs while muted too: music and the ear monitor keep playing
                // locally and the echo canceller keeps its model; nothing is sent.
                let (events, progress) = {
                    let mut chain = lock(&chain);
                    chain.process_pcm(&mut frame.samples, frame.channels);
                    frames += 1;
                    let progress = frames
                        .is_multiple_of(MUSIC_PROGRESS_FRAMES)
                        .then(|| chain.music().states())
                        .filter(|s| !s.is_empty());
                    (chain.take_events(), progress)
                };
                events
                    .into_iter()
                    .for_each(|e| notify(AudioNotice::Chain(e)));
                if let Some(p) = progress {
                    notify(AudioNotice::MusicProgress(p));
                }
                if c.muted.load(Ordering::Relaxed) {
                    c.level.store(0, Ordering::Relaxed);
                    continue;
                }
                // The meter shows what is sent: after effects and music.
                c.level
                    .store(crate::stats::level(&frame.samples), Ordering::Relaxed);
                let loss = c.expected_loss.load(Ordering::Relaxed);
                if loss != expected_loss && encoder.set_expected_loss(loss).is_ok() {
                    expected_loss = loss;
                }
                match encoder.encode(&frame.samples) {
                    Ok(data) => {
                        let e = Encoded {
                            kind: MediaKind::Audio,
                            layer: None,
                            stream: Stream::Main,
                            data,
                            keyframe: false,
                            capture_us,
                            size: None,
                        };
                        if out.send(e).is_err() {
                            break;
                        }
                    }
                    Err(e) => notify(AudioNotice::Error(format!("audio encoder failed: {e}"))),
                }
                // Fell far behind (machine suspended, debugger): skip ahead rather than burst.
                let now = now_us();
                if now > next + 10 * frame_us {
                    next = (now / frame_us + 1) * frame_us;
                }
            }
        })
        .map_err(|e| EngineError::Thread(e.to_string()))?;
    Ok(Capture {
        controls,
        thread: Some(thread),
    })
}

mod fit;
mod video;
pub use video::{LocalViews, VideoPath, start_video};
