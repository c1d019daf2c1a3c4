//! Video without simulcast towards a subscriber whose link cannot carry it (see `downlink`):
//! only keyframes, each decodable on its own, so the picture moves on every few seconds and
//! the rest of that link is left to audio. The others keep every frame. An encoder makes a
//! keyframe on its own only about once a minute, so while someone gets keyframes only, the
//! publisher is asked for one every few seconds (sans-IO: time is a parameter).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use str0m::media::Mid;

use crate::room::MemberId;

/// A keyframe of a stream some subscriber gets keyframes only of, at least this often.
pub const EVERY: Duration = Duration::from_secs(3);

/// One publisher's video m-line.
pub type StreamKey = (MemberId, Mid);

/// Besides each keyframe, the frames right after it go too: they are small, and their
/// packets tell the subscriber what the keyframe lost at its end (its tail is what a narrow
/// link's queue drops, and nothing else would follow it for seconds to show the gap).
pub const TRAILING: u32 = 2;

#[derive(Default)]
struct Seen {
    /// The last keyframe, seen or asked for.
    keyframe: Option<Instant>,
    /// Frames since the last keyframe.
    since: u32,
}

/// Where each stream is between its keyframes.
#[derive(Default)]
pub struct KeyframesOnly {
    streams: HashMap<StreamKey, Seen>,
}

impl KeyframesOnly {
    /// A frame of `stream` arrived: whether subscribers that get keyframes only get it.
    pub fn frame(&mut self, now: Instant, stream: StreamKey, keyframe: bool) -> bool {
        let s = self.streams.entry(stream).or_default();
        if keyframe {
            s.keyframe = Some(now);
            s.since = 0;
        } else {
            s.since = s.since.saturating_add(1);
        }
        s.since <= TRAILING
    }

    /// Someone gets keyframes only of `stream`: whether to ask its publisher for one now.
    pub fn ask(&mut self, now: Instant, stream: StreamKey) -> bool {
        let s = self.streams.entry(stream).or_default();
        let last = *s.keyframe.get_or_insert(now);
        if now < last + EVERY {
            return false;
        }
        s.keyframe = Some(now);
        true
    }

    /// Forgets a member that left.
    pub fn forget(&mut self, member: MemberId) {
        self.streams.retain(|(m, _), _| *m != member);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframes_are_asked_for_every_few_seconds_only_while_someone_gets_only_them() {
        let t0 = Instant::now();
        let key = (MemberId(1), Mid::from("v0"));
        let mut k = KeyframesOnly::default();
        let frame = Duration::from_millis(66);
        let mut asked = Vec::new();
        let mut passed = 0;
        for n in 0..300u32 {
            let now = t0 + frame * n;
            // The encoder's own keyframe at 0 s, then only those asked for.
            let keyframe = n == 0 || asked.last() == Some(&(n - 1));
            passed += u32::from(k.frame(now, key, keyframe));
            // Nobody gets keyframes only for the first 5 s.
            if n >= 75 && k.ask(now, key) {
                asked.push(n);
            }
        }
        // From 5 s on: at 5 s (the last keyframe was at 0), then every 3 s.
        let secs: Vec<f32> = asked.iter().map(|n| *n as f32 * 0.066).collect();
        assert_eq!(asked.len(), 5, "{secs:?}");
        assert!((4.9..5.1).contains(&secs[0]), "{secs:?}");
        assert!(
            secs.windows(2).all(|w| (2.9..3.2).contains(&(w[1] - w[0]))),
            "{secs:?}"
        );
        // Each keyframe (6 of them) and the two frames after it.
        assert_eq!(passed, 6 * (1 + TRAILING));
    }

    #[test]
    fn a_keyframe_that_comes_anyway_postpones_the_next_request() {
        let t0 = Instant::now();
        let key = (MemberId(1), Mid::from("v0"));
        let mut k = KeyframesOnly::default();
        k.frame(t0, key, true);
        k.frame(t0 + Duration::from_secs(2), key, true);
        assert!(!k.ask(t0 + Duration::from_secs(4), key));
        assert!(k.ask(t0 + Duration::from_secs(5), key));
        assert!(!k.ask(t0 + Duration::from_secs(6), key), "just asked");
    }
}
