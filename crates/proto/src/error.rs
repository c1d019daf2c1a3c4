//! Stable numeric error codes sent to clients. The numbers never change meaning; new
//! codes are only added. Each crate maps its own error enum onto these once.

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($($name:ident = $num:literal, $doc:literal;)*) => {
        /// An error a client can act on. `code()` is the stable wire number.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "u32", into = "u32")]
        pub enum ErrorCode {
            $(#[doc = $doc] $name,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)*];

            pub fn code(self) -> u32 {
                match self { $(ErrorCode::$name => $num,)* }
            }

            /// What it means for a person reading a log or a dialog.
            pub fn describe(self) -> &'static str {
                match self { $(ErrorCode::$name => $doc,)* }
            }
        }

        impl TryFrom<u32> for ErrorCode {
            type Error = String;
            fn try_from(v: u32) -> Result<Self, String> {
                match v {
                    $($num => Ok(ErrorCode::$name),)*
                    other => Err(format!("unknown error code {other}")),
                }
            }
        }
    };
}

codes! {
    MalformedMessage = 1000, "the message is not valid JSON for this protocol";
    UnknownMessage = 1001, "the message type is not known to this server";
    MessageTooLarge = 1002, "the message is larger than the server accepts";
    UnsupportedVersion = 1003, "the client speaks a protocol version this server does not";
    NotInRoom = 1004, "enter a room first";
    AlreadyInRoom = 1005, "this connection is already in a room; exit it first";
    InvalidUserId = 1006, "UserID must be 1 to 32 bytes of A-Z, a-z, 0-9 or _";
    InvalidRoomId = 1007, "RoomID must be 1..4294967295 or a short name";
    InvalidName = 1008, "the display name must be 1 to 64 characters without control characters";
    InvalidParameter = 1009, "a parameter of the request is out of range";
    UserSigInvalid = 2000, "the UserSig is malformed or its signature does not match";
    UserSigExpired = 2001, "the UserSig has expired";
    AppUnknown = 2002, "no app with this SDKAppID exists on this server";
    UserSigMismatch = 2003, "the UserSig was issued for another app or user";
    InviteInvalid = 2004, "the invite link is damaged, was changed, or is not for this server";
    InviteExpired = 2005, "the invite link has expired; ask the host for a new one";
    InviteWrongRoom = 2006, "the invite link is for another room";
    PasscodeWrong = 2007, "the meeting's passcode is missing or wrong";
    RoomFull = 3000, "the room has reached its user limit";
    TooManyPublishers = 3001, "the room has reached its limit of users with camera or mic on";
    RoleNotAllowed = 3002, "the user's role does not allow this (audience members cannot publish)";
    UserNotFound = 3003, "no such user in the room";
    ReplacedByNewLogin = 3004, "the same UserID entered the room from another connection";
    NothingToAnswer = 3005, "there is no open invitation or request to speak to answer (they expire after 60 s)";
    UserBanned = 3006, "the host removed this user from the meeting; they cannot come back to it";
    RoomLocked = 3007, "the host locked the meeting: nobody new can enter";
    LobbyDenied = 3008, "the host did not let this user in";
    MeetingEnded = 3009, "the host ended the meeting for everyone";
    RemovedByHost = 3010, "the host removed this user from the meeting";
    MessageRateLimited = 3011, "too many messages: at most 30 per second and 8 KB per second per user";
    CustomMessageTooLarge = 3012, "a custom message may carry at most 1 KB";
    MutedByHost = 3013, "the host muted this and locked it; only the host can unlock it";
    NegotiationFailed = 4000, "the SDP offer could not be accepted";
    Internal = 5000, "the server failed; try again";
}

impl From<ErrorCode> for u32 {
    fn from(c: ErrorCode) -> u32 {
        c.code()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code(), self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.code()), "duplicate code {}", c.code());
            assert_eq!(ErrorCode::try_from(c.code()).unwrap(), *c);
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), *c);
        }
        assert!(ErrorCode::try_from(9999).is_err());
    }
}
