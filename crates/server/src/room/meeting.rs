//! Running a meeting: who may enter (passcode, lock, bans, the lobby) and what the host may
//! do to others (mute, remove, lock, end).
//!
//! Rules:
//! - The host is the first member who may host: one who entered with a UserSig (someone the
//!   app's key holder vouched for) or with a host invite. Guests (other invite holders) never
//!   host. When the host leaves, the longest-present member who may host takes over; if there
//!   is none, the room has no host until one enters.
//! - A passcode, the lock and the lobby concern guests only.
//! - Host requests from anyone else fail with `RoleNotAllowed`: the server enforces them.
//! - A removed user is banned for the life of the room (by UserID, which the clients derive
//!   per installation); the room's end ends the ban.
//! - A host mute turns the stream off for everyone at once and the SFU drops what the muted
//!   client still sends; unless locked, the client may turn it on again itself.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use roomcast_proto::{
    ErrorCode, MediaKind, RemoteUser, Role, RoomOptions, RoomView, ServerMessage, Stream, UserId,
};

use super::{Departure, MemberId, Room, RoomError, RoomEvent};

/// How a member proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// A UserSig made with the app's key.
    UserSig,
    /// An invite grant; `host` invites may run the meeting.
    Invite { host: bool },
}

/// Someone asking to enter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entrant {
    pub user: UserId,
    pub name: String,
    pub role: Role,
    pub hidden: bool,
    pub auth: Auth,
    pub passcode: Option<String>,
}

impl Entrant {
    /// A UserSig holder, named by its UserID.
    pub fn trusted(user: UserId, role: Role, hidden: bool) -> Self {
        Self {
            name: user.as_str().to_string(),
            user,
            role,
            hidden,
            auth: Auth::UserSig,
            passcode: None,
        }
    }

    pub(super) fn may_host(&self) -> bool {
        !self.hidden && matches!(self.auth, Auth::UserSig | Auth::Invite { host: true })
    }
}

/// The outcome of entering.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// In the room; these are the visible others.
    Entered(Vec<RemoteUser>),
    /// In the lobby until the host decides.
    Waiting,
}

/// The meeting's state beside the membership.
#[derive(Debug, Default)]
pub(super) struct Meeting {
    pub(super) host: Option<MemberId>,
    pub(super) locked: bool,
    /// Guests wait to be admitted.
    pub(super) lobby_on: bool,
    pub(super) passcode: Option<String>,
    pub(super) banned: BTreeSet<UserId>,
    /// Waiting members, in arrival order (member ids only grow).
    pub(super) lobby: BTreeMap<MemberId, Entrant>,
}

impl Room {
    /// What members see of the room's options.
    pub fn view(&self) -> RoomView {
        RoomView {
            locked: self.meeting.locked,
            lobby: self.meeting.lobby_on,
            passcode: self.meeting.passcode.is_some(),
            host: self
                .meeting
                .host
                .and_then(|h| self.members.get(&h))
                .map(|m| m.user.clone()),
        }
    }

    /// Whether anyone waits in the lobby.
    pub fn has_lobby(&self) -> bool {
        !self.meeting.lobby.is_empty()
    }

    pub fn is_host(&self, member: MemberId) -> bool {
        self.meeting.host == Some(member)
    }

    /// Whether the SFU should forward what `member` sends on this stream.
    pub fn forwards(&self, member: MemberId, kind: MediaKind, stream: Stream) -> bool {
        self.members
            .get(&member)
            .is_some_and(|m| !m.host_muted.contains((kind, stream)))
    }

    /// The checks that come before a guest is let in; `Ok(true)` = to the lobby.
    pub(super) fn admission(&mut self, e: &Entrant) -> Result<bool, RoomError> {
        if self.meeting.banned.contains(&e.user) {
            return Err(RoomError::Refused(
                ErrorCode::UserBanned,
                "the host removed you from this meeting; you cannot enter it again".into(),
            ));
        }
        if e.may_host() {
            let creating = self.members.is_empty() && self.meeting.host.is_none();
            if creating && let Some(p) = e.passcode.clone().filter(|p| !p.is_empty()) {
                self.meeting.passcode = Some(p);
            }
            return Ok(false);
        }
        if matches!(e.auth, Auth::UserSig) {
            return Ok(false);
        }
        if self.meeting.locked {
            return Err(RoomError::Refused(
                ErrorCode::RoomLocked,
                "the host locked this meeting; nobody new can enter".into(),
            ));
        }
        if let Some(want) = &self.meeting.passcode
            && e.passcode.as_deref() != Some(want.as_str())
        {
            let msg = if e.passcode.is_none() {
                "this meeting has a passcode; enter it to join"
            } else {
                "wrong passcode for this meeting"
            };
            return Err(RoomError::Refused(ErrorCode::PasscodeWrong, msg.into()));
        }
        Ok(self.meeting.lobby_on)
    }

    /// Puts `member` in the lobby and tells the host.
    pub(super) fn wait_in_lobby(&mut self, member: MemberId, e: Entrant) {
        if let Some(host) = self.meeting.host {
            self.send(host, lobby_joined(&e));
        }
        self.meeting.lobby.insert(member, e);
    }

    /// After someone entered: the first who may host becomes host and sees the lobby.
    pub(super) fn after_enter(&mut self, member: MemberId) {
        let present = self
            .meeting
            .host
            .is_some_and(|h| self.members.contains_key(&h));
        if present || !self.members.get(&member).is_some_and(|m| m.may_host) {
            return;
        }
        self.meeting.host = Some(member);
        // The newcomer learns it from its `entered`; the others from this.
        let room = self.view();
        self.broadcast(Some(member), ServerMessage::RoomChanged { room });
        let waiting: Vec<ServerMessage> = self.meeting.lobby.values().map(lobby_joined).collect();
        for msg in waiting {
            self.send(member, msg);
        }
    }

    /// After someone left: pass the meeting on.
    pub(super) fn after_departure(&mut self, member: MemberId) {
        if let Some(e) = self.meeting.lobby.remove(&member)
            && let Some(host) = self.meeting.host
        {
            self.send(host, ServerMessage::LobbyLeft { user_id: e.user });
        }
        let present = self
            .meeting
            .host
            .is_some_and(|h| self.members.contains_key(&h));
        if present {
            return;
        }
        self.meeting.host = self
            .members
            .iter()
            .find(|(_, m)| m.may_host)
            .map(|(id, _)| *id);
        if let Some(next) = self.meeting.host {
            let waiting: Vec<ServerMessage> =
                self.meeting.lobby.values().map(lobby_joined).collect();
            for msg in waiting {
                self.send(next, msg);
            }
        }
        if !self.members.is_empty() {
            self.announce_room();
        }
    }

    fn require_host(&self, member: MemberId, what: &str) -> Result<UserId, RoomError> {
        let m = self.members.get(&member).ok_or(RoomError::NotInRoom)?;
        if self.meeting.host != Some(member) {
            return Err(RoomError::RoleNotAllowed(format!(
                "only the meeting's host can {what}"
            )));
        }
        Ok(m.user.clone())
    }

    /// The members a host request names: one user, or everyone but the host.
    fn targets(&self, host: MemberId, user: Option<&UserId>) -> Result<Vec<MemberId>, RoomError> {
        match user {
            Some(u) => {
                let id = self
                    .by_user
                    .get(u)
                    .copied()
                    .filter(|id| self.members.get(id).is_some_and(|m| !m.hidden))
                    .ok_or_else(|| RoomError::UserNotFound(format!("{u} is not in this room")))?;
                Ok(vec![id])
            }
            None => Ok(self
                .members
                .iter()
                .filter(|(id, m)| **id != host && !m.hidden)
                .map(|(id, _)| *id)
                .collect()),
        }
    }

    pub fn handle_mute(
        &mut self,
        member: MemberId,
        user: Option<&UserId>,
        kind: MediaKind,
        lock: bool,
    ) -> Result<(), RoomError> {
        let by = self.require_host(member, "mute others")?;
        for target in self.targets(member, user)? {
            let Some(m) = self.members.get_mut(&target) else {
                continue;
            };
            let key = (kind, Stream::Main);
            m.host_muted.set(key, true);
            if lock {
                m.locked.set(key, true);
            }
            let was_on = m.available.contains(key);
            m.available.set(key, false);
            let user_id = m.user.clone();
            if was_on {
                self.broadcast(
                    Some(target),
                    ServerMessage::StreamAvailable {
                        user_id,
                        kind,
                        stream: Stream::Main,
                        available: false,
                    },
                );
            }
            let locked = self.members[&target].locked.contains(key);
            self.send(
                target,
                ServerMessage::Muted {
                    kind,
                    by: by.clone(),
                    locked,
                },
            );
        }
        Ok(())
    }

    pub fn handle_unlock(
        &mut self,
        member: MemberId,
        user: Option<&UserId>,
        kind: MediaKind,
    ) -> Result<(), RoomError> {
        self.require_host(member, "unlock microphones and cameras")?;
        for target in self.targets(member, user)? {
            if let Some(m) = self.members.get_mut(&target)
                && m.locked.contains((kind, Stream::Main))
            {
                m.locked.set((kind, Stream::Main), false);
                self.send(target, ServerMessage::Unlocked { kind });
            }
        }
        Ok(())
    }

    pub fn handle_remove(
        &mut self,
        now: Instant,
        member: MemberId,
        user: &UserId,
    ) -> Result<(), RoomError> {
        self.require_host(member, "remove people")?;
        let target = self.targets(member, Some(user))?[0];
        if target == member {
            return Err(RoomError::RoleNotAllowed(
                "the host cannot remove themselves; leave or end the meeting".into(),
            ));
        }
        self.meeting.banned.insert(user.clone());
        self.events.push_back(RoomEvent::Remove {
            member: target,
            code: ErrorCode::RemovedByHost,
            message: "the host removed you from the meeting".into(),
        });
        self.depart(now, target, Departure::Removed);
        Ok(())
    }

    pub fn handle_set_options(
        &mut self,
        now: Instant,
        member: MemberId,
        options: RoomOptions,
    ) -> Result<(), RoomError> {
        self.require_host(member, "change the meeting's options")?;
        let lobby_closed = self.meeting.lobby_on && !options.lobby;
        self.meeting.locked = options.locked;
        self.meeting.lobby_on = options.lobby;
        if let Some(passcode) = options.passcode {
            self.meeting.passcode = passcode.filter(|p| !p.is_empty());
        }
        self.announce_room();
        if lobby_closed {
            let waiting: Vec<UserId> = self
                .meeting
                .lobby
                .values()
                .map(|e| e.user.clone())
                .collect();
            for user in waiting {
                self.handle_admit(now, member, &user, true)?;
            }
        }
        Ok(())
    }

    /// Ends the meeting: everyone (the host too, after its reply) is removed and the room is
    /// destroyed.
    pub fn handle_end(&mut self, now: Instant, member: MemberId) -> Result<(), RoomError> {
        let by = self.require_host(member, "end the meeting")?;
        let everyone: Vec<MemberId> = self
            .members
            .keys()
            .chain(self.meeting.lobby.keys())
            .copied()
            .collect();
        for id in everyone {
            self.events.push_back(RoomEvent::Remove {
                member: id,
                code: ErrorCode::MeetingEnded,
                message: format!("{by} ended the meeting for everyone"),
            });
        }
        self.meeting.lobby.clear();
        let ids: Vec<MemberId> = self.members.keys().copied().collect();
        for id in ids {
            if let Some(m) = self.take(now, id) {
                self.events
                    .push_back(RoomEvent::Usage(super::usage(now, &m)));
            }
        }
        self.events.push_back(RoomEvent::Ended);
        self.destroy();
        Ok(())
    }

    pub fn handle_admit(
        &mut self,
        now: Instant,
        member: MemberId,
        user: &UserId,
        accept: bool,
    ) -> Result<(), RoomError> {
        self.require_host(member, "admit people from the lobby")?;
        let waiting = self
            .meeting
            .lobby
            .iter()
            .find(|(_, e)| &e.user == user)
            .map(|(id, _)| *id)
            .ok_or_else(|| {
                RoomError::UserNotFound(format!("{user} is not waiting in the lobby"))
            })?;
        let e = self.meeting.lobby.remove(&waiting).expect("found above");
        self.send(
            member,
            ServerMessage::LobbyLeft {
                user_id: e.user.clone(),
            },
        );
        if !accept {
            self.events.push_back(RoomEvent::Remove {
                member: waiting,
                code: ErrorCode::LobbyDenied,
                message: "the host did not let you in".into(),
            });
            return Ok(());
        }
        let role = e.role;
        let users = self.enter_member(now, waiting, e)?;
        let role = self.role_of(waiting).unwrap_or(role);
        self.events.push_back(RoomEvent::Admitted {
            member: waiting,
            role,
            users,
        });
        Ok(())
    }

    /// A host-muted stream may be turned on again only when it is not locked.
    pub(super) fn check_unmute(
        &mut self,
        member: MemberId,
        kind: MediaKind,
        stream: Stream,
    ) -> Result<(), RoomError> {
        let Some(m) = self.members.get_mut(&member) else {
            return Err(RoomError::NotInRoom);
        };
        if m.locked.contains((kind, stream)) {
            let what = match kind {
                MediaKind::Audio => "microphone",
                MediaKind::Video => "camera",
            };
            return Err(RoomError::Refused(
                ErrorCode::MutedByHost,
                format!("the host turned your {what} off and locked it"),
            ));
        }
        m.host_muted.set((kind, stream), false);
        Ok(())
    }

    pub(super) fn announce_room(&mut self) {
        let room = self.view();
        self.broadcast(None, ServerMessage::RoomChanged { room });
    }
}

fn lobby_joined(e: &Entrant) -> ServerMessage {
    ServerMessage::LobbyJoined {
        user_id: e.user.clone(),
        name: e.name.clone(),
    }
}

#[cfg(test)]
#[path = "meeting_tests.rs"]
mod tests;
