//! "Host on this computer": the in-app room server, its web page for guests, invites, and
//! the meeting commands (chat, hands, reactions, host controls).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use roomcast_proto::invite;
use roomcast_proto::{Role, RoomId};
use roomcast_server::{RunningServer, ServerConfig};
use serde::Serialize;
use tauri::{AppHandle, State};

use crate::{AppError, AppState, Result};

pub(crate) struct Hosted {
    pub(crate) server: RunningServer,
    /// What others on the LAN type.
    pub(crate) url: String,
    /// The web page over https (browsers need a secure page for camera and microphone).
    pub(crate) web_url: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HostInfo {
    pub(crate) url: String,
    pub(crate) sdk_app_id: u32,
}

/// Guests' browsers get the same UI the app shows, from the assets Tauri embedded.
pub(crate) fn web_page(app: &AppHandle) -> roomcast_server::web::WebAssets {
    let assets = app.asset_resolver();
    roomcast_server::web::WebAssets::from_fn(move |path| {
        assets
            .get(path.to_string())
            .map(|a| std::borrow::Cow::Owned(a.bytes))
    })
}

#[tauri::command]
pub async fn host_meeting(app: AppHandle, state: State<'_, AppState>) -> Result<HostInfo> {
    let mut hosted = state.hosted.lock().await;
    if let Some(h) = hosted.as_ref() {
        return Ok(HostInfo {
            url: h.url.clone(),
            sdk_app_id: h.server.dev_app.id.get(),
        });
    }
    let data_dir = Some(state.data_dir.join("server"));
    // The usual ports when free, any free ones otherwise (a second app, a server running).
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let preferred = ServerConfig {
        listen: SocketAddr::new(any, 7880),
        udp_port: 7882,
        public_ip: None,
        data_dir: data_dir.clone(),
        web: Some(web_page(&app)),
        https: Some(SocketAddr::new(any, 7443)),
    };
    let server = match RunningServer::start(preferred).await {
        Ok(s) => s,
        Err(_) => RunningServer::start(ServerConfig {
            listen: SocketAddr::new(any, 0),
            udp_port: 0,
            public_ip: None,
            data_dir,
            web: Some(web_page(&app)),
            https: Some(SocketAddr::new(any, 0)),
        })
        .await
        .map_err(|e| AppError::Internal {
            message: format!("cannot start the room server: {e}"),
        })?,
    };
    let ip = roomcast_server::config::guess_lan_ip().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let url = format!("http://{}", SocketAddr::new(ip, server.http_addr.port()));
    let web_url = server.https_url(ip);
    let info = HostInfo {
        url: url.clone(),
        sdk_app_id: server.dev_app.id.get(),
    };
    *hosted = Some(Hosted {
        server,
        url,
        web_url,
    });
    Ok(info)
}

#[tauri::command]
pub async fn stop_hosting(state: State<'_, AppState>) -> Result<()> {
    if let Some(h) = state.hosted.lock().await.take() {
        h.server.shutdown().await;
    }
    Ok(())
}

/// `create_invite` arguments (ui/src/lib/backend.ts `InviteRequest`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteRequest {
    room: String,
    role: Role,
    expires_s: i64,
    host: bool,
}

/// An invite link for a room on the server this computer hosts, signed with its app's key
/// (which stays here: only the signature travels).
#[tauri::command]
pub async fn create_invite(state: State<'_, AppState>, request: InviteRequest) -> Result<String> {
    let room = RoomId::parse(request.room.trim()).map_err(|e| AppError::input(e.to_string()))?;
    if !(60..=30 * 86_400).contains(&request.expires_s) {
        return Err(AppError::input(
            "An invite must last between a minute and 30 days.",
        ));
    }
    let hosted = state.hosted.lock().await;
    let h = hosted.as_ref().ok_or_else(|| {
        AppError::input(
            "Invite links can be made for meetings hosted on this computer; for another server, ask its operator.",
        )
    })?;
    let now = unix_now();
    let grant = invite::Grant {
        app: h.server.dev_app.id.get(),
        room,
        role: request.role,
        host: request.host,
        iat: now,
        exp: now + request.expires_s,
        id: format!("{:x}", rand::random::<u64>()),
    };
    let grant = invite::sign(&grant, &h.server.dev_app.secret_key);
    // Browsers open the https page; the app and the CLI use the plain address.
    let link = match &h.web_url {
        Some(web) => invite::InviteLink {
            server: web.clone(),
            grant,
            signaling: Some(h.url.clone()),
        },
        None => invite::InviteLink {
            server: h.url.clone(),
            grant,
            signaling: None,
        },
    };
    Ok(link.to_web())
}

/// A roomcast:// link the app was started with (given once), or None.
#[tauri::command]
pub async fn pending_invite(state: State<'_, AppState>) -> Result<Option<String>> {
    Ok(state
        .pending_invite
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take())
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
