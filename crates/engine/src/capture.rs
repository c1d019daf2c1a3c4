//! Capture threads: pull frames from a source on the media clock, process (audio: the
//! engine's capture chain), encode them, and hand the encoded frames to the session. Real devices and headless sources go through the same
//! path: only the `AudioSource`/`VideoSource` differs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use roomcast_proto::{MediaKind, Stream};
use tokio::sync::mpsc;

use crate::EngineError;
use crate::audio::{CaptureChain, ChainEvent, MusicState};
use crate::codec::{AudioProfile, EncoderConfig, H264Encoder, OpusEncoder};
use crate::media::{AudioSource, FRAME_MS, VideoFrame, VideoSink, VideoSource, now_us};
use crate::stats::lock;
use crate::video::VideoChain;

/// One encoded frame on its way to the network.
#[derive(Debug)]
pub struct Encoded {
    pub kind: MediaKind,
    pub stream: Stream,
    pub data: Vec<u8>,
    pub keyframe: bool,
    /// Wall-clock capture time; the RTP timestamp is derived from it.
    pub capture_us: u64,
}

/// Controls shared between the API and a running capture thread.
#[derive(Debug, Default)]
pub struct Controls {
    pub stop: AtomicBool,
    pub muted: AtomicBool,
    pub force_keyframe: AtomicBool,
    pub bitrate_bps: AtomicU32,
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
                match encoder.encode(&frame.samples) {
                    Ok(data) => {
                        let e = Encoded {
                            kind: MediaKind::Audio,
                            stream: Stream::Main,
                            data,
                            keyframe: false,
                            capture_us,
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

/// Where the processed local video is shown (the self view), per stream; a sink that fails
/// is dropped.
pub type LocalViews = Arc<Mutex<HashMap<Stream, Box<dyn VideoSink>>>>;

/// What a video capture runs its frames through.
pub struct VideoPath {
    pub stream: Stream,
    /// The camera's effects (none for screen share).
    pub chain: Option<Arc<Mutex<VideoChain>>>,
    pub views: LocalViews,
}

impl VideoPath {
    /// Processes a captured frame and shows it in the self view.
    pub fn run(&self, frame: &mut VideoFrame) {
        if let Some(chain) = &self.chain {
            lock(chain).process(frame);
        }
        let mut views = lock(&self.views);
        if let Some(view) = views.get_mut(&self.stream)
            && let Err(e) = view.write(frame)
        {
            tracing::warn!("the local view stopped: {e}");
            views.remove(&self.stream);
        }
    }
}

pub fn start_video(
    mut source: Box<dyn VideoSource>,
    path: VideoPath,
    bitrate_bps: u32,
    out: mpsc::UnboundedSender<Encoded>,
    on_error: impl Fn(String) + Send + 'static,
    on_end: impl FnOnce() + Send + 'static,
) -> Result<Capture, EngineError> {
    let (width, height) = source.size();
    let fps = source.fps().max(1);
    let mut encoder = H264Encoder::new(EncoderConfig {
        width,
        height,
        fps,
        bitrate_bps,
    })?;
    let controls = Arc::new(Controls {
        bitrate_bps: AtomicU32::new(bitrate_bps),
        ..Controls::default()
    });
    let c = controls.clone();
    let frame_us = 1_000_000 / u64::from(fps);
    let thread = std::thread::Builder::new()
        .name("roomcast-video-capture".into())
        .spawn(move || {
            let mut next = now_us();
            let mut bitrate = bitrate_bps;
            // The first frame a subscriber sees must be a keyframe.
            c.force_keyframe.store(true, Ordering::Relaxed);
            while wait_until(next, &c) {
                let capture_us = now_us();
                next += frame_us;
                let Some(mut frame) = source.next_frame(capture_us) else {
                    // The source ended by itself (window closed, share stopped by the system,
                    // camera gone), not because we were told to stop.
                    if !c.stop.load(Ordering::Relaxed) {
                        on_end();
                    }
                    break;
                };
                path.run(&mut frame);
                if c.muted.load(Ordering::Relaxed) {
                    c.force_keyframe.store(true, Ordering::Relaxed);
                    continue;
                }
                let wanted = c.bitrate_bps.load(Ordering::Relaxed);
                if wanted != bitrate {
                    encoder.set_bitrate(wanted);
                    bitrate = wanted;
                }
                let force = c.force_keyframe.swap(false, Ordering::Relaxed);
                match encoder.encode(&frame, force) {
                    Ok(Some(f)) => {
                        let data = with_sei(&c, f.data);
                        let e = Encoded {
                            kind: MediaKind::Video,
                            stream: path.stream,
                            data,
                            keyframe: f.keyframe,
                            capture_us,
                        };
                        if out.send(e).is_err() {
                            break;
                        }
                    }
                    Ok(None) => {
                        if force {
                            c.force_keyframe.store(true, Ordering::Relaxed);
                        }
                    }
                    Err(e) => on_error(format!("video encoder failed: {e}")),
                }
                let now = now_us();
                if now > next + 5 * frame_us {
                    next = now;
                }
            }
        })
        .map_err(|e| EngineError::Thread(e.to_string()))?;
    Ok(Capture {
        controls,
        thread: Some(thread),
    })
}

/// The frame with the pending SEI messages inserted; each is spent once per frame it rides on.
fn with_sei(c: &Controls, frame: Vec<u8>) -> Vec<u8> {
    let mut pending = crate::stats::lock(&c.sei);
    if pending.is_empty() {
        return frame;
    }
    let nals: Vec<u8> = pending
        .iter()
        .flat_map(|(data, _)| crate::codec::sei::sei_nal(data))
        .collect();
    for (_, left) in pending.iter_mut() {
        *left -= 1;
    }
    pending.retain(|(_, left)| *left > 0);
    crate::codec::sei::insert_before_slices(&frame, &nals)
}
