//! What the window hears on the `room-event` channel: one serde enum, the Rust side of
//! `RoomEvent` in ui/src/lib/backend.ts (`type` tags in snake_case, fields in camelCase).
//! A test below checks that every tag this enum can produce is declared there.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex};

use roomcast_engine::EngineEvent;
use roomcast_proto::{LeaveReason, MediaKind, RoomView};
use roomcast_proto::{Role, Stream};
use serde::Serialize;
use tauri::{AppHandle, Emitter};

use crate::devices::Devices;
use crate::share::release_ended_share;
use crate::stage::publish_on_stage;

/// The channel every event goes out on.
pub const ROOM_EVENT: &str = "room-event";

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeEntry {
    /// "" = me.
    pub user_id: String,
    pub volume: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityEntry {
    pub user_id: String,
    pub quality: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum RoomEvent {
    UserEnter {
        user_id: String,
        name: String,
    },
    UserLeave {
        user_id: String,
        reason: LeaveReason,
    },
    AudioAvailable {
        user_id: String,
        available: bool,
    },
    VideoAvailable {
        user_id: String,
        stream: Stream,
        available: bool,
    },
    FirstVideoFrame {
        user_id: String,
        stream: Stream,
        width: u32,
        height: u32,
    },
    /// The size of what is received changed (e.g. the small layer of a simulcast camera).
    VideoSizeChanged {
        user_id: String,
        stream: Stream,
        width: u32,
        height: u32,
    },
    Volumes {
        volumes: Vec<VolumeEntry>,
    },
    NetworkQuality {
        qualities: Vec<QualityEntry>,
    },
    ConnectionLost,
    ConnectionRecovered,
    /// Entering the room again after a lost connection (the banner shows the attempt).
    Reconnecting {
        attempt: u32,
    },
    /// Back in the room after entering again.
    Reconnected,
    RoleChanged {
        role: Role,
    },
    Error {
        code: Option<u32>,
        message: String,
    },
    LocalVideoEnded {
        stream: Stream,
    },
    Notice {
        message: String,
    },
    DevicesChanged {
        devices: Devices,
    },
    /// `reason`: "left" or "removed" (then `code` and `message` say why).
    ExitRoom {
        reason: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    SpeakInvited {
        by: String,
    },
    SpeakRequested {
        user_id: String,
    },
    SpeakRequestAnswered {
        accept: bool,
        by: String,
    },
    SpeakInviteAnswered {
        user_id: String,
        accept: bool,
    },
    MusicProgress {
        id: i32,
        position_ms: u64,
        duration_ms: u64,
    },
    MusicComplete {
        id: i32,
    },
    WaitingInLobby,
    RoomChanged {
        room: RoomView,
    },
    Chat {
        user_id: String,
        text: String,
        at_ms: i64,
    },
    Reaction {
        user_id: String,
        emoji: String,
    },
    Hand {
        user_id: String,
        hand: Option<u64>,
    },
    MutedByHost {
        kind: MediaKind,
        by: String,
        locked: bool,
    },
    Unlocked {
        kind: MediaKind,
    },
    LobbyJoined {
        user_id: String,
        name: String,
    },
    LobbyLeft {
        user_id: String,
    },
    InviteOpened {
        link: String,
    },
}

impl RoomEvent {
    pub fn emit(self, app: &AppHandle) {
        if let Err(e) = app.emit(ROOM_EVENT, self) {
            tracing::debug!("cannot send an event to the window: {e}");
        }
    }

    /// An error without a server code (device notices, local failures).
    pub fn error(message: impl Into<String>) -> Self {
        RoomEvent::Error {
            code: None,
            message: message.into(),
        }
    }
}

pub async fn forward_events(
    app: AppHandle,
    mut events: tokio::sync::mpsc::UnboundedReceiver<EngineEvent>,
    participants: Arc<StdMutex<BTreeSet<String>>>,
) {
    while let Some(e) = events.recv().await {
        match &e {
            EngineEvent::RemoteUserEnter { user, .. } => {
                participants
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(user.as_str().to_string());
            }
            EngineEvent::SpeakRequestAnswered { accept: true, .. } => publish_on_stage(&app),
            EngineEvent::LocalVideoEnded {
                stream: Stream::Sub,
            } => release_ended_share(&app),
            _ => {}
        }
        for event in from_engine(e) {
            event.emit(&app);
        }
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Engine events in the UI's terms (music progress: one event per track).
pub fn from_engine(e: EngineEvent) -> Vec<RoomEvent> {
    let one = match e {
        EngineEvent::RemoteUserEnter { user, name } => RoomEvent::UserEnter {
            user_id: user.into(),
            name,
        },
        EngineEvent::RemoteUserLeave { user, reason } => RoomEvent::UserLeave {
            user_id: user.into(),
            reason,
        },
        EngineEvent::UserAudioAvailable { user, available } => RoomEvent::AudioAvailable {
            user_id: user.into(),
            available,
        },
        EngineEvent::UserVideoAvailable {
            user,
            stream,
            available,
        } => RoomEvent::VideoAvailable {
            user_id: user.into(),
            stream,
            available,
        },
        EngineEvent::FirstVideoFrame {
            user,
            stream,
            width,
            height,
            ..
        } => RoomEvent::FirstVideoFrame {
            user_id: user.into(),
            stream,
            width,
            height,
        },
        EngineEvent::VideoSizeChanged {
            user,
            stream,
            width,
            height,
        } => RoomEvent::VideoSizeChanged {
            user_id: user.into(),
            stream,
            width,
            height,
        },
        EngineEvent::Volumes(levels) => RoomEvent::Volumes {
            volumes: levels
                .into_iter()
                .map(|(u, volume)| VolumeEntry {
                    user_id: u.map(String::from).unwrap_or_default(),
                    volume,
                })
                .collect(),
        },
        EngineEvent::NetworkQuality(q) => RoomEvent::NetworkQuality {
            qualities: q
                .into_iter()
                .map(|(u, q)| QualityEntry {
                    user_id: u.map(String::from).unwrap_or_default(),
                    quality: q.as_number(),
                })
                .collect(),
        },
        EngineEvent::ConnectionLost => RoomEvent::ConnectionLost,
        EngineEvent::ConnectionRecovered => RoomEvent::ConnectionRecovered,
        EngineEvent::Reconnecting { attempt } => RoomEvent::Reconnecting { attempt },
        EngineEvent::Reconnected => RoomEvent::Reconnected,
        EngineEvent::SwitchRole { role } => RoomEvent::RoleChanged { role },
        EngineEvent::Error { code, message } => RoomEvent::Error {
            code: code.map(|c| c.code()),
            message,
        },
        EngineEvent::Removed { code, message } => RoomEvent::ExitRoom {
            reason: "removed",
            code: Some(code.code()),
            message: Some(message),
        },
        EngineEvent::ExitRoom => RoomEvent::ExitRoom {
            reason: "left",
            code: None,
            message: None,
        },
        EngineEvent::MusicProgress(states) => {
            return states
                .into_iter()
                .map(|m| RoomEvent::MusicProgress {
                    id: m.id,
                    position_ms: m.position_ms,
                    duration_ms: m.duration_ms,
                })
                .collect();
        }
        EngineEvent::MusicComplete { id } => RoomEvent::MusicComplete { id },
        EngineEvent::LocalVideoEnded { stream } => RoomEvent::LocalVideoEnded { stream },
        EngineEvent::SpeakInvited { by } => RoomEvent::SpeakInvited { by: by.into() },
        EngineEvent::SpeakRequested { user } => RoomEvent::SpeakRequested {
            user_id: user.into(),
        },
        EngineEvent::SpeakRequestAnswered { accept, by } => RoomEvent::SpeakRequestAnswered {
            accept,
            by: by.into(),
        },
        EngineEvent::SpeakInviteAnswered { user, accept } => RoomEvent::SpeakInviteAnswered {
            user_id: user.into(),
            accept,
        },
        EngineEvent::WaitingInLobby => RoomEvent::WaitingInLobby,
        EngineEvent::RoomChanged(room) => RoomEvent::RoomChanged { room },
        EngineEvent::Chat { user, text } => RoomEvent::Chat {
            user_id: user.into(),
            text,
            at_ms: unix_ms(),
        },
        EngineEvent::Reaction { user, emoji } => RoomEvent::Reaction {
            user_id: user.into(),
            emoji,
        },
        EngineEvent::Hand { user, hand } => RoomEvent::Hand {
            user_id: user.into(),
            hand,
        },
        EngineEvent::MutedByHost { kind, by, locked } => RoomEvent::MutedByHost {
            kind,
            by: by.into(),
            locked,
        },
        EngineEvent::Unlocked { kind } => RoomEvent::Unlocked { kind },
        EngineEvent::LobbyJoined { user, name } => RoomEvent::LobbyJoined {
            user_id: user.into(),
            name,
        },
        EngineEvent::LobbyLeft { user } => RoomEvent::LobbyLeft {
            user_id: user.into(),
        },
        EngineEvent::EnterRoom { .. }
        | EngineEvent::FirstAudioFrame { .. }
        | EngineEvent::Statistics(_)
        | EngineEvent::CustomCmdMsg { .. }
        | EngineEvent::SeiMessage { .. } => return Vec::new(),
    };
    vec![one]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `type` the enum serialises to is declared in the UI's contract.
    #[test]
    fn every_event_is_in_the_ui_contract() {
        let contract = include_str!("../../ui/src/lib/backend.ts");
        let uid = || "a".to_string();
        let samples = vec![
            RoomEvent::UserEnter {
                user_id: uid(),
                name: "김".into(),
            },
            RoomEvent::UserLeave {
                user_id: uid(),
                reason: LeaveReason::Exited,
            },
            RoomEvent::AudioAvailable {
                user_id: uid(),
                available: true,
            },
            RoomEvent::VideoAvailable {
                user_id: uid(),
                stream: Stream::Sub,
                available: true,
            },
            RoomEvent::FirstVideoFrame {
                user_id: uid(),
                stream: Stream::Main,
                width: 2,
                height: 2,
            },
            RoomEvent::Volumes { volumes: vec![] },
            RoomEvent::NetworkQuality { qualities: vec![] },
            RoomEvent::ConnectionLost,
            RoomEvent::ConnectionRecovered,
            RoomEvent::Reconnecting { attempt: 2 },
            RoomEvent::Reconnected,
            RoomEvent::RoleChanged { role: Role::Anchor },
            RoomEvent::error("x"),
            RoomEvent::LocalVideoEnded {
                stream: Stream::Sub,
            },
            RoomEvent::Notice {
                message: "n".into(),
            },
            RoomEvent::ExitRoom {
                reason: "left",
                code: None,
                message: None,
            },
            RoomEvent::SpeakInvited { by: uid() },
            RoomEvent::SpeakRequested { user_id: uid() },
            RoomEvent::SpeakRequestAnswered {
                accept: true,
                by: uid(),
            },
            RoomEvent::SpeakInviteAnswered {
                user_id: uid(),
                accept: true,
            },
            RoomEvent::MusicProgress {
                id: 1,
                position_ms: 0,
                duration_ms: 1,
            },
            RoomEvent::MusicComplete { id: 1 },
            RoomEvent::WaitingInLobby,
            RoomEvent::RoomChanged {
                room: RoomView::default(),
            },
            RoomEvent::Chat {
                user_id: uid(),
                text: "t".into(),
                at_ms: 1,
            },
            RoomEvent::Reaction {
                user_id: uid(),
                emoji: "👍".into(),
            },
            RoomEvent::Hand {
                user_id: uid(),
                hand: Some(1),
            },
            RoomEvent::MutedByHost {
                kind: MediaKind::Audio,
                by: uid(),
                locked: true,
            },
            RoomEvent::Unlocked {
                kind: MediaKind::Video,
            },
            RoomEvent::LobbyJoined {
                user_id: uid(),
                name: "n".into(),
            },
            RoomEvent::LobbyLeft { user_id: uid() },
            RoomEvent::InviteOpened { link: "l".into() },
        ];
        for e in samples {
            let v = serde_json::to_value(&e).expect("serialises");
            let tag = v["type"].as_str().expect("tagged");
            assert!(
                contract.contains(&format!("type: '{tag}'")),
                "backend.ts RoomEvent lacks '{tag}'"
            );
            for key in v.as_object().expect("object").keys() {
                assert!(!key.contains('_'), "{tag}: field {key} is not camelCase");
            }
        }
        let v = serde_json::to_value(RoomEvent::Chat {
            user_id: uid(),
            text: "t".into(),
            at_ms: 5,
        })
        .expect("serialises");
        assert_eq!(
            v,
            serde_json::json!({"type": "chat", "userId": "a", "text": "t", "atMs": 5})
        );
    }
}
