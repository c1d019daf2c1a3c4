//! The pre-join device check: before entering a room, the chosen camera is shown in the
//! local preview and the chosen microphone, through the user's audio effects, drives the
//! level meter (and the speaker, to hear yourself), through the same sources (and
//! fallbacks) and capture chain a call uses. Nothing is encoded or sent. Joining stops the check first, so
//! the call can open the devices.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use roomcast_engine::audio::CaptureChain;
use roomcast_engine::media::{AudioSource, FRAME_MS, VideoSource, now_us};
use roomcast_engine::video::VideoChain;
use roomcast_proto::Stream;
use tauri::AppHandle;

use crate::events::{RoomEvent, VolumeEntry};
use crate::video::Views;

/// How often the level meter moves (the engine's in-call volume events come every 300 ms;
/// a meter you speak into wants to be quicker).
const LEVEL_EVERY_FRAMES: u32 = 5;

/// One running check thread; stopped and joined on drop.
pub struct Check {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Check {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn spawn(name: &str, body: impl FnOnce(Arc<AtomicBool>) + Send + 'static) -> Option<Check> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || body(flag))
        .map_err(|e| tracing::warn!("cannot start the device check: {e}"))
        .ok()
        .map(|thread| Check {
            stop,
            thread: Some(thread),
        })
}

/// Sleeps until `at_us` on the media clock; false when asked to stop.
fn wait_until(at_us: u64, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = now_us();
        if now >= at_us {
            return true;
        }
        std::thread::sleep(Duration::from_micros((at_us - now).min(5_000)));
    }
}

/// Shows `source`, through the video effects, as the local preview (view "" / main) at its
/// frame rate.
pub fn camera(
    mut source: Box<dyn VideoSource>,
    views: Arc<Views>,
    effects: Arc<Mutex<VideoChain>>,
) -> Option<Check> {
    spawn("roomcast-camera-check", move |stop| {
        let frame_us = 1_000_000 / u64::from(source.fps().max(1));
        let mut next = now_us();
        while wait_until(next, &stop) {
            let Some(mut frame) = source.next_frame(next) else {
                break;
            };
            roomcast_engine::stats::lock(&effects).process(&mut frame);
            views.deliver("", Stream::Main, &frame);
            next = (next + frame_us).max(now_us().saturating_sub(frame_us));
        }
    })
}

/// Runs the microphone through `chain` (the user's effects; with "hear yourself" on, the
/// chain hands the result to the speaker) and emits `volumes` events with the level of what
/// would be sent for "" (me), as a call does.
pub fn microphone(
    mut source: Box<dyn AudioSource>,
    app: AppHandle,
    chain: Arc<Mutex<CaptureChain>>,
) -> Option<Check> {
    spawn("roomcast-microphone-check", move |stop| {
        let frame_us = u64::from(FRAME_MS) * 1000;
        let mut next = now_us();
        let (mut n, mut loudest) = (0u32, 0u8);
        while wait_until(next, &stop) {
            let Some(mut frame) = source.next_frame(next) else {
                break;
            };
            roomcast_engine::stats::lock(&chain).process_pcm(&mut frame.samples, frame.channels);
            loudest = loudest.max(roomcast_engine::stats::level(&frame.samples));
            n += 1;
            if n % LEVEL_EVERY_FRAMES == 0 {
                my_level(&app, loudest);
                loudest = 0;
            }
            next = (next + frame_us).max(now_us().saturating_sub(frame_us));
        }
        my_level(&app, 0);
    })
}

/// The pre-join meter: my own level, as a call reports it.
fn my_level(app: &AppHandle, volume: u8) {
    RoomEvent::Volumes {
        volumes: vec![VolumeEntry {
            user_id: String::new(),
            volume,
        }],
    }
    .emit(app);
}
