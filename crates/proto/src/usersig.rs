//! UserSig in the public TLSSigAPIv2 format, so that existing generators interoperate.
//!
//! A sig is `base64url*(zlib(json))` where the JSON holds `TLS.ver`, `TLS.identifier`,
//! `TLS.sdkappid`, `TLS.time`, `TLS.expire`, optionally `TLS.userbuf`, and `TLS.sig`: the
//! standard base64 of HMAC-SHA256, keyed by the app's secret key, over
//! `"TLS.identifier:{id}\nTLS.sdkappid:{app}\nTLS.time:{t}\nTLS.expire:{e}\n"` (plus
//! `"TLS.userbuf:{b64}\n"` when a userbuf is present). The URL-safe alphabet is the
//! TLS one: `+`→`*`, `/`→`-`, `=`→`_`.

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The longest sig we read; real ones are ~200 bytes. Bounds the zlib output too.
const MAX_SIG_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserSigError {
    #[error("UserSig is not valid: {0}")]
    Malformed(String),
    #[error("UserSig signature does not match; it was not made with this app's secret key")]
    BadSignature,
    #[error(
        "UserSig expired {ago} s ago (issued at {issued}, valid for {expire} s); ask your backend for a new one"
    )]
    Expired { issued: i64, expire: i64, ago: i64 },
    #[error("UserSig was issued for SDKAppID {0}, not this app")]
    WrongApp(u64),
    #[error("UserSig was issued for UserID {0:?}, not this user")]
    WrongUser(String),
}

/// What a verified sig says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub identifier: String,
    pub sdk_app_id: u64,
    pub time: i64,
    pub expire: i64,
    pub userbuf: Option<Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
struct Doc {
    #[serde(rename = "TLS.ver")]
    ver: String,
    #[serde(rename = "TLS.identifier")]
    identifier: String,
    #[serde(rename = "TLS.sdkappid")]
    sdkappid: u64,
    #[serde(rename = "TLS.expire")]
    expire: i64,
    #[serde(rename = "TLS.time")]
    time: i64,
    #[serde(
        rename = "TLS.userbuf",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    userbuf: Option<String>,
    #[serde(rename = "TLS.sig")]
    sig: String,
}

fn content(identifier: &str, app: u64, time: i64, expire: i64, userbuf: Option<&str>) -> String {
    let mut s = format!(
        "TLS.identifier:{identifier}\nTLS.sdkappid:{app}\nTLS.time:{time}\nTLS.expire:{expire}\n"
    );
    if let Some(b) = userbuf {
        s.push_str(&format!("TLS.userbuf:{b}\n"));
    }
    s
}

fn mac(key: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length")
}

/// Makes a sig for `identifier` valid from `now` (unix seconds) for `expire` seconds.
pub fn generate(
    sdk_app_id: u64,
    key: &str,
    identifier: &str,
    now: i64,
    expire: i64,
    userbuf: Option<&[u8]>,
) -> String {
    let userbuf = userbuf.map(|b| STANDARD.encode(b));
    let mut m = mac(key);
    m.update(content(identifier, sdk_app_id, now, expire, userbuf.as_deref()).as_bytes());
    let doc = Doc {
        ver: "2.0".into(),
        identifier: identifier.into(),
        sdkappid: sdk_app_id,
        expire,
        time: now,
        userbuf,
        sig: STANDARD.encode(m.finalize().into_bytes()),
    };
    let json = serde_json::to_vec(&doc).expect("a plain struct always serialises");
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&json).expect("writing to a Vec cannot fail");
    let compressed = z.finish().expect("writing to a Vec cannot fail");
    to_tls_alphabet(&STANDARD.encode(compressed))
}

/// Reads a sig without checking it: who and which app it claims to be for.
pub fn decode(sig: &str) -> Result<Claims, UserSigError> {
    decode_doc(sig).map(|(doc, userbuf)| Claims {
        identifier: doc.identifier,
        sdk_app_id: doc.sdkappid,
        time: doc.time,
        expire: doc.expire,
        userbuf,
    })
}

fn decode_doc(sig: &str) -> Result<(Doc, Option<Vec<u8>>), UserSigError> {
    let malformed = |what: &str| UserSigError::Malformed(what.to_string());
    if sig.is_empty() || sig.len() > MAX_SIG_BYTES {
        return Err(malformed("empty or longer than 4096 bytes"));
    }
    let compressed = STANDARD
        .decode(from_tls_alphabet(sig))
        .map_err(|_| malformed("not base64"))?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .take(MAX_SIG_BYTES as u64)
        .read_to_end(&mut json)
        .map_err(|_| malformed("not zlib data"))?;
    let doc: Doc =
        serde_json::from_slice(&json).map_err(|e| malformed(&format!("bad JSON: {e}")))?;
    let userbuf = match &doc.userbuf {
        Some(b) => Some(
            STANDARD
                .decode(b)
                .map_err(|_| malformed("userbuf is not base64"))?,
        ),
        None => None,
    };
    Ok((doc, userbuf))
}

/// Checks a sig against the app's key, the expected app and user, and the clock.
pub fn verify(
    sig: &str,
    sdk_app_id: u64,
    key: &str,
    identifier: &str,
    now: i64,
) -> Result<Claims, UserSigError> {
    let (doc, userbuf) = decode_doc(sig)?;
    let expected = STANDARD
        .decode(doc.sig.as_bytes())
        .map_err(|_| UserSigError::Malformed("TLS.sig is not base64".into()))?;
    let mut m = mac(key);
    m.update(
        content(
            &doc.identifier,
            doc.sdkappid,
            doc.time,
            doc.expire,
            doc.userbuf.as_deref(),
        )
        .as_bytes(),
    );
    m.verify_slice(&expected)
        .map_err(|_| UserSigError::BadSignature)?;
    if doc.sdkappid != sdk_app_id {
        return Err(UserSigError::WrongApp(doc.sdkappid));
    }
    if doc.identifier != identifier {
        return Err(UserSigError::WrongUser(doc.identifier));
    }
    let ends = doc.time.saturating_add(doc.expire);
    if now > ends {
        return Err(UserSigError::Expired {
            issued: doc.time,
            expire: doc.expire,
            ago: now - ends,
        });
    }
    Ok(Claims {
        identifier: doc.identifier,
        sdk_app_id: doc.sdkappid,
        time: doc.time,
        expire: doc.expire,
        userbuf,
    })
}

fn to_tls_alphabet(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '+' => '*',
            '/' => '-',
            '=' => '_',
            c => c,
        })
        .collect()
}

fn from_tls_alphabet(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '*' => '+',
            '-' => '/',
            '_' => '=',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
    const APP: u64 = 1400000000;

    #[test]
    fn round_trip() {
        let sig = generate(APP, KEY, "xiaojun", 1_700_000_000, 86400, None);
        let c = verify(&sig, APP, KEY, "xiaojun", 1_700_000_100).unwrap();
        assert_eq!(c.identifier, "xiaojun");
        assert!(!sig.contains(['+', '/', '=']));
        let sig = generate(APP, KEY, "u", 1_700_000_000, 60, Some(b"abc"));
        assert_eq!(
            verify(&sig, APP, KEY, "u", 1_700_000_000)
                .unwrap()
                .userbuf
                .unwrap(),
            b"abc"
        );
    }

    #[test]
    fn refusals() {
        let sig = generate(APP, KEY, "alice", 1_700_000_000, 60, None);
        assert_eq!(
            verify(&sig, APP, "other-key", "alice", 1_700_000_000),
            Err(UserSigError::BadSignature)
        );
        assert_eq!(
            verify(&sig, APP + 1, KEY, "alice", 1_700_000_000),
            Err(UserSigError::WrongApp(APP))
        );
        assert_eq!(
            verify(&sig, APP, KEY, "bob", 1_700_000_000),
            Err(UserSigError::WrongUser("alice".into()))
        );
        assert_eq!(
            verify(&sig, APP, KEY, "alice", 1_700_000_180),
            Err(UserSigError::Expired {
                issued: 1_700_000_000,
                expire: 60,
                ago: 120
            })
        );
        for junk in ["", "!!!", "eJw_", &"A".repeat(5000)] {
            assert!(
                matches!(
                    verify(junk, APP, KEY, "alice", 0),
                    Err(UserSigError::Malformed(_))
                ),
                "{junk}"
            );
        }
    }

    #[test]
    fn tampered_fields_fail() {
        let sig = generate(APP, KEY, "alice", 1_700_000_000, 60, None);
        let (mut doc, _) = decode_doc(&sig).unwrap();
        doc.expire = 10_000_000;
        let json = serde_json::to_vec(&doc).unwrap();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&json).unwrap();
        let forged = to_tls_alphabet(&STANDARD.encode(z.finish().unwrap()));
        assert_eq!(
            verify(&forged, APP, KEY, "alice", 1_700_000_000),
            Err(UserSigError::BadSignature)
        );
    }

    /// Sigs made by the reference Python generator (`tls-sig-api-v2` 1.1 on PyPI) with the
    /// key and app above. The live cross-check against the installed package runs in
    /// tests/usersig_interop.rs.
    #[test]
    fn reference_vector() {
        for (sig, user, time) in REFERENCE {
            let c = verify(sig, APP, KEY, user, *time).unwrap();
            assert_eq!(c.identifier, *user);
        }
    }

    const REFERENCE: &[(&str, &str, i64)] = &[
        (
            "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpQJlLMxM4IIlmbkgIUNzNMXFmekg44P93EzccsOcA0qT8yOKnfwLksLcjNPcnNNMzb0Ccg1Sq6IMs1LDPH1ywpJtlWoBk68y0A__",
            "xiaojun",
            1_700_000_000,
        ),
        (
            "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkEnMyk1PjDQxhssUp2YkFBZkpQDlDEwMogMqlVhRkFqWCZExNTY0Q4iWZuWBRczT1pcWpRUmlaSBrIsO9suBWZKaDhAz1y5zL3BxzjUuKIrQdw7KiyhIr-D3SzCtTUqIKfZzCCisrM3K1I92NykJtlWoB2Rs6gA__",
            "alice_01",
            1_700_000_000,
        ),
    ];
}
