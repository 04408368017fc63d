//! End-to-end tests of administration: the `admin.*` requests against an
//! in-process server (an admin and users), the log tail, shutdown, LAN
//! discovery and the metrics page on loopback, and `harmonic serve` as a
//! child process driven by `harmonic admin` (exit status 0).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::server_support::*;
use harmonic::protocol::{Push, ServerMessage};
use serde_json::json;

const PASSWORD: &str = ADMIN_PASSWORD;

async fn admin_client(addr: SocketAddr) -> TestClient {
    let mut admin = TestClient::connect(addr).await;
    let login = admin
        .ok(
            "login",
            json!({"username": "root", "password": PASSWORD}),
            &[],
        )
        .await;
    assert_eq!(login["role"], "admin");
    admin
}

async fn user_client(addr: SocketAddr, name: &str) -> TestClient {
    let mut c = TestClient::connect(addr).await;
    c.signup_login(name).await;
    c
}

/// The session id of `username` in `admin.sessions`.
async fn session_of(admin: &mut TestClient, username: &str) -> u64 {
    let list = admin.ok("admin.sessions", json!({}), &[]).await;
    list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["username"] == username)
        .and_then(|s| s["session_id"].as_u64())
        .unwrap_or_else(|| panic!("no session of {username}: {list:?}"))
}

/// The next message that is not a `log` push.
async fn next_non_log(c: &mut TestClient) -> Option<ServerMessage> {
    loop {
        match c.recv().await? {
            ServerMessage::Push(Push::Log { .. }) => continue,
            other => return Some(other),
        }
    }
}

#[tokio::test]
async fn broadcast_kick_and_forbidden() {
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path());
    let server = start(settings(dir.path()));
    let addr = server.local_addr();
    let mut anon = TestClient::connect(addr).await;
    anon.ok("ping", json!({}), &[]).await;
    let mut admin = admin_client(addr).await;
    let mut alice = user_client(addr, "alice").await;
    let mut bob = user_client(addr, "bob").await;

    // Every admin request is forbidden to a user, whatever its fields.
    let requests = [
        ("admin.sessions", json!({})),
        ("admin.kick", json!({"session_id": 1})),
        ("admin.users", json!({})),
        ("admin.user.delete", json!({"username": "alice"})),
        (
            "admin.user.role",
            json!({"username": "bob", "role": "admin"}),
        ),
        (
            "admin.broadcast",
            json!({"message": "hi", "priority": "low"}),
        ),
        ("admin.stats", json!({})),
        ("admin.tail", json!({"level": "info"})),
        ("admin.shutdown", json!({"grace_s": 0})),
    ];
    for (kind, fields) in &requests {
        let (code, _) = bob.err(kind, fields.clone(), &[]).await;
        assert_eq!(code, "forbidden", "{kind}");
    }

    // Broadcast: every logged-in session (the admin's too), not the anonymous one.
    let answer = admin
        .ok(
            "admin.broadcast",
            json!({"message": "maintenance at noon", "priority": "high"}),
            &[],
        )
        .await;
    assert_eq!(answer["delivered"], 3);
    for user in [&mut alice, &mut bob] {
        match user.recv().await.unwrap() {
            ServerMessage::Push(Push::Notice {
                message,
                priority,
                ts,
            }) => {
                assert_eq!(message, "maintenance at noon");
                assert_eq!(priority.as_str(), "high");
                assert!(ts.ends_with('Z'), "{ts}");
            }
            other => panic!("expected a notice, got {other:?}"),
        }
    }
    let (code, _) = admin
        .err(
            "admin.broadcast",
            json!({"message": "x", "priority": "urgent"}),
            &[],
        )
        .await;
    assert_eq!(code, "bad_request");

    // Kick: bob, and only bob, gets `bye kicked`.
    let bob_id = session_of(&mut admin, "bob").await;
    admin
        .ok("admin.kick", json!({"session_id": bob_id}), &[])
        .await;
    assert_eq!(bob.until_closed().await.as_deref(), Some("kicked"));
    alice.ok("ping", json!({}), &[]).await;
    anon.ok("ping", json!({}), &[]).await;
    let (code, _) = admin
        .err("admin.kick", json!({"session_id": bob_id}), &[])
        .await;
    assert_eq!(code, "not_found");

    // Users, and a role change that the live session takes at once.
    let users = admin.ok("admin.users", json!({}), &[]).await;
    let names: Vec<_> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["username"].clone(), u["role"].clone()))
        .collect();
    assert_eq!(
        names,
        [
            (json!("alice"), json!("user")),
            (json!("bob"), json!("user")),
            (json!("root"), json!("admin"))
        ]
    );
    admin
        .ok(
            "admin.user.role",
            json!({"username": "ALICE", "role": "admin"}),
            &[],
        )
        .await;
    alice.ok("admin.stats", json!({}), &[]).await;
    admin
        .ok(
            "admin.user.role",
            json!({"username": "alice", "role": "user"}),
            &[],
        )
        .await;
    let (code, _) = alice.err("admin.stats", json!({}), &[]).await;
    assert_eq!(code, "forbidden");
    let (code, _) = admin
        .err(
            "admin.user.role",
            json!({"username": "nobody", "role": "user"}),
            &[],
        )
        .await;
    assert_eq!(code, "not_found");
}

#[tokio::test]
async fn deleting_a_connected_user_ends_the_session_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path());
    let server = start(settings(dir.path()));
    let addr = server.local_addr();
    let mut admin = admin_client(addr).await;
    let mut carol = user_client(addr, "carol").await;
    let mut dan = user_client(addr, "dan").await;
    let click = wav(&template(8_000), 8_000);
    carol.ok("sound.save", json!({"name": "a"}), &click).await;
    carol.ok("sound.save", json!({"name": "b"}), &click).await;
    dan.ok("sound.save", json!({"name": "mine"}), &click).await;
    // An unfinished upload of carol's.
    carol
        .ok(
            "upload.begin",
            json!({"size": click.len(), "sha256": hex_sha(&click)}),
            &[],
        )
        .await;

    admin
        .ok("admin.user.delete", json!({"username": "Carol"}), &[])
        .await;
    assert_eq!(carol.until_closed().await.as_deref(), Some("kicked"));
    let (code, _) = admin
        .err("admin.user.delete", json!({"username": "carol"}), &[])
        .await;
    assert_eq!(code, "not_found");
    let users = admin.ok("admin.users", json!({}), &[]).await;
    assert_eq!(users["users"].as_array().unwrap().len(), 2);
    let mut again = TestClient::connect(addr).await;
    let (code, _) = again
        .err(
            "login",
            json!({"username": "carol", "password": PASSWORD}),
            &[],
        )
        .await;
    assert_eq!(code, "invalid_credentials");
    assert_eq!(
        dan.ok("sound.list", json!({}), &[]).await["sounds"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    drop((admin, dan, again));
    tokio::task::spawn_blocking(move || server.stop(Duration::ZERO))
        .await
        .unwrap()
        .unwrap();

    // Only dan's sound is left on disk; no upload; no row of carol's.
    let sounds = std::fs::read_dir(dir.path().join("sounds"))
        .unwrap()
        .count();
    assert_eq!(sounds, 1);
    let uploads: Vec<_> = std::fs::read_dir(dir.path().join("uploads"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(uploads.is_empty(), "{uploads:?}");
    let mut store = harmonic::store::Store::open(dir.path()).unwrap();
    assert!(store.find_user("carol").unwrap().is_none());
    let summaries = store.list_users().unwrap();
    let total_sounds: i64 = summaries.iter().map(|u| u.sounds).sum();
    assert_eq!(total_sounds, 1);
}

/// The roles of every account, as `admin.users` lists them.
async fn roles(admin: &mut TestClient) -> Vec<(String, String)> {
    let users = admin.ok("admin.users", json!({}), &[]).await;
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let field = |name: &str| u[name].as_str().unwrap().to_owned();
            (field("username"), field("role"))
        })
        .collect()
}

#[tokio::test]
async fn the_last_admin_can_be_neither_demoted_nor_deleted() {
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path());
    let server = start(settings(dir.path()));
    let addr = server.local_addr();
    let mut root = admin_client(addr).await;
    let mut alice = user_client(addr, "alice").await;
    let before = roles(&mut root).await;

    // The only admin, acting on themself (any case): `forbidden`, nothing changes.
    let (code, _) = root
        .err(
            "admin.user.role",
            json!({"username": "ROOT", "role": "user"}),
            &[],
        )
        .await;
    assert_eq!(code, "forbidden");
    let (code, _) = root
        .err("admin.user.delete", json!({"username": "root"}), &[])
        .await;
    assert_eq!(code, "forbidden");
    assert_eq!(roles(&mut root).await, before);
    root.ok("admin.stats", json!({}), &[]).await;

    // With a second admin, root may be demoted; then alice is the last one and
    // can neither demote nor delete herself.
    root.ok(
        "admin.user.role",
        json!({"username": "alice", "role": "admin"}),
        &[],
    )
    .await;
    alice
        .ok(
            "admin.user.role",
            json!({"username": "root", "role": "user"}),
            &[],
        )
        .await;
    let (code, _) = root.err("admin.stats", json!({}), &[]).await;
    assert_eq!(code, "forbidden", "root's session is a user's now");
    let (code, _) = alice
        .err(
            "admin.user.role",
            json!({"username": "alice", "role": "user"}),
            &[],
        )
        .await;
    assert_eq!(code, "forbidden");
    let (code, _) = alice
        .err("admin.user.delete", json!({"username": "alice"}), &[])
        .await;
    assert_eq!(code, "forbidden");
    assert_eq!(
        roles(&mut alice).await,
        [
            ("alice".to_owned(), "admin".to_owned()),
            ("root".to_owned(), "user".to_owned())
        ]
    );

    // Two admins demoting each other at once: exactly one wins, one admin is left.
    alice
        .ok(
            "admin.user.role",
            json!({"username": "root", "role": "admin"}),
            &[],
        )
        .await;
    let root_id = root.id();
    let alice_id = alice.id();
    let demote = |username: &str, id| {
        request(
            "admin.user.role",
            id,
            json!({"username": username, "role": "user"}),
        )
    };
    root.send(&demote("alice", root_id), &[]).await;
    alice.send(&demote("root", alice_id), &[]).await;
    let (by_root, by_alice) = tokio::join!(root.answer(root_id), alice.answer(alice_id));
    assert!(
        by_root.is_ok() != by_alice.is_ok(),
        "exactly one demotion passes: {by_root:?} {by_alice:?}"
    );
    let (winner, loser, lost) = if by_root.is_ok() {
        (&mut root, "alice", by_alice)
    } else {
        (&mut alice, "root", by_root)
    };
    assert_eq!(lost.unwrap_err().0, "forbidden");
    let admins: Vec<_> = roles(winner)
        .await
        .into_iter()
        .filter(|(_, role)| role == "admin")
        .map(|(name, _)| name)
        .collect();
    assert_eq!(admins.len(), 1);
    assert_ne!(admins[0], loser);
}

#[tokio::test]
async fn tail_delivers_a_later_login_until_cancel() {
    // The log records of this process (every test server in it) reach the
    // tail hub through the server's logger; nothing is written to stderr.
    install_tail_logger();
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path());
    let server = start(settings(dir.path()));
    let addr = server.local_addr();
    let mut admin = admin_client(addr).await;
    let tail_id = admin.id();
    admin
        .send(
            &request("admin.tail", tail_id, json!({"level": "info"})),
            &[],
        )
        .await;
    // The tail's own start line shows it is subscribed.
    let mut seen_start = false;
    while !seen_start {
        if let ServerMessage::Push(Push::Log { id, message, .. }) = admin.recv().await.unwrap() {
            assert_eq!(id, tail_id);
            seen_start = message.contains("tails the log");
        }
    }
    let _erin = user_client(addr, "erin").await;
    let mut lines = Vec::new();
    loop {
        match admin.recv().await.unwrap() {
            ServerMessage::Push(Push::Log {
                id,
                level,
                target,
                message,
                ts,
            }) => {
                assert_eq!(id, tail_id);
                assert!(ts.ends_with('Z'));
                assert!(level.as_str() != "debug" && level.as_str() != "trace");
                assert!(!message.contains(PASSWORD), "no password in the log");
                lines.push(format!("{target}: {message}"));
                if target == "auth"
                    && message.contains("user=erin")
                    && message.contains("login -> ok")
                {
                    break;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        lines.iter().any(|l| l.contains("signup -> ok")),
        "{lines:#?}"
    );
    // cancel: `{}` for the cancel, `ok` with `dropped` for the tail.
    let cancel = admin.ok("cancel", json!({"target": tail_id}), &[]).await;
    assert!(cancel.is_empty(), "{cancel:?}");
    let ended = admin.answer(tail_id).await.unwrap();
    assert_eq!(ended["dropped"], 0);
    // Records that came before the tail's answer were its due (the log hub is
    // shared by every server of this test process, so other tests add some).
    admin.pushes.clear();
    let (code, _) = admin.err("cancel", json!({"target": tail_id}), &[]).await;
    assert_eq!(code, "not_found");
    // Nothing carries the tail's id after its answer.
    admin.ok("ping", json!({}), &[]).await;
    assert!(
        admin.pushes.iter().all(|p| p.request_id() != Some(tail_id)),
        "{:?}",
        admin.pushes
    );
}

#[tokio::test]
async fn admin_shutdown_lets_a_running_count_finish() {
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path());
    let mut server = start(settings(dir.path()));
    let addr = server.local_addr();
    let mut idle = TestClient::connect(addr).await;
    let mut admin = admin_client(addr).await;
    let mut c = user_client(addr, "frank").await;
    let rate = 8_000;
    let click = template(rate);
    c.ok("sound.save", json!({"name": "click"}), &wav(&click, rate))
        .await;
    let samples = recording(&click, rate, 1_800.0, &[1.0, 900.0, 1_700.0]);
    let upload = c.upload(&wav(&samples, rate)).await;
    let count_id = c.id();
    c.send(
        &request(
            "count",
            count_id,
            json!({"sound": "click", "recording_upload": upload}),
        ),
        &[],
    )
    .await;
    // Wait until it runs.
    match c.recv().await.unwrap() {
        ServerMessage::Push(Push::Progress { id, .. }) if id == count_id => {}
        other => panic!("unexpected {other:?}"),
    }
    let answer = admin
        .ok("admin.shutdown", json!({"grace_s": 60}), &[])
        .await;
    assert!(answer.is_empty());
    for session in [&mut idle, &mut admin] {
        match next_non_log(session).await.unwrap() {
            ServerMessage::Push(Push::Shutdown { grace_s, message }) => {
                assert_eq!(grace_s, 60.0);
                assert!(message.contains("administrator"), "{message}");
            }
            other => panic!("expected shutdown, got {other:?}"),
        }
        assert_eq!(session.until_closed().await.as_deref(), Some("shutdown"));
    }
    // The count finishes within the grace, then its session says bye.
    let counted = c.answer(count_id).await.expect("the count finishes");
    let events = counted["events"].as_array().unwrap();
    assert_eq!(counted["count"].as_u64(), Some(events.len() as u64));
    assert!(events.len() >= 3, "{counted:?}");
    assert!(c.pushes.iter().any(|p| matches!(p, Push::Shutdown { .. })));
    assert_eq!(c.until_closed().await.as_deref(), Some("shutdown"));
    tokio::task::spawn_blocking(move || server.join())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn discovery_and_metrics_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(harmonic::config::Settings {
        discovery_listen: Some("127.0.0.1:0".parse().unwrap()),
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        server_name: Some("test bench".into()),
        ..settings(dir.path())
    });
    let probe = server.discovery_addr().expect("discovery on");
    let found = harmonic::discovery::discover(&[probe], Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].address, server.local_addr());
    assert_eq!(found[0].fingerprint_hex(), server.fingerprint());
    assert_eq!(found[0].announcement.name, "test bench");

    let _client = TestClient::connect(server.local_addr()).await;
    let metrics = server.metrics_addr().expect("metrics on");
    let page = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(metrics).unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut page = String::new();
        stream.read_to_string(&mut page).unwrap();
        page
    })
    .await
    .unwrap();
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Type: text/plain; version=0.0.4"));
    assert!(
        page.contains("# TYPE harmonic_sessions gauge\nharmonic_sessions 1\n"),
        "{page}"
    );
    assert!(page.contains("harmonic_bytes_in_total "));
    assert!(page.contains("# TYPE harmonic_resident_memory_bytes gauge\n"));
}

/// Runs `harmonic` with `args`, `stdin` as its input; returns status and stdout.
fn harmonic(args: &[&str], stdin: &str) -> (std::process::ExitStatus, String, String) {
    // Pinned keys and kept logins go to a private config directory.
    static CONFIG: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(|| tempfile::tempdir().unwrap());
    let mut child = Command::new(env!("CARGO_BIN_EXE_harmonic"))
        .args(args)
        .env("HARMONIC_CONFIG_DIR", config.path())
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The word after `marker` in `line`, cut at `;`, `/` or white space.
fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &line[line.find(marker)? + marker.len()..];
    rest.split([';', ' ', '/']).next()
}

#[test]
fn serve_binary_is_administered_from_the_cli_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (status, _, err) = harmonic(
        &["user", "add", "root", "--admin", "--data-dir", data],
        "correct horse\n",
    );
    assert!(status.success(), "{err}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_harmonic"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data,
            "--discovery-listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let (mut listen, mut discovery) = (None, None);
    while listen.is_none() || discovery.is_none() {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the server logs its addresses");
        if let Some(addr) = after(&line, "listening on ") {
            listen = Some(addr.to_owned());
        }
        if let Some(addr) = after(&line, "answering probes on UDP ") {
            discovery = Some(addr.to_owned());
        }
    }
    let (listen, discovery) = (listen.unwrap(), discovery.unwrap());

    let (status, out, err) = harmonic(
        &[
            "discover",
            "--no-broadcast",
            "--probe",
            &discovery,
            "--timeout",
            "0.5",
            "--json",
        ],
        "",
    );
    assert!(status.success(), "{err}");
    let found: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["address"] == listen.as_str()),
        "{out}"
    );

    let admin = |args: &[&str]| {
        let mut all = vec!["admin", "--server", &listen, "--user", "root", "--yes"];
        all.extend_from_slice(args);
        harmonic(&all, "correct horse\n")
    };
    let (status, out, err) = admin(&["users", "--json"]);
    assert!(status.success(), "{err}");
    let users: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(users["users"][0]["username"], "root");
    assert!(err.contains("fingerprint"), "{err}");
    let (status, out, err) = admin(&["stats"]);
    assert!(status.success(), "{err}");
    assert!(out.starts_with("STAT"), "{out}");
    let (status, _, err) = admin(&["kick", "999"]);
    assert!(!status.success());
    assert!(err.contains("not_found"), "{err}");

    let (status, _, err) = admin(&["shutdown", "--grace", "1"]);
    assert!(status.success(), "{err}");
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
}
