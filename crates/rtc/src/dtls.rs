//! DTLS with handshake timers for lossy links. str0m's default (dimpl's) resends a lost
//! handshake flight after 1 s and gives up after four resends, the wait doubling each time:
//! on a link losing 30 % of datagrams a call often took seconds to connect, at 70 % never.
//! Here a flight is resent after 150 ms, doubling, and each side has a larger budget of
//! resends. The engine is the DTLS client (it offers `actpass`, the server answers
//! `passive`), so its timers drive the handshake; the server resends its flight whenever a
//! client's resend arrives, and those answers count against its budget too, so it needs one
//! as large.

use std::time::{Duration, Instant};

use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
};
use str0m::crypto::{CryptoError, CryptoProvider};

const FIRST_RESEND: Duration = Duration::from_millis(150);
const RESENDS: usize = 30;

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
        Ok(Box::new(Handshake(dtls)))
    }
}

/// One connection's DTLS state.
struct Handshake(dimpl::Dtls);

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handshake")
    }
}

impl DtlsInstance for Handshake {
    fn set_active(&mut self, active: bool) {
        self.0.set_active(active);
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.0.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        self.0.poll_output(buf)
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.0.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.0.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.0.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.0.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.0.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.0.close()
    }
}
