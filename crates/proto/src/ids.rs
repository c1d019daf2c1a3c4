//! Validated identifiers: SDKAppID, UserID and RoomID (numeric or string form).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("UserID must be 1 to 32 bytes of A-Z, a-z, 0-9 or _ (got {0:?})")]
    UserId(String),
    #[error("numeric RoomID must be between 1 and 4294967295 (got {0})")]
    RoomNumber(i128),
    #[error("string RoomID must be 1 to 64 bytes of letters, digits and _-.@+= (got {0:?})")]
    RoomName(String),
    #[error("SDKAppID must be a positive 32-bit number")]
    SdkAppId,
}

/// A tenant: each app has its own secret key and its data never mixes with another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct SdkAppId(u32);

impl SdkAppId {
    pub fn new(id: u32) -> Result<Self, IdError> {
        if id == 0 {
            Err(IdError::SdkAppId)
        } else {
            Ok(Self(id))
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for SdkAppId {
    type Error = IdError;
    fn try_from(v: u32) -> Result<Self, IdError> {
        Self::new(v)
    }
}

impl From<SdkAppId> for u32 {
    fn from(v: SdkAppId) -> u32 {
        v.0
    }
}

impl fmt::Display for SdkAppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A user inside an app: 1..=32 bytes of `[A-Za-z0-9_]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok {
            Ok(Self(s))
        } else {
            Err(IdError::UserId(s))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = IdError;
    fn try_from(v: String) -> Result<Self, IdError> {
        Self::new(v)
    }
}

impl From<UserId> for String {
    fn from(v: UserId) -> String {
        v.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The space in which users exchange media: a number in `1..=u32::MAX` or a short name.
/// On the wire a numeric id is a JSON number and a string id a JSON string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoomId {
    Number(u32),
    Name(String),
}

impl RoomId {
    pub fn number(n: u32) -> Result<Self, IdError> {
        if n == 0 {
            Err(IdError::RoomNumber(0))
        } else {
            Ok(Self::Number(n))
        }
    }

    pub fn name(s: impl Into<String>) -> Result<Self, IdError> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.@+=".contains(&b));
        if ok {
            Ok(Self::Name(s))
        } else {
            Err(IdError::RoomName(s))
        }
    }

    /// Parses user input: all digits means a numeric id, anything else a string id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            match s.parse::<u32>() {
                Ok(n) => Self::number(n),
                Err(_) => Err(IdError::RoomNumber(s.parse::<i128>().unwrap_or(i128::MAX))),
            }
        } else {
            Self::name(s)
        }
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoomId::Number(n) => n.fmt(f),
            RoomId::Name(s) => f.write_str(s),
        }
    }
}

impl Serialize for RoomId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RoomId::Number(n) => s.serialize_u32(*n),
            RoomId::Name(n) => s.serialize_str(n),
        }
    }
}

impl<'de> Deserialize<'de> for RoomId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RoomId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a room number 1..=4294967295 or a room name")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<RoomId, E> {
                u32::try_from(n)
                    .map_err(|_| IdError::RoomNumber(i128::from(n)))
                    .and_then(RoomId::number)
                    .map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<RoomId, E> {
                Err(E::custom(IdError::RoomNumber(i128::from(n))))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<RoomId, E> {
                Err(E::custom(format!("room id {n} is not a whole number")))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RoomId, E> {
                RoomId::name(s).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids() {
        assert!(UserId::new("alice_01").is_ok());
        assert!(UserId::new("a".repeat(32)).is_ok());
        assert!(UserId::new("a".repeat(33)).is_err());
        assert!(UserId::new("").is_err());
        assert!(UserId::new("bob smith").is_err());
        assert!(UserId::new("é").is_err());
        assert!(serde_json::from_str::<UserId>("\"x-y\"").is_err());
    }

    #[test]
    fn room_ids() {
        assert_eq!(RoomId::parse("1").unwrap(), RoomId::Number(1));
        assert_eq!(
            RoomId::parse("4294967295").unwrap(),
            RoomId::Number(u32::MAX)
        );
        assert!(RoomId::parse("0").is_err());
        assert!(RoomId::parse("4294967296").is_err());
        assert_eq!(
            RoomId::parse("standup").unwrap(),
            RoomId::Name("standup".into())
        );
        assert!(RoomId::parse("").is_err());
        assert!(RoomId::parse(&"r".repeat(65)).is_err());
        assert!(RoomId::parse("a b").is_err());
    }

    #[test]
    fn room_id_json() {
        assert_eq!(serde_json::to_string(&RoomId::Number(7)).unwrap(), "7");
        assert_eq!(
            serde_json::from_str::<RoomId>("7").unwrap(),
            RoomId::Number(7)
        );
        assert_eq!(
            serde_json::from_str::<RoomId>("\"x\"").unwrap(),
            RoomId::Name("x".into())
        );
        assert!(serde_json::from_str::<RoomId>("0").is_err());
        assert!(serde_json::from_str::<RoomId>("-3").is_err());
        assert!(serde_json::from_str::<RoomId>("99999999999").is_err());
    }

    #[test]
    fn app_ids() {
        assert!(SdkAppId::new(0).is_err());
        assert!(serde_json::from_str::<SdkAppId>("0").is_err());
        assert_eq!(
            serde_json::from_str::<SdkAppId>("1400000000")
                .unwrap()
                .get(),
            1400000000
        );
    }
}
