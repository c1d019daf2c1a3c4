//! One client's WebRTC connection on the server side: a str0m `Rtc` (ICE-lite) and what
//! each of its m-lines carries.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use roomcast_proto::{MediaKind, ServerMessage, Stream, Track, UserId};
use roomcast_rtc::arrivals::LossTeller;
use roomcast_rtc::protect::{LossProtection, RED_DISTANCES, REPORT_EVERY};
use roomcast_rtc::queue::QueueGauge;
use roomcast_rtc::repair::{Received, Repairs};
use roomcast_rtc::resend::{FORWARDED_RESEND_SHARE_CAP, allow_resends};
use str0m::change::SdpOffer;

use super::copies::DownlinkCopies;
use super::pace::Pacer;
use str0m::media::{Direction, Mid};
use str0m::{Candidate, Rtc};

/// What the server does with one of a client's m-lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Use {
    /// The client publishes its own stream here.
    Publish { kind: MediaKind, stream: Stream },
    /// The server forwards `user`'s stream here.
    Subscribe {
        user: UserId,
        kind: MediaKind,
        stream: Stream,
    },
}

pub struct Peer {
    pub rtc: Rtc,
    pub uses: HashMap<Mid, Use>,
    /// Set once ICE and DTLS are up: media written before that is dropped by str0m.
    pub connected: bool,
    /// When str0m next wants `handle_input(Timeout)`.
    pub timeout: Instant,
    /// Per audio m-line we forward on: the loss this client reports, and its protection.
    loss: HashMap<Mid, LossProtection>,
    /// Resends and RTCP go out twice while this client's link is lossy.
    pub repairs: Repairs,
    /// Video from the client handed to str0m in order (see `roomcast_rtc::reorder`).
    pub reorder: roomcast_rtc::reorder::Reorder,
    /// The client's video rebuilt from its parities (see `roomcast_rtc::parity`).
    pub parity: roomcast_rtc::parity::ParityReceiver,
    /// Asks the client for video lost on the way (see `roomcast_rtc::fetch`).
    pub asker: roomcast_rtc::fetch::Asker,
    /// The client's video as it arrives, for `uplink_loss`: what is lost…
    arrivals: LossTeller,
    /// …and how long it waits in a queue on the way.
    queue: QueueGauge,
    /// Whether video goes out twice towards the client (from its `downlink_loss`).
    pub copies: DownlinkCopies,
    /// Its link is too narrow for the video it asked for (`downlink`): it gets less.
    pub narrow: bool,
    /// Video towards it, paced while `narrow`.
    pub pacer: Pacer,
}

/// The server copies RTCP (its NACKs to a publisher on a lossy link), and resends only
/// towards a subscriber that measured its downlink losing at random (`copies`): on a link too
/// narrow for the video, copies of resends only crowded out its audio (1.2 % of frames
/// concealed instead of 0–0.3 % on a 300 kbit/s downlink).
fn server_repairs() -> Repairs {
    let mut r = Repairs::default();
    r.hold_resends(true);
    r.copy_resends_once();
    r
}

impl Peer {
    pub fn new(now: Instant, udp_addr: SocketAddr) -> Result<Self, String> {
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .set_crypto_provider(Arc::new(roomcast_rtc::dtls::crypto_provider()))
            .clear_codecs()
            .enable_opus(true, true)
            .set_red_distances(RED_DISTANCES)
            .set_stats_interval(Some(REPORT_EVERY))
            .set_rtcp_report_interval_audio(REPORT_EVERY)
            // Audio is forwarded as it comes: str0m's reordering held up to 15 packets
            // (300 ms) behind each one lost for good, a stall every subscriber then heard.
            .set_reordering_size_audio(0)
            .enable_h264(true)
            .build(now);
        let candidate = Candidate::host(udp_addr, "udp")
            .map_err(|e| format!("bad media address {udp_addr}: {e}"))?;
        rtc.add_local_candidate(candidate);
        Ok(Self {
            rtc,
            uses: HashMap::new(),
            connected: false,
            timeout: now,
            loss: HashMap::new(),
            repairs: server_repairs(),
            reorder: Default::default(),
            parity: Default::default(),
            asker: Default::default(),
            arrivals: LossTeller::default(),
            queue: QueueGauge::default(),
            copies: DownlinkCopies::default(),
            narrow: false,
            pacer: Pacer::new(now),
        })
    }

    /// A datagram from the client (not a copy) came in at `now`: counted if it is video (a
    /// first transmission) or audio. At most once a second each, what its uplink loses of
    /// them, to tell it.
    pub fn arrived(
        &mut self,
        now: Instant,
        datagram: &[u8],
        received: Received,
    ) -> Option<ServerMessage> {
        if received == Received::Audio {
            let long_runs = self.arrivals.arrived_audio(now, datagram)?;
            return Some(ServerMessage::UplinkAudioLoss { long_runs });
        }
        let video = received == Received::Video;
        if video {
            self.queue.arrive_datagram(now, datagram);
        }
        let loss = self.arrivals.arrived(now, datagram, video)?;
        let queue = self.queue.queue().unwrap_or_default();
        Some(ServerMessage::UplinkLoss {
            video: loss.lost,
            scattered: loss.scattered,
            queue_ms: u32::try_from(queue.as_millis()).unwrap_or(u32::MAX),
        })
    }

    /// Applies a client offer; returns the answer SDP. `tracks` must describe every active
    /// m-line; publishing m-lines must be send-only from the client.
    pub fn negotiate(&mut self, sdp: &str, tracks: &[Track]) -> Result<String, String> {
        let offer = SdpOffer::from_sdp_string(sdp)
            .map_err(|e| format!("cannot read the SDP offer: {e}"))?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| format!("cannot accept the SDP offer: {e}"))?;
        let mut uses = HashMap::new();
        for t in tracks {
            let mid = Mid::from(t.mid.as_str());
            let Some(media) = self.rtc.media(mid) else {
                return Err(format!(
                    "track mid {:?} is not an m-line of the offer",
                    t.mid
                ));
            };
            let dir = media.direction();
            let kind_ok = matches!(
                (t.kind, media.kind()),
                (MediaKind::Audio, str0m::media::MediaKind::Audio)
                    | (MediaKind::Video, str0m::media::MediaKind::Video)
            );
            if !kind_ok {
                return Err(format!(
                    "track mid {:?} is declared {:?} but the m-line is not",
                    t.mid, t.kind
                ));
            }
            let u = match &t.user_id {
                None if matches!(dir, Direction::RecvOnly | Direction::SendRecv) => Use::Publish {
                    kind: t.kind,
                    stream: t.stream,
                },
                None => continue,
                Some(user) if matches!(dir, Direction::SendOnly | Direction::SendRecv) => {
                    Use::Subscribe {
                        user: user.clone(),
                        kind: t.kind,
                        stream: t.stream,
                    }
                }
                Some(_) => continue,
            };
            uses.insert(mid, u);
        }
        for (mid, u) in &uses {
            let Use::Subscribe { kind, .. } = u else {
                continue;
            };
            if self.uses.contains_key(mid) {
                continue;
            }
            match kind {
                // Audio we forward goes with redundancy until this client's first report.
                MediaKind::Audio => {
                    self.loss.insert(*mid, LossProtection::provisional());
                    self.rtc.direct_api().set_red_send(*mid, true);
                }
                MediaKind::Video => {
                    allow_resends(&mut self.rtc, *mid, &[None], FORWARDED_RESEND_SHARE_CAP)
                }
            }
        }
        self.loss.retain(|mid, _| uses.contains_key(mid));
        self.uses = uses;
        Ok(answer.to_sdp_string())
    }

    /// This client's receiver reports on `mid` say `loss`: protect the audio we forward there
    /// accordingly (RED towards it while it loses packets).
    pub fn loss_report(&mut self, mid: Mid, loss: f32) {
        // A client that measures its downlink (`copies`) was moved to less video only for a
        // link too narrow, not a lossy one (that it would have said): there, RED's six
        // repeated frames are more of what overflows it.
        let overflow = self.narrow && self.copies.measured();
        if let Some(p) = self.loss.get_mut(&mid) {
            let red = p.report(loss).red && !overflow;
            self.rtc.direct_api().set_red_send(mid, red);
        }
    }

    /// This client's link turned out too narrow for the video it was sent, and gets less
    /// now: the loss so far was that overflow, not a reason for redundancy. Audio goes out
    /// without RED until reports on what the link does from now on say otherwise (RED
    /// repeats six frames: some 350 kbit/s, more than a 300 kbit/s link carries, so the
    /// little video it was reduced to would not fit either).
    pub fn audio_afresh(&mut self) {
        for (mid, p) in &mut self.loss {
            *p = LossProtection::new();
            self.rtc.direct_api().set_red_send(*mid, false);
        }
    }

    /// The m-line on which this client publishes `kind`/`stream`.
    pub fn publish_mid(&self, kind: MediaKind, stream: Stream) -> Option<Mid> {
        self.uses
            .iter()
            .find_map(|(mid, u)| (*u == Use::Publish { kind, stream }).then_some(*mid))
    }

    /// The m-lines on which this client receives `user`'s `kind`/`stream`.
    pub fn subscription_mids<'a>(
        &'a self,
        user: &'a UserId,
        kind: MediaKind,
        stream: Stream,
    ) -> impl Iterator<Item = Mid> + 'a {
        self.uses.iter().filter_map(move |(mid, u)| match u {
            Use::Subscribe {
                user: u,
                kind: k,
                stream: s,
            } if u == user && *k == kind && *s == stream => Some(*mid),
            _ => None,
        })
    }
}
