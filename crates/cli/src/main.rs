//! `roomcast`: run the room server, create apps, make UserSigs, join a room headless,
//! process audio through the effects, and run the benchmarks.

mod bench;
mod invite;
mod join;
mod process;
mod process_video;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use roomcast_server::web::WebAssets;
use roomcast_server::{RunningServer, ServerConfig, config::default_data_dir, store::Store};

/// `ui/dist` as it was when this binary was built (empty when it was not built).
mod embedded_web {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

#[derive(Parser)]
#[command(
    name = "roomcast",
    version,
    about = "Self-hosted real-time audio/video rooms"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the room server (signaling + SFU).
    Serve {
        /// HTTP/WebSocket signaling address.
        #[arg(long, default_value = "127.0.0.1:7880")]
        listen: SocketAddr,
        /// UDP port for all WebRTC media.
        #[arg(long, default_value_t = 7882)]
        udp_port: u16,
        /// Address advertised to clients (behind NAT: the public address).
        #[arg(long)]
        public_ip: Option<IpAddr>,
        /// Data directory (SQLite database). Default: the user's data directory.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Serve the web page from this directory (a build of ui/) instead of the copy
        /// built into this binary.
        #[arg(long)]
        web_dir: Option<PathBuf>,
        /// Also serve the web page and signaling over https here (self-signed certificate,
        /// kept in the data directory): browsers on other machines need it for camera and
        /// microphone. E.g. 0.0.0.0:7443.
        #[arg(long)]
        https_listen: Option<SocketAddr>,
    },
    /// Manage apps (tenants with their own secret keys).
    App {
        #[command(subcommand)]
        command: AppCommand,
    },
    /// Print a UserSig (TLSSigAPIv2) for a user.
    Usersig {
        #[arg(long)]
        app: u32,
        #[arg(long)]
        key: String,
        #[arg(long)]
        user: String,
        /// Validity in seconds.
        #[arg(long, default_value_t = 86_400)]
        expire: i64,
    },
    /// Make an invite link: whoever holds it joins one room, for a while, without the key.
    Invite(invite::InviteArgs),
    /// Join a room as a headless participant and report what was received.
    Join(Box<join::JoinArgs>),
    /// Run a recorded microphone through the audio effects (3A, voice changer, reverb,
    /// music) as a call would, and write what would be sent.
    Process(process::ProcessArgs),
    /// Run a Y4M clip through the video effects (beauty, colour filter, mirror) as a call
    /// would, and write what would be sent.
    ProcessVideo(process_video::ProcessVideoArgs),
    /// Run the benchmarks and write docs/BENCHMARKS.md.
    Bench(bench::BenchArgs),
}

#[derive(Subcommand)]
enum AppCommand {
    /// Create an app; prints {"sdkAppId": ..., "secretKey": "..."}.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// List the apps with their keys, as JSON lines.
    List {
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,roomcast=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            listen,
            udp_port,
            public_ip,
            data,
            web_dir,
            https_listen,
        } => {
            let data_dir = data.unwrap_or_else(default_data_dir);
            let web = match web_dir {
                Some(dir) => Some(WebAssets::dir(dir)),
                None if embedded_web::FILES.is_empty() => None,
                None => Some(WebAssets::embedded(embedded_web::FILES)),
            };
            let server = RunningServer::start(ServerConfig {
                listen,
                udp_port,
                public_ip,
                data_dir: Some(data_dir.clone()),
                web,
                https: https_listen,
            })
            .await
            .context("cannot start the server")?;
            println!(
                "Roomcast server listening on {} (media on UDP {})",
                server.url(),
                server.udp_addr
            );
            println!("Data: {}", data_dir.display());
            if let (Some(addr), Some(fp)) = (server.https_addr, &server.tls_fingerprint) {
                println!(
                    "Web page over https on {addr} (self-signed certificate, SHA-256 {fp}); invite links: roomcast invite --https-port {}",
                    addr.port()
                );
            }
            let created = if server.dev_app_created {
                " (created now)"
            } else {
                ""
            };
            println!(
                "Development app{created}: SDKAppID {}  secret key {}",
                server.dev_app.id.get(),
                server.dev_app.secret_key
            );
            println!(
                "Open {} in a browser to join from a web page.",
                server.url()
            );
            tokio::signal::ctrl_c()
                .await
                .context("waiting for Ctrl-C")?;
            println!("Shutting down");
            server.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::App {
            command: AppCommand::Create { name, data },
        } => {
            let dir = data.unwrap_or_else(default_data_dir);
            let store = Store::open(&dir.join("roomcast.db"))
                .await
                .context("cannot open the server database")?;
            let app = store.create_app(&name).await?;
            let out = serde_json::json!({"sdkAppId": app.id.get(), "secretKey": app.secret_key, "name": app.name});
            println!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        Command::App {
            command: AppCommand::List { data },
        } => {
            let dir = data.unwrap_or_else(default_data_dir);
            let store = Store::open(&dir.join("roomcast.db"))
                .await
                .context("cannot open the server database")?;
            for app in store.apps().await? {
                let out = serde_json::json!({"sdkAppId": app.id.get(), "secretKey": app.secret_key, "name": app.name});
                println!("{out}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Invite(args) => {
            invite::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Usersig {
            app,
            key,
            user,
            expire,
        } => {
            roomcast_proto::UserId::new(user.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs() as i64;
            println!(
                "{}",
                roomcast_proto::usersig::generate(u64::from(app), &key, &user, now, expire, None)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Join(args) => join::run(*args).await,
        Command::Process(args) => process::run(args),
        Command::ProcessVideo(args) => process_video::run(args),
        Command::Bench(args) => bench::run(args).await,
    }
}
