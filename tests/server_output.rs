//! End-to-end tests of the answer path over real TCP (PROTOCOL.md 1.2):
//! events past 10,000 delivered in `progress` pushes and gathered by the
//! client, paged admin lists, and the 2 MiB answer backlog that stops the
//! server reading a client that does not read its answers.

use std::time::{Duration, Instant};

use crate::server_support::*;
use futures::StreamExt;
use harmonic::actors::metrics::resident_memory_bytes;
use harmonic::client::Client;
use harmonic::protocol::response::{CountResult, SessionList, UserList};
use harmonic::protocol::{result_as, CountOptions, Push, ServerMessage, TemplateSource};
use serde_json::json;
use tokio::io::AsyncWriteExt;

/// Silence between two clicks: dense, like fast typing, and still apart,
/// so each click is one event.
const CLICK_GAP_S: f64 = 0.03;

/// The click, a recording with `clicks` of them, and the times they start
/// at, at `rate`.
fn dense_clicks(rate: u32, clicks: usize) -> (Vec<u8>, Vec<u8>, Vec<f64>) {
    let click = template(rate);
    let spacing = click.len() as f64 / f64::from(rate) + CLICK_GAP_S;
    let at: Vec<f64> = (0..clicks).map(|i| 0.5 + i as f64 * spacing).collect();
    let seconds = at.last().copied().unwrap_or(0.0) + 1.0;
    (
        wav(&click, rate),
        wav(&recording(&click, rate, seconds, &at), rate),
        at,
    )
}

#[tokio::test]
async fn more_than_10000_events_come_in_the_pushes_and_the_client_gathers_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let client = typed_client(server.local_addr(), "typist").await;
    let rate = 8_000;
    let clicks = 10_500;
    let (click, recording, at) = dense_clicks(rate, clicks);
    client.sound_save("click", click, false).await.unwrap();
    let template = TemplateSource::Sound("click".into());
    let options = CountOptions::default();

    // On the wire: the answer lists nothing, says so, and counts them all;
    // the pushes carried every event, in time order, before it.
    let started = Instant::now();
    let mut pending = client
        .start_count(&template, recording, &options)
        .await
        .unwrap();
    let mut pushed = Vec::new();
    while let Some(push) = pending.next_push().await {
        if let Push::Progress { new_events, .. } = push {
            pushed.extend(new_events);
        }
    }
    let reply = pending.answer().await.unwrap();
    eprintln!("count of {clicks} clicks took {:?}", started.elapsed());
    let raw: CountResult = reply.parse().unwrap();
    assert!(raw.events_truncated, "past 10,000: {:?}", raw.count);
    assert!(raw.events.is_empty());
    assert_eq!(raw.count as usize, clicks, "every click counted once");
    assert_eq!(pushed.len(), clicks);
    assert_eq!(reply.pushed_events, pushed, "the client gathered the same");
    assert!(pushed.windows(2).all(|w| w[0].start_s < w[1].start_s));

    // What `Client::count` and `harmonic count` return: the list filled
    // from the pushes.
    let counted = reply.count_result().unwrap();
    assert_eq!(counted.events.len(), clicks);
    assert!(!counted.events_truncated, "the result is whole");
    for (event, expected) in counted.events.iter().zip(at) {
        assert!(
            (event.start_s - expected).abs() < 0.02,
            "{event:?} vs {expected}"
        );
    }
}

#[tokio::test]
async fn a_count_under_the_cap_lists_its_events_and_pushes_them_too() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let client = typed_client(server.local_addr(), "slow").await;
    let rate = 8_000;
    let (click, recording, _) = dense_clicks(rate, 5);
    client.sound_save("click", click, false).await.unwrap();
    let pending = client
        .start_count(
            &TemplateSource::Sound("click".into()),
            recording,
            &CountOptions::default(),
        )
        .await
        .unwrap();
    let reply = pending.answer().await.unwrap();
    let result: CountResult = reply.parse().unwrap();
    assert!(!result.events_truncated);
    assert!(
        !reply.fields.contains_key("events_truncated"),
        "a 1.1 answer"
    );
    assert_eq!(result.events.len(), 5);
    assert_eq!(reply.pushed_events, result.events);
}

#[tokio::test]
async fn admin_lists_page_and_give_their_total() {
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path());
    let server = start(settings(dir.path()));
    let addr = server.local_addr();
    let mut others = Vec::new();
    for name in ["ann", "bob", "cy"] {
        others.push(typed_client(addr, name).await);
    }
    let admin = Client::connect(addr, Default::default()).await.unwrap();
    admin.login("root", ADMIN_PASSWORD).await.unwrap();
    let call = |fields: serde_json::Value| {
        let admin = &admin;
        async move { admin.request(fields, bytes::Bytes::new()).await }
    };

    let all: UserList = call(json!({"type": "admin.users"}))
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(all.total, 4);
    let names: Vec<_> = all.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["ann", "bob", "cy", "root"]);
    let page: UserList = call(json!({"type": "admin.users", "offset": 1, "limit": 2}))
        .await
        .unwrap()
        .parse()
        .unwrap();
    let names: Vec<_> = page.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!((names, page.total), (vec!["bob", "cy"], 4));
    let past: UserList = call(json!({"type": "admin.users", "offset": 9}))
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(past.users.is_empty());
    assert_eq!(past.total, 4);

    let sessions: SessionList = call(json!({"type": "admin.sessions", "limit": 1}))
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!((sessions.sessions.len(), sessions.total), (1, 4));
    let rest: SessionList = call(json!({"type": "admin.sessions", "offset": 1}))
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(rest.sessions.len(), 3);
    assert!(rest.sessions[0].session_id > sessions.sessions[0].session_id);

    for bad in [json!(0), json!(1001)] {
        let err = call(json!({"type": "admin.sessions", "limit": bad})).await;
        assert_eq!(code_of(err), "bad_request");
    }
}

/// What a client that never reads may make the server hold, above what it
/// held before: the 2 MiB backlog, the promise of the request under way,
/// the buffers of one frame each way, and allocator slack.
const NON_READER_GROWTH_BOUND: u64 = 48 * 1024 * 1024;

#[tokio::test]
async fn a_client_that_never_reads_is_held_and_the_server_memory_stays_bounded() {
    if !in_own_process(
        "server_output::a_client_that_never_reads_is_held_and_the_server_memory_stays_bounded",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let addr = server.local_addr();
    let mut c = TestClient::connect(addr).await;
    c.signup_login("hoarder").await;
    // A 0.9 MB sound: each `sound.get` answer is a 0.9 MB frame.
    let rate = 16_000;
    let sound = wav(&recording(&template(rate), rate, 28.0, &[1.0]), rate);
    assert!(sound.len() > 850_000 && sound.len() < 1_000_000);
    c.ok("sound.save", json!({"name": "big"}), &sound).await;
    let before = resident_memory_bytes().expect("RSS readable on Linux");

    // 400 `sound.get` (360 MB of answers if the server kept them all),
    // written without reading a byte.
    let requests = 400;
    let frames: Vec<Vec<u8>> = (0..requests)
        .map(|_| {
            let id = c.id();
            c.seal(&request("sound.get", id, json!({"name": "big"})))
        })
        .collect();
    let mut writer = c.writer;
    let sender = tokio::spawn(async move {
        for frame in frames {
            if writer.write_all(&frame).await.is_err() {
                break;
            }
        }
        writer
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = resident_memory_bytes().unwrap();
    let growth = after.saturating_sub(before);
    eprintln!(
        "RSS {:.1} MiB before, {:.1} MiB after 3 s of a non-reader",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0
    );
    assert!(
        growth < NON_READER_GROWTH_BOUND,
        "the server grew by {growth} bytes"
    );

    // The server still serves others.
    let other = typed_client(addr, "patient").await;
    tokio::time::timeout(WAIT, other.ping())
        .await
        .expect("a ping within the wait")
        .unwrap();

    // The held client reads: every request gets its answer, in full.
    let mut answered = 0;
    let mut busy = 0;
    while answered + busy < requests {
        match tokio::time::timeout(WAIT, c.reader.next()).await {
            Ok(Some(Ok(harmonic::transport::Incoming::Message(raw)))) => {
                match ServerMessage::parse(raw).unwrap() {
                    ServerMessage::Ok {
                        fields, payload, ..
                    } => {
                        assert_eq!(payload.len(), sound.len());
                        assert_eq!(fields["offset"], 0);
                        answered += 1;
                    }
                    ServerMessage::Error { code, .. } if code.as_str() == "busy" => busy += 1,
                    other => panic!("unexpected {other:?}"),
                }
            }
            other => panic!("the connection ended early: {other:?}"),
        }
    }
    eprintln!("{answered} chunks sent, {busy} busy");
    assert!(answered > 0);
    sender.await.unwrap();
}

/// `result_as` reads a 1.1 server's list (no `total`) as total 0.
#[test]
fn a_list_without_total_reads_as_one_page() {
    let fields = json!({"users": []});
    let list: UserList = result_as(fields.as_object().unwrap()).unwrap();
    assert_eq!(list.total, 0);
}
