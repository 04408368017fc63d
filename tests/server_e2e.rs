//! End-to-end tests of the server over real TCP: handshake, accounts, the
//! check order of §4, uploads, the sound library, counting and live streams.

mod server_support;

use serde_json::json;
use server_support::*;

#[tokio::test]
async fn handshake_then_ping_before_login() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let mut client = TestClient::connect(server.local_addr()).await;
    let pong = client.ok("ping", json!({}), &[]).await;
    assert!(pong["server_time_ms"].as_u64().unwrap() > 1_700_000_000_000);
    assert_eq!(server.fingerprint().len(), 64);
}

#[tokio::test]
async fn signup_login_resume_logout() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let mut c = TestClient::connect(server.local_addr()).await;
    let signup = |u: &str, p: &str| json!({"username": u, "password": p});
    assert!(c
        .ok("signup", signup("Alice", "correct horse"), &[])
        .await
        .is_empty());
    let (code, _) = c.err("signup", signup("alice", "another horse"), &[]).await;
    assert_eq!(code, "username_taken");
    let (code, _) = c.err("signup", signup("bob", "short"), &[]).await;
    assert_eq!(code, "weak_password");
    let (code, _) = c.err("signup", signup("-bob", "short"), &[]).await;
    assert_eq!(
        code, "bad_request",
        "username checked before the password's strength"
    );
    let (code, _) = c.err("signup", signup("bob", &"p".repeat(1025)), &[]).await;
    assert_eq!(code, "bad_request");

    let (code, _) = c.err("sound.list", json!({}), &[]).await;
    assert_eq!(code, "unauthenticated");
    let (code, _) = c.err("logout", json!({}), &[]).await;
    assert_eq!(code, "unauthenticated");

    let login = c.ok("login", signup("ALICE", "correct horse"), &[]).await;
    assert_eq!(login["username"], "Alice", "shown as first written");
    assert_eq!(login["role"], "user");
    assert_eq!(login["sounds"], json!([]));
    assert_eq!(login["resume_ttl_s"], 86_400);
    let token = login["resume_token"].as_str().unwrap().to_owned();

    // A failed login leaves the current one in place.
    let (code, _) = c.err("login", signup("alice", "wrong horse"), &[]).await;
    assert_eq!(code, "invalid_credentials");
    let (code, _) = c.err("login", signup("nobody", "x"), &[]).await;
    assert_eq!(
        code, "invalid_credentials",
        "a pair that could never be valid"
    );
    c.ok("sound.list", json!({}), &[]).await;

    // Resume on another connection: single use, a fresh token each time.
    let mut d = TestClient::connect(server.local_addr()).await;
    let resumed = d.ok("resume", json!({"token": token}), &[]).await;
    assert_eq!(resumed["username"], "Alice");
    let fresh = resumed["resume_token"].as_str().unwrap().to_owned();
    assert_ne!(fresh, token);
    let (code, _) = d.err("resume", json!({"token": token}), &[]).await;
    assert_eq!(code, "invalid_credentials", "spent");

    // Logout revokes this session's token; the session stays open.
    assert!(d.ok("logout", json!({}), &[]).await.is_empty());
    let (code, _) = d.err("sound.list", json!({}), &[]).await;
    assert_eq!(code, "unauthenticated");
    let (code, _) = d.err("resume", json!({"token": fresh}), &[]).await;
    assert_eq!(code, "invalid_credentials", "revoked");
    d.ok("ping", json!({}), &[]).await;
}

#[tokio::test]
async fn failed_logins_lock_the_username() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let mut c = TestClient::connect(server.local_addr()).await;
    c.ok(
        "signup",
        json!({"username": "carol", "password": "correct horse"}),
        &[],
    )
    .await;
    for _ in 0..5 {
        let (code, _) = c
            .err(
                "login",
                json!({"username": "Carol", "password": "wrong horse"}),
                &[],
            )
            .await;
        assert_eq!(code, "invalid_credentials");
    }
    let (code, extra) = c
        .err(
            "login",
            json!({"username": "carol", "password": "correct horse"}),
            &[],
        )
        .await;
    assert_eq!(code, "rate_limited");
    let retry = extra["retry_after_s"].as_u64().unwrap();
    assert!((800..=900).contains(&retry), "{retry}");
}

#[tokio::test]
async fn checks_come_in_the_order_of_section_4() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let mut c = TestClient::connect(server.local_addr()).await;
    // Unreadable headers and bad ids: bad_request without an id.
    for plaintext in [
        vec![0u8, 0],                                    // shorter than header_len
        vec![0, 0, 0, 9, b'{'],                          // header_len past the end
        b"\x00\x00\x00\x03abc".to_vec(),                 // not JSON
        b"\x00\x00\x00\x02[]".to_vec(),                  // not an object
        b"\x00\x00\x00\x10{\"type\":\"ping\"}".to_vec(), // no id
    ] {
        c.send_plaintext(&plaintext).await;
        match c.recv().await.unwrap() {
            harmonic::protocol::ServerMessage::Error { id, code, .. } => {
                assert_eq!((id, code.as_str()), (None, "bad_request"), "{plaintext:?}");
            }
            other => panic!("{other:?}"),
        }
    }
    c.send(&json!({"type": "ping", "id": 0}), &[]).await;
    assert!(matches!(
        c.recv().await.unwrap(),
        harmonic::protocol::ServerMessage::Error { id: None, .. }
    ));
    // Unknown type with a valid id: bad_request with it, before the login check.
    let (code, _) = c.err("sound.fly", json!({}), &[]).await;
    assert_eq!(code, "bad_request");
    // Login before role, role before fields.
    let (code, _) = c.err("admin.kick", json!({}), &[]).await;
    assert_eq!(code, "unauthenticated");
    c.signup_login("dave").await;
    let (code, _) = c.err("admin.kick", json!({}), &[]).await;
    assert_eq!(code, "forbidden");
    // Fields, then the request.
    let (code, _) = c.err("sound.get", json!({"name": " padded"}), &[]).await;
    assert_eq!(code, "bad_request");
    let (code, _) = c.err("sound.get", json!({"name": "nothing"}), &[]).await;
    assert_eq!(code, "not_found");
    let (code, _) = c.err("cancel", json!({"target": 999}), &[]).await;
    assert_eq!(code, "not_found");
    // The session goes on after all that.
    c.ok("ping", json!({}), &[]).await;
}
