//! The video capture thread: frames from a source on its own frame clock, through the
//! stream's path (effects, self view), into one encoder per layer. A camera with a small
//! stream feeds both encoders from the same processed frame (the small one scaled from it and
//! at a lower frame rate); a layer nobody receives is not encoded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use roomcast_proto::{MediaKind, Stream, VideoStreamType};
use tokio::sync::mpsc;

use super::fit::{camera_scale, network_fit, scaled_size};
use super::{Capture, Controls, Encoded, wait_until};
use crate::EngineError;
use crate::codec::{EncoderConfig, H264Encoder};
use crate::media::{VideoFrame, VideoSink, VideoSource, now_us};
use crate::stats::lock;
use crate::video::{SmallStream, VideoChain, scale_into, small_size};

/// Where the processed local video is shown (the self view), per stream; a sink that fails
/// is dropped.
pub type LocalViews = Arc<Mutex<HashMap<Stream, Box<dyn VideoSink>>>>;

/// What a video capture runs its frames through.
pub struct VideoPath {
    pub stream: Stream,
    /// The camera's effects (none for screen share).
    pub chain: Option<Arc<Mutex<VideoChain>>>,
    pub views: LocalViews,
    /// Also send a small layer (simulcast).
    pub small: Option<SmallStream>,
}

impl VideoPath {
    /// Processes a captured frame and shows it in the self view.
    pub fn run(&self, frame: &mut VideoFrame) {
        if let Some(chain) = &self.chain {
            lock(chain).process(frame);
        }
        let mut views = lock(&self.views);
        if let Some(view) = views.get_mut(&self.stream)
            && let Err(e) = view.write(frame)
        {
            tracing::warn!("the local view stopped: {e}");
            views.remove(&self.stream);
        }
    }
}

/// One encoded layer.
struct Layer {
    layer: Option<VideoStreamType>,
    encoder: H264Encoder,
    /// Encode one frame in `every`.
    every: u64,
    /// The scaled frame (small layer), kept between frames.
    scaled: Option<VideoFrame>,
    /// The next frame this layer encodes must be a keyframe (it paused, or one was asked
    /// for on a frame it did not encode).
    needs_keyframe: bool,
    bitrate: u32,
    /// The camera's picture size now, as an index into `fit::CAMERA_SCALES` (the big
    /// layer of the main stream follows the network; other layers keep theirs).
    scale: usize,
}

impl Layer {
    /// Sends the camera's picture at `scale` of `full` from the next frame on (the encoder
    /// starts over at the new size with a keyframe).
    fn resize(&mut self, scale: usize, full: (u32, u32)) {
        if scale == self.scale {
            return;
        }
        let (w, h) = scaled_size(full, scale);
        tracing::debug!("the camera sends {w}x{h} at {} bit/s", self.bitrate);
        self.scale = scale;
        self.scaled = (scale > 0).then(|| VideoFrame::black(w, h));
        self.needs_keyframe = true;
    }

    fn skip_flag(&self, c: &Controls) -> bool {
        match self.layer {
            Some(VideoStreamType::Big) => c.skip_big.load(Ordering::Relaxed),
            Some(VideoStreamType::Small) => c.skip_small.load(Ordering::Relaxed),
            None => false,
        }
    }
}

pub fn start_video(
    mut source: Box<dyn VideoSource>,
    path: VideoPath,
    bitrate_bps: u32,
    out: mpsc::UnboundedSender<Encoded>,
    on_error: impl Fn(String) + Send + 'static,
    on_end: impl FnOnce() + Send + 'static,
) -> Result<Capture, EngineError> {
    let (width, height) = source.size();
    let fps = source.fps().max(1);
    let big = path.small.map(|_| VideoStreamType::Big);
    let mut layers = vec![Layer {
        layer: big,
        encoder: H264Encoder::new(EncoderConfig {
            width,
            height,
            fps,
            bitrate_bps,
        })?,
        every: 1,
        scaled: None,
        needs_keyframe: false,
        bitrate: bitrate_bps,
        scale: 0,
    }];
    if let Some(small) = path.small {
        let (w, h) = small_size(width, height, small.max_width);
        let every = u64::from(fps.div_ceil(small.fps.max(1)).max(1));
        layers.push(Layer {
            layer: Some(VideoStreamType::Small),
            encoder: H264Encoder::new(EncoderConfig {
                width: w,
                height: h,
                fps: (fps / every as u32).max(1),
                bitrate_bps: small.bitrate_bps,
            })?,
            every,
            scaled: Some(VideoFrame::black(w, h)),
            needs_keyframe: false,
            bitrate: small.bitrate_bps,
            scale: 0,
        });
    }
    let controls = Arc::new(Controls {
        bitrate_bps: AtomicU32::new(bitrate_bps),
        ..Controls::default()
    });
    let c = controls.clone();
    let frame_us = 1_000_000 / u64::from(fps);
    let thread = std::thread::Builder::new()
        .name("roomcast-video-capture".into())
        .spawn(move || {
            let mut next = now_us();
            let mut n: u64 = 0;
            // The first frame a subscriber sees must be a keyframe.
            c.force_keyframe.store(true, Ordering::Relaxed);
            while wait_until(next, &c) {
                let capture_us = now_us();
                next += frame_us;
                let Some(mut frame) = source.next_frame(capture_us) else {
                    // The source ended by itself (window closed, share stopped by the system,
                    // camera gone), not because we were told to stop.
                    if !c.stop.load(Ordering::Relaxed) {
                        on_end();
                    }
                    break;
                };
                path.run(&mut frame);
                if c.muted.load(Ordering::Relaxed) {
                    c.force_keyframe.store(true, Ordering::Relaxed);
                    continue;
                }
                let all = c.force_keyframe.swap(false, Ordering::Relaxed);
                let small_kf = c.force_small_keyframe.swap(false, Ordering::Relaxed);
                let (wanted, thin) = network_fit(&c, path.stream);
                for l in layers.iter_mut() {
                    let is_small = l.layer == Some(VideoStreamType::Small);
                    if !is_small && wanted != l.bitrate {
                        l.encoder.set_bitrate(wanted);
                        l.bitrate = wanted;
                    }
                    if !is_small && path.stream == Stream::Main {
                        l.resize(
                            camera_scale(wanted, (width, height), fps, l.scale),
                            (width, height),
                        );
                    }
                    let force = all || (is_small && small_kf);
                    if l.skip_flag(&c) || !n.is_multiple_of(l.every * thin) {
                        // Not this frame: this layer's next encoded frame is the keyframe
                        // (after a pause nobody received, or one asked for meanwhile). The
                        // request stays with this layer, not re-raised for all of them.
                        l.needs_keyframe |= force || l.skip_flag(&c);
                        continue;
                    }
                    let force = force || std::mem::take(&mut l.needs_keyframe);
                    let input = match &mut l.scaled {
                        Some(scaled) => {
                            scale_into(&frame, scaled);
                            &*scaled
                        }
                        None => &frame,
                    };
                    match l.encoder.encode(input, force) {
                        Ok(Some(f)) => {
                            let data = with_sei(&c, f.data, !is_small);
                            let e = Encoded {
                                kind: MediaKind::Video,
                                stream: path.stream,
                                data,
                                keyframe: f.keyframe,
                                layer: l.layer,
                                capture_us,
                                size: Some((input.width, input.height)),
                            };
                            if out.send(e).is_err() {
                                return;
                            }
                        }
                        Ok(None) => l.needs_keyframe |= force,
                        Err(e) => on_error(format!("video encoder failed: {e}")),
                    }
                }
                n += 1;
                let now = now_us();
                if now > next + 5 * frame_us {
                    next = now;
                }
            }
        })
        .map_err(|e| EngineError::Thread(e.to_string()))?;
    Ok(Capture {
        controls,
        thread: Some(thread),
    })
}

/// The frame with the pending SEI messages inserted; each is spent once per frame it rides
/// on (`spend`: the big layer's frames; the small layer carries them too but does not count).
fn with_sei(c: &Controls, frame: Vec<u8>, spend: bool) -> Vec<u8> {
    let mut pending = lock(&c.sei);
    if pending.is_empty() {
        return frame;
    }
    let nals: Vec<u8> = pending
        .iter()
        .flat_map(|(data, _)| crate::codec::sei::sei_nal(data))
        .collect();
    if spend {
        for (_, left) in pending.iter_mut() {
            *left -= 1;
        }
        pending.retain(|(_, left)| *left > 0);
    }
    crate::codec::sei::insert_before_slices(&frame, &nals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::H264Decoder;
    use crate::media::PatternSource;

    /// The sizes of the next `n` frames the capture sends, decoded.
    fn next_sizes(
        rx: &mut mpsc::UnboundedReceiver<Encoded>,
        dec: &mut H264Decoder,
        n: usize,
    ) -> Vec<(u32, u32)> {
        let mut sizes = Vec::new();
        while sizes.len() < n {
            let e = rx.blocking_recv().expect("the capture runs");
            if let Some(f) = dec.decode(&e.data).expect("decodes") {
                // What the capture says it sent is what the decoder sees.
                assert_eq!(e.size, Some((f.width, f.height)));
                sizes.push((f.width, f.height));
            }
        }
        sizes
    }

    #[test]
    fn on_a_narrow_link_the_camera_sends_a_smaller_picture_and_the_whole_one_after() {
        let path = VideoPath {
            stream: Stream::Main,
            chain: None,
            views: LocalViews::default(),
            small: None,
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let source = Box::new(PatternSource::new(640, 360, 15));
        let capture =
            start_video(source, path, 800_000, tx, |e| panic!("{e}"), || {}).expect("starts");
        let mut dec = H264Decoder::new().expect("decoder");
        assert_eq!(next_sizes(&mut rx, &mut dec, 3), vec![(640, 360); 3]);
        // 60 kbit/s is 0.017 bits per pixel at 640x360 and 15 fps: blocks. At 320x180, 0.07.
        capture
            .controls
            .network_bps
            .store(60_000, Ordering::Relaxed);
        let sizes = next_sizes(&mut rx, &mut dec, 4);
        assert_eq!(sizes[1..], [(320, 180); 3], "{sizes:?}");
        capture.controls.network_bps.store(0, Ordering::Relaxed);
        let sizes = next_sizes(&mut rx, &mut dec, 4);
        assert_eq!(sizes[1..], [(640, 360); 3], "{sizes:?}");
        capture.stop();
    }
}
