//! A camera for the virtual world: its "encoder" makes H.264-framed frames of the size its
//! bitrate allows (what it wants, or less if the network carries less), numbered by their capture time, and with simulcast a small layer of
//! 150 kbit/s beside it. What the tests measure with it is how video travels (order, holes,
//! keyframes, layers), not pictures.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use roomcast_engine::session_core::Controls;
use roomcast_proto::VideoStreamType;

pub const VIDEO_FPS: u64 = 15;
/// A keyframe every this many frames, besides the ones asked for (unless set otherwise).
const KEYFRAME_EVERY: u64 = 2 * VIDEO_FPS;
pub const SMALL_BPS: u64 = 150_000;

/// One encoded frame of one layer (None: no simulcast).
pub struct Frame {
    pub layer: Option<VideoStreamType>,
    pub data: Vec<u8>,
    pub keyframe: bool,
}

pub struct Camera {
    pub controls: Arc<Controls>,
    pub next: Instant,
    simulcast: bool,
    frame: u64,
    /// A keyframe every this many frames, besides the ones asked for.
    pub keyframe_every: u64,
    /// Keyframes made because a receiver (through the server) asked for one.
    pub asked_keyframes: u32,
    /// A keyframe is this many times the size of a frame.
    pub keyframe_size: u64,
}

impl Camera {
    pub fn new(controls: Arc<Controls>, now: Instant, simulcast: bool) -> Self {
        Camera {
            controls,
            next: now,
            simulcast,
            frame: 0,
            keyframe_every: KEYFRAME_EVERY,
            asked_keyframes: 0,
            keyframe_size: 3,
        }
    }

    /// What it encodes at now: what it wants, or less if the network carries less.
    pub fn bitrate(&self) -> u32 {
        let wanted = self.controls.bitrate_bps.load(Ordering::Relaxed);
        match self.controls.network_bps.load(Ordering::Relaxed) {
            0 => wanted,
            n => wanted.min(n),
        }
    }

    /// The next frame of each layer that anyone receives; moves `next` on.
    pub fn encode(&mut self) -> Vec<Frame> {
        self.next += Duration::from_micros(1_000_000 / VIDEO_FPS);
        let c = &self.controls;
        let asked = c.force_keyframe.swap(false, Ordering::Relaxed);
        let asked_small = c.force_small_keyframe.swap(false, Ordering::Relaxed);
        self.asked_keyframes += u32::from(asked || asked_small);
        let regular = self.frame.is_multiple_of(self.keyframe_every);
        self.frame += 1;
        let big = u64::from(self.bitrate());
        let k = self.keyframe_size;
        if !self.simulcast {
            return vec![frame(None, big, (asked || regular).then_some(k))];
        }
        let mut frames = Vec::new();
        if !c.skip_big.load(Ordering::Relaxed) {
            let keyframe = (asked || regular).then_some(k);
            frames.push(frame(Some(VideoStreamType::Big), big, keyframe));
        }
        if !c.skip_small.load(Ordering::Relaxed) {
            let keyframe = (asked || asked_small || regular).then_some(k);
            frames.push(frame(Some(VideoStreamType::Small), SMALL_BPS, keyframe));
        }
        frames
    }
}

/// A frame at `bps` (a keyframe, `keyframe` times the size), H.264 NAL framing.
fn frame(layer: Option<VideoStreamType>, bps: u64, keyframe: Option<u64>) -> Frame {
    let size = (bps / 8 / VIDEO_FPS * keyframe.unwrap_or(1)).max(20);
    let keyframe = keyframe.is_some();
    let mut data = vec![0, 0, 0, 1, if keyframe { 0x65 } else { 0x41 }];
    data.extend((0..size).map(|i| (i as u8).wrapping_mul(31) | 1));
    Frame {
        layer,
        data,
        keyframe,
    }
}
