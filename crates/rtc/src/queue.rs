//! How long a sender's video waits in a queue on its way, as the receiver sees it. Each
//! packet's one-way delay is read against its RTP time (the frame's capture time, on the
//! sender's clock): unknown but steady on a steady link, longer by the queue's wait. Jitter
//! delays packets at random and never shortens the least delay of a second's packets (under
//! 0–700 ms of jitter, the least of 60 packets is some 10 ms over the link's own), so that
//! least, against the least of the last ten seconds, is the queue: a link filling up shows
//! it before its queue overflows and loses what copies cannot bring back.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Video's RTP clock.
const CLOCK_HZ: i64 = 90_000;
/// The least delay is taken over this long…
const BUCKET: Duration = Duration::from_secs(1);
/// …and compared with the least of this many such.
const BUCKETS: usize = 10;
/// The most SSRCs followed (a camera's two layers and a screen share, with room to spare).
const MAX_STREAMS: usize = 8;

/// One SSRC's delays.
#[derive(Debug, Clone)]
struct Delays {
    /// The first packet's arrival and RTP time, which delays are read against.
    base: (Instant, u32),
    /// The latest RTP time, extended past its wraps (against `base`).
    rtp: i64,
    last_rtp: u32,
    /// The least delay (µs, against `base`) of each bucket, oldest first, with its start.
    buckets: VecDeque<(Instant, i64)>,
}

impl Delays {
    fn new(now: Instant, rtp: u32) -> Self {
        Delays {
            base: (now, rtp),
            rtp: 0,
            last_rtp: rtp,
            buckets: VecDeque::from([(now, 0)]),
        }
    }

    fn arrive(&mut self, now: Instant, rtp: u32) {
        // Packets overtake one another: the step may go back.
        self.rtp += i64::from(rtp.wrapping_sub(self.last_rtp) as i32);
        self.last_rtp = rtp;
        let since = now.saturating_duration_since(self.base.0).as_micros() as i64;
        let delay = since - self.rtp * 1_000_000 / CLOCK_HZ;
        match self.buckets.back_mut() {
            Some((start, least)) if now < *start + BUCKET => *least = (*least).min(delay),
            _ => {
                if self.buckets.len() > BUCKETS {
                    self.buckets.pop_front();
                }
                self.buckets.push_back((now, delay));
            }
        }
    }

    /// The least delay of the last whole bucket over the least of the last ten.
    fn queue(&self) -> Option<Duration> {
        let whole = self.buckets.len().checked_sub(1)?;
        let last = self.buckets.get(whole.checked_sub(1)?)?.1;
        let least = self.buckets.iter().take(whole).map(|b| b.1).min()?;
        Some(Duration::from_micros(
            u64::try_from(last - least).unwrap_or(0),
        ))
    }
}

/// The queue a sender's video waits in on its way (sans-IO: time is a parameter).
#[derive(Debug, Clone, Default)]
pub struct QueueGauge {
    streams: HashMap<u32, Delays>,
}

impl QueueGauge {
    /// An RTP datagram of video (a first transmission) arrived at `now`.
    pub fn arrive_datagram(&mut self, now: Instant, d: &[u8]) {
        let Some((ssrc, rtp)) = crate::parity::ssrc_ts(d) else {
            return;
        };
        let full = self.streams.len() >= MAX_STREAMS;
        match self.streams.get_mut(&ssrc) {
            Some(s) => s.arrive(now, rtp),
            // Packets are gauged before SRTP checks them: forged ones must not grow this.
            None if full => {}
            None => {
                self.streams.insert(ssrc, Delays::new(now, rtp));
            }
        }
    }

    /// The longest wait any stream's packets had in the last whole second beyond the least
    /// of the last ten (None until two seconds are in).
    pub fn queue(&self) -> Option<Duration> {
        self.streams.values().filter_map(Delays::queue).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(ssrc: u32, ts: u32) -> Vec<u8> {
        let mut d = vec![0x80, 96, 0, 0];
        d.extend(ts.to_be_bytes());
        d.extend(ssrc.to_be_bytes());
        d.extend([0; 20]);
        d
    }

    /// 60 packets a second for `secs`, captured every 1/60 s from `from` (RTP time starts near
    /// the wrap), each arriving after `delay(i)`.
    fn feed(g: &mut QueueGauge, start: Instant, secs: u32, delay: impl Fn(u32) -> Duration) {
        for i in 0..secs * 60 {
            let captured = Duration::from_micros(u64::from(i) * 1_000_000 / 60);
            let ts = (u32::MAX - 45_000).wrapping_add(i * 1_500);
            g.arrive_datagram(start + captured + delay(i), &rtp(7, ts));
        }
    }

    /// 0..700 ms of jitter, spread over the packets.
    fn jitter(i: u32) -> Duration {
        let h = (u64::from(i) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Duration::from_millis((h >> 40) % 700)
    }

    #[test]
    fn jitter_alone_is_no_queue() {
        let mut g = QueueGauge::default();
        feed(&mut g, Instant::now(), 20, jitter);
        let q = g.queue().expect("gauged");
        assert!(q < Duration::from_millis(50), "{q:?}");
    }

    #[test]
    fn a_queue_filling_under_jitter_shows() {
        let mut g = QueueGauge::default();
        // From 10 s on the link carries less than is sent: each second waits 50 ms more.
        feed(&mut g, Instant::now(), 16, |i| {
            let queued = u64::from(i.saturating_sub(600)) * 50 / 60;
            jitter(i) + Duration::from_millis(queued)
        });
        let q = g.queue().expect("gauged");
        assert!(q >= Duration::from_millis(200), "{q:?}");
    }

    #[test]
    fn short_datagrams_and_too_many_streams_are_ignored() {
        let mut g = QueueGauge::default();
        let t = Instant::now();
        g.arrive_datagram(t, &[0x80, 96]);
        for ssrc in 0..100 {
            g.arrive_datagram(t, &rtp(ssrc, 0));
        }
        assert_eq!(g.streams.len(), MAX_STREAMS);
        assert_eq!(g.queue(), None);
    }
}
