//! Header shapes of every answer and push, and the client's reading of them.

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::*;
use crate::protocol::codes::{ByeReason, ErrorCode, LogLevel, Priority, ReceivedCode, Role};
use crate::protocol::message::{decode_message, encode_message};
use crate::protocol::{
    EnvelopeError, EnvelopeProblem, FieldError, IdError, MessageError, ServerMessageError,
};

fn to_json<T: Serialize>(header: &T) -> Value {
    serde_json::to_value(header).unwrap()
}

fn round_trip<T: Serialize>(header: &T, payload: &[u8]) -> ServerMessage {
    let bytes = encode_message(header, payload).unwrap();
    ServerMessage::parse(decode_message(Bytes::from(bytes)).unwrap()).unwrap()
}

#[test]
fn ping_answer_reproduces_the_test_vector_bytes() {
    let header = OkResponse::new(
        1,
        PingResult {
            server_time_ms: 1_763_700_000_000,
        },
    );
    assert_eq!(
        hex::encode(encode_message(&header, &[]).unwrap()),
        "000000337b2274797065223a226f6b222c226964223a312c227365727665725f74696d655f6d73223a313736333730303030303030307d"
    );
}

#[test]
fn ok_headers() {
    assert_eq!(
        to_json(&OkResponse::empty(5)),
        json!({"type": "ok", "id": 5})
    );
    let mut fields = Map::new();
    fields.insert("stream_id".into(), json!("s1"));
    assert_eq!(
        to_json(&OkResponse::new(6, fields)),
        json!({"type": "ok", "id": 6, "stream_id": "s1"})
    );
    let login = LoginResult {
        username: "Alice".into(),
        role: Role::User,
        sounds: vec!["bop".into()],
        resume_token: "t".into(),
        resume_ttl_s: 86_400,
    };
    assert_eq!(
        to_json(&OkResponse::new(2, login.clone())),
        json!({"type": "ok", "id": 2, "username": "Alice", "role": "user",
               "sounds": ["bop"], "resume_token": "t", "resume_ttl_s": 86_400})
    );
    let ServerMessage::Ok { id, fields, .. } = round_trip(&OkResponse::new(2, login.clone()), &[])
    else {
        panic!("not ok")
    };
    assert_eq!(id, 2);
    assert_eq!(result_as::<LoginResult>(&fields).unwrap(), login);
}

#[test]
fn error_headers() {
    assert_eq!(
        to_json(&ErrorResponse::for_request(
            3,
            ErrorCode::NotFound,
            "no such sound"
        )),
        json!({"type": "error", "id": 3, "code": "not_found", "message": "no such sound"})
    );
    let no_id = to_json(&ErrorResponse::unreadable(&MessageError::NotObject));
    assert_eq!(no_id["code"], "bad_request");
    assert!(no_id.get("id").is_none(), "no `id` key at all, not null");
    assert_eq!(
        to_json(
            &ErrorResponse::for_request(4, ErrorCode::RateLimited, "locked")
                .retry_after(Duration::from_millis(61_200))
        )["retry_after_s"],
        62
    );
    assert_eq!(
        to_json(&ErrorResponse::for_request(4, ErrorCode::BadRequest, "x").expected_offset(1024))
            ["expected_offset"],
        1024
    );
    assert_eq!(
        to_json(&ErrorResponse::for_request(4, ErrorCode::BadRequest, "x").received(7))["received"],
        7
    );
    let tampered = ErrorResponse::for_request(4, ErrorCode::Busy, "x")
        .with_field("code", "ok")
        .with_field("id", 9);
    assert_eq!(
        to_json(&tampered),
        json!({"type": "error", "id": 4, "code": "busy", "message": "x"})
    );
}

#[test]
fn errors_from_parse_failures() {
    let envelope = EnvelopeError {
        id: Some(8),
        problem: EnvelopeProblem::UnknownType("x".into()),
    };
    let answer = ErrorResponse::from_envelope(&envelope);
    assert_eq!((answer.id, answer.code), (Some(8), ErrorCode::BadRequest));
    let envelope = EnvelopeError {
        id: None,
        problem: EnvelopeProblem::Id(IdError::OutOfRange),
    };
    assert_eq!(ErrorResponse::from_envelope(&envelope).id, None);
    let field = FieldError {
        field: "size".into(),
        reason: "too big".into(),
        code: ErrorCode::TooLarge,
    };
    let answer = ErrorResponse::from_field(9, &field);
    assert_eq!((answer.id, answer.code), (Some(9), ErrorCode::TooLarge));
    assert_eq!(answer.message, "`size` too big");
}

#[test]
fn push_headers() {
    assert_eq!(
        to_json(&Push::Progress {
            id: 4,
            done_s: 1.5,
            total_s: 10.0,
            new_events: vec![EventInfo {
                start_s: 0.5,
                score: 0.75
            }],
        }),
        json!({"type": "progress", "id": 4, "done_s": 1.5, "total_s": 10.0,
               "new_events": [{"start_s": 0.5, "score": 0.75}]})
    );
    assert_eq!(
        round_trip(
            &json!({"type": "progress", "id": 4, "done_s": 1.5, "total_s": 10.0}),
            &[]
        ),
        ServerMessage::Push(Push::Progress {
            id: 4,
            done_s: 1.5,
            total_s: 10.0,
            new_events: Vec::new(),
        }),
        "a 1.1 server's push reads as one without events"
    );
    let at = UNIX_EPOCH + Duration::from_millis(1_795_237_200_123);
    assert_eq!(
        to_json(&Push::log(5, at, LogLevel::Warn, "auth", "locked alice")),
        json!({"type": "log", "id": 5, "ts": "2026-11-21T05:00:00.123Z", "level": "warn",
               "target": "auth", "message": "locked alice"})
    );
    assert_eq!(
        to_json(&Push::notice("hello", Priority::High, at)),
        json!({"type": "notice", "message": "hello", "priority": "high",
               "ts": "2026-11-21T05:00:00.123Z"})
    );
    assert_eq!(
        to_json(&Push::Shutdown {
            message: "bye now".into(),
            grace_s: 10.0
        }),
        json!({"type": "shutdown", "message": "bye now", "grace_s": 10.0})
    );
    assert_eq!(
        to_json(&Push::Bye {
            reason: ByeReason::IdleTimeout
        }),
        json!({"type": "bye", "reason": "idle_timeout"})
    );
    let encoded = encode_message(
        &Push::Bye {
            reason: ByeReason::Kicked,
        },
        &[],
    )
    .unwrap();
    assert!(encoded[4..].starts_with(b"{\"type\":\"bye\""), "type first");
}

#[test]
fn shared_result_structs_use_spec_field_names() {
    let sound = SoundInfo {
        name: "bop".into(),
        duration_ms: 250,
        sample_rate: 44_100,
        channels: 1,
        size: 22_094,
        sha256: "ab".repeat(32),
        created_at: "2026-11-21T05:00:00.123Z".into(),
    };
    let value = to_json(&sound);
    let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "channels",
            "created_at",
            "duration_ms",
            "name",
            "sample_rate",
            "sha256",
            "size"
        ]
    );
    assert_eq!(
        to_json(&EventInfo {
            start_s: 1.25,
            score: 0.9
        }),
        json!({"start_s": 1.25, "score": 0.9})
    );
    let session = SessionInfo {
        session_id: 1,
        username: None,
        peer: "127.0.0.1:5000".into(),
        connected_s: 3,
        idle_s: 1,
        requests: 0,
    };
    assert_eq!(
        to_json(&session)["username"],
        Value::Null,
        "null before login, not absent"
    );
}

#[test]
fn event_lists_past_the_cap_are_marked_truncated_and_only_then() {
    let count = CountResult {
        count: 2,
        events: vec![],
        duration_s: 1.0,
        elapsed_ms: 3,
        events_truncated: false,
    };
    assert!(
        to_json(&count).get("events_truncated").is_none(),
        "a 1.1 answer's shape"
    );
    let truncated = CountResult {
        count: 30_000,
        events_truncated: true,
        ..count
    };
    assert_eq!(to_json(&truncated)["events_truncated"], true);
    let read: CountResult = result_as(
        to_json(&OkResponse::new(1, truncated.clone()))
            .as_object()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(read, truncated);
    let closed: StreamClosed = result_as(
        json!({"total": 1, "events": [], "duration_s": 2.0})
            .as_object()
            .unwrap(),
    )
    .unwrap();
    assert!(!closed.events_truncated);
}

#[test]
fn client_parses_every_server_message() {
    match round_trip(
        &OkResponse::new(
            1,
            SoundChunk {
                sound: SoundInfo {
                    name: "n".into(),
                    duration_ms: 1,
                    sample_rate: 8000,
                    channels: 1,
                    size: 3,
                    sha256: String::new(),
                    created_at: String::new(),
                },
                offset: 0,
            },
        ),
        b"abc",
    ) {
        ServerMessage::Ok {
            id: 1,
            fields,
            payload,
        } => {
            assert_eq!(&payload[..], b"abc");
            assert_eq!(result_as::<SoundChunk>(&fields).unwrap().sound.size, 3);
        }
        other => panic!("{other:?}"),
    }
    match round_trip(
        &ErrorResponse::for_request(2, ErrorCode::RateLimited, "wait")
            .retry_after(Duration::from_secs(5)),
        &[],
    ) {
        ServerMessage::Error {
            id: Some(2),
            code,
            message,
            fields,
        } => {
            assert!(code.is(ErrorCode::RateLimited));
            assert_eq!(message, "wait");
            assert_eq!(fields.get("retry_after_s"), Some(&json!(5)));
            assert_eq!(fields.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    let pushes = [
        Push::Progress {
            id: 3,
            done_s: 0.0,
            total_s: 2.0,
            new_events: Vec::new(),
        },
        Push::log(4, UNIX_EPOCH, LogLevel::Info, "admin", "m"),
        Push::notice("n", Priority::Low, UNIX_EPOCH),
        Push::Shutdown {
            message: "s".into(),
            grace_s: 0.5,
        },
        Push::Bye {
            reason: ByeReason::ProtocolError,
        },
    ];
    for push in pushes {
        let parsed = round_trip(&push, &[]);
        assert_eq!(parsed.request_id(), push.request_id());
        assert_eq!(parsed, ServerMessage::Push(push));
    }
}

#[test]
fn client_keeps_unknown_codes_and_types_and_ignores_unknown_fields() {
    let header = json!({"type": "error", "code": "a_later_code", "message": "m", "limit": 3});
    let ServerMessage::Error {
        id, code, fields, ..
    } = round_trip(&header, &[])
    else {
        panic!("error expected")
    };
    assert_eq!(id, None);
    assert_eq!(code, ReceivedCode::Unknown("a_later_code".into()));
    assert_eq!(fields.get("limit"), Some(&json!(3)));
    let header = json!({"type": "bye", "reason": "shutdown", "later": true});
    assert_eq!(
        round_trip(&header, &[]),
        ServerMessage::Push(Push::Bye {
            reason: ByeReason::Shutdown
        })
    );
    let ServerMessage::Other { kind, .. } = round_trip(&json!({"type": "hint", "x": 1}), &[])
    else {
        panic!("other expected")
    };
    assert_eq!(kind, "hint");
}

#[test]
fn client_rejects_malformed_server_messages() {
    let parse = |value: Value| {
        let bytes = encode_message(&value, &[]).unwrap();
        ServerMessage::parse(decode_message(Bytes::from(bytes)).unwrap())
    };
    assert_eq!(
        parse(json!({"id": 1})),
        Err(ServerMessageError::MissingType)
    );
    assert!(parse(json!({"type": "ok"})).is_err());
    assert!(parse(json!({"type": "ok", "id": 0})).is_err());
    assert!(parse(json!({"type": "error", "id": 1})).is_err());
    assert!(parse(json!({"type": "error", "id": "1", "code": "busy"})).is_err());
    assert!(parse(json!({"type": "progress", "id": 1, "done_s": 1})).is_err());
    assert!(parse(json!({"type": "bye", "reason": "tired"})).is_err());
}
