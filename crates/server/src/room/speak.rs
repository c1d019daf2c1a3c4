//! Invitations and requests to speak in live rooms: an anchor invites an audience member on
//! stage, or an audience member raises a hand and an anchor allows it.
//!
//! Rules:
//! - Only an anchor of a live scene invites, only an audience member is invited; only an
//!   audience member requests, only an anchor answers a request.
//! - Each open invitation (per inviter and invitee) and request (per requester) expires after
//!   [`super::Limits::speak_timeout`], silently: clients close their prompts on the same clock.
//! - Asking again while one is open sends nothing new: one prompt per pair, never a flood.
//! - Leaving (or being replaced or lost) drops everything the member had open, and so does a
//!   role change that makes the invitation or request moot.
//! - Hidden members are never revealed: inviting one fails as for an unknown user.

use std::collections::BTreeMap;
use std::time::Instant;

use roomcast_proto::{Role, ServerMessage, UserId};

use super::{MemberId, Room, RoomError, RoomEvent};

/// A speaking-related request from a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeakAction {
    Invite(UserId),
    Request,
    AnswerInvite { accept: bool },
    AnswerRequest { user: UserId, accept: bool },
}

/// What is open, and until when.
#[derive(Debug, Default)]
pub(super) struct Pending {
    /// (invitee, inviter) → expiry.
    invites: BTreeMap<(MemberId, MemberId), Instant>,
    /// requester → expiry.
    requests: BTreeMap<MemberId, Instant>,
}

impl Pending {
    /// `member` is gone: nothing it sent or received stays open.
    pub(super) fn forget(&mut self, member: MemberId) {
        self.invites
            .retain(|&(invitee, inviter), _| invitee != member && inviter != member);
        self.requests.remove(&member);
    }

    /// `member` now has `role`: an anchor needs no invitation or request any more; an
    /// audience member can no longer invite.
    pub(super) fn forget_role(&mut self, member: MemberId, role: Role) {
        match role {
            Role::Anchor => {
                self.invites.retain(|&(invitee, _), _| invitee != member);
                self.requests.remove(&member);
            }
            Role::Audience => self.invites.retain(|&(_, inviter), _| inviter != member),
        }
    }

    pub(super) fn expire(&mut self, now: Instant) {
        self.invites.retain(|_, until| *until > now);
        self.requests.retain(|_, until| *until > now);
    }

    pub(super) fn next_expiry(&self) -> Option<Instant> {
        self.invites
            .values()
            .chain(self.requests.values())
            .min()
            .copied()
    }
}

impl Room {
    /// Handles one [`SpeakAction`] from `member`; the others hear of it as `speak_*` events.
    pub fn handle_speak(
        &mut self,
        now: Instant,
        member: MemberId,
        action: SpeakAction,
    ) -> Result<(), RoomError> {
        if self.destroyed {
            return Err(RoomError::Closed);
        }
        self.speak.expire(now);
        let m = self.members.get(&member).ok_or(RoomError::NotInRoom)?;
        if !self.scene.is_live() {
            return Err(RoomError::RoleNotAllowed(
                "inviting and requesting to speak is for live scenes; in a call everyone already speaks".into(),
            ));
        }
        let (me, my_role) = (m.user.clone(), m.role);
        let needs = |role: Role, what: &str| {
            if my_role == role {
                Ok(())
            } else {
                let (who, hint) = match role {
                    Role::Anchor => ("anchors", "audience members use request_to_speak"),
                    Role::Audience => ("audience members", "an anchor may speak already"),
                };
                Err(RoomError::RoleNotAllowed(format!(
                    "only {who} can {what}; {hint}"
                )))
            }
        };
        let until = now + self.limits.speak_timeout;
        match action {
            SpeakAction::Invite(user) => {
                needs(Role::Anchor, "invite to speak")?;
                let invitee = self.member_named(&user)?;
                if self.members[&invitee].role == Role::Anchor {
                    return Err(RoomError::RoleNotAllowed(format!(
                        "{user} is already an anchor; only audience members can be invited"
                    )));
                }
                if self
                    .speak
                    .invites
                    .insert((invitee, member), until)
                    .is_none()
                {
                    self.send(invitee, ServerMessage::SpeakInvited { by: me });
                }
            }
            SpeakAction::Request => {
                needs(Role::Audience, "request to speak")?;
                if self.members[&member].hidden {
                    return Err(RoomError::RoleNotAllowed(
                        "a hidden member stays audience; enter without hidden to speak".into(),
                    ));
                }
                if self.speak.requests.insert(member, until).is_none() {
                    let anchors: Vec<MemberId> = self
                        .members
                        .iter()
                        .filter(|(_, m)| m.role == Role::Anchor)
                        .map(|(&id, _)| id)
                        .collect();
                    for a in anchors {
                        self.send(
                            a,
                            ServerMessage::SpeakRequested {
                                user_id: me.clone(),
                            },
                        );
                    }
                }
            }
            SpeakAction::AnswerInvite { accept } => {
                let inviters: Vec<MemberId> = self
                    .speak
                    .invites
                    .keys()
                    .filter(|(invitee, _)| *invitee == member)
                    .map(|&(_, inviter)| inviter)
                    .collect();
                if inviters.is_empty() {
                    return Err(RoomError::NothingToAnswer(
                        "nobody has invited you to speak, or the invitation expired".into(),
                    ));
                }
                for inviter in inviters {
                    self.speak.invites.remove(&(member, inviter));
                    self.send(
                        inviter,
                        ServerMessage::SpeakInviteAnswered {
                            user_id: me.clone(),
                            accept,
                        },
                    );
                }
            }
            SpeakAction::AnswerRequest { user, accept } => {
                needs(Role::Anchor, "answer a request to speak")?;
                let requester = self.member_named(&user)?;
                if self.speak.requests.remove(&requester).is_none() {
                    return Err(RoomError::NothingToAnswer(format!(
                        "{user} has no open request to speak (it may have expired or been answered)"
                    )));
                }
                self.send(
                    requester,
                    ServerMessage::SpeakRequestAnswered { accept, by: me },
                );
            }
        }
        Ok(())
    }

    /// The member logged in as `user`, unless it is hidden (hidden members are never revealed).
    fn member_named(&self, user: &UserId) -> Result<MemberId, RoomError> {
        self.by_user
            .get(user)
            .copied()
            .filter(|id| !self.members[id].hidden)
            .ok_or_else(|| {
                RoomError::UserNotFound(format!("{user} is not in this room; they may have left"))
            })
    }

    pub(super) fn send(&mut self, to: MemberId, msg: ServerMessage) {
        self.events.push_back(RoomEvent::Send { to, msg });
    }
}

#[cfg(test)]
mod tests {
    use roomcast_proto::{ErrorCode, LeaveReason, Scene};

    use super::super::Limits;
    use super::super::tests::{A, B, C, D, drain, enter, names, room, secs, sent_to, uid};
    use super::*;

    fn invite(user: &str) -> SpeakAction {
        SpeakAction::Invite(uid(user))
    }

    fn answer_request(user: &str, accept: bool) -> SpeakAction {
        SpeakAction::AnswerRequest {
            user: uid(user),
            accept,
        }
    }

    /// A live room with anchors a (A) and d (D), audience b (B) and c (C), events drained.
    fn stage() -> (Room, Instant) {
        let (mut r, t0) = room(Scene::Live, Limits::default());
        enter(&mut r, t0, A, "a", Role::Anchor);
        enter(&mut r, t0, B, "b", Role::Audience);
        enter(&mut r, t0, C, "c", Role::Audience);
        enter(&mut r, t0, D, "d", Role::Anchor);
        drain(&mut r);
        (r, t0)
    }

    fn code(r: Result<(), RoomError>) -> ErrorCode {
        r.expect_err("the action is refused").code()
    }

    #[test]
    fn request_reaches_every_anchor_once_and_accept_reaches_requester() {
        let (mut r, t0) = stage();
        r.handle_speak(t0, B, SpeakAction::Request)
            .expect("audience may ask");
        let ev = drain(&mut r);
        for anchor in [A, D] {
            assert_eq!(
                sent_to(&ev, anchor),
                vec![ServerMessage::SpeakRequested { user_id: uid("b") }]
            );
        }
        assert!(sent_to(&ev, B).is_empty() && sent_to(&ev, C).is_empty());

        // Asking again while the request is open sends nothing new.
        r.handle_speak(t0 + secs(5), B, SpeakAction::Request)
            .expect("repeat is harmless");
        assert!(drain(&mut r).is_empty());

        r.handle_speak(t0 + secs(6), D, answer_request("b", true))
            .expect("anchor answers");
        assert_eq!(
            drain(&mut r),
            vec![RoomEvent::Send {
                to: B,
                msg: ServerMessage::SpeakRequestAnswered {
                    accept: true,
                    by: uid("d")
                }
            }]
        );
        // Answered once: a second answer (by the other anchor) finds nothing open.
        assert_eq!(
            code(r.handle_speak(t0 + secs(7), A, answer_request("b", false))),
            ErrorCode::NothingToAnswer
        );
        // The requester then switches role itself, as before; accepting changed nothing.
        assert_eq!(r.role_of(B), Some(Role::Audience));
        r.handle_switch_role(t0 + secs(8), B, Role::Anchor)
            .expect("audience may become anchor");
        assert_eq!(r.role_of(B), Some(Role::Anchor));
    }

    #[test]
    fn declined_request_can_be_asked_again() {
        let (mut r, t0) = stage();
        r.handle_speak(t0, B, SpeakAction::Request).expect("ask");
        r.handle_speak(t0, A, answer_request("b", false))
            .expect("decline");
        let ev = drain(&mut r);
        assert_eq!(
            sent_to(&ev, B),
            vec![ServerMessage::SpeakRequestAnswered {
                accept: false,
                by: uid("a")
            }]
        );
        r.handle_speak(t0 + secs(1), B, SpeakAction::Request)
            .expect("ask again");
        assert_eq!(sent_to(&drain(&mut r), A).len(), 1);
    }

    #[test]
    fn invite_accept_and_decline_reach_the_inviters() {
        let (mut r, t0) = stage();
        r.handle_speak(t0, A, invite("b")).expect("anchor invites");
        r.handle_speak(t0, D, invite("b"))
            .expect("second anchor too");
        r.handle_speak(t0, A, invite("b"))
            .expect("repeat is harmless");
        let ev = drain(&mut r);
        assert_eq!(
            sent_to(&ev, B),
            vec![
                ServerMessage::SpeakInvited { by: uid("a") },
                ServerMessage::SpeakInvited { by: uid("d") }
            ]
        );
        assert_eq!(ev.len(), 2, "nobody else hears of invitations: {ev:?}");

        r.handle_speak(t0 + secs(3), B, SpeakAction::AnswerInvite { accept: true })
            .expect("accept");
        let ev = drain(&mut r);
        let answered = ServerMessage::SpeakInviteAnswered {
            user_id: uid("b"),
            accept: true,
        };
        assert_eq!(sent_to(&ev, A), vec![answered.clone()]);
        assert_eq!(sent_to(&ev, D), vec![answered]);
        assert_eq!(
            code(r.handle_speak(t0 + secs(4), B, SpeakAction::AnswerInvite { accept: true })),
            ErrorCode::NothingToAnswer
        );

        r.handle_speak(t0, A, invite("c")).expect("invite c");
        drain(&mut r);
        r.handle_speak(t0, C, SpeakAction::AnswerInvite { accept: false })
            .expect("decline");
        assert_eq!(
            sent_to(&drain(&mut r), A),
            vec![ServerMessage::SpeakInviteAnswered {
                user_id: uid("c"),
                accept: false
            }]
        );
    }

    #[test]
    fn wrong_roles_and_unknown_users_are_refused() {
        let (mut r, t0) = stage();
        let e = r.handle_speak(t0, B, invite("c")).unwrap_err();
        assert_eq!(e.code(), ErrorCode::RoleNotAllowed);
        assert!(e.to_string().contains("only anchors"), "{e}");
        assert_eq!(
            code(r.handle_speak(t0, A, SpeakAction::Request)),
            ErrorCode::RoleNotAllowed
        );
        assert_eq!(
            code(r.handle_speak(t0, B, answer_request("c", true))),
            ErrorCode::RoleNotAllowed
        );
        assert_eq!(
            code(r.handle_speak(t0, A, invite("d"))),
            ErrorCode::RoleNotAllowed,
            "anchors are not invited"
        );
        let e = r.handle_speak(t0, A, invite("zed")).unwrap_err();
        assert_eq!(e.code(), ErrorCode::UserNotFound);
        assert!(e.to_string().contains("zed"), "{e}");
        assert_eq!(
            code(r.handle_speak(t0, A, answer_request("zed", true))),
            ErrorCode::UserNotFound
        );
        assert_eq!(
            code(r.handle_speak(t0, A, answer_request("c", true))),
            ErrorCode::NothingToAnswer,
            "c never asked"
        );
        assert_eq!(
            code(r.handle_speak(t0, B, SpeakAction::AnswerInvite { accept: true })),
            ErrorCode::NothingToAnswer
        );
        assert_eq!(
            r.handle_speak(t0, MemberId(99), SpeakAction::Request),
            Err(RoomError::NotInRoom)
        );
        assert!(drain(&mut r).is_empty(), "refusals tell nobody");

        let (mut call, t0) = room(Scene::VideoCall, Limits::default());
        enter(&mut call, t0, A, "a", Role::Anchor);
        enter(&mut call, t0, B, "b", Role::Anchor);
        assert_eq!(
            code(call.handle_speak(t0, A, invite("b"))),
            ErrorCode::RoleNotAllowed
        );
    }

    #[test]
    fn hidden_members_are_not_revealed_and_cannot_ask() {
        let (mut r, t0) = stage();
        r.handle_enter(t0, MemberId(9), uid("rec"), Role::Audience, true)
            .expect("hidden enters");
        assert_eq!(
            code(r.handle_speak(t0, A, invite("rec"))),
            ErrorCode::UserNotFound
        );
        assert_eq!(
            code(r.handle_speak(t0, MemberId(9), SpeakAction::Request)),
            ErrorCode::RoleNotAllowed
        );
    }

    #[test]
    fn open_items_expire_after_60_s_of_virtual_time() {
        let (mut r, t0) = stage();
        r.handle_speak(t0, B, SpeakAction::Request).expect("ask");
        r.handle_speak(t0 + secs(10), A, invite("c"))
            .expect("invite");
        drain(&mut r);
        assert_eq!(r.poll_timeout(), Some(t0 + secs(60)));
        r.handle_timeout(t0 + secs(60));
        assert!(drain(&mut r).is_empty(), "expiry is silent");
        assert_eq!(r.poll_timeout(), Some(t0 + secs(70)));
        assert_eq!(
            code(r.handle_speak(t0 + secs(61), A, answer_request("b", true))),
            ErrorCode::NothingToAnswer
        );
        // Without a timer call, an answer at the deadline still finds it expired.
        assert_eq!(
            code(r.handle_speak(t0 + secs(70), C, SpeakAction::AnswerInvite { accept: true })),
            ErrorCode::NothingToAnswer
        );
        assert_eq!(r.poll_timeout(), None);
        // Once expired, the audience member may ask again and the anchors hear it again.
        r.handle_speak(t0 + secs(71), B, SpeakAction::Request)
            .expect("ask again");
        assert_eq!(sent_to(&drain(&mut r), A).len(), 1);
    }

    #[test]
    fn leaving_or_switching_role_clears_open_items() {
        let (mut r, t0) = stage();
        r.handle_speak(t0, B, SpeakAction::Request).expect("ask");
        r.handle_speak(t0, A, invite("c")).expect("invite");
        r.handle_exit(t0, B);
        r.handle_exit(t0, A);
        drain(&mut r);
        assert_eq!(
            code(r.handle_speak(t0, C, SpeakAction::AnswerInvite { accept: true })),
            ErrorCode::NothingToAnswer,
            "the inviter left"
        );
        assert_eq!(r.poll_timeout(), None, "nothing left to expire");

        let (mut r, t0) = stage();
        r.handle_speak(t0, B, SpeakAction::Request).expect("ask");
        r.handle_speak(t0, A, invite("c")).expect("invite");
        // b goes on stage directly (still allowed); c's inviter steps down.
        r.handle_switch_role(t0, B, Role::Anchor)
            .expect("b on stage");
        r.handle_switch_role(t0, A, Role::Audience)
            .expect("a steps down");
        drain(&mut r);
        assert_eq!(
            code(r.handle_speak(t0, D, answer_request("b", true))),
            ErrorCode::NothingToAnswer
        );
        assert_eq!(
            code(r.handle_speak(t0, C, SpeakAction::AnswerInvite { accept: true })),
            ErrorCode::NothingToAnswer
        );

        // A lost connection removed after 90 s drops its request too.
        let (mut r, t0) = stage();
        r.handle_speak(t0, B, SpeakAction::Request).expect("ask");
        r.handle_connection_lost(t0, B);
        r.handle_timeout(t0 + secs(90));
        assert_eq!(
            code(r.handle_speak(t0 + secs(90), A, answer_request("b", true))),
            ErrorCode::UserNotFound
        );
    }

    #[test]
    fn audience_stays_unannounced_throughout() {
        let (mut r, t0) = stage();
        r.handle_speak(t0, B, SpeakAction::Request).expect("ask");
        r.handle_speak(t0, A, answer_request("b", true))
            .expect("allow");
        r.handle_speak(t0, A, invite("c")).expect("invite");
        r.handle_speak(t0, C, SpeakAction::AnswerInvite { accept: false })
            .expect("decline");
        let ev = drain(&mut r);
        let roster = |m: &ServerMessage| {
            matches!(
                m,
                ServerMessage::UserEnter { .. } | ServerMessage::UserLeave { .. }
            )
        };
        assert!(
            !ev.iter()
                .any(|e| matches!(e, RoomEvent::Send { msg, .. } if roster(msg))),
            "no roster event for audience: {ev:?}"
        );
        let users = enter(&mut r, t0, MemberId(8), "e", Role::Audience);
        assert_eq!(names(&users), ["a", "d"], "audience is still not listed");
        // Once b switches role after being allowed, it is announced as any anchor is.
        r.handle_switch_role(t0, B, Role::Anchor).expect("on stage");
        assert_eq!(
            sent_to(&drain(&mut r), C),
            vec![ServerMessage::UserEnter {
                user_id: uid("b"),
                role: Role::Anchor,
                name: "b".into(),
            }]
        );
        r.handle_switch_role(t0, B, Role::Audience)
            .expect("off stage");
        assert_eq!(
            sent_to(&drain(&mut r), C),
            vec![ServerMessage::UserLeave {
                user_id: uid("b"),
                reason: LeaveReason::BecameAudience
            }]
        );
    }
}
