//! End-to-end tests of the server over real TCP: handshake, accounts, the
//! check order of §4, uploads, the sound library, counting and live streams,
//! the rules on names, and replayed frames.
//!
//! Every error code a client without the admin role can provoke is asserted
//! in an end-to-end test: here `bad_request`, `unauthenticated`, `forbidden`,
//! `invalid_credentials`, `username_taken`, `weak_password`, `not_found`,
//! `already_exists`, `too_large`, `checksum_mismatch`, `unsupported_audio`,
//! `rate_limited` (per username and per address); in server_lifecycle.rs
//! `busy` (pool and outstanding requests), `cancelled` and `shutting_down`.
//! `internal` has no client-side trigger.

use crate::server_support::*;
use serde_json::json;

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
            json!({"sound": "click", "recording_upload": upload}),
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
    // At least one a second, at most ten, besides the push at the start
    // and the one with the last events at the end (a count shorter than
    // a tick has both).
    assert!(
        pushes as f64 >= elapsed_s.floor() && pushes as f64 <= 10.0 * elapsed_s + 2.0,
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
            json!({"sound": "click",
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

    // A template upload is consumed by the stream it opened (a saved
    // sound, above, stays).
    let format = json!({"encoding": "s16le", "sample_rate": rate, "channels": 1});
    let template_upload = c.upload(&wav(&click, rate)).await;
    c.ok(
        "stream.open",
        json!({"template_upload": template_upload, "format": format}),
        &[],
    )
    .await;
    let (code, _) = c
        .err(
            "stream.open",
            json!({"template_upload": template_upload, "format": format}),
            &[],
        )
        .await;
    assert_eq!(code, "not_found", "the template upload was consumed");
    c.ok(
        "stream.open",
        json!({"sound": "click", "format": format}),
        &[],
    )
    .await;
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
    assert!(stats["resident_memory_bytes"].as_u64().unwrap() > 1 << 20);
    let users = admin.ok("admin.users", json!({}), &[]).await;
    assert_eq!(users["users"][0]["username"], "root");
}

/// Names §5 refuses in every request that names a sound.
fn bad_sound_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "../etc/passwd",
        "..\\boot.ini",
        "a/b",
        "/",
        "a\\b",
        "\\",
        "nul\0here",
        "\0",
        "bell\u{7}",
        "tab\there",
        "next line\u{85}",
        "",
        " leading",
        "trailing ",
        "\u{3000}ideographic space",
        "no-break space\u{a0}",
        "\n",
        ".",
        "..",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.push("x".repeat(10_000));
    names.push("é".repeat(65));
    names
}

#[tokio::test]
async fn sound_names_are_checked_in_every_request_that_names_a_sound() {
    use harmonic::audio::{PcmEncoding, PcmFormat};
    use harmonic::protocol::TemplateSource;
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let c = typed_client(server.local_addr(), "nina").await;
    let rate = 16_000;
    let click = wav(&template(rate), rate);
    let short_recording = wav(&recording(&template(rate), rate, 1.0, &[]), rate);
    c.sound_save("kept", click.clone(), false).await.unwrap();
    let format = PcmFormat {
        encoding: PcmEncoding::S16Le,
        sample_rate: rate,
        channels: 1,
    };
    let defaults = harmonic::protocol::CountOptions::default();
    for name in bad_sound_names() {
        let shown: String = name.chars().take(20).collect();
        let bad = |code: String, what: &str| {
            assert_eq!(code, "bad_request", "{what} with name {shown:?}");
        };
        bad(
            code_of(c.sound_save(&name, click.clone(), false).await),
            "sound.save",
        );
        bad(
            code_of(c.sound_save(&name, click.clone(), true).await),
            "sound.save overwrite",
        );
        bad(
            code_of(c.sound_get(&name, &mut Vec::new()).await),
            "sound.get",
        );
        bad(
            code_of(c.sound_rename(&name, "fine").await),
            "sound.rename name",
        );
        bad(
            code_of(c.sound_rename("kept", &name).await),
            "sound.rename new_name",
        );
        bad(code_of(c.sound_delete(&name).await), "sound.delete");
        let template = TemplateSource::Sound(name.clone());
        bad(
            code_of(
                c.count(&template, short_recording.clone(), &defaults, |_, _| {})
                    .await,
            ),
            "count sound",
        );
        bad(
            code_of(c.stream_open(&template, &format, &defaults).await),
            "stream.open sound",
        );
    }
    // A refused name does not consume the upload it names.
    let upload = c.upload(click.clone(), |_, _| {}).await.unwrap();
    assert_eq!(
        code_of(c.sound_save_upload("a/b", &upload.upload_id, false).await),
        "bad_request"
    );
    c.sound_save_upload("from upload", &upload.upload_id, false)
        .await
        .unwrap();
    c.sound_delete("from upload").await.unwrap();
    let names: Vec<String> = c
        .sound_list()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["kept"], "nothing was saved, renamed or deleted");

    // Quotes and other punctuation are names like any other; names are
    // never paths, so `...` and `..x` are fine too.
    for name in [
        "say \"hi\"",
        "it's",
        "`tick` <b>&amp; %2e%2e",
        "...",
        "..x",
        "inner  spaces",
        "'",
        "\"",
        &"é".repeat(64),
    ] {
        let saved = c.sound_save(name, click.clone(), false).await.unwrap();
        assert_eq!(saved.name, name);
        let mut got = Vec::new();
        c.sound_get(name, &mut got).await.unwrap();
        assert_eq!(got, click, "{name}");
        // At most 64 code points still.
        let renamed: String = name.chars().take(63).chain(['2']).collect();
        assert_eq!(c.sound_rename(name, &renamed).await.unwrap().name, renamed);
        let counted = c
            .count(
                &TemplateSource::Sound(renamed.clone()),
                short_recording.clone(),
                &defaults,
                |_, _| {},
            )
            .await
            .unwrap();
        assert_eq!(counted.count, 0, "{name}");
        let stream = c
            .stream_open(&TemplateSource::Sound(renamed.clone()), &format, &defaults)
            .await
            .unwrap();
        c.stream_close(&stream).await.unwrap();
        c.sound_delete(&renamed).await.unwrap();
    }
    assert_eq!(c.sound_list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn usernames_are_checked_at_signup_and_never_valid_at_login() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let c = harmonic::client::Client::connect(server.local_addr(), Default::default())
        .await
        .unwrap();
    let mut bad: Vec<String> = [
        "../x", "a/b", "a\\b", "a\"b", "o'neil", "a\0b", "a\u{7}b", " bob", "bob ", ".", "..", "",
        "-bob", "_bob", "bøb", "bob!",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    bad.push("x".repeat(10_000));
    bad.push("x".repeat(33));
    for name in &bad {
        assert_eq!(
            code_of(c.signup(name, "correct horse").await),
            "bad_request",
            "{:?}",
            name.chars().take(20).collect::<String>()
        );
    }
    // 18 failed logins from one address: under the lock of 20.
    for name in &bad {
        assert_eq!(
            code_of(c.login(name, "correct horse").await),
            "invalid_credentials"
        );
    }
    for good in ["a", "A.b_c-9", &"z".repeat(32), "0day"] {
        c.signup(good, "correct horse").await.unwrap();
        assert_eq!(c.login(good, "correct horse").await.unwrap().username, good);
    }
}

#[tokio::test]
async fn count_and_stream_errors() {
    use harmonic::audio::{PcmEncoding, PcmFormat};
    use harmonic::protocol::TemplateSource;
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let c = typed_client(server.local_addr(), "oscar").await;
    let rate = 16_000;
    let click = template(rate);
    c.sound_save("click", wav(&click, rate), false)
        .await
        .unwrap();
    let recording = wav(&recording(&click, rate, 2.0, &[0.5]), rate);
    let defaults = harmonic::protocol::CountOptions::default();
    let count = |template: TemplateSource, recording: Vec<u8>| {
        let c = &c;
        let defaults = &defaults;
        async move {
            c.count(&template, recording, defaults, |_, _| {})
                .await
                .map(|r| r.count)
        }
    };
    // A missing sound, an unknown template or recording upload.
    let missing = TemplateSource::Sound("missing".into());
    assert_eq!(
        code_of(count(missing.clone(), recording.clone()).await),
        "not_found"
    );
    let unknown = TemplateSource::Upload("0123456789abcdef0123456789abcdef".into());
    assert_eq!(
        code_of(count(unknown, recording.clone()).await),
        "not_found"
    );
    let header = serde_json::json!({"type": "count", "sound": "click",
        "recording_upload": "0123456789abcdef0123456789abcdef"});
    assert_eq!(
        code_of(c.request(header, Default::default()).await),
        "not_found"
    );
    // A recording that is not audio; a template over 60 s.
    let click_sound = TemplateSource::Sound("click".into());
    assert_eq!(
        code_of(count(click_sound.clone(), b"RIFF\x10\0\0\0WAVEjunk".to_vec()).await),
        "unsupported_audio"
    );
    let long = c
        .upload(wav(&vec![0.1; rate as usize * 61], rate), |_, _| {})
        .await
        .unwrap();
    assert_eq!(
        code_of(count(TemplateSource::Upload(long.upload_id), recording.clone()).await),
        "too_large"
    );
    // After all that the same request works.
    assert_eq!(count(click_sound, recording).await.unwrap(), 1);

    // Streams: a missing sound, then ids never opened.
    let format = PcmFormat {
        encoding: PcmEncoding::S16Le,
        sample_rate: rate,
        channels: 1,
    };
    assert_eq!(
        code_of(c.stream_open(&missing, &format, &defaults).await),
        "not_found"
    );
    for id in ["no-such-stream", "", "0123456789abcdef0123456789abcdef"] {
        assert_eq!(
            code_of(c.stream_data(id, vec![0u8; 64].into()).await),
            "not_found",
            "stream.data {id:?}"
        );
        assert_eq!(
            code_of(c.stream_close(id).await),
            "not_found",
            "stream.close {id:?}"
        );
    }
    // Someone else's stream is not found either.
    let stream = c
        .stream_open(&TemplateSource::Sound("click".into()), &format, &defaults)
        .await
        .unwrap();
    let other = typed_client(server.local_addr(), "pat").await;
    assert_eq!(
        code_of(other.stream_data(&stream, vec![0u8; 64].into()).await),
        "not_found"
    );
    c.stream_close(&stream).await.unwrap();
}

#[tokio::test]
async fn a_replayed_frame_ends_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let addr = server.local_addr();
    let mut bystander = TestClient::connect(addr).await;
    bystander.signup_login("quinn").await;

    // The same sealed frame twice: the second fails authentication (its
    // nonce is the counter of frame 0, the server expects 1): closed, no bye.
    let mut c = TestClient::connect(addr).await;
    let frame = c.seal(&request("ping", 1, json!({})));
    c.send_raw(&frame).await;
    c.answer(1).await.unwrap();
    c.send_raw(&frame).await;
    assert_eq!(c.until_closed().await, None);

    // A frame of one connection sent on another: other keys, closed too.
    let mut a = TestClient::connect(addr).await;
    let mut b = TestClient::connect(addr).await;
    let foreign = a.seal(&request("ping", 1, json!({})));
    b.send_raw(&foreign).await;
    assert_eq!(b.until_closed().await, None);
    a.send_raw(&foreign).await;
    a.answer(1).await.unwrap();

    bystander.ok("sound.list", json!({}), &[]).await;
}

#[tokio::test]
async fn failed_logins_and_resumes_lock_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let addr = server.local_addr();
    let c = harmonic::client::Client::connect(addr, Default::default())
        .await
        .unwrap();
    c.signup("rita", "correct horse").await.unwrap();
    // 20 failures from 127.0.0.1: 4 per username (under that lock of 5),
    // spent resume tokens among them, on several connections.
    for i in 0..10 {
        let other = harmonic::client::Client::connect(addr, Default::default())
            .await
            .unwrap();
        let user = format!("user{}", i / 4);
        assert_eq!(
            code_of(other.login(&user, "wrong horse").await),
            "invalid_credentials"
        );
        assert_eq!(
            code_of(other.resume("not-a-token").await),
            "invalid_credentials"
        );
    }
    match c.login("rita", "correct horse").await {
        Err(harmonic::client::ClientError::Server { code, fields, .. }) => {
            assert_eq!(code.as_str(), "rate_limited");
            assert!(fields["retry_after_s"].as_u64().unwrap() > 0);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        code_of(c.resume("not-a-token").await),
        "rate_limited",
        "resumes too"
    );
    c.ping().await.unwrap();
}
