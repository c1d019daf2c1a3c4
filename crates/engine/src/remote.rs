//! Receiving one remote user's video: decoded on its own thread, reading the marks the
//! test pattern puts in the picture, so latency is measured on what was actually decoded.
//! (Audio is pulled by the engine's playout: `audio::Playout`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::codec::H264Decoder;
use crate::media::{VideoSink, now_us, read_mark};
use crate::stats::{Shared, VideoStats, lock};

/// Something a receiver wants the session to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// The decoder cannot continue without a keyframe.
    KeyframeNeeded,
    /// The first frame was decoded.
    FirstFrame {
        width: u32,
        height: u32,
    },
    FirstAudio,
    /// The decoded size changed after the first frame (another simulcast layer, a new camera).
    SizeChanged {
        width: u32,
        height: u32,
    },
    /// An SEI message came with a frame (see [`crate::codec::sei`]).
    Sei(Vec<u8>),
}

pub struct VideoPacket {
    pub data: Vec<u8>,
    /// False when str0m saw a sequence gap before this frame.
    pub contiguous: bool,
}

/// A receiving thread; stops when dropped.
pub struct Receiving<T> {
    pub tx: Sender<T>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<T> Drop for Receiving<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn start_video(
    mut sink: Box<dyn VideoSink>,
    stats: Shared<VideoStats>,
    feedback: impl Fn(Feedback) + Send + 'static,
) -> std::io::Result<Receiving<VideoPacket>> {
    let (tx, rx): (Sender<VideoPacket>, Receiver<VideoPacket>) = channel();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let thread = std::thread::Builder::new()
        .name("roomcast-video-decode".into())
        .spawn(move || {
            let mut decoder = match H264Decoder::new() {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!("cannot create the H.264 decoder: {e}");
                    return;
                }
            };
            let mut first = true;
            let mut last_size = (0, 0);
            let mut keyframes = KeyframeAsker::default();
            while !s.load(Ordering::Relaxed) {
                let packet = match rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(p) => p,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                };
                lock(&stats).received += 1;
                if !packet.contiguous {
                    keyframes.need(&stats, &feedback);
                }
                for data in crate::codec::sei::read_sei(&packet.data) {
                    feedback(Feedback::Sei(data));
                }
                match decoder.decode(&packet.data) {
                    Ok(Some(mut frame)) => {
                        keyframes.satisfied();
                        let now = now_us();
                        frame.capture_us = now;
                        {
                            let mut st = lock(&stats);
                            st.decoded(now);
                            st.width = frame.width;
                            st.height = frame.height;
                            if let Some(mark) = read_mark(&frame) {
                                frame.capture_us = mark.capture_ms * 1000;
                                let latency = (now as f64 / 1000.0) - mark.capture_ms as f64;
                                st.mark(mark.counter, latency);
                            }
                        }
                        let size = (frame.width, frame.height);
                        if first {
                            first = false;
                            feedback(Feedback::FirstFrame {
                                width: frame.width,
                                height: frame.height,
                            });
                        } else if size != last_size {
                            feedback(Feedback::SizeChanged {
                                width: frame.width,
                                height: frame.height,
                            });
                        }
                        last_size = size;
                        if let Err(e) = sink.write(&frame) {
                            tracing::warn!("video sink failed: {e}");
                        }
                    }
                    // Nothing decodable yet (no keyframe seen): keep asking.
                    Ok(None) if first => keyframes.need(&stats, &feedback),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::debug!("video decode failed: {e}");
                        lock(&stats).decode_errors += 1;
                        keyframes.need(&stats, &feedback);
                    }
                }
            }
            if let Err(e) = sink.finish() {
                tracing::warn!("video sink failed to finish: {e}");
            }
        })?;
    Ok(Receiving {
        tx,
        stop,
        thread: Some(thread),
    })
}

/// Asks for a keyframe when decoding cannot go on, and again every 500 ms while still
/// waiting: a request can be lost, or throttled by the server when several subscribers ask
/// at once.
#[derive(Default)]
struct KeyframeAsker {
    waiting_since: Option<std::time::Instant>,
}

impl KeyframeAsker {
    fn need(&mut self, stats: &Shared<VideoStats>, feedback: &impl Fn(Feedback)) {
        let due = self
            .waiting_since
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(500));
        if due {
            self.waiting_since = Some(std::time::Instant::now());
            lock(stats).keyframe_requests += 1;
            feedback(Feedback::KeyframeNeeded);
        }
    }

    fn satisfied(&mut self) {
        self.waiting_since = None;
    }
}
