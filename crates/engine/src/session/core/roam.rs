//! A network change (Wi-Fi to Ethernet, a new address): media moves to the new local address
//! by an ICE restart, over the signaling connection that is still up. The room, the DTLS
//! session and every m-line stay as they are, so nobody sees us leave; only the connectivity
//! checks start again, from the new address. Should the restart fail, we enter again with a
//! fresh media connection, as after a lost signaling connection.

use super::*;

/// The server telling of a new address this soon after our own ICE restart is telling of
/// that restart.
const OWN_RESTART_SEEN: Duration = Duration::from_secs(5);

impl Core {
    /// Media now leaves from `local` (the driver found that the route to the server goes
    /// through another address and opened a socket there; the old one is gone).
    pub fn address_changed(&mut self, now: Instant, local: SocketAddr) {
        self.tick(now);
        if self.finished || local == self.local {
            return;
        }
        tracing::info!("local address now {local}: restarting ICE");
        self.local = local;
        if !self.link.is_up() {
            // Entering again starts a fresh media connection from `local` anyway.
            return;
        }
        if !self.lost_reported() {
            self.emit(EngineEvent::ConnectionLost);
        }
        // Until ICE is connected again; past ICE_GIVE_UP we enter again.
        self.ice_lost.get_or_insert(now);
        self.restart_ice = true;
        self.negotiate();
    }

    /// The server sees our media come from another address than the one ICE chose (a NAT
    /// that rebinds, a change of network we did not see): its media to us still goes to the
    /// old one. An ICE restart from where we are moves it; the call goes on meanwhile.
    pub(super) fn moved_under_us(&mut self) {
        // Our own restart (from a new address we saw) is what the server saw, or one is due.
        let ours = self
            .ice_restarted_at
            .is_some_and(|t| self.now < t + OWN_RESTART_SEEN);
        if self.finished || !self.link.is_up() || self.restart_ice || ours {
            return;
        }
        tracing::info!("the server sees us at another address: restarting ICE");
        self.restart_ice = true;
        self.negotiate();
    }

    /// The answer to an ICE restart is in: str0m dropped the old address's candidate, so the
    /// new one goes in and the checks begin from it.
    pub(super) fn ice_restarted(&mut self) -> Result<(), EngineError> {
        let candidate =
            Candidate::host(self.local, "udp").map_err(|e| EngineError::Connect(e.to_string()))?;
        self.rtc.add_local_candidate(candidate);
        Ok(())
    }

    /// An ICE restart was refused or could not be applied: start over from the new address.
    pub(super) fn ice_restart_failed(&mut self, now: Instant, error: &EngineError) {
        tracing::info!("ICE restart failed ({error}): entering again");
        self.connection_lost(now);
    }
}
