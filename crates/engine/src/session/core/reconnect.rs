//! Getting back into the room when the connection to the server goes away: the core asks for
//! a new connection with backoff ([`Output::Reconnect`]), and once the driver has entered
//! again with the same identity it starts a fresh media connection, publishes and subscribes
//! what it had, and tells the server which streams are on. The server keeps a lost member
//! for 90 s, so others see our streams pause rather than us leave and come back.

use super::*;

/// How long we keep trying before the call ends: the server forgets a lost member then.
const WINDOW: Duration = Duration::from_secs(90);
/// ICE disconnected this long with the server still reachable (e.g. our address changed):
/// enter again, with a fresh media connection from the current address.
const ICE_GIVE_UP: Duration = Duration::from_secs(15);
/// A media connection still not up this long after its first offer: start over, entering
/// again with a fresh one. The DTLS handshake doubles the wait between its resends (150 ms,
/// 300, 600, … and dimpl cannot cap it), so on a lossy link an unlucky handshake waits 10 or
/// 20 s for its next try; through a relay losing 30 % each way, 2 calls in 8 did not set up
/// within 24 s. Now that resends are capped and checks and flights go out three times
/// (`roomcast_rtc::setup`), links losing 70 % each way set up within 3.2 s (40 seeds): this
/// catches a connection that is stuck, not a slow one.
const SETUP_GIVE_UP: Duration = Duration::from_secs(5);
/// The longest wait between attempts: short, so media is back soon after the network is.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The state of the connection to the room server.
pub(super) enum Link {
    Up,
    /// Lost at `since`; attempt number `attempt` is due at `next` (none while one is running).
    Down {
        since: Instant,
        attempt: u32,
        next: Option<Instant>,
    },
}

impl Link {
    pub(super) fn is_up(&self) -> bool {
        matches!(self, Link::Up)
    }
}

pub(super) fn reconnecting() -> EngineError {
    EngineError::Connect("reconnecting to the room server; try again when reconnected".into())
}

/// Waits before attempt `n` (1-based) after the first.
fn backoff(attempt: u32) -> Duration {
    let ms = 250u64 << attempt.saturating_sub(1).min(4);
    Duration::from_millis(ms).min(MAX_BACKOFF)
}

/// Whether a failed attempt is worth repeating: the server was unreachable or failed, rather
/// than refused us (a bad or expired UserSig, a ban, a closed meeting).
fn retryable(e: &EngineError) -> bool {
    match e {
        EngineError::Server { code, .. } => *code == roomcast_proto::ErrorCode::Internal,
        EngineError::Connect(_) | EngineError::Protocol(_) => true,
        _ => false,
    }
}

impl Core {
    pub(super) fn lost_reported(&self) -> bool {
        self.ice_lost.is_some() || !self.link.is_up()
    }

    pub(super) fn link_due(&self) -> Option<Instant> {
        match &self.link {
            Link::Down { next, .. } => *next,
            Link::Up => {
                let ice = self.ice_lost.map(|since| since + ICE_GIVE_UP);
                let setup = self.setup_since.map(|since| since + SETUP_GIVE_UP);
                ice.into_iter().chain(setup).min()
            }
        }
    }

    /// The connection to the room server is gone (closed, or unanswered): try to get back.
    pub fn connection_lost(&mut self, now: Instant) {
        self.tick(now);
        if self.finished || !self.link.is_up() {
            return;
        }
        if self.exit_deadline.is_some() {
            self.finish();
            return;
        }
        if !self.lost_reported() {
            self.emit(EngineEvent::ConnectionLost);
        }
        self.link = Link::Down {
            since: now,
            attempt: 0,
            next: Some(now),
        };
        self.connected = false;
        self.setup_since = None;
        self.offer_in_flight = false;
        self.restart_ice = false;
        for (_, pending) in std::mem::take(&mut self.pending) {
            match pending {
                Pending::Reply { token: Some(t), .. } => self.done(t, Err(reconnecting())),
                // Publications complete once they are published again.
                Pending::Offer { waiting, .. } => self.waiting.extend(waiting),
                Pending::Exit => self.finish(),
                _ => {}
            }
        }
    }

    /// Due work of the link: the next attempt, or giving up on a dead media connection.
    pub(super) fn link_timeout(&mut self, now: Instant) {
        if let Link::Up = self.link {
            if self.ice_lost.is_some_and(|s| now >= s + ICE_GIVE_UP) {
                tracing::info!("no media connection for {ICE_GIVE_UP:?}: entering again");
                self.connection_lost(now);
            } else if self.setup_since.is_some_and(|s| now >= s + SETUP_GIVE_UP) {
                tracing::info!("media connection not up after {SETUP_GIVE_UP:?}: entering again");
                self.connection_lost(now);
            }
            return;
        }
        let Link::Down {
            since,
            attempt,
            next: Some(due),
        } = self.link
        else {
            return;
        };
        if now < due {
            return;
        }
        if now >= since + WINDOW {
            self.emit(EngineEvent::Error {
                code: None,
                message: format!(
                    "could not reach the room server again within {} s; the call has ended",
                    WINDOW.as_secs()
                ),
            });
            self.finish();
            return;
        }
        let attempt = attempt + 1;
        self.link = Link::Down {
            since,
            attempt,
            next: None,
        };
        self.emit(EngineEvent::Reconnecting { attempt });
        let role = *lock(&self.role);
        self.out.push_back(Output::Reconnect { role });
    }

    /// The last [`Output::Reconnect`] failed.
    pub fn reconnect_failed(&mut self, now: Instant, error: EngineError) {
        self.tick(now);
        let Link::Down { since, attempt, .. } = self.link else {
            return;
        };
        if !retryable(&error) {
            self.emit(EngineEvent::Error {
                code: error.code(),
                message: format!("could not enter the room again: {error}"),
            });
            self.finish();
            return;
        }
        tracing::debug!("reconnection attempt {attempt} failed: {error}");
        self.link = Link::Down {
            since,
            attempt,
            next: Some(now + backoff(attempt)),
        };
    }

    /// We entered again (the `entered` reply), with media now leaving from `local`.
    pub fn reconnected(
        &mut self,
        now: Instant,
        local: SocketAddr,
        entered: ServerMessage,
    ) -> Result<(), EngineError> {
        self.tick(now);
        if self.finished {
            return Ok(());
        }
        let ServerMessage::Entered {
            users, room, role, ..
        } = entered
        else {
            return Err(EngineError::Protocol("expected an entered reply".into()));
        };
        self.rtc.disconnect();
        self.rtc = new_rtc(local, now)?;
        self.reorder = Default::default();
        self.parity = Default::default();
        self.asker = Default::default();
        self.local = local;
        self.link = Link::Up;
        self.ice_lost = None;
        self.setup_since = None;
        self.connected = false;
        self.order.clear();
        let old: Vec<(Mid, Line)> = std::mem::take(&mut self.lines).into_iter().collect();
        let receiving: Vec<(Mid, Track)> = old
            .iter()
            .filter(|(_, l)| l.track.user_id.is_some())
            .map(|(m, l)| (*m, l.track.clone()))
            .collect();
        // What we published goes out again, before anything else.
        let publishing = old
            .iter()
            .map(|(_, l)| l)
            .filter(|l| l.track.user_id.is_none());
        let republish: Vec<Queued> = publishing
            .map(|l| Queued {
                kind: l.track.kind,
                stream: l.track.stream,
                user: None,
                simulcast: l.simulcast,
            })
            .collect();
        self.queued.splice(0..0, republish);
        if role != *lock(&self.role) {
            self.role_changed(role);
        }
        self.emit(EngineEvent::RoomChanged(room));
        self.roster(users, false);
        // Streams we watched come back on the same receivers (the driver matches them by
        // user and stream); those that went away stop.
        for (mid, track) in receiving {
            let Some(user) = track.user_id else { continue };
            if self.is_available(&user, track.kind, track.stream) {
                self.subscribe(user, track.kind, track.stream);
            } else {
                self.out.push_back(Output::StopReceiver(mid));
            }
        }
        self.negotiate();
        for (kind, stream) in self.available.clone() {
            self.notify(Request::SetAvailable {
                kind,
                stream,
                available: true,
            });
        }
        lock(&self.registry.local).reconnects += 1;
        self.emit(EngineEvent::Reconnected);
        Ok(())
    }

    fn is_available(&self, user: &UserId, kind: MediaKind, stream: Stream) -> bool {
        self.users
            .get(user)
            .is_some_and(|f| *super::server::slot(&mut f.clone(), kind, stream))
    }
}

/// A media connection from `local` whose connectivity checks keep being resent, at most half
/// a second apart, instead of giving up after nine: on a lossy link they are what lets a
/// call set up at all. Opus goes with RED available (sent only while loss calls for it).
/// Audio packets go to the jitter buffer as they come: str0m's own reordering (15 packets)
/// dropped any packet that came after later ones were handed over, so under a second of
/// jitter the jitter buffer saw a tenth of the packets too late to exist and aimed too low.
pub(super) fn new_rtc(local: SocketAddr, now: Instant) -> Result<Rtc, EngineError> {
    let mut config = Rtc::builder()
        .set_crypto_provider(Arc::new(roomcast_rtc::dtls::crypto_provider()))
        .clear_codecs()
        .enable_opus(true, true)
        .set_red_distances(roomcast_rtc::protect::RED_DISTANCES)
        .set_stats_interval(Some(roomcast_rtc::protect::REPORT_EVERY))
        .set_rtcp_report_interval_audio(roomcast_rtc::protect::REPORT_EVERY)
        .set_reordering_size_audio(0)
        .enable_h264(true);
    config.set_max_stun_rto(STUN_MAX_RTO);
    config.set_max_stun_retransmits(STUN_RESENDS);
    let mut rtc = config.build(now);
    let candidate =
        Candidate::host(local, "udp").map_err(|e| EngineError::Connect(e.to_string()))?;
    rtc.add_local_candidate(candidate);
    Ok(rtc)
}
