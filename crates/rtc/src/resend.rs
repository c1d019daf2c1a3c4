//! How much of a video sender's bytes retransmissions (NACK answered by RTX) may take. str0m
//! drops every queued resend once resends pass 15 % of the bytes sent in the last second. At
//! 30 % loss that is most of the time: frames are lost for good and video waits for
//! keyframes (a third to a half of the frames arrived in `tests/weak_network.rs`; with this
//! cap, nine in ten). A cap remains, so a link that collapses under its own load does not get
//! unbounded resends on top.

use std::time::Duration;

use str0m::Rtc;
use str0m::media::{Mid, Rid};

/// Resent bytes may be up to this share of all bytes sent.
pub const RESEND_SHARE_CAP: f32 = 0.5;
/// How many sent packets stay ready to be resent, and for how long (str0m's defaults).
const KEPT_PACKETS: usize = 1000;
const KEPT_FOR: Duration = Duration::from_secs(3);

/// Applies [`RESEND_SHARE_CAP`] to the send streams of `mid` (one per simulcast RID, or the
/// one without); call it after negotiation created them.
pub fn allow_resends(rtc: &mut Rtc, mid: Mid, rids: &[Option<Rid>]) {
    let mut api = rtc.direct_api();
    for rid in rids {
        if let Some(stream) = api.stream_tx_by_mid(mid, *rid) {
            stream.set_rtx_cache(KEPT_PACKETS, KEPT_FOR, Some(RESEND_SHARE_CAP));
        }
    }
}
