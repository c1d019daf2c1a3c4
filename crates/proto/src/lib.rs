//! Roomcast's wire protocol: the ids, the signaling messages exchanged over the WebSocket,
//! the stable error codes, UserSig (TLSSigAPIv2) generation and verification, and invites.
//!
//! Pure data and pure functions: no sockets, no clock (time is always a parameter), no async.
//! Both the server and the engine depend on this crate and on nothing of each other.

pub mod chat;
pub mod error;
pub mod ids;
pub mod invite;
pub mod signal;
pub mod usersig;

pub use error::ErrorCode;
pub use ids::{IdError, RoomId, SdkAppId, UserId};
pub use signal::*;
