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
use crate::video::scale::span;
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
    frames: u64,
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
        Ok(Self {
            net,
            mask: Vec::new(),
            frames: 0,
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
            let fresh = self.infer(frame);
            if self.mask.len() == fresh.len() {
                for (m, &n) in self.mask.iter_mut().zip(&fresh) {
                    *m += (n - *m) * NEW_MASK_WEIGHT;
                }
            } else {
                self.mask = fresh;
            }
        }
        self.frames += 1;
        &self.mask
    }

    /// Forgets the previous mask (a new camera or a jump in the picture).
    pub fn reset(&mut self) {
        self.mask.clear();
        self.frames = 0;
    }

    /// One run of the model: the frame box-averaged down to the input size, RGB in 0..1.
    fn infer(&mut self, f: &VideoFrame) -> Vec<f32> {
        let (mh, mw) = self.net.input_size();
        let (fw, fh) = (f.width as usize, f.height as usize);
        let cw = fw / 2;
        let input = self.net.input_mut();
        for my in 0..mh {
            let (y0, y1) = span(my, mh, fh);
            for mx in 0..mw {
                let (x0, x1) = span(mx, mw, fw);
                let mut sum = 0u32;
                for row in f.y[y0 * fw..y1 * fw].chunks_exact(fw) {
                    sum += row[x0..x1].iter().map(|&v| v as u32).sum::<u32>();
                }
                let luma = sum as f32 / ((y1 - y0) * (x1 - x0)) as f32;
                let c = ((y0 + y1) / 4) * cw + (x0 + x1) / 4;
                let rgb = crate::video::lut::yuv_to_rgb(luma, f.u[c] as f32, f.v[c] as f32);
                input[(my * mw + mx) * 3..][..3].copy_from_slice(&rgb);
            }
        }
        self.net.run().to_vec()
    }
}
