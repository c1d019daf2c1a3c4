//! Decoded video to the UI: each tile asks for a user's stream at the size it is drawn,
//! and gets I420 frames scaled to that size on a Tauri binary channel:
//! a 16-byte little-endian header (u32 width, u32 height, u64 timestamp µs), then Y, U, V.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use roomcast_engine::media::{MediaError, VideoFrame, VideoSink};
use roomcast_proto::Stream;
use tauri::ipc::{Channel, InvokeResponseBody};

/// Who is shown ("" is the local preview), which stream, and which canvas shows it: the
/// same stream may be on two canvases for a moment (the pre-join preview and the call's self
/// view), and each goes away on its own.
type Key = (String, Stream, u64);

struct View {
    width: u32,
    height: u32,
    channel: Channel<InvokeResponseBody>,
    seq: u64,
}

/// The tiles the UI is drawing right now.
///
/// Tauri runs commands concurrently, so a canvas's `stop_view` can be handled before its own
/// last `set_view` (a resize). The UI numbers its requests (`seq`); an older request never
/// undoes a newer one for the same canvas. Requests without a number apply as they come.
#[derive(Default)]
pub struct Views {
    views: Mutex<State>,
}

#[derive(Default)]
struct State {
    views: HashMap<Key, View>,
    /// The newest `stop_view` seen per canvas.
    stopped: HashMap<Key, u64>,
}

impl State {
    fn newest(&self, key: &Key) -> u64 {
        let set = self.views.get(key).map_or(0, |v| v.seq);
        set.max(self.stopped.get(key).copied().unwrap_or(0))
    }
}

/// Which canvas (`viewer`) asks, and the request's number (`seq`); both optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request {
    pub viewer: Option<u64>,
    pub seq: Option<u64>,
}

impl Views {
    /// Shows `user`/`stream` on `channel`; false when a newer request already came.
    pub fn set(
        &self,
        user: String,
        stream: Stream,
        (width, height): (u32, u32),
        channel: Channel<InvokeResponseBody>,
        req: Request,
    ) -> bool {
        let (width, height) = (even(width.clamp(16, 3840)), even(height.clamp(16, 2160)));
        let key = (user, stream, req.viewer.unwrap_or(0));
        let mut state = self.lock();
        if req.seq.is_some_and(|s| s < state.newest(&key)) {
            return false;
        }
        let seq = req.seq.unwrap_or_else(|| state.newest(&key));
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

    /// Stops showing `user`/`stream` on the asking canvas; false when a newer request already
    /// came.
    pub fn remove(&self, user: &str, stream: Stream, req: Request) -> bool {
        let key = (user.to_string(), stream, req.viewer.unwrap_or(0));
        let mut state = self.lock();
        if req.seq.is_some_and(|s| s < state.newest(&key)) {
            return false;
        }
        if let Some(s) = req.seq {
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

    /// Sends `frame` to every canvas showing `user`/`stream`, each at its size.
    pub fn deliver(&self, user: &str, stream: Stream, frame: &VideoFrame) {
        let targets: Vec<_> = {
            let state = self.lock();
            state
                .views
                .iter()
                .filter(|((u, s, _), _)| u == user && *s == stream)
                .map(|(_, v)| (v.width, v.height, v.channel.clone()))
                .collect()
        };
        for (w, h, channel) in targets {
            let scaled = scale_i420(frame, w, h);
            let _ = channel.send(InvokeResponseBody::Raw(encode(&scaled)));
        }
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

    fn req(viewer: u64, seq: u64) -> Request {
        Request {
            viewer: Some(viewer),
            seq: Some(seq),
        }
    }

    #[test]
    fn each_canvas_comes_and_goes_on_its_own() {
        let views = Views::default();
        let frame = VideoFrame::black(64, 36);
        // The pre-join preview (canvas 1) and the call's self view (canvas 2) overlap; the
        // preview's stop, whenever it is handled, leaves the self view alone.
        let (preview, preview_drawn) = counting_channel();
        let (call, drawn) = counting_channel();
        assert!(views.set(String::new(), Stream::Main, (64, 36), preview, req(1, 1)));
        assert!(views.set(String::new(), Stream::Main, (64, 36), call, req(2, 3)));
        views.deliver("", Stream::Main, &frame);
        assert_eq!(preview_drawn.load(Ordering::Relaxed), 1);
        assert!(views.remove("", Stream::Main, req(1, 2)));
        views.deliver("", Stream::Main, &frame);
        assert_eq!(drawn.load(Ordering::Relaxed), 2);
        assert_eq!(preview_drawn.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn an_older_request_does_not_undo_a_newer_one() {
        let views = Views::default();
        let frame = VideoFrame::black(64, 36);
        // A canvas resized (seq 4) and then closed (seq 5); the close is handled first.
        assert!(views.remove("bob", Stream::Main, req(7, 5)));
        let (stale, stale_drawn) = counting_channel();
        assert!(!views.set("bob".into(), Stream::Main, (64, 36), stale, req(7, 4)));
        views.deliver("bob", Stream::Main, &frame);
        assert_eq!(stale_drawn.load(Ordering::Relaxed), 0);
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
