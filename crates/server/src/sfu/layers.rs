//! Simulcast layer selection (sans-IO): which layer of each publisher's camera each
//! subscriber gets, when it may switch, and which layers a publisher must keep encoding.
//!
//! A subscriber gets the big layer until it asks (`set_remote_video_stream_type`). It starts
//! on the first keyframe of whichever layer comes (so a picture shows at once), and switches
//! only on a keyframe of the layer it wants, so the decoder never gets a frame it cannot
//! decode and the picture never freezes while waiting: until the switch, the old layer keeps
//! coming. A publisher that does not send simulcast has one layer (no RID): it always goes.

use std::collections::HashMap;

use roomcast_proto::{UserId, VideoStreamType};

use crate::room::MemberId;

/// What to do with one frame for one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Forward,
    Drop,
    /// Forward: the subscriber now receives this layer (demand may have changed).
    Switched,
}

#[derive(Debug, Clone, Copy, Default)]
struct Choice {
    wanted: VideoStreamType,
    current: Option<VideoStreamType>,
}

#[derive(Debug, Default)]
pub struct Layers {
    /// subscriber → publisher → choice.
    choices: HashMap<MemberId, HashMap<UserId, Choice>>,
}

impl Layers {
    /// The subscriber asks for a layer; true if that is a change (ask for a keyframe of it).
    pub fn want(&mut self, sub: MemberId, publisher: &UserId, layer: VideoStreamType) -> bool {
        let c = self
            .choices
            .entry(sub)
            .or_default()
            .entry(publisher.clone())
            .or_default();
        let changed = c.wanted != layer;
        c.wanted = layer;
        changed && c.current != Some(layer)
    }

    /// The layer the subscriber should be getting (what to ask a keyframe of).
    pub fn wanted(&self, sub: MemberId, publisher: &UserId) -> VideoStreamType {
        self.choice(sub, publisher).wanted
    }

    /// Whether the subscriber waits for a keyframe of its wanted layer.
    pub fn switching(&self, sub: MemberId, publisher: &UserId) -> bool {
        let c = self.choice(sub, publisher);
        c.current != Some(c.wanted)
    }

    fn choice(&self, sub: MemberId, publisher: &UserId) -> Choice {
        self.choices
            .get(&sub)
            .and_then(|m| m.get(publisher))
            .copied()
            .unwrap_or_default()
    }

    /// Decides for one frame of `layer` (None: not simulcast) from `publisher`.
    pub fn admit(
        &mut self,
        sub: MemberId,
        publisher: &UserId,
        layer: Option<VideoStreamType>,
        keyframe: bool,
    ) -> Admit {
        let Some(layer) = layer else {
            return Admit::Forward;
        };
        let per_sub = self.choices.entry(sub).or_default();
        let c = match per_sub.get_mut(publisher) {
            Some(c) => c,
            None => per_sub.entry(publisher.clone()).or_default(),
        };
        let take = keyframe && (layer == c.wanted || c.current.is_none());
        if take && c.current != Some(layer) {
            c.current = Some(layer);
            return Admit::Switched;
        }
        if c.current == Some(layer) {
            Admit::Forward
        } else {
            Admit::Drop
        }
    }

    /// Which layers of `publisher` the given subscribers need now: (big, small). While a
    /// subscriber switches it needs both.
    pub fn demand(&self, publisher: &UserId, subs: impl Iterator<Item = MemberId>) -> (bool, bool) {
        let (mut big, mut small) = (false, false);
        for sub in subs {
            let c = self.choice(sub, publisher);
            for l in [Some(c.wanted), c.current].into_iter().flatten() {
                match l {
                    VideoStreamType::Big => big = true,
                    VideoStreamType::Small => small = true,
                }
            }
        }
        (big, small)
    }

    /// Forgets a member (as a subscriber) and every choice about a publisher who left.
    pub fn forget(&mut self, member: MemberId, user: Option<&UserId>) {
        self.choices.remove(&member);
        if let Some(user) = user {
            for m in self.choices.values_mut() {
                m.remove(user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use VideoStreamType::{Big, Small};

    fn alice() -> UserId {
        UserId::new("alice".to_string()).expect("valid")
    }

    #[test]
    fn starts_at_once_then_switches_only_on_a_keyframe_of_the_wanted_layer() {
        let (mut l, a, sub) = (Layers::default(), alice(), MemberId(7));
        assert!(l.want(sub, &a, Small));
        // Nothing until a keyframe; the first keyframe of any layer starts the picture.
        assert_eq!(l.admit(sub, &a, Some(Big), false), Admit::Drop);
        assert_eq!(l.admit(sub, &a, Some(Big), true), Admit::Switched);
        assert_eq!(l.admit(sub, &a, Some(Small), false), Admit::Drop);
        assert_eq!(l.admit(sub, &a, Some(Big), false), Admit::Forward);
        assert!(l.switching(sub, &a));
        assert_eq!(l.demand(&a, [sub].into_iter()), (true, true));
        // The wanted layer's keyframe switches; the old layer stops.
        assert_eq!(l.admit(sub, &a, Some(Small), true), Admit::Switched);
        assert_eq!(l.admit(sub, &a, Some(Big), true), Admit::Drop);
        assert_eq!(l.admit(sub, &a, Some(Small), false), Admit::Forward);
        assert_eq!(l.demand(&a, [sub].into_iter()), (false, true));
        assert!(!l.want(sub, &a, Small), "asking again is no change");
    }

    #[test]
    fn without_simulcast_everything_goes_and_demand_follows_subscribers() {
        let (mut l, a) = (Layers::default(), alice());
        assert_eq!(l.admit(MemberId(1), &a, None, false), Admit::Forward);
        assert_eq!(l.demand(&a, std::iter::empty()), (false, false));
        l.want(MemberId(1), &a, Small);
        l.want(MemberId(2), &a, Big);
        assert_eq!(l.demand(&a, [MemberId(1)].into_iter()), (false, true));
        assert_eq!(
            l.demand(&a, [MemberId(1), MemberId(2)].into_iter()),
            (true, true)
        );
        l.forget(MemberId(2), None);
        assert_eq!(
            l.wanted(MemberId(2), &a),
            Big,
            "a forgotten subscriber starts over"
        );
        l.forget(MemberId(9), Some(&a));
        assert_eq!(l.wanted(MemberId(1), &a), Big, "the publisher left");
    }
}
