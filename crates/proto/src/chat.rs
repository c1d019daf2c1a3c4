//! The meeting's own use of custom command messages: chat lines and reactions travel as
//! custom messages with [`MEETING_CMD_ID`] and a small JSON body, so they obey the same
//! limits and any client that speaks `send_custom` can take part. Ids 1–9 stay free for
//! applications.

use serde::{Deserialize, Serialize};

/// The custom command id the meeting's chat and reactions use.
pub const MEETING_CMD_ID: u32 = 10;

/// The body of a meeting custom message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum MeetingMsg {
    /// A chat line to everyone.
    Chat { text: String },
    /// An emoji floating over the sender's tile.
    Reaction { emoji: String },
}

impl MeetingMsg {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a plain enum always serialises")
    }

    /// `None` for anything else (another application's message on the same id).
    pub fn decode(cmd_id: u32, data: &str) -> Option<Self> {
        (cmd_id == MEETING_CMD_ID)
            .then(|| serde_json::from_str(data).ok())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape() {
        let m = MeetingMsg::Chat {
            text: "안녕하세요".into(),
        };
        assert_eq!(m.encode(), r#"{"t":"chat","text":"안녕하세요"}"#);
        assert_eq!(MeetingMsg::decode(10, &m.encode()), Some(m.clone()));
        assert_eq!(MeetingMsg::decode(3, &m.encode()), None);
        assert_eq!(MeetingMsg::decode(10, "not json"), None);
    }
}
