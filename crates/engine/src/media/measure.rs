//! Measuring what a receiver got, outside the product path: sinks that wrap the real ones
//! and read the marks the synthetic sources carry (audio bursts, video frame marks) as the
//! media leaves the engine. The measuring tools (`roomcast join`, the benches, the tests)
//! install them through [`Measured`]; the app does not, so its users' media never goes
//! through a mark reader.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{
    AudioFrame, AudioSink, BurstDetector, MediaError, VideoFrame, VideoSink, now_us, read_mark,
};
use crate::engine::{AudioSinkFactory, VideoSinkFactory};
use crate::stats::lock;
use roomcast_proto::Stream;

/// What the marks of one remote video stream said.
#[derive(Debug, Clone, Default)]
pub struct VideoMarks {
    /// Capture-to-shown latencies, ms.
    pub latencies: Vec<f64>,
    /// Frame counters skipped between consecutive frames shown.
    pub gaps: u64,
    /// Frames whose counter went backwards.
    pub out_of_order: u64,
    last_counter: Option<u32>,
}

impl VideoMarks {
    /// Accounts one shown frame's mark.
    pub fn mark(&mut self, counter: u32, latency_ms: f64) {
        if let Some(last) = self.last_counter {
            if counter > last {
                self.gaps += u64::from(counter - last - 1);
            } else {
                self.out_of_order += 1;
            }
        }
        self.last_counter = Some(counter);
        self.latencies.push(latency_ms);
    }
}

type Cell<T> = Arc<Mutex<T>>;

/// The marks read per remote user (audio) and per user and stream (video).
#[derive(Default)]
pub struct Measured {
    audio: Mutex<HashMap<String, Cell<Vec<f64>>>>,
    video: Mutex<HashMap<(String, Stream), Cell<VideoMarks>>>,
}

impl Measured {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// `inner`, with each sink it makes wrapped in a burst reader.
    pub fn audio_sinks(self: &Arc<Self>, inner: AudioSinkFactory) -> AudioSinkFactory {
        let me = self.clone();
        Arc::new(move |user: &str| -> Box<dyn AudioSink> {
            let latencies = Cell::default();
            lock(&me.audio).insert(user.to_string(), latencies.clone());
            Box::new(BurstReader {
                inner: inner(user),
                detector: BurstDetector::new(),
                latencies,
            })
        })
    }

    /// `inner`, with each sink it makes wrapped in a mark reader.
    pub fn video_sinks(self: &Arc<Self>, inner: VideoSinkFactory) -> VideoSinkFactory {
        let me = self.clone();
        Arc::new(move |user: &str, stream: Stream| -> Box<dyn VideoSink> {
            let marks = Cell::default();
            lock(&me.video).insert((user.to_string(), stream), marks.clone());
            Box::new(MarkReader {
                inner: inner(user, stream),
                marks,
            })
        })
    }

    /// Mouth-to-ear latencies (ms) of `user`'s audio so far.
    pub fn audio(&self, user: &str) -> Vec<f64> {
        lock(&self.audio)
            .get(user)
            .map(|c| lock(c).clone())
            .unwrap_or_default()
    }

    /// The marks of `user`'s `stream` so far.
    pub fn video(&self, user: &str, stream: Stream) -> VideoMarks {
        lock(&self.video)
            .get(&(user.to_string(), stream))
            .map(|c| lock(c).clone())
            .unwrap_or_default()
    }
}

struct BurstReader {
    inner: Box<dyn AudioSink>,
    detector: BurstDetector,
    latencies: Cell<Vec<f64>>,
}

impl AudioSink for BurstReader {
    fn write(&mut self, frame: &AudioFrame) -> Result<(), MediaError> {
        let found = self
            .detector
            .push(&frame.samples, frame.channels, frame.capture_us);
        lock(&self.latencies).extend(found);
        self.inner.write(frame)
    }

    fn finish(&mut self) -> Result<(), MediaError> {
        self.inner.finish()
    }
}

struct MarkReader {
    inner: Box<dyn VideoSink>,
    marks: Cell<VideoMarks>,
}

impl VideoSink for MarkReader {
    fn write(&mut self, frame: &VideoFrame) -> Result<(), MediaError> {
        if let Some(mark) = read_mark(frame) {
            let latency = now_us() as f64 / 1000.0 - mark.capture_ms as f64;
            lock(&self.marks).mark(mark.counter, latency);
        }
        self.inner.write(frame)
    }

    fn finish(&mut self) -> Result<(), MediaError> {
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_and_reordering_are_counted() {
        let mut s = VideoMarks::default();
        for c in [0, 1, 2, 5, 4, 6] {
            s.mark(c, 10.0);
        }
        assert_eq!(s.gaps, 2 + 1);
        assert_eq!(s.out_of_order, 1);
    }
}
