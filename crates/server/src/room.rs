//! One room's membership, roles, stream availability, limits and lifecycle, as a sans-IO
//! state machine.
//!
//! The async shell feeds it inputs (`handle_*`, always with the current [`Instant`]) and
//! drains [`RoomEvent`]s with [`Room::poll_event`]; it calls [`Room::handle_timeout`] at the
//! instant [`Room::poll_timeout`] asks for. Nothing in here touches a socket or a clock, so
//! tests jump 90 seconds or 10 minutes without sleeping.
//!
//! Decisions the rules in MISSION.md leave open, made here:
//! - **Replacement by a new login** of the same UserID: the old member gets
//!   [`RoomEvent::Remove`] with [`ErrorCode::ReplacedByNewLogin`] and its stay ends (one
//!   [`RoomEvent::Usage`]). If the user stays visible, the others see no leave/enter flicker,
//!   only `StreamAvailable { available: false }` for each stream the old connection had on
//!   (the new connection starts with nothing published). If visibility changes, they see the
//!   matching `UserLeave` (reason `BecameAudience`, or `Removed` for a hidden newcomer) or
//!   `UserEnter`.
//! - **Hidden members** ("dumb terminals") are audience in every scene, whatever was asked:
//!   they never publish, cannot switch role, and nobody is told they entered or left.
//! - A member removed because its connection was lost gets [`RoomEvent::Remove`] with
//!   [`ErrorCode::NotInRoom`] (there is no dedicated code: from then on, it is not in the
//!   room and must enter again). If that removal empties the room, every member was lost,
//!   so the room is destroyed at once whatever the last one's role.
//! - Roster events are emitted for lost members too; the shell decides whether to buffer or
//!   drop them while the connection is down.
//! - Entering a destroyed room fails with [`RoomError::Closed`]: the shell should open a
//!   fresh room.
//! - Invitations and requests to speak are social only (see [`speak`]): accepting one does
//!   not change a role; the audience member then switches role itself, as it always may.

mod meeting;
mod messages;
mod speak;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use roomcast_proto::{
    ErrorCode, LeaveReason, MediaKind, RemoteUser, Role, RoomId, SPEAK_TIMEOUT_SECS, Scene,
    SdkAppId, ServerMessage, Stream, UserId,
};

pub use meeting::{Auth, Entrant, Entry};
pub use speak::SpeakAction;

/// The shell's handle on one connection in a room. Never reused within a room, so a
/// replaced or removed member can never be confused with its successor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(pub u64);

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Concurrent members, counting audience, hidden and lost members.
    pub max_users: usize,
    /// Members with at least one stream on at once.
    pub max_publishers: usize,
    /// How long a lost connection may stay lost before its member is removed.
    pub lost_timeout: Duration,
    /// How long an empty room whose last member was audience waits before it is destroyed.
    pub audience_linger: Duration,
    /// How long an invitation or request to speak stays open.
    pub speak_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_users: 300,
            max_publishers: 50,
            lost_timeout: Duration::from_secs(90),
            audience_linger: Duration::from_secs(10 * 60),
            speak_timeout: Duration::from_secs(SPEAK_TIMEOUT_SECS),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoomError {
    #[error("the room already has its maximum of {max} users; try again later or use another room")]
    RoomFull { max: usize },
    #[error(
        "the room already has its maximum of {max} users with camera or mic on; ask someone to turn theirs off, then try again"
    )]
    TooManyPublishers { max: usize },
    #[error("{0}")]
    RoleNotAllowed(String),
    #[error("this connection is not in the room; enter the room first")]
    NotInRoom,
    #[error("this connection is already in the room; exit it before entering again")]
    AlreadyInRoom,
    #[error("the room was just closed; enter again to open a new one")]
    Closed,
    #[error("{0}")]
    UserNotFound(String),
    #[error("{0}")]
    NothingToAnswer(String),
    /// Refusals that carry their own code (meetings, messages).
    #[error("{1}")]
    Refused(ErrorCode, String),
}

impl RoomError {
    pub fn code(&self) -> ErrorCode {
        match self {
            RoomError::RoomFull { .. } => ErrorCode::RoomFull,
            RoomError::TooManyPublishers { .. } => ErrorCode::TooManyPublishers,
            RoomError::RoleNotAllowed(_) => ErrorCode::RoleNotAllowed,
            RoomError::NotInRoom => ErrorCode::NotInRoom,
            RoomError::AlreadyInRoom => ErrorCode::AlreadyInRoom,
            RoomError::Closed => ErrorCode::Internal,
            RoomError::UserNotFound(_) => ErrorCode::UserNotFound,
            RoomError::NothingToAnswer(_) => ErrorCode::NothingToAnswer,
            RoomError::Refused(code, _) => *code,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum RoomEvent {
    /// Deliver a roster event to one member (the IO shell sends it on that member's WebSocket).
    Send { to: MemberId, msg: ServerMessage },
    /// The server takes this member out (replaced by a new login of the same user, or lost
    /// for too long): the shell sends `ServerMessage::Removed { code, message }` and drops
    /// its peer. The room has already forgotten it.
    Remove {
        member: MemberId,
        code: ErrorCode,
        message: String,
    },
    /// A member's stay ended (exit, removal, loss): for the usage ledger.
    Usage(UsageRecord),
    /// The host let this member in from the lobby: tell it (`admitted`), it may now negotiate.
    Admitted {
        member: MemberId,
        role: Role,
        users: Vec<RemoteUser>,
    },
    /// The host ended the meeting (invites issued before now no longer open it). `Destroyed`
    /// follows.
    Ended,
    /// The room is gone; the shell drops it. Emitted exactly once.
    Destroyed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    pub user: UserId,
    /// The role at the end of the stay.
    pub role: Role,
    /// The whole stay, including time spent lost.
    pub connected: Duration,
    /// Time spent disconnected.
    pub lost: Duration,
}

/// Which of a member's published streams are on: a set over the four (kind, stream) pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Streams(u8);

impl Streams {
    const ALL: [(MediaKind, Stream); 4] = [
        (MediaKind::Audio, Stream::Main),
        (MediaKind::Video, Stream::Main),
        (MediaKind::Audio, Stream::Sub),
        (MediaKind::Video, Stream::Sub),
    ];

    fn bit((kind, stream): (MediaKind, Stream)) -> u8 {
        let k = match kind {
            MediaKind::Audio => 0,
            MediaKind::Video => 1,
        };
        let s = match stream {
            Stream::Main => 0,
            Stream::Sub => 2,
        };
        1 << (k + s)
    }

    fn contains(self, key: (MediaKind, Stream)) -> bool {
        self.0 & Self::bit(key) != 0
    }

    fn set(&mut self, key: (MediaKind, Stream), on: bool) {
        if on {
            self.0 |= Self::bit(key);
        } else {
            self.0 &= !Self::bit(key);
        }
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn clear(&mut self) {
        self.0 = 0;
    }

    fn iter(self) -> impl Iterator<Item = (MediaKind, Stream)> {
        Self::ALL.into_iter().filter(move |&key| self.contains(key))
    }
}

#[derive(Debug)]
struct Member {
    user: UserId,
    name: String,
    /// Entered with a UserSig or a host invite (see [`meeting`]).
    may_host: bool,
    /// Raised-hand order, while the hand is up.
    hand: Option<u64>,
    /// Streams the host turned off, whose media the SFU drops until the member turns them on.
    host_muted: Streams,
    /// Streams the host locked off.
    locked: Streams,
    rate: messages::Rate,
    role: Role,
    hidden: bool,
    joined: Instant,
    /// Set while the connection is lost.
    lost_since: Option<Instant>,
    /// Lost time of earlier, restored losses.
    lost_total: Duration,
    available: Streams,
}

impl Member {
    fn is_publisher(&self) -> bool {
        !self.available.is_empty()
    }

    fn to_remote(&self) -> RemoteUser {
        let on = |kind, stream| self.available.contains((kind, stream));
        RemoteUser {
            user_id: self.user.clone(),
            name: self.name.clone(),
            role: self.role,
            audio: on(MediaKind::Audio, Stream::Main),
            video: on(MediaKind::Video, Stream::Main),
            sub_video: on(MediaKind::Video, Stream::Sub),
            hand: self.hand,
        }
    }
}

/// Why a member's stay ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Departure {
    Exited,
    Lost,
    /// The host removed it.
    Removed,
}

#[derive(Debug)]
pub struct Room {
    app: SdkAppId,
    id: RoomId,
    scene: Scene,
    limits: Limits,
    members: BTreeMap<MemberId, Member>,
    by_user: BTreeMap<UserId, MemberId>,
    /// Set while the room is empty after an audience member left last.
    linger_until: Option<Instant>,
    destroyed: bool,
    events: VecDeque<RoomEvent>,
    speak: speak::Pending,
    meeting: meeting::Meeting,
    /// Hands raised so far: orders them.
    hands: u64,
}

impl Room {
    pub fn new(app: SdkAppId, id: RoomId, scene: Scene, limits: Limits, _now: Instant) -> Self {
        Self {
            app,
            id,
            scene,
            limits,
            members: BTreeMap::new(),
            by_user: BTreeMap::new(),
            linger_until: None,
            destroyed: false,
            events: VecDeque::new(),
            speak: speak::Pending::default(),
            meeting: meeting::Meeting::default(),
            hands: 0,
        }
    }

    pub fn app(&self) -> SdkAppId {
        self.app
    }

    pub fn id(&self) -> &RoomId {
        &self.id
    }

    pub fn scene(&self) -> Scene {
        self.scene
    }

    /// Enters `user` as `member` and returns who is visible to it: in live scenes the
    /// visible anchors, in calls every visible member. In call scenes the role is always
    /// anchor whatever was asked; hidden members are always audience. A second login of the
    /// same user replaces the first (see the module docs).
    pub fn handle_enter(
        &mut self,
        now: Instant,
        member: MemberId,
        user: UserId,
        role: Role,
        hidden: bool,
    ) -> Result<Vec<RemoteUser>, RoomError> {
        match self.handle_enter_as(now, member, Entrant::trusted(user, role, hidden))? {
            Entry::Entered(users) => Ok(users),
            Entry::Waiting => unreachable!("UserSig holders never wait in the lobby"),
        }
    }

    /// Enters a member however it authenticated: guests may be refused (ban, lock,
    /// passcode) or sent to the lobby (see [`meeting`]).
    pub fn handle_enter_as(
        &mut self,
        now: Instant,
        member: MemberId,
        entrant: Entrant,
    ) -> Result<Entry, RoomError> {
        if self.destroyed {
            return Err(RoomError::Closed);
        }
        if self.members.contains_key(&member) || self.meeting.lobby.contains_key(&member) {
            return Err(RoomError::AlreadyInRoom);
        }
        if self.admission(&entrant)? {
            if self.meeting.lobby.len() >= self.limits.max_users {
                return Err(RoomError::RoomFull {
                    max: self.limits.max_users,
                });
            }
            self.linger_until = None;
            self.wait_in_lobby(member, entrant);
            return Ok(Entry::Waiting);
        }
        let users = self.enter_member(now, member, entrant)?;
        Ok(Entry::Entered(users))
    }

    /// Makes `entrant` a member (past every admission check).
    fn enter_member(
        &mut self,
        now: Instant,
        member: MemberId,
        entrant: Entrant,
    ) -> Result<Vec<RemoteUser>, RoomError> {
        let may_host = entrant.may_host();
        let Entrant {
            user,
            name,
            role,
            hidden,
            ..
        } = entrant;
        let role = if hidden {
            Role::Audience
        } else if self.scene.is_live() {
            role
        } else {
            Role::Anchor
        };
        let replaced = self.by_user.get(&user).copied();
        if replaced.is_none() && self.members.len() >= self.limits.max_users {
            return Err(RoomError::RoomFull {
                max: self.limits.max_users,
            });
        }
        self.linger_until = None;

        let new = Member {
            user: user.clone(),
            name: name.clone(),
            may_host,
            hand: None,
            host_muted: Streams::default(),
            locked: Streams::default(),
            rate: messages::Rate::default(),
            role,
            hidden,
            joined: now,
            lost_since: None,
            lost_total: Duration::ZERO,
            available: Streams::default(),
        };
        let now_visible = self.visible(&new);
        let was_visible = match replaced.and_then(|id| Some((id, self.take(now, id)?))) {
            Some((old_id, old)) => {
                let was_visible = self.visible(&old);
                self.events.push_back(RoomEvent::Remove {
                    member: old_id,
                    code: ErrorCode::ReplacedByNewLogin,
                    message: format!(
                        "user {user} entered this room from another connection; this one was closed"
                    ),
                });
                self.events.push_back(RoomEvent::Usage(usage(now, &old)));
                if was_visible && now_visible {
                    for (kind, stream) in old.available.iter() {
                        self.broadcast(
                            None,
                            ServerMessage::StreamAvailable {
                                user_id: user.clone(),
                                kind,
                                stream,
                                available: false,
                            },
                        );
                    }
                }
                was_visible
            }
            None => false,
        };

        match (was_visible, now_visible) {
            (false, true) => self.broadcast(
                None,
                ServerMessage::UserEnter {
                    user_id: user.clone(),
                    role,
                    name,
                },
            ),
            (true, false) => {
                let reason = if hidden {
                    LeaveReason::Removed
                } else {
                    LeaveReason::BecameAudience
                };
                self.broadcast(
                    None,
                    ServerMessage::UserLeave {
                        user_id: user.clone(),
                        reason,
                    },
                )
            }
            _ => {}
        }

        let users = self
            .members
            .values()
            .filter(|m| self.visible(m))
            .map(Member::to_remote)
            .collect();
        self.members.insert(member, new);
        self.by_user.insert(user, member);
        self.after_enter(member);
        Ok(users)
    }

    pub fn handle_exit(&mut self, now: Instant, member: MemberId) {
        if self.destroyed {
            return;
        }
        if self.meeting.lobby.contains_key(&member) {
            self.after_departure(member);
            return;
        }
        if !self.members.contains_key(&member) {
            return;
        }
        self.depart(now, member, Departure::Exited);
    }

    /// Live scenes only. Anchor → audience: its streams become unavailable and the others
    /// get `UserLeave { reason: BecameAudience }`. Audience → anchor: they get `UserEnter`.
    pub fn handle_switch_role(
        &mut self,
        _now: Instant,
        member: MemberId,
        role: Role,
    ) -> Result<(), RoomError> {
        if self.destroyed {
            return Err(RoomError::Closed);
        }
        let scene = self.scene;
        let m = self.members.get_mut(&member).ok_or(RoomError::NotInRoom)?;
        if !scene.is_live() {
            return Err(RoomError::RoleNotAllowed(
                "roles cannot be switched in a call: everyone is an anchor; use a live scene for anchors and audience"
                    .into(),
            ));
        }
        if m.hidden {
            return Err(RoomError::RoleNotAllowed(
                "a hidden member stays audience; enter without hidden to become an anchor".into(),
            ));
        }
        if m.role == role {
            return Ok(());
        }
        m.role = role;
        self.speak.forget_role(member, role);
        let user_id = m.user.clone();
        let msg = match role {
            Role::Audience => {
                m.available.clear();
                ServerMessage::UserLeave {
                    user_id,
                    reason: LeaveReason::BecameAudience,
                }
            }
            Role::Anchor => ServerMessage::UserEnter {
                user_id,
                role,
                name: m.name.clone(),
            },
        };
        self.broadcast(Some(member), msg);
        Ok(())
    }

    /// Whether `member` may publish; checked before accepting a send m-line.
    pub fn check_publish(&self, member: MemberId) -> Result<(), RoomError> {
        let m = self.members.get(&member).ok_or(RoomError::NotInRoom)?;
        if m.hidden {
            return Err(RoomError::RoleNotAllowed(
                "a hidden member cannot publish; enter without hidden to publish".into(),
            ));
        }
        if m.role == Role::Audience {
            return Err(RoomError::RoleNotAllowed(
                "audience cannot publish; switch role to anchor first".into(),
            ));
        }
        Ok(())
    }

    /// A published stream turned on or off. Turning the first stream of a member on makes
    /// it a publisher, which fails beyond `max_publishers`. Others hear of changes only.
    pub fn handle_set_available(
        &mut self,
        _now: Instant,
        member: MemberId,
        kind: MediaKind,
        stream: Stream,
        available: bool,
    ) -> Result<(), RoomError> {
        if self.destroyed {
            return Err(RoomError::Closed);
        }
        let m = self.members.get(&member).ok_or(RoomError::NotInRoom)?;
        let key = (kind, stream);
        if m.available.contains(key) == available {
            return Ok(());
        }
        if available {
            self.check_publish(member)?;
            let was_publisher = m.is_publisher();
            self.check_unmute(member, kind, stream)?;
            if !was_publisher {
                let publishers = self.members.values().filter(|m| m.is_publisher()).count();
                if publishers >= self.limits.max_publishers {
                    return Err(RoomError::TooManyPublishers {
                        max: self.limits.max_publishers,
                    });
                }
            }
        }
        let Some(m) = self.members.get_mut(&member) else {
            return Err(RoomError::NotInRoom);
        };
        m.available.set(key, available);
        let user_id = m.user.clone();
        self.broadcast(
            Some(member),
            ServerMessage::StreamAvailable {
                user_id,
                kind,
                stream,
                available,
            },
        );
        Ok(())
    }

    pub fn handle_connection_lost(&mut self, now: Instant, member: MemberId) {
        if self.destroyed {
            return;
        }
        // Someone waiting in the lobby has nothing to come back to: they leave it now.
        if self.meeting.lobby.contains_key(&member) {
            self.after_departure(member);
            self.events.push_back(RoomEvent::Remove {
                member,
                code: ErrorCode::NotInRoom,
                message: "the connection closed while waiting in the lobby".into(),
            });
            return;
        }
        if let Some(m) = self.members.get_mut(&member) {
            m.lost_since.get_or_insert(now);
        }
    }

    pub fn handle_connection_restored(&mut self, now: Instant, member: MemberId) {
        if self.destroyed {
            return;
        }
        if let Some(m) = self.members.get_mut(&member)
            && let Some(since) = m.lost_since.take()
        {
            m.lost_total += now.saturating_duration_since(since);
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.destroyed {
            return;
        }
        let mut due: Vec<(Instant, MemberId)> = self
            .members
            .iter()
            .filter_map(|(&id, m)| m.lost_since.map(|s| (s + self.limits.lost_timeout, id)))
            .filter(|&(deadline, _)| deadline <= now)
            .collect();
        due.sort();
        for (_, id) in due {
            if self.destroyed {
                return;
            }
            self.depart(now, id, Departure::Lost);
        }
        self.speak.expire(now);
        if self.linger_until.is_some_and(|t| t <= now) && self.members.is_empty() {
            self.destroy();
        }
    }

    /// The earliest instant at which [`Room::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.destroyed {
            return None;
        }
        let lost = self
            .members
            .values()
            .filter_map(|m| m.lost_since.map(|s| s + self.limits.lost_timeout))
            .min();
        [lost, self.linger_until, self.speak.next_expiry()]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn poll_event(&mut self) -> Option<RoomEvent> {
        self.events.pop_front()
    }

    pub fn user_of(&self, member: MemberId) -> Option<&UserId> {
        self.members.get(&member).map(|m| &m.user)
    }

    pub fn role_of(&self, member: MemberId) -> Option<Role> {
        self.members.get(&member).map(|m| m.role)
    }

    pub fn member_of(&self, user: &UserId) -> Option<MemberId> {
        self.by_user.get(user).copied()
    }

    pub fn members(&self) -> impl Iterator<Item = MemberId> + '_ {
        self.members.keys().copied()
    }

    /// Whether `member`'s connection is currently lost.
    pub fn is_lost(&self, member: MemberId) -> bool {
        self.members
            .get(&member)
            .is_some_and(|m| m.lost_since.is_some())
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn is_destroyed(&self) -> bool {
        self.destroyed
    }

    /// Whether the others are told about this member: never if hidden, and in live scenes
    /// only while it is an anchor.
    fn visible(&self, m: &Member) -> bool {
        !m.hidden && (!self.scene.is_live() || m.role == Role::Anchor)
    }

    /// Removes a member from the maps, without any event.
    fn take(&mut self, now: Instant, id: MemberId) -> Option<Member> {
        let mut m = self.members.remove(&id)?;
        self.speak.forget(id);
        if self.by_user.get(&m.user) == Some(&id) {
            self.by_user.remove(&m.user);
        }
        if let Some(since) = m.lost_since.take() {
            m.lost_total += now.saturating_duration_since(since);
        }
        Some(m)
    }

    fn depart(&mut self, now: Instant, id: MemberId, why: Departure) {
        let Some(m) = self.take(now, id) else {
            return;
        };
        if why == Departure::Lost {
            self.events.push_back(RoomEvent::Remove {
                member: id,
                code: ErrorCode::NotInRoom,
                message: format!(
                    "the connection was lost for more than {} s; enter the room again",
                    self.limits.lost_timeout.as_secs()
                ),
            });
        }
        if self.visible(&m) {
            let reason = match why {
                Departure::Exited => LeaveReason::Exited,
                Departure::Lost => LeaveReason::ConnectionLost,
                Departure::Removed => LeaveReason::Removed,
            };
            self.broadcast(
                None,
                ServerMessage::UserLeave {
                    user_id: m.user.clone(),
                    reason,
                },
            );
        }
        self.events.push_back(RoomEvent::Usage(usage(now, &m)));
        self.after_departure(id);

        if self.members.is_empty() {
            let at_once =
                self.scene == Scene::AudioCall || m.role == Role::Anchor || why == Departure::Lost;
            if at_once {
                self.destroy();
            } else {
                self.linger_until = Some(now + self.limits.audience_linger);
            }
        }
    }

    fn destroy(&mut self) {
        if !self.destroyed {
            self.destroyed = true;
            self.linger_until = None;
            self.events.push_back(RoomEvent::Destroyed);
        }
    }

    /// Sends `msg` to every member except `except`.
    fn broadcast(&mut self, except: Option<MemberId>, msg: ServerMessage) {
        for &to in self.members.keys() {
            if Some(to) != except {
                self.events.push_back(RoomEvent::Send {
                    to,
                    msg: msg.clone(),
                });
            }
        }
    }
}

fn usage(now: Instant, m: &Member) -> UsageRecord {
    UsageRecord {
        user: m.user.clone(),
        role: m.role,
        connected: now.saturating_duration_since(m.joined),
        lost: m.lost_total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const A: MemberId = MemberId(1);
    pub(super) const B: MemberId = MemberId(2);
    pub(super) const C: MemberId = MemberId(3);
    pub(super) const D: MemberId = MemberId(4);

    pub(super) fn uid(s: &str) -> UserId {
        UserId::new(s).expect("test user ids are valid")
    }

    pub(super) fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    pub(super) fn room(scene: Scene, limits: Limits) -> (Room, Instant) {
        let t0 = Instant::now();
        let app = SdkAppId::new(1_400_000_001).expect("valid app id");
        (Room::new(app, RoomId::Number(7), scene, limits, t0), t0)
    }

    pub(super) fn drain(r: &mut Room) -> Vec<RoomEvent> {
        std::iter::from_fn(|| r.poll_event()).collect()
    }

    /// What `to` was sent, leaving out host changes (`room_changed`), which the roster tests
    /// here do not concern; `meeting_tests` checks those with [`all_sent_to`].
    pub(super) fn sent_to(events: &[RoomEvent], to: MemberId) -> Vec<ServerMessage> {
        all_sent_to(events, to)
            .into_iter()
            .filter(|m| !matches!(m, ServerMessage::RoomChanged { .. }))
            .collect()
    }

    pub(super) fn all_sent_to(events: &[RoomEvent], to: MemberId) -> Vec<ServerMessage> {
        events
            .iter()
            .filter_map(|e| match e {
                RoomEvent::Send { to: t, msg } if *t == to => Some(msg.clone()),
                _ => None,
            })
            .collect()
    }

    fn usages(events: &[RoomEvent]) -> Vec<UsageRecord> {
        events
            .iter()
            .filter_map(|e| match e {
                RoomEvent::Usage(u) => Some(u.clone()),
                _ => None,
            })
            .collect()
    }

    fn destroyed_count(events: &[RoomEvent]) -> usize {
        events
            .iter()
            .filter(|e| matches!(e, RoomEvent::Destroyed))
            .count()
    }

    pub(super) fn enter(
        r: &mut Room,
        now: Instant,
        m: MemberId,
        user: &str,
        role: Role,
    ) -> Vec<RemoteUser> {
        r.handle_enter(now, m, uid(user), role, false)
            .expect("enter succeeds")
    }

    pub(super) fn names(users: &[RemoteUser]) -> Vec<&str> {
        users.iter().map(|u| u.user_id.as_str()).collect()
    }

    #[test]
    fn audio_call_destroyed_as_soon_as_everyone_left() {
        let (mut r, t0) = room(Scene::AudioCall, Limits::default());
        enter(&mut r, t0, A, "a", Role::Anchor);
        enter(&mut r, t0, B, "b", Role::Anchor);
        r.handle_exit(t0 + secs(5), A);
        let ev = drain(&mut r);
        assert_eq!(destroyed_count(&ev), 0);
        assert_eq!(
            sent_to(&ev, B),
            vec![ServerMessage::UserLeave {
                user_id: uid("a"),
                reason: LeaveReason::Exited
            }]
        );
        r.handle_exit(t0 + secs(9), B);
        let ev = drain(&mut r);
        assert_eq!(ev.last(), Some(&RoomEvent::Destroyed));
        assert_eq!(destroyed_count(&ev), 1);
        assert!(r.is_destroyed());
        assert_eq!(r.poll_timeout(), None);

        // After destruction everything is a no-op.
        assert_eq!(
            r.handle_enter(t0 + secs(10), C, uid("c"), Role::Anchor, false),
            Err(RoomError::Closed)
        );
        r.handle_exit(t0 + secs(10), B);
        r.handle_timeout(t0 + secs(10_000));
        assert!(drain(&mut r).is_empty());
    }

    #[test]
    fn video_call_last_anchor_destroys_at_once() {
        let (mut r, t0) = room(Scene::VideoCall, Limits::default());
        enter(&mut r, t0, A, "a", Role::Audience);
        assert_eq!(
            r.role_of(A),
            Some(Role::Anchor),
            "everyone is an anchor in calls"
        );
        r.handle_exit(t0 + secs(1), A);
        assert_eq!(destroyed_count(&drain(&mut r)), 1);
    }

    #[test]
    fn live_room_lingers_ten_minutes_after_last_audience_left() {
        let (mut r, t0) = room(Scene::Live, Limits::default());
        enter(&mut r, t0, A, "a", Role::Anchor);
        enter(&mut r, t0, B, "b", Role::Audience);
        r.handle_exit(t0 + secs(10), A);
        r.handle_exit(t0 + secs(20), B);
        assert_eq!(destroyed_count(&drain(&mut r)), 0);
        assert!(r.is_empty() && !r.is_destroyed());
        let deadline = t0 + secs(20 + 600);
        assert_eq!(r.poll_timeout(), Some(deadline));
        r.handle_timeout(deadline - Duration::from_millis(1));
        assert!(drain(&mut r).is_empty());
        r.handle_timeout(deadline);
        assert_eq!(drain(&mut r), vec![RoomEvent::Destroyed]);
        r.handle_timeout(deadline + secs(1));
        assert!(drain(&mut r).is_empty(), "Destroyed is emitted once");
    }

    #[test]
    fn live_room_last_anchor_destroys_at_once_and_voice_chat_lingers_too() {
        let (mut r, t0) = room(Scene::VoiceChatRoom, Limits::default());
        enter(&mut r, t0, A, "a", Role::Audience);
        enter(&mut r, t0, B, "b", Role::Anchor);
        r.handle_exit(t0, A);
        r.handle_exit(t0, B);
        assert_eq!(destroyed_count(&drain(&mut r)), 1);

        let (mut r, t0) = room(Scene::VoiceChatRoom, Limits::default());
        enter(&mut r, t0, A, "a", Role::Audience);
        r.handle_exit(t0, A);
        assert_eq!(destroyed_count(&drain(&mut r)), 0);
        assert_eq!(r.poll_timeout(), Some(t0 + secs(600)));
    }

    #[test]
    fn entering_during_linger_cancels_destruction() {
        let (mut r, t0) = room(Scene::VideoCall, Limits::default());
        r.handle_enter(t0, A, uid("rec"), Role::Audience, true)
            .expect("enter");
        r.handle_exit(t0 + secs(1), A);
        assert_eq!(
            r.poll_timeout(),
            Some(t0 + secs(601)),
            "a hidden member is audience"
        );
        enter(&mut r, t0 + secs(300), B, "b", Role::Anchor);
        assert_eq!(r.poll_timeout(), None);
        r.handle_timeout(t0 + secs(601));
        assert_eq!(destroyed_count(&drain(&mut r)), 0);
        assert!(!r.is_destroyed());
    }

    #[test]
    fn lost_member_removed_after_90_s_with_exact_usage() {
        let (mut r, t0) = room(Scene::VideoCall, Limits::default());
        enter(&mut r, t0, A, "a", Role::Anchor);
        enter(&mut r, t0, B, "b", Role::Anchor);
        r.handle_set_available(t0, B, MediaKind::Video, Stream::Main, true)
            .expect("publish");
        drain(&mut r);
        r.handle_connection_lost(t0 + secs(10), B);
        r.handle_connection_lost(t0 + secs(20), B); // repeated loss keeps the first instant
        assert!(r.is_lost(B));
        assert_eq!(r.poll_timeout(), Some(t0 + secs(100)));
        r.handle_timeout(t0 + secs(99));
        assert!(drain(&mut r).is_empty());
        r.handle_timeout(t0 + secs(100));
        let ev = drain(&mut r);
        assert!(matches!(
            ev[0],
            RoomEvent::Remove {
                member: B,
                code: ErrorCode::NotInRoom,
                ..
            }
        ));
        assert_eq!(
            sent_to(&ev, A),
            vec![ServerMessage::UserLeave {
                user_id: uid("b"),
                reason: LeaveReason::ConnectionLost
            }],
            "the leave implies the stream is gone; no separate StreamAvailable"
        );
        assert_eq!(
            usages(&ev),
            vec![UsageRecord {
                user: uid("b"),
                role: Role::Anchor,
                connected: secs(100),
                lost: secs(90)
            }]
        );
        assert_eq!(destroyed_count(&ev), 0);
        assert_eq!(r.member_of(&uid("b")), None);
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn restored_before_90_s_keeps_member_and_counts_lost_time() {
        let (mut r, t0) = room(Scene::VideoCall, Limits::default());
        enter(&mut r, t0, A, "a", Role::Anchor);
        enter(&mut r, t0, B, "b", Role::Anchor);
        drain(&mut r);
        r.handle_connection_lost(t0 + secs(10), A);
        r.handle_connection_restored(t0 + secs(99), A);
        assert_eq!(r.poll_timeout(), None);
        r.handle_timeout(t0 + secs(500));
        assert!(drain(&mut r).is_empty());
        r.handle_connection_lost(t0 + secs(600), A);
        r.handle_timeout(t0 + secs(679));
        r.handle_exit(t0 + secs(680), A);
        let ev = drain(&mut r);
        assert_eq!(
            usages(&ev),
            vec![UsageRecord {
                user: uid("a"),
                role: Role::Anchor,
                connected: secs(680),
                lost: secs(89 + 80)
            }]
        );
        assert_eq!(r.poll_timeout(), None, "an exited member has no timer");
    }

    #[test]
    fn room_destroyed_90_s_after_everyone_was_lost() {
        let (mut r, t0) = room(Scene::Live, Limits::default());
        enter(&mut r, t0, A, "a", Role::Anchor);
        enter(&mut r, t0, B, "b", Role::Audience);
        r.handle_connection_lost(t0 + secs(5), A);
        r.handle_connection_lost(t0 + secs(20), B);
        r.handle_timeout(t0 + secs(95));
        let ev = drain(&mut r);
        assert_eq!(usages(&ev).len(), 1);
        assert_eq!(destroyed_count(&ev), 0);
        assert_eq!(r.poll_timeout(), Some(t0 + secs(110)));
        r.handle_timeout(t0 + secs(110));
        let ev = drain(&mut r);
        assert_eq!(usages(&ev).len(), 1);
        assert_eq!(
            ev.last(),
            Some(&RoomEvent::Destroyed),
            "no audience linger when all were lost"
        );

        // Both lost past their deadline, handled in one call: one Destroyed, two usages.
        let (mut r, t0) = room(Scene::VideoCall, Limits::default());
        enter(&mut r, t0, A, "a", Role::Anchor);
        enter(&mut r, t0, B, "b", Role::Anchor);
        r.handle_connection_lost(t0, A);
        r.handle_connection_lost(t0 + secs(1), B);
        r.handle_timeout(t0 + secs(1000));
        let ev = drain(&mut r);
        assert_eq!(usages(&ev).len(), 2);
        assert_eq!(destroyed_count(&ev), 1);
    }

    #[test]
    fn room_full_at_301st_user() {
        let (mut r, t0) = room(Scene::VideoCall, Limits::default());
        for i in 0..300 {
            r.handle_enter(
                t0,
                MemberId(i),
                uid(&format!("u{i}")),
                Role::Anchor,
                i % 7 == 0,
            )
            .expect("room has space");
        }
        let err = r
            .handle_enter(t0, MemberId(300), uid("late"), Role::Anchor, false)
            .unwrap_err();
        assert_eq!(err, RoomError::RoomFull { max: 300 });
        assert_eq!(err.code(), ErrorCode::RoomFull);
        // A new login of someone inside replaces them and needs no extra seat.
        assert!(
            r.handle_enter(t0, MemberId(301), uid("u5"), Role::Anchor, false)
                .is_ok()
        );
        assert_eq!(r.len(), 300);
    }

    #[test]
    fn small_limits_count_audience_and_hidden() {
        let limits = Limits {
            max_users: 2,
            max_publishers: 1,
            ..Limits::default()
        };
        let (mut r, t0) = room(Scene::Live, limits);
        enter(&mut r, t0, A, "a", Role::Audience);
        r.handle_enter(t0, B, uid("rec"), Role::Audience, true)
            .expect("enter");
        let err = r
            .handle_enter(t0, C, uid("c"), Role::Anchor, false)
            .unwrap_err();
        assert_eq!(err, RoomError::RoomFull { max: 2 });
        r.handle_exit(t0, A);
        enter(&mut r, t0, C, "c", Role::Anchor);
    }

    #[test]
    fn publishers_limited_to_50() {
        let (mut r, t0) = room(Scene::VideoCall, Limits::default());
        for i in 0..51 {
            enter(&mut r, t0, MemberId(i), &format!("u{i}"), Role::Anchor);
        }
        for i in 0..50 {
            r.handle_set_available(t0, MemberId(i), MediaKind::Audio, Stream::Main, true)
                .expect("under the limit");
        }
        // An existing publisher may turn more streams on.
        r.handle_set_available(t0, MemberId(0), MediaKind::Video, Stream::Main, true)
            .expect("same publisher");
        let err = r
            .handle_set_available(t0, MemberId(50), MediaKind::Audio, Stream::Main, true)
            .unwrap_err();
        assert_eq!(err, RoomError::TooManyPublishers { max: 50 });
        assert_eq!(err.code(), ErrorCode::TooManyPublishers);
        // Once one publisher stops entirely, there is room again.
        r.handle_set_available(t0, MemberId(1), MediaKind::Audio, Stream::Main, false)
            .expect("off");
        r.handle_set_available(t0, MemberId(50), MediaKind::Audio, Stream::Main, true)
            .expect("freed");
    }

    #[test]
    fn stream_available_sent_only_on_change_and_listed_for_newcomers() {
        let (mut r, t0) = room(Scene::VideoCall, Limits::default());
        enter(&mut r, t0, A, "a", Role::Anchor);
        enter(&mut r, t0, B, "b", Role::Anchor);
        drain(&mut r);
        r.handle_set_available(t0, A, MediaKind::Video, Stream::Sub, true)
            .expect("on");
        r.handle_set_available(t0, A, MediaKind::Video, Stream::Sub, true)
            .expect("again");
        r.handle_set_available(t0, A, MediaKind::Audio, Stream::Main, false)
            .expect("already off");
        let ev = drain(&mut r);
        assert_eq!(
            ev,
            vec![RoomEvent::Send {
                to: B,
                msg: ServerMessage::StreamAvailable {
                    user_id: uid("a"),
                    kind: MediaKind::Video,
                    stream: Stream::Sub,
                    available: true
                }
            }]
        );
        let users = enter(&mut r, t0, C, "c", Role::Anchor);
        let a = users
            .iter()
            .find(|u| u.user_id == uid("a"))
            .expect("a is listed");
        assert!(a.sub_video && !a.video && !a.audio);
        assert_eq!(
            r.handle_set_available(t0, D, MediaKind::Audio, Stream::Main, true),
            Err(RoomError::NotInRoom)
        );
    }

    #[test]
    fn live_scene_announces_only_anchors() {
        let (mut r, t0) = room(Scene::Live, Limits::default());
        assert!(enter(&mut r, t0, A, "a", Role::Anchor).is_empty());
        let users = enter(&mut r, t0, B, "b", Role::Audience);
        assert_eq!(names(&users), ["a"]);
        assert!(
            drain(&mut r).is_empty(),
            "audience entering is not announced"
        );
        let users = enter(&mut r, t0, C, "c", Role::Audience);
        assert_eq!(names(&users), ["a"], "audience is not listed");
        let users = enter(&mut r, t0, D, "d", Role::Anchor);
        assert_eq!(names(&users), ["a"]);
        let ev = drain(&mut r);
        for m in [A, B, C] {
            assert_eq!(
                sent_to(&ev, m),
                vec![ServerMessage::UserEnter {
                    user_id: uid("d"),
                    role: Role::Anchor,
                    name: "d".into(),
                }]
            );
        }
        assert!(
            sent_to(&ev, D).is_empty(),
            "the subject is not told about itself"
        );
        r.handle_exit(t0, B);
        assert!(
            sent_to(&drain(&mut r), A).is_empty(),
            "audience leaving is not announced"
        );
    }

    #[test]
    fn calls_list_everyone_as_anchor() {
        let (mut r, t0) = room(Scene::AudioCall, Limits::default());
        enter(&mut r, t0, A, "a", Role::Audience);
        let users = enter(&mut r, t0, B, "b", Role::Audience);
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].role, Role::Anchor);
        assert_eq!(
            sent_to(&drain(&mut r), A),
            vec![ServerMessage::UserEnter {
                user_id: uid("b"),
                role: Role::Anchor,
                name: "b".into(),
            }]
        );
        assert!(r.check_publish(B).is_ok());
    }

    #[test]
    fn audience_cannot_publish() {
        let (mut r, t0) = room(Scene::Live, Limits::default());
        enter(&mut r, t0, A, "a", Role::Audience);
        let err = r.check_publish(A).unwrap_err();
        assert_eq!(err.code(), ErrorCode::RoleNotAllowed);
        assert!(err.to_string().contains("switch role to anchor"));
        let err = r
            .handle_set_available(t0, A, MediaKind::Audio, Stream::Main, true)
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::RoleNotAllowed);
        assert_eq!(r.check_publish(B), Err(RoomError::NotInRoom));
        assert_eq!(RoomError::NotInRoom.code(), ErrorCode::NotInRoom);
    }

    #[test]
    fn switch_role_both_ways() {
        let (mut r, t0) = room(Scene::Live, Limits::default());
        enter(&mut r, t0, A, "a", Role::Anchor);
        enter(&mut r, t0, B, "b", Role::Audience);
        enter(&mut r, t0, C, "c", Role::Audience);
        drain(&mut r);

        r.handle_switch_role(t0, B, Role::Anchor)
            .expect("audience to anchor");
        let ev = drain(&mut r);
        let enter_b = ServerMessage::UserEnter {
            user_id: uid("b"),
            role: Role::Anchor,
            name: "b".into(),
        };
        assert_eq!(sent_to(&ev, A), vec![enter_b.clone()]);
        assert_eq!(sent_to(&ev, C), vec![enter_b]);
        assert!(sent_to(&ev, B).is_empty());
        assert_eq!(r.role_of(B), Some(Role::Anchor));
        r.handle_set_available(t0, B, MediaKind::Audio, Stream::Main, true)
            .expect("anchor publishes");
        r.handle_switch_role(t0, B, Role::Anchor)
            .expect("same role is a no-op");
        drain(&mut r);

        r.handle_switch_role(t0, B, Role::Audience)
            .expect("anchor to audience");
        let ev = drain(&mut r);
        assert_eq!(
            sent_to(&ev, A),
            vec![ServerMessage::UserLeave {
                user_id: uid("b"),
                reason: LeaveReason::BecameAudience
            }]
        );
        assert!(r.check_publish(B).is_err());
        // Its stream went away with the role: a newcomer sees nothing of it and B is no
        // longer a publisher.
        let users = enter(&mut r, t0, D, "d", Role::Audience);
        assert_eq!(names(&users), ["a"]);

        let (mut call, t0) = room(Scene::VideoCall, Limits::default());
        enter(&mut call, t0, A, "a", Role::Anchor);
        let err = call.handle_switch_role(t0, A, Role::Audience).unwrap_err();
        assert_eq!(err.code(), ErrorCode::RoleNotAllowed);
        assert_eq!(
            r.handle_switch_role(t0, MemberId(99), Role::Anchor),
            Err(RoomError::NotInRoom)
        );
    }

    #[test]
    fn switching_to_audience_frees_a_publisher_seat() {
        let limits = Limits {
            max_publishers: 1,
            ..Limits::default()
        };
        let (mut r, t0) = room(Scene::Live, limits);
        enter(&mut r, t0, A, "a", Role::Anchor);
        enter(&mut r, t0, B, "b", Role::Anchor);
        r.handle_set_available(t0, A, MediaKind::Video, Stream::Main, true)
            .expect("first");
        assert!(
            r.handle_set_available(t0, B, MediaKind::Video, Stream::Main, true)
                .is_err()
        );
        r.handle_switch_role(t0, A, Role::Audience).expect("switch");
        r.handle_set_available(t0, B, MediaKind::Video, Stream::Main, true)
            .expect("seat freed");
    }

    #[test]
    fn new_login_replaces_old_without_flicker() {
        let limits = Limits {
            max_users: 2,
            ..Limits::default()
        };
        let (mut r, t0) = room(Scene::VideoCall, limits);
        enter(&mut r, t0, A, "a", Role::Anchor);
        enter(&mut r, t0, B, "b", Role::Anchor);
        r.handle_set_available(t0, A, MediaKind::Audio, Stream::Main, true)
            .expect("on");
        drain(&mut r);

        let users = enter(&mut r, t0 + secs(30), C, "a", Role::Anchor);
        assert_eq!(names(&users), ["b"], "the replaced member is not listed");
        let ev = drain(&mut r);
        assert!(matches!(
            ev[0],
            RoomEvent::Remove {
                member: A,
                code: ErrorCode::ReplacedByNewLogin,
                ..
            }
        ));
        assert_eq!(
            usages(&ev),
            vec![UsageRecord {
                user: uid("a"),
                role: Role::Anchor,
                connected: secs(30),
                lost: Duration::ZERO
            }]
        );
        assert_eq!(
            sent_to(&ev, B),
            vec![ServerMessage::StreamAvailable {
                user_id: uid("a"),
                kind: MediaKind::Audio,
                stream: Stream::Main,
                available: false
            }]
        );
        assert!(sent_to(&ev, A).is_empty() && sent_to(&ev, C).is_empty());
        assert_eq!(r.member_of(&uid("a")), Some(C));
        assert_eq!(r.user_of(A), None);
        assert_eq!(r.members().collect::<Vec<_>>(), [B, C]);
        assert_eq!(destroyed_count(&ev), 0);
        // The old member's id is dead.
        r.handle_exit(t0, A);
        assert!(drain(&mut r).is_empty());
    }

    #[test]
    fn replacement_that_changes_visibility_is_announced() {
        let (mut r, t0) = room(Scene::Live, Limits::default());
        enter(&mut r, t0, A, "a", Role::Anchor);
        enter(&mut r, t0, B, "b", Role::Audience);
        drain(&mut r);
        enter(&mut r, t0, C, "a", Role::Audience);
        assert_eq!(
            sent_to(&drain(&mut r), B),
            vec![ServerMessage::UserLeave {
                user_id: uid("a"),
                reason: LeaveReason::BecameAudience
            }]
        );
        enter(&mut r, t0, D, "a", Role::Anchor);
        assert_eq!(
            sent_to(&drain(&mut r), B),
            vec![ServerMessage::UserEnter {
                user_id: uid("a"),
                role: Role::Anchor,
                name: "a".into(),
            }]
        );
    }

    #[test]
    fn hidden_member_is_invisible_and_cannot_publish() {
        let (mut r, t0) = room(Scene::VideoCall, Limits::default());
        enter(&mut r, t0, A, "a", Role::Anchor);
        drain(&mut r);
        let users = r
            .handle_enter(t0, B, uid("recorder"), Role::Anchor, true)
            .expect("enter");
        assert_eq!(
            names(&users),
            ["a"],
            "a hidden member still sees the others"
        );
        assert_eq!(r.role_of(B), Some(Role::Audience));
        assert!(
            drain(&mut r).is_empty(),
            "nobody is told a hidden member entered"
        );
        assert_eq!(
            r.check_publish(B).map_err(|e| e.code()),
            Err(ErrorCode::RoleNotAllowed)
        );
        let users = enter(&mut r, t0, C, "c", Role::Anchor);
        assert_eq!(names(&users), ["a"], "hidden members are never listed");
        let ev = drain(&mut r);
        assert_eq!(
            sent_to(&ev, B),
            vec![ServerMessage::UserEnter {
                user_id: uid("c"),
                role: Role::Anchor,
                name: "c".into(),
            }],
            "a hidden member receives roster events"
        );
        r.handle_exit(t0 + secs(3), B);
        let ev = drain(&mut r);
        assert_eq!(ev.len(), 1, "only the usage record: {ev:?}");
        assert_eq!(usages(&ev)[0].role, Role::Audience);

        let (mut live, t0) = room(Scene::Live, Limits::default());
        live.handle_enter(t0, A, uid("rec"), Role::Anchor, true)
            .expect("enter");
        assert!(live.handle_switch_role(t0, A, Role::Anchor).is_err());
    }

    #[test]
    fn every_departure_yields_exactly_one_usage() {
        let (mut r, t0) = room(Scene::VideoCall, Limits::default());
        enter(&mut r, t0, A, "a", Role::Anchor);
        enter(&mut r, t0, B, "b", Role::Anchor);
        enter(&mut r, t0, C, "c", Role::Anchor);
        enter(&mut r, t0, D, "a", Role::Anchor); // replaces A
        r.handle_connection_lost(t0, B);
        r.handle_exit(t0 + secs(1), C);
        r.handle_exit(t0 + secs(1), C);
        r.handle_timeout(t0 + secs(90));
        r.handle_exit(t0 + secs(100), D);
        let ev = drain(&mut r);
        let mut users: Vec<_> = usages(&ev).into_iter().map(|u| u.user).collect();
        users.sort();
        assert_eq!(users, [uid("a"), uid("a"), uid("b"), uid("c")]);
        assert_eq!(destroyed_count(&ev), 1);
        assert_eq!(
            r.handle_enter(t0, A, uid("a"), Role::Anchor, false),
            Err(RoomError::Closed)
        );
    }

    #[test]
    fn same_member_cannot_enter_twice() {
        let (mut r, t0) = room(Scene::VideoCall, Limits::default());
        enter(&mut r, t0, A, "a", Role::Anchor);
        let err = r
            .handle_enter(t0, A, uid("b"), Role::Anchor, false)
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::AlreadyInRoom);
        assert_eq!(r.app().get(), 1_400_000_001);
        assert_eq!(r.id(), &RoomId::Number(7));
        assert_eq!(r.scene(), Scene::VideoCall);
    }
}
