//! End-to-end tests of the edges of sessions over real TCP (PROTOCOL.md
//! 1.2): the pre-login connection cap, tails that end with their login,
//! logouts that revoke every token of their login and logins that end
//! however often they are resumed, the bound on `min_gap_s`, and what
//! `harmonic discover` prints of a name from the LAN.

use std::net::SocketAddr;
use std::time::Duration;

use harmonic::config::Settings;
use harmonic::protocol::response::ServerMessage;
use harmonic::protocol::Push;
use serde_json::json;
use tokio::net::TcpStream;

use crate::server_support::*;

/// Whether a new connection gets through the handshake (a refused one is
/// closed at once, so its handshake fails).
async fn handshake_passes(addr: SocketAddr) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    harmonic::transport::client_handshake(&mut stream, WAIT)
        .await
        .ok()
        .map(|_| stream)
}

/// Tries a new connection until one passes (the listener learns of logins
/// and ended connections by message); `None` after a few seconds.
async fn eventually_passes(addr: SocketAddr) -> Option<TcpStream> {
    for _ in 0..100 {
        if let Some(stream) = handshake_passes(addr).await {
            return Some(stream);
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    None
}

/// A test client, once the server admits it (the listener learns of
/// logins by message).
async fn connect_when_admitted(addr: SocketAddr) -> TestClient {
    for _ in 0..100 {
        if let Some(client) = TestClient::try_connect(addr).await {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("never admitted");
}

#[tokio::test]
async fn at_most_64_connections_per_address_wait_for_a_login() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let addr = server.local_addr();
    let mut silent = Vec::new();
    for _ in 0..64 {
        silent.push(TestClient::connect(addr).await);
    }
    // The 65th not logged in is closed at once.
    assert!(handshake_passes(addr).await.is_none());
    // One of them logs in: it no longer counts, and a place is free.
    silent[0].signup_login("early").await;
    let extra = eventually_passes(addr).await;
    assert!(extra.is_some(), "a login frees a pre-login place");
    assert!(handshake_passes(addr).await.is_none(), "64 wait again");
    // Logged-in sessions do not count: the logged-in one still works.
    silent[0].ok("ping", json!({}), &[]).await;
    // A connection that ends gives its place back.
    drop(extra);
    assert!(eventually_passes(addr).await.is_some());
}

#[tokio::test]
async fn the_pre_login_cap_is_a_setting_under_the_per_address_cap() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(Settings {
        max_connections_per_address: 4,
        max_pre_login_per_address: 2,
        ..settings(dir.path())
    });
    let addr = server.local_addr();
    let mut a = TestClient::connect(addr).await;
    let mut b = TestClient::connect(addr).await;
    assert!(handshake_passes(addr).await.is_none());
    a.signup_login("ann").await;
    b.signup_login("bob").await;
    let mut c = connect_when_admitted(addr).await;
    let mut d = connect_when_admitted(addr).await;
    c.signup_login("cid").await;
    d.signup_login("dee").await;
    // Four logged in: the per-address cap of all connections holds.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(handshake_passes(addr).await.is_none());
}

/// Sends `admin.tail` and waits for its first record; returns its id.
async fn start_tail(client: &mut TestClient) -> u32 {
    let id = client.id();
    client
        .send(&request("admin.tail", id, json!({"level": "info"})), &[])
        .await;
    loop {
        match client.recv().await.expect("open") {
            ServerMessage::Push(Push::Log { id: got, .. }) if got == id => return id,
            ServerMessage::Push(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The final `ok` of tail `id`, with `dropped`.
async fn tail_ended(client: &mut TestClient, id: u32) {
    let ended = client.answer(id).await.expect("the tail ends with ok");
    assert!(ended["dropped"].is_u64(), "{ended:?}");
}

async fn admin(addr: SocketAddr) -> TestClient {
    let mut client = TestClient::connect(addr).await;
    client
        .ok(
            "login",
            json!({"username": "root", "password": ADMIN_PASSWORD}),
            &[],
        )
        .await;
    client
}

#[tokio::test]
async fn a_tail_ends_with_its_login() {
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path());
    let server = start(settings(dir.path()));
    let addr = server.local_addr();

    // Logout.
    let mut root = admin(addr).await;
    let tail = start_tail(&mut root).await;
    root.ok("logout", json!({}), &[]).await;
    tail_ended(&mut root, tail).await;

    // A new login on the same session.
    let mut root = admin(addr).await;
    let tail = start_tail(&mut root).await;
    root.ok(
        "login",
        json!({"username": "root", "password": ADMIN_PASSWORD}),
        &[],
    )
    .await;
    tail_ended(&mut root, tail).await;

    // Demotion: a second admin tails, root takes the role away.
    let mut boss = TestClient::connect(addr).await;
    boss.signup_login("boss").await;
    root.ok(
        "admin.user.role",
        json!({"username": "boss", "role": "admin"}),
        &[],
    )
    .await;
    let tail = start_tail(&mut boss).await;
    root.ok(
        "admin.user.role",
        json!({"username": "boss", "role": "user"}),
        &[],
    )
    .await;
    tail_ended(&mut boss, tail).await;
    let (code, _) = boss.err("admin.stats", json!({}), &[]).await;
    assert_eq!(code, "forbidden");

    // Deletion: the tail's `ok` comes before the session's `bye`.
    root.ok(
        "admin.user.role",
        json!({"username": "boss", "role": "admin"}),
        &[],
    )
    .await;
    let tail = start_tail(&mut boss).await;
    root.ok("admin.user.delete", json!({"username": "boss"}), &[])
        .await;
    tail_ended(&mut boss, tail).await;
    assert_eq!(boss.until_closed().await.as_deref(), Some("kicked"));
}

async fn resume(addr: SocketAddr, token: &str) -> Answer {
    let mut client = TestClient::connect(addr).await;
    client.call("resume", json!({"token": token}), &[]).await
}

fn token_of(answer: &serde_json::Map<String, serde_json::Value>) -> String {
    answer["resume_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_logout_revokes_every_token_of_its_login() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let addr = server.local_addr();
    let mut laptop = TestClient::connect(addr).await;
    let first = token_of(&laptop.signup_login("gail").await);
    // Another process resumed with the laptop's token: the login goes on
    // there with a token the laptop never saw.
    let carried = token_of(&resume(addr, &first).await.unwrap());
    // A separate login (another device, with the password).
    let mut phone = TestClient::connect(addr).await;
    let phone_token = token_of(
        &phone
            .ok(
                "login",
                json!({"username": "gail", "password": "correct horse"}),
                &[],
            )
            .await,
    );
    laptop.ok("logout", json!({}), &[]).await;
    let (code, _, _) = resume(addr, &carried).await.unwrap_err();
    assert_eq!(code, "invalid_credentials", "revoked with its login");
    // The phone's login is another one: it goes on.
    resume(addr, &phone_token).await.unwrap();
}

#[tokio::test]
async fn a_login_ends_however_often_it_is_resumed() {
    let dir = tempfile::tempdir().unwrap();
    // The lifetime leaves a loaded machine a second for the three resumes;
    // a resume that renewed the login would carry it past the last check.
    let lifetime = Duration::from_millis(1500);
    let server = start(Settings {
        login_lifetime: lifetime,
        ..settings(dir.path())
    });
    let addr = server.local_addr();
    let mut client = TestClient::connect(addr).await;
    let login = client.signup_login("hal").await;
    let granted_before = tokio::time::Instant::now();
    assert!(login["resume_ttl_s"].as_u64().unwrap() <= 1, "{login:?}");
    let mut token = token_of(&login);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        token = token_of(&resume(addr, &token).await.unwrap());
    }
    tokio::time::sleep_until(granted_before + lifetime + Duration::from_millis(100)).await;
    let (code, _, _) = resume(addr, &token).await.unwrap_err();
    assert_eq!(code, "invalid_credentials");
}

#[tokio::test]
async fn min_gap_s_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let mut client = TestClient::connect(server.local_addr()).await;
    client.signup_login("ivy").await;
    let rate = 16_000;
    let click = template(rate);
    client
        .ok("sound.save", json!({"name": "click"}), &wav(&click, rate))
        .await;
    let session = wav(&recording(&click, rate, 4.0, &[0.5, 1.5, 2.5]), rate);
    for gap in [1e300, 14_400.5, -1.0] {
        let options = json!({"min_gap_s": gap});
        let (code, _) = client
            .err(
                "count",
                json!({"sound": "click", "options": options}),
                &session,
            )
            .await;
        assert_eq!(code, "bad_request", "min_gap_s {gap}");
        let format = json!({"encoding": "s16le", "sample_rate": rate, "channels": 1});
        let (code, _) = client
            .err(
                "stream.open",
                json!({"sound": "click", "format": format, "options": options}),
                &[],
            )
            .await;
        assert_eq!(code, "bad_request", "min_gap_s {gap}");
    }
    // The largest gap works: one event at most.
    let counted = client
        .ok(
            "count",
            json!({"sound": "click", "options": {"min_gap_s": 14_400}}),
            &session,
        )
        .await;
    assert!(counted["count"].as_u64().unwrap() <= 1, "{counted:?}");
}

#[tokio::test]
async fn discover_escapes_control_characters_in_names() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(Settings {
        discovery_listen: Some("127.0.0.1:0".parse().unwrap()),
        server_name: Some("lab\u{1b}[2J\u{1b}]0;owned\u{7}".into()),
        ..settings(dir.path())
    });
    let probe = server.discovery_addr().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harmonic"))
        .args(["discover", "--no-broadcast", "--timeout", "0.5"])
        .args(["--probe", &probe])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "{stdout:?}"
    );
    assert!(
        stdout.contains("lab\\u{1b}[2J\\u{1b}]0;owned\\u{7}"),
        "{stdout}"
    );
    assert!(stdout.contains(server.fingerprint()), "{stdout}");
}
