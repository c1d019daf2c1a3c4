//! Receiving one remote user's stream: audio goes through the adaptive jitter buffer and
//! Opus (FEC, PLC) on a playout thread ticking every 20 ms; video is decoded on its own
//! thread. Both read the marks the synthetic sources put in the media, so latency is
//! measured on what was actually decoded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::codec::{H264Decoder, OpusDecoder};
use crate::jitter::{AudioJitterBuffer, JitterConfig, Playout};
use crate::media::{
    AudioFrame, AudioSink, BurstDetector, FRAME_MS, SAMPLE_RATE, VideoSink, now_us, read_mark,
};
use crate::stats::{AudioStats, Shared, VideoStats, lock};

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
}

pub struct AudioPacket {
    pub arrival_us: u64,
    pub rtp_ts: u64,
    pub payload: Vec<u8>,
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

pub fn start_audio(
    channels: u16,
    mut sink: Box<dyn AudioSink>,
    stats: Shared<AudioStats>,
    feedback: impl Fn(Feedback) + Send + 'static,
) -> std::io::Result<Receiving<AudioPacket>> {
    let (tx, rx): (Sender<AudioPacket>, Receiver<AudioPacket>) = channel();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let thread = std::thread::Builder::new()
        .name("roomcast-audio-playout".into())
        .spawn(move || {
            let mut jitter = AudioJitterBuffer::new(JitterConfig::default());
            let mut decoder = match OpusDecoder::new(channels) {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!("cannot create the Opus decoder: {e}");
                    return;
                }
            };
            let mut bursts = BurstDetector::new();
            let frame_us = u64::from(FRAME_MS) * 1000;
            let mut next = now_us();
            let mut first = true;
            let mut started = false;
            while !s.load(Ordering::Relaxed) {
                loop {
                    match rx.try_recv() {
                        Ok(p) => {
                            lock(&stats).packets += 1;
                            jitter.push(p.arrival_us, p.rtp_ts, p.payload);
                        }
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => return finish(sink.as_mut()),
                    }
                }
                let now = now_us();
                if now < next {
                    std::thread::sleep(Duration::from_micros((next - now).min(5_000)));
                    continue;
                }
                next += frame_us;
                if now > next + 10 * frame_us {
                    next = now + frame_us;
                }
                let (pcm, how) = match jitter.pop(now) {
                    Playout::Packet(p) => (decoder.decode(&p), How::Decoded),
                    Playout::Lost { next: Some(n) } => (decoder.decode_fec(&n), How::Fec),
                    Playout::Lost { next: None } => (decoder.conceal(), How::Concealed),
                    Playout::Empty => {
                        if started {
                            // Silence (DTX or nothing sent): keep the sink's timeline continuous.
                            (
                                Ok(vec![
                                    0;
                                    (SAMPLE_RATE / 1000 * FRAME_MS) as usize
                                        * usize::from(channels)
                                ]),
                                How::Silence,
                            )
                        } else {
                            continue;
                        }
                    }
                };
                started = true;
                let samples = match pcm {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::debug!("audio decode failed: {e}");
                        continue;
                    }
                };
                {
                    let mut st = lock(&stats);
                    st.frames += 1;
                    match how {
                        How::Decoded => st.decoded += 1,
                        How::Fec => st.fec_recovered += 1,
                        How::Concealed => st.concealed += 1,
                        How::Silence => {}
                    }
                    st.jitter_delay_ms = jitter.stats().current_delay_ms;
                    st.latencies.extend(bursts.push(&samples, channels, now));
                    st.level = crate::stats::level(&samples);
                }
                if first && how == How::Decoded {
                    first = false;
                    feedback(Feedback::FirstAudio);
                }
                let frame = AudioFrame {
                    samples,
                    channels,
                    sample_rate: SAMPLE_RATE,
                    capture_us: now,
                };
                if let Err(e) = sink.write(&frame) {
                    tracing::warn!("audio sink failed: {e}");
                }
            }
            finish(sink.as_mut());
        })?;
    Ok(Receiving {
        tx,
        stop,
        thread: Some(thread),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Decoded,
    Fec,
    Concealed,
    Silence,
}

fn finish(sink: &mut dyn AudioSink) {
    if let Err(e) = sink.finish() {
        tracing::warn!("audio sink failed to finish: {e}");
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
                match decoder.decode(&packet.data) {
                    Ok(Some(mut frame)) => {
                        keyframes.satisfied();
                        let now = now_us();
                        frame.capture_us = now;
                        {
                            let mut st = lock(&stats);
                            st.frames += 1;
                            st.width = frame.width;
                            st.height = frame.height;
                            if let Some(mark) = read_mark(&frame) {
                                frame.capture_us = mark.capture_ms * 1000;
                                let latency = (now as f64 / 1000.0) - mark.capture_ms as f64;
                                st.mark(mark.counter, latency);
                            }
                        }
                        if first {
                            first = false;
                            feedback(Feedback::FirstFrame {
                                width: frame.width,
                                height: frame.height,
                            });
                        }
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
