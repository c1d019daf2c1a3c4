//! A user-space UDP relay between clients and the server that does to each client's
//! datagrams what the virtual network does ([`crate::vnet`]: loss, bursts, delay, jitter, a
//! bandwidth cap), on real time: the kernel here has no netem. The server advertises the
//! relay's address, and the relay forwards each client from a socket of its own, like a NAT.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::vnet::{Datagram, Impairment, Network};

/// The relay's network and who is on it.
struct Links {
    net: Network,
    /// Clients in the order their first datagram came.
    clients: Vec<SocketAddr>,
    /// The link (up, down) of the client that comes `n`th, where one was set before it came.
    planned: HashMap<usize, (Impairment, Impairment)>,
    /// The link of every other client, both ways.
    default: Impairment,
    /// Clients whose mapping to the server is to change (a NAT rebinding).
    rebind: Vec<SocketAddr>,
}

pub struct Relay {
    pub addr: SocketAddr,
    /// Datagrams lost or dropped by a cap so far.
    pub dropped: Arc<AtomicU64>,
    links: Arc<Mutex<Links>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Listens on `listen` and forwards to `server`, each client's link doing `link` both
    /// ways unless [`set_client`](Self::set_client) says otherwise.
    pub async fn start(
        listen: SocketAddr,
        server: SocketAddr,
        seed: u64,
        link: Impairment,
    ) -> Self {
        let front = Arc::new(UdpSocket::bind(listen).await.expect("relay binds"));
        let addr = front.local_addr().expect("relay addr");
        let links = Arc::new(Mutex::new(Links {
            net: Network::new(Instant::now(), seed),
            clients: Vec::new(),
            planned: HashMap::new(),
            default: link,
            rebind: Vec::new(),
        }));
        let dropped = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(forward(front, server, links.clone(), dropped.clone()));
        Self {
            addr,
            dropped,
            links,
            task,
        }
    }

    fn links(&self) -> MutexGuard<'_, Links> {
        self.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The link of the client that comes `n`th (from 0), from now or from when it comes.
    pub fn set_client(&self, n: usize, up: Impairment, down: Impairment) {
        let mut l = self.links();
        match l.clients.get(n).copied() {
            Some(addr) => l.net.set_link(addr, up, down),
            None => {
                l.planned.insert(n, (up, down));
            }
        }
    }

    /// The client that came `n`th reaches the server from a new address from now on, and
    /// what the server sends to its old one is lost (a NAT that rebinds, or a network
    /// change the client itself does not see).
    pub fn rebind(&self, n: usize) {
        let mut l = self.links();
        if let Some(addr) = l.clients.get(n).copied() {
            l.rebind.push(addr);
        }
    }

    /// How many clients have sent through the relay.
    pub fn clients(&self) -> usize {
        self.links().clients.len()
    }
}

async fn forward(
    front: Arc<UdpSocket>,
    server: SocketAddr,
    links: Arc<Mutex<Links>>,
    dropped: Arc<AtomicU64>,
) {
    let lock = || links.lock().unwrap_or_else(|e| e.into_inner());
    let (back_tx, mut back_rx) = mpsc::unbounded_channel::<(SocketAddr, Vec<u8>)>();
    let mut legs: HashMap<SocketAddr, Leg> = HashMap::new();
    let mut buf = vec![0u8; 2048];
    loop {
        let rebind = std::mem::take(&mut lock().rebind);
        for client in rebind {
            // The old leg's socket closes with its listener.
            legs.insert(client, Leg::open(client, &back_tx).await);
        }
        let next = lock().net.next_arrival();
        let due = async {
            match next {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        let datagram = tokio::select! {
            r = front.recv_from(&mut buf) => {
                let Ok((n, client)) = r else { continue };
                if let std::collections::hash_map::Entry::Vacant(e) = legs.entry(client) {
                    e.insert(Leg::open(client, &back_tx).await);
                    let mut l = lock();
                    let n = l.clients.len();
                    l.clients.push(client);
                    let (up, down) = l
                        .planned
                        .remove(&n)
                        .unwrap_or_else(|| (l.default.clone(), l.default.clone()));
                    l.net.set_link(client, up, down);
                }
                Some(Datagram { from: client, to: server, data: buf[..n].to_vec() })
            }
            Some((client, data)) = back_rx.recv() => {
                Some(Datagram { from: server, to: client, data })
            }
            () = due => None,
        };
        let mut due = Vec::new();
        {
            let mut l = lock();
            let now = Instant::now();
            if let Some(d) = datagram {
                l.net.send(now, d);
                dropped.store(l.net.lost(), Ordering::Relaxed);
            }
            while let Some(d) = l.net.receive(now) {
                due.push(d);
            }
        }
        for d in due {
            let _ = if d.to == server {
                match legs.get(&d.from) {
                    Some(leg) => leg.socket.send_to(&d.data, server).await,
                    None => continue,
                }
            } else {
                front.send_to(&d.data, d.to).await
            };
        }
    }
}

/// One client's socket towards the server, and the task that listens on it.
struct Leg {
    socket: Arc<UdpSocket>,
    listener: tokio::task::JoinHandle<()>,
}

impl Leg {
    async fn open(client: SocketAddr, back: &mpsc::UnboundedSender<(SocketAddr, Vec<u8>)>) -> Self {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("relay leg"));
        let listener = tokio::spawn(listen_back(socket.clone(), client, back.clone()));
        Leg { socket, listener }
    }
}

impl Drop for Leg {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// What the server sends to `client`'s leg goes back through the relay.
async fn listen_back(
    leg: Arc<UdpSocket>,
    client: SocketAddr,
    back: mpsc::UnboundedSender<(SocketAddr, Vec<u8>)>,
) {
    let mut b = vec![0u8; 2048];
    while let Ok((n, _)) = leg.recv_from(&mut b).await {
        if back.send((client, b[..n].to_vec())).is_err() {
            break;
        }
    }
}
