//! DTLS with handshake timers for lossy links. str0m's default (dimpl's) resends a lost
//! handshake flight after 1 s and gives up after four resends, the wait doubling each time:
//! on a link losing 30 % of datagrams a call often took seconds to connect, at 70 % never.
//! Here a flight is resent after 150 ms, doubling, and each side has a larger budget of
//! resends. The engine is the DTLS client (it offers `actpass`, the server answers
//! `passive`), so its timers drive the handshake; the server resends its flight whenever a
//! client's resend arrives, and those answers count against its budget too, so it needs one
//! as large.
//!
//! dimpl doubles the wait after every resend and cannot cap it: 150 ms, 300, … 9.6 s, 19 s.
//! On a link losing half its datagrams an unlucky handshake sat silent for ten seconds and
//! more. [`Handshake`] therefore sends the last flight again itself whenever nothing has gone
//! out for [`MAX_SILENCE`] while the handshake is under way. The copy carries the same
//! record numbers: a peer that had the original drops it, one that lost it reads it. The
//! server, whose flight ends the handshake, sends that flight again whenever the client
//! repeats its own, since that means the server's was lost.
//!
//! Each flight here is one datagram, and the handshake needs two round trips: on a link
//! losing 70 % each way a round trip succeeds 9 % of the time, and handshakes took 2.7 s
//! (median of 40 seeds), 7.4 s (90 %) and up to 22 s. So every flight datagram goes out
//! [`COPIES`] times: 0.2 s, 1.2 s, 4 s. A copy the peer already has is dropped or, at
//! most, answered once more (dimpl takes a repeated flight for a resend); on a clean link a
//! handshake then costs 8.5 kB instead of 1.4 kB.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
};
use str0m::crypto::{CryptoError, CryptoProvider};

const FIRST_RESEND: Duration = Duration::from_millis(150);
/// Resends (each side) before a handshake fails; an answer to a peer's resend counts too.
/// The handshake's own 40 s limit ends a dead one first.
const RESENDS: usize = 200;
/// The longest a handshake under way goes without sending its last flight again.
pub const MAX_SILENCE: Duration = Duration::from_millis(500);
/// How many times each datagram of a flight goes out while the handshake is under way.
pub const COPIES: usize = 3;

/// str0m's crypto with [`LossyLinkDtls`] for the handshake.
pub fn crypto_provider() -> CryptoProvider {
    static DTLS: LossyLinkDtls = LossyLinkDtls;
    CryptoProvider {
        dtls_provider: &DTLS,
        ..str0m::crypto::from_feature_flags()
    }
}

#[derive(Debug)]
pub struct LossyLinkDtls;

impl DtlsProvider for LossyLinkDtls {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        // ICE has checked the peer's address already, so no cookie round trip.
        let mut builder = dimpl::Config::builder()
            .use_server_cookie(false)
            .flight_start_rto(FIRST_RESEND)
            .flight_retries(RESENDS);
        if let Some(mtu) = mtu {
            builder = builder.mtu(mtu);
        }
        let config = std::sync::Arc::new(
            builder
                .build()
                .map_err(|e| CryptoError::Other(format!("DTLS configuration: {e}")))?,
        );
        let cert = cert.clone();
        let dtls = match version {
            DtlsVersion::Dtls12 => dimpl::Dtls::new_12(config, cert, now),
            DtlsVersion::Dtls13 => dimpl::Dtls::new_13(config, cert, now),
            DtlsVersion::Auto => dimpl::Dtls::new_auto(config, cert, now),
            other => {
                return Err(CryptoError::Other(format!(
                    "DTLS version {other} unsupported"
                )));
            }
        };
        Ok(Box::new(Handshake::new(dtls, now)))
    }
}

/// One connection's DTLS state, and the flight it repeats until the handshake is done.
struct Handshake {
    dtls: dimpl::Dtls,
    /// The datagrams of the last flight sent.
    flight: Vec<Vec<u8>>,
    /// Something arrived or a timer fired since the last datagram out: the next one starts a
    /// new flight (or is dimpl's own resend of this one).
    flight_ended: bool,
    /// Copies of the flight waiting to go out.
    repeat: VecDeque<Vec<u8>>,
    /// The latest time we were told.
    now: Instant,
    /// When the flight goes out again; None when a flight just went out and we do not know
    /// the time yet.
    due: Option<Instant>,
    connected: bool,
}

impl Handshake {
    fn new(dtls: dimpl::Dtls, now: Instant) -> Self {
        Self {
            dtls,
            flight: Vec::new(),
            flight_ended: true,
            repeat: VecDeque::new(),
            now,
            due: None,
            connected: false,
        }
    }
}

/// Whether a DTLS 1.2 datagram opens with a handshake or ChangeCipherSpec record: part of a
/// flight, not application data.
fn is_handshake(datagram: &[u8]) -> bool {
    matches!(datagram.first(), Some(20 | 22))
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handshake")
    }
}

impl DtlsInstance for Handshake {
    fn set_active(&mut self, active: bool) {
        self.dtls.set_active(active);
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.flight_ended = true;
        // The server has the last word: a handshake datagram after it is done means its final
        // flight was lost. dimpl answers such repeats too, but at most once per its resend
        // wait, which doubles with every answer.
        if self.connected && !self.dtls.is_active() && is_handshake(packet) {
            // Once per copy the client sent: copies enough.
            self.repeat.extend(self.flight.iter().cloned());
        }
        self.dtls.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        if let Some(copy) = self.repeat.front() {
            let Some(out) = buf.get_mut(..copy.len()) else {
                return DtlsOutput::BufferTooSmall { needed: copy.len() };
            };
            out.copy_from_slice(copy);
            self.repeat.pop_front();
            return DtlsOutput::Packet(out);
        }
        match self.dtls.poll_output(buf) {
            DtlsOutput::Packet(packet) => {
                if !self.connected || is_handshake(packet) {
                    if std::mem::take(&mut self.flight_ended) {
                        self.flight.clear();
                    }
                    self.flight.push(packet.to_vec());
                    self.repeat
                        .extend(std::iter::repeat_n(packet.to_vec(), COPIES - 1));
                    self.due = None;
                }
                DtlsOutput::Packet(packet)
            }
            DtlsOutput::Connected => {
                self.connected = true;
                DtlsOutput::Connected
            }
            DtlsOutput::Timeout(at) if !self.connected && !self.flight.is_empty() => {
                // Just after a flight, ask for a timeout at once to learn the time.
                DtlsOutput::Timeout(self.due.map_or(self.now, |due| due.min(at)))
            }
            other => other,
        }
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.now = now;
        self.flight_ended = true;
        if !self.connected && !self.flight.is_empty() {
            match self.due {
                Some(due) if now >= due => {
                    for _ in 0..COPIES {
                        self.repeat.extend(self.flight.iter().cloned());
                    }
                    self.due = Some(now + MAX_SILENCE);
                }
                Some(_) => {}
                None => self.due = Some(now + MAX_SILENCE),
            }
        }
        self.dtls.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.dtls.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.dtls.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.dtls.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.dtls.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.dtls.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.dtls.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One side of a handshake under test, and what it has sent when.
    struct Side {
        dtls: Box<dyn DtlsInstance>,
        server: bool,
        start: Instant,
        due: Instant,
        /// Datagrams and when they went, from the start.
        sent: Vec<(Duration, Vec<u8>)>,
        connected: Option<Duration>,
    }

    impl Side {
        fn new(now: Instant, active: bool) -> Side {
            let provider = crypto_provider().dtls_provider;
            let cert = provider.generate_certificate().expect("certificate");
            let mut dtls = provider
                .new_dtls(&cert, now, DtlsVersion::Dtls12, None)
                .expect("DTLS");
            dtls.set_active(active);
            dtls.handle_timeout(now).expect("start");
            if active {
                // As str0m does: an empty datagram makes the client say hello.
                dtls.handle_packet(&[]).expect("hello");
            }
            let mut side = Side {
                dtls,
                server: !active,
                start: now,
                due: now,
                sent: Vec::new(),
                connected: None,
            };
            side.poll(now);
            side
        }

        fn poll(&mut self, now: Instant) {
            let mut buf = vec![0; 2000];
            loop {
                match self.dtls.poll_output(&mut buf) {
                    DtlsOutput::Packet(p) => self.sent.push((now - self.start, p.to_vec())),
                    DtlsOutput::Connected => self.connected = Some(now - self.start),
                    DtlsOutput::Timeout(at) => {
                        self.due = at;
                        return;
                    }
                    _ => {}
                }
            }
        }

        /// Runs its timer if due at `now`.
        fn tick(&mut self, now: Instant) {
            if now >= self.due {
                self.dtls.handle_timeout(now).expect("timer");
                self.poll(now);
            }
        }
    }

    /// Runs a client and a server for `secs` of virtual time in 10 ms steps: a datagram that
    /// `lost` picks (given its sender and when it was sent) is lost, any other arrives 10 ms
    /// later.
    fn handshake(secs: u64, lost: impl Fn(&Side, Duration) -> bool) -> (Side, Side) {
        let start = Instant::now();
        let (mut client, mut server) = (Side::new(start, true), Side::new(start, false));
        let step = Duration::from_millis(10);
        let mut now = start;
        while now < start + Duration::from_secs(secs) {
            now += step;
            let sent_in = |at: Duration| at + step >= now - start && at < now - start;
            deliver(&client, &mut server, sent_in, &lost, now);
            deliver(&server, &mut client, sent_in, &lost, now);
            client.tick(now);
            server.tick(now);
        }
        (client, server)
    }

    /// Hands `to` what `from` sent in the step (`sent_in`) that is not `lost`.
    fn deliver(
        from: &Side,
        to: &mut Side,
        sent_in: impl Fn(Duration) -> bool,
        lost: &impl Fn(&Side, Duration) -> bool,
        now: Instant,
    ) {
        for (at, p) in from.sent.iter().filter(|(at, _)| sent_in(*at)) {
            if !lost(from, *at) {
                // A datagram out of place is the peer's to ignore, as on a real link.
                let _ = to.dtls.handle_packet(p);
                to.poll(now);
            }
        }
    }

    #[test]
    fn an_unanswered_handshake_resends_at_least_every_half_second() {
        let (client, _) = handshake(20, |_, _| true);
        let times: Vec<Duration> = client.sent.iter().map(|(at, _)| *at).collect();
        let longest = times
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .expect("resends");
        println!("{} datagrams, longest silence {longest:?}", times.len());
        assert!(
            longest <= MAX_SILENCE + Duration::from_millis(20),
            "{longest:?}"
        );
        assert!(times.len() >= 38, "{times:?}");
    }

    #[test]
    fn a_handshake_completes_soon_after_the_link_comes_back() {
        // Without the cap the client's next resend after 10 s of loss came at 19 s.
        let (client, server) = handshake(11, |_, at| at < Duration::from_secs(10));
        assert!(client.connected.is_some() && server.connected.is_some());
    }

    #[test]
    fn a_lost_final_flight_comes_again_as_soon_as_the_client_repeats_its_own() {
        // The server's final flight, and all it sends for 6 s after, are lost. dimpl alone
        // answered the client's repeats ever more slowly (150 ms, 300, … apart): the next
        // answer came 9 to 11 s later (three runs).
        let dark = Duration::from_secs(6);
        let (client, server) = handshake(15, |from, at| {
            from.server && from.connected.is_some_and(|c| at >= c && at < c + dark)
        });
        let (c, s) = (
            client.connected.expect("client"),
            server.connected.expect("server"),
        );
        assert!(
            c - s <= dark + MAX_SILENCE + Duration::from_millis(100),
            "{:?}",
            c - s
        );
    }

    /// A link losing `loss` of datagrams each way, seeded (xorshift).
    fn lossy(seed: u64, loss: f64) -> impl Fn(&Side, Duration) -> bool {
        let state = std::cell::Cell::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        move |_, _| {
            let mut x = state.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            state.set(x);
            (x % 1000) as f64 / 1000.0 < loss
        }
    }

    #[test]
    fn through_seventy_percent_loss_each_way_handshakes_complete_within_seconds() {
        // One copy per flight datagram: median 2.7 s, 90 % within 7.4 s, slowest 22 s.
        let mut times: Vec<Duration> = (1..=20)
            .map(|seed| {
                let (client, server) = handshake(20, lossy(seed, 0.7));
                let both = client.connected.zip(server.connected);
                both.map(|(c, s)| c.max(s))
                    .unwrap_or_else(|| panic!("seed {seed}: no handshake in 20 s"))
            })
            .collect();
        times.sort();
        println!("handshakes: {times:?}");
        assert!(times[10] <= Duration::from_secs(1), "{times:?}");
        assert!(times[19] <= Duration::from_secs(5), "{times:?}");
    }

    #[test]
    fn on_a_clean_link_the_copies_cost_a_few_datagrams() {
        let (client, server) = handshake(5, |_, _| false);
        assert!(client.connected.is_some() && server.connected.is_some());
        let bytes: usize = client
            .sent
            .iter()
            .chain(&server.sent)
            .map(|(_, p)| p.len())
            .sum();
        println!(
            "{} + {} datagrams, {bytes} bytes",
            client.sent.len(),
            server.sent.len()
        );
        assert!(bytes < 12_000, "{bytes} bytes");
    }
}
