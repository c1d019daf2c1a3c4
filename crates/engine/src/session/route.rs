//! Where media leaves from: the local address the OS would use to reach the room server, and
//! a UDP socket on it. The driver checks the route every few seconds, so that after a network
//! change (Wi-Fi to Ethernet, a new address) media moves to the new address by ICE restart
//! rather than waiting for ICE to give up.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::engine::EngineError;

/// How often the route to the server is looked at: one `connect` on a UDP socket, no packet
/// sent. A network change costs at most this before media moves.
pub(super) const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The room server's address, resolved once per (re-)entry.
pub(super) struct Route {
    server: Option<SocketAddr>,
}

impl Route {
    pub(super) async fn resolve(server_url: &str) -> Self {
        let host = server_url
            .split("://")
            .nth(1)
            .unwrap_or(server_url)
            .split('/')
            .next()
            .unwrap_or_default();
        let target = if host.contains(':') {
            host.to_string()
        } else {
            format!("{host}:80")
        };
        let server = tokio::net::lookup_host(target)
            .await
            .ok()
            .and_then(|mut a| a.next());
        Self { server }
    }

    /// The local address the OS would send from to reach the server now (no packet is sent);
    /// None without a route (no network at all: keep what we have).
    pub(super) fn local_ip(&self) -> Option<IpAddr> {
        let server = self.server?;
        let any = if server.is_ipv4() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        };
        let probe = std::net::UdpSocket::bind(SocketAddr::new(any, 0)).ok()?;
        probe.connect(server).ok()?;
        probe.local_addr().ok().map(|a| a.ip())
    }

    /// The address media should leave from, loopback when the server cannot be resolved.
    pub(super) fn local_ip_or_loopback(&self) -> IpAddr {
        self.local_ip().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
}

/// A UDP socket for media on `ip`.
pub(super) async fn media_socket(ip: IpAddr) -> Result<(UdpSocket, SocketAddr), EngineError> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
        .await
        .map_err(|e| EngineError::Connect(format!("cannot open a UDP socket for media: {e}")))?;
    let local = socket
        .local_addr()
        .map_err(|e| EngineError::Connect(e.to_string()))?;
    Ok((socket, local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_route_to_a_loopback_server_leaves_from_loopback() {
        let route = Route::resolve("ws://127.0.0.1:7000/ws").await;
        assert_eq!(route.local_ip(), Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let route = Route::resolve("ws://[::1]:7000/ws").await;
        assert_eq!(route.local_ip(), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    }

    #[test]
    fn without_the_servers_address_there_is_no_route() {
        let route = Route { server: None };
        assert_eq!(route.local_ip(), None);
        assert_eq!(
            route.local_ip_or_loopback(),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
    }
}
