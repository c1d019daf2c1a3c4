//! A parity datagram after every few packets of video, so a receiver can rebuild one lost
//! without asking for it again (forward error correction between our own ends: the engine
//! and the server; browsers get none).
//!
//! While a link loses a tenth of its video or more at random, video goes out twice
//! ([`crate::repair`]) and a packet is still lost 4 % of the time at 20 % loss. Each of
//! those waited for a request and a resend, a round trip that 0–700 ms of jitter each way
//! stretches to 1.4 s, and now and then a second one: the frames behind it froze. With
//! the XOR of every [`GROUP`] packets sent along (twice too), a packet lost both times comes
//! back as soon as the rest of its group and one parity copy are in: at 20 % loss it is
//! then lost about one time in 170 instead of one in 25, for a quarter more of video's
//! bytes (half of them while video goes out twice).
//!
//! The parity covers whole SRTP datagrams (header, encrypted payload, authentication tag):
//! the one rebuilt is the one sent, and str0m authenticates it as any other. A forged or
//! garbled parity rebuilds a datagram str0m rejects.
//!
//! A parity datagram: [`MARK`] (a first byte RFC 7983 gives nothing: STUN, DTLS and RTP
//! demultiplexers drop it), how many packets it covers, their SSRC, the first one's
//! sequence number (the rest follow it), the XOR of their lengths, and the XOR of their
//! bytes (each padded with zeros to the longest).

use std::collections::{HashMap, VecDeque};

/// The first byte of a parity datagram.
pub const MARK: u8 = 0xFC;
/// How many packets of video one parity covers.
pub const GROUP: u8 = 4;
/// Mark, count, SSRC, first sequence number, XOR of lengths.
const HEADER: usize = 10;
/// The most SSRCs followed each way (a camera's layers and a screen share, with room).
const MAX_STREAMS: usize = 8;
/// How many recent packets of video a receiver keeps per SSRC to rebuild from (some 2 s
/// at 600 kbit/s: under 0–700 ms of jitter a group's packets come that far apart).
const KEPT: usize = 256;
/// How many parities wait for the rest of their group.
const WAITING: usize = 64;

/// Whether `d` is a parity datagram.
pub fn is_parity(d: &[u8]) -> bool {
    d.first() == Some(&MARK)
}

/// An RTP datagram's SSRC and sequence number.
fn ssrc_seq(d: &[u8]) -> Option<(u32, u16)> {
    if d.len() < 12 || d[0] >> 6 != 2 {
        return None;
    }
    let seq = u16::from_be_bytes([d[2], d[3]]);
    let ssrc = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
    Some((ssrc, seq))
}

fn xor_into(acc: &mut Vec<u8>, d: &[u8]) {
    if acc.len() < d.len() {
        acc.resize(d.len(), 0);
    }
    for (a, b) in acc.iter_mut().zip(d) {
        *a ^= b;
    }
}

/// The packets of one SSRC since its last parity.
#[derive(Debug, Clone, Default)]
struct Group {
    first: u16,
    count: u8,
    lengths: u16,
    bytes: Vec<u8>,
}

/// Makes the parity datagrams for what one end sends.
#[derive(Debug, Clone, Default)]
pub struct ParitySender {
    groups: HashMap<u32, Group>,
}

impl ParitySender {
    /// A packet of video (a first transmission) went out: the parity datagram to send
    /// after it, once it completes a group.
    pub fn sent(&mut self, d: &[u8]) -> Option<Vec<u8>> {
        let (ssrc, seq) = ssrc_seq(d)?;
        if !self.groups.contains_key(&ssrc) && self.groups.len() >= MAX_STREAMS {
            self.groups.clear();
        }
        let g = self.groups.entry(ssrc).or_default();
        // A group covers packets that follow one another.
        if g.count > 0 && seq != g.first.wrapping_add(u16::from(g.count)) {
            *g = Group::default();
        }
        if g.count == 0 {
            g.first = seq;
        }
        xor_into(&mut g.bytes, d);
        g.lengths ^= d.len() as u16;
        g.count += 1;
        if g.count < GROUP {
            return None;
        }
        let g = std::mem::take(g);
        let mut p = Vec::with_capacity(HEADER + g.bytes.len());
        p.extend([MARK, g.count]);
        p.extend(ssrc.to_be_bytes());
        p.extend(g.first.to_be_bytes());
        p.extend(g.lengths.to_be_bytes());
        p.extend(g.bytes);
        Some(p)
    }

    /// Forgets groups begun (after a pause in copying, a group would cover too few).
    pub fn reset(&mut self) {
        self.groups.clear();
    }
}

/// A parity received, waiting for the rest of its group.
#[derive(Debug, Clone)]
struct Parity {
    ssrc: u32,
    first: u16,
    count: u8,
    lengths: u16,
    bytes: Vec<u8>,
}

impl Parity {
    fn parse(p: &[u8]) -> Option<Self> {
        if p.len() <= HEADER || !is_parity(p) || !(2..=GROUP).contains(&p[1]) {
            return None;
        }
        Some(Parity {
            ssrc: u32::from_be_bytes([p[2], p[3], p[4], p[5]]),
            first: u16::from_be_bytes([p[6], p[7]]),
            count: p[1],
            lengths: u16::from_be_bytes([p[8], p[9]]),
            bytes: p[HEADER..].to_vec(),
        })
    }

    fn seqs(&self) -> impl Iterator<Item = u16> + '_ {
        (0..u16::from(self.count)).map(|i| self.first.wrapping_add(i))
    }
}

/// What a parity can do now.
enum Outcome {
    /// Its whole group is in: nothing to rebuild.
    Done,
    /// The one packet of its group missing, rebuilt.
    Rebuilt(Vec<u8>),
    /// More than one is missing (yet).
    Wait,
}

/// Recent packets of one SSRC.
#[derive(Debug, Clone, Default)]
struct Kept {
    by_seq: HashMap<u16, Vec<u8>>,
    order: VecDeque<u16>,
}

/// Rebuilds lost video from the parity datagrams the other end sends.
#[derive(Debug, Clone, Default)]
pub struct ParityReceiver {
    streams: HashMap<u32, Kept>,
    waiting: VecDeque<Parity>,
    /// Packets are only kept once the other end sends parities.
    active: bool,
}

impl ParityReceiver {
    /// A packet of video (a first transmission, not a copy) arrived: the packet a waiting
    /// parity rebuilds with it, if any.
    pub fn arrived(&mut self, d: &[u8]) -> Option<Vec<u8>> {
        if !self.active {
            return None;
        }
        let (ssrc, seq) = ssrc_seq(d)?;
        self.keep(ssrc, seq, d);
        let i = self
            .waiting
            .iter()
            .position(|p| p.ssrc == ssrc && seq.wrapping_sub(p.first) < u16::from(p.count))?;
        let p = self.waiting.remove(i)?;
        self.settle(p)
    }

    /// A parity datagram arrived: the packet it rebuilds, if its group lacks just one.
    pub fn parity(&mut self, d: &[u8]) -> Option<Vec<u8>> {
        let p = Parity::parse(d)?;
        self.active = true;
        self.settle(p)
    }

    /// Rebuilds with `p` if it can; keeps it waiting if it cannot yet.
    fn settle(&mut self, p: Parity) -> Option<Vec<u8>> {
        match self.outcome(&p) {
            Outcome::Done => None,
            Outcome::Rebuilt(d) => {
                let (ssrc, seq) = (p.ssrc, p.seqs().find(|s| !self.has(p.ssrc, *s))?);
                self.keep(ssrc, seq, &d);
                Some(d)
            }
            Outcome::Wait => {
                if self.waiting.len() >= WAITING {
                    self.waiting.pop_front();
                }
                self.waiting.push_back(p);
                None
            }
        }
    }

    fn has(&self, ssrc: u32, seq: u16) -> bool {
        self.streams
            .get(&ssrc)
            .is_some_and(|k| k.by_seq.contains_key(&seq))
    }

    fn outcome(&self, p: &Parity) -> Outcome {
        let kept = self.streams.get(&p.ssrc);
        let mut missing = None;
        let mut bytes = p.bytes.clone();
        let mut length = p.lengths;
        for seq in p.seqs() {
            match kept.and_then(|k| k.by_seq.get(&seq)) {
                Some(d) => {
                    if d.len() > bytes.len() {
                        return Outcome::Done; // not the group this parity was made from
                    }
                    xor_into(&mut bytes, d);
                    length ^= d.len() as u16;
                }
                None if missing.is_some() => return Outcome::Wait,
                None => missing = Some(seq),
            }
        }
        let Some(seq) = missing else {
            return Outcome::Done;
        };
        let length = usize::from(length);
        if length > bytes.len() {
            return Outcome::Done;
        }
        bytes.truncate(length);
        // What was rebuilt must be the packet missing (str0m authenticates the rest).
        if ssrc_seq(&bytes) != Some((p.ssrc, seq)) {
            return Outcome::Done;
        }
        Outcome::Rebuilt(bytes)
    }

    fn keep(&mut self, ssrc: u32, seq: u16, d: &[u8]) {
        if !self.streams.contains_key(&ssrc) && self.streams.len() >= MAX_STREAMS {
            self.streams.clear();
        }
        let k = self.streams.entry(ssrc).or_default();
        if k.by_seq.insert(seq, d.to_vec()).is_none() {
            k.order.push_back(seq);
        }
        while k.order.len() > KEPT {
            if let Some(old) = k.order.pop_front() {
                k.by_seq.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RTP-looking datagram of `len` bytes (at least 12).
    fn packet(ssrc: u32, seq: u16, len: usize) -> Vec<u8> {
        let mut d: Vec<u8> = (0..len).map(|i| (i * 7 + usize::from(seq)) as u8).collect();
        d[0] = 0x80;
        d[1] = 102;
        d[2..4].copy_from_slice(&seq.to_be_bytes());
        d[8..12].copy_from_slice(&ssrc.to_be_bytes());
        d
    }

    fn group(ssrc: u32, from: u16) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut s = ParitySender::default();
        let packets: Vec<Vec<u8>> = (0..u16::from(GROUP))
            .map(|i| packet(ssrc, from.wrapping_add(i), 900 + 37 * usize::from(i)))
            .collect();
        let mut parity = None;
        for (i, p) in packets.iter().enumerate() {
            let out = s.sent(p);
            assert_eq!(out.is_some(), i + 1 == usize::from(GROUP));
            parity = parity.or(out);
        }
        (packets, parity.expect("a parity per group"))
    }

    #[test]
    fn any_one_lost_packet_of_a_group_is_rebuilt_as_sent() {
        for lost in 0..usize::from(GROUP) {
            let (packets, parity) = group(7, 65_534);
            assert!(is_parity(&parity));
            let mut r = ParityReceiver::default();
            // The parity first (it turns keeping on), then the rest.
            assert_eq!(r.parity(&parity), None, "three are missing");
            let mut rebuilt = None;
            for (i, p) in packets.iter().enumerate() {
                if i != lost {
                    rebuilt = rebuilt.or(r.arrived(p));
                }
            }
            assert_eq!(rebuilt.as_ref(), Some(&packets[lost]), "lost {lost}");
        }
    }

    #[test]
    fn a_parity_after_its_group_rebuilds_at_once_and_two_lost_are_not_guessed() {
        let (packets, parity) = group(7, 100);
        let mut r = ParityReceiver {
            active: true,
            ..Default::default()
        };
        for p in &packets[1..] {
            assert_eq!(r.arrived(p), None);
        }
        assert_eq!(r.parity(&parity).as_ref(), Some(&packets[0]));
        // The lost one turning up late changes nothing.
        assert_eq!(r.arrived(&packets[0]), None);
        // Two of a group lost: nothing comes back, however long it waits.
        let (packets, parity) = group(7, 200);
        assert_eq!(r.parity(&parity), None);
        for p in &packets[2..] {
            assert_eq!(r.arrived(p), None);
        }
        // A whole group in: the parity is not needed.
        let (packets, parity) = group(7, 300);
        for p in &packets {
            r.arrived(p);
        }
        assert_eq!(r.parity(&parity), None);
    }

    #[test]
    fn groups_are_made_of_packets_that_follow_one_another_per_stream() {
        let mut s = ParitySender::default();
        assert_eq!(s.sent(&packet(1, 10, 100)), None);
        assert_eq!(s.sent(&packet(2, 50, 100)), None, "another stream");
        assert_eq!(s.sent(&packet(1, 11, 100)), None);
        // 12 never went out: the group starts again from 13.
        for seq in 13..16 {
            assert_eq!(s.sent(&packet(1, seq, 100)), None);
        }
        let p = s.sent(&packet(1, 16, 100)).expect("13 to 16");
        assert_eq!(u16::from_be_bytes([p[6], p[7]]), 13);
        // Not RTP: not covered.
        assert_eq!(s.sent(&[0x16; 40]), None);
    }

    #[test]
    fn forged_or_garbled_parities_rebuild_nothing() {
        let (packets, parity) = group(7, 100);
        let mut r = ParityReceiver::default();
        for bad in [
            parity[..HEADER].to_vec(),
            vec![MARK; 3],
            {
                let mut b = parity.clone();
                b[1] = 9; // covers more than a group can
                b
            },
            {
                let mut b = parity.clone();
                b[HEADER + 3] ^= 0xFF; // garbles the rebuilt sequence number
                b
            },
        ] {
            r.parity(&bad);
        }
        for p in &packets[1..] {
            assert_eq!(r.arrived(p), None);
        }
        // Memory stays bounded whatever comes.
        for i in 0..10_000u32 {
            r.parity(&{
                let mut b = parity.clone();
                b[2..6].copy_from_slice(&i.to_be_bytes());
                b
            });
            r.arrived(&packet(i, i as u16, 60));
        }
        assert!(r.waiting.len() <= WAITING);
        assert!(r.streams.len() <= MAX_STREAMS);
        assert!(r.streams.values().all(|k| k.by_seq.len() <= KEPT));
    }
}
