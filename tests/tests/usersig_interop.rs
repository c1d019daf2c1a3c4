//! UserSig compatibility with Tencent's reference generator (`tls-sig-api-v2` on PyPI):
//! sigs it makes verify here, and sigs we make verify with its own HMAC code.
//! Needs the venv made by scripts/install-test-deps; skipped locally without it, fails in CI.

use std::process::Command;

use roomcast_proto::usersig;

fn python() -> Option<String> {
    let candidates = [
        std::env::var("ROOMCAST_PYTHON").ok(),
        Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/pyvenv/bin/python").to_string()),
    ];
    candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .args(["-c", "import TLSSigAPIv2"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn run_python(py: &str, code: &str) -> String {
    let out = Command::new(py)
        .args(["-c", code])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

#[test]
fn reference_generator_and_roomcast_agree() {
    let Some(py) = python() else {
        assert!(
            std::env::var("CI").is_err(),
            "tls-sig-api-v2 missing under CI: scripts/install-test-deps must install it"
        );
        eprintln!("skipping: tls-sig-api-v2 not installed (run scripts/install-test-deps)");
        return;
    };
    let key = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
    let app = 1_400_000_123u64;

    // Theirs → ours.
    let theirs = run_python(
        &py,
        &format!(
            "import TLSSigAPIv2; print(TLSSigAPIv2.TLSSigAPIv2({app}, '{key}').gen_sig('alice', 86400))"
        ),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let claims =
        usersig::verify(&theirs, app, key, "alice", now).expect("the reference sig verifies");
    assert_eq!(
        (claims.identifier.as_str(), claims.expire),
        ("alice", 86400)
    );
    assert!(matches!(
        usersig::verify(&theirs, app, "wrong", "alice", now),
        Err(usersig::UserSigError::BadSignature)
    ));
    let later = now + 86400 + 10;
    assert!(matches!(
        usersig::verify(&theirs, app, key, "alice", later),
        Err(usersig::UserSigError::Expired { .. })
    ));

    // With a userbuf too.
    let with_buf = run_python(
        &py,
        &format!(
            "import TLSSigAPIv2; print(TLSSigAPIv2.TLSSigAPIv2({app}, '{key}').gen_sig_with_userbuf('bob', 600, b'room-42'))"
        ),
    );
    let claims = usersig::verify(&with_buf, app, key, "bob", now).expect("userbuf sig verifies");
    assert_eq!(claims.userbuf.as_deref(), Some(&b"room-42"[..]));

    // Ours → theirs: the reference's own HMAC over our fields must equal our TLS.sig.
    let ours = usersig::generate(app, key, "carol", now, 3600, None);
    let check = run_python(
        &py,
        &format!(
            r#"
import TLSSigAPIv2, base64, zlib, json
sig = '{ours}'
raw = base64.b64decode(sig.replace('*', '+').replace('-', '/').replace('_', '='))
doc = json.loads(zlib.decompress(raw))
api = TLSSigAPIv2.TLSSigAPIv2({app}, '{key}')
mac = api._TLSSigAPIv2__hmacsha256(doc['TLS.identifier'], doc['TLS.time'], doc['TLS.expire'], None).decode()
print('ok' if mac == doc['TLS.sig'] and doc['TLS.sdkappid'] == {app} else 'mismatch')
"#
        ),
    );
    assert_eq!(check, "ok", "the reference implementation rejects our sig");
}
