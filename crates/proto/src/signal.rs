//! Signaling messages: JSON over one WebSocket per client.
//!
//! Every client message carries an `id`; the server answers each with exactly one reply
//! carrying the same `id` (`entered`, `ok`, `answer`) or an `error`. Everything else the
//! server sends is an event about the room. The full protocol is described in
//! `docs/PROTOCOL.md`.
//!
//! Media: one WebRTC peer connection per client, to the server. The client is always the
//! offerer (`negotiate`): it adds send-only m-lines to publish and receive-only m-lines to
//! subscribe, and says in `tracks` what each m-line (by `mid`) is for. The server (ICE-lite)
//! only answers, so there is never glare.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::ids::{IdError, RoomId, SdkAppId, UserId};

/// The protocol version this crate speaks; a client sends it in `enter_room`.
pub const PROTOCOL_VERSION: u32 = 1;

/// How long an invitation or a request to speak stays open without an answer.
pub const SPEAK_TIMEOUT_SECS: u64 = 60;

/// The largest text frame the server accepts. SDP for a big room stays well below this.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// TRTC's limits on custom command messages, enforced by the server per room member.
pub const CUSTOM_MAX_BYTES: usize = 1024;
pub const CUSTOM_MAX_PER_SEC: usize = 30;
pub const CUSTOM_MAX_BYTES_PER_SEC: usize = 8 * 1024;
/// TRTC's custom command ids.
pub const CUSTOM_CMD_IDS: std::ops::RangeInclusive<u32> = 1..=10;
/// The longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May publish and subscribe.
    Anchor,
    /// Subscribe only.
    Audience,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scene {
    VideoCall,
    AudioCall,
    Live,
    VoiceChatRoom,
}

impl Scene {
    /// Live scenes have anchors and an audience; in calls everyone is an anchor.
    pub fn is_live(self) -> bool {
        matches!(self, Scene::Live | Scene::VoiceChatRoom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Audio,
    Video,
}

/// Camera and screen share are separate streams of one user.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Camera and microphone.
    #[default]
    Main,
    /// Screen share (and its audio).
    Sub,
}

/// The two layers of a camera published with simulcast (TRTC `TRTCVideoStreamType`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum VideoStreamType {
    /// The camera at the size the publisher chose (RID `h`).
    #[default]
    Big,
    /// A small copy, e.g. 320×180 at 15 fps (RID `l`).
    Small,
}

impl VideoStreamType {
    /// The RTP stream id (RID) the layer is sent with.
    pub fn rid(self) -> &'static str {
        match self {
            Self::Big => "h",
            Self::Small => "l",
        }
    }

    pub fn from_rid(rid: &str) -> Option<Self> {
        match rid {
            "h" | "f" | "hi" => Some(Self::Big),
            "l" | "q" | "lo" => Some(Self::Small),
            _ => None,
        }
    }
}

impl std::str::FromStr for VideoStreamType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "big" => Ok(Self::Big),
            "small" => Ok(Self::Small),
            other => Err(format!("{other:?}: use big or small")),
        }
    }
}

/// What one m-line of the client's peer connection carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Track {
    pub mid: String,
    pub kind: MediaKind,
    #[serde(default)]
    pub stream: Stream,
    /// Absent: the client publishes on this m-line. Present: the client receives this
    /// user's stream on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
}

/// A message from a client. `id` is chosen by the client and echoed in the reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientMessage {
    pub id: u64,
    #[serde(flatten)]
    pub request: Request,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Authenticate and enter (creating if needed) a room. Answered by `entered`.
    EnterRoom(EnterRoom),
    /// Leave the room; the connection may enter another. Answered by `ok`.
    ExitRoom,
    /// Change between anchor and audience (live scenes). Answered by `ok`.
    SwitchRole { role: Role },
    /// An SDP offer for the client's peer connection. Answered by `answer`.
    Negotiate { sdp: String, tracks: Vec<Track> },
    /// Stop forwarding to this receive m-line. Answered by `ok`.
    Unsubscribe { mid: String },
    /// Tell the room whether a published stream is on (unmuted) or off.
    SetAvailable {
        kind: MediaKind,
        stream: Stream,
        available: bool,
    },
    /// Keep-alive; answered by `ok`.
    Ping,
    /// An anchor in a live scene invites an audience member on stage (`speak_invited`).
    InviteToSpeak { user_id: UserId },
    /// An audience member raises a hand; every anchor gets `speak_requested`.
    RequestToSpeak,
    /// The invited audience member answers every invitation it has open. On accepting, it
    /// then sends `switch_role` itself.
    AnswerInvite { accept: bool },
    /// An anchor answers `user_id`'s request to speak.
    AnswerRequest { user_id: UserId, accept: bool },
    /// A custom command message to everyone else in the room (TRTC `sendCustomCmdMsg`).
    /// `data` is at most 1 KB of UTF-8. The WebSocket is reliable and ordered, so both of
    /// TRTC's flags are always honoured; they are carried for the receivers.
    SendCustom {
        cmd_id: u32,
        data: String,
        #[serde(default = "yes")]
        reliable: bool,
        #[serde(default = "yes")]
        ordered: bool,
    },
    /// Raise or lower my hand (shown to everyone, in the order hands went up).
    RaiseHand { up: bool },
    /// Host: turn off someone's microphone or camera, or everyone's but the host's
    /// (`user_id` absent). With `lock`, they cannot turn it back on until `unlock`.
    Mute {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<UserId>,
        kind: MediaKind,
        #[serde(default)]
        lock: bool,
    },
    /// Host: let someone (or everyone) turn their microphone or camera on again.
    Unlock {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<UserId>,
        kind: MediaKind,
    },
    /// Host: remove someone; they cannot enter this meeting again.
    RemoveUser { user_id: UserId },
    /// Host: lock the room, turn the lobby on or off, set or clear the passcode.
    SetRoomOptions { options: RoomOptions },
    /// Host: end the meeting for everyone.
    EndMeeting,
    /// Host: let someone waiting in the lobby in, or not.
    Admit { user_id: UserId, accept: bool },
    /// Which layer of `user_id`'s camera to receive when it publishes simulcast (TRTC
    /// `setRemoteVideoStreamType`); big until asked. Answered by `ok`.
    SetRemoteVideoStreamType {
        user_id: UserId,
        stream_type: VideoStreamType,
    },
    /// About once a second while video comes in: the share of its packets (first
    /// transmissions) that never reached this client, however late (`video`), and of those
    /// lost where the packet before had come (`scattered`). The server's receiver reports
    /// cannot tell random loss from a link too narrow for the video. Answered by `ok`.
    DownlinkLoss { video: f32, scattered: f32 },
    /// About once a second while audio comes in: the share of its packets (first
    /// transmissions) lost as the fifth or later of a run: a bursty link's runs (RED's six
    /// earlier frames bring the fifth and sixth back only late). Once the last ten average 2 % or more (or the last three 5 %) the
    /// server sends the audio again 200 ms later, for 30 s. Answered by `ok`.
    DownlinkAudioLoss { long_runs: f32 },
}

fn yes() -> bool {
    true
}

/// What the host decides about the room.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomOptions {
    /// Nobody new may enter.
    #[serde(default)]
    pub locked: bool,
    /// Guests (invite holders) wait until the host admits them.
    #[serde(default)]
    pub lobby: bool,
    /// Absent: keep the passcode as it is; `null` or `""`: no passcode; a string: this one.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub passcode: Option<Option<String>>,
}

/// Tells a field that is present (even as `null`) from one that is absent.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// The room's options as every member sees them (the passcode itself is not sent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomView {
    pub locked: bool,
    pub lobby: bool,
    pub passcode: bool,
    /// Who runs the meeting now, if anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<UserId>,
}

/// Kept as raw JSON values so that a bad id gets its own error code rather than
/// "malformed message"; see [`EnterRoom::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnterRoom {
    pub version: u32,
    pub sdk_app_id: u32,
    pub user_id: String,
    /// Empty when `invite` is given.
    #[serde(default)]
    pub user_sig: String,
    pub room_id: serde_json::Value,
    pub role: Role,
    pub scene: Scene,
    /// A hidden member ("dumb terminal", e.g. a recorder): nobody is told it entered.
    #[serde(default)]
    pub hidden: bool,
    /// Instead of a UserSig: an invite grant (see [`crate::invite`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
    /// The name others see: any Unicode, up to 64 characters. Default: the UserID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The meeting's passcode, when it has one. A host creating the room sets it with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passcode: Option<String>,
}

/// The checked ids of an `enter_room`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterIds {
    pub app: SdkAppId,
    pub user: UserId,
    pub room: RoomId,
    /// The display name (the UserID when none was given).
    pub name: String,
}

impl EnterRoom {
    pub fn validate(&self) -> Result<EnterIds, (ErrorCode, String)> {
        if self.version != PROTOCOL_VERSION {
            return Err((
                ErrorCode::UnsupportedVersion,
                format!(
                    "client speaks protocol {} but this server speaks {PROTOCOL_VERSION}; update the app",
                    self.version
                ),
            ));
        }
        let app =
            SdkAppId::new(self.sdk_app_id).map_err(|e| (ErrorCode::AppUnknown, e.to_string()))?;
        let user = UserId::new(self.user_id.clone())
            .map_err(|e| (ErrorCode::InvalidUserId, e.to_string()))?;
        let room = serde_json::from_value::<RoomId>(self.room_id.clone())
            .map_err(|e| (ErrorCode::InvalidRoomId, e.to_string()))?;
        let name = match self.name.as_deref().map(str::trim) {
            None | Some("") => user.as_str().to_string(),
            Some(n) => valid_name(n)?,
        };
        Ok(EnterIds {
            app,
            user,
            room,
            name,
        })
    }
}

fn valid_name(name: &str) -> Result<String, (ErrorCode, String)> {
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err((
            ErrorCode::InvalidName,
            format!(
                "the display name has {chars} characters or control characters; use at most {MAX_NAME_CHARS}"
            ),
        ));
    }
    Ok(name.to_string())
}

/// Someone else in the room, as this client sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteUser {
    pub user_id: UserId,
    /// Display name (any Unicode).
    #[serde(default)]
    pub name: String,
    pub role: Role,
    pub audio: bool,
    pub video: bool,
    pub sub_video: bool,
    /// Their hand is up; the number orders raised hands (lower went up first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hand: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// The user exited the room.
    Exited,
    /// The user's connection was lost for too long (90 s).
    ConnectionLost,
    /// The user became audience in a live room.
    BecameAudience,
    /// The user was removed by the server (e.g. replaced by a new login).
    Removed,
}

/// A message from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Reply to `enter_room`: the room as it is now.
    Entered {
        id: u64,
        room_id: RoomId,
        user_id: UserId,
        role: Role,
        users: Vec<RemoteUser>,
        #[serde(default)]
        room: RoomView,
    },
    /// Reply to `enter_room` when the room has a lobby: wait for `admitted` (or `removed`
    /// with 3008 LobbyDenied).
    Waiting { id: u64 },
    /// The host let this client in from the lobby: the room as it is now.
    Admitted {
        room_id: RoomId,
        user_id: UserId,
        role: Role,
        users: Vec<RemoteUser>,
        room: RoomView,
    },
    /// Reply to a request that returns nothing.
    Ok { id: u64 },
    /// Reply to `negotiate`.
    Answer { id: u64, sdp: String },
    /// A request failed (`id` set), or the connection has a problem (`id` absent).
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        code: ErrorCode,
        message: String,
    },
    /// Another user entered (in live scenes: only anchors are announced).
    UserEnter {
        user_id: UserId,
        role: Role,
        #[serde(default)]
        name: String,
    },
    UserLeave {
        user_id: UserId,
        reason: LeaveReason,
    },
    /// A remote user's stream was turned on or off.
    StreamAvailable {
        user_id: UserId,
        kind: MediaKind,
        stream: Stream,
        available: bool,
    },
    /// This client was taken out of the room by the server.
    Removed { code: ErrorCode, message: String },
    /// An anchor invites this audience member to speak; answer with `answer_invite`.
    SpeakInvited { by: UserId },
    /// An audience member asks to speak (sent to every anchor); answer with `answer_request`.
    SpeakRequested { user_id: UserId },
    /// An anchor answered this client's request to speak.
    SpeakRequestAnswered { accept: bool, by: UserId },
    /// The audience member this client invited answered.
    SpeakInviteAnswered { user_id: UserId, accept: bool },
    /// A custom command message from another member.
    Custom {
        user_id: UserId,
        cmd_id: u32,
        /// Per sender, from 1; a gap means nothing (the WebSocket loses nothing).
        seq: u64,
        data: String,
        reliable: bool,
        ordered: bool,
    },
    /// Someone raised or lowered their hand (`hand` orders the raised ones).
    Hand {
        user_id: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hand: Option<u64>,
    },
    /// The host turned my microphone or camera off; with `locked`, I cannot turn it on.
    Muted {
        kind: MediaKind,
        by: UserId,
        locked: bool,
    },
    /// The host lets me turn my microphone or camera on again.
    Unlocked { kind: MediaKind },
    /// The room's options or its host changed.
    RoomChanged { room: RoomView },
    /// To the host: someone is waiting in the lobby.
    LobbyJoined { user_id: UserId, name: String },
    /// To the host: someone left the lobby (admitted, refused, or gone).
    LobbyLeft { user_id: UserId },
    /// To a publisher of a simulcast camera: which layers someone receives now. A layer
    /// nobody wants need not be encoded; both are wanted until this says otherwise.
    LayerDemand { big: bool, small: bool },
    /// To a publisher of video, about once a second: the share of its video packets (first
    /// transmissions) that never reached the server, however late (`video`), and of those
    /// lost where the packet before had come (`scattered`: random loss, not runs). Its own
    /// reports cannot tell: they count late packets lost and resent ones received. And how
    /// long its video waited in a queue on the way lately (`queue_ms`: the least one-way
    /// delay of the last second over the least of the last ten), which jitter does not hide.
    UplinkLoss {
        video: f32,
        scattered: f32,
        #[serde(default)]
        queue_ms: u32,
    },
    /// To a publisher of audio, about once a second: the share of its audio packets (first
    /// transmissions) lost on the way to the server as the fifth or later of a run, which RED
    /// cannot bring back. Once the last ten average 2 % or more (or the last three 5 %), an
    /// engine sends its audio again 200 ms later, for 30 s.
    UplinkAudioLoss { long_runs: f32 },
    /// My media reaches the server from another address than the one ICE chose (a NAT that
    /// rebinds, a network change I did not see): media to me still goes to the old one until
    /// I restart ICE, which I should do now.
    AddressChanged,
}

impl ServerMessage {
    pub fn error(id: Option<u64>, code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            id,
            code,
            message: message.into(),
        }
    }

    /// The request id this message answers, if it is a reply.
    pub fn reply_to(&self) -> Option<u64> {
        match self {
            ServerMessage::Entered { id, .. }
            | ServerMessage::Waiting { id }
            | ServerMessage::Ok { id }
            | ServerMessage::Answer { id, .. } => Some(*id),
            ServerMessage::Error { id, .. } => *id,
            _ => None,
        }
    }
}

/// Why a client message could not be read, with the code to answer it with.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub id: Option<u64>,
    pub code: ErrorCode,
    pub message: String,
}

/// Reads one client frame. Distinguishes an unknown `type` from broken JSON so the client
/// learns which, and recovers the `id` when it can so the error answers the right request.
pub fn parse_client_message(text: &str) -> Result<ClientMessage, ParseError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ParseError {
            id: None,
            code: ErrorCode::MessageTooLarge,
            message: format!(
                "message of {} bytes exceeds {MAX_MESSAGE_BYTES}",
                text.len()
            ),
        });
    }
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(m) => Ok(m),
        Err(e) => {
            let value: Option<serde_json::Value> = serde_json::from_str(text).ok();
            let id = value
                .as_ref()
                .and_then(|v| v.get("id"))
                .and_then(|v| v.as_u64());
            let ty = value
                .as_ref()
                .and_then(|v| v.get("type"))
                .and_then(|v| v.as_str());
            let code = match ty {
                Some(t) if !KNOWN_REQUESTS.contains(&t) => ErrorCode::UnknownMessage,
                _ => ErrorCode::MalformedMessage,
            };
            Err(ParseError {
                id,
                code,
                message: e.to_string(),
            })
        }
    }
}

const KNOWN_REQUESTS: &[&str] = &[
    "enter_room",
    "exit_room",
    "switch_role",
    "negotiate",
    "unsubscribe",
    "set_available",
    "ping",
    "invite_to_speak",
    "request_to_speak",
    "answer_invite",
    "answer_request",
    "send_custom",
    "raise_hand",
    "mute",
    "unlock",
    "remove_user",
    "set_room_options",
    "end_meeting",
    "admit",
];

impl From<IdError> for (ErrorCode, String) {
    fn from(e: IdError) -> Self {
        let code = match e {
            IdError::UserId(_) => ErrorCode::InvalidUserId,
            IdError::RoomNumber(_) | IdError::RoomName(_) => ErrorCode::InvalidRoomId,
            IdError::SdkAppId => ErrorCode::AppUnknown,
        };
        (code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enter() -> EnterRoom {
        EnterRoom {
            version: PROTOCOL_VERSION,
            sdk_app_id: 1400000001,
            user_id: "alice".into(),
            user_sig: "sig".into(),
            room_id: serde_json::json!(1234),
            role: Role::Anchor,
            scene: Scene::VideoCall,
            hidden: false,
            invite: None,
            name: None,
            passcode: None,
        }
    }

    #[test]
    fn wire_shape_is_stable() {
        let m = ClientMessage {
            id: 3,
            request: Request::EnterRoom(enter()),
        };
        let v: serde_json::Value = serde_json::to_value(&m).unwrap();
        assert_eq!(v["type"], "enter_room");
        assert_eq!(v["id"], 3);
        assert_eq!(v["scene"], "videocall");
        assert_eq!(v["room_id"], 1234);

        let t = Track {
            mid: "1".into(),
            kind: MediaKind::Video,
            stream: Stream::Sub,
            user_id: None,
        };
        let m = ClientMessage {
            id: 4,
            request: Request::Negotiate {
                sdp: "v=0".into(),
                tracks: vec![t],
            },
        };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(
            text,
            r#"{"id":4,"type":"negotiate","sdp":"v=0","tracks":[{"mid":"1","kind":"video","stream":"sub"}]}"#
        );
        assert_eq!(parse_client_message(&text).unwrap(), m);

        let e = ServerMessage::error(Some(4), ErrorCode::RoomFull, "full");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"error","id":4,"code":3000,"message":"full"}"#
        );
    }

    #[test]
    fn parse_errors_are_specific() {
        let e = parse_client_message("{not json").unwrap_err();
        assert_eq!((e.code, e.id), (ErrorCode::MalformedMessage, None));
        let e = parse_client_message(r#"{"id":9,"type":"dance"}"#).unwrap_err();
        assert_eq!((e.code, e.id), (ErrorCode::UnknownMessage, Some(9)));
        let e =
            parse_client_message(r#"{"id":10,"type":"switch_role","role":"king"}"#).unwrap_err();
        assert_eq!((e.code, e.id), (ErrorCode::MalformedMessage, Some(10)));
        let big = format!(
            r#"{{"id":1,"type":"ping","pad":"{}"}}"#,
            "x".repeat(MAX_MESSAGE_BYTES)
        );
        assert_eq!(
            parse_client_message(&big).unwrap_err().code,
            ErrorCode::MessageTooLarge
        );
        assert!(parse_client_message(r#"{"id":1,"type":"ping"}"#).is_ok());
        let e = parse_client_message(r#"{"id":11,"type":"invite_to_speak","user_id":"a b"}"#)
            .unwrap_err();
        assert_eq!((e.code, e.id), (ErrorCode::MalformedMessage, Some(11)));
    }

    #[test]
    fn meeting_messages_wire_shape() {
        let m = parse_client_message(r#"{"id":7,"type":"send_custom","cmd_id":1,"data":"hi"}"#)
            .unwrap();
        assert_eq!(
            m.request,
            Request::SendCustom {
                cmd_id: 1,
                data: "hi".into(),
                reliable: true,
                ordered: true
            }
        );
        let m = parse_client_message(r#"{"id":8,"type":"mute","kind":"audio"}"#).unwrap();
        assert_eq!(
            m.request,
            Request::Mute {
                user_id: None,
                kind: MediaKind::Audio,
                lock: false
            }
        );
        let m = parse_client_message(
            r#"{"id":9,"type":"set_room_options","options":{"lobby":true,"passcode":"1234"}}"#,
        )
        .unwrap();
        assert_eq!(
            m.request,
            Request::SetRoomOptions {
                options: RoomOptions {
                    locked: false,
                    lobby: true,
                    passcode: Some(Some("1234".into()))
                }
            }
        );
        let keep =
            parse_client_message(r#"{"id":9,"type":"set_room_options","options":{"locked":true}}"#)
                .unwrap();
        let clear = parse_client_message(
            r#"{"id":9,"type":"set_room_options","options":{"passcode":null}}"#,
        )
        .unwrap();
        let passcode = |m: ClientMessage| match m.request {
            Request::SetRoomOptions { options } => options.passcode,
            _ => panic!("set_room_options"),
        };
        assert_eq!((passcode(keep), passcode(clear)), (None, Some(None)));
        assert_eq!(ServerMessage::Waiting { id: 3 }.reply_to(), Some(3));
        // An old client's enter_room (no name, invite or passcode) still parses.
        let m = parse_client_message(
            r#"{"id":1,"type":"enter_room","version":1,"sdk_app_id":1400000001,"user_id":"a","user_sig":"s","room_id":1,"role":"anchor","scene":"videocall"}"#,
        )
        .unwrap();
        let Request::EnterRoom(e) = m.request else {
            panic!("enter_room")
        };
        assert_eq!((e.invite, e.name), (None, None));
    }

    #[test]
    fn speak_messages_wire_shape() {
        let m = parse_client_message(r#"{"id":5,"type":"request_to_speak"}"#).unwrap();
        assert_eq!(m.request, Request::RequestToSpeak);
        let m = parse_client_message(
            r#"{"id":6,"type":"answer_request","user_id":"bob","accept":true}"#,
        )
        .unwrap();
        assert_eq!(
            m.request,
            Request::AnswerRequest {
                user_id: UserId::new("bob").unwrap(),
                accept: true
            }
        );
        let e = ServerMessage::SpeakRequestAnswered {
            accept: false,
            by: UserId::new("ann").unwrap(),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"speak_request_answered","accept":false,"by":"ann"}"#
        );
        assert_eq!(e.reply_to(), None);
    }

    #[test]
    fn enter_room_validation_codes() {
        assert!(enter().validate().is_ok());
        let mut e = enter();
        e.user_id = "bad user".into();
        assert_eq!(e.validate().unwrap_err().0, ErrorCode::InvalidUserId);
        let mut e = enter();
        e.room_id = serde_json::json!(0);
        assert_eq!(e.validate().unwrap_err().0, ErrorCode::InvalidRoomId);
        let mut e = enter();
        e.room_id = serde_json::json!("team.standup");
        assert_eq!(
            e.validate().unwrap().room,
            RoomId::Name("team.standup".into())
        );
        let mut e = enter();
        e.name = Some("김민지 (Minji)".into());
        assert_eq!(e.validate().unwrap().name, "김민지 (Minji)");
        e.name = Some("a\u{7}b".into());
        assert_eq!(e.validate().unwrap_err().0, ErrorCode::InvalidName);
        e.name = Some("가".repeat(65));
        assert_eq!(e.validate().unwrap_err().0, ErrorCode::InvalidName);
        e.name = None;
        assert_eq!(e.validate().unwrap().name, "alice");
        let mut e = enter();
        e.version = 99;
        assert_eq!(e.validate().unwrap_err().0, ErrorCode::UnsupportedVersion);
    }

    #[test]
    fn uplink_loss_from_a_server_without_the_queue_reads_no_queue() {
        let old = r#"{"type":"uplink_loss","video":0.2,"scattered":0.16}"#;
        let m: ServerMessage = serde_json::from_str(old).expect("parses");
        let queue_ms = match m {
            ServerMessage::UplinkLoss { queue_ms, .. } => queue_ms,
            other => panic!("{other:?}"),
        };
        assert_eq!(queue_ms, 0);
    }
}
