//! Messages between members: custom command messages (TRTC `sendCustomCmdMsg`) under TRTC's
//! limits, and raised hands.
//!
//! Limits per sender, over the last second (a sliding window, so a burst at a second's
//! boundary cannot double the rate): at most 30 messages and 8 KB; each message at most
//! 1 KB. A message past a limit is refused with a clear error and not forwarded, so no
//! receiver ever gets more than 30 a second from one sender.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use roomcast_proto::{
    CUSTOM_CMD_IDS, CUSTOM_MAX_BYTES, CUSTOM_MAX_BYTES_PER_SEC, CUSTOM_MAX_PER_SEC, ErrorCode,
    ServerMessage,
};

use super::{MemberId, Room, RoomError};

const WINDOW: Duration = Duration::from_secs(1);

/// One sender's recent messages: (when, bytes).
#[derive(Debug, Default)]
pub(super) struct Rate {
    sent: VecDeque<(Instant, usize)>,
    pub(super) seq: u64,
}

impl Rate {
    fn admit(&mut self, now: Instant, bytes: usize) -> Result<(), RoomError> {
        while self
            .sent
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) >= WINDOW)
        {
            self.sent.pop_front();
        }
        let total: usize = self.sent.iter().map(|(_, b)| b).sum();
        if self.sent.len() >= CUSTOM_MAX_PER_SEC || total + bytes > CUSTOM_MAX_BYTES_PER_SEC {
            return Err(RoomError::Refused(
                ErrorCode::MessageRateLimited,
                format!(
                    "too many messages: at most {CUSTOM_MAX_PER_SEC} and {} KB per second; this one was not sent",
                    CUSTOM_MAX_BYTES_PER_SEC / 1024
                ),
            ));
        }
        self.sent.push_back((now, bytes));
        self.seq += 1;
        Ok(())
    }
}

impl Room {
    pub fn handle_custom(
        &mut self,
        now: Instant,
        member: MemberId,
        cmd_id: u32,
        data: String,
        reliable: bool,
        ordered: bool,
    ) -> Result<(), RoomError> {
        let m = self.members.get_mut(&member).ok_or(RoomError::NotInRoom)?;
        if !CUSTOM_CMD_IDS.contains(&cmd_id) {
            return Err(RoomError::Refused(
                ErrorCode::InvalidParameter,
                format!(
                    "cmd_id {cmd_id} is out of range; use {} to {}",
                    CUSTOM_CMD_IDS.start(),
                    CUSTOM_CMD_IDS.end()
                ),
            ));
        }
        if data.len() > CUSTOM_MAX_BYTES {
            return Err(RoomError::Refused(
                ErrorCode::CustomMessageTooLarge,
                format!(
                    "the message has {} bytes; at most {CUSTOM_MAX_BYTES} are allowed",
                    data.len()
                ),
            ));
        }
        m.rate.admit(now, data.len())?;
        let msg = ServerMessage::Custom {
            user_id: m.user.clone(),
            cmd_id,
            seq: m.rate.seq,
            data,
            reliable,
            ordered,
        };
        self.broadcast(Some(member), msg);
        Ok(())
    }

    pub fn handle_raise_hand(&mut self, member: MemberId, up: bool) -> Result<(), RoomError> {
        self.hands += 1;
        let order = self.hands;
        let m = self.members.get_mut(&member).ok_or(RoomError::NotInRoom)?;
        let hand = match (up, m.hand) {
            (true, Some(h)) => Some(h),
            (true, None) => Some(order),
            (false, _) => None,
        };
        if hand == m.hand {
            return Ok(());
        }
        m.hand = hand;
        let user_id = m.user.clone();
        self.broadcast(Some(member), ServerMessage::Hand { user_id, hand });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides() {
        let t0 = Instant::now();
        let mut r = Rate::default();
        for i in 0..30 {
            r.admit(t0 + Duration::from_millis(i * 10), 10)
                .expect("30 in a second");
        }
        assert!(r.admit(t0 + Duration::from_millis(500), 10).is_err());
        // 1 s after the first one, one slot frees.
        assert!(r.admit(t0 + Duration::from_millis(1000), 10).is_ok());
        assert!(r.admit(t0 + Duration::from_millis(1001), 10).is_err());

        let mut r = Rate::default();
        for i in 0..8 {
            r.admit(t0 + Duration::from_millis(i), 1024).expect("8 KB");
        }
        let e = r.admit(t0 + Duration::from_millis(9), 1).unwrap_err();
        assert_eq!(e.code(), ErrorCode::MessageRateLimited);
    }
}
