//! Sinks that do not touch files: discard, or hand frames to the application.

use super::{AudioFrame, AudioSink, MediaError, VideoFrame, VideoSink};

/// Discards everything (benchmarks, receive-only tests).
#[derive(Default)]
pub struct NullSink;

impl AudioSink for NullSink {
    fn write(&mut self, _frame: &AudioFrame) -> Result<(), MediaError> {
        Ok(())
    }
}

impl VideoSink for NullSink {
    fn write(&mut self, _frame: &VideoFrame) -> Result<(), MediaError> {
        Ok(())
    }
}

/// Hands each decoded audio frame to the application.
pub struct CallbackAudioSink(Box<dyn FnMut(&AudioFrame) + Send>);

impl CallbackAudioSink {
    pub fn new(f: impl FnMut(&AudioFrame) + Send + 'static) -> Self {
        Self(Box::new(f))
    }
}

impl AudioSink for CallbackAudioSink {
    fn write(&mut self, frame: &AudioFrame) -> Result<(), MediaError> {
        (self.0)(frame);
        Ok(())
    }
}

/// Hands each decoded picture to the application.
pub struct CallbackVideoSink(Box<dyn FnMut(&VideoFrame) + Send>);

impl CallbackVideoSink {
    pub fn new(f: impl FnMut(&VideoFrame) + Send + 'static) -> Self {
        Self(Box::new(f))
    }
}

impl VideoSink for CallbackVideoSink {
    fn write(&mut self, frame: &VideoFrame) -> Result<(), MediaError> {
        (self.0)(frame);
        Ok(())
    }
}
