//! Plays what a client received through the engine's real playout (jitter buffer, Opus
//! decoding and concealment) on the world's virtual clock: the packets go in when they
//! arrived, and 10 ms of sound comes out every 10 ms, as a speaker would pull it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roomcast_engine::audio::{Playout, SampleQueue};
use roomcast_engine::media::NullSink;
use roomcast_engine::stats::AudioStats;
use roomcast_proto::MediaKind;

use super::{CAPTURE_BASE_US, Client, Received};

/// How much sound a speaker pulls at a time.
const PULL: Duration = Duration::from_millis(10);

impl Client {
    /// Plays the audio this client received from `start` to `end` (one remote user's: the
    /// world's calls have two people); returns the playout's statistics each second.
    pub fn play_audio(&self, start: Instant, end: Instant) -> Vec<AudioStats> {
        self.hear(start, end).0
    }

    /// [`play_audio`](Self::play_audio), and what the speaker played (48 kHz mono, from
    /// `start`).
    pub fn hear(&self, start: Instant, end: Instant) -> (Vec<AudioStats>, Vec<f32>) {
        let far = Arc::new(SampleQueue::new(100));
        let local = Arc::new(SampleQueue::new(100));
        let mut playout = Playout::new(far, local);
        let stats = Arc::new(Mutex::new(AudioStats::default()));
        playout
            .add_user(
                "remote",
                1,
                Box::new(NullSink),
                stats.clone(),
                Box::new(|| {}),
            )
            .expect("an Opus decoder");
        let us = |t: Instant| CAPTURE_BASE_US + (t - start).as_micros() as u64;
        let mut packets = self
            .received
            .iter()
            .filter(|r| self.kinds.get(&r.mid) == Some(&MediaKind::Audio))
            .peekable();
        let mut out = vec![0.0; 480];
        let mut played = Vec::new();
        let mut snapshots = Vec::new();
        let mut now = start;
        let mut next_snapshot = start + Duration::from_secs(1);
        while now < end {
            while let Some(p) = packets.next_if(|p| p.at <= now) {
                playout.push_packet("remote", us(p.at), p.rtp_time, p.seq, p.data.to_vec());
            }
            playout.pull(us(now), &mut out);
            played.extend_from_slice(&out);
            now += PULL;
            if now >= next_snapshot {
                let s = stats.lock().unwrap_or_else(|e| e.into_inner()).clone();
                snapshots.push(s);
                next_snapshot += Duration::from_secs(1);
            }
        }
        (snapshots, played)
    }
}

impl Client {
    /// When each video frame this client received would be shown: the frames go through the
    /// engine's real video playout (`VideoPlayout`) when they arrived, as the decode thread
    /// hands them over. In the order received; one remote video stream (the world's calls
    /// have one publisher), since the engine runs a playout per stream.
    pub fn video_shown(&self, start: Instant) -> Vec<Instant> {
        let mut playout = roomcast_engine::video_playout::VideoPlayout::default();
        let us = |t: Instant| (t - start).as_micros() as u64;
        let mut arrivals = self.video_received().peekable();
        let mut shown = Vec::new();
        loop {
            let due = playout.next_due_us();
            let next = arrivals.peek().map(|r| us(r.at));
            let now = match (next, due) {
                (None, None) => return shown,
                (Some(n), Some(d)) => n.min(d),
                (n, d) => n.or(d).expect("one of them"),
            };
            if let Some(r) = arrivals.next_if(|r| us(r.at) == now) {
                playout.push(now, r.rtp_time, ());
            }
            while playout.pop(now).is_some() {
                shown.push(start + Duration::from_micros(now));
            }
        }
    }

    /// The video frames this client received, in the order they came.
    pub fn video_received(&self) -> impl Iterator<Item = &Received> {
        self.received
            .iter()
            .filter(|r| self.kinds.get(&r.mid) == Some(&MediaKind::Video))
    }
}

/// The gaps longer than 500 ms between frames at `times` within `from..=to` (the ends count
/// as frames), and the longest gap.
pub fn freezes(times: &[Instant], from: Instant, to: Instant) -> (usize, Duration) {
    let times: Vec<Instant> = std::iter::once(from)
        .chain(times.iter().copied().filter(|t| *t >= from && *t <= to))
        .chain(std::iter::once(to))
        .collect();
    let gaps = times.windows(2).map(|p| p[1] - p[0]);
    let freezes = gaps
        .clone()
        .filter(|g| *g > Duration::from_millis(500))
        .count();
    (freezes, gaps.max().unwrap_or_default())
}
