//! Our m-lines and the offers that describe them (the client always offers).

use super::*;
use roomcast_rtc::resend::{RESEND_SHARE_CAP, allow_resends};

impl Core {
    /// The payload type to send on a publishing m-line: Opus, or H.264 constrained
    /// baseline with packetization-mode 1 (what every browser decodes).
    pub(super) fn choose_pt(&mut self, mid: Mid, kind: MediaKind) -> Option<Pt> {
        let writer = self.rtc.writer(mid)?;
        let params: Vec<_> = writer.payload_params().cloned().collect();
        let score = |p: &str0m::format::PayloadParams| {
            let spec = p.spec();
            match (kind, spec.codec) {
                (MediaKind::Audio, Codec::Opus) => 3,
                (MediaKind::Video, Codec::H264) => {
                    let pm1 = spec.format.packetization_mode == Some(1);
                    let cb = spec.format.profile_level_id == Some(0x42e01f);
                    1 + u8::from(pm1) + u8::from(pm1 && cb)
                }
                _ => 0,
            }
        };
        params
            .iter()
            .filter(|p| score(p) > 0)
            .max_by_key(|p| score(p))
            .map(|p| p.pt())
    }

    pub(super) fn has_line(&self, user: Option<&UserId>, kind: MediaKind, stream: Stream) -> bool {
        self.lines.values().any(|l| {
            l.track.user_id.as_ref() == user && l.track.kind == kind && l.track.stream == stream
        }) || self
            .queued
            .iter()
            .any(|q| q.user.as_ref() == user && q.kind == kind && q.stream == stream)
    }

    pub(super) fn subscribe(&mut self, user: UserId, kind: MediaKind, stream: Stream) {
        if !self.has_line(Some(&user), kind, stream) {
            self.queued.push(Queued {
                kind,
                stream,
                user: Some(user),
                simulcast: false,
            });
            self.negotiate();
        }
    }

    /// Sends an offer with every queued m-line, unless one is already in flight (then the
    /// answer triggers the next).
    pub(super) fn negotiate(&mut self) {
        let nothing = self.queued.is_empty() && !self.restart_ice;
        if self.offer_in_flight || nothing || !self.link.is_up() {
            return;
        }
        let queued = std::mem::take(&mut self.queued);
        let restart = std::mem::take(&mut self.restart_ice);
        let mut api = self.rtc.sdp_api();
        if restart {
            // The old address is gone: its candidate goes, the new one comes with the answer.
            api.ice_restart(false);
            self.ice_restarted_at = Some(self.now);
        }
        let mut added = Vec::new();
        for q in queued {
            let (dir, stream_id) = match q.user {
                None => (Direction::SendOnly, Some("roomcast".to_string())),
                Some(_) => (Direction::RecvOnly, None),
            };
            let layers = q.simulcast.then(|| {
                let mut s = str0m::media::Simulcast::new();
                for l in [VideoStreamType::Big, VideoStreamType::Small] {
                    s.add_send_layer(str0m::media::SimulcastLayer::new(l.rid()));
                }
                s
            });
            let mid = api.add_media(rtc_kind(q.kind), dir, stream_id, None, layers);
            added.push((mid, q));
        }
        let applied = api.apply();
        let mids: Vec<Mid> = added.iter().map(|(m, _)| *m).collect();
        for (mid, q) in added {
            if let Some(user) = &q.user {
                self.out.push_back(Output::StartReceiver {
                    mid,
                    user: user.clone(),
                    kind: q.kind,
                    stream: q.stream,
                });
            }
            self.order.push(mid);
            let track = Track {
                mid: mid.to_string(),
                kind: q.kind,
                stream: q.stream,
                user_id: q.user,
            };
            let simulcast = q.simulcast;
            self.lines.insert(
                mid,
                Line {
                    track,
                    pt: None,
                    simulcast,
                },
            );
        }
        let Some((offer, pending)) = applied else {
            for token in std::mem::take(&mut self.waiting) {
                self.done(token, Ok(()));
            }
            return;
        };
        let tracks: Vec<Track> = self
            .order
            .iter()
            .filter_map(|m| self.lines.get(m))
            .map(|l| l.track.clone())
            .collect();
        let waiting = std::mem::take(&mut self.waiting);
        self.offer_in_flight = true;
        if !self.connected {
            self.setup_since.get_or_insert(self.now);
        }
        let sdp = offer.to_sdp_string();
        let id = self.signal(
            Request::Negotiate { sdp, tracks },
            Pending::Offer {
                offer: pending,
                waiting,
                mids,
                restart,
            },
        );
        tracing::debug!("sending offer {id}");
    }

    pub(super) fn accept_answer(
        &mut self,
        pending: SdpPendingOffer,
        sdp: &str,
    ) -> Result<(), EngineError> {
        let answer = SdpAnswer::from_sdp_string(sdp)
            .map_err(|e| EngineError::Protocol(format!("bad SDP answer: {e}")))?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| EngineError::Protocol(format!("cannot apply the SDP answer: {e}")))?;
        let publishing: Vec<(Mid, MediaKind, bool)> = self
            .lines
            .iter()
            .filter(|(_, l)| l.track.user_id.is_none() && l.pt.is_none())
            .map(|(m, l)| (*m, l.track.kind, l.simulcast))
            .collect();
        // Audio goes with redundancy until the server's first report says the uplink is
        // clean, unless our video shares the uplink: on a narrow one its first burst is loss
        // that redundancy would only add to (on a 300 kbit/s uplink the camera then settled
        // lower, once at 45 kbit/s instead of 185).
        let video = self
            .lines
            .values()
            .any(|l| l.track.user_id.is_none() && l.track.kind == MediaKind::Video);
        if video {
            let red = self.audio_loss.settle().red;
            let audio: Vec<Mid> = self
                .lines
                .iter()
                .filter(|(_, l)| l.track.user_id.is_none() && l.track.kind == MediaKind::Audio)
                .map(|(m, _)| *m)
                .collect();
            for mid in audio {
                self.rtc.direct_api().set_red_send(mid, red);
            }
        }
        for (mid, kind, simulcast) in publishing {
            let pt = self.choose_pt(mid, kind);
            if let Some(l) = self.lines.get_mut(&mid) {
                l.pt = pt;
            }
            match kind {
                MediaKind::Audio => {
                    let red = self.audio_loss.protection().red;
                    self.rtc.direct_api().set_red_send(mid, red);
                }
                MediaKind::Video if simulcast => {
                    let rids = [VideoStreamType::Big, VideoStreamType::Small]
                        .map(|l| Some(str0m::media::Rid::from(l.rid())));
                    allow_resends(&mut self.rtc, mid, &rids, RESEND_SHARE_CAP);
                }
                MediaKind::Video => allow_resends(&mut self.rtc, mid, &[None], RESEND_SHARE_CAP),
            }
        }
        Ok(())
    }
}
