//! Person segmentation: MediaPipe's selfie segmentation network (the landscape model, 256×144,
//! from the `@mediapipe/selfie_segmentation` npm package, embedded at build time) run by our own
//! small TFLite interpreter, because `tract` cannot run the model's custom transpose
//! convolution. See docs/DECISIONS.md "Background effects".
//!
//! The model runs on every other frame at its own size; the mask in between is the last one,
//! and each new mask is blended with the previous to steady the edges.

mod flatbuf;
mod net;
mod tflite;

use crate::media::VideoFrame;
use crate::video::lut::yuv_to_rgb;
use crate::video::scale::scale_into;
use net::Net;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("segmentation model is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("segmentation model uses what this engine cannot run: {0}")]
    Unsupported(String),
    #[error(
        "this build has no person segmentation model (it comes from ui/node_modules: run `npm ci` in ui/ and rebuild)"
    )]
    Missing,
}

/// The model embedded in this build, if the build found it.
pub fn bundled_model() -> Option<&'static [u8]> {
    #[cfg(roomcast_selfie_model)]
    return Some(include_bytes!(env!("ROOMCAST_SELFIE_MODEL")));
    #[cfg(not(roomcast_selfie_model))]
    None
}

/// Weight of a new mask against the previous one.
const NEW_MASK_WEIGHT: f32 = 0.6;

pub struct Segmenter {
    net: Net,
    /// The smoothed person probability, model size, row-major.
    mask: Vec<f32>,
    /// The frame at the model's input size.
    small: VideoFrame,
    frames: u64,
    /// How many times the mask has changed (never reset, so a cached copy can tell).
    updates: u64,
    /// Run the model on one frame in this many.
    every: u64,
}

impl Segmenter {
    /// The model this build embeds.
    pub fn bundled() -> Result<Self, ModelError> {
        Self::from_tflite(bundled_model().ok_or(ModelError::Missing)?)
    }

    pub fn from_tflite(bytes: &[u8]) -> Result<Self, ModelError> {
        let net = Net::new(tflite::Graph::parse(bytes)?)?;
        if net.output_size() != net.input_size() {
            return Err(ModelError::Unsupported(
                "mask size differs from input size".into(),
            ));
        }
        let (h, w) = net.input_size();
        if w % 2 != 0 || h % 2 != 0 {
            return Err(ModelError::Unsupported(format!("odd input size {w}×{h}")));
        }
        Ok(Self {
            small: VideoFrame::black(w as u32, h as u32),
            net,
            mask: Vec::new(),
            frames: 0,
            updates: 0,
            every: 2,
        })
    }

    /// Runs the model on every `n`th frame (1: every frame).
    pub fn set_every(&mut self, n: u64) {
        self.every = n.max(1);
    }

    /// The mask's width and height.
    pub fn mask_size(&self) -> (usize, usize) {
        let (h, w) = self.net.input_size();
        (w, h)
    }

    /// The person probability (0..1) for this frame at [`mask_size`](Self::mask_size).
    pub fn segment(&mut self, frame: &VideoFrame) -> &[f32] {
        if self.mask.is_empty() || self.frames.is_multiple_of(self.every) {
            let fresh = infer(&mut self.net, &mut self.small, frame);
            if self.mask.len() == fresh.len() {
                for (m, &n) in self.mask.iter_mut().zip(fresh) {
                    *m += (n - *m) * NEW_MASK_WEIGHT;
                }
            } else {
                self.mask = fresh.to_vec();
            }
            self.updates += 1;
        }
        self.frames += 1;
        &self.mask
    }

    /// The mask [`segment`](Self::segment) last returned.
    pub fn mask(&self) -> &[f32] {
        &self.mask
    }

    /// Changes whenever [`segment`](Self::segment) returns a different mask.
    pub fn mask_version(&self) -> u64 {
        self.updates
    }

    /// Forgets the previous mask (a new camera or a jump in the picture).
    pub fn reset(&mut self) {
        self.mask.clear();
        self.frames = 0;
    }
}

/// One run of the model: the frame area-averaged down to the input size (into `small`), as
/// RGB in 0..1.
fn infer<'a>(net: &'a mut Net, small: &mut VideoFrame, f: &VideoFrame) -> &'a [f32] {
    scale_into(f, small);
    let mw = small.width as usize;
    let input = net.input_mut();
    for (i, (px, &y)) in input.chunks_exact_mut(3).zip(&small.y).enumerate() {
        let c = (i / mw / 2) * (mw / 2) + (i % mw) / 2;
        px.copy_from_slice(&yuv_to_rgb(
            f32::from(y),
            f32::from(small.u[c]),
            f32::from(small.v[c]),
        ));
    }
    net.run()
}
