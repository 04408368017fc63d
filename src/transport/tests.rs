//! Both sides of the transport over `tokio::io::duplex` with a tiny buffer,
//! so every read and write is split into many small pieces.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use rand_core::OsRng;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_util::codec::{Decoder, Encoder, Framed, FramedRead, FramedWrite};

use super::*;
use crate::crypto::handshake::CLIENT_HELLO_LEN;
use crate::crypto::{
    ClientHandshake, ClientHelloError, HandshakeError, ServerIdentity, SessionKeys, Side,
};
use crate::protocol::{MessageError, RawMessage, MAX_FRAME_LEN};

/// Small enough that a ServerHello (203 bytes on the wire) takes many writes.
const TINY_BUFFER: usize = 7;
const LONG: Duration = Duration::from_secs(5);

fn identity() -> ServerIdentity {
    ServerIdentity::generate(&mut OsRng)
}

/// Runs both handshakes over a tiny duplex; returns both streams and keys.
async fn handshaken() -> (DuplexStream, SessionKeys, DuplexStream, SessionKeys) {
    let (mut client, mut server) = tokio::io::duplex(TINY_BUFFER);
    let identity = std::sync::Arc::new(identity());
    let server_identity = identity.clone();
    let server_task = tokio::spawn(async move {
        let keys = server_handshake(&mut server, &server_identity, LONG)
            .await
            .unwrap();
        (server, keys)
    });
    let accepted = client_handshake(&mut client, LONG).await.unwrap();
    let (server, server_keys) = server_task.await.unwrap();
    assert_eq!(accepted.fingerprint, identity.fingerprint());
    (client, accepted.keys, server, server_keys)
}

fn message(header: Value, payload: &[u8]) -> OutgoingMessage {
    OutgoingMessage::new(&header, payload).unwrap()
}

fn expect_message(incoming: Incoming) -> RawMessage {
    match incoming {
        Incoming::Message(message) => message,
        Incoming::Unreadable(err) => panic!("unreadable message: {err}"),
    }
}

/// Writes a ClientHello-like frame of the given body, unchecked.
async fn write_frame(stream: &mut DuplexStream, body: &[u8]) {
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    stream.write_all(&frame).await.unwrap();
}

#[tokio::test]
async fn handshake_then_ping_and_ok_through_the_codecs() {
    let (client, client_keys, server, server_keys) = handshaken().await;
    assert_eq!(client_keys.client_to_server, server_keys.client_to_server);
    assert_eq!(client_keys.server_to_client, server_keys.server_to_client);

    // The server splits its stream as actix will; the client uses one Framed.
    let (server_read, server_write) = tokio::io::split(server);
    let (encrypting, decrypting) = split_codecs(&server_keys, Side::Server);
    let mut server_in = FramedRead::new(server_read, decrypting);
    let mut server_out = FramedWrite::new(server_write, encrypting);
    let mut client = Framed::new(client, EncryptedCodec::new(&client_keys, Side::Client));

    // Written from another task: the tiny buffer needs a concurrent reader.
    let audio = vec![0x5a; 3000];
    let sent_audio = audio.clone();
    let sending = tokio::spawn(async move {
        let ping = message(json!({"type": "ping", "id": 1}), &[]);
        client.send(ping).await.unwrap();
        let save = json!({"type": "sound.save", "id": 2, "name": "bop"});
        client.send(message(save, &sent_audio)).await.unwrap();
        client
    });

    let ping = expect_message(server_in.next().await.unwrap().unwrap());
    assert_eq!(Value::Object(ping.header), json!({"type": "ping", "id": 1}));
    assert!(ping.payload.is_empty());
    let save = expect_message(server_in.next().await.unwrap().unwrap());
    assert_eq!(save.kind(), Some("sound.save"));
    assert_eq!(&save.payload[..], &audio[..]);
    let mut client = sending.await.unwrap();

    let ok = message(json!({"type": "ok", "id": 1, "server_time_ms": 42}), &[]);
    assert_eq!(ok.wire_len(), ok.plaintext().len() + 20);
    // The server answers, then closes: the client sees a clean end of stream.
    let answering = tokio::spawn(async move {
        server_out.send(ok).await.unwrap();
        drop(server_out);
        drop(server_in);
    });
    let answer = expect_message(client.next().await.unwrap().unwrap());
    assert_eq!(answer.header["server_time_ms"], 42);
    answering.await.unwrap();
    assert!(client.next().await.is_none());
}

#[tokio::test]
async fn the_test_vector_frames_decode_through_the_codecs() {
    let path = std::env::var("HARMONIC_TEST_VECTORS").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/test-vectors.json").to_owned()
    });
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipping: no test vectors at {path}");
        return;
    };
    let v: Value = serde_json::from_str(&text).unwrap();
    let key = |name: &str| -> [u8; 32] {
        hex::decode(v[name].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let keys = SessionKeys {
        client_to_server: key("k_c2s"),
        server_to_client: key("k_s2c"),
        transcript_hash: key("transcript_hash"),
    };
    let (mut client_out, mut client_in) = split_codecs(&keys, Side::Client);
    let (mut server_out, mut server_in) = split_codecs(&keys, Side::Server);
    for frame in v["frames"].as_array().unwrap() {
        let plaintext = hex::decode(frame["plaintext"].as_str().unwrap()).unwrap();
        let wire = hex::decode(frame["frame"].as_str().unwrap()).unwrap();
        let decoded = crate::protocol::decode_message(Bytes::from(plaintext.clone())).unwrap();
        let (encoder, decoder) = if frame["direction"] == "c2s" {
            (&mut client_out, &mut server_in)
        } else {
            (&mut server_out, &mut client_in)
        };
        let mut sealed = BytesMut::new();
        // Sealed from the exact plaintext: re-serialising the header could
        // reorder its keys.
        let outgoing = OutgoingMessage::from_plaintext(Bytes::from(plaintext.clone()));
        encoder.encode(outgoing, &mut sealed).unwrap();
        assert_eq!(hex::encode(&sealed), hex::encode(&wire));
        let mut src = BytesMut::from(&wire[..]);
        assert_eq!(
            decoder.decode(&mut src).unwrap(),
            Some(Incoming::Message(decoded))
        );
        assert!(src.is_empty());
    }
}

#[tokio::test]
async fn client_of_version_2_gets_hrmx_and_the_server_reports_it() {
    let (mut client, mut server) = tokio::io::duplex(TINY_BUFFER);
    let identity = identity();
    let server_task =
        tokio::spawn(async move { server_handshake(&mut server, &identity, LONG).await });

    let (_, mut hello) = ClientHandshake::start(&mut OsRng);
    hello[4] = 2;
    write_frame(&mut client, &hello).await;
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).await.unwrap();
    let len = u32::from_be_bytes(answer[..4].try_into().unwrap()) as usize;
    assert_eq!(len, answer.len() - 4, "one frame, then the close");
    assert_eq!(&answer[4..8], b"HRMX");
    assert_eq!(answer[8], 1, "highest supported version");
    assert!(std::str::from_utf8(&answer[9..])
        .unwrap()
        .contains("version 1"));

    let err = server_task.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::ClientHello(ClientHelloError::UnsupportedVersion(2))
        ),
        "{err}"
    );
}

#[tokio::test]
async fn version_is_checked_before_length() {
    let (mut client, mut server) = tokio::io::duplex(TINY_BUFFER);
    let identity = identity();
    let server_task =
        tokio::spawn(async move { server_handshake(&mut server, &identity, LONG).await });
    write_frame(&mut client, b"HRMC\x07").await;
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).await.unwrap();
    assert_eq!(&answer[4..9], b"HRMX\x01");
    assert!(matches!(
        server_task.await.unwrap(),
        Err(TransportError::ClientHello(
            ClientHelloError::UnsupportedVersion(7)
        ))
    ));
}

#[tokio::test]
async fn a_long_hello_of_another_version_is_read_whole_then_answered() {
    let (client, mut server) = tokio::io::duplex(TINY_BUFFER);
    let identity = identity();
    let server_task =
        tokio::spawn(async move { server_handshake(&mut server, &identity, LONG).await });
    let mut body = b"HRMC\x02".to_vec();
    body.resize(100_000, 0xaa);
    let (mut reader, mut writer) = tokio::io::split(client);
    let writing = tokio::spawn(async move {
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        writer.write_all(&frame).await.unwrap();
        writer
    });
    let mut answer = Vec::new();
    reader.read_to_end(&mut answer).await.unwrap();
    assert_eq!(&answer[4..9], b"HRMX\x01");
    assert!(matches!(
        server_task.await.unwrap(),
        Err(TransportError::ClientHello(
            ClientHelloError::UnsupportedVersion(2)
        ))
    ));
    drop(writing.await.unwrap());
}

#[tokio::test]
async fn hellos_of_the_wrong_length_are_refused() {
    let (_, hello) = ClientHandshake::start(&mut OsRng);
    for len in [69usize, 71, 5000] {
        let mut body = hello.to_vec();
        body.resize(len, 0);
        let mut frame = (len as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        let (err, written) = server_result_for(&frame).await;
        assert!(
            matches!(err, TransportError::ClientHello(ClientHelloError::BadLength { actual }) if actual == len),
            "{len}: {err}"
        );
        assert!(written.is_empty());
    }
}

#[tokio::test]
async fn client_sees_hrmx_as_version_rejected() {
    let (mut client, mut server) = tokio::io::duplex(TINY_BUFFER);
    let fake_server = tokio::spawn(async move {
        let mut hello = [0u8; 4 + CLIENT_HELLO_LEN];
        server.read_exact(&mut hello).await.unwrap();
        write_frame(&mut server, b"HRMX\x01too new for me").await;
    });
    let err = client_handshake(&mut client, LONG).await.unwrap_err();
    match err {
        TransportError::ServerHello(HandshakeError::VersionRejected { highest, reason }) => {
            assert_eq!(highest, 1);
            assert_eq!(reason, "too new for me");
        }
        other => panic!("unexpected {other}"),
    }
    fake_server.await.unwrap();
}

/// Runs the server handshake on bytes written by `client_bytes`, keeping the
/// client's end open (so errors come from what was sent, not from EOF).
async fn server_result_for(client_bytes: &[u8]) -> (TransportError, Vec<u8>) {
    let (mut client, mut server) = tokio::io::duplex(64);
    let identity = identity();
    let server_task = tokio::spawn(async move {
        let result = server_handshake(&mut server, &identity, LONG).await;
        drop(server);
        result
    });
    // The server may refuse (and close) before it has read everything.
    let _ = client.write_all(client_bytes).await;
    let err = server_task.await.unwrap().unwrap_err();
    let mut written = Vec::new();
    client.read_to_end(&mut written).await.unwrap();
    (err, written)
}

#[tokio::test]
async fn garbage_before_the_handshake_is_closed_without_an_answer() {
    let (err, written) = server_result_for(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        matches!(err, TransportError::BadFrameLength { len } if len == 0x4745_5420),
        "{err}"
    );
    assert!(written.is_empty());

    let mut frame = 70u32.to_be_bytes().to_vec();
    frame.extend_from_slice(&[0xee; 70]);
    let (err, written) = server_result_for(&frame).await;
    assert!(
        matches!(err, TransportError::ClientHello(ClientHelloError::BadMagic)),
        "{err}"
    );
    assert!(written.is_empty());

    // Right magic and version, but the key is not a point on the curve.
    let mut frame = 70u32.to_be_bytes().to_vec();
    frame.extend_from_slice(b"HRMC\x01\x04");
    frame.extend_from_slice(&[0xff; 64]);
    let (err, _) = server_result_for(&frame).await;
    assert!(
        matches!(
            err,
            TransportError::ClientHello(ClientHelloError::BadEphemeralKey)
        ),
        "{err}"
    );
}

#[tokio::test]
async fn bad_length_prefixes_before_the_handshake_close_without_reading_a_body() {
    let (err, written) = server_result_for(&[0, 0, 0, 0]).await;
    assert!(
        matches!(err, TransportError::BadFrameLength { len: 0 }),
        "{err}"
    );
    assert!(written.is_empty());
    let over = (MAX_FRAME_LEN as u32 + 1).to_be_bytes();
    let (err, _) = server_result_for(&over).await;
    assert!(
        matches!(err, TransportError::BadFrameLength { len } if len == MAX_FRAME_LEN + 1),
        "{err}"
    );
}

#[tokio::test]
async fn peer_closing_during_the_handshake_is_reported() {
    let (mut client, mut server) = tokio::io::duplex(64);
    client.write_all(&[0, 0, 0, 70, b'H', b'R']).await.unwrap();
    drop(client);
    let err = server_handshake(&mut server, &identity(), LONG)
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Truncated { have: 6, need: 74 }),
        "{err}"
    );

    let (client, mut server) = tokio::io::duplex(64);
    drop(client);
    let err = server_handshake(&mut server, &identity(), LONG)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Closed), "{err}");
}

#[tokio::test]
async fn handshakes_time_out() {
    let short = Duration::from_millis(50);
    // A client that sends half a hello and stalls.
    let (mut client, mut server) = tokio::io::duplex(64);
    client.write_all(&[0, 0, 0, 70, b'H']).await.unwrap();
    let err = server_handshake(&mut server, &identity(), short)
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Timeout(d) if d == short),
        "{err}"
    );
    drop(client);

    // A server that never answers.
    let (mut client, server) = tokio::io::duplex(1024);
    let err = client_handshake(&mut client, short).await.unwrap_err();
    assert!(matches!(err, TransportError::Timeout(_)), "{err}");
    drop(server);
}

/// A sealed frame of `side`'s sending direction, as raw bytes.
fn sealed(encoder: &mut EncryptingCodec, header: Value) -> BytesMut {
    let mut out = BytesMut::new();
    encoder.encode(message(header, &[]), &mut out).unwrap();
    out
}

#[tokio::test]
async fn bad_length_prefixes_after_the_handshake_are_a_distinct_error() {
    let (mut client, client_keys, server, server_keys) = handshaken().await;
    let mut client_out = EncryptingCodec::new(&client_keys, Side::Client);
    let mut server_in = FramedRead::new(server, DecryptingCodec::new(&server_keys, Side::Server));
    let mut wire = sealed(&mut client_out, json!({"type": "ping", "id": 1}));
    wire.extend_from_slice(&[0, 0, 0, 0]);
    let _writing = tokio::spawn(async move {
        client.write_all(&wire).await.unwrap();
        client
    });
    assert!(matches!(
        server_in.next().await,
        Some(Ok(Incoming::Message(_)))
    ));
    assert!(matches!(
        server_in.next().await,
        Some(Err(TransportError::BadFrameLength { len: 0 }))
    ));

    let mut server_in = DecryptingCodec::new(&server_keys, Side::Server);
    let mut src = BytesMut::from(&(MAX_FRAME_LEN as u32 + 1).to_be_bytes()[..]);
    assert!(matches!(
        server_in.decode(&mut src),
        Err(TransportError::BadFrameLength { len }) if len == MAX_FRAME_LEN + 1
    ));
}

#[tokio::test]
async fn tampered_replayed_and_short_frames_fail_authentication() {
    let (_, client_keys, _, server_keys) = handshaken().await;
    let mut client_out = EncryptingCodec::new(&client_keys, Side::Client);
    let first = sealed(&mut client_out, json!({"type": "ping", "id": 1}));

    let mut tampered = first.clone();
    tampered[10] ^= 0x01;
    let mut server_in = DecryptingCodec::new(&server_keys, Side::Server);
    assert!(matches!(
        server_in.decode(&mut tampered),
        Err(TransportError::Authentication)
    ));

    let mut server_in = DecryptingCodec::new(&server_keys, Side::Server);
    let mut twice = first.clone();
    twice.extend_from_slice(&first);
    assert!(matches!(
        server_in.decode(&mut twice),
        Ok(Some(Incoming::Message(_)))
    ));
    assert!(matches!(
        server_in.decode(&mut twice),
        Err(TransportError::Authentication)
    ));

    // A well-formed frame too short to hold a tag.
    let mut server_in = DecryptingCodec::new(&server_keys, Side::Server);
    let mut short = BytesMut::from(&[0u8, 0, 0, 5, 1, 2, 3, 4, 5][..]);
    assert!(matches!(
        server_in.decode(&mut short),
        Err(TransportError::Authentication)
    ));

    // A frame the server sent, reflected back to it.
    let mut server_out = EncryptingCodec::new(&server_keys, Side::Server);
    let mut server_in = DecryptingCodec::new(&server_keys, Side::Server);
    let mut reflected = sealed(&mut server_out, json!({"type": "ok", "id": 1}));
    assert!(matches!(
        server_in.decode(&mut reflected),
        Err(TransportError::Authentication)
    ));
}

#[tokio::test]
async fn an_unreadable_header_is_an_item_and_the_stream_goes_on() {
    let (mut client, client_keys, server, server_keys) = handshaken().await;
    let mut server_in = FramedRead::new(server, DecryptingCodec::new(&server_keys, Side::Server));

    // Plaintexts built by hand: not JSON, a JSON array, a header_len past the
    // end; then a good message.
    let (mut sealer, _) = crate::crypto::channel_pair(&client_keys, Side::Client);
    let ping = message(json!({"type": "ping", "id": 9}), &[]);
    let mut wire = Vec::new();
    for plaintext in [
        &b"\x00\x00\x00\x03abc"[..],
        b"\x00\x00\x00\x02[]",
        b"\x00\x00\x01\x00{}",
        ping.plaintext(),
    ] {
        wire.extend_from_slice(&sealer.seal(plaintext).unwrap());
    }
    let _writing = tokio::spawn(async move {
        client.write_all(&wire).await.unwrap();
        client
    });

    assert!(matches!(
        server_in.next().await,
        Some(Ok(Incoming::Unreadable(MessageError::NotJson(_))))
    ));
    assert_eq!(
        server_in.next().await.unwrap().unwrap(),
        Incoming::Unreadable(MessageError::NotObject)
    );
    assert!(matches!(
        server_in.next().await,
        Some(Ok(Incoming::Unreadable(MessageError::HeaderLenPastEnd {
            header_len: 256,
            ..
        })))
    ));
    let ping = expect_message(server_in.next().await.unwrap().unwrap());
    assert_eq!(ping.header["id"], 9);
}

#[test]
fn outgoing_messages_are_checked_when_built() {
    assert_eq!(
        OutgoingMessage::new(&json!([1]), &[]),
        Err(MessageError::NotObject)
    );
    let too_big = vec![0u8; MAX_FRAME_LEN];
    assert!(matches!(
        OutgoingMessage::new(&json!({"type": "ok", "id": 1}), &too_big),
        Err(MessageError::TooLong(_))
    ));
    let ok = OutgoingMessage::header_only(&json!({"type": "ok", "id": 1})).unwrap();
    let decoded = crate::protocol::decode_message(Bytes::copy_from_slice(ok.plaintext())).unwrap();
    assert_eq!(
        Value::Object(decoded.header),
        json!({"type": "ok", "id": 1})
    );
    assert!(decoded.payload.is_empty());
}
