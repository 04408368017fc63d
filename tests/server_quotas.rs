//! PROTOCOL.md 1.2's quotas, the per-session stream cap under pipelining,
//! and the data directory's lock, end to end over TCP.

use std::time::Duration;

use harmonic::config::Settings;
use serde_json::json;

use crate::server_support::{settings, start, template, wav, TestClient};

/// A WAV of the test template followed by `extra` copies of it.
fn sound(extra: usize) -> Vec<u8> {
    let one = template(8_000);
    let samples: Vec<f32> = std::iter::repeat_n(one.iter().copied(), extra + 1)
        .flatten()
        .collect();
    wav(&samples, 8_000)
}

#[tokio::test]
async fn saved_sounds_and_their_bytes_are_limited_per_user() {
    let dir = tempfile::tempdir().unwrap();
    let (small, big) = (sound(0), sound(1));
    let server = start(Settings {
        sounds_per_user: 3,
        sound_bytes_per_user: (2 * big.len() + small.len()) as u64,
        ..settings(dir.path())
    });
    let mut c = TestClient::connect(server.local_addr()).await;
    c.signup_login("quinn").await;
    c.ok("sound.save", json!({"name": "a"}), &big).await;
    c.ok("sound.save", json!({"name": "b"}), &big).await;
    c.ok("sound.save", json!({"name": "c"}), &small).await;
    let (code, fields) = c.err("sound.save", json!({"name": "d"}), &small).await;
    assert_eq!(
        (code.as_str(), fields["limit"].as_str()),
        ("quota_exceeded", Some("sounds_per_user"))
    );
    // Replacing a sound adds none, and a same-sized file fits.
    c.ok(
        "sound.save",
        json!({"name": "c", "overwrite": true}),
        &small,
    )
    .await;
    c.ok("sound.delete", json!({"name": "c"}), &[]).await;
    let (code, fields) = c.err("sound.save", json!({"name": "d"}), &big).await;
    assert_eq!(
        (code.as_str(), fields["limit"].as_str()),
        ("quota_exceeded", Some("sound_bytes_per_user"))
    );
    // From an upload: refused without consuming it.
    let upload = c.upload(&big).await;
    let (code, _) = c
        .err("sound.save", json!({"name": "d", "upload_id": upload}), &[])
        .await;
    assert_eq!(code, "quota_exceeded");
    c.ok("sound.save", json!({"name": "c"}), &small).await;
    c.ok("sound.delete", json!({"name": "a"}), &[]).await;
    c.ok("sound.save", json!({"name": "d", "upload_id": upload}), &[])
        .await;
    // Another user has quotas of their own.
    let mut other = TestClient::connect(server.local_addr()).await;
    other.signup_login("rosa").await;
    other.ok("sound.save", json!({"name": "a"}), &big).await;
}

#[tokio::test]
async fn unfinished_uploads_are_limited_per_user() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(Settings {
        unfinished_uploads_per_user: 2,
        ..settings(dir.path())
    });
    let mut c = TestClient::connect(server.local_addr()).await;
    c.signup_login("uma").await;
    let begin = json!({"size": 10, "sha256": "00".repeat(32)});
    let first = c.ok("upload.begin", begin.clone(), &[]).await;
    c.ok("upload.begin", begin.clone(), &[]).await;
    let (code, fields) = c.err("upload.begin", begin.clone(), &[]).await;
    assert_eq!(
        (code.as_str(), fields["limit"].as_str()),
        ("quota_exceeded", Some("unfinished_uploads_per_user"))
    );
    let mut other = TestClient::connect(server.local_addr()).await;
    other.signup_login("vera").await;
    other.ok("upload.begin", begin.clone(), &[]).await;
    c.ok(
        "upload.abort",
        json!({"upload_id": first["upload_id"]}),
        &[],
    )
    .await;
    c.ok("upload.begin", begin, &[]).await;
}

#[tokio::test]
async fn upload_begin_keeps_the_disk_reserve_free_and_logins_go_on() {
    let dir = tempfile::tempdir().unwrap();
    // A reserve no disk has: every upload would eat into it.
    let server = start(Settings {
        disk_reserve: u64::MAX / 4,
        ..settings(dir.path())
    });
    let mut c = TestClient::connect(server.local_addr()).await;
    c.signup_login("walt").await;
    let (code, fields) = c
        .err(
            "upload.begin",
            json!({"size": 1, "sha256": "00".repeat(32)}),
            &[],
        )
        .await;
    assert_eq!(
        (code.as_str(), fields["limit"].as_str()),
        ("quota_exceeded", Some("disk_reserve"))
    );
    let mut again = TestClient::connect(server.local_addr()).await;
    let login = again
        .ok(
            "login",
            json!({"username": "walt", "password": "correct horse"}),
            &[],
        )
        .await;
    let token = login["resume_token"].as_str().unwrap();
    let mut third = TestClient::connect(server.local_addr()).await;
    third.ok("resume", json!({"token": token}), &[]).await;
}

#[tokio::test]
async fn pipelined_stream_opens_pass_the_cap_only_up_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(Settings {
        max_streams_per_session: 8,
        analysis_queue: 64,
        ..settings(dir.path())
    });
    let mut c = TestClient::connect(server.local_addr()).await;
    c.signup_login("xena").await;
    c.ok("sound.save", json!({"name": "t"}), &sound(0)).await;
    let open = json!({
        "sound": "t",
        "format": {"encoding": "s16le", "sample_rate": 8000, "channels": 1},
    });
    let mut ids = Vec::new();
    for _ in 0..32 {
        let id = c.id();
        let mut header = open.clone();
        header["type"] = json!("stream.open");
        header["id"] = json!(id);
        c.send(&header, &[]).await;
        ids.push(id);
    }
    let (mut opened, mut busy) = (0, 0);
    for id in ids {
        match c.answer(id).await {
            Ok(_) => opened += 1,
            Err((code, _, _)) if code == "busy" => busy += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!((opened, busy), (8, 24));
}

#[tokio::test]
async fn a_live_data_directory_is_locked_against_offline_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(settings(&data));
    let refused = harmonic::store::Store::open(&data).unwrap_err();
    assert!(
        matches!(refused, harmonic::store::StoreError::Locked { .. }),
        "{refused}"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_harmonic"))
        .args(["user", "add", "zed", "--data-dir"])
        .arg(&data)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"correct horse\n")?;
            child.wait_with_output()
        })
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("in use"), "{stderr}");
    tokio::task::spawn_blocking(move || server.stop(Duration::ZERO))
        .await
        .unwrap()
        .unwrap();
    harmonic::store::Store::open(&data).expect("free once the server stopped");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("harmonic.db")), 0o600);
    }
}
