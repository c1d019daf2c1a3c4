//! What the engine (the client) and the server (each subscriber's peer) share about driving
//! str0m on weak networks: a DTLS handshake that survives heavy loss ([`dtls`]), how a
//! sender protects audio from the loss its receiver reports ([`protect`]), how fast it may
//! send video ([`rate`]) from loss that late packets do not inflate ([`late`]) and from what
//! round trips say ([`rtt`]), how much of it it may resend ([`resend`]), how connectivity
//! checks get through a lossy link ([`setup`]) and how repairs do ([`repair`], with parity
//! for video: [`parity`], and asks for what is still missing: [`fetch`]; whether copies of
//! video fit the link: [`fit`]), what a receiver sees of its sender's loss ([`arrivals`])
//! and of the queue its video waits in ([`queue`]), and how it hands overtaken video to str0m
//! in order ([`reorder`]). Sans-IO: time is always a parameter.

pub mod arrivals;
pub mod dtls;
pub mod fetch;
pub mod fit;
pub mod late;
pub mod parity;
pub mod protect;
pub mod queue;
pub mod rate;
pub mod reorder;
pub mod repair;
pub mod resend;
pub mod rtt;
pub mod setup;
pub mod spread;

/// A loss fraction as a report gives it, made safe to compute with: within 0..=1, and 0 if
/// it is not a number.
pub fn loss_fraction(f: f32) -> f32 {
    if f.is_finite() {
        f.clamp(0.0, 1.0)
    } else {
        0.0
    }
}
