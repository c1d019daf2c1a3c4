//! The playout clock for runs without a speaker (CLI, tests, a machine with no sound card):
//! pulls 10 ms every 10 ms of wall-clock time, as a speaker's callback would, and drops the
//! samples. When the thread is late it catches up at once, like a device asking for a
//! bigger buffer, so the jitter buffers see the same demand as with a real speaker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{AudioPull, FRAME_10MS};
use crate::media::now_us;

const TICK_US: u64 = 10_000;
/// Further behind than this (suspended machine, debugger) skips ahead instead of bursting.
const MAX_BEHIND_US: u64 = 200_000;

pub struct HeadlessClock {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HeadlessClock {
    pub fn start(source: Arc<dyn AudioPull>) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("roomcast-playout-clock".into())
            .spawn(move || {
                let mut out = [0f32; FRAME_10MS];
                let mut next = now_us();
                while !s.load(Ordering::Relaxed) {
                    let now = now_us();
                    if now < next {
                        std::thread::sleep(Duration::from_micros((next - now).min(5_000)));
                        continue;
                    }
                    source.pull(&mut out);
                    next += TICK_US;
                    if now > next + MAX_BEHIND_US {
                        next = now;
                    }
                }
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for HeadlessClock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
