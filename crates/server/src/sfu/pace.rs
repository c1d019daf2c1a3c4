//! Video towards a subscriber on a link too narrow for it (see `downlink`), spread out at
//! what that link delivered (sans-IO: time is a parameter). Such a subscriber gets keyframes
//! only, or small layers; a real 640x360 keyframe is 15–30 KB, and sent at once onto a
//! 300 kbit/s link with 300 ms of queue (11 KB) most of it was dropped: 2–4 pictures in 20 s
//! instead of one every 3 s. Audio and RTCP are not held: they are small and their time
//! matters more; the rate leaves them room.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use str0m::net::Transmit;

/// The video sent over this long gives the rate the link was offered.
const WINDOW: Duration = Duration::from_secs(2);
/// Video is paced at this share of what the link delivered of it (the rest is for audio,
/// RTCP and a link that got a little worse).
const SHARE: f64 = 0.8;
/// Never slower than this: a keyframe-only picture of 15–30 KB still comes within 2–3 s.
const MIN_BPS: u64 = 80_000;
/// Datagrams within this much of the rate go at once (a frame's packets are not spread
/// wider than the link would spread them).
const BURST: Duration = Duration::from_millis(20);
/// Video held longer than this is dropped from the front: the subscriber is sent more than
/// even the paced link carries (its receiver reports will say so).
const MAX_HELD: Duration = Duration::from_secs(2);

/// One subscriber's video pacing.
#[derive(Debug)]
pub struct Pacer {
    /// Video sent lately: (when, bytes), oldest first.
    sent: VecDeque<(Instant, usize)>,
    sent_bytes: usize,
    /// The pace while on.
    rate_bps: Option<u64>,
    /// Held video, oldest first, with when it came.
    held: VecDeque<(Instant, Transmit)>,
    /// When the link is free again at the pace.
    free_at: Instant,
    /// Datagrams dropped for being held too long.
    pub dropped: u64,
}

impl Pacer {
    pub fn new(now: Instant) -> Self {
        Self {
            sent: VecDeque::new(),
            sent_bytes: 0,
            rate_bps: None,
            held: VecDeque::new(),
            free_at: now,
            dropped: 0,
        }
    }

    /// Starts pacing at `SHARE` of what the link delivered of the video sent lately:
    /// `delivered` (0..1) is the share its receiver reports say arrived.
    pub fn start(&mut self, now: Instant, delivered: f32) {
        self.forget_before(now);
        let offered = self.sent_bytes as f64 * 8.0 / WINDOW.as_secs_f64();
        let rate = offered * f64::from(delivered.clamp(0.0, 1.0)) * SHARE;
        self.rate_bps = Some((rate as u64).max(MIN_BPS));
        self.free_at = now;
    }

    /// Stops pacing; what was held goes now.
    pub fn stop(&mut self) -> Vec<Transmit> {
        self.rate_bps = None;
        self.held.drain(..).map(|(_, t)| t).collect()
    }

    /// The pace, while on.
    pub fn rate_bps(&self) -> Option<u64> {
        self.rate_bps
    }

    /// A datagram of video (or a resend of it) to send at `now`: back if it is not paced,
    /// otherwise held until [`due`](Self::due) gives it.
    pub fn push(&mut self, now: Instant, t: Transmit) -> Option<Transmit> {
        if self.rate_bps.is_none() {
            self.count(now, t.contents.len());
            return Some(t);
        }
        self.held.push_back((now, t));
        None
    }

    /// Held datagrams whose time has come at `now`.
    pub fn due(&mut self, now: Instant) -> Vec<Transmit> {
        let mut out = Vec::new();
        let Some(rate) = self.rate_bps else {
            return out;
        };
        while self
            .held
            .front()
            .is_some_and(|(at, _)| now >= *at + MAX_HELD)
        {
            self.held.pop_front();
            self.dropped += 1;
        }
        self.free_at = self.free_at.max(now.checked_sub(BURST).unwrap_or(now));
        while self.free_at <= now + BURST {
            let Some((_, t)) = self.held.pop_front() else {
                break;
            };
            let len = t.contents.len();
            self.free_at += Duration::from_secs_f64(len as f64 * 8.0 / rate as f64);
            self.count(now, len);
            out.push(t);
        }
        out
    }

    /// When the next held datagram is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.held.front()?;
        Some(self.free_at.checked_sub(BURST).unwrap_or(self.free_at))
    }

    fn count(&mut self, now: Instant, bytes: usize) {
        self.sent.push_back((now, bytes));
        self.sent_bytes += bytes;
        self.forget_before(now);
    }

    fn forget_before(&mut self, now: Instant) {
        while let Some(&(at, bytes)) = self.sent.front()
            && now >= at + WINDOW
        {
            self.sent.pop_front();
            self.sent_bytes -= bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use str0m::net::Protocol;

    fn datagram(len: usize) -> Transmit {
        let addr: SocketAddr = "127.0.0.1:9".parse().expect("address");
        Transmit {
            proto: Protocol::Udp,
            source: addr,
            destination: addr,
            contents: vec![0; len].into(),
        }
    }

    /// Sends 600 kbit/s of video for 2 s (100 datagrams of 1500 bytes), unpaced.
    fn offer(p: &mut Pacer, t0: Instant) -> Instant {
        for i in 0..100u64 {
            let now = t0 + Duration::from_millis(i * 20);
            assert!(
                p.push(now, datagram(1500)).is_some(),
                "unpaced goes at once"
            );
        }
        t0 + Duration::from_secs(2)
    }

    #[test]
    fn a_keyframe_is_spread_at_the_share_of_what_the_link_delivered() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        let now = offer(&mut p, t0);
        // Half of it arrived: 300 kbit/s delivered, paced at 240.
        p.start(now, 0.5);
        // (The first datagram is just out of the window.)
        assert_eq!(p.rate_bps(), Some(237_600));
        // A 30 KB keyframe at once: 20 datagrams.
        for _ in 0..20 {
            assert!(p.push(now, datagram(1500)).is_none(), "held");
        }
        let mut sent: Vec<Instant> = p.due(now).iter().map(|_| now).collect();
        assert!(sent.len() <= 2, "{} went at once", sent.len());
        let mut t = now;
        while let Some(due) = p.next_due() {
            assert!(due > t || sent.len() < 3, "progress");
            t = due.max(t + Duration::from_millis(1));
            sent.extend(p.due(t).iter().map(|_| t));
        }
        assert_eq!(sent.len(), 20);
        // 240 kbit in about 1 s at 237.6 kbit/s.
        let took = *sent.last().expect("sent") - now;
        assert!(
            (Duration::from_millis(900)..=Duration::from_millis(1010)).contains(&took),
            "{took:?}"
        );
        assert_eq!(p.dropped, 0);
    }

    #[test]
    fn stopping_sends_what_was_held_and_unpaced_video_is_not_held() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        let now = offer(&mut p, t0);
        p.start(now, 0.1);
        assert_eq!(p.rate_bps(), Some(MIN_BPS), "never below the least");
        let held = (0..10).filter(|_| p.push(now, datagram(1200)).is_none());
        assert_eq!(held.count(), 10);
        assert!(p.due(now).len() <= 2);
        assert!(p.stop().len() >= 8);
        assert_eq!(p.next_due(), None);
        assert!(p.push(now, datagram(1200)).is_some());
    }

    #[test]
    fn video_held_too_long_is_dropped() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        p.start(t0, 1.0);
        // 1 Mbit/s offered to an 80 kbit/s pace for 4 s.
        let mut sent = 0;
        for i in 0..400u64 {
            let now = t0 + Duration::from_millis(i * 10);
            assert!(p.push(now, datagram(1250)).is_none());
            sent += p.due(now).len();
        }
        // 4 s at 80 kbit/s: 32 datagrams of 10 kbit (and the first burst).
        assert!((30..=36).contains(&sent), "{sent}");
        // The rest: the last 2 s of it held, the 2 s before dropped.
        assert!((150..=180).contains(&p.dropped), "{}", p.dropped);
        assert!((195..=205).contains(&p.held.len()), "{}", p.held.len());
        let oldest = p.held.front().map(|(at, _)| *at).expect("held");
        assert!(t0 + Duration::from_millis(3990) - oldest <= MAX_HELD);
    }
}
