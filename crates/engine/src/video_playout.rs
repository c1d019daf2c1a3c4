//! When a received video frame is decoded and shown, sans-IO: the caller passes the time to
//! every call.
//!
//! Frames come from str0m in decode order, but not evenly. When a packet is lost, the frame
//! waits (at the server, which forwards in the publisher's order, or here) for its resend,
//! and the frames behind it then arrive together. Shown as they come, the wait is a freeze
//! and the burst a blur of frames; on a link with 0–700 ms of jitter and 20 % loss that was
//! a freeze of more than 500 ms about every 1.5 s. Here a frame is due at its send time (its
//! RTP timestamp) plus the fastest transit seen over the last [`WINDOW_US`] plus a target
//! delay covering [`PERCENTILE`] of recent frames' extra delay but for a short stall
//! ([`STALL_US`]), so frames that come late but within the target are shown at their own
//! pace. On a clean link, or one whose resends come within the stall, the target is 0 and
//! frames show as they come; so does a single longer stall in an otherwise calm window
//! ([`LONE_STALL_US`]), until it happens again.
//!
//! Frames leave in arrival order (the decoder needs them so), each once due. The target grows
//! at once when frames come later (a frame shown late is a freeze anyway) and shrinks by at
//! most [`SHRINK_PER_S`] per second, so the picture speeds up unnoticeably rather than jumps.
//! A timestamp jump (a new stream, another simulcast layer) starts over, showing what was
//! queued at once. The delay is capped at [`MAX_DELAY_US`]: video waits no longer than that.
//!
//! No frame for [`OUTAGE_US`] is an outage, not jitter: what was queued goes out at once,
//! and so do the frames that then come in a burst (the sender's queue from before the link
//! came back, seconds old), until frames come at their own pace again. Only then does the
//! playout start over. Held to cover that burst, the picture ran 1.4–2.5 s behind for the
//! next 15–25 s.

use std::collections::VecDeque;

/// How far back arrivals are remembered for the fastest transit and the target.
pub const WINDOW_US: u64 = 10_000_000;
/// The share of recent frames the target covers. With 98 %, frames waiting for a second
/// try at a resend still froze the picture now and then at 20 % loss and 0–700 ms of
/// jitter (37–45 freezes in 20 calls of 40 s); with 99 %, 25–34, frames held about as long.
/// Once parities rebuilt most lost packets (`roomcast_rtc::parity`), frames came sooner and
/// the hold shrank with them (median 693 → 572 ms), freezing as often; 99.5 % (what the
/// audio's jitter buffer covers) gave back 60 ms for a fifth fewer freezes (18 → 14 in a
/// replay of 48 recorded calls). At 15 frames a second that is the longest wait of the
/// window, at 30 the second longest.
pub const PERCENTILE: f64 = 0.995;
/// A stall this short is left to show: the target covers recent delays less this much. On
/// a loopback losing 5 % each way, a frame waiting for a resend came 150–170 ms late, and
/// holding every frame that long made video lag the audio for the sake of a 2-frame hitch
/// now and then; a freeze (500 ms) is what the playout is for.
pub const STALL_US: f64 = 150_000.0;
/// Where frames are held for jitter anyway, the stall is not left to show: the allowance
/// shrinks from [`STALL_US`] at this much of recent delay to nothing at
/// [`STALL_TAPER_US`]`.1`. There a hitch is no longer 150 ms of a short hold but a third of
/// a long one, and a frame that needed a resend on top of the jitter came in just after it:
/// at 20 % loss and 0–700 ms of jitter on the publisher's link, 73 freezes over 500 ms in 96
/// calls with the allowance, 38 without, frames held 540 ms instead of 390 (median).
pub const STALL_TAPER_US: (f64, f64) = (300_000.0, 450_000.0);
/// A stall seen once in a window otherwise calm is left to show, if shorter than this (a
/// freeze). On a loopback losing 5 % each way, one frame 350 ms late (a resend lost again,
/// or the machine busy for a moment) otherwise held every frame after it 250 ms for the
/// next 10 s, video lagging the audio all that time. Seen a second time, it is the link's
/// and covered.
pub const LONE_STALL_US: f64 = 500_000.0;
/// Frames arriving this close to the latest are the same stall (those queued behind it).
pub const INCIDENT_US: u64 = 1_000_000;
/// How many calm frames make a window calm: 2 s at 15 a second. Fewer (just after a start,
/// or after a switch to another layer on a bad link) tell nothing.
pub const CALM_FRAMES: usize = 30;
/// The longest a frame is held.
pub const MAX_DELAY_US: u64 = 2_500_000;
/// No frame for this long is an outage. A frame waiting for its resends at 40 % loss and
/// 0–700 ms of jitter held those behind it for up to 3.5 s: holding them to their pace
/// after that froze the picture less often than showing them at once (55–63 freezes over
/// 500 ms in 12 calls against 70–83).
pub const OUTAGE_US: u64 = 5_000_000;
/// How fast the target comes down, µs per second.
pub const SHRINK_PER_S: f64 = 100_000.0;
/// A timestamp this far from the last one is a new stream.
const JUMP_US: f64 = 5_000_000.0;
/// Video RTP timestamps run at 90 kHz.
const RTP_RATE: f64 = 90_000.0;
/// More queued than this (a stalled caller, a sender's clock far off) goes out at once.
const MAX_QUEUED: usize = 256;

/// Holds received frames (`T`) until they are due.
pub struct VideoPlayout<T> {
    /// Frames waiting, with their send time in µs (from the RTP timestamp).
    queue: VecDeque<(f64, T)>,
    /// Frames to hand out at once (queued before a timestamp jump).
    flush: VecDeque<T>,
    /// Recent arrivals: (arrival µs, transit µs = arrival − send time).
    arrivals: VecDeque<(u64, f64)>,
    /// The fastest transit in the window.
    base_us: f64,
    /// The extra delay over the fastest transit frames are shown at.
    target_us: f64,
    /// When the target was last moved, µs.
    updated_us: Option<u64>,
    last_send_us: Option<f64>,
    last_arrival_us: Option<u64>,
    /// After an outage, until frames come at their own pace again: shown at once.
    catching_up: bool,
}

impl<T> Default for VideoPlayout<T> {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            flush: VecDeque::new(),
            arrivals: VecDeque::new(),
            base_us: 0.0,
            target_us: 0.0,
            updated_us: None,
            last_send_us: None,
            last_arrival_us: None,
            catching_up: false,
        }
    }
}

impl<T> VideoPlayout<T> {
    /// A frame with (unwrapped, 90 kHz) RTP timestamp `rtp_ts` arrived at `now_us`.
    pub fn push(&mut self, now_us: u64, rtp_ts: u64, frame: T) {
        let send_us = rtp_ts as f64 * 1_000_000.0 / RTP_RATE;
        if self
            .last_send_us
            .is_some_and(|last| (send_us - last).abs() > JUMP_US)
        {
            self.start_over();
        }
        if self.outage_or_burst(now_us, send_us) {
            self.last_send_us = Some(send_us);
            self.last_arrival_us = Some(now_us);
            self.flush.push_back(frame);
            return;
        }
        self.last_send_us = Some(send_us);
        self.last_arrival_us = Some(now_us);
        self.arrivals.push_back((now_us, now_us as f64 - send_us));
        while self
            .arrivals
            .front()
            .is_some_and(|&(t, _)| t + WINDOW_US < now_us)
        {
            self.arrivals.pop_front();
        }
        self.update_target(now_us);
        self.queue.push_back((send_us, frame));
        if self.queue.len() > MAX_QUEUED
            && let Some((_, f)) = self.queue.pop_front()
        {
            self.flush.push_back(f);
        }
    }

    /// Shows what is queued at once and forgets the delays seen.
    fn start_over(&mut self) {
        self.flush.extend(self.queue.drain(..).map(|(_, f)| f));
        self.arrivals.clear();
        self.target_us = 0.0;
    }

    /// Whether a frame sent at `send_us` arriving at `now_us` ends an outage, or is part of
    /// the burst after one: frames arriving faster than twice their own pace.
    fn outage_or_burst(&mut self, now_us: u64, send_us: f64) -> bool {
        let Some(last) = self.last_arrival_us else {
            return false;
        };
        let waited = now_us.saturating_sub(last);
        if waited > OUTAGE_US {
            self.start_over();
            self.catching_up = true;
            return true;
        }
        if self.catching_up {
            let pace = send_us - self.last_send_us.unwrap_or(send_us);
            self.catching_up = (waited as f64) * 2.0 < pace;
        }
        self.catching_up
    }

    fn update_target(&mut self, now_us: u64) {
        self.base_us = self
            .arrivals
            .iter()
            .map(|&(_, t)| t)
            .fold(f64::INFINITY, f64::min);
        let lone = self.lone_stall();
        let mut extra: Vec<f64> = self
            .arrivals
            .iter()
            .filter(|&&(at, _)| lone.is_none_or(|l| at.abs_diff(l) > INCIDENT_US))
            .map(|&(_, t)| t - self.base_us)
            .collect();
        extra.sort_by(f64::total_cmp);
        let i = ((extra.len() as f64 * PERCENTILE) as usize).min(extra.len().saturating_sub(1));
        let worst = extra.get(i).copied().unwrap_or(0.0);
        let needed = (worst - stall_allowance(worst)).clamp(0.0, MAX_DELAY_US as f64);
        let elapsed_s = self
            .updated_us
            .map_or(0.0, |u| now_us.saturating_sub(u) as f64 / 1e6);
        self.updated_us = Some(now_us);
        let lowest = self.target_us - SHRINK_PER_S * elapsed_s;
        self.target_us = needed.max(lowest);
    }

    /// When the window's latest frame came (µs), if it is a lone stall: under
    /// [`LONE_STALL_US`] late, and every frame arriving more than [`INCIDENT_US`] from it
    /// within [`STALL_TAPER_US`]`.0`, at least [`CALM_FRAMES`] of them.
    fn lone_stall(&self) -> Option<u64> {
        let extra = |t: f64| t - self.base_us;
        let &(at, worst) = self.arrivals.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
        let (mut elsewhere, mut calm) = (0, true);
        for &(t, transit) in &self.arrivals {
            if t.abs_diff(at) > INCIDENT_US {
                elsewhere += 1;
                calm &= extra(transit) <= STALL_TAPER_US.0;
            }
        }
        let lone = extra(worst) < LONE_STALL_US && calm && elsewhere >= CALM_FRAMES;
        lone.then_some(at)
    }

    /// When the frame at `send_us` is due.
    fn due_us(&self, send_us: f64) -> f64 {
        send_us + self.base_us + self.target_us
    }

    /// The next frame to decode and show at `now_us`, if one is due.
    pub fn pop(&mut self, now_us: u64) -> Option<T> {
        if let Some(f) = self.flush.pop_front() {
            return Some(f);
        }
        let &(send_us, _) = self.queue.front()?;
        if self.due_us(send_us) <= now_us as f64 {
            self.queue.pop_front().map(|(_, f)| f)
        } else {
            None
        }
    }

    /// When the next frame is due (µs; at once if something is to be flushed), if any.
    pub fn next_due_us(&self) -> Option<u64> {
        if !self.flush.is_empty() {
            return Some(0);
        }
        let &(send_us, _) = self.queue.front()?;
        Some(self.due_us(send_us).max(0.0).ceil() as u64)
    }

    /// The delay frames are held for beyond the fastest transit, ms.
    pub fn target_ms(&self) -> f64 {
        self.target_us / 1000.0
    }

    pub fn queued(&self) -> usize {
        self.queue.len() + self.flush.len()
    }
}

/// How much of a stall is left to show when recent frames came up to `extra_us` late.
fn stall_allowance(extra_us: f64) -> f64 {
    let (from, to) = STALL_TAPER_US;
    STALL_US * ((to - extra_us) / (to - from)).clamp(0.0, 1.0)
}

#[cfg(test)]
#[path = "video_playout_tests.rs"]
mod tests;
