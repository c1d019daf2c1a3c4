//! What the room server says: replies to our requests and the room's events.

use super::*;

impl Core {
    /// Takes the `entered` reply's roster.
    pub fn entered(&mut self, now: Instant, entered: ServerMessage) {
        self.tick(now);
        let ServerMessage::Entered { users, room, .. } = entered else {
            return;
        };
        self.emit(EngineEvent::RoomChanged(room));
        self.roster(users, true);
    }

    /// Who is in the room as we enter it; `fresh` unless we knew the room before (entering
    /// again after a lost connection: only what changed is reported).
    pub(super) fn roster(&mut self, users: Vec<roomcast_proto::RemoteUser>, fresh: bool) {
        if !fresh {
            let gone: Vec<UserId> = self
                .users
                .keys()
                .filter(|k| !users.iter().any(|u| &u.user_id == *k))
                .cloned()
                .collect();
            for user in gone {
                self.users.remove(&user);
                let reason = roomcast_proto::LeaveReason::Exited;
                self.emit(EngineEvent::RemoteUserLeave { user, reason });
            }
        }
        for u in users {
            if fresh || !self.users.contains_key(&u.user_id) {
                self.emit(EngineEvent::RemoteUserEnter {
                    user: u.user_id.clone(),
                    name: u.name.clone(),
                });
                self.users.insert(u.user_id.clone(), (false, false, false));
            }
            if u.hand.is_some() {
                self.emit(EngineEvent::Hand {
                    user: u.user_id.clone(),
                    hand: u.hand,
                });
            }
            let user = u.user_id;
            self.stream_available(user.clone(), MediaKind::Audio, Stream::Main, u.audio);
            self.stream_available(user.clone(), MediaKind::Video, Stream::Main, u.video);
            self.stream_available(user, MediaKind::Video, Stream::Sub, u.sub_video);
        }
    }

    /// One message from the room server.
    pub fn handle_server(&mut self, now: Instant, msg: ServerMessage) {
        self.tick(now);
        if let Some(id) = msg.reply_to() {
            if let Some(pending) = self.pending.remove(&id) {
                self.reply(pending, msg);
            }
            return;
        }
        match msg {
            ServerMessage::UserEnter { user_id, name, .. } => {
                self.users
                    .entry(user_id.clone())
                    .or_insert((false, false, false));
                self.emit(EngineEvent::RemoteUserEnter {
                    user: user_id,
                    name,
                });
            }
            ServerMessage::Muted { kind, by, locked } => {
                self.host_muted(kind, locked);
                self.emit(EngineEvent::MutedByHost { kind, by, locked });
            }
            ServerMessage::Unlocked { kind } => {
                self.locked.retain(|k| *k != kind);
                self.emit(EngineEvent::Unlocked { kind });
            }
            other @ (ServerMessage::Custom { .. }
            | ServerMessage::Hand { .. }
            | ServerMessage::RoomChanged { .. }
            | ServerMessage::LobbyJoined { .. }
            | ServerMessage::LobbyLeft { .. }) => {
                if let Some(e) = crate::meeting::event(other) {
                    self.emit(e);
                }
            }
            ServerMessage::LayerDemand { big, small } => {
                if let Some(c) = self.video_controls.get(&Stream::Main) {
                    c.skip_big.store(!big, Ordering::Relaxed);
                    c.skip_small.store(!small, Ordering::Relaxed);
                }
            }
            ServerMessage::AddressChanged => self.moved_under_us(),
            ServerMessage::UplinkAudioLoss { long_runs } => {
                self.repairs.measure_audio_runs(self.now, long_runs);
            }
            ServerMessage::UplinkLoss {
                video,
                scattered,
                queue_ms,
            } => {
                let loss = roomcast_rtc::arrivals::Loss::reported(video, scattered);
                let queue = Duration::from_millis(u64::from(queue_ms));
                self.uplink_measured(loss, queue);
            }
            ServerMessage::UserLeave { user_id, reason } => {
                self.users.remove(&user_id);
                let mids: Vec<Mid> = self
                    .lines
                    .iter()
                    .filter(|(_, l)| l.track.user_id.as_ref() == Some(&user_id))
                    .map(|(m, _)| *m)
                    .collect();
                for mid in mids {
                    self.out.push_back(Output::StopReceiver(mid));
                }
                self.emit(EngineEvent::RemoteUserLeave {
                    user: user_id,
                    reason,
                });
            }
            ServerMessage::StreamAvailable {
                user_id,
                kind,
                stream,
                available,
            } => self.stream_available(user_id, kind, stream, available),
            ServerMessage::Removed { code, message } => {
                self.emit(EngineEvent::Removed { code, message });
                self.finish();
            }
            ServerMessage::SpeakInvited { by } => self.emit(EngineEvent::SpeakInvited { by }),
            ServerMessage::SpeakRequested { user_id } => {
                self.emit(EngineEvent::SpeakRequested { user: user_id })
            }
            ServerMessage::SpeakInviteAnswered { user_id, accept } => {
                self.emit(EngineEvent::SpeakInviteAnswered {
                    user: user_id,
                    accept,
                })
            }
            ServerMessage::SpeakRequestAnswered { accept, by } => {
                self.emit(EngineEvent::SpeakRequestAnswered { accept, by });
                if accept && *lock(&self.role) == Role::Audience {
                    // An anchor allowed our request: go on stage without asking again.
                    let (token, then) = (None, Then::Stage);
                    let role = Role::Anchor;
                    self.signal(Request::SwitchRole { role }, Pending::Reply { token, then });
                }
            }
            ServerMessage::Error { code, message, .. } => {
                self.emit(EngineEvent::Error {
                    code: Some(code),
                    message,
                });
            }
            _ => {}
        }
    }

    /// The reply to one of our requests.
    pub(super) fn reply(&mut self, pending: Pending, msg: ServerMessage) {
        let failure = match &msg {
            ServerMessage::Error { code, message, .. } => Some(EngineError::Server {
                code: *code,
                message: message.clone(),
            }),
            _ => None,
        };
        match pending {
            Pending::Reply { token, then } => {
                let result = failure.map_or(Ok(()), Err);
                match (&then, &result) {
                    (Then::Role(role), Ok(())) => self.role_changed(*role),
                    (Then::Stage, Ok(())) => self.role_changed(Role::Anchor),
                    (Then::Stage, Err(e)) => {
                        let message = format!("cannot go on stage: {e}");
                        self.emit(EngineEvent::Error {
                            code: e.code(),
                            message,
                        });
                    }
                    _ => {}
                }
                if let Some(token) = token {
                    self.done(token, result);
                }
            }
            Pending::Offer {
                offer,
                waiting,
                mids,
                restart,
            } => {
                self.offer_in_flight = false;
                let mut result = match (failure, msg) {
                    (Some(e), _) => Err(e),
                    (None, ServerMessage::Answer { sdp, .. }) => self.accept_answer(offer, &sdp),
                    (None, _) => Err(EngineError::Protocol(
                        "unexpected reply to negotiate".into(),
                    )),
                };
                if restart {
                    result = result.and_then(|()| self.ice_restarted());
                    if let Err(e) = &result {
                        // Lines waiting on this offer are queued again when we re-enter.
                        self.ice_restart_failed(self.now, e);
                        self.waiting.extend(waiting);
                        return;
                    }
                }
                if let Err(e) = &result {
                    // The offer's new m-lines never came to be.
                    for mid in mids {
                        self.lines.remove(&mid);
                        self.out.push_back(Output::StopReceiver(mid));
                        self.order.retain(|m| *m != mid);
                    }
                    self.emit(EngineEvent::Error {
                        code: e.code(),
                        message: e.to_string(),
                    });
                }
                for token in waiting {
                    self.done(token, result.clone());
                }
                self.negotiate();
            }
            Pending::Ignore => {
                if let Some(e) = failure {
                    self.emit(EngineEvent::Error {
                        code: e.code(),
                        message: e.to_string(),
                    });
                }
            }
            Pending::Exit => self.finish(),
        }
    }

    pub(super) fn role_changed(&mut self, role: Role) {
        *lock(&self.role) = role;
        self.emit(EngineEvent::SwitchRole { role });
    }

    pub(super) fn stream_available(
        &mut self,
        user: UserId,
        kind: MediaKind,
        stream: Stream,
        on: bool,
    ) {
        let flags = self
            .users
            .entry(user.clone())
            .or_insert((false, false, false));
        let slot = slot(flags, kind, stream);
        if *slot == on {
            return;
        }
        *slot = on;
        match kind {
            MediaKind::Audio => self.emit(EngineEvent::UserAudioAvailable {
                user: user.clone(),
                available: on,
            }),
            MediaKind::Video => self.emit(EngineEvent::UserVideoAvailable {
                user: user.clone(),
                stream,
                available: on,
            }),
        }
        let auto = match kind {
            MediaKind::Audio => self.auto.audio,
            MediaKind::Video => self.auto.video,
        };
        if on && auto {
            self.subscribe(user, kind, stream);
        }
    }

    /// Says goodbye: the session finishes when the server confirms, or after a short wait.
    pub(super) fn exit(&mut self) {
        if self.exit_deadline.is_none() {
            self.signal(Request::ExitRoom, Pending::Exit);
            self.exit_deadline = Some(self.now + EXIT_WAIT);
        }
    }
}

/// Which of a user's availability flags (audio, camera, screen share) a stream is.
pub(super) fn slot(flags: &mut (bool, bool, bool), kind: MediaKind, stream: Stream) -> &mut bool {
    match (kind, stream) {
        (MediaKind::Audio, _) => &mut flags.0,
        (MediaKind::Video, Stream::Main) => &mut flags.1,
        (MediaKind::Video, Stream::Sub) => &mut flags.2,
    }
}
