//! Frames that arrive after a hole in a publisher's video. When a packet is lost and its
//! retransmissions do not come in time, str0m hands over the next whole frame marked as not
//! contiguous: it references a frame nobody has, so no subscriber can decode it or anything
//! after it until the next keyframe. Relaying those frames only wastes the subscribers'
//! bandwidth and waits for each decoder to fail and ask for a keyframe (a request that can
//! itself be lost on a weak downlink). The worker instead stops forwarding the stream at the
//! hole and asks the publisher for a keyframe itself.

use std::collections::HashSet;

use str0m::media::{Mid, Rid};

use crate::room::MemberId;

/// One publisher's video stream: its m-line, and its simulcast layer if it sends several.
pub type StreamKey = (MemberId, Mid, Option<Rid>);

/// The streams waiting for a keyframe after a hole.
#[derive(Default)]
pub struct Holes {
    broken: HashSet<StreamKey>,
}

impl Holes {
    /// Whether a frame of `stream` can be decoded by whoever got the frames before it: false
    /// from a frame after a hole until the next keyframe (which refers to nothing earlier).
    pub fn admit(&mut self, stream: StreamKey, contiguous: bool, keyframe: bool) -> bool {
        if keyframe {
            self.broken.remove(&stream);
            return true;
        }
        if !contiguous {
            self.broken.insert(stream);
        }
        !self.broken.contains(&stream)
    }

    /// Forgets a member that left.
    pub fn forget(&mut self, member: MemberId) {
        self.broken.retain(|(m, _, _)| *m != member);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(member: u64) -> StreamKey {
        (MemberId(member), Mid::from("v0"), None)
    }

    #[test]
    fn a_hole_holds_the_stream_back_until_its_next_keyframe() {
        let mut holes = Holes::default();
        assert!(holes.admit(key(1), true, true));
        assert!(holes.admit(key(1), true, false));
        assert!(
            !holes.admit(key(1), false, false),
            "the frame after the hole"
        );
        assert!(
            !holes.admit(key(1), true, false),
            "frames that follow it refer to it"
        );
        assert!(holes.admit(key(2), true, false), "other publishers go on");
        assert!(holes.admit(key(1), false, true), "a keyframe starts afresh");
        assert!(holes.admit(key(1), true, false));
    }

    #[test]
    fn a_member_that_left_is_forgotten() {
        let mut holes = Holes::default();
        assert!(!holes.admit(key(1), false, false));
        holes.forget(MemberId(1));
        assert!(holes.admit(key(1), true, false));
    }
}
