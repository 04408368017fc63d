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

#[tokio::test]
async fn uploads_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.max_upload_size = 1 << 20;
    let server = start(s);
    let mut c = TestClient::connect(server.local_addr()).await;
    c.signup_login("erin").await;
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let sha = hex_sha(&bytes);
    let (code, _) = c
        .err("upload.begin", json!({"size": 2 << 20, "sha256": sha}), &[])
        .await;
    assert_eq!(code, "too_large");
    let begun = c
        .ok(
            "upload.begin",
            json!({"size": bytes.len(), "sha256": sha}),
            &[],
        )
        .await;
    let id = begun["upload_id"].as_str().unwrap().to_owned();
    let got = c
        .ok(
            "upload.chunk",
            json!({"upload_id": id, "offset": 0}),
            &bytes[..1000],
        )
        .await;
    assert_eq!(got["received"], 1000);
    let (code, extra) = c
        .err(
            "upload.chunk",
            json!({"upload_id": id, "offset": 5}),
            &bytes[5..10],
        )
        .await;
    assert_eq!(
        (code.as_str(), extra["expected_offset"].as_u64()),
        ("bad_request", Some(1000))
    );
    let (code, extra) = c.err("upload.finish", json!({"upload_id": id}), &[]).await;
    assert_eq!(
        (code.as_str(), extra["received"].as_u64()),
        ("bad_request", Some(1000))
    );
    let (code, _) = c
        .err(
            "upload.chunk",
            json!({"upload_id": id, "offset": 1000}),
            &vec![0; 4001],
        )
        .await;
    assert_eq!(code, "bad_request", "bytes past size");
    // Someone else's upload is not found.
    let mut other = TestClient::connect(server.local_addr()).await;
    other.signup_login("frank").await;
    let (code, _) = other
        .err("upload.finish", json!({"upload_id": id}), &[])
        .await;
    assert_eq!(code, "not_found");
    // A wrong hash discards the upload.
    c.ok(
        "upload.chunk",
        json!({"upload_id": id, "offset": 1000}),
        &vec![0; 4000],
    )
    .await;
    let (code, _) = c.err("upload.finish", json!({"upload_id": id}), &[]).await;
    assert_eq!(code, "checksum_mismatch");
    let (code, _) = c.err("upload.abort", json!({"upload_id": id}), &[]).await;
    assert_eq!(code, "not_found");
    // The right bytes finish; abort removes.
    let good = c.upload(&bytes).await;
    c.ok("upload.abort", json!({"upload_id": good}), &[]).await;
}

#[tokio::test]
async fn sound_library_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let mut c = TestClient::connect(server.local_addr()).await;
    c.signup_login("gina").await;
    let bop = wav(&template(16_000), 16_000);
    let saved = c.ok("sound.save", json!({"name": "bop"}), &bop).await;
    assert_eq!(saved["sound"]["name"], "bop");
    assert_eq!(saved["sound"]["size"], bop.len());
    assert_eq!(saved["sound"]["sha256"], hex_sha(&bop));
    assert!(saved["sound"]["created_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let (code, _) = c.err("sound.save", json!({"name": "bop"}), &bop).await;
    assert_eq!(code, "already_exists");
    c.ok(
        "sound.save",
        json!({"name": "bop", "overwrite": true}),
        &bop,
    )
    .await;
    let (code, _) = c
        .err("sound.save", json!({"name": "junk"}), b"RIFF not really")
        .await;
    assert_eq!(code, "unsupported_audio");
    let (code, _) = c.err("sound.save", json!({"name": "none"}), &[]).await;
    assert_eq!(code, "bad_request", "no audio at all");
    let long = wav(&vec![0.1; 16_000 * 61], 16_000);
    let upload = c.upload(&long).await;
    let (code, _) = c
        .err(
            "sound.save",
            json!({"name": "long", "upload_id": upload}),
            &[],
        )
        .await;
    assert_eq!(code, "too_large");
    let from_upload = c.upload(&bop).await;
    c.ok(
        "sound.save",
        json!({"name": "Bop", "upload_id": from_upload}),
        &[],
    )
    .await;
    let (code, _) = c
        .err(
            "sound.save",
            json!({"name": "again", "upload_id": from_upload}),
            &[],
        )
        .await;
    assert_eq!(code, "not_found", "an upload is used once");

    let list = c.ok("sound.list", json!({}), &[]).await;
    let names: Vec<_> = list["sounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(names, [json!("Bop"), json!("bop")]);
    // Download in pieces.
    let mut got = Vec::new();
    while got.len() < bop.len() {
        let piece = c
            .ok(
                "sound.get",
                json!({"name": "bop", "offset": got.len()}),
                &[],
            )
            .await;
        assert_eq!(piece["offset"], got.len());
        got.extend_from_slice(&c.last_payload);
    }
    assert_eq!(got, bop);
    let (code, _) = c
        .err(
            "sound.get",
            json!({"name": "bop", "offset": bop.len() + 1}),
            &[],
        )
        .await;
    assert_eq!(code, "bad_request");
    let (code, _) = c
        .err(
            "sound.rename",
            json!({"name": "bop", "new_name": "Bop"}),
            &[],
        )
        .await;
    assert_eq!(code, "already_exists");
    let renamed = c
        .ok(
            "sound.rename",
            json!({"name": "bop", "new_name": "beep"}),
            &[],
        )
        .await;
    assert_eq!(renamed["sound"]["name"], "beep");
    c.ok("sound.delete", json!({"name": "beep"}), &[]).await;
    let (code, _) = c.err("sound.delete", json!({"name": "beep"}), &[]).await;
    assert_eq!(code, "not_found");
}

#[tokio::test]
async fn count_with_progress_then_the_same_audio_as_a_stream() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let mut c = TestClient::connect(server.local_addr()).await;
    c.signup_login("hank").await;
    let rate = 16_000;
    let click = template(rate);
    c.ok("sound.save", json!({"name": "click"}), &wav(&click, rate))
        .await;
    let at = [1.0, 3.5, 7.25, 12.0, 20.0, 33.3, 61.0, 90.5];
    let seconds = 100.0;
    let samples = recording(&click, rate, seconds, &at);
    let recording_wav = wav(&samples, rate);
    let upload = c.upload(&recording_wav).await;
    let started = std::time::Instant::now();
    let counted = c
        .ok(
            "count",
            json!({"sound": "click", "recording_upload": upload, "options": {"threshold": 0.7}}),
            &[],
        )
        .await;
    eprintln!(
        "count took {:?}, {} pushes",
        started.elapsed(),
        c.pushes.len()
    );
    assert_eq!(counted["count"], at.len(), "{counted:?}");
    assert!((counted["duration_s"].as_f64().unwrap() - seconds).abs() < 1e-6);
    let events = counted["events"].as_array().unwrap().clone();
    for (event, t) in events.iter().zip(at) {
        assert!(
            (event["start_s"].as_f64().unwrap() - t).abs() < 0.05,
            "{event} vs {t}"
        );
    }
    let elapsed_s = counted["elapsed_ms"].as_f64().unwrap() / 1000.0;
    let mut last = 0.0;
    let mut pushes = 0;
    for push in &c.pushes {
        if let harmonic::protocol::Push::Progress {
            done_s, total_s, ..
        } = push
        {
            assert!(*done_s >= last && *total_s == seconds);
            last = *done_s;
            pushes += 1;
        }
    }
    // At least one a second, at most ten.
    assert!(
        pushes as f64 >= elapsed_s.floor() && pushes as f64 <= 10.0 * elapsed_s + 1.0,
        "{pushes} pushes in {elapsed_s} s"
    );
    let (code, _) = c
        .err(
            "count",
            json!({"sound": "click", "recording_upload": upload}),
            &[],
        )
        .await;
    assert_eq!(code, "not_found", "the recording was consumed");

    // The same audio streamed as s16le in uneven chunks.
    let opened = c
        .ok(
            "stream.open",
            json!({"sound": "click", "options": {"threshold": 0.7},
                   "format": {"encoding": "s16le", "sample_rate": rate, "channels": 1}}),
            &[],
        )
        .await;
    let stream_id = opened["stream_id"].as_str().unwrap().to_owned();
    let pcm: Vec<u8> = samples
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32_767.0).round() as i16).to_le_bytes())
        .collect();
    let mut total = 0;
    for chunk in pcm.chunks(100_001) {
        let data = c
            .ok("stream.data", json!({"stream_id": stream_id}), chunk)
            .await;
        let new = data["new_events"].as_array().unwrap().len() as u64;
        total += new;
        assert_eq!(data["total"].as_u64().unwrap(), total);
    }
    let closed = c
        .ok("stream.close", json!({"stream_id": stream_id}), &[])
        .await;
    assert_eq!(closed["total"], at.len());
    let streamed = closed["events"].as_array().unwrap();
    assert_eq!(streamed.len(), events.len());
    for (s, e) in streamed.iter().zip(&events) {
        let diff = (s["start_s"].as_f64().unwrap() - e["start_s"].as_f64().unwrap()).abs();
        assert!(diff <= 0.001, "{s} vs {e}");
    }
    let (code, _) = c
        .err("stream.data", json!({"stream_id": stream_id}), &[1, 2])
        .await;
    assert_eq!(code, "not_found");
}

#[tokio::test]
async fn admin_sessions_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = harmonic::store::Store::open(dir.path()).unwrap();
        let hash = harmonic::crypto::hash_password("correct horse").unwrap();
        store
            .create_user("root", &hash, harmonic::store::Role::Admin)
            .unwrap();
    }
    let server = start(settings(dir.path()));
    let mut anon = TestClient::connect(server.local_addr()).await;
    anon.ok("ping", json!({}), &[]).await;
    let mut admin = TestClient::connect(server.local_addr()).await;
    let login = admin
        .ok(
            "login",
            json!({"username": "root", "password": "correct horse"}),
            &[],
        )
        .await;
    assert_eq!(login["role"], "admin");
    let list = admin.ok("admin.sessions", json!({}), &[]).await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["username"], json!(null));
    assert_eq!(sessions[1]["username"], "root");
    assert!(sessions[1]["peer"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(sessions[1]["requests"], 2);
    let stats = admin.ok("admin.stats", json!({}), &[]).await;
    assert_eq!(
        (stats["sessions"].as_u64(), stats["logged_in"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(stats["logins"], 1);
    assert!(stats["bytes_in"].as_u64().unwrap() > 0 && stats["bytes_out"].as_u64().unwrap() > 0);
    let users = admin.ok("admin.users", json!({}), &[]).await;
    assert_eq!(users["users"][0]["username"], "root");
}
