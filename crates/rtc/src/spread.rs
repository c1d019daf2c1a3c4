//! Audio sent a second time a little later, on a link that loses packets in runs. RED repeats
//! the frames before each packet (four when this was measured, six now), so a long run of lost
//! packets loses frames for good: on a link losing 17 % in runs of four on average (Wi-Fi
//! under interference, a congested hop), 6–11 % of the frames of a call, and speech scored
//! PESQ-WB 1.4–1.9. A copy
//! of each packet [`SPREAD_AFTER`] later is lost only if a run covers both, and the receiver's
//! jitter buffer, which covers 99.5 % of recent delays, learns to wait for it.
//!
//! The receiving end measures how much of the audio was lost in runs of five or more
//! ([`crate::arrivals::LONG_RUN`]; the server
//! for a publisher's uplink: `uplink_audio_loss`; a client for its downlink:
//! `downlink_audio_loss`; see [`crate::arrivals::LossTeller::arrived_audio`]), once a second.
//! Copies go on for [`ON_FOR`] after the last [`MEASURES`] measures, about ten seconds of
//! audio, averaged [`ON_FROM`] or more, or the last [`SOON`] [`SOON_FROM`]. A copy that arrives in place of a lost packet counts
//! as the packet, so once copies go out the measure falls, and they stop [`ON_FOR`] later;
//! runs that come back turn them on again within seconds.
//!
//! On random loss RED alone suffices (at 30 % a frame is lost only if seven packets in a row
//! are: 0.02 %), and copies only make the jitter buffer wait longer: always on at 30 %, they
//! took mouth-to-ear delay from 116–146 ms to 116–276 ms and concealed a little more. A run
//! of seven there counts three packets of a second's fifty (6 %); a running average that one
//! such second could lift to 1 % turned copies on in more than half of simulated minutes at
//! 30 % (and in a CI run of `tests/speech.rs`). Ten seconds at 2 % or three at 5 % turn them
//! on in 1 % of such minutes, in all at 50 % (3 % in long runs), and within four seconds
//! in most calls at the bench's bursty loss (5 % in long runs on average, but lumpy: seconds
//! without a long run, then one at 28 %).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::net::{Protocol, Transmit};

/// How much later the copy goes: longer than most runs (four packets of audio are 80 ms), short
/// enough for a conversation.
pub const SPREAD_AFTER: Duration = Duration::from_millis(200);
/// The share of audio lost beyond RED's reach over the last [`MEASURES`] from which copies go
/// out…
pub const ON_FROM: f32 = 0.02;
/// …or over the last [`SOON`] measures, this share: a bursty link's first seconds.
pub const SOON_FROM: f32 = 0.05;
pub const SOON: usize = 3;
/// …for this long after it last was.
pub const ON_FOR: Duration = Duration::from_secs(30);
/// How many of the latest measures (about one a second) are averaged; fewer count as none.
pub const MEASURES: usize = 10;
/// The most copies waiting (a second and more of audio with RED, at any bitrate a call uses,
/// with the repairs sent again later: some 150 waited at 20 % loss and 0–700 ms of jitter).
const MAX_WAITING: usize = 512;

/// A copy waiting for its time.
#[derive(Debug, Clone)]
struct Waiting {
    at: Instant,
    proto: Protocol,
    source: SocketAddr,
    destination: SocketAddr,
    contents: Vec<u8>,
}

/// Whether audio goes out again later, and the copies waiting to.
#[derive(Debug, Clone, Default)]
pub struct Spread {
    /// The latest measures, oldest first.
    measures: VecDeque<f32>,
    on_until: Option<Instant>,
    waiting: VecDeque<Waiting>,
}

impl Spread {
    /// The receiving end measured `long_runs` (0..1) of the audio lost beyond RED's reach.
    pub fn measure(&mut self, now: Instant, long_runs: f32) {
        if self.measures.len() == MEASURES {
            self.measures.pop_front();
        }
        self.measures.push_back(crate::loss_fraction(long_runs));
        let share = |n: usize| self.measures.iter().rev().take(n).sum::<f32>() / n as f32;
        if share(MEASURES) >= ON_FROM || share(SOON) >= SOON_FROM {
            self.on_until = Some(now + ON_FOR);
        }
    }

    /// Whether audio goes out again now.
    pub fn is_on(&self, now: Instant) -> bool {
        self.on_until.is_some_and(|until| now < until)
    }

    /// `t`, a packet of audio, went out at `now`: its copy waits if copies go out.
    pub fn sent(&mut self, now: Instant, t: &Transmit) {
        if self.is_on(now) {
            self.later(now, t, &[SPREAD_AFTER]);
        }
    }

    /// `t` (a repair: a resend, a NACK) went out at `now`: a copy waits for each of `after`,
    /// whether audio's do or not.
    pub fn later(&mut self, now: Instant, t: &Transmit, after: &[Duration]) {
        for &wait in after {
            if self.waiting.len() >= MAX_WAITING {
                return;
            }
            let at = now + wait;
            // Copies wait in the order they come due.
            let i = self.waiting.partition_point(|w| w.at <= at);
            let w = Waiting {
                at,
                proto: t.proto,
                source: t.source,
                destination: t.destination,
                contents: t.contents.to_vec(),
            };
            self.waiting.insert(i, w);
        }
    }

    /// The copies due at `now`.
    pub fn due(&mut self, now: Instant) -> Vec<Transmit> {
        let mut due = Vec::new();
        while self.waiting.front().is_some_and(|w| w.at <= now) {
            let Some(w) = self.waiting.pop_front() else {
                break;
            };
            due.push(Transmit {
                proto: w.proto,
                source: w.source,
                destination: w.destination,
                contents: w.contents.into(),
            });
        }
        due
    }

    /// When the next copy is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.waiting.front().map(|w| w.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio(n: u8) -> Transmit {
        Transmit {
            proto: Protocol::Udp,
            source: "127.0.0.1:1".parse().unwrap(),
            destination: "127.0.0.1:2".parse().unwrap(),
            contents: vec![n; 40].try_into().unwrap(),
        }
    }

    #[test]
    fn copies_go_only_after_long_runs_and_come_due_later() {
        let (mut s, t0) = (Spread::default(), Instant::now());
        s.sent(t0, &audio(1));
        assert_eq!(s.next_due(), None, "off until measured");
        for long_runs in [0.06, 0.08] {
            s.measure(t0, long_runs);
            assert!(!s.is_on(t0), "two seconds are not enough to start");
        }
        s.measure(t0, 0.07);
        s.sent(t0, &audio(2));
        s.sent(t0 + Duration::from_millis(20), &audio(3));
        assert_eq!(s.next_due(), Some(t0 + SPREAD_AFTER));
        assert!(s.due(t0 + Duration::from_millis(199)).is_empty());
        let due = s.due(t0 + Duration::from_millis(210));
        assert_eq!(due.len(), 1);
        assert_eq!(*due[0].contents, [2; 40]);
        assert_eq!(s.due(t0 + Duration::from_secs(1)).len(), 1);
    }

    #[test]
    fn copies_stop_once_the_runs_are_hidden_and_come_back_with_them() {
        let (mut s, t0) = (Spread::default(), Instant::now());
        let mut now = t0;
        let mut second = |s: &mut Spread, long_runs: f32| {
            now += Duration::from_secs(1);
            s.measure(now, long_runs);
            s.is_on(now)
        };
        let on = (0..10).position(|_| second(&mut s, 0.05));
        assert_eq!(
            on,
            Some(2),
            "a link losing 5 % beyond RED, on in its third second"
        );
        // With copies, what they leave lost is far less.
        let on: Vec<bool> = (0..40).map(|_| second(&mut s, 0.002)).collect();
        assert!(on[..25].iter().all(|o| *o), "on for a while: {on:?}");
        assert!(!on[39], "off once the average stayed low for {ON_FOR:?}");
        let back = (0..10).position(|_| second(&mut s, 0.05));
        assert_eq!(back, Some(2), "runs are back");
    }

    #[test]
    fn random_loss_with_stray_runs_does_not_turn_copies_on() {
        // 30 % random loss: 0.24 % of frames beyond RED. Now and then a second holds a run of
        // five (2 % of its fifty packets), and rarely one of seven (three frames: 6 %), here
        // with runs of five in the two seconds after it.
        let (mut s, t0) = (Spread::default(), Instant::now());
        for i in 0..600u32 {
            let long_runs = match i % 60 {
                30 => 0.06,
                31 | 32 => 0.02,
                n if n % 9 == 0 => 0.02,
                _ => 0.0,
            };
            let now = t0 + Duration::from_secs(u64::from(i));
            s.measure(now, long_runs);
            assert!(!s.is_on(now), "on after {i} s");
        }
    }

    #[test]
    fn repairs_sent_again_come_due_in_time_order() {
        let (mut s, t0) = (Spread::default(), Instant::now());
        let ms = Duration::from_millis;
        s.later(t0, &audio(1), &[ms(100), ms(300)]);
        s.later(t0 + ms(50), &audio(2), &[ms(100), ms(300)]);
        assert_eq!(s.next_due(), Some(t0 + ms(100)));
        let order: Vec<u8> = [100, 150, 300, 350]
            .iter()
            .flat_map(|&at| s.due(t0 + ms(at)))
            .map(|t| t.contents[0])
            .collect();
        assert_eq!(order, [1, 2, 1, 2]);
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn waiting_copies_are_bounded() {
        let (mut s, t0) = (Spread::default(), Instant::now());
        s.measure(t0, 1.0);
        for i in 0..1000 {
            s.sent(t0, &audio(i as u8));
        }
        assert_eq!(s.due(t0 + SPREAD_AFTER).len(), MAX_WAITING);
        s.measure(t0, f32::NAN);
    }
}
