//! H.264 through OpenH264: constrained baseline for WebRTC (profile-level-id 42e01f,
//! packetization-mode 1), camera real-time usage, no B-frames, keyframes on request.

use openh264::OpenH264API;
use openh264::decoder::{Decoder, DecoderConfig};
use openh264::encoder::{
    BitRate, Complexity, Encoder, FrameRate, FrameType, IntraFramePeriod, Level, Profile,
    RateControlMode, UsageType,
};
use openh264::formats::{YUVSlices, YUVSource};

use super::CodecError;
use crate::media::VideoFrame;

/// Periodic keyframes only as a safety net; receivers ask for one (PLI) when they need it.
const INTRA_PERIOD_SECONDS: u32 = 60;
/// A bitrate change re-creates the encoder (the crate has no safe runtime knob), which
/// costs a keyframe; so small changes are ignored and changes are at most this often.
const MIN_FRAMES_BETWEEN_RECONFIG_SECONDS: u32 = 2;
const RECONFIG_RATIO: f64 = 0.15;

#[derive(Debug, Clone, Copy)]
pub struct EncoderConfig {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_bps: u32,
}

/// One encoded picture as an Annex B byte stream (start codes, SPS/PPS before keyframes).
pub struct EncodedFrame {
    pub data: Vec<u8>,
    pub keyframe: bool,
}

fn h264_err(op: &'static str) -> impl FnOnce(openh264::Error) -> CodecError {
    move |e| CodecError::H264 {
        op,
        detail: e.to_string(),
    }
}

/// Encodes [`VideoFrame`]s; follows frame-size changes by re-creating itself.
pub struct H264Encoder {
    cfg: EncoderConfig,
    inner: Encoder,
    /// Bitrate asked for by `set_bitrate`, applied when worth a re-creation.
    wanted_bps: u32,
    frames_since_reconfig: u32,
}

impl H264Encoder {
    pub fn new(cfg: EncoderConfig) -> Result<Self, CodecError> {
        let inner = Self::create(&cfg)?;
        Ok(Self {
            cfg,
            inner,
            wanted_bps: cfg.bitrate_bps,
            frames_since_reconfig: 0,
        })
    }

    fn create(cfg: &EncoderConfig) -> Result<Encoder, CodecError> {
        if cfg.bitrate_bps == 0 || cfg.fps == 0 {
            return Err(CodecError::InvalidInput(format!(
                "H.264 encoder needs a non-zero bitrate and frame rate, got {} bps at {} fps",
                cfg.bitrate_bps, cfg.fps
            )));
        }
        // Level 3.1 is what 42e01f announces; bigger pictures need a bigger level.
        let level = if cfg.width * cfg.height <= 1280 * 720 {
            Level::Level_3_1
        } else {
            Level::Level_4_0
        };
        let config = openh264::encoder::EncoderConfig::new()
            .bitrate(BitRate::from_bps(cfg.bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(cfg.fps as f32))
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .profile(Profile::Baseline)
            .level(level)
            .complexity(Complexity::Medium)
            .intra_frame_period(IntraFramePeriod::from_num_frames(
                cfg.fps.saturating_mul(INTRA_PERIOD_SECONDS),
            ))
            // One thread: one slice per picture and deterministic output.
            .num_threads(1);
        Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(h264_err("encoder creation"))
    }

    fn reconfigure(&mut self, width: u32, height: u32) -> Result<(), CodecError> {
        let cfg = EncoderConfig {
            width,
            height,
            bitrate_bps: self.wanted_bps,
            ..self.cfg
        };
        self.inner = Self::create(&cfg)?;
        self.cfg = cfg;
        self.frames_since_reconfig = 0;
        Ok(())
    }

    /// None when the encoder skipped the frame (rate control).
    pub fn encode(
        &mut self,
        frame: &VideoFrame,
        force_keyframe: bool,
    ) -> Result<Option<EncodedFrame>, CodecError> {
        frame
            .validate()
            .map_err(|e| CodecError::InvalidInput(e.to_string()))?;
        let ratio = f64::from(self.wanted_bps) / f64::from(self.cfg.bitrate_bps);
        let bitrate_due = (ratio - 1.0).abs() > RECONFIG_RATIO
            && self.frames_since_reconfig >= self.cfg.fps * MIN_FRAMES_BETWEEN_RECONFIG_SECONDS;
        if (frame.width, frame.height) != (self.cfg.width, self.cfg.height) || bitrate_due {
            self.reconfigure(frame.width, frame.height)?;
        }
        self.frames_since_reconfig = self.frames_since_reconfig.saturating_add(1);
        if force_keyframe {
            self.inner.force_intra_frame();
        }
        let (w, h) = (frame.width as usize, frame.height as usize);
        let yuv = YUVSlices::new((&frame.y, &frame.u, &frame.v), (w, h), (w, w / 2, w / 2));
        let stream = self.inner.encode(&yuv).map_err(h264_err("encode"))?;
        let keyframe = match stream.frame_type() {
            FrameType::Skip | FrameType::Invalid => return Ok(None),
            FrameType::IDR | FrameType::I => true,
            FrameType::P | FrameType::IPMixed => false,
        };
        let data = stream.to_vec();
        if data.is_empty() {
            return Ok(None);
        }
        Ok(Some(EncodedFrame { data, keyframe }))
    }

    /// Takes effect within about two seconds if it differs by more than 15 %.
    pub fn set_bitrate(&mut self, bps: u32) {
        self.wanted_bps = bps.max(10_000);
    }
}

/// Decodes Annex B access units into tightly packed [`VideoFrame`]s.
pub struct H264Decoder {
    inner: Decoder,
}

impl H264Decoder {
    pub fn new() -> Result<Self, CodecError> {
        let inner = Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new())
            .map_err(h264_err("decoder creation"))?;
        Ok(Self { inner })
    }

    /// One access unit in, at most one picture out (`capture_us` = 0, the caller sets it).
    /// Ok(None) when the decoder needs more data, e.g. P-frames before the first keyframe.
    pub fn decode(&mut self, annexb: &[u8]) -> Result<Option<VideoFrame>, CodecError> {
        let Some(yuv) = self.inner.decode(annexb).map_err(h264_err("decode"))? else {
            return Ok(None);
        };
        let (w, h) = yuv.dimensions();
        let (sy, su, sv) = yuv.strides();
        let (cw, ch) = (w / 2, h / 2);
        let copy = |plane: &[u8], stride: usize, width: usize, rows: usize| -> Option<Vec<u8>> {
            let mut out = Vec::with_capacity(width * rows);
            for r in 0..rows {
                out.extend_from_slice(plane.get(r * stride..r * stride + width)?);
            }
            Some(out)
        };
        let planes = (
            copy(yuv.y(), sy, w, h),
            copy(yuv.u(), su, cw, ch),
            copy(yuv.v(), sv, cw, ch),
        );
        let (Some(y), Some(u), Some(v)) = planes else {
            return Err(CodecError::H264 {
                op: "decode",
                detail: format!("decoder returned {w}x{h} planes smaller than their strides say"),
            });
        };
        Ok(Some(VideoFrame {
            width: w as u32,
            height: h as u32,
            y,
            u,
            v,
            capture_us: 0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{PatternSource, VideoMark, VideoSource, read_mark};

    fn run_marks(width: u32, height: u32, fps: u32, bitrate_bps: u32, frames: u32) {
        let mut source = PatternSource::new(width, height, fps);
        let mut encoder = H264Encoder::new(EncoderConfig {
            width,
            height,
            fps,
            bitrate_bps,
        })
        .expect("valid config");
        let mut decoder = H264Decoder::new().expect("decoder");
        let (mut decoded, mut bytes) = (0u32, 0usize);
        for k in 0..frames {
            let capture_us = 1_700_000_000_000_000 + u64::from(k) * 1_000_000 / u64::from(fps);
            let frame = source.next_frame(capture_us).expect("pattern never ends");
            let Some(encoded) = encoder.encode(&frame, false).expect("encode") else {
                continue;
            };
            bytes += encoded.data.len();
            assert_eq!(encoded.keyframe, k == 0, "frame {k}");
            let picture = decoder
                .decode(&encoded.data)
                .expect("decode")
                .expect("one picture per frame");
            assert_eq!((picture.width, picture.height), (width, height));
            assert_eq!(
                read_mark(&picture),
                Some(VideoMark {
                    counter: k,
                    capture_ms: capture_us / 1000
                }),
                "{width}x{height} frame {k}"
            );
            decoded += 1;
        }
        assert!(
            decoded >= frames * 9 / 10,
            "{width}x{height}: only {decoded} of {frames} frames encoded"
        );
        let kbps = bytes as f64 * 8.0 * f64::from(fps) / f64::from(decoded) / 1000.0;
        assert!(
            kbps < f64::from(bitrate_bps) / 1000.0 * 2.0,
            "{width}x{height}: {kbps} kbps"
        );
    }

    #[test]
    fn marks_survive_320x180_at_150_kbps() {
        run_marks(320, 180, 15, 150_000, 60);
    }

    #[test]
    fn marks_survive_640x360_at_500_kbps() {
        run_marks(640, 360, 30, 500_000, 60);
    }

    #[test]
    fn marks_survive_1280x720_at_1500_kbps() {
        run_marks(1280, 720, 30, 1_500_000, 30);
    }

    #[test]
    fn marks_survive_160x90() {
        run_marks(160, 90, 15, 100_000, 30);
    }

    #[test]
    fn forced_keyframe_starts_a_fresh_decoder() {
        let cfg = EncoderConfig {
            width: 320,
            height: 180,
            fps: 30,
            bitrate_bps: 300_000,
        };
        let mut source = PatternSource::new(320, 180, 30);
        let mut encoder = H264Encoder::new(cfg).expect("valid config");
        let mut late = H264Decoder::new().expect("decoder");
        for k in 0..20u64 {
            let frame = source.next_frame(k * 33_333).expect("pattern never ends");
            let force = k == 10;
            let Some(encoded) = encoder.encode(&frame, force).expect("encode") else {
                assert!(!force, "a forced keyframe must not be skipped");
                continue;
            };
            assert_eq!(encoded.keyframe, k == 0 || force, "frame {k}");
            if k < 10 {
                continue;
            }
            let picture = late
                .decode(&encoded.data)
                .expect("decode")
                .expect("picture");
            assert_eq!(read_mark(&picture).map(|m| m.counter), Some(k as u32));
        }
    }

    #[test]
    fn size_change_recreates_the_encoder_and_garbage_does_not_panic() {
        let mut encoder = H264Encoder::new(EncoderConfig {
            width: 320,
            height: 180,
            fps: 30,
            bitrate_bps: 300_000,
        })
        .expect("valid config");
        let mut decoder = H264Decoder::new().expect("decoder");
        for (w, h) in [(320, 180), (640, 360)] {
            let mut source = PatternSource::new(w, h, 30);
            let frame = source.next_frame(0).expect("pattern never ends");
            let encoded = encoder
                .encode(&frame, false)
                .expect("encode")
                .expect("first frame");
            assert!(encoded.keyframe);
            let picture = decoder
                .decode(&encoded.data)
                .expect("decode")
                .expect("picture");
            assert_eq!((picture.width, picture.height), (w, h));
        }
        assert!(
            encoder
                .encode(
                    &VideoFrame {
                        width: 7,
                        ..VideoFrame::black(8, 8)
                    },
                    false
                )
                .is_err()
        );
        encoder.set_bitrate(100_000);
        let _ = decoder.decode(&[0, 0, 0, 1, 0x65, 0xff, 0x00, 0x12]);
        let _ = decoder.decode(&[1, 2, 3]);
    }

    #[test]
    fn set_bitrate_takes_effect_within_two_seconds() {
        let cfg = EncoderConfig {
            width: 640,
            height: 360,
            fps: 30,
            bitrate_bps: 1_500_000,
        };
        let mut source = PatternSource::new(640, 360, 30);
        let mut encoder = H264Encoder::new(cfg).expect("valid config");
        let mut sizes = Vec::new();
        for k in 0..180u64 {
            if k == 60 {
                encoder.set_bitrate(200_000);
            }
            let frame = source.next_frame(k * 33_333).expect("pattern never ends");
            let size = encoder
                .encode(&frame, false)
                .expect("encode")
                .map_or(0, |e| e.data.len());
            sizes.push(size);
        }
        let before: usize = sizes[30..60].iter().sum();
        let after: usize = sizes[150..180].iter().sum();
        assert!(after * 3 < before, "before {before} B, after {after} B");
    }
}
