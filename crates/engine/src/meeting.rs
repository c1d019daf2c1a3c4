//! Meeting messages from the server as engine events: chat and reactions decoded from their
//! custom messages, other custom messages as they are, hands, room changes, the lobby.

use roomcast_proto::ServerMessage;
use roomcast_proto::chat::MeetingMsg;

use crate::EngineEvent;

/// The event for a meeting message; `None` for anything else.
pub fn event(msg: ServerMessage) -> Option<EngineEvent> {
    Some(match msg {
        ServerMessage::Custom {
            user_id,
            cmd_id,
            seq,
            data,
            ..
        } => match MeetingMsg::decode(cmd_id, &data) {
            Some(MeetingMsg::Chat { text }) => EngineEvent::Chat {
                user: user_id,
                text,
            },
            Some(MeetingMsg::Reaction { emoji }) => EngineEvent::Reaction {
                user: user_id,
                emoji,
            },
            None => EngineEvent::CustomCmdMsg {
                user: user_id,
                cmd_id,
                seq,
                data,
            },
        },
        ServerMessage::Hand { user_id, hand } => EngineEvent::Hand {
            user: user_id,
            hand,
        },
        ServerMessage::RoomChanged { room } => EngineEvent::RoomChanged(room),
        ServerMessage::LobbyJoined { user_id, name } => EngineEvent::LobbyJoined {
            user: user_id,
            name,
        },
        ServerMessage::LobbyLeft { user_id } => EngineEvent::LobbyLeft { user: user_id },
        _ => return None,
    })
}
