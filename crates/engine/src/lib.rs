//! Roomcast's client media engine, in the spirit of TRTCCloud: sources → codecs → WebRTC
//! transport (str0m) → jitter buffers → decoders → sinks, behind an API of `enter_room`,
//! `start_local_audio`, `start_remote_view`… and a stream of events.
//!
//! It knows nothing of Tauri or of the server's internals; it shares only `roomcast-proto`.

pub mod audio;
mod capture;
pub mod codec;
mod engine;
pub mod jitter;
pub mod media;
mod meeting;
pub mod quality;
mod remote;
mod session;
pub mod stats;
pub mod video;
pub mod video_playout;

pub use engine::{
    AudioSinkFactory, Engine, EngineConfig, EngineError, EngineEvent, EnterRoomParams,
    VideoSinkFactory,
};
/// The session's logic without IO, for tests on a virtual clock and network.
pub use session::core as session_core;
pub use stats::{Statistics, percentile};

/// Replaces the section of docs/BENCHMARKS.md that starts with `mark` (up to the next
/// bench's mark) with `section`, or appends it. For the bench commands (they write their
/// tables there), not the product.
#[cfg(feature = "testsig")]
pub fn write_bench_section(mark: &str, section: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/BENCHMARKS.md");
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = match old.find(mark) {
        Some(start) => {
            let rest = &old[start + mark.len()..];
            let end = rest
                .find("<!-- written by")
                .map_or(old.len(), |i| start + mark.len() + i);
            format!("{}{section}\n{}", &old[..start], &old[end..])
        }
        None => format!("{}\n\n{section}", old.trim_end()),
    };
    std::fs::write(path, new.trim_end().to_string() + "\n").expect("write docs/BENCHMARKS.md");
}
