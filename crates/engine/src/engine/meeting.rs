//! Meetings from the engine: messages (TRTC `sendCustomCmdMsg`), chat, reactions, raised
//! hands, and the host's controls. The server enforces who may do what and the message
//! limits; a refusal comes back as [`EngineError::Server`] with its code.

use roomcast_proto::chat::{MEETING_CMD_ID, MeetingMsg};
use roomcast_proto::{MediaKind, Request, RoomOptions, Stream, UserId};

use crate::codec::sei::SEI_MAX_BYTES;

use super::{Engine, EngineError};

impl Engine {
    /// Sends a custom command message (id 1–10, at most 1 KB) to everyone else in the room.
    /// Past 30 messages or 8 KB in a second the server refuses with `MessageRateLimited`.
    pub async fn send_custom_cmd_msg(
        &self,
        cmd_id: u32,
        data: String,
        reliable: bool,
        ordered: bool,
    ) -> Result<(), EngineError> {
        self.send_request(Request::SendCustom {
            cmd_id,
            data,
            reliable,
            ordered,
        })
        .await
    }

    /// A chat line to everyone (a custom message on the meeting's id).
    pub async fn send_chat(&self, text: &str) -> Result<(), EngineError> {
        let msg = MeetingMsg::Chat { text: text.into() };
        self.send_custom_cmd_msg(MEETING_CMD_ID, msg.encode(), true, true)
            .await
    }

    pub async fn send_reaction(&self, emoji: &str) -> Result<(), EngineError> {
        let msg = MeetingMsg::Reaction {
            emoji: emoji.into(),
        };
        self.send_custom_cmd_msg(MEETING_CMD_ID, msg.encode(), false, false)
            .await
    }

    pub async fn raise_hand(&self, up: bool) -> Result<(), EngineError> {
        self.send_request(Request::RaiseHand { up }).await
    }

    /// Host: turn off `user`'s microphone or camera (everyone's but ours when `None`);
    /// with `lock` they cannot turn it back on until [`Engine::unlock_remote`].
    pub async fn mute_remote(
        &self,
        user: Option<UserId>,
        kind: MediaKind,
        lock: bool,
    ) -> Result<(), EngineError> {
        self.send_request(Request::Mute {
            user_id: user,
            kind,
            lock,
        })
        .await
    }

    pub async fn unlock_remote(
        &self,
        user: Option<UserId>,
        kind: MediaKind,
    ) -> Result<(), EngineError> {
        self.send_request(Request::Unlock {
            user_id: user,
            kind,
        })
        .await
    }

    /// Host: take `user` out; they cannot enter this meeting again.
    pub async fn remove_user(&self, user: UserId) -> Result<(), EngineError> {
        self.send_request(Request::RemoveUser { user_id: user })
            .await
    }

    /// Host: lock, lobby, passcode.
    pub async fn set_room_options(&self, options: RoomOptions) -> Result<(), EngineError> {
        self.send_request(Request::SetRoomOptions { options }).await
    }

    /// Host: end the meeting for everyone (we are removed too, with `MeetingEnded`).
    pub async fn end_meeting(&self) -> Result<(), EngineError> {
        self.send_request(Request::EndMeeting).await
    }

    /// Attaches `data` (at most 1000 bytes) to the next `repeat` camera frames as an H.264
    /// SEI message (TRTC `sendSEIMsg`): subscribers get it with the frame, e.g. to sync
    /// captions or slides to the picture. Needs the camera to be published.
    pub fn send_sei_msg(&self, data: &[u8], repeat: u32) -> Result<(), EngineError> {
        if data.len() > SEI_MAX_BYTES {
            return Err(EngineError::Codec(format!(
                "an SEI message may carry at most {SEI_MAX_BYTES} bytes, not {}",
                data.len()
            )));
        }
        let camera = self.video.get(&Stream::Main).ok_or_else(|| {
            EngineError::Codec(
                "SEI messages ride on camera frames: publish the camera first".into(),
            )
        })?;
        crate::stats::lock(&camera.controls.sei).push((data.to_vec(), repeat.clamp(1, 30)));
        Ok(())
    }

    /// Host: let `user` in from the lobby, or not.
    pub async fn admit(&self, user: UserId, accept: bool) -> Result<(), EngineError> {
        self.send_request(Request::Admit {
            user_id: user,
            accept,
        })
        .await
    }
}
