//! End-to-end tests of the server's edges: capacity (`busy`), `cancel`,
//! graceful shutdown, protocol violations, timers, connection limits,
//! restarts and a taken port.

use std::time::Duration;

use crate::server_support::*;
use harmonic::actors::{ServerError, ServerThread};
use harmonic::protocol::{Push, ServerMessage};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Logs in and uploads a recording long enough to still be counting when
/// the test cancels it or shuts the server down (an hour at 8 kHz: seconds
/// of work even for an optimised build); returns the upload id.
async fn long_recording(c: &mut TestClient) -> String {
    let rate = 8_000;
    let click = template(rate);
    c.ok("sound.save", json!({"name": "click"}), &wav(&click, rate))
        .await;
    let samples = recording(&click, rate, 3_600.0, &[1.0, 300.0]);
    c.upload(&wav(&samples, rate)).await
}

/// Waits for the first progress push of `id` (the count is running).
async fn first_progress(c: &mut TestClient, id: u32) {
    loop {
        match c.recv().await.expect("open") {
            ServerMessage::Push(Push::Progress { id: got, .. }) if got == id => return,
            ServerMessage::Push(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn cancel_busy_pool_and_outstanding_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.analysis_workers = 1;
    s.analysis_queue = 0;
    s.max_outstanding = 2;
    let server = start(s);
    let mut c = TestClient::connect(server.local_addr()).await;
    c.signup_login("ivan").await;
    let first = long_recording(&mut c).await;
    let second = long_recording_upload(&mut c).await;
    let count_id = c.id();
    c.send(
        &request(
            "count",
            count_id,
            json!({"sound": "click", "recording_upload": first}),
        ),
        &[],
    )
    .await;
    first_progress(&mut c, count_id).await;
    // Every worker busy, no queue: busy, and the upload is not consumed.
    let (code, _) = c
        .err(
            "count",
            json!({"sound": "click", "recording_upload": second}),
            &[],
        )
        .await;
    assert_eq!(code, "busy");
    // One outstanding (the count) + one more = the limit of 2.
    let sleeper = c.id();
    c.send(&request("sound.list", sleeper, json!({})), &[])
        .await;
    // The ping is `busy` unless the list was answered first.
    match c.call("ping", json!({}), &[]).await {
        Ok(_) => {}
        Err((code, _, _)) => assert_eq!(code, "busy"),
    }
    c.answer(sleeper).await.unwrap();
    // Cancel: `{}` for the cancel, `cancelled` for the count.
    assert!(c
        .ok("cancel", json!({"target": count_id}), &[])
        .await
        .is_empty());
    let (code, _, _) = c.answer(count_id).await.unwrap_err();
    assert_eq!(code, "cancelled");
    let (code, _) = c.err("cancel", json!({"target": count_id}), &[]).await;
    assert_eq!(code, "not_found");
    // The worker is free again (the cancelled job stops within a block).
    let mut answer = Err(("busy".into(), String::new(), Default::default()));
    for _ in 0..50 {
        let id = c.id();
        c.send(
            &request(
                "count",
                id,
                json!({"sound": "click", "recording_upload": second}),
            ),
            &[],
        )
        .await;
        answer = c.answer(id).await;
        match &answer {
            Err((code, _, _)) if code == "busy" => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            _ => break,
        }
    }
    assert!(answer.unwrap()["count"].as_u64().unwrap() >= 1);
}

/// A second, short recording (10 s).
async fn long_recording_upload(c: &mut TestClient) -> String {
    let rate = 8_000;
    let samples = recording(&template(rate), rate, 10.0, &[4.0]);
    c.upload(&wav(&samples, rate)).await
}

#[tokio::test]
async fn outstanding_limit_answers_busy() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.max_outstanding = 1;
    let server = start(s);
    let mut c = TestClient::connect(server.local_addr()).await;
    c.signup_login("judy").await;
    let upload = long_recording(&mut c).await;
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
    let (code, _) = c.err("ping", json!({}), &[]).await;
    assert_eq!(code, "busy");
    c.ok("cancel", json!({"target": count_id}), &[]).await;
}

#[tokio::test]
async fn graceful_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(settings(dir.path()));
    let mut idle = TestClient::connect(server.local_addr()).await;
    let mut c = TestClient::connect(server.local_addr()).await;
    c.signup_login("kate").await;
    let upload = long_recording(&mut c).await;
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
    first_progress(&mut c, count_id).await;
    server.shutdown(Duration::from_millis(800));
    // The idle session: shutdown, then bye at once.
    match idle.recv().await.unwrap() {
        ServerMessage::Push(Push::Shutdown { grace_s, .. }) => assert_eq!(grace_s, 0.8),
        other => panic!("{other:?}"),
    }
    assert_eq!(idle.until_closed().await.as_deref(), Some("shutdown"));
    // The busy one: its own shutdown push (each session hears of the
    // shutdown on its own thread, so the idle one's bye says nothing of
    // when), then later requests are refused, the count ends with the grace.
    loop {
        match c.recv().await.expect("connection open") {
            ServerMessage::Push(push @ Push::Shutdown { .. }) => {
                c.pushes.push(push);
                break;
            }
            ServerMessage::Push(push) => c.pushes.push(push),
            other => panic!("{other:?} before the shutdown push"),
        }
    }
    let (code, _) = c.err("ping", json!({}), &[]).await;
    assert_eq!(code, "shutting_down");
    let (code, _, _) = c.answer(count_id).await.unwrap_err();
    assert_eq!(code, "shutting_down");
    assert_eq!(c.until_closed().await.as_deref(), Some("shutdown"));
    tokio::task::spawn_blocking(move || server.join())
        .await
        .unwrap()
        .unwrap();
    // Nobody listens any more.
    assert!(
        TcpStream::connect(idle.reader.get_ref().peer_addr().unwrap())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn protocol_violations() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let addr = server.local_addr();

    // Garbage before the handshake: closed, nothing said.
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(WAIT, raw.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(buf.is_empty());

    // Another version: "HRMX", our version, a reason; then closed. Checked
    // first, whatever the hello's length.
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(&[0, 0, 0, 6, b'H', b'R', b'M', b'C', 2, 0])
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(WAIT, raw.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(buf.len() > 9, "{buf:?}");
    assert_eq!(&buf[4..9], b"HRMX\x01");

    // Wrong magic: closed without an answer.
    let mut raw = TcpStream::connect(addr).await.unwrap();
    let mut hello = vec![0, 0, 0, 70, b'H', b'R', b'M', b'Q', 1];
    hello.extend([4u8; 65]);
    raw.write_all(&hello).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(WAIT, raw.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(buf.is_empty());

    // After the handshake: zero-length and over-long frames get bye protocol_error.
    let mut c = TestClient::connect(addr).await;
    c.send_raw(&[0, 0, 0, 0]).await;
    assert_eq!(c.until_closed().await.as_deref(), Some("protocol_error"));
    let mut c = TestClient::connect(addr).await;
    c.send_raw(&((1u32 << 20) + 1).to_be_bytes()).await;
    assert_eq!(c.until_closed().await.as_deref(), Some("protocol_error"));

    // A tampered frame: closed at once, no bye.
    let mut c = TestClient::connect(addr).await;
    let mut frame = c.seal(&request("ping", 1, json!({})));
    let last = frame.len() - 1;
    frame[last] ^= 1;
    c.send_raw(&frame).await;
    assert_eq!(c.until_closed().await, None);
}

#[tokio::test]
async fn timers_close_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.handshake_timeout = Duration::from_millis(300);
    s.login_timeout = Duration::from_millis(400);
    let server = start(s);
    let addr = server.local_addr();

    // No handshake: closed.
    let mut raw = TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(WAIT, raw.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(buf.is_empty());

    // No login (pings do not count as one).
    let mut c = TestClient::connect(addr).await;
    c.ok("ping", json!({}), &[]).await;
    assert_eq!(c.until_closed().await.as_deref(), Some("login_timeout"));

    // Logged in, pings keep the session alive; silence ends it. A server
    // of its own, whose login timer leaves a signup's and a login's
    // password hashes time on a busy machine (other tests hash too).
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.idle_timeout = Duration::from_millis(1000);
    let server = start(s);
    let mut c = TestClient::connect(server.local_addr()).await;
    c.signup_login("leo").await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.ok("ping", json!({}), &[]).await;
    }
    let quiet = std::time::Instant::now();
    assert_eq!(c.until_closed().await.as_deref(), Some("idle_timeout"));
    assert!(quiet.elapsed() >= Duration::from_millis(800));
}

#[tokio::test]
async fn connections_per_address_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.max_connections_per_address = 1;
    let server = start(s);
    let mut first = TestClient::connect(server.local_addr()).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let refused = harmonic::transport::client_handshake(&mut stream, Duration::from_secs(5)).await;
    assert!(refused.is_err());
    first.ok("ping", json!({}), &[]).await;
    drop(first);
    // The place is given back.
    let mut again = None;
    for _ in 0..50 {
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        if harmonic::transport::client_handshake(&mut stream, Duration::from_secs(5))
            .await
            .is_ok()
        {
            again = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some());
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let fingerprint = server.fingerprint().to_owned();
    let mut c = TestClient::connect(server.local_addr()).await;
    let login = c.signup_login("mia").await;
    let token = login["resume_token"].as_str().unwrap().to_owned();
    let bop = wav(&template(16_000), 16_000);
    c.ok("sound.save", json!({"name": "bop"}), &bop).await;
    drop(c);
    tokio::task::spawn_blocking(move || server.stop(Duration::ZERO))
        .await
        .unwrap()
        .unwrap();

    let server = start(settings(dir.path()));
    assert_eq!(server.fingerprint(), fingerprint, "same identity");
    let mut c = TestClient::connect(server.local_addr()).await;
    let resumed = c.ok("resume", json!({"token": token}), &[]).await;
    assert_eq!(resumed["sounds"], json!(["bop"]));
    let mut d = TestClient::connect(server.local_addr()).await;
    d.ok(
        "login",
        json!({"username": "mia", "password": "correct horse"}),
        &[],
    )
    .await;
    d.ok("sound.get", json!({"name": "bop"}), &[]).await;
    assert_eq!(&d.last_payload[..], &bop[..]);
}

#[test]
fn a_taken_port_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(settings(dir.path()));
    let other = tempfile::tempdir().unwrap();
    let mut s = settings(other.path());
    s.listen = first.local_addr();
    let err = match ServerThread::spawn(s) {
        Err(err) => err,
        Ok(_) => panic!("bound twice"),
    };
    assert!(matches!(err, ServerError::AddressInUse { .. }));
    let text = err.to_string();
    assert!(
        text.contains(&first.local_addr().port().to_string()) && text.contains("--listen"),
        "{text}"
    );
}
