//! The worker's side of simulcast: reading a frame's layer from its RID, asking for a
//! keyframe of one layer, and telling publishers which layers anyone receives (so they stop
//! encoding the others). The decisions themselves are in `layers`.

use std::time::Instant;

use roomcast_proto::{ErrorCode, MediaKind, ServerMessage, Stream, UserId, VideoStreamType};
use str0m::media::{MediaData, Mid, Rid, Rids};

use super::peer::{Peer, Use};
use super::{Failure, Worker};
use crate::ledger::RoomKey;
use crate::room::MemberId;

/// The layer a camera frame belongs to; None when the publisher does not send simulcast.
pub fn layer_of(data: &MediaData, kind: MediaKind, stream: Stream) -> Option<VideoStreamType> {
    if kind != MediaKind::Video || stream != Stream::Main {
        return None;
    }
    data.rid.and_then(|rid| VideoStreamType::from_rid(&rid))
}

/// The RID to ask a keyframe of on `mid`, if the publisher sends that layer with one.
pub fn rid_of(peer: &Peer, mid: Mid, layer: VideoStreamType) -> Option<Rid> {
    match peer.rtc.media(mid)?.rids_rx() {
        Rids::Specific(rids) => rids
            .iter()
            .find(|r| VideoStreamType::from_rid(r) == Some(layer))
            .copied(),
        _ => None,
    }
}

/// Whether the publisher's camera m-line carries simulcast layers.
fn sends_simulcast(peer: &Peer) -> bool {
    peer.publish_mid(MediaKind::Video, Stream::Main)
        .and_then(|mid| peer.rtc.media(mid))
        .is_some_and(|m| matches!(m.rids_rx(), Rids::Specific(r) if r.len() > 1))
}

impl Worker {
    pub(super) fn set_stream_type(
        &mut self,
        now: Instant,
        member: MemberId,
        user: &UserId,
        layer: VideoStreamType,
    ) -> Result<(), Failure> {
        let room = self
            .members
            .get(&member)
            .map(|m| m.room)
            .ok_or((ErrorCode::NotInRoom, "enter a room first".to_string()))?;
        if self.layers.want(member, user, layer) {
            self.request_keyframe(now, room, user, MediaKind::Video, Stream::Main, layer);
        }
        self.update_demand(room);
        Ok(())
    }

    /// Holds subscriber `sub` to small layers (`on`, its link does not carry more) or lets it
    /// back to what it asked for. Video and audio go out once to a link too narrow for them:
    /// copies of audio there are more of what fills it (a 300 kbit/s link got 270 kbit/s of
    /// audio, RED and three transmissions, and the keyframes it was reduced to did not fit).
    pub(super) fn set_reduced(&mut self, now: Instant, sub: MemberId, on: bool) {
        let Some(member) = self.members.get_mut(&sub) else {
            return;
        };
        let room = member.room;
        if let Some(peer) = member.peer.as_mut() {
            peer.repairs.hold_video(on);
            peer.repairs.hold_audio(on);
            peer.narrow = on;
            if on {
                peer.audio_afresh();
            } else {
                let held = peer.pacer.stop();
                self.outbox.extend(held);
            }
        }
        for (user, layer) in self.layers.reduce(sub, on) {
            self.request_keyframe(now, room, &user, MediaKind::Video, Stream::Main, layer);
        }
        self.update_demand(room);
    }

    /// Tells each simulcast publisher in `room` which layers are received now, when that
    /// changed.
    pub(super) fn update_demand(&mut self, room: RoomKey) {
        let Some(entry) = self.rooms.get(&room) else {
            return;
        };
        let members: Vec<MemberId> = entry.room.members().collect();
        for &publisher in &members {
            let Some(p) = self.members.get(&publisher) else {
                continue;
            };
            if !p.peer.as_ref().is_some_and(sends_simulcast) {
                continue;
            }
            let user = p.user.clone();
            let subs = members.iter().copied().filter(|&s| {
                s != publisher
                    && self
                        .members
                        .get(&s)
                        .and_then(|m| m.peer.as_ref())
                        .is_some_and(|peer| {
                            peer.uses.values().any(|u| {
                                *u == Use::Subscribe {
                                    user: user.clone(),
                                    kind: MediaKind::Video,
                                    stream: Stream::Main,
                                }
                            })
                        })
            });
            let demand = self.layers.demand(&user, subs);
            let Some(p) = self.members.get_mut(&publisher) else {
                continue;
            };
            if p.demand != Some(demand) {
                p.demand = Some(demand);
                let _ = p.events.send(ServerMessage::LayerDemand {
                    big: demand.0,
                    small: demand.1,
                });
            }
        }
    }
}
