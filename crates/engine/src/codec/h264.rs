//! H.264 through OpenH264 (built from the bundled source by the `openh264` crate): constrained
//! baseline, real-time camera/screen usage, no B-frames, keyframes on request.

use openh264::OpenH264API;
use openh264::decoder::Decoder;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig as OhConfig, FrameRate, FrameType, IntraFramePeriod, Profile,
    RateControlMode, UsageType,
};
use openh264::formats::{YUVSlices, YUVSource};

use super::CodecError;
use crate::media::VideoFrame;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderConfig {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_bps: u32,
}

/// One encoded picture as an Annex B byte stream (start codes, SPS/PPS before keyframes).
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    pub data: Vec<u8>,
    pub keyframe: bool,
}

fn err(e: openh264::Error) -> CodecError {
    CodecError::H264(e.to_string())
}

pub struct H264Encoder {
    inner: Encoder,
    config: EncoderConfig,
}

fn open(config: EncoderConfig) -> Result<Encoder, CodecError> {
    let fps = config.fps.clamp(1, 60);
    let oh = OhConfig::new()
        .bitrate(BitRate::from_bps(config.bitrate_bps.max(50_000)))
        .max_frame_rate(FrameRate::from_hz(fps as f32))
        .usage_type(UsageType::CameraVideoRealTime)
        .rate_control_mode(RateControlMode::Bitrate)
        .profile(Profile::Baseline)
        // OpenH264 only holds the target bitrate when it may skip frames; a skipped frame
        // shows as a gap in the receiver's frame counters.
        .skip_frames(true)
        // Keyframes come on request (PLI); a periodic one every 10 s bounds the damage of a
        // lost request.
        .intra_frame_period(IntraFramePeriod::from_num_frames(fps * 10));
    Encoder::with_api_config(OpenH264API::from_source(), oh).map_err(err)
}

impl H264Encoder {
    pub fn new(config: EncoderConfig) -> Result<Self, CodecError> {
        check_size(config.width, config.height)?;
        Ok(Self {
            inner: open(config)?,
            config,
        })
    }

    /// Encodes one frame; `None` when the encoder produced nothing for it.
    pub fn encode(
        &mut self,
        frame: &VideoFrame,
        force_keyframe: bool,
    ) -> Result<Option<EncodedFrame>, CodecError> {
        check_size(frame.width, frame.height)?;
        let (w, h) = (frame.width as usize, frame.height as usize);
        if frame.y.len() < w * h || frame.u.len() < w * h / 4 || frame.v.len() < w * h / 4 {
            return Err(CodecError::Input(format!(
                "I420 planes too small for {w}x{h}"
            )));
        }
        if (frame.width, frame.height) != (self.config.width, self.config.height) {
            self.config.width = frame.width;
            self.config.height = frame.height;
            self.inner = open(self.config)?;
        }
        if force_keyframe {
            self.inner.force_intra_frame();
        }
        let yuv = YUVSlices::new((&frame.y, &frame.u, &frame.v), (w, h), (w, w / 2, w / 2));
        let bits = self.inner.encode(&yuv).map_err(err)?;
        let keyframe = matches!(bits.frame_type(), FrameType::IDR | FrameType::I);
        if matches!(bits.frame_type(), FrameType::Skip | FrameType::Invalid) {
            return Ok(None);
        }
        let data = bits.to_vec();
        if data.is_empty() {
            return Ok(None);
        }
        Ok(Some(EncodedFrame { data, keyframe }))
    }

    /// Changes the target bitrate (the encoder restarts with a keyframe).
    pub fn set_bitrate(&mut self, bps: u32) {
        if bps == self.config.bitrate_bps {
            return;
        }
        let mut config = self.config;
        config.bitrate_bps = bps;
        match open(config) {
            Ok(inner) => {
                self.inner = inner;
                self.config = config;
            }
            Err(e) => tracing::warn!("cannot change the video bitrate to {bps}: {e}"),
        }
    }
}

fn check_size(w: u32, h: u32) -> Result<(), CodecError> {
    if w < 16 || h < 16 || w % 2 == 1 || h % 2 == 1 || w > 4096 || h > 4096 {
        return Err(CodecError::Input(format!(
            "video size {w}x{h} must be even and within 16..=4096"
        )));
    }
    Ok(())
}

pub struct H264Decoder {
    inner: Decoder,
}

impl H264Decoder {
    pub fn new() -> Result<Self, CodecError> {
        Ok(Self {
            inner: Decoder::new().map_err(err)?,
        })
    }

    /// Decodes one Annex B access unit; `None` when no picture is ready yet.
    pub fn decode(&mut self, annexb: &[u8]) -> Result<Option<VideoFrame>, CodecError> {
        let Some(pic) = self.inner.decode(annexb).map_err(err)? else {
            return Ok(None);
        };
        let (w, h) = pic.dimensions();
        let (sy, su, sv) = pic.strides();
        let copy = |plane: &[u8], stride: usize, width: usize, rows: usize| {
            let mut out = Vec::with_capacity(width * rows);
            for r in 0..rows {
                let start = r * stride;
                out.extend_from_slice(&plane[start..start + width]);
            }
            out
        };
        Ok(Some(VideoFrame {
            width: w as u32,
            height: h as u32,
            y: copy(pic.y(), sy, w, h),
            u: copy(pic.u(), su, w.div_ceil(2), h.div_ceil(2)),
            v: copy(pic.v(), sv, w.div_ceil(2), h.div_ceil(2)),
            capture_us: 0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{PatternSource, VideoSource, read_mark};

    fn run(w: u32, h: u32, kbps: u32, frames: u32) {
        let mut src = PatternSource::new(w, h, 15);
        let mut enc = H264Encoder::new(EncoderConfig {
            width: w,
            height: h,
            fps: 15,
            bitrate_bps: kbps * 1000,
        })
        .expect("encoder");
        let mut dec = H264Decoder::new().expect("decoder");
        for i in 0..frames {
            let capture_us = 1_700_000_000_000_000 + u64::from(i) * 66_666;
            let frame = src.next_frame(capture_us).expect("pattern frame");
            let out = enc
                .encode(&frame, i == 0)
                .expect("encode")
                .expect("a frame comes out");
            assert_eq!(out.keyframe, i == 0, "frame {i}");
            let pic = dec.decode(&out.data).expect("decode").expect("a picture");
            assert_eq!((pic.width, pic.height), (w, h));
            let mark = read_mark(&pic)
                .unwrap_or_else(|| panic!("mark unreadable in frame {i} at {w}x{h} {kbps} kbps"));
            assert_eq!(mark.counter, i);
            assert_eq!(mark.capture_ms, capture_us / 1000);
        }
    }

    #[test]
    fn marks_survive_encoding_at_low_bitrates() {
        run(320, 180, 150, 45);
        run(640, 360, 500, 30);
    }

    #[test]
    fn marks_survive_720p() {
        run(1280, 720, 1500, 10);
    }

    #[test]
    fn keyframe_on_request_starts_a_new_decoder() {
        let mut src = PatternSource::new(320, 180, 15);
        let mut enc = H264Encoder::new(EncoderConfig {
            width: 320,
            height: 180,
            fps: 15,
            bitrate_bps: 300_000,
        })
        .expect("encoder");
        for i in 0..10 {
            let f = src.next_frame(i * 66_666).expect("frame");
            assert!(
                !enc.encode(&f, i == 0)
                    .expect("encode")
                    .expect("frame")
                    .keyframe
                    || i == 0
            );
        }
        let f = src.next_frame(700_000).expect("frame");
        let key = enc.encode(&f, true).expect("encode").expect("frame");
        assert!(key.keyframe);
        let mut late = H264Decoder::new().expect("decoder");
        assert!(
            late.decode(&key.data)
                .expect("decodes from the keyframe")
                .is_some()
        );
    }

    #[test]
    fn garbage_does_not_panic() {
        let mut dec = H264Decoder::new().expect("decoder");
        let _ = dec.decode(&[0, 0, 0, 1, 0x65, 0xff, 0x00, 0x12]);
        let _ = dec.decode(&[1, 2, 3]);
        assert!(
            H264Encoder::new(EncoderConfig {
                width: 15,
                height: 10,
                fps: 15,
                bitrate_bps: 100_000
            })
            .is_err()
        );
    }
}
