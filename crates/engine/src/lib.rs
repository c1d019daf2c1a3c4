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

pub use engine::{
    AudioSinkFactory, Engine, EngineConfig, EngineError, EngineEvent, EnterRoomParams,
    VideoSinkFactory,
};
pub use stats::{Statistics, percentile};
