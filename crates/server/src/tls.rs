//! The web page over https, for browsers on other machines: they give cameras and microphones
//! only to secure pages, and a LAN address over http is not one.
//!
//! The certificate is self-signed, made once per data directory (so a guest who accepted it
//! once is not asked again) for the advertised address, `localhost` and 127.0.0.1. Browsers
//! show their warning for it the first time; the desktop app and the CLI keep talking plain
//! http to the same server (invite links say on which port, see `roomcast_proto::invite`),
//! and all media is DTLS-SRTP whichever way signaling went.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig as RustlsConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::server::TlsStream;

/// The server's certificate and key.
pub struct Identity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Identity {
    /// The one in `dir` (`tls-cert.der`, `tls-key.der`), made when missing or unreadable;
    /// in memory when `dir` is None.
    pub fn load_or_create(dir: Option<&Path>, ip: IpAddr) -> Result<Self, String> {
        if let Some(dir) = dir
            && let (Ok(cert), Ok(key)) = (
                std::fs::read(dir.join("tls-cert.der")),
                std::fs::read(dir.join("tls-key.der")),
            )
        {
            return Ok(Self {
                cert: CertificateDer::from(cert),
                key: PrivatePkcs8KeyDer::from(key),
            });
        }
        let names = vec![ip.to_string(), "localhost".into(), "127.0.0.1".into()];
        let made = rcgen::generate_simple_self_signed(names)
            .map_err(|e| format!("cannot make a certificate: {e}"))?;
        let identity = Self {
            cert: made.cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()),
        };
        if let Some(dir) = dir {
            let _ = std::fs::create_dir_all(dir);
            let written = std::fs::write(dir.join("tls-cert.der"), identity.cert.as_ref())
                .and_then(|_| {
                    std::fs::write(dir.join("tls-key.der"), identity.key.secret_pkcs8_der())
                });
            if let Err(e) = written {
                tracing::warn!("cannot keep the https certificate (browsers will ask again): {e}");
            }
        }
        Ok(identity)
    }

    /// SHA-256 of the certificate, hex: what a browser shows as its fingerprint.
    pub fn fingerprint(&self) -> String {
        Sha256::digest(self.cert.as_ref())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn acceptor(&self) -> Result<TlsAcceptor, String> {
        let config = RustlsConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )
            .map_err(|e| format!("bad certificate: {e}"))?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// Accepts TCP connections and finishes their TLS handshakes concurrently, so one slow or
/// broken client never holds up the others.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, identity: &Identity) -> Result<Self, String> {
        Ok(Self {
            tcp,
            acceptor: identity.acceptor()?,
            handshakes: JoinSet::new(),
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok((stream, addr)) => {
                        let acceptor = self.acceptor.clone();
                        self.handshakes.spawn(async move {
                            let shake = tokio::time::timeout(
                                std::time::Duration::from_secs(10),
                                acceptor.accept(stream),
                            );
                            match shake.await {
                                Ok(Ok(tls)) => Some((tls, addr)),
                                _ => None,
                            }
                        });
                    }
                    Err(e) => {
                        tracing::debug!("https accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                },
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(conn)) = done {
                        return conn;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
