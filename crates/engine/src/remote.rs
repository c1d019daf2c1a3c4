//! Receiving one remote user's video: held until due (`video_playout`), then decoded on its
//! own thread and handed to the sink. (Latency marks are read by the measuring tools' sinks:
//! `media::measure`.)
//! (Audio is pulled by the engine's playout: `audio::Playout`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::codec::H264Decoder;
use crate::media::{VideoSink, now_us};
use crate::stats::{Shared, VideoStats, lock};
use crate::video_playout::VideoPlayout;

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
    /// The frame's RTP timestamp (90 kHz, unwrapped).
    pub rtp_time: u64,
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

/// How often the thread looks at `stop` while nothing comes.
const POLL: Duration = Duration::from_millis(50);

/// Starts the thread that holds each frame until it is due ([`VideoPlayout`]), then decodes
/// it and hands the picture to `sink`.
pub fn start_video(
    sink: Box<dyn VideoSink>,
    stats: Shared<VideoStats>,
    feedback: impl Fn(Feedback) + Send + 'static,
) -> std::io::Result<Receiving<VideoPacket>> {
    let (tx, rx): (Sender<VideoPacket>, Receiver<VideoPacket>) = channel();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let thread = std::thread::Builder::new()
        .name("roomcast-video-decode".into())
        .spawn(move || {
            let decoder = match H264Decoder::new() {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!("cannot create the H.264 decoder: {e}");
                    return;
                }
            };
            let mut shown = Showing {
                decoder,
                sink,
                first: true,
                last_size: (0, 0),
                keyframes: KeyframeAsker::default(),
            };
            let mut playout = VideoPlayout::default();
            // The playout's clock: monotonic, unlike the wall clock of the marks.
            let start = Instant::now();
            let clock = || start.elapsed().as_micros() as u64;
            while !s.load(Ordering::Relaxed) {
                let wait = playout.next_due_us().map_or(POLL, |due| {
                    Duration::from_micros(due.saturating_sub(clock())).min(POLL)
                });
                match rx.recv_timeout(wait) {
                    Ok(p) => {
                        lock(&stats).received += 1;
                        // Ask at once: the keyframe is on its way while the frame waits.
                        if !p.contiguous {
                            shown.keyframes.need(&stats, &feedback);
                        }
                        playout.push(clock(), p.rtp_time, p);
                        lock(&stats).playout_delay_ms = playout.target_ms();
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
                while let Some(p) = playout.pop(clock()) {
                    shown.show(&p.data, &stats, &feedback);
                }
            }
            if let Err(e) = shown.sink.finish() {
                tracing::warn!("video sink failed to finish: {e}");
            }
        })?;
    Ok(Receiving {
        tx,
        stop,
        thread: Some(thread),
    })
}

/// Decoding frames once due and handing the pictures on.
struct Showing {
    decoder: H264Decoder,
    sink: Box<dyn VideoSink>,
    first: bool,
    last_size: (u32, u32),
    keyframes: KeyframeAsker,
}

impl Showing {
    fn show(&mut self, data: &[u8], stats: &Shared<VideoStats>, feedback: &impl Fn(Feedback)) {
        for sei in crate::codec::sei::read_sei(data) {
            feedback(Feedback::Sei(sei));
        }
        match self.decoder.decode(data) {
            Ok(Some(mut frame)) => {
                self.keyframes.satisfied();
                let now = now_us();
                frame.capture_us = now;
                {
                    let mut st = lock(stats);
                    st.decoded(now);
                    st.width = frame.width;
                    st.height = frame.height;
                }
                let size = (frame.width, frame.height);
                if self.first {
                    self.first = false;
                    feedback(Feedback::FirstFrame {
                        width: frame.width,
                        height: frame.height,
                    });
                } else if size != self.last_size {
                    feedback(Feedback::SizeChanged {
                        width: frame.width,
                        height: frame.height,
                    });
                }
                self.last_size = size;
                if let Err(e) = self.sink.write(&frame) {
                    tracing::warn!("video sink failed: {e}");
                }
            }
            // Nothing decodable yet (no keyframe seen): keep asking.
            Ok(None) if self.first => self.keyframes.need(stats, feedback),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!("video decode failed: {e}");
                lock(stats).decode_errors += 1;
                self.keyframes.need(stats, feedback);
            }
        }
    }
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
