//! Connectivity checks while a connection is being set up. ICE needs two answered checks
//! before DTLS may start (one to find the pair, one to nominate it), and on a link losing
//! 70 % each way a check and its answer both arrive 9 % of the time: with a check every
//! 250 ms, the two took 5 s on average and up to 13 s. So until the connection is up, each
//! check and each answer goes out [`COPIES`] times; a check then gets an answer back about
//! half the time. The copies are byte for byte the same (same transaction), so the peer
//! answers each copy it gets and ignores answers it has had. Once connected, checks are
//! single again: they only keep the pair alive.

use str0m::net::Transmit;

/// How many times a check (or its answer) goes out while the connection is not up.
pub const COPIES: usize = 3;

/// Whether a datagram is STUN, i.e. a connectivity check or its answer (RFC 7983: a first
/// byte of 0–3; RFC 8489: the magic cookie).
pub fn is_check(datagram: &[u8]) -> bool {
    datagram.len() >= 20 && datagram[0] <= 3 && datagram[4..8] == [0x21, 0x12, 0xA4, 0x42]
}

/// The extra copies `t` needs: [`COPIES`] − 1 of a check while the connection is not
/// `connected`, none otherwise.
pub fn extra_copies(t: &Transmit, connected: bool) -> impl Iterator<Item = Transmit> + '_ {
    let n = if !connected && is_check(&t.contents) {
        COPIES - 1
    } else {
        0
    };
    (0..n).map(|_| copy(t))
}

/// The same datagram again, to the same place.
pub(crate) fn copy(t: &Transmit) -> Transmit {
    Transmit {
        proto: t.proto,
        source: t.source,
        destination: t.destination,
        contents: t.contents.to_vec().into(),
    }
}

/// A datagram of `contents` between two loopback ports, for tests.
#[cfg(test)]
pub(crate) fn transmit(contents: Vec<u8>) -> Transmit {
    Transmit {
        proto: str0m::net::Protocol::Udp,
        source: ([127, 0, 0, 1], 1).into(),
        destination: ([127, 0, 0, 1], 2).into(),
        contents: contents.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request() -> Vec<u8> {
        let mut d = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        d.extend([7; 12]);
        d
    }

    #[test]
    fn a_check_goes_out_three_times_until_connected() {
        let t = transmit(binding_request());
        let copies: Vec<Transmit> = extra_copies(&t, false).collect();
        assert_eq!(copies.len(), COPIES - 1);
        assert!(copies.iter().all(|c| *c.contents == *t.contents));
        assert_eq!(extra_copies(&t, true).count(), 0);
    }

    #[test]
    fn media_and_dtls_are_not_copied() {
        // An SRTP packet (version 2) and a DTLS handshake record.
        for first in [0x80, 22] {
            let mut d = binding_request();
            d[0] = first;
            assert_eq!(extra_copies(&transmit(d), false).count(), 0);
        }
        assert_eq!(extra_copies(&transmit(vec![0; 8]), false).count(), 0);
    }
}
