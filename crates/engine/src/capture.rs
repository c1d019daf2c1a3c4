//! Capture threads: pull frames from a source on the media clock, encode them, and hand the
//! encoded frames to the session. Real devices and headless sources go through the same
//! path: only the `AudioSource`/`VideoSource` differs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use roomcast_proto::{MediaKind, Stream};
use tokio::sync::mpsc;

use crate::EngineError;
use crate::codec::{AudioProfile, EncoderConfig, H264Encoder, OpusEncoder};
use crate::media::{AudioSource, FRAME_MS, VideoSource, now_us};

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

pub fn start_audio(
    mut source: Box<dyn AudioSource>,
    profile: AudioProfile,
    out: mpsc::UnboundedSender<Encoded>,
    on_error: impl Fn(String) + Send + 'static,
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
            while wait_until(next, &c) {
                let capture_us = next;
                next += frame_us;
                let Some(frame) = source.next_frame(capture_us) else {
                    break;
                };
                if c.muted.load(Ordering::Relaxed) {
                    c.level.store(0, Ordering::Relaxed);
                    continue;
                }
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
                    Err(e) => on_error(format!("audio encoder failed: {e}")),
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

pub fn start_video(
    mut source: Box<dyn VideoSource>,
    stream: Stream,
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
                let Some(frame) = source.next_frame(capture_us) else {
                    // The source ended by itself (window closed, share stopped by the system,
                    // camera gone), not because we were told to stop.
                    if !c.stop.load(Ordering::Relaxed) {
                        on_end();
                    }
                    break;
                };
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
                        let e = Encoded {
                            kind: MediaKind::Video,
                            stream,
                            data: f.data,
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
