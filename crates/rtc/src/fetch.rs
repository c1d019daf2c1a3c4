//! Asking the other end for a lost packet of video by its number, below SRTP (between our own
//! ends, like [`crate::parity`]). str0m's own NACKs depend on a round-trip sample: under
//! 0–700 ms of jitter each way one sample is anywhere from 0 to 1.4 s, and str0m asks again
//! one sample later and gives a packet up three samples after its last ask. With a long sample
//! a lost packet waited seconds; with a short one str0m gave up packets that were still on
//! their way, and the picture stopped until a keyframe (a third of the remaining freezes on a
//! publisher's link).
//!
//! So while parities come (the sender copies its video), the receiver asks itself: a packet
//! missing [`FIRST_ASK`] after a later one came is asked for, and again every [`ASK_EVERY`]
//! until it comes or [`GIVE_UP`] passes. The sender keeps what it sent ([`Keeper`]) and
//! answers with the very datagram (SRTP and all), so str0m authenticates it as any other,
//! and its replay check drops one that came twice. str0m sees the gap only once the
//! receiver's reorder hold (`crate::reorder`) ends, and then asks too.
//!
//! An ask goes twice ([`ASK_COPIES`]): one lost, or slow through the jitter, would leave its
//! packets unasked for until the next.
//!
//! An ask: [`ASK`], how many packets, then each one's SSRC, sequence number, and how many
//! times it was asked for (the sender answers each count once, not each copy). An answer:
//! [`ANSWER`] and the datagram. Both first bytes are ones RFC 7983 gives nothing (dropped
//! by STUN, DTLS and RTP demultiplexers). An ask is not authenticated: the answer goes only
//! to the address the peer's media comes from, and holds only what we sent it already.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::net::{Protocol, Transmit};

use crate::parity::ssrc_seq;

/// The first byte of an ask.
pub const ASK: u8 = 0xFD;
/// The first byte of an answer.
pub const ANSWER: u8 = 0xFE;
/// How long after a later packet came a missing one is asked for (most overtaken packets
/// come before: at 0–700 ms of jitter half of those overtaken by 100 ms or more did).
pub const FIRST_ASK: Duration = Duration::from_millis(100);
/// How often a missing packet is asked for again.
pub const ASK_EVERY: Duration = Duration::from_millis(100);
/// How long a missing packet is asked for (str0m gives it up by then; the frame is late).
pub const GIVE_UP: Duration = Duration::from_millis(1500);
/// Asks only go while a parity came this recently (the sender keeps its video).
const ACTIVE_FOR: Duration = Duration::from_secs(2);
/// The most packets missing at once per SSRC (more is an outage, not loss).
const MAX_MISSING: usize = 256;
/// A packet this far behind the highest means the stream started again (a late one is never
/// this late: 1.5 s of a 4 Mbit/s stream is some 700 packets).
const RESTARTED_BEHIND: u64 = 1000;
/// How many times each ask goes. At 20 % loss with 0–700 ms of jitter, in 768 calls of a
/// minute, freezes over 500 ms went from 35 to 15 on the publisher's link and from 20 to 6
/// on the subscriber's, for 5–7 % more bytes on the link (the answers to the asks that now
/// arrive).
pub const ASK_COPIES: usize = 2;
/// One packet in an ask: its SSRC, sequence number, and how many times it was asked for.
const ENTRY: usize = 7;
/// The most packets in one ask.
const MAX_ASKED: usize = 200;
/// The most SSRCs followed.
const MAX_STREAMS: usize = 8;
/// How many packets the sender keeps (a second and more of a 2 Mbit/s camera).
const KEPT: usize = 512;
/// A packet answered this recently is not sent again for another ask.
const ANSWERED_AGAIN_AFTER: Duration = Duration::from_millis(80);

pub fn is_ask(d: &[u8]) -> bool {
    d.first() == Some(&ASK)
}

pub fn is_answer(d: &[u8]) -> bool {
    d.first() == Some(&ANSWER)
}

/// The datagram an answer carries.
pub fn answered(d: &[u8]) -> Option<&[u8]> {
    is_answer(d).then(|| &d[1..]).filter(|d| d.len() >= 12)
}

#[derive(Debug, Clone)]
struct Missing {
    since: Instant,
    ask_at: Instant,
    /// How many times it was asked for.
    asks: u8,
}

/// One SSRC's highest packet (extended over wraps) and those missing below it.
#[derive(Debug, Clone, Default)]
struct Stream {
    highest: Option<u64>,
    missing: BTreeMap<u64, Missing>,
}

impl Stream {
    fn extend(&self, seq: u16) -> u64 {
        let Some(h) = self.highest else {
            return u64::from(seq) + (1 << 16);
        };
        let base = h & !0xFFFF;
        [base.wrapping_sub(1 << 16), base, base + (1 << 16)]
            .into_iter()
            .map(|b| b + u64::from(seq))
            .min_by_key(|c| c.abs_diff(h))
            .unwrap_or(h)
    }
}

/// The receiving end: which packets of video are missing, and when to ask for them.
#[derive(Debug, Clone, Default)]
pub struct Asker {
    streams: HashMap<u32, Stream>,
    parity_at: Option<Instant>,
}

impl Asker {
    /// A parity came: the sender keeps its video and answers asks.
    pub fn parity_seen(&mut self, now: Instant) {
        self.parity_at = Some(now);
    }

    /// Whether asks go now.
    pub fn active(&self, now: Instant) -> bool {
        self.parity_at
            .is_some_and(|at| now.saturating_duration_since(at) < ACTIVE_FOR)
    }

    /// A packet of video came (or was rebuilt, or answered).
    pub fn arrived(&mut self, now: Instant, d: &[u8]) {
        let Some((ssrc, seq)) = ssrc_seq(d) else {
            return;
        };
        if !self.active(now) {
            self.streams.clear();
            return;
        }
        if !self.streams.contains_key(&ssrc) && self.streams.len() >= MAX_STREAMS {
            self.streams.clear();
        }
        let s = self.streams.entry(ssrc).or_default();
        let n = s.extend(seq);
        match s.highest {
            // Far behind: the stream started again (numbers are not asked for backwards).
            Some(h) if h.saturating_sub(n) > RESTARTED_BEHIND => {
                *s = Stream::default();
                s.highest = Some(s.extend(seq));
            }
            Some(h) if n <= h => {
                s.missing.remove(&n);
            }
            Some(h) => {
                if n - h > MAX_MISSING as u64 {
                    s.missing.clear();
                } else {
                    let ask_at = now + FIRST_ASK;
                    for m in h + 1..n {
                        let missing = Missing {
                            since: now,
                            ask_at,
                            asks: 0,
                        };
                        s.missing.insert(m, missing);
                    }
                }
                s.highest = Some(n);
            }
            None => s.highest = Some(n),
        }
        while s.missing.len() > MAX_MISSING {
            s.missing.pop_first();
        }
    }

    /// The ask to send at `now`, if any packet is due to be asked for.
    pub fn due(&mut self, now: Instant) -> Option<Vec<u8>> {
        if !self.active(now) {
            return None;
        }
        let mut ask = vec![ASK, 0];
        let mut count = 0;
        for (ssrc, s) in &mut self.streams {
            s.missing
                .retain(|_, m| now.saturating_duration_since(m.since) < GIVE_UP);
            for (n, m) in s.missing.iter_mut() {
                if m.ask_at > now || count == MAX_ASKED {
                    continue;
                }
                m.ask_at = now + ASK_EVERY;
                m.asks = m.asks.saturating_add(1);
                ask.extend(ssrc.to_be_bytes());
                ask.extend((*n as u16).to_be_bytes());
                ask.push(m.asks);
                count += 1;
            }
        }
        ask[1] = count as u8;
        (count > 0).then_some(ask)
    }

    /// The datagrams to send `to` the sender from `local` at `now`: the ask due, if any, in
    /// [`ASK_COPIES`].
    pub fn sends(&mut self, now: Instant, local: SocketAddr, to: SocketAddr) -> Vec<Transmit> {
        let Some(ask) = self.due(now) else {
            return Vec::new();
        };
        let t = Transmit {
            proto: Protocol::Udp,
            source: local,
            destination: to,
            contents: ask.into(),
        };
        let mut sends: Vec<Transmit> = (1..ASK_COPIES).map(|_| crate::setup::copy(&t)).collect();
        sends.push(t);
        sends
    }

    /// When the next ask may be due.
    pub fn next_due(&self) -> Option<Instant> {
        self.streams
            .values()
            .flat_map(|s| s.missing.values().map(|m| m.ask_at))
            .min()
    }
}

/// A packet the sender keeps, and when it last answered it, for which count of asks.
#[derive(Debug, Clone)]
struct Kept {
    datagram: Vec<u8>,
    answered: Option<(Instant, u8)>,
}

/// The sending end: the video it sent lately, to answer asks with.
#[derive(Debug, Clone, Default)]
pub struct Keeper {
    kept: HashMap<(u32, u16), Kept>,
    order: VecDeque<(u32, u16)>,
}

impl Keeper {
    /// A packet of video (a first transmission) went out.
    pub fn sent(&mut self, d: &[u8]) {
        let Some(key) = ssrc_seq(d) else {
            return;
        };
        let kept = Kept {
            datagram: d.to_vec(),
            answered: None,
        };
        if self.kept.insert(key, kept).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > KEPT {
            if let Some(old) = self.order.pop_front() {
                self.kept.remove(&old);
            }
        }
    }

    /// The answers to an ask received at `now` (each packet we still have, unless it was
    /// answered a moment ago).
    pub fn asked(&mut self, now: Instant, ask: &[u8]) -> Vec<Vec<u8>> {
        if !is_ask(ask) || ask.len() < 2 {
            return Vec::new();
        }
        let count = usize::from(ask[1]);
        ask[2..]
            .chunks_exact(ENTRY)
            .take(count)
            .filter_map(|e| {
                let key = (
                    u32::from_be_bytes([e[0], e[1], e[2], e[3]]),
                    u16::from_be_bytes([e[4], e[5]]),
                );
                let kept = self.kept.get_mut(&key)?;
                // A copy of an ask answered already, or an ask right after an answer.
                if kept.answered.is_some_and(|(t, n)| {
                    n >= e[6] || now.saturating_duration_since(t) < ANSWERED_AGAIN_AFTER
                }) {
                    return None;
                }
                kept.answered = Some((now, e[6]));
                let mut answer = Vec::with_capacity(kept.datagram.len() + 1);
                answer.push(ANSWER);
                answer.extend_from_slice(&kept.datagram);
                Some(answer)
            })
            .collect()
    }

    /// Forgets what was kept (the sender stopped copying its video).
    pub fn clear(&mut self) {
        self.kept.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(ssrc: u32, seq: u16) -> Vec<u8> {
        let mut d = vec![0x80, 96];
        d.extend(seq.to_be_bytes());
        d.extend([0; 4]);
        d.extend(ssrc.to_be_bytes());
        d.extend([seq as u8; 20]);
        d
    }

    fn asked(ask: &[u8]) -> Vec<(u32, u16)> {
        ask[2..]
            .chunks_exact(ENTRY)
            .map(|e| {
                (
                    u32::from_be_bytes([e[0], e[1], e[2], e[3]]),
                    u16::from_be_bytes([e[4], e[5]]),
                )
            })
            .collect()
    }

    #[test]
    fn a_packet_still_missing_is_asked_for_until_it_comes_and_answered_with_what_was_sent() {
        let (mut a, mut k, t0) = (Asker::default(), Keeper::default(), Instant::now());
        let ms = Duration::from_millis;
        a.parity_seen(t0);
        for seq in [65534, 65535, 1, 2] {
            k.sent(&packet(7, seq));
            a.arrived(t0, &packet(7, seq));
        }
        k.sent(&packet(7, 0));
        assert_eq!(a.due(t0), None, "not at once: most are only overtaken");
        assert_eq!(a.next_due(), Some(t0 + FIRST_ASK));
        let ask = a.due(t0 + FIRST_ASK).expect("asked");
        assert_eq!(asked(&ask), [(7, 0)], "across the wrap");
        assert_eq!(a.due(t0 + ms(150)), None);
        let again = a.due(t0 + FIRST_ASK + ASK_EVERY).expect("asked again");
        let answers = k.asked(t0 + ms(200), &again);
        assert_eq!(answers.len(), 1);
        assert_eq!(answered(&answers[0]), Some(&packet(7, 0)[..]));
        assert!(
            k.asked(t0 + ms(210), &again).is_empty(),
            "not twice at once"
        );
        a.arrived(t0 + ms(250), answered(&answers[0]).unwrap());
        assert_eq!(a.due(t0 + ms(400)), None);
        assert_eq!(a.next_due(), None);
    }

    #[test]
    fn an_ask_goes_in_copies_and_only_one_of_them_is_answered() {
        let (mut a, mut k, t0) = (Asker::default(), Keeper::default(), Instant::now());
        let (local, to) = (
            "10.0.0.1:5000".parse().unwrap(),
            "10.0.0.2:6000".parse().unwrap(),
        );
        a.parity_seen(t0);
        for seq in [1, 3] {
            a.arrived(t0, &packet(9, seq));
        }
        k.sent(&packet(9, 2));
        assert!(a.sends(t0, local, to).is_empty());
        let asks = a.sends(t0 + FIRST_ASK, local, to);
        assert_eq!(asks.len(), ASK_COPIES);
        assert!(
            asks.iter()
                .all(|t| t.source == local && t.destination == to)
        );
        let answers = |k: &mut Keeper, t: &Transmit, at| k.asked(at, &t.contents).len();
        // The copies took different times through the jitter: the second came later than a
        // repeated ask would have been answered, and is still not answered again.
        let late = t0 + FIRST_ASK + ANSWERED_AGAIN_AFTER * 2;
        assert_eq!(answers(&mut k, &asks[1], t0 + FIRST_ASK), 1);
        assert_eq!(answers(&mut k, &asks[0], late), 0, "a copy");
        let again = a.sends(t0 + FIRST_ASK + ASK_EVERY, local, to);
        assert_eq!(answers(&mut k, &again[0], late), 1, "asked again: answered");
        assert_eq!(answers(&mut k, &again[1], late + ASK_EVERY), 0);
    }

    #[test]
    fn asks_stop_after_giving_up_and_without_parities() {
        let (mut a, t0) = (Asker::default(), Instant::now());
        a.arrived(t0, &packet(1, 10));
        a.arrived(t0, &packet(1, 12));
        assert_eq!(a.next_due(), None, "the sender sends no parities");
        a.parity_seen(t0);
        a.arrived(t0, &packet(1, 14));
        a.arrived(t0, &packet(1, 16));
        assert_eq!(asked(&a.due(t0 + FIRST_ASK).unwrap()), [(1, 15)]);
        a.parity_seen(t0 + GIVE_UP);
        assert_eq!(a.due(t0 + GIVE_UP), None, "given up");
        assert_eq!(a.due(t0 + GIVE_UP + ACTIVE_FOR), None);
    }

    #[test]
    fn a_stream_that_starts_again_lower_is_followed_again() {
        let (mut a, t0) = (Asker::default(), Instant::now());
        a.parity_seen(t0);
        a.arrived(t0, &packet(3, 40_000));
        a.arrived(t0, &packet(3, 30_000));
        a.arrived(t0, &packet(3, 30_002));
        assert_eq!(asked(&a.due(t0 + FIRST_ASK).unwrap()), [(3, 30_001)]);
    }

    #[test]
    fn garbage_asks_get_nothing() {
        let (mut k, now) = (Keeper::default(), Instant::now());
        k.sent(&packet(1, 1));
        assert!(k.asked(now, &[ASK]).is_empty());
        assert!(k.asked(now, &[ASK, 200, 0, 0, 0, 1, 0]).is_empty());
        assert!(k.asked(now, &[ASK, 1, 0, 0, 0, 2, 0, 1, 1]).is_empty());
        assert!(
            k.asked(now, &[ASK, 1, 0, 0, 0, 1, 0, 1]).is_empty(),
            "cut short"
        );
        assert_eq!(k.asked(now, &[ASK, 1, 0, 0, 0, 1, 0, 1, 1]).len(), 1);
        assert_eq!(answered(&[ANSWER, 1, 2]), None);
    }
}
