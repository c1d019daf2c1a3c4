//! Custom sources: the application pushes frames it captured or generated itself.
//!
//! The queue is bounded and drops the *oldest* frame when full: a real-time pipeline that
//! fell behind should catch up with fresh media rather than play stale media late, and the
//! app's capture thread must never block on the engine.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::{
    AudioFrame, AudioSource, FRAME_SAMPLES, MediaError, SAMPLE_RATE, VideoFrame, VideoSource,
};

/// Queued audio frames before the oldest is dropped (200 ms).
pub const AUDIO_QUEUE_FRAMES: usize = 10;
/// Queued video frames before the oldest is dropped.
pub const VIDEO_QUEUE_FRAMES: usize = 4;

struct State<T> {
    queue: VecDeque<T>,
    pushers: usize,
    source_alive: bool,
    dropped: u64,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    capacity: usize,
}

impl<T> Shared<T> {
    fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                pushers: 1,
                source_alive: true,
                dropped: 0,
            }),
            ready: Condvar::new(),
            capacity,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave the queue inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, item: T) -> Result<(), MediaError> {
        let mut state = self.lock();
        if !state.source_alive {
            return Err(MediaError::Closed);
        }
        if state.queue.len() >= self.capacity {
            state.queue.pop_front();
            state.dropped += 1;
        }
        state.queue.push_back(item);
        self.ready.notify_one();
        Ok(())
    }

    /// Blocks until an item is queued; None once the queue is empty and no pusher is left.
    fn pop(&self) -> Option<T> {
        let mut state = self.lock();
        loop {
            if let Some(item) = state.queue.pop_front() {
                return Some(item);
            }
            if state.pushers == 0 {
                return None;
            }
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn add_pusher(&self) {
        self.lock().pushers += 1;
    }

    fn remove_pusher(&self) {
        let mut state = self.lock();
        state.pushers = state.pushers.saturating_sub(1);
        self.ready.notify_all();
    }

    fn close(&self) {
        let mut state = self.lock();
        state.source_alive = false;
        state.queue.clear();
    }
}

/// Source end of [`push_audio_source`].
pub struct PushAudioSource {
    shared: Arc<Shared<AudioFrame>>,
    channels: u16,
}

/// Application end of [`push_audio_source`]; clone it to push from several threads.
pub struct AudioPusher {
    shared: Arc<Shared<AudioFrame>>,
    channels: u16,
}

/// A source fed by the application; see the module docs for the queue policy.
pub fn push_audio_source(channels: u16) -> (PushAudioSource, AudioPusher) {
    let shared = Shared::new(AUDIO_QUEUE_FRAMES);
    let channels = channels.max(1);
    (
        PushAudioSource {
            shared: Arc::clone(&shared),
            channels,
        },
        AudioPusher { shared, channels },
    )
}

impl AudioPusher {
    /// Queues a 20 ms 48 kHz frame with the source's channel count; drops the oldest
    /// queued frame if the queue is full. Err(Closed) once the source is gone.
    pub fn push(&self, frame: AudioFrame) -> Result<(), MediaError> {
        let expected = FRAME_SAMPLES * usize::from(self.channels);
        if frame.channels != self.channels
            || frame.sample_rate != SAMPLE_RATE
            || frame.samples.len() != expected
        {
            return Err(MediaError::InvalidFrame(format!(
                "pushed audio has {} samples, {} channels at {} Hz; this source takes 20 ms frames of {expected} samples, {} channels at 48 kHz",
                frame.samples.len(),
                frame.channels,
                frame.sample_rate,
                self.channels
            )));
        }
        self.shared.push(frame)
    }

    /// Frames dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.lock().dropped
    }
}

impl Clone for AudioPusher {
    fn clone(&self) -> Self {
        self.shared.add_pusher();
        Self {
            shared: Arc::clone(&self.shared),
            channels: self.channels,
        }
    }
}

impl Drop for AudioPusher {
    fn drop(&mut self) {
        self.shared.remove_pusher();
    }
}

impl AudioSource for PushAudioSource {
    fn channels(&self) -> u16 {
        self.channels
    }

    /// Keeps the pushed frame's `capture_us` unless it is 0.
    fn next_frame(&mut self, capture_us: u64) -> Option<AudioFrame> {
        let mut frame = self.shared.pop()?;
        if frame.capture_us == 0 {
            frame.capture_us = capture_us;
        }
        Some(frame)
    }
}

impl Drop for PushAudioSource {
    fn drop(&mut self) {
        self.shared.close();
    }
}

/// Source end of [`push_video_source`].
pub struct PushVideoSource {
    shared: Arc<Shared<VideoFrame>>,
    size: (u32, u32),
    fps: u32,
}

/// Application end of [`push_video_source`]; clone it to push from several threads.
pub struct VideoPusher {
    shared: Arc<Shared<VideoFrame>>,
}

/// A source fed by the application; `width`/`height`/`fps` are what it announces, pushed
/// frames may change size (the encoder follows).
pub fn push_video_source(width: u32, height: u32, fps: u32) -> (PushVideoSource, VideoPusher) {
    let shared = Shared::new(VIDEO_QUEUE_FRAMES);
    (
        PushVideoSource {
            shared: Arc::clone(&shared),
            size: (width, height),
            fps: fps.max(1),
        },
        VideoPusher { shared },
    )
}

impl VideoPusher {
    /// Queues a valid I420 frame; drops the oldest queued frame if the queue is full.
    /// Err(Closed) once the source is gone.
    pub fn push(&self, frame: VideoFrame) -> Result<(), MediaError> {
        frame.validate()?;
        self.shared.push(frame)
    }

    /// Frames dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.lock().dropped
    }
}

impl Clone for VideoPusher {
    fn clone(&self) -> Self {
        self.shared.add_pusher();
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for VideoPusher {
    fn drop(&mut self) {
        self.shared.remove_pusher();
    }
}

impl VideoSource for PushVideoSource {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn fps(&self) -> u32 {
        self.fps
    }

    /// Keeps the pushed frame's `capture_us` unless it is 0.
    fn next_frame(&mut self, capture_us: u64) -> Option<VideoFrame> {
        let mut frame = self.shared.pop()?;
        if frame.capture_us == 0 {
            frame.capture_us = capture_us;
        }
        Some(frame)
    }
}

impl Drop for PushVideoSource {
    fn drop(&mut self) {
        self.shared.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio(capture_us: u64) -> AudioFrame {
        AudioFrame {
            samples: vec![0; FRAME_SAMPLES],
            channels: 1,
            sample_rate: SAMPLE_RATE,
            capture_us,
        }
    }

    #[test]
    fn audio_push_pop_drop_oldest_and_end() {
        let (mut source, pusher) = push_audio_source(1);
        let second = pusher.clone();
        for k in 1..=(AUDIO_QUEUE_FRAMES as u64 + 2) {
            pusher.push(audio(k)).expect("source alive");
        }
        assert_eq!(pusher.dropped(), 2);
        assert_eq!(source.next_frame(0).map(|f| f.capture_us), Some(3));
        assert!(matches!(
            pusher.push(AudioFrame {
                channels: 2,
                ..audio(1)
            }),
            Err(MediaError::InvalidFrame(_))
        ));
        drop(pusher);
        drop(second);
        let rest = std::iter::from_fn(|| source.next_frame(0)).count();
        assert_eq!(rest, AUDIO_QUEUE_FRAMES - 1);
    }

    #[test]
    fn video_blocks_until_pushed_from_another_thread() {
        let (mut source, pusher) = push_video_source(64, 32, 15);
        let handle = std::thread::spawn(move || {
            pusher
                .push(VideoFrame::black(64, 32))
                .expect("source alive");
        });
        let frame = source.next_frame(77).expect("one frame pushed");
        assert_eq!((frame.width, frame.capture_us), (64, 77));
        assert!(source.next_frame(0).is_none());
        handle.join().expect("pusher thread");
    }

    #[test]
    fn push_after_source_dropped_is_an_error() {
        let (source, pusher) = push_video_source(64, 32, 15);
        drop(source);
        assert!(matches!(
            pusher.push(VideoFrame::black(64, 32)),
            Err(MediaError::Closed)
        ));
        assert!(
            pusher
                .push(VideoFrame {
                    width: 3,
                    ..VideoFrame::black(64, 32)
                })
                .is_err()
        );
    }
}
