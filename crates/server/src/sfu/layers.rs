//! Simulcast layer selection (sans-IO): which layer of each publisher's camera each
//! subscriber gets, when it may switch, and which layers a publisher must keep encoding.
//!
//! A subscriber gets the big layer until it asks (`set_remote_video_stream_type`). It starts
//! on the first keyframe of whichever layer comes (so a picture shows at once), and switches
//! only on a keyframe of the layer it wants, so the decoder never gets a frame it cannot
//! decode and the picture never freezes while waiting: until the switch, the old layer keeps
//! coming. A publisher that does not send simulcast has one layer (no RID): it always goes.
//! A subscriber whose link cannot carry what it asked for (see `downlink`) is reduced: it
//! gets small layers whatever it asked, until it is let back. So is one whose link loses
//! too much for big layers to go out with their repairs (see `copies`): there a small layer
//! sent twice makes a picture that keeps moving, where a big one sent once froze.

use std::collections::{HashMap, HashSet};

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
    /// Subscribers held to small layers: for a narrow link…
    reduced: HashSet<MemberId>,
    /// …or for a lossy one, so that the video's copies fit.
    for_repairs: HashSet<MemberId>,
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

    /// Whether the subscriber's link carries less than it asked for (see `downlink`).
    pub fn is_reduced(&self, sub: MemberId) -> bool {
        self.reduced.contains(&sub)
    }

    /// Whether the subscriber is held to small layers so that their copies fit.
    pub fn is_small_for_repairs(&self, sub: MemberId) -> bool {
        self.for_repairs.contains(&sub)
    }

    /// Whether the subscriber gets some publisher's big layer now (one that has a small one),
    /// or is switching to it.
    pub fn gets_big(&self, sub: MemberId) -> bool {
        let big = Some(VideoStreamType::Big);
        self.choices.get(&sub).is_some_and(|m| {
            m.values().any(|c| {
                c.current.is_some() && (c.current == big || Some(self.effective(sub, c)) == big)
            })
        })
    }

    fn small(&self, sub: MemberId) -> bool {
        self.reduced.contains(&sub) || self.for_repairs.contains(&sub)
    }

    /// The layer the subscriber should be getting (what to ask a keyframe of).
    pub fn wanted(&self, sub: MemberId, publisher: &UserId) -> VideoStreamType {
        self.effective(sub, &self.choice(sub, publisher))
    }

    fn effective(&self, sub: MemberId, c: &Choice) -> VideoStreamType {
        if self.small(sub) {
            VideoStreamType::Small
        } else {
            c.wanted
        }
    }

    /// Whether the subscriber waits for a keyframe of its wanted layer.
    pub fn switching(&self, sub: MemberId, publisher: &UserId) -> bool {
        let c = self.choice(sub, publisher);
        c.current != Some(self.effective(sub, &c))
    }

    /// Holds the subscriber to small layers (`on`) or lets it back to what it asked for;
    /// returns the publishers whose layer for it changes, with the layer to ask a keyframe of.
    pub fn reduce(&mut self, sub: MemberId, on: bool) -> Vec<(UserId, VideoStreamType)> {
        self.hold_small(sub, |l| &mut l.reduced, on)
    }

    /// Holds the subscriber to small layers so that their copies fit (`on`), or lets it back;
    /// returns what [`reduce`](Self::reduce) does.
    pub fn small_for_repairs(&mut self, sub: MemberId, on: bool) -> Vec<(UserId, VideoStreamType)> {
        self.hold_small(sub, |l| &mut l.for_repairs, on)
    }

    fn hold_small(
        &mut self,
        sub: MemberId,
        set: impl Fn(&mut Self) -> &mut HashSet<MemberId>,
        on: bool,
    ) -> Vec<(UserId, VideoStreamType)> {
        let before: Vec<(UserId, VideoStreamType)> = self
            .choices
            .get(&sub)
            .map(|m| m.keys().map(|u| (u.clone(), self.wanted(sub, u))).collect())
            .unwrap_or_default();
        if on {
            set(self).insert(sub);
        } else {
            set(self).remove(&sub);
        }
        before
            .into_iter()
            .filter_map(|(u, old)| {
                let new = self.wanted(sub, &u);
                (new != old).then_some((u, new))
            })
            .collect()
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
        let reduced = self.small(sub);
        let per_sub = self.choices.entry(sub).or_default();
        let c = match per_sub.get_mut(publisher) {
            Some(c) => c,
            None => per_sub.entry(publisher.clone()).or_default(),
        };
        let wanted = if reduced {
            VideoStreamType::Small
        } else {
            c.wanted
        };
        let take = keyframe && (layer == wanted || c.current.is_none());
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
            for l in [Some(self.effective(sub, &c)), c.current]
                .into_iter()
                .flatten()
            {
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
        self.reduced.remove(&member);
        self.for_repairs.remove(&member);
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
    fn a_reduced_subscriber_gets_small_layers_until_let_back() {
        let (mut l, a, sub) = (Layers::default(), alice(), MemberId(3));
        assert_eq!(l.admit(sub, &a, Some(Big), true), Admit::Switched);
        assert_eq!(l.reduce(sub, true), vec![(a.clone(), Small)]);
        assert_eq!(
            l.admit(sub, &a, Some(Big), false),
            Admit::Forward,
            "until it switches"
        );
        assert_eq!(l.admit(sub, &a, Some(Small), true), Admit::Switched);
        assert_eq!(l.admit(sub, &a, Some(Big), true), Admit::Drop);
        assert_eq!(l.demand(&a, [sub].into_iter()), (false, true));
        assert_eq!(l.reduce(sub, false), vec![(a.clone(), Big)]);
        assert_eq!(l.admit(sub, &a, Some(Big), true), Admit::Switched);
        assert_eq!(l.reduce(sub, false), vec![], "no change");
    }

    #[test]
    fn small_for_repairs_and_for_a_narrow_link_hold_apart() {
        let (mut l, a, sub) = (Layers::default(), alice(), MemberId(3));
        assert!(!l.gets_big(sub));
        assert_eq!(l.admit(sub, &a, Some(Big), true), Admit::Switched);
        assert!(l.gets_big(sub));
        assert_eq!(l.small_for_repairs(sub, true), vec![(a.clone(), Small)]);
        assert!(l.is_small_for_repairs(sub) && !l.is_reduced(sub));
        assert_eq!(l.admit(sub, &a, Some(Small), true), Admit::Switched);
        assert!(!l.gets_big(sub));
        // Reduced for a narrow link as well: small until both let it back.
        assert_eq!(l.reduce(sub, true), vec![]);
        assert_eq!(l.small_for_repairs(sub, false), vec![]);
        assert_eq!(l.wanted(sub, &a), Small);
        assert_eq!(l.reduce(sub, false), vec![(a.clone(), Big)]);
        l.small_for_repairs(sub, true);
        l.forget(sub, None);
        assert!(!l.is_small_for_repairs(sub));
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
