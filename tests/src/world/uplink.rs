//! A call over a narrow uplink: what the weak-network test and bench measure of the camera
//! following the link.

use std::time::Duration;

use roomcast_engine::EngineEvent;
use roomcast_engine::quality::Quality;

use super::World;
use crate::vnet::Impairment;

/// What Bob got over the last 10 s of a call.
#[derive(Debug, Clone, Copy)]
pub struct CappedRun {
    /// When Alice's camera first sent below the cap (None: never).
    pub adapted_after: Option<Duration>,
    /// The least bit/s it sent at.
    pub lowest_bps: u32,
    /// Video bit/s Bob received.
    pub video_bps: f64,
    /// Audio frames Bob's playout played, and concealed.
    pub audio_frames: u64,
    pub concealed: u64,
    /// The worst quality Alice's engine showed for her own uplink.
    pub worst_uplink: Quality,
}

/// Alice publishes audio and a 1.2 Mbit/s camera to Bob for `secs` seconds over an uplink
/// carrying `cap_bps` with 300 ms of queue.
pub fn capped_uplink(seed: u64, cap_bps: u64, secs: u64) -> CappedRun {
    let mut w = World::new(seed);
    let alice = w.join("alice");
    let bob = w.join("bob");
    let cap = Impairment {
        rate_bps: Some(cap_bps),
        queue: Duration::from_millis(300),
        ..Impairment::default()
    };
    let addr = w.clients[alice].addr;
    w.net.set_link(addr, cap, Impairment::default());
    w.publish_audio(alice);
    w.publish_video(alice, 1_200_000);
    let start = w.now;
    let (mut adapted_after, mut lowest_bps) = (None, u32::MAX);
    w.run_until(start + Duration::from_secs(secs), |w| {
        let b = w.video_bitrate(alice).unwrap_or(u32::MAX);
        lowest_bps = lowest_bps.min(b);
        if u64::from(b) < cap_bps {
            adapted_after.get_or_insert(w.now - start);
        }
        false
    });
    let (from, to) = (w.now - Duration::from_secs(10), w.now);
    let worst_uplink = w.clients[alice]
        .engine_events
        .iter()
        .filter_map(|(_, e)| match e {
            EngineEvent::NetworkQuality(q) => q.iter().find(|(u, _)| u.is_none()).map(|(_, q)| *q),
            _ => None,
        })
        .max_by_key(|q| q.as_number())
        .unwrap_or(Quality::Unknown);
    let b = &w.clients[bob];
    let played = b.play_audio(start, to);
    let [before, last] = [&played[played.len() - 11], &played[played.len() - 1]];
    CappedRun {
        adapted_after,
        lowest_bps,
        video_bps: b.video_bps_between(from, to),
        audio_frames: last.frames - before.frames,
        concealed: last.concealed - before.concealed,
        worst_uplink,
    }
}
