//! `roomcast invite` makes an invite link; `roomcast join --invite` uses one. Also the
//! join report's record of the meeting: chat lines and hands received.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use roomcast_engine::EngineEvent;
use roomcast_proto::invite::{self, Grant, InviteLink};
use roomcast_proto::{Role, RoomId};
use serde_json::{Value, json};

#[derive(Args, Debug, Clone)]
pub struct InviteArgs {
    /// The server's address as guests reach it, e.g. http://192.168.1.20:7880
    #[arg(long)]
    pub server: String,
    #[arg(long)]
    pub app: u32,
    /// The app's secret key: it signs the invite and is not in it.
    #[arg(long)]
    pub key: String,
    /// Room number or name.
    #[arg(long)]
    pub room: String,
    /// How long the link works: e.g. 90s, 30m, 2h, 7d.
    #[arg(long, default_value = "2h", value_parser = parse_duration)]
    pub expires: i64,
    #[arg(long, default_value = "anchor", value_parser = crate::join::parse_role)]
    pub role: Role,
    /// Whoever uses the link may run the meeting (mute, remove, lock, end).
    #[arg(long)]
    pub host: bool,
    /// The server also serves its page over https on this port (`roomcast serve
    /// --https-listen`): browsers open that, the app and the CLI use --server.
    #[arg(long)]
    pub https_port: Option<u16>,
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Prints the web link on stdout (one line, for scripts) and the app's form on stderr.
pub fn run(args: InviteArgs) -> anyhow::Result<()> {
    let room = RoomId::parse(&args.room).map_err(|e| anyhow::anyhow!("--room: {e}"))?;
    let server = args.server.trim_end_matches('/').to_string();
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        anyhow::bail!(
            "--server must start with http:// or https://, e.g. http://192.168.1.20:7880"
        );
    }
    let now = unix_now();
    let grant = Grant {
        app: args.app,
        room,
        role: args.role,
        host: args.host,
        iat: now,
        exp: now + args.expires,
        id: random_suffix(12),
    };
    let link = match args.https_port {
        Some(port) => {
            let host = server
                .split_once("://")
                .map(|(_, rest)| rest)
                .unwrap_or(&server);
            let hostname = host.rsplit_once(':').map_or(host, |(h, _)| h);
            InviteLink {
                server: format!("https://{hostname}:{port}"),
                grant: invite::sign(&grant, &args.key),
                signaling: Some(server.clone()),
            }
        }
        None => InviteLink {
            server,
            grant: invite::sign(&grant, &args.key),
            signaling: None,
        },
    };
    println!("{}", link.to_web());
    eprintln!("Desktop app: {}", link.to_app());
    Ok(())
}

fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected e.g. 90s, 30m, 2h or 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{s:?}: the unit must be s, m, h or d")),
    };
    if secs <= 0 {
        return Err("the link must be valid for some time".into());
    }
    Ok(secs)
}

/// Hex digits from the clock and the process id: enough to tell two guests of the same name
/// apart, and no dependency.
pub fn random_suffix(len: usize) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mixed =
        (nanos ^ (u128::from(std::process::id()) << 64)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let hex = format!("{mixed:032x}");
    hex[hex.len() - len.min(32)..].to_string()
}

/// Chat lines, reactions and hands seen during `roomcast join`, for the report.
pub struct MeetingLog {
    entered: Instant,
    messages: Vec<Value>,
    hands: Vec<Value>,
    names: std::collections::BTreeMap<String, String>,
}

impl MeetingLog {
    pub fn new(entered: Instant) -> Self {
        Self {
            entered,
            messages: Vec::new(),
            hands: Vec::new(),
            names: Default::default(),
        }
    }

    pub fn observe(&mut self, e: &EngineEvent) {
        let ms = self.entered.elapsed().as_millis() as u64;
        match e {
            EngineEvent::RemoteUserEnter { user, name } => {
                self.names.insert(user.as_str().into(), name.clone());
            }
            EngineEvent::Chat { user, text } => self.messages.push(json!({
                "from": user.as_str(),
                "name": self.names.get(user.as_str()),
                "text": text,
                "ms": ms,
            })),
            EngineEvent::Hand { user, hand } => self.hands.push(json!({
                "from": user.as_str(),
                "up": hand.is_some(),
                "ms": ms,
            })),
            _ => {}
        }
    }

    /// Adds `messages`, `hands` and `names` at the report's top level.
    pub fn add_to(&self, report: &mut Value) {
        report["messages"] = json!(self.messages);
        report["hands"] = json!(self.hands);
        report["names"] = json!(self.names);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert!(parse_duration("2w").is_err() && parse_duration("0s").is_err());
    }
}
