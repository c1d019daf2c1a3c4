//! How much of a video sender's bytes retransmissions (NACK answered by RTX) may take. str0m
//! drops every queued resend once resends pass 15 % of the bytes sent in the last second. At
//! 30 % loss that is most of the time: frames are lost for good and video waits for
//! keyframes (a third to a half of the frames arrived in `tests/weak_network.rs`; with this
//! cap, nine in ten). A cap remains, so a link that collapses under its own load does not get
//! unbounded resends on top.
//!
//! Under heavy jitter most resends answer packets that were only overtaken: the receiver
//! asks for a packet as soon as a later one is in, and with 0–700 ms of jitter per datagram
//! most packets are overtaken (a resend for nearly every packet of video, against 4 % lost
//! twice). At a cap of half, the real repairs were dropped with them: 130–144 freezes over
//! 500 ms in 96 calls at 20 % loss on the publisher's link, against 81–84 at 0.7 (with 20 %
//! more resends). A publisher whose link is full keeps fewer (`Repairs::cap_held_resends`);
//! the server keeps half towards its subscribers (see below).

use std::time::Duration;

use str0m::Rtc;
use str0m::media::{Mid, Rid};

/// Resent bytes may be up to this share of all bytes a publisher sends…
pub const RESEND_SHARE_CAP: f32 = 0.7;
/// …and of what the server forwards to a subscriber. There, 0.6 or more crowded a narrow
/// subscriber's audio out with resends (6–19 % of its frames concealed in
/// `tests/weak_video.rs`, against none); a lossy, jittery subscriber froze a little more
/// (44 → 59 times in 96 calls at 20 % loss and 0–700 ms of jitter).
pub const FORWARDED_RESEND_SHARE_CAP: f32 = 0.5;
/// How many sent packets stay ready to be resent, and for how long (str0m's defaults).
const KEPT_PACKETS: usize = 1000;
const KEPT_FOR: Duration = Duration::from_secs(3);

/// Applies a cap on resends (`cap`: [`RESEND_SHARE_CAP`] or [`FORWARDED_RESEND_SHARE_CAP`])
/// to the send streams of `mid` (one per simulcast RID, or the one without); call it after
/// negotiation created them.
pub fn allow_resends(rtc: &mut Rtc, mid: Mid, rids: &[Option<Rid>], cap: f32) {
    let mut api = rtc.direct_api();
    for rid in rids {
        if let Some(stream) = api.stream_tx_by_mid(mid, *rid) {
            stream.set_rtx_cache(KEPT_PACKETS, KEPT_FOR, Some(cap));
        }
    }
}
