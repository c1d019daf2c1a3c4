//! Invites: a link that lets whoever holds it into one room, for a while, with one role,
//! without the app's key. The idea is TRTC's PrivateMapKey (a room-scoped, expiring
//! privilege signed with the app key); the format is our own and documented in
//! `docs/PROTOCOL.md`.
//!
//! A grant is `v1.<payload>.<mac>`: `payload` is base64url (no padding) of the JSON
//! [`Grant`], `mac` is base64url of HMAC-SHA256 keyed by the app's secret key over
//! `"roomcast-invite-v1." + payload`. The link is the server's address with the grant in the
//! URL fragment, `http://host:7880/#invite=<grant>`, which browsers never send to a server,
//! so it stays out of access logs. `roomcast://host:7880/#invite=<grant>` is the same link for
//! the desktop app (the scheme stands for `http`; `roomcasts://` for `https`).
//!
//! A server that serves its page over https with a self-signed certificate (browsers need a
//! secure page for camera and microphone) gives `https://host:7443/#invite=<grant>&http=7880`:
//! browsers open the https page, the app and the CLI talk plain http to port 7880 of the same
//! host (they cannot vouch for a self-signed certificate; media is DTLS-SRTP either way).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::RoomId;
use crate::signal::Role;

const PREFIX: &str = "v1.";
const DOMAIN: &str = "roomcast-invite-v1.";
/// The longest grant we read; real ones are ~250 bytes.
const MAX_GRANT_BYTES: usize = 2048;

/// What an invite allows. Times are unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// SDKAppID.
    pub app: u32,
    pub room: RoomId,
    /// The role its holder enters with (in call scenes everyone is an anchor anyway).
    pub role: Role,
    /// The holder may run the meeting (host controls) like the room's owner.
    #[serde(default)]
    pub host: bool,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// Random, names this invite (e.g. in the server's refusals).
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    #[error("the invite link is damaged or incomplete: {0}")]
    Malformed(String),
    #[error("the invite link was changed or was not made for this server's app")]
    BadSignature,
    #[error("the invite link expired {ago} s ago; ask the host for a new one")]
    Expired { ago: i64 },
    #[error("the invite link is for room {granted}, not room {asked}")]
    WrongRoom { granted: RoomId, asked: RoomId },
    #[error("the invite link is for SDKAppID {0}, not this app")]
    WrongApp(u32),
}

fn mac(key: &str) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length")
}

/// Signs `grant` with the app's secret key.
pub fn sign(grant: &Grant, key: &str) -> String {
    let json = serde_json::to_vec(grant).expect("a plain struct always serialises");
    let payload = URL_SAFE_NO_PAD.encode(json);
    let mut m = mac(key);
    m.update(DOMAIN.as_bytes());
    m.update(payload.as_bytes());
    let tag = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{PREFIX}{payload}.{tag}")
}

/// Reads a grant without checking its signature (clients use this to learn the room).
pub fn decode(token: &str) -> Result<Grant, InviteError> {
    split(token).and_then(|(payload, _)| parse_payload(payload))
}

/// Checks the signature, the app and the expiry; the caller checks the room it is used for.
pub fn verify(token: &str, app: u32, key: &str, now: i64) -> Result<Grant, InviteError> {
    let (payload, tag) = split(token)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| InviteError::Malformed("the signature is not base64url".into()))?;
    let mut m = mac(key);
    m.update(DOMAIN.as_bytes());
    m.update(payload.as_bytes());
    m.verify_slice(&tag)
        .map_err(|_| InviteError::BadSignature)?;
    let grant = parse_payload(payload)?;
    if grant.app != app {
        return Err(InviteError::WrongApp(grant.app));
    }
    if now >= grant.exp {
        return Err(InviteError::Expired {
            ago: now - grant.exp,
        });
    }
    Ok(grant)
}

fn split(token: &str) -> Result<(&str, &str), InviteError> {
    if token.len() > MAX_GRANT_BYTES {
        return Err(InviteError::Malformed("longer than 2048 bytes".into()));
    }
    token
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('.'))
        .ok_or_else(|| InviteError::Malformed("not a roomcast v1 invite".into()))
}

fn parse_payload(payload: &str) -> Result<Grant, InviteError> {
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| InviteError::Malformed("the grant is not base64url".into()))?;
    serde_json::from_slice(&json).map_err(|e| InviteError::Malformed(format!("bad grant: {e}")))
}

/// An invite link taken apart: the server's http(s) address and the grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteLink {
    /// What browsers open: `http(s)://host:port` (no trailing slash).
    pub server: String,
    pub grant: String,
    /// Where the app and the CLI connect instead, when the page is https with a certificate
    /// they cannot check: `http://host:port`.
    pub signaling: Option<String>,
}

impl InviteLink {
    /// The link people share (opens the web page in a browser).
    pub fn to_web(&self) -> String {
        let port = self
            .signaling
            .as_deref()
            .and_then(|s| s.rsplit(':').next())
            .map(|p| format!("&http={p}"))
            .unwrap_or_default();
        format!("{}/#invite={}{port}", self.server, self.grant)
    }

    /// Where the app and the CLI connect.
    pub fn client_server(&self) -> &str {
        self.signaling.as_deref().unwrap_or(&self.server)
    }

    /// The same link for the desktop app's `roomcast://` handler (it points at
    /// [`InviteLink::client_server`]).
    pub fn to_app(&self) -> String {
        let target = self.client_server();
        let deep = if let Some(rest) = target.strip_prefix("https://") {
            format!("roomcasts://{rest}")
        } else {
            let rest = target.strip_prefix("http://").unwrap_or(target);
            format!("roomcast://{rest}")
        };
        format!("{deep}/#invite={}", self.grant)
    }

    /// Accepts the web form, the app form, with or without a path before the fragment.
    pub fn parse(link: &str) -> Result<Self, InviteError> {
        let link = link.trim();
        let (base, fragment) = link
            .split_once('#')
            .ok_or_else(|| InviteError::Malformed("the link has no #invite= part".into()))?;
        let grant = fragment
            .split('&')
            .find_map(|kv| kv.strip_prefix("invite="))
            .filter(|g| !g.is_empty())
            .ok_or_else(|| InviteError::Malformed("the link has no #invite= part".into()))?;
        let (scheme, rest) = base
            .split_once("://")
            .ok_or_else(|| InviteError::Malformed("the link has no scheme".into()))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" | "roomcast" => "http",
            "https" | "roomcasts" => "https",
            other => return Err(InviteError::Malformed(format!("unknown scheme {other}:"))),
        };
        let host = rest.split(['/', '?']).next().unwrap_or("");
        if host.is_empty() {
            return Err(InviteError::Malformed("the link names no server".into()));
        }
        decode(grant)?;
        let port = fragment
            .split('&')
            .find_map(|kv| kv.strip_prefix("http="))
            .and_then(|p| p.parse::<u16>().ok());
        let hostname = host
            .rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(h, _)| h);
        Ok(Self {
            server: format!("{scheme}://{host}"),
            grant: grant.to_string(),
            signaling: port.map(|p| format!("http://{hostname}:{p}")),
        })
    }
}

/// A protocol UserID for a display name: its ASCII letters and digits (so logs stay
/// readable), then `_` and a suffix that keeps two guests called the same apart. A name
/// with no ASCII at all (e.g. Korean) becomes `guest_<suffix>`.
pub fn user_id_for(name: &str, suffix: &str) -> String {
    let mut base: String = name
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let base_trimmed = base.trim_matches('_');
    base = if base_trimmed.is_empty() {
        "guest".into()
    } else {
        base_trimmed.into()
    };
    let suffix: String = suffix
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect();
    let room_for_base = 32 - 1 - suffix.len();
    base.truncate(room_for_base);
    if suffix.is_empty() {
        base
    } else {
        format!("{base}_{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(exp: i64) -> Grant {
        Grant {
            app: 1400000001,
            room: RoomId::Number(4242),
            role: Role::Anchor,
            host: false,
            iat: 1000,
            exp,
            id: "a1b2c3d4".into(),
        }
    }

    #[test]
    fn a_signed_grant_verifies_and_tampering_does_not() {
        let token = sign(&grant(5000), "key");
        assert_eq!(
            verify(&token, 1400000001, "key", 2000).unwrap(),
            grant(5000)
        );
        assert_eq!(
            verify(&token, 1400000001, "other", 2000),
            Err(InviteError::BadSignature)
        );
        // Re-encode the payload with another room: the mac no longer matches.
        let mut changed = grant(5000);
        changed.room = RoomId::Number(1);
        let forged = sign(&changed, "attacker");
        let (_, tag) = split(&token).unwrap();
        let (payload, _) = split(&forged).unwrap();
        let spliced = format!("v1.{payload}.{tag}");
        assert_eq!(
            verify(&spliced, 1400000001, "key", 2000),
            Err(InviteError::BadSignature)
        );
        assert!(matches!(
            verify("v1.garbage", 1400000001, "key", 2000),
            Err(InviteError::Malformed(_))
        ));
        assert!(matches!(
            verify("", 1400000001, "key", 2000),
            Err(InviteError::Malformed(_))
        ));
    }

    #[test]
    fn expiry_and_app_are_checked() {
        let token = sign(&grant(5000), "key");
        assert_eq!(
            verify(&token, 1400000001, "key", 5010),
            Err(InviteError::Expired { ago: 10 })
        );
        assert_eq!(
            verify(&token, 1400000002, "key", 2000),
            Err(InviteError::WrongApp(1400000001))
        );
    }

    #[test]
    fn links_round_trip_in_both_forms() {
        let link = InviteLink {
            server: "http://192.168.1.20:7880".into(),
            grant: sign(&grant(5000), "key"),
            signaling: None,
        };
        assert_eq!(InviteLink::parse(&link.to_web()).unwrap(), link);
        assert_eq!(InviteLink::parse(&link.to_app()).unwrap(), link);
        assert!(
            link.to_app()
                .starts_with("roomcast://192.168.1.20:7880/#invite=v1.")
        );
        let tls = InviteLink {
            server: "https://meet.example.org".into(),
            ..link.clone()
        };
        assert_eq!(InviteLink::parse(&tls.to_app()).unwrap(), tls);
        let secure = InviteLink {
            server: "https://192.168.1.20:7443".into(),
            signaling: Some("http://192.168.1.20:7880".into()),
            ..link.clone()
        };
        assert!(secure.to_web().ends_with("&http=7880"));
        assert_eq!(InviteLink::parse(&secure.to_web()).unwrap(), secure);
        assert_eq!(secure.client_server(), "http://192.168.1.20:7880");
        assert!(
            secure
                .to_app()
                .starts_with("roomcast://192.168.1.20:7880/#invite=")
        );
        assert!(InviteLink::parse("http://host:7880/?invite=x").is_err());
        assert!(InviteLink::parse("ftp://host/#invite=v1.a.b").is_err());
    }

    #[test]
    fn user_ids_for_any_name_are_valid_ascii() {
        assert_eq!(user_id_for("Anna Kim", "x7"), "Anna_Kim_x7");
        assert_eq!(user_id_for("김민지", "a1b2c3d4"), "guest_a1b2c3d4");
        assert_eq!(user_id_for("alice", ""), "alice");
        let long = user_id_for(&"a".repeat(80), "12345678");
        assert_eq!(long.len(), 32);
        for id in [long, user_id_for("Zoë 🎉", "9")] {
            assert!(crate::UserId::new(id.clone()).is_ok(), "{id}");
        }
    }
}
