//! Decoded video to the UI: each tile asks for a user's stream at the size it is drawn,
//! and gets I420 frames scaled to that size on a Tauri binary channel:
//! a 16-byte little-endian header (u32 width, u32 height, u64 timestamp µs), then Y, U, V.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use roomcast_engine::media::{MediaError, VideoFrame, VideoSink, VideoSource};
use roomcast_proto::Stream;
use tauri::ipc::{Channel, InvokeResponseBody};

/// "" is the local preview.
type Key = (String, Stream);

struct View {
    width: u32,
    height: u32,
    channel: Channel<InvokeResponseBody>,
    seq: u64,
}

/// The tiles the UI is drawing right now.
///
/// Tauri runs commands concurrently, so a tile's `stop_view` can be handled after the
/// `set_view` of the tile that replaced it (the pre-join preview and the call's self view
/// share a key). The UI numbers its requests (`seq`); an older request never undoes a newer
/// one. Requests without a number apply as they come.
#[derive(Default)]
pub struct Views {
    views: Mutex<State>,
}

#[derive(Default)]
struct State {
    views: HashMap<Key, View>,
    /// The newest `stop_view` seen per key.
    stopped: HashMap<Key, u64>,
}

impl State {
    fn newest(&self, key: &Key) -> u64 {
        let set = self.views.get(key).map_or(0, |v| v.seq);
        set.max(self.stopped.get(key).copied().unwrap_or(0))
    }
}

impl Views {
    /// Shows `user`/`stream` on `channel`; false when a newer request already came.
    pub fn set(
        &self,
        user: String,
        stream: Stream,
        (width, height): (u32, u32),
        channel: Channel<InvokeResponseBody>,
        seq: Option<u64>,
    ) -> bool {
        let (width, height) = (even(width.clamp(16, 3840)), even(height.clamp(16, 2160)));
        let key = (user, stream);
        let mut state = self.lock();
        if seq.is_some_and(|s| s < state.newest(&key)) {
            return false;
        }
        let seq = seq.unwrap_or_else(|| state.newest(&key));
        state.views.insert(
            key,
            View {
                width,
                height,
                channel,
                seq,
            },
        );
        true
    }

    /// Stops showing `user`/`stream`; false when a newer request already came.
    pub fn remove(&self, user: &str, stream: Stream, seq: Option<u64>) -> bool {
        let key = (user.to_string(), stream);
        let mut state = self.lock();
        if seq.is_some_and(|s| s < state.newest(&key)) {
            return false;
        }
        if let Some(s) = seq {
            state.stopped.insert(key.clone(), s);
        }
        state.views.remove(&key);
        true
    }

    pub fn clear(&self) {
        self.lock().views.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.views.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `frame` to the tile showing `user`/`stream`, if there is one.
    pub fn deliver(&self, user: &str, stream: Stream, frame: &VideoFrame) {
        let target = {
            let state = self.lock();
            state
                .views
                .get(&(user.to_string(), stream))
                .map(|v| (v.width, v.height, v.channel.clone()))
        };
        let Some((w, h, channel)) = target else {
            return;
        };
        let scaled = scale_i420(frame, w, h);
        let _ = channel.send(InvokeResponseBody::Raw(encode(&scaled)));
    }
}

fn even(v: u32) -> u32 {
    v & !1
}

/// The wire form of one frame for the UI.
pub fn encode(f: &VideoFrame) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + f.y.len() + f.u.len() + f.v.len());
    out.extend_from_slice(&f.width.to_le_bytes());
    out.extend_from_slice(&f.height.to_le_bytes());
    out.extend_from_slice(&f.capture_us.to_le_bytes());
    out.extend_from_slice(&f.y);
    out.extend_from_slice(&f.u);
    out.extend_from_slice(&f.v);
    out
}

/// Box-filter downscale (nearest-neighbour upscale) of an I420 frame, keeping the aspect
/// ratio inside the requested size so tiles are not stretched.
pub fn scale_i420(f: &VideoFrame, max_w: u32, max_h: u32) -> VideoFrame {
    if f.width == 0 || f.height == 0 {
        return VideoFrame::black(max_w.max(2), max_h.max(2));
    }
    let ratio = (f64::from(max_w) / f64::from(f.width)).min(f64::from(max_h) / f64::from(f.height));
    let w = even(((f64::from(f.width) * ratio).round() as u32).max(2));
    let h = even(((f64::from(f.height) * ratio).round() as u32).max(2));
    if (w, h) == (f.width, f.height) {
        return f.clone();
    }
    let plane = |src: &[u8], sw: u32, sh: u32, dw: u32, dh: u32| -> Vec<u8> {
        let sw = sw as usize;
        roomcast_devices::box_scale(
            (sw, sh as usize),
            (dw as usize, dh as usize),
            1,
            |x, y, _| src.get(y * sw + x).copied().unwrap_or(0),
        )
    };
    VideoFrame {
        width: w,
        height: h,
        y: plane(&f.y, f.width, f.height, w, h),
        u: plane(&f.u, f.width / 2, f.height / 2, w / 2, h / 2),
        v: plane(&f.v, f.width / 2, f.height / 2, w / 2, h / 2),
        capture_us: f.capture_us,
    }
}

/// The engine's sink for one remote stream: forwards to the UI tile, if any.
pub struct ViewSink {
    pub user: String,
    pub stream: Stream,
    pub views: Arc<Views>,
}

impl VideoSink for ViewSink {
    fn write(&mut self, frame: &VideoFrame) -> Result<(), MediaError> {
        self.views.deliver(&self.user, self.stream, frame);
        Ok(())
    }
}

/// Wraps the camera (or test pattern) so the local preview shows what is being sent.
pub struct PreviewSource {
    pub inner: Box<dyn VideoSource>,
    pub views: Arc<Views>,
    pub stream: Stream,
}

impl VideoSource for PreviewSource {
    fn size(&self) -> (u32, u32) {
        self.inner.size()
    }

    fn fps(&self) -> u32 {
        self.inner.fps()
    }

    fn next_frame(&mut self, capture_us: u64) -> Option<VideoFrame> {
        let frame = self.inner.next_frame(capture_us)?;
        self.views.deliver("", self.stream, &frame);
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting_channel() -> (Channel<InvokeResponseBody>, Arc<AtomicUsize>) {
        let n = Arc::new(AtomicUsize::new(0));
        let seen = n.clone();
        let channel = Channel::new(move |_| {
            seen.fetch_add(1, Ordering::Relaxed);
            Ok(())
        });
        (channel, n)
    }

    #[test]
    fn an_older_stop_does_not_undo_a_newer_view() {
        let views = Views::default();
        let frame = VideoFrame::black(64, 36);
        // The pre-join preview (seq 1) is replaced by the call's self view (seq 3); the
        // preview's stop (seq 2) is handled last.
        let (preview, _) = counting_channel();
        let (call, drawn) = counting_channel();
        assert!(views.set(String::new(), Stream::Main, (64, 36), preview, Some(1)));
        assert!(views.set(String::new(), Stream::Main, (64, 36), call, Some(3)));
        assert!(!views.remove("", Stream::Main, Some(2)));
        views.deliver("", Stream::Main, &frame);
        assert_eq!(drawn.load(Ordering::Relaxed), 1);
        // A stale set after a newer stop does not bring a closed tile back.
        assert!(views.remove("", Stream::Main, Some(5)));
        let (stale, stale_drawn) = counting_channel();
        assert!(!views.set(String::new(), Stream::Main, (64, 36), stale, Some(4)));
        views.deliver("", Stream::Main, &frame);
        assert_eq!(stale_drawn.load(Ordering::Relaxed), 0);
        assert_eq!(drawn.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn scaling_keeps_aspect_and_averages() {
        let mut f = VideoFrame::black(640, 360);
        f.y.iter_mut()
            .enumerate()
            .for_each(|(i, p)| *p = if (i % 640) < 320 { 200 } else { 20 });
        let s = scale_i420(&f, 320, 320);
        assert_eq!((s.width, s.height), (320, 180));
        assert_eq!(s.y.len(), 320 * 180);
        assert_eq!(s.u.len(), 160 * 90);
        assert_eq!(s.y[10], 200);
        assert_eq!(s.y[300], 20);
    }

    #[test]
    fn wire_form_has_the_header_then_planes() {
        let f = VideoFrame {
            capture_us: 7,
            ..VideoFrame::black(4, 2)
        };
        let b = encode(&f);
        assert_eq!(&b[0..4], &4u32.to_le_bytes());
        assert_eq!(&b[4..8], &2u32.to_le_bytes());
        assert_eq!(&b[8..16], &7u64.to_le_bytes());
        assert_eq!(b.len(), 16 + 8 + 2 + 2);
    }
}
