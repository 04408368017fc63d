//! The client against a scripted fake server over `tokio::io::duplex`: the
//! real server handshake and codecs, with answers written by each test.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use rand_core::OsRng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{DuplexStream, ReadHalf, WriteHalf};
use tokio_util::codec::{FramedRead, FramedWrite};

use super::*;
use crate::crypto::{ServerIdentity, Side};
use crate::protocol::{ByeReason, CountOptions, Priority};
use crate::protocol::{ErrorCode, Push, RawMessage, TemplateSource};
use crate::transport::{
    server_handshake, split_codecs, DecryptingCodec, EncryptingCodec, Incoming, OutgoingMessage,
};

const LONG: Duration = Duration::from_secs(5);

/// The server end of a connection, driven by the test.
struct FakeServer {
    incoming: FramedRead<ReadHalf<DuplexStream>, DecryptingCodec>,
    outgoing: FramedWrite<WriteHalf<DuplexStream>, EncryptingCodec>,
}

impl FakeServer {
    /// The next request; panics on anything else.
    async fn recv(&mut self) -> RawMessage {
        match self.incoming.next().await {
            Some(Ok(Incoming::Message(message))) => message,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    async fn send(&mut self, header: Value, payload: &[u8]) {
        let message = OutgoingMessage::new(&header, payload).unwrap();
        self.outgoing.send(message).await.unwrap();
    }

    async fn ok(&mut self, request: &RawMessage, mut fields: Value) {
        fields["type"] = json!("ok");
        fields["id"] = request.header["id"].clone();
        self.send(fields, &[]).await;
    }
}

fn id_of(request: &RawMessage) -> u64 {
    request.header["id"].as_u64().unwrap()
}

async fn connected_with(
    options: ConnectOptions,
) -> (
    Result<Client, ClientError>,
    Option<FakeServer>,
    ServerIdentity,
) {
    let (client_end, mut server_end) = tokio::io::duplex(64 * 1024);
    let identity = Arc::new(ServerIdentity::generate(&mut OsRng));
    let server_identity = Arc::clone(&identity);
    let server = tokio::spawn(async move {
        let keys = server_handshake(&mut server_end, &server_identity, LONG)
            .await
            .ok()?;
        let (read, write) = tokio::io::split(server_end);
        let (encrypting, decrypting) = split_codecs(&keys, Side::Server);
        Some(FakeServer {
            incoming: FramedRead::new(read, decrypting),
            outgoing: FramedWrite::new(write, encrypting),
        })
    });
    let client = Client::over_stream(client_end, options).await;
    let server = server.await.unwrap();
    let identity = Arc::try_unwrap(identity).unwrap_or_else(|_| panic!("identity still shared"));
    (client, server, identity)
}

async fn connected() -> (Client, FakeServer) {
    let (client, server, _) = connected_with(ConnectOptions::default()).await;
    (client.unwrap(), server.unwrap())
}

#[tokio::test]
async fn ping_round_trip_with_ids_from_one() {
    let (client, mut server) = connected().await;
    let serve = async {
        for expected_id in 1..=2 {
            let ping = server.recv().await;
            assert_eq!(ping.kind(), Some("ping"));
            assert_eq!(id_of(&ping), expected_id);
            server
                .ok(
                    &ping,
                    json!({"server_time_ms": 1_763_700_000_000u64 + expected_id}),
                )
                .await;
        }
    };
    let ((first, second), ()) =
        tokio::join!(async { (client.ping().await, client.ping().await) }, serve);
    assert_eq!(first.unwrap().server_time_ms, 1_763_700_000_001);
    assert_eq!(second.unwrap().server_time_ms, 1_763_700_000_002);
}

#[tokio::test]
async fn an_error_answer_is_a_server_error_with_its_fields() {
    let (client, mut server) = connected().await;
    let serve = async {
        let login = server.recv().await;
        assert_eq!(login.header["username"], "alice");
        assert_eq!(login.header["password"], "correct horse");
        let answer = json!({"type": "error", "id": login.header["id"], "code": "rate_limited",
                            "message": "too many failed logins", "retry_after_s": 62});
        server.send(answer, &[]).await;
    };
    let (result, ()) = tokio::join!(client.login("alice", "correct horse"), serve);
    let err = result.unwrap_err();
    assert!(err.is_code(ErrorCode::RateLimited), "{err}");
    match err {
        ClientError::Server {
            message, fields, ..
        } => {
            assert_eq!(message, "too many failed logins");
            assert_eq!(fields["retry_after_s"], 62);
        }
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn pipelined_requests_get_their_own_out_of_order_answers() {
    let (client, mut server) = connected().await;
    let serve = async {
        let mut requests = Vec::new();
        for _ in 0..3 {
            requests.push(server.recv().await);
        }
        let ids: Vec<u64> = requests.iter().map(id_of).collect();
        assert_eq!(ids, [1, 2, 3], "all three in flight before any answer");
        for request in requests.iter().rev() {
            let echo = request.header["echo"].clone();
            server.ok(request, json!({"echo": echo})).await;
        }
    };
    let ask = |n: u64| client.request(json!({"type": "ping", "echo": n}), Bytes::new());
    let ((a, b, c), ()) = tokio::join!(async { tokio::join!(ask(10), ask(20), ask(30)) }, serve);
    assert_eq!(a.unwrap().fields["echo"], 10);
    assert_eq!(b.unwrap().fields["echo"], 20);
    assert_eq!(c.unwrap().fields["echo"], 30);
}

#[tokio::test]
async fn count_sends_inline_audio_and_reports_progress_before_the_answer() {
    let (client, mut server) = connected().await;
    let recording = vec![7u8; 5000];
    let serve = async {
        let count = server.recv().await;
        assert_eq!(count.kind(), Some("count"));
        assert_eq!(count.header["sound"], "bop");
        assert_eq!(count.header["options"], json!({"threshold": 0.5}));
        assert_eq!(count.payload.len(), 5000);
        let id = count.header["id"].clone();
        // A push for a request that is not outstanding is ignored.
        server
            .send(
                json!({"type": "progress", "id": 99, "done_s": 1.0, "total_s": 9.0}),
                &[],
            )
            .await;
        for done in [1.5, 3.0] {
            server
                .send(
                    json!({"type": "progress", "id": id, "done_s": done, "total_s": 3.0}),
                    &[],
                )
                .await;
        }
        server
            .ok(
                &count,
                json!({"count": 1, "events": [{"start_s": 0.25, "score": 0.9}],
                                 "duration_s": 3.0, "elapsed_ms": 12}),
            )
            .await;
    };
    let mut progress = Vec::new();
    let options = CountOptions {
        threshold: Some(0.5),
        min_gap_s: None,
    };
    let template = TemplateSource::Sound("bop".into());
    let (result, ()) = tokio::join!(
        client.count(&template, recording, &options, |done, total| progress
            .push((done, total))),
        serve
    );
    let result = result.unwrap();
    assert_eq!(result.count, 1);
    assert_eq!(result.events[0].start_s, 0.25);
    assert_eq!(progress, [(1.5, 3.0), (3.0, 3.0)]);
}

#[tokio::test]
async fn notice_and_shutdown_go_to_the_push_receiver() {
    let (client, mut server) = connected().await;
    let mut pushes = client.pushes().unwrap();
    assert!(client.pushes().is_none(), "one receiver only");
    server
        .send(
            json!({"type": "notice", "message": "maintenance at noon", "priority": "high",
                       "ts": "2026-11-21T05:00:00.123Z"}),
            &[],
        )
        .await;
    server
        .send(
            json!({"type": "shutdown", "message": "bye soon", "grace_s": 10}),
            &[],
        )
        .await;
    match pushes.recv().await.unwrap() {
        Push::Notice {
            message, priority, ..
        } => {
            assert_eq!(message, "maintenance at noon");
            assert_eq!(priority, Priority::High);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        matches!(pushes.recv().await.unwrap(), Push::Shutdown { grace_s, .. } if grace_s == 10.0)
    );
    // The session goes on after a shutdown notice.
    let serve = async {
        let ping = server.recv().await;
        server.ok(&ping, json!({"server_time_ms": 5})).await;
    };
    let (ping, ()) = tokio::join!(client.ping(), serve);
    assert_eq!(ping.unwrap().server_time_ms, 5);
}

#[tokio::test]
async fn bye_ends_every_pending_request_with_its_reason() {
    let (client, mut server) = connected().await;
    let mut pushes = client.pushes().unwrap();
    let serve = async {
        server.recv().await;
        server.recv().await;
        server
            .send(json!({"type": "bye", "reason": "kicked"}), &[])
            .await;
        server
    };
    let ((first, second), _server) = tokio::join!(
        async { tokio::join!(client.ping(), client.sound_list()) },
        serve
    );
    for result in [first.map(drop), second.map(drop)] {
        match result.unwrap_err() {
            ClientError::Closed { reason } => assert_eq!(reason.as_deref(), Some("kicked")),
            other => panic!("unexpected {other}"),
        }
    }
    assert!(matches!(
        pushes.recv().await,
        Some(Push::Bye {
            reason: ByeReason::Kicked
        })
    ));
    assert!(client.is_closed());
    assert!(matches!(
        client.ping().await,
        Err(ClientError::Closed { reason: Some(reason) }) if reason == "kicked"
    ));
}

#[tokio::test]
async fn the_server_closing_ends_pending_requests() {
    let (client, mut server) = connected().await;
    let serve = async {
        server.recv().await;
        drop(server);
    };
    let (result, ()) = tokio::join!(client.ping(), serve);
    assert!(
        matches!(result, Err(ClientError::Closed { reason: None })),
        "{result:?}"
    );
}

#[tokio::test]
async fn pinned_fingerprint_is_checked() {
    let (client, server, identity) = connected_with(ConnectOptions::default()).await;
    let client = client.unwrap();
    assert_eq!(client.server_fingerprint(), identity.fingerprint());
    drop((client, server));

    let pinned = "ab".repeat(32);
    let options = ConnectOptions {
        pinned_fingerprint: Some(pinned.clone()),
        ..ConnectOptions::default()
    };
    let (client, _server, identity) = connected_with(options).await;
    match client.unwrap_err() {
        ClientError::IdentityChanged {
            pinned: was,
            presented,
        } => {
            assert_eq!(was, pinned);
            assert_eq!(presented, identity.fingerprint());
        }
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn connect_over_tcp_with_the_right_pin() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let identity = ServerIdentity::generate(&mut OsRng);
    let fingerprint = identity.fingerprint();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        server_handshake(&mut stream, &identity, LONG)
            .await
            .unwrap();
        stream
    });
    let options = ConnectOptions {
        pinned_fingerprint: Some(fingerprint.to_uppercase()),
        ..ConnectOptions::default()
    };
    let client = Client::connect(addr, options).await.unwrap();
    assert_eq!(client.server_fingerprint(), fingerprint);
    drop(server.await.unwrap());
}

/// Serves one upload: checks offsets and the declared hash; answers
/// `checksum_mismatch` on the first `fail_first` finishes.
async fn serve_upload(server: &mut FakeServer, mut fail_first: u32) -> (Vec<u8>, usize) {
    let mut chunks = 0;
    loop {
        let begin = server.recv().await;
        assert_eq!(begin.kind(), Some("upload.begin"));
        let size = begin.header["size"].as_u64().unwrap() as usize;
        let declared = begin.header["sha256"].as_str().unwrap().to_owned();
        server.ok(&begin, json!({"upload_id": "u1"})).await;
        let mut received = Vec::new();
        loop {
            let request = server.recv().await;
            match request.kind() {
                Some("upload.chunk") => {
                    assert_eq!(request.header["upload_id"], "u1");
                    assert_eq!(
                        request.header["offset"].as_u64().unwrap() as usize,
                        received.len()
                    );
                    assert!(request.payload.len() <= UPLOAD_CHUNK_LEN);
                    received.extend_from_slice(&request.payload);
                    chunks += 1;
                    server
                        .ok(&request, json!({"received": received.len()}))
                        .await;
                }
                Some("upload.finish") => {
                    assert_eq!(received.len(), size);
                    assert_eq!(hex::encode(Sha256::digest(&received)), declared);
                    if fail_first > 0 {
                        fail_first -= 1;
                        let answer = json!({"type": "error", "id": request.header["id"],
                                            "code": "checksum_mismatch", "message": "hash differs"});
                        server.send(answer, &[]).await;
                        break;
                    }
                    server
                        .ok(&request, json!({"upload_id": "u1", "size": size}))
                        .await;
                    return (received, chunks);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn upload_file_streams_chunks_and_retries_a_checksum_mismatch() {
    let (client, mut server) = connected().await;
    let data: Vec<u8> = (0..2_300_000u32).map(|i| (i % 251) as u8).collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &data).unwrap();

    let mut progress = Vec::new();
    let (result, (received, chunks)) = tokio::join!(
        client.upload_file(file.path(), |sent, size| progress.push((sent, size))),
        serve_upload(&mut server, 1)
    );
    let finished = result.unwrap();
    assert_eq!(
        (finished.upload_id.as_str(), finished.size),
        ("u1", 2_300_000)
    );
    assert_eq!(received, data);
    assert_eq!(chunks, 6, "3 chunks per attempt, two attempts");
    assert_eq!(progress.last(), Some(&(2_300_000, 2_300_000)));
    assert_eq!(progress.iter().filter(|(sent, _)| *sent == 0).count(), 2);
}

#[tokio::test]
async fn upload_gives_up_after_three_retries() {
    let (client, mut server) = connected().await;
    let serve = async {
        // The first attempt and three retries, all refused; then nothing more.
        for _ in 0..=UPLOAD_RETRIES {
            let begin = server.recv().await;
            assert_eq!(begin.kind(), Some("upload.begin"));
            server.ok(&begin, json!({"upload_id": "u1"})).await;
            let chunk = server.recv().await;
            server.ok(&chunk, json!({"received": 10})).await;
            let finish = server.recv().await;
            let answer = json!({"type": "error", "id": finish.header["id"],
                                "code": "checksum_mismatch", "message": "hash differs"});
            server.send(answer, &[]).await;
        }
        let more = tokio::time::timeout(Duration::from_millis(200), server.incoming.next()).await;
        assert!(more.is_err(), "no fifth attempt, no abort: {more:?}");
    };
    let (result, ()) = tokio::join!(client.upload(vec![1u8; 10], |_, _| {}), serve);
    assert!(result.unwrap_err().is_code(ErrorCode::ChecksumMismatch));
}

#[tokio::test]
async fn sound_save_goes_inline_when_it_fits_else_through_an_upload() {
    let (client, mut server) = connected().await;
    let sound = |size: usize| {
        json!({"sound": {"name": "bop", "duration_ms": 100, "sample_rate": 8000,
        "channels": 1, "size": size, "sha256": "00", "created_at": "2026-11-21T05:00:00.123Z"}})
    };
    let serve = async {
        let save = server.recv().await;
        assert_eq!(save.kind(), Some("sound.save"));
        assert_eq!(save.header["overwrite"], false);
        assert!(save.header.get("upload_id").is_none());
        assert_eq!(save.payload.len(), 1000);
        server.ok(&save, sound(1000)).await;

        let (received, _) = serve_upload(&mut server, 0).await;
        let save = server.recv().await;
        assert_eq!(save.header["upload_id"], "u1");
        assert_eq!(save.header["overwrite"], true);
        assert!(save.payload.is_empty());
        server.ok(&save, sound(received.len())).await;
    };
    let big = crate::protocol::MAX_MESSAGE_LEN;
    let ((small, large), ()) = tokio::join!(
        async {
            (
                client.sound_save("bop", vec![0u8; 1000], false).await,
                client.sound_save("bop", vec![0u8; big], true).await,
            )
        },
        serve
    );
    assert_eq!(small.unwrap().size, 1000);
    assert_eq!(large.unwrap().size, big as u64);
}

#[tokio::test]
async fn sound_get_loops_over_offsets() {
    let (client, mut server) = connected().await;
    let data: Vec<u8> = (0..2_100_000u32).map(|i| (i % 241) as u8).collect();
    let serve = async {
        loop {
            let get = server.recv().await;
            assert_eq!(get.header["name"], "bop");
            let offset = get.header["offset"].as_u64().unwrap() as usize;
            let end = (offset + 1_000_000).min(data.len());
            let answer = json!({"type": "ok", "id": get.header["id"], "offset": offset,
                "sound": {"name": "bop", "duration_ms": 1, "sample_rate": 8000, "channels": 1,
                          "size": data.len(), "sha256": "00", "created_at": "2026-11-21T05:00:00.123Z"}});
            server.send(answer, &data[offset..end]).await;
            if end == data.len() {
                break;
            }
        }
    };
    let mut out = Vec::new();
    let (result, ()) = tokio::join!(client.sound_get("bop", &mut out), serve);
    assert_eq!(result.unwrap().size, data.len() as u64);
    assert_eq!(out, data);
}

#[tokio::test]
async fn a_request_that_cannot_be_encoded_is_refused_locally() {
    let (client, _server) = connected().await;
    assert!(matches!(
        client.request(json!(["ping"]), Bytes::new()).await,
        Err(ClientError::Encode(_))
    ));
    let too_big = Bytes::from(vec![0u8; crate::protocol::MAX_FRAME_LEN]);
    assert!(matches!(
        client.stream_data("s1", too_big).await,
        Err(ClientError::Encode(_))
    ));
}
