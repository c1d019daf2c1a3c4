//! Roomcast's room server: WebSocket signaling, apps and UserSig auth, rooms and roles,
//! the SFU that forwards WebRTC media, and the SQLite usage ledger.
//!
//! It knows nothing of the client engine; it shares only `roomcast-proto`.

pub mod room;
pub mod store;
