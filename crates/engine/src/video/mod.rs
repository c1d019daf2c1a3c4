//! Video processing between the camera and the encoders: beauty, background (blur or a
//! picture behind the person), colour filter and the encoder mirror, on I420 frames.
//!
//! Every processor is a plain struct with `process(&mut self, frame)` that keeps its own
//! buffers between frames. The [`VideoChain`] strings them together in a fixed order and is
//! owned by the [`Engine`](crate::Engine), not by a capture thread, so a camera switch keeps
//! the effects and new settings apply to the next frame. The self view is fed from the
//! chain's output (what others see); `roomcast process-video` runs the same chain on a clip.
//!
//! Order, and why: beauty (its skin mask wants the camera's own colours, and a virtual
//! background must not be smoothed as if it were skin) → background → colour filter (a look
//! over the whole finished picture) → encoder mirror (geometry last, so nothing above depends
//! on it).

mod background;
mod beauty;
mod boxfilter;
mod looks;
mod lut;
mod resample;
mod scale;
#[cfg(any(test, feature = "testsig"))]
pub mod scene;
pub mod segment;
#[cfg(any(test, feature = "testsig"))]
pub mod testsig;

pub use background::{BackgroundFx, decode_picture};
pub use beauty::{Beauty, BeautyParams, BeautyStyle};
pub use looks::{BUNDLED_LOOKS, look_lut};
pub use lut::{ColorFilter, Lut3d, LutError};
pub use scale::{scale_into, small_size};

use serde::{Deserialize, Serialize};

use crate::media::VideoFrame;

/// The small simulcast layer (TRTC `enableEncSmallVideoStream`'s parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmallStream {
    /// At most this wide (the camera's aspect is kept).
    pub max_width: u32,
    pub fps: u32,
    pub bitrate_bps: u32,
}

impl Default for SmallStream {
    fn default() -> Self {
        Self {
            max_width: 320,
            fps: 15,
            bitrate_bps: 100_000,
        }
    }
}

/// One step of the chain.
pub trait VideoProcessor: Send {
    fn process(&mut self, frame: &mut VideoFrame);
}

/// What replaces the background (person segmentation).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Background {
    #[default]
    None,
    /// Blur, level 1..=9.
    Blur { level: u8 },
    /// A picture file behind the person.
    Image { path: String },
}

/// Every video effect setting at once (what the app saves and `set_video_effects` takes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VideoEffects {
    pub beauty_style: BeautyStyle,
    /// 0..=9 each.
    pub smoothness: u8,
    pub whiteness: u8,
    pub ruddiness: u8,
    pub sharpen: bool,
    /// A bundled look's name ([`BUNDLED_LOOKS`]) or the path of a PNG LUT image.
    pub filter: Option<String>,
    /// 0..=1.
    pub filter_strength: f32,
    pub background: Background,
    /// Mirror what is encoded (TRTC `setVideoEncoderMirror`); the self view's mirror is a
    /// display setting of the app.
    pub mirror_encoded: bool,
}

impl Default for VideoEffects {
    fn default() -> Self {
        Self {
            beauty_style: BeautyStyle::Smooth,
            smoothness: 0,
            whiteness: 0,
            ruddiness: 0,
            sharpen: false,
            filter: None,
            filter_strength: 0.8,
            background: Background::None,
            mirror_encoded: false,
        }
    }
}

impl VideoEffects {
    pub fn beauty(&self) -> BeautyParams {
        BeautyParams {
            style: self.beauty_style,
            smoothness: self.smoothness,
            whiteness: self.whiteness,
            ruddiness: self.ruddiness,
            sharpen: self.sharpen,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error(transparent)]
    Lut(#[from] LutError),
    #[error("background effects: {0}")]
    Segmentation(#[from] segment::ModelError),
    #[error("background picture {path}: {why}")]
    Picture { path: String, why: String },
    #[error("blur level {0} is out of range (1 to 9)")]
    BlurLevel(u8),
}

/// The camera's processing chain; see the module docs.
pub struct VideoChain {
    effects: VideoEffects,
    beauty: Beauty,
    background: BackgroundFx,
    filter: Option<ColorFilter>,
}

impl VideoChain {
    pub fn new(effects: VideoEffects) -> Result<Self, VideoError> {
        let mut chain = Self {
            effects: VideoEffects::default(),
            beauty: Beauty::default(),
            background: BackgroundFx::default(),
            filter: None,
        };
        chain.set_effects(effects)?;
        Ok(chain)
    }

    pub fn effects(&self) -> &VideoEffects {
        &self.effects
    }

    /// Takes new settings; on error nothing changes. A filter is read and baked only when it
    /// or its strength changed.
    pub fn set_effects(&mut self, e: VideoEffects) -> Result<(), VideoError> {
        let filter_changed =
            e.filter != self.effects.filter || e.filter_strength != self.effects.filter_strength;
        let filter = match &e.filter {
            Some(id) if filter_changed => {
                Some(Some(ColorFilter::new(&look_lut(id)?, e.filter_strength)))
            }
            None if filter_changed => Some(None),
            _ => None,
        };
        self.background.set(&e.background)?;
        if let Some(f) = filter {
            self.filter = f;
        }
        self.beauty.set_params(e.beauty());
        self.effects = e;
        Ok(())
    }

    pub fn process(&mut self, frame: &mut VideoFrame) {
        self.beauty.process(frame);
        self.background.process(frame);
        if let Some(f) = &mut self.filter {
            f.process(frame);
        }
        if self.effects.mirror_encoded {
            mirror(frame);
        }
    }
}

/// Flips a frame left to right in place.
pub fn mirror(f: &mut VideoFrame) {
    let (w, cw) = (f.width as usize, f.width as usize / 2);
    f.y.chunks_exact_mut(w).for_each(<[u8]>::reverse);
    f.u.chunks_exact_mut(cw).for_each(<[u8]>::reverse);
    f.v.chunks_exact_mut(cw).for_each(<[u8]>::reverse);
}

/// Nearest 8-bit value, saturating: below 0 is 0, above 255 is 255. (`f32::round` is a
/// library call on baseline x86-64, and pixel loops call this millions of times a second.)
#[inline]
pub(crate) fn to_u8(v: f32) -> u8 {
    (v + 0.5) as u8
}

#[cfg(test)]
mod person_tests;
#[cfg(test)]
mod tests;
