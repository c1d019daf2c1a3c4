//! What our uplink loses and how our streams answer it. str0m hands out the loss the
//! server's receiver reports give for each of our streams together, about once a second;
//! they are judged as one round:
//! - Packets that are only late (a jittery link lets them overtake one another) are counted
//!   lost by the report in which they are missing; the video rates judge only the loss
//!   beyond them (`roomcast_rtc::late::LateLoss`, one per stream).
//! - The link's loss is best read on our audio: video's reports count the packets resends
//!   brought back, so they show congestion late and little.
//! - Video follows that loss with its send rate (`roomcast_rtc::rate::LossRate`, one per
//!   stream); each capture reads its limit from its controls and fits it (the camera lowers
//!   its bitrate, the screen share its frame rate).
//! - Where the server's measures say the link loses a tenth of our video at random, video
//!   goes out twice (`roomcast_rtc::repair`); those measures also tell when the copies do
//!   not fit the link, and the rates then come down under what fitted (`roomcast_rtc::fit`).
//! - Audio is protected from the loss (RED, Opus FEC), except from loss our own video caused
//!   by sending more than the link carries: that ends as the video rate comes down, and RED
//!   would only add to it.
//! - Keyframes asked for while congested come at most one a second per stream: each is
//!   several frames' worth of bytes, and lost ones are asked for again, so unchecked they
//!   keep the link overloaded.

use roomcast_rtc::arrivals::Loss;
use roomcast_rtc::fit::Fit;
use str0m::media::Rid;
use str0m::stats::RemoteIngressStats;

use super::*;

/// While congested, keyframes of one stream come at most this often.
const CONGESTED_KEYFRAME_GAP: Duration = Duration::from_secs(1);

/// How much of the uplink's loss estimate a round without more loss keeps.
const UPLINK_LOSS_FADE: f32 = 0.85;

/// One round of receiver reports on our streams: each stream's loss as reported, and (for
/// the video rates) as far as late packets do not explain it.
#[derive(Debug, Default)]
pub(super) struct Round {
    audio: Option<(Mid, f32, f32)>,
    video: Vec<(Stream, f32, f32, Option<Duration>)>,
}

impl Core {
    /// A receiver report on our `mid` (`rid`) says `loss` (0..1), and (`remote`) its
    /// running totals; our packets on it are `packet_bytes` long on average.
    pub(super) fn loss_report(
        &mut self,
        mid: Mid,
        rid: Option<Rid>,
        loss: f32,
        remote: Option<&RemoteIngressStats>,
        packet_bytes: Option<u64>,
        rtt: Option<Duration>,
    ) {
        let Some(track) = self.lines.get(&mid).map(|l| &l.track) else {
            return;
        };
        if track.user_id.is_some() {
            return;
        }
        // With simulcast, the big layer's reports speak for the stream.
        let small = rid.and_then(|r| VideoStreamType::from_rid(&r)) == Some(VideoStreamType::Small);
        let loss = roomcast_rtc::loss_fraction(loss);
        let (kind, stream) = (track.kind, track.stream);
        let totals = remote.map(roomcast_rtc::late::totals);
        let late = self.late_loss.entry((mid, rid)).or_default();
        let mut beyond_late = late.report(loss, totals, rtt);
        if kind == MediaKind::Audio && late.jittery() && self.audio_loss.protection().red {
            // A packet RED rebuilt before its original arrived stays counted lost (the
            // receiver takes the original for a duplicate): on a jittery link that loses
            // nothing, audio's reports then say 50–70 %. The video's own reports decide.
            beyond_late = 0.0;
        }
        match kind {
            MediaKind::Audio => self.loss_round.audio = Some((mid, loss, beyond_late)),
            MediaKind::Video if !small => {
                // While our video goes out twice, a packet is reported lost only if both
                // were: the link still loses what the repair window is for.
                let link_loss = self.repairs.video_link_loss(loss);
                let rate = self.video_rates.entry(stream).or_default();
                rate.observe(link_loss, packet_bytes);
                self.loss_round.video.push((stream, loss, beyond_late, rtt))
            }
            MediaKind::Video => {}
        }
    }

    /// Judges the round's reports: video rates first, then the audio's protection.
    pub(super) fn end_loss_round(&mut self) {
        let Round { audio, video } = std::mem::take(&mut self.loss_round);
        if audio.is_none() && video.is_empty() {
            return;
        }
        let link_loss = audio.map_or(0.0, |a| a.1);
        // What the uplink loses, congestion included, for its quality: at once when it rises,
        // fading when it falls.
        let seen = video.iter().map(|v| v.1).fold(link_loss, f32::max);
        self.uplink_loss = seen.max(UPLINK_LOSS_FADE * self.uplink_loss);
        let link_beyond_late = audio.map_or(0.0, |a| a.2);
        for (stream, _, beyond_late, rtt) in video {
            self.video_loss_report(stream, beyond_late.max(link_beyond_late), rtt);
        }
        self.judge_repairs();
        let Some((mid, loss, _)) = audio else {
            return;
        };
        let was = self.audio_loss.protection();
        // Until our video's first report is judged, loss the audio sees may be the video's
        // own first burst over a narrow link: RED turned on then (one real call in four on a
        // 500 kbit/s uplink) made the audio 250-285 kbit/s and kept the link full, and the
        // queue 340 ms long, for the rest of the call.
        let video_unjudged = self.video_rates.is_empty() && !self.video_controls.is_empty();
        let p = if video_unjudged || self.video_rates.values().any(|r| r.congested()) {
            self.audio_loss.settle()
        } else {
            self.audio_loss.report(loss)
        };
        if p != was {
            tracing::debug!("uplink audio loss {loss:.3}: {p:?}");
        }
        self.rtc.direct_api().set_red_send(mid, p.red);
        if let Some(c) = &self.audio_controls {
            c.expected_loss.store(p.fec_percent, Ordering::Relaxed);
        }
    }

    /// The server asks our `stream` (its small layer or not) for a keyframe.
    pub(super) fn keyframe_asked(&mut self, stream: Stream, small: bool) {
        let congested = self.video_rates.get(&stream).is_some_and(|r| r.congested());
        let now = self.now;
        match self.keyframes.get_mut(&(stream, small)) {
            Some((last, due)) if congested && now < *last + CONGESTED_KEYFRAME_GAP => {
                *due = Some(*last + CONGESTED_KEYFRAME_GAP);
            }
            _ => self.make_keyframe(stream, small),
        }
    }

    /// Keyframes held back whose time has come.
    pub(super) fn held_keyframes(&mut self, now: Instant) {
        let due: Vec<(Stream, bool)> = self
            .keyframes
            .iter()
            .filter(|(_, (_, due))| due.is_some_and(|d| d <= now))
            .map(|(k, _)| *k)
            .collect();
        for (stream, small) in due {
            self.make_keyframe(stream, small);
        }
    }

    fn make_keyframe(&mut self, stream: Stream, small: bool) {
        self.keyframes.insert((stream, small), (self.now, None));
        if let Some(c) = self.video_controls.get(&stream) {
            let flag = if small {
                &c.force_small_keyframe
            } else {
                &c.force_keyframe
            };
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// Our resends are not copied from registering a camera or screen share until the first
    /// receiver report says what the loss is, nor while a rate cut for congestion takes
    /// effect ([`Repairs::hold_resends`]). Our video is not copied then either, nor while
    /// round trips say packets queue ([`Repairs::hold_video`]).
    pub(super) fn judge_repairs(&mut self) {
        let unjudged = self.video_rates.is_empty();
        let cut = self.video_rates.values().any(|r| r.congested());
        self.repairs.hold_resends(unjudged || cut);
        self.repairs.hold_audio(cut);
        // A cut on a jittery link is more often the jitter's doing than a full one: copies
        // of video go on (their measure stays on what the server saw lost).
        let queueing = self.video_rates.values().any(|r| r.queueing());
        let jittery = self.video_rates.values().any(|r| r.jittery());
        self.repairs
            .hold_video(unjudged || queueing || (cut && !jittery));
    }

    /// Our video on `stream` lost `loss`: its capture gets the rate the loss allows.
    fn video_loss_report(&mut self, stream: Stream, loss: f32, rtt: Option<Duration>) {
        let Some(c) = self.video_controls.get(&stream) else {
            return;
        };
        let wanted = u64::from(c.bitrate_bps.load(Ordering::Relaxed));
        let limit = self
            .video_rates
            .entry(stream)
            .or_default()
            .report(loss, rtt, wanted);
        limit_video(c, &self.registry, stream, limit);
    }

    /// The server measured what it never got of our video (`roomcast_rtc::arrivals`) and how
    /// long it waited in a queue (`roomcast_rtc::queue`): whether it goes out twice, and
    /// whether its copies fit our uplink (`roomcast_rtc::fit`). Where they do not, or may
    /// not (`Fit::Doubtful`), each stream sends less so that they do: stopping them would
    /// leave the video to the link's own loss.
    pub(super) fn uplink_measured(&mut self, loss: Loss, queue: Duration) {
        // A full link, which loses runs as well, is told by the rate's cuts and round trips
        // (`judge_repairs`).
        let link = self.repairs.video_link_loss(loss.own());
        // The measure is of what was sent before this judgement.
        let was_copying = self.repairs.copying_video();
        self.repairs.judge_video(link);
        let measured = (loss.lost, queue);
        let fit = self.copies_fit.measure(self.now, measured, was_copying);
        let copying = self.repairs.copying_video();
        for (stream, c) in &self.video_controls {
            let wanted = u64::from(c.bitrate_bps.load(Ordering::Relaxed));
            let Some(rate) = self.video_rates.get_mut(stream) else {
                continue;
            };
            if !copying {
                rate.copies_stopped();
                continue;
            }
            rate.copies_going(wanted);
            if fit == Fit::Fits {
                continue;
            }
            let Some(limit) = rate.copies_flood(wanted, fit == Fit::DoesNotFit) else {
                continue;
            };
            tracing::debug!(
                "copies of {stream:?} may not fit ({:.2} lost, {queue:?} queued): {limit} bit/s",
                loss.lost
            );
            self.copies_fit.answered(self.now);
            limit_video(c, &self.registry, *stream, Some(limit));
        }
    }
}

/// `stream`'s capture (`c`) may send `limit` (None: what it wants).
fn limit_video(c: &Controls, registry: &Registry, stream: Stream, limit: Option<u64>) {
    let bps = limit.map_or(0, |l| u32::try_from(l).unwrap_or(u32::MAX));
    c.network_bps.store(bps, Ordering::Relaxed);
    if stream == Stream::Main {
        lock(&registry.local).camera_limit_bps = limit;
    }
}
