//! How an operator configures the server.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::web::WebAssets;

/// Where the server listens and keeps its data.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// HTTP + WebSocket signaling address.
    pub listen: SocketAddr,
    /// The one UDP port for all WebRTC media; 0 picks a free one.
    pub udp_port: u16,
    /// The address advertised to clients in ICE candidates. Defaults to the listen address,
    /// or to this machine's LAN address when listening on all interfaces.
    pub public_ip: Option<IpAddr>,
    /// SQLite database directory; `None` keeps everything in memory (tests).
    pub data_dir: Option<PathBuf>,
    /// The web page's files (a build of `ui/`); `None` serves a page saying how to build it.
    pub web: Option<WebAssets>,
    /// Also serve the page and signaling over https here, with a self-signed certificate
    /// (browsers on other machines need a secure page for camera and microphone).
    pub https: Option<SocketAddr>,
}

impl ServerConfig {
    /// Loopback, ephemeral ports, in-memory database: what tests use.
    pub fn ephemeral() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            udp_port: 0,
            public_ip: None,
            data_dir: None,
            web: None,
            https: None,
        }
    }
}

/// `~/.local/share/roomcast` on Linux, the platform's equivalent elsewhere.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("roomcast")
}

/// The address other machines reach us at when we listen on every interface: the source
/// address the OS would use to reach a public address (no packet is sent).
pub fn guess_lan_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}
