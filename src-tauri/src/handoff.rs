//! Invite links given to the app by the system: `roomcast://…` on the command line (Linux and
//! Windows start the app with the link), the deep-link plugin's open events (macOS), and a
//! second start while the app runs, which hands its link to the running app over a loopback
//! socket and quits, so one click on a link never opens a second window.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use roomcast_proto::invite::InviteLink;
use tauri::{AppHandle, Manager};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::events::RoomEvent;

const HELLO: &str = "roomcast-invite ";

/// The first argument that is an invite link in the app's form.
pub fn link_in_args(args: impl Iterator<Item = String>) -> Option<String> {
    args.skip(1).find(|a| {
        let lower = a.to_ascii_lowercase();
        (lower.starts_with("roomcast://") || lower.starts_with("roomcasts://"))
            && InviteLink::parse(a).is_ok()
    })
}

/// Where the running app says which port it listens on.
fn port_file() -> Option<PathBuf> {
    let dir = match std::env::var_os("ROOMCAST_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => dirs::data_dir()?.join("org.roomcast.desktop"),
    };
    Some(dir.join("instance.port"))
}

/// True when a running app took the link.
pub fn send_to_running(link: &str) -> bool {
    let Some(port) = port_file()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|p| p.trim().parse::<u16>().ok())
    else {
        return false;
    };
    let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if writeln!(s, "{HELLO}{link}").is_err() {
        return false;
    }
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply).is_ok() && reply.trim() == "ok"
}

/// Takes links from later starts and from the system, and shows them in the window.
pub fn listen(app: AppHandle) {
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            opened(&handle, url.to_string());
        }
    });
    let Ok(listener) = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) else {
        return;
    };
    let (Some(file), Ok(local)) = (port_file(), listener.local_addr()) else {
        return;
    };
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if std::fs::write(&file, local.port().to_string()).is_err() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("roomcast-handoff".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(link) = read_link(&stream) {
                    let _ = (&stream).write_all(b"ok\n");
                    opened(&app, link);
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot take invite links from later starts: {e}");
    }
}

/// One line, at most 4 KB, that is an invite link; anything else is ignored.
fn read_link(stream: &TcpStream) -> Option<String> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    BufReader::new(stream.take(4096))
        .read_line(&mut line)
        .ok()?;
    let link = line.trim().strip_prefix(HELLO)?.to_string();
    InviteLink::parse(&link).is_ok().then_some(link)
}

fn opened(app: &AppHandle, link: String) {
    if InviteLink::parse(&link).is_err() {
        return;
    }
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.set_focus();
    }
    RoomEvent::InviteOpened { link }.emit(app);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_invite_links_are_taken_from_the_command_line() {
        let grant = roomcast_proto::invite::sign(
            &roomcast_proto::invite::Grant {
                app: 1,
                room: roomcast_proto::RoomId::Number(5),
                role: roomcast_proto::Role::Anchor,
                host: false,
                iat: 0,
                exp: 10,
                id: "x".into(),
            },
            "k",
        );
        let link = format!("roomcast://192.168.1.2:7880/#invite={grant}");
        let args = |v: &[&str]| {
            v.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .into_iter()
        };
        assert_eq!(link_in_args(args(&["app", &link])), Some(link.clone()));
        assert_eq!(link_in_args(args(&["app", "roomcast://nothing"])), None);
        assert_eq!(link_in_args(args(&["app", "--flag"])), None);
    }
}
