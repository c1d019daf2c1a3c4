//! Roomcast's room server: WebSocket signaling, apps and UserSig auth, rooms and roles,
//! the SFU that forwards WebRTC media, and the SQLite usage ledger.
//!
//! It knows nothing of the client engine; it shares only `roomcast-proto`. Room rules live
//! in the sans-IO [`room::Room`]; the async shell here only moves bytes and time.

pub mod config;
pub mod ledger;
pub mod room;
pub mod sfu;
pub mod signaling;
pub mod store;
pub mod tls;
pub mod web;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::Router;
use axum::routing::get;
use tokio::sync::mpsc;

pub use config::ServerConfig;
pub use sfu::WorkerStats;
use store::{App, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen for signaling on {addr}: {source} (is another server running there?)")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot bind the UDP media port {addr}: {source} (pick another with --udp-port)")]
    Udp {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the media worker: {0}")]
    Worker(std::io::Error),
    #[error("cannot serve https: {0}")]
    Tls(String),
}

/// Shared by every signaling connection.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub worker: mpsc::UnboundedSender<sfu::Command>,
    pub next_member: Arc<AtomicU64>,
    /// Becomes true when the server stops: every WebSocket then closes, so clients notice
    /// at once (and enter again when a server is back) instead of waiting on a dead room.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

/// A server that is up: where it listens, and its development app.
pub struct RunningServer {
    pub http_addr: SocketAddr,
    /// Where the web page is served over https, when asked for.
    pub https_addr: Option<SocketAddr>,
    /// SHA-256 of the https certificate, hex.
    pub tls_fingerprint: Option<String>,
    pub udp_addr: SocketAddr,
    pub dev_app: App,
    /// True when this start created the development app (first start on this data dir).
    pub dev_app_created: bool,
    pub store: Store,
    pub stats: Arc<WorkerStats>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    http: Option<tokio::task::JoinHandle<()>>,
    https: Option<tokio::task::JoinHandle<()>>,
    worker: Option<std::thread::JoinHandle<()>>,
    worker_tx: mpsc::UnboundedSender<sfu::Command>,
}

impl RunningServer {
    /// Opens the store, binds both ports and starts serving. Must run inside a tokio runtime.
    pub async fn start(cfg: ServerConfig) -> Result<Self, ServerError> {
        let store = match &cfg.data_dir {
            Some(dir) => Store::open(&dir.join("roomcast.db")).await?,
            None => Store::open_in_memory().await?,
        };
        let (dev_app, dev_app_created) = store.dev_app().await?;

        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| ServerError::Listen {
                addr: cfg.listen,
                source,
            })?;
        let http_addr = listener
            .local_addr()
            .map_err(|source| ServerError::Listen {
                addr: cfg.listen,
                source,
            })?;

        let udp_bind = SocketAddr::new(cfg.listen.ip(), cfg.udp_port);
        let udp = std::net::UdpSocket::bind(udp_bind).map_err(|source| ServerError::Udp {
            addr: udp_bind,
            source,
        })?;
        let local_udp = udp.local_addr().map_err(|source| ServerError::Udp {
            addr: udp_bind,
            source,
        })?;
        let advertised_ip = cfg
            .public_ip
            .unwrap_or_else(|| advertise_ip(local_udp.ip()));
        let udp_addr = SocketAddr::new(advertised_ip, local_udp.port());

        let (ledger_tx, ledger_rx) = mpsc::unbounded_channel();
        tokio::spawn(ledger::run(store.clone(), ledger_rx));

        let stats = Arc::new(WorkerStats::default());
        let (worker_tx, worker_rx) = mpsc::unbounded_channel();
        let worker = sfu::spawn(udp, udp_addr, worker_rx, ledger_tx, stats.clone())
            .map_err(ServerError::Worker)?;

        let worker_stats = stats.clone();
        let (shutdown, stop) = tokio::sync::watch::channel(false);
        let state = AppState {
            store: store.clone(),
            worker: worker_tx.clone(),
            next_member: Arc::new(AtomicU64::new(1)),
            stopping: stop.clone(),
        };
        let router = Router::new()
            .route("/", get(web::serve))
            .fallback(web::serve)
            .with_state(cfg.web.clone())
            .merge(api(state, worker_stats));
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let (https_addr, tls_fingerprint, https) = match cfg.https {
            Some(addr) => {
                let tcp = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServerError::Listen { addr, source })?;
                let bound = tcp
                    .local_addr()
                    .map_err(|source| ServerError::Listen { addr, source })?;
                let identity =
                    tls::Identity::load_or_create(cfg.data_dir.as_deref(), advertised_ip)
                        .map_err(ServerError::Tls)?;
                let listener = tls::TlsListener::new(tcp, &identity).map_err(ServerError::Tls)?;
                let serve = axum::serve(listener, router.clone())
                    .with_graceful_shutdown(stopped(stop.clone()));
                let task = tokio::spawn(async move {
                    if let Err(e) = serve.await {
                        tracing::error!("https server stopped: {e}");
                    }
                });
                (Some(bound), Some(identity.fingerprint()), Some(task))
            }
            None => (None, None, None),
        };
        let serve = axum::serve(listener, router).with_graceful_shutdown(stopped(stop));
        let http = tokio::spawn(async move {
            if let Err(e) = serve.await {
                tracing::error!("signaling server stopped: {e}");
            }
        });

        Ok(Self {
            http_addr,
            https_addr,
            tls_fingerprint,
            https,
            udp_addr,
            dev_app,
            dev_app_created,
            store,
            stats,
            shutdown: Some(shutdown),
            http: Some(http),
            worker: Some(worker),
            worker_tx,
        })
    }

    /// The URL clients put in `--server`.
    pub fn url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// The web page over https on `host` (the address browsers reach), when served.
    pub fn https_url(&self, host: IpAddr) -> Option<String> {
        self.https_addr
            .map(|a| format!("https://{}", SocketAddr::new(host, a.port())))
    }

    /// Stops accepting, closes every room and waits for the media worker to end.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        let _ = self.worker_tx.send(sfu::Command::Shutdown);
        for task in [self.http.take(), self.https.take()].into_iter().flatten() {
            let _ = task.await;
        }
        if let Some(worker) = self.worker.take() {
            let _ = tokio::task::spawn_blocking(move || worker.join()).await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        let _ = self.worker_tx.send(sfu::Command::Shutdown);
    }
}

/// Signaling, health and stats.
fn api(state: AppState, stats: Arc<WorkerStats>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ws", get(signaling::upgrade))
        .route(
            "/stats",
            get(move || async move { axum::Json(stats.to_json()) }),
        )
        .with_state(state)
}

/// Clients must be told a concrete address: an unspecified bind becomes the LAN address.
fn advertise_ip(bound: IpAddr) -> IpAddr {
    if bound.is_unspecified() {
        config::guess_lan_ip().unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
    } else {
        bound
    }
}
