//! The engine's video effect API (TRTC's `TXBeautyManager`, `setFilter`,
//! `setVideoEncoderMirror`, `setLocalRenderParams`' view). Settings go to the engine-owned
//! camera chain at once, in or out of a room, and survive a camera switch.

use roomcast_proto::{Request, Stream, UserId, VideoStreamType};

use super::{Engine, EngineError};
use crate::media::VideoSink;
use crate::stats::lock;
use crate::video::{BeautyStyle, SmallStream, VideoEffects};

impl Engine {
    /// The camera chain's settings now.
    pub fn video_effects(&self) -> VideoEffects {
        lock(&self.video_chain).effects().clone()
    }

    /// Replaces every video effect at once (the app's saved settings); on error (a filter
    /// image that cannot be read) nothing changes.
    pub fn set_video_effects(&self, effects: VideoEffects) -> Result<(), EngineError> {
        Ok(lock(&self.video_chain).set_effects(effects)?)
    }

    fn update_video(&self, f: impl FnOnce(&mut VideoEffects)) -> Result<(), EngineError> {
        let mut chain = lock(&self.video_chain);
        let mut effects = chain.effects().clone();
        f(&mut effects);
        Ok(chain.set_effects(effects)?)
    }

    /// TRTC `setBeautyStyle(style, beauty, white, ruddiness)`: levels 0..=9.
    pub fn set_beauty_style(
        &self,
        style: BeautyStyle,
        smoothness: u8,
        whiteness: u8,
        ruddiness: u8,
    ) -> Result<(), EngineError> {
        self.update_video(|e| {
            e.beauty_style = style;
            e.smoothness = smoothness.min(9);
            e.whiteness = whiteness.min(9);
            e.ruddiness = ruddiness.min(9);
        })
    }

    /// TXBeautyManager `enableSharpnessEnhancement`.
    pub fn enable_sharpness_enhancement(&self, on: bool) -> Result<(), EngineError> {
        self.update_video(|e| e.sharpen = on)
    }

    /// TRTC `setFilter`: a bundled look's name or a PNG LUT image's path; `None` = no filter.
    pub fn set_filter(&self, filter: Option<&str>) -> Result<(), EngineError> {
        self.update_video(|e| e.filter = filter.map(str::to_string))
    }

    /// TRTC `setFilterStrength`: 0..=1.
    pub fn set_filter_strength(&self, strength: f32) -> Result<(), EngineError> {
        self.update_video(|e| e.filter_strength = strength.clamp(0.0, 1.0))
    }

    /// TRTC `setVideoEncoderMirror`: what others see is mirrored.
    pub fn set_video_encoder_mirror(&self, mirror: bool) -> Result<(), EngineError> {
        self.update_video(|e| e.mirror_encoded = mirror)
    }

    /// Shows the local `stream` as it is sent (after the effects) in `sink`; `None` stops
    /// showing it. Outlives captures: a new camera draws into the same view.
    pub fn set_local_view(&self, stream: Stream, sink: Option<Box<dyn VideoSink>>) {
        let mut views = lock(&self.local_views);
        match sink {
            Some(s) => views.insert(stream, s),
            None => views.remove(&stream),
        };
    }

    /// TRTC `enableEncSmallVideoStream`: publish the camera with a small layer too (simulcast
    /// RIDs `h` and `l`), which viewers of small tiles receive instead of the big one. Takes
    /// effect when the camera starts (call it before `start_local_video`).
    pub fn enable_small_video_stream(&mut self, small: Option<SmallStream>) {
        self.small_stream = small;
    }

    /// TRTC `setRemoteVideoStreamType`: receive `user`'s small or big layer (when they publish
    /// both). The server switches on the next keyframe of that layer.
    pub async fn set_remote_video_stream_type(
        &self,
        user: UserId,
        stream_type: VideoStreamType,
    ) -> Result<(), EngineError> {
        self.send_request(Request::SetRemoteVideoStreamType {
            user_id: user,
            stream_type,
        })
        .await
    }
}
