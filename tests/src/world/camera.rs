//! A camera for the virtual world: its "encoder" makes H.264-framed frames of the size its
//! bitrate allows, numbered by their capture time. What the tests measure with it is how
//! video travels (order, holes, keyframes), not pictures.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use roomcast_engine::session_core::Controls;

pub const VIDEO_FPS: u64 = 15;
/// A keyframe every this many frames, besides the ones asked for.
const KEYFRAME_EVERY: u64 = 2 * VIDEO_FPS;

pub struct Camera {
    pub controls: Arc<Controls>,
    pub next: Instant,
    frame: u64,
    /// Keyframes made because a receiver (through the server) asked for one.
    pub asked_keyframes: u32,
}

impl Camera {
    pub fn new(controls: Arc<Controls>, now: Instant) -> Self {
        Camera {
            controls,
            next: now,
            frame: 0,
            asked_keyframes: 0,
        }
    }

    /// The next frame and whether it is a keyframe (three times the size); moves `next` on.
    pub fn encode(&mut self) -> (Vec<u8>, bool) {
        self.next += Duration::from_micros(1_000_000 / VIDEO_FPS);
        let asked = self.controls.force_keyframe.swap(false, Ordering::Relaxed);
        self.asked_keyframes += u32::from(asked);
        let keyframe = asked || self.frame.is_multiple_of(KEYFRAME_EVERY);
        self.frame += 1;
        let rate = u64::from(self.controls.bitrate_bps.load(Ordering::Relaxed));
        let size = (rate / 8 / VIDEO_FPS * if keyframe { 3 } else { 1 }).max(20);
        let mut data = vec![0, 0, 0, 1, if keyframe { 0x65 } else { 0x41 }];
        data.extend((0..size).map(|i| (i as u8).wrapping_mul(31) | 1));
        (data, keyframe)
    }
}
