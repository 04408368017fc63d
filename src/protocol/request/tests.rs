//! Tests of request parsing, the rules of §5 and the headers a client writes.

use super::*;
use crate::protocol::message::decode_message;
use crate::protocol::{ErrorCode, IdError};
use bytes::Bytes;
use serde_json::json;

fn header(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn parse(kind: RequestKind, fields: Value) -> Result<Request, FieldError> {
    Request::parse(kind, &header(fields))
}

fn field_of(result: Result<Request, FieldError>) -> String {
    let err = result.unwrap_err();
    assert_eq!(err.code, ErrorCode::BadRequest, "{err}");
    err.field
}

const HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// --- envelope ---------------------------------------------------------

#[test]
fn test_vector_frame_0_is_a_ping_with_id_1() {
    let message = decode_message(Bytes::from(
        hex::decode("000000167b2274797065223a2270696e67222c226964223a317d").unwrap(),
    ))
    .unwrap();
    assert_eq!(
        Envelope::parse(&message.header),
        Ok(Envelope {
            id: 1,
            kind: RequestKind::Ping
        })
    );
    assert_eq!(
        Request::parse(RequestKind::Ping, &message.header),
        Ok(Request::Open(OpenRequest::Ping))
    );
}

#[test]
fn every_request_type_round_trips() {
    let wire = [
        "signup",
        "login",
        "resume",
        "ping",
        "logout",
        "upload.begin",
        "upload.chunk",
        "upload.finish",
        "upload.abort",
        "sound.list",
        "sound.save",
        "sound.get",
        "sound.rename",
        "sound.delete",
        "count",
        "cancel",
        "stream.open",
        "stream.data",
        "stream.close",
        "admin.sessions",
        "admin.kick",
        "admin.users",
        "admin.user.delete",
        "admin.user.role",
        "admin.broadcast",
        "admin.stats",
        "admin.tail",
        "admin.shutdown",
    ];
    assert_eq!(RequestKind::ALL.len(), wire.len());
    for (kind, text) in RequestKind::ALL.iter().zip(wire) {
        assert_eq!(kind.as_str(), text);
        assert_eq!(RequestKind::from_wire(text), Some(*kind));
        let envelope = Envelope::parse(&header(json!({"type": text, "id": 7}))).unwrap();
        assert_eq!(envelope.kind, *kind);
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(text));
    }
    assert_eq!(RequestKind::from_wire("Ping"), None);
    assert_eq!(RequestKind::from_wire("admin"), None);
}

#[test]
fn login_and_role_requirements() {
    let open: Vec<_> = RequestKind::ALL
        .iter()
        .filter(|kind| !kind.needs_login())
        .map(|kind| kind.as_str())
        .collect();
    assert_eq!(open, ["signup", "login", "resume", "ping"]);
    for kind in RequestKind::ALL {
        assert_eq!(kind.needs_admin(), kind.as_str().starts_with("admin."));
        assert!(!kind.needs_admin() || kind.needs_login());
    }
    assert!(RequestKind::Logout.needs_login());
}

#[test]
fn unknown_type_with_a_valid_id_keeps_the_id() {
    let err = Envelope::parse(&header(json!({"type": "sound.play", "id": 42}))).unwrap_err();
    assert_eq!(err.id, Some(42));
    assert_eq!(
        err.problem,
        EnvelopeProblem::UnknownType("sound.play".into())
    );
    let err = Envelope::parse(&header(json!({"id": 42}))).unwrap_err();
    assert_eq!(
        (err.id, err.problem),
        (Some(42), EnvelopeProblem::MissingType)
    );
    let err = Envelope::parse(&header(json!({"type": 3, "id": 42}))).unwrap_err();
    assert_eq!(
        (err.id, err.problem),
        (Some(42), EnvelopeProblem::TypeNotString)
    );
    let long = "x".repeat(10_000);
    let err = Envelope::parse(&header(json!({"type": long, "id": 1}))).unwrap_err();
    assert!(err.to_string().len() < 200, "unknown type is shortened");
}

#[test]
fn invalid_or_missing_id_has_no_id_whatever_the_type() {
    for id in [
        json!(0),
        json!(-1),
        json!(1.5),
        json!("1"),
        json!(4_294_967_296u64),
        Value::Null,
    ] {
        let err = Envelope::parse(&header(json!({"type": "ping", "id": id}))).unwrap_err();
        assert_eq!(err.id, None, "{id}");
        assert!(matches!(err.problem, EnvelopeProblem::Id(_)));
    }
    let err = Envelope::parse(&header(json!({"type": "nope"}))).unwrap_err();
    assert_eq!(
        err,
        EnvelopeError {
            id: None,
            problem: EnvelopeProblem::Id(IdError::Missing)
        }
    );
    for id in [1u64, 4_294_967_295] {
        let envelope = Envelope::parse(&header(json!({"type": "ping", "id": id}))).unwrap();
        assert_eq!(u64::from(envelope.id), id);
    }
}

// --- validation rules -------------------------------------------------

#[test]
fn usernames() {
    for good in [
        "a",
        "Alice",
        "0",
        "a_b.c-d",
        "x".repeat(32).as_str(),
        "9lives",
    ] {
        assert_eq!(validate_username(good), Ok(()), "{good:?}");
    }
    let too_long = "x".repeat(33);
    for bad in [
        "", "_a", ".a", "-a", "a b", "a/b", "alice\n", "élodie", "a@b", &too_long, " a", "a\0",
    ] {
        assert!(validate_username(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn usernames_differing_in_case_share_a_key() {
    assert_eq!(username_key("Alice"), username_key("alice"));
    assert_eq!(username_key("ALICE.X-1"), "alice.x-1");
    assert_ne!(username_key("alice"), username_key("alice2"));
}

#[test]
fn passwords() {
    assert!(check_password_strength("1234567").is_err());
    assert!(check_password_strength("12345678").is_ok());
    // Code points, not bytes: 7 two-byte characters are still weak.
    assert!(check_password_strength("ééééééé").is_err());
    assert!(check_password_strength("éééééééé").is_ok());
    assert!(check_password_size(&"a".repeat(1024)).is_ok());
    assert!(check_password_size(&"a".repeat(1025)).is_err());
    // Bytes, not code points: 513 two-byte characters are 1026 bytes.
    assert!(check_password_size(&"é".repeat(513)).is_err());
    assert!(login_could_be_valid("alice", "correct horse"));
    assert!(!login_could_be_valid("alice", "short"));
    assert!(!login_could_be_valid("_alice", "correct horse"));
    assert!(!login_could_be_valid("alice", &"a".repeat(1025)));
}

#[test]
fn sound_names() {
    for good in [
        "bop",
        "Key press #1",
        "é",
        "a.b",
        "...",
        "x".repeat(64).as_str(),
        "\"quoted\"",
        "日本語",
        "a b",
    ] {
        assert_eq!(validate_sound_name(good), Ok(()), "{good:?}");
    }
    let too_long = "x".repeat(65);
    let huge = "y".repeat(10_000);
    for bad in [
        "",
        ".",
        "..",
        "../etc",
        "a/b",
        "/",
        "a\\b",
        "a\0b",
        "\0",
        "tab\there",
        "line\n",
        "\u{7f}",
        "\u{85}x",
        " lead",
        "trail ",
        "\u{a0}nbsp",
        "ideo\u{3000}",
        &too_long,
        &huge,
    ] {
        assert!(validate_sound_name(bad).is_err(), "{bad:?}");
    }
    // 64 code points of 3 bytes each is fine: the limit is in code points.
    assert!(validate_sound_name(&"語".repeat(64)).is_ok());
    assert!(validate_sound_name(&"語".repeat(65)).is_err());
}

#[test]
fn sha256_hex() {
    let digest = parse_sha256_hex(HASH).unwrap();
    assert_eq!(hex::encode(digest), HASH);
    assert_eq!(parse_sha256_hex(&HASH.to_uppercase()).unwrap(), digest);
    assert!(parse_sha256_hex(&HASH[1..]).is_err());
    assert!(parse_sha256_hex(&format!("{HASH}0")).is_err());
    assert!(parse_sha256_hex(&format!("g{}", &HASH[1..])).is_err());
    assert!(parse_sha256_hex("").is_err());
}

// --- fields -----------------------------------------------------------

#[test]
fn signup_fields() {
    assert_eq!(
        parse(
            RequestKind::Signup,
            json!({"username": "Alice", "password": "pw", "extra": 1})
        ),
        Ok(Request::Open(OpenRequest::Signup(Signup {
            username: "Alice".into(),
            password: "pw".into()
        }))),
        "a weak password passes the field phase (weak_password comes later)"
    );
    assert_eq!(
        field_of(parse(
            RequestKind::Signup,
            json!({"username": "_x", "password": "longenough"})
        )),
        "username"
    );
    assert_eq!(
        field_of(parse(
            RequestKind::Signup,
            json!({"username": 5, "password": "longenough"})
        )),
        "username"
    );
    assert_eq!(
        field_of(parse(RequestKind::Signup, json!({"username": "alice"}))),
        "password"
    );
    assert_eq!(
        field_of(parse(
            RequestKind::Signup,
            json!({"username": "alice", "password": "a".repeat(1025)})
        )),
        "password"
    );
}

#[test]
fn login_accepts_any_strings_but_not_other_types() {
    assert_eq!(
        parse(
            RequestKind::Login,
            json!({"username": "not valid!", "password": ""})
        ),
        Ok(Request::Open(OpenRequest::Login(Login {
            username: "not valid!".into(),
            password: String::new()
        })))
    );
    assert_eq!(
        field_of(parse(
            RequestKind::Login,
            json!({"username": "a", "password": 1})
        )),
        "password"
    );
    assert_eq!(field_of(parse(RequestKind::Resume, json!({}))), "token");
}

#[test]
fn upload_begin_fields_and_too_large() {
    assert_eq!(
        parse(
            RequestKind::UploadBegin,
            json!({"size": 10, "sha256": HASH})
        ),
        Ok(Request::User(UserRequest::Library(
            LibraryRequest::UploadBegin(UploadBegin {
                size: 10,
                sha256: parse_sha256_hex(HASH).unwrap()
            })
        )))
    );
    assert!(parse(
        RequestKind::UploadBegin,
        json!({"size": MAX_UPLOAD_SIZE, "sha256": HASH})
    )
    .is_ok());
    let err = parse(
        RequestKind::UploadBegin,
        json!({"size": MAX_UPLOAD_SIZE + 1, "sha256": HASH}),
    )
    .unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.code),
        ("size", ErrorCode::TooLarge)
    );
    // A bad field wins over too_large (§4 order).
    assert_eq!(
        field_of(parse(
            RequestKind::UploadBegin,
            json!({"size": MAX_UPLOAD_SIZE + 1, "sha256": "zz"})
        )),
        "sha256"
    );
    assert_eq!(
        field_of(parse(
            RequestKind::UploadBegin,
            json!({"size": 0, "sha256": HASH})
        )),
        "size"
    );
    assert_eq!(
        field_of(parse(
            RequestKind::UploadBegin,
            json!({"size": -5, "sha256": HASH})
        )),
        "size"
    );
    assert_eq!(
        field_of(parse(
            RequestKind::UploadBegin,
            json!({"size": 1.5, "sha256": HASH})
        )),
        "size"
    );
    assert_eq!(
        field_of(parse(
            RequestKind::UploadBegin,
            json!({"size": "10", "sha256": HASH})
        )),
        "size"
    );
    assert_eq!(
        field_of(parse(RequestKind::UploadBegin, json!({"sha256": HASH}))),
        "size"
    );
}

#[test]
fn upload_chunk_and_refs() {
    assert_eq!(
        parse(
            RequestKind::UploadChunk,
            json!({"upload_id": "u1", "offset": 0})
        ),
        Ok(Request::User(UserRequest::Library(
            LibraryRequest::UploadChunk(UploadChunk {
                upload_id: "u1".into(),
                offset: 0
            })
        )))
    );
    assert_eq!(
        field_of(parse(RequestKind::UploadChunk, json!({"upload_id": "u1"}))),
        "offset"
    );
    assert_eq!(
        field_of(parse(
            RequestKind::UploadChunk,
            json!({"upload_id": 1, "offset": 0})
        )),
        "upload_id"
    );
    assert_eq!(
        parse(RequestKind::UploadAbort, json!({"upload_id": "u"})),
        Ok(Request::User(UserRequest::Library(
            LibraryRequest::UploadAbort(UploadRef {
                upload_id: "u".into()
            })
        )))
    );
    assert_eq!(
        field_of(parse(RequestKind::UploadFinish, json!({}))),
        "upload_id"
    );
}

#[test]
fn sound_requests_validate_every_name() {
    assert_eq!(
        parse(RequestKind::SoundSave, json!({"name": "bop"})),
        Ok(Request::User(UserRequest::Library(
            LibraryRequest::SoundSave(SoundSave {
                name: "bop".into(),
                upload_id: None,
                overwrite: false
            })
        )))
    );
    assert_eq!(
        parse(
            RequestKind::SoundSave,
            json!({"name": "bop", "upload_id": null, "overwrite": true})
        ),
        Ok(Request::User(UserRequest::Library(
            LibraryRequest::SoundSave(SoundSave {
                name: "bop".into(),
                upload_id: None,
                overwrite: true
            })
        )))
    );
    assert_eq!(
        field_of(parse(
            RequestKind::SoundSave,
            json!({"name": "bop", "overwrite": "yes"})
        )),
        "overwrite"
    );
    assert_eq!(
        field_of(parse(RequestKind::SoundSave, json!({"name": "../x"}))),
        "name"
    );
    assert_eq!(
        parse(RequestKind::SoundGet, json!({"name": "bop"})),
        Ok(Request::User(UserRequest::Library(
            LibraryRequest::SoundGet(SoundGet {
                name: "bop".into(),
                offset: 0
            })
        )))
    );
    assert_eq!(
        field_of(parse(
            RequestKind::SoundGet,
            json!({"name": "bop", "offset": -1})
        )),
        "offset"
    );
    assert_eq!(
        field_of(parse(RequestKind::SoundGet, json!({"name": "a/b"}))),
        "name"
    );
    assert_eq!(
        field_of(parse(
            RequestKind::SoundRename,
            json!({"name": "a", "new_name": ".."})
        )),
        "new_name"
    );
    assert_eq!(
        field_of(parse(
            RequestKind::SoundRename,
            json!({"name": " a", "new_name": "b"})
        )),
        "name"
    );
    assert_eq!(
        field_of(parse(RequestKind::SoundDelete, json!({"name": "a\u{0}"}))),
        "name"
    );
    assert_eq!(field_of(parse(RequestKind::SoundDelete, json!({}))), "name");
}

#[test]
fn count_template_is_exactly_one_source() {
    assert_eq!(
        parse(RequestKind::Count, json!({"sound": "bop"})),
        Ok(Request::User(UserRequest::Count(Count {
            template: TemplateSource::Sound("bop".into()),
            recording_upload: None,
            options: CountOptions::default()
        })))
    );
    assert_eq!(
        parse(
            RequestKind::Count,
            json!({"template_upload": "u1", "recording_upload": "u2", "sound": null})
        ),
        Ok(Request::User(UserRequest::Count(Count {
            template: TemplateSource::Upload("u1".into()),
            recording_upload: Some("u2".into()),
            options: CountOptions::default()
        })))
    );
    assert_eq!(field_of(parse(RequestKind::Count, json!({}))), "sound");
    assert_eq!(
        field_of(parse(
            RequestKind::Count,
            json!({"sound": "a", "template_upload": "u"})
        )),
        "sound"
    );
    assert_eq!(
        field_of(parse(RequestKind::Count, json!({"sound": "/"}))),
        "sound"
    );
    assert_eq!(
        field_of(parse(
            RequestKind::Count,
            json!({"sound": "a", "recording_upload": 3})
        )),
        "recording_upload"
    );
}

#[test]
fn count_options() {
    let Ok(Request::User(UserRequest::Count(count))) = parse(
        RequestKind::Count,
        json!({"sound": "a", "options": {"threshold": 0.5, "min_gap_s": 1, "other": "x"}}),
    ) else {
        panic!("count with options")
    };
    assert_eq!(
        count.options,
        CountOptions {
            threshold: Some(0.5),
            min_gap_s: Some(1.0)
        }
    );
    for (options, field) in [
        (json!({"threshold": 1.5}), "options.threshold"),
        (json!({"threshold": -0.1}), "options.threshold"),
        (json!({"threshold": "0.5"}), "options.threshold"),
        (json!({"min_gap_s": -1}), "options.min_gap_s"),
        (json!({"min_gap_s": 14_400.5}), "options.min_gap_s"),
        (json!({"min_gap_s": 1e300}), "options.min_gap_s"),
        (json!({"min_gap_s": true}), "options.min_gap_s"),
        (json!([0.5]), "options"),
    ] {
        assert_eq!(
            field_of(parse(
                RequestKind::Count,
                json!({"sound": "a", "options": options})
            )),
            field
        );
    }
    assert!(parse(
        RequestKind::Count,
        json!({"sound": "a", "options": {"threshold": 0, "min_gap_s": 0}})
    )
    .is_ok());
    assert!(parse(
        RequestKind::Count,
        json!({"sound": "a", "options": {"threshold": 1}})
    )
    .is_ok());
    assert!(parse(RequestKind::Count, json!({"sound": "a", "options": null})).is_ok());
}

#[test]
fn cancel_target_is_an_id() {
    assert_eq!(
        parse(RequestKind::Cancel, json!({"target": 3})),
        Ok(Request::User(UserRequest::Cancel(Cancel { target: 3 })))
    );
    for target in [
        json!(0),
        json!(-1),
        json!(1.5),
        json!("3"),
        json!(4_294_967_296u64),
    ] {
        assert_eq!(
            field_of(parse(RequestKind::Cancel, json!({"target": target}))),
            "target"
        );
    }
    assert_eq!(field_of(parse(RequestKind::Cancel, json!({}))), "target");
}

#[test]
fn stream_open_format() {
    let ok = parse(
        RequestKind::StreamOpen,
        json!({"sound": "bop", "format": {"encoding": "s16le", "sample_rate": 48000, "channels": 2}}),
    )
    .unwrap();
    let Request::User(UserRequest::Stream(StreamRequest::Open(open))) = ok else {
        panic!("stream.open")
    };
    assert_eq!(
        open.format,
        PcmFormat {
            encoding: PcmEncoding::S16Le,
            sample_rate: 48_000,
            channels: 2
        }
    );
    assert_eq!(open.format.frame_bytes(), 4);
    assert_eq!(open.template, TemplateSource::Sound("bop".into()));
    for (format, field) in [
        (
            json!({"encoding": "s24le", "sample_rate": 48000, "channels": 1}),
            "format.encoding",
        ),
        (
            json!({"encoding": "S16LE", "sample_rate": 48000, "channels": 1}),
            "format.encoding",
        ),
        (
            json!({"sample_rate": 48000, "channels": 1}),
            "format.encoding",
        ),
        (
            json!({"encoding": "u8", "sample_rate": 7999, "channels": 1}),
            "format.sample_rate",
        ),
        (
            json!({"encoding": "u8", "sample_rate": 192_001, "channels": 1}),
            "format.sample_rate",
        ),
        (
            json!({"encoding": "u8", "sample_rate": 44100.0, "channels": 1}),
            "format.sample_rate",
        ),
        (
            json!({"encoding": "u8", "channels": 1}),
            "format.sample_rate",
        ),
        (
            json!({"encoding": "u8", "sample_rate": 8000, "channels": 0}),
            "format.channels",
        ),
        (
            json!({"encoding": "u8", "sample_rate": 8000, "channels": 9}),
            "format.channels",
        ),
        (
            json!({"encoding": "u8", "sample_rate": 8000, "channels": 65_537}),
            "format.channels",
        ),
        (json!("s16le"), "format"),
    ] {
        assert_eq!(
            field_of(parse(
                RequestKind::StreamOpen,
                json!({"sound": "a", "format": format})
            )),
            field
        );
    }
    assert_eq!(
        field_of(parse(RequestKind::StreamOpen, json!({"sound": "a"}))),
        "format"
    );
    for (rate, channels, encoding) in [(8000, 1, "u8"), (192_000, 8, "f32le")] {
        let format = json!({"encoding": encoding, "sample_rate": rate, "channels": channels});
        assert!(parse(
            RequestKind::StreamOpen,
            json!({"template_upload": "u", "format": format})
        )
        .is_ok());
    }
    assert_eq!(
        parse(RequestKind::StreamData, json!({"stream_id": "s"})),
        Ok(Request::User(UserRequest::Stream(StreamRequest::Data(
            StreamRef {
                stream_id: "s".into()
            }
        ))))
    );
    assert_eq!(
        field_of(parse(RequestKind::StreamClose, json!({"stream_id": 1}))),
        "stream_id"
    );
}

#[test]
fn admin_fields() {
    assert_eq!(
        parse(RequestKind::AdminKick, json!({"session_id": 12})),
        Ok(Request::Admin(AdminRequest::Kick(AdminKick {
            session_id: 12
        })))
    );
    assert_eq!(
        field_of(parse(RequestKind::AdminKick, json!({"session_id": "12"}))),
        "session_id"
    );
    assert_eq!(
        parse(
            RequestKind::AdminUserRole,
            json!({"username": "Bob", "role": "admin"})
        ),
        Ok(Request::Admin(AdminRequest::UserRole(AdminUserRole {
            username: "Bob".into(),
            role: Role::Admin
        })))
    );
    assert_eq!(
        field_of(parse(
            RequestKind::AdminUserRole,
            json!({"username": "Bob", "role": "root"})
        )),
        "role"
    );
    assert_eq!(
        parse(
            RequestKind::AdminBroadcast,
            json!({"message": "hi", "priority": "high"})
        ),
        Ok(Request::Admin(AdminRequest::Broadcast(AdminBroadcast {
            message: "hi".into(),
            priority: Priority::High
        })))
    );
    assert_eq!(
        field_of(parse(RequestKind::AdminBroadcast, json!({"message": "hi"}))),
        "priority"
    );
    assert_eq!(
        parse(RequestKind::AdminTail, json!({})),
        Ok(Request::Admin(AdminRequest::Tail(AdminTail {
            level: LogLevel::Info
        })))
    );
    assert_eq!(
        parse(RequestKind::AdminTail, json!({"level": "trace"})),
        Ok(Request::Admin(AdminRequest::Tail(AdminTail {
            level: LogLevel::Trace
        })))
    );
    assert_eq!(
        field_of(parse(RequestKind::AdminTail, json!({"level": "verbose"}))),
        "level"
    );
    assert_eq!(
        parse(RequestKind::AdminShutdown, json!({"grace_s": 2.5})),
        Ok(Request::Admin(AdminRequest::Shutdown(AdminShutdown {
            grace_s: 2.5
        })))
    );
    let Ok(Request::Admin(AdminRequest::Shutdown(shutdown))) =
        parse(RequestKind::AdminShutdown, json!({"grace_s": 1e300}))
    else {
        panic!("huge grace")
    };
    assert_eq!(shutdown.grace(), std::time::Duration::MAX);
    assert_eq!(
        field_of(parse(RequestKind::AdminShutdown, json!({"grace_s": -1}))),
        "grace_s"
    );
    assert_eq!(
        field_of(parse(RequestKind::AdminShutdown, json!({}))),
        "grace_s"
    );
    assert_eq!(
        parse(RequestKind::AdminStats, json!({"junk": [1]})),
        Ok(Request::Admin(AdminRequest::Stats))
    );
}

#[test]
fn admin_lists_page_with_offset_and_limit() {
    assert_eq!(
        parse(RequestKind::AdminUsers, json!({})),
        Ok(Request::Admin(AdminRequest::Users(Page {
            offset: 0,
            limit: 1_000
        })))
    );
    assert_eq!(
        parse(
            RequestKind::AdminSessions,
            json!({"offset": 20, "limit": 1})
        ),
        Ok(Request::Admin(AdminRequest::Sessions(Page {
            offset: 20,
            limit: 1
        })))
    );
    for limit in [json!(0), json!(1_001), json!(-1), json!(2.5)] {
        assert_eq!(
            field_of(parse(RequestKind::AdminUsers, json!({ "limit": limit }))),
            "limit"
        );
    }
    assert_eq!(
        field_of(parse(RequestKind::AdminSessions, json!({"offset": -3}))),
        "offset"
    );
    let page = Page {
        offset: 2,
        limit: 2,
    };
    assert_eq!(page.of(vec![1, 2, 3, 4, 5]), [3, 4]);
    assert!(
        page.of(vec![1]).is_empty(),
        "an offset past the end is an empty page"
    );
}

#[test]
fn parsed_requests_know_their_kind() {
    let samples = [
        (RequestKind::Ping, json!({})),
        (RequestKind::Logout, json!({})),
        (RequestKind::SoundList, json!({})),
        (RequestKind::Count, json!({"sound": "a"})),
        (RequestKind::AdminSessions, json!({})),
        (RequestKind::UploadFinish, json!({"upload_id": "u"})),
    ];
    for (kind, fields) in samples {
        assert_eq!(parse(kind, fields).unwrap().kind(), kind);
    }
}

#[test]
fn field_errors_name_the_field_in_their_message() {
    let err = parse(RequestKind::SoundGet, json!({"name": 5})).unwrap_err();
    assert_eq!(err.to_string(), "`name` must be a string");
}

#[test]
fn field_errors_say_what_the_field_must_be() {
    let message = |kind, fields| parse(kind, fields).unwrap_err().to_string();
    let size = |size: Value| {
        message(
            RequestKind::UploadBegin,
            json!({"size": size, "sha256": HASH}),
        )
    };
    assert_eq!(size(json!(-5)), "`size` must not be negative");
    assert_eq!(size(json!(1.5)), "`size` must be a non-negative integer");
    assert_eq!(size(json!("10")), "`size` must be a non-negative integer");
    assert_eq!(size(Value::Null), "`size` is missing");
    assert_eq!(
        message(RequestKind::UploadBegin, json!({"size": 1, "sha256": "zz"})),
        "`sha256` must be 64 hex digits"
    );
    assert_eq!(
        message(
            RequestKind::AdminUserRole,
            json!({"username": "b", "role": "root"})
        ),
        "`role` must be \"user\" or \"admin\""
    );
    assert_eq!(
        message(
            RequestKind::AdminBroadcast,
            json!({"message": "m", "priority": "x"})
        ),
        "`priority` must be \"low\", \"medium\" or \"high\""
    );
    assert_eq!(
        message(RequestKind::SoundSave, json!({"name": "a", "overwrite": 1})),
        "`overwrite` must be true or false"
    );
    assert_eq!(
        message(RequestKind::Count, json!({"sound": "a", "options": 3})),
        "`options` must be an object"
    );
    assert_eq!(
        message(
            RequestKind::Count,
            json!({"sound": "a", "options": {"threshold": 2}})
        ),
        "`options.threshold` must be in 0..1"
    );
    assert_eq!(
        message(
            RequestKind::Count,
            json!({"sound": "a", "options": {"min_gap_s": "1"}})
        ),
        "`options.min_gap_s` must be a number"
    );
    let format = |format: Value| {
        message(
            RequestKind::StreamOpen,
            json!({"sound": "a", "format": format}),
        )
    };
    assert_eq!(
        format(json!({"encoding": "s24le", "sample_rate": 8000, "channels": 1})),
        "`format.encoding` must be \"u8\", \"s16le\" or \"f32le\""
    );
    assert_eq!(
        format(json!({"encoding": "u8", "channels": 1})),
        "`format.sample_rate` is missing"
    );
    assert_eq!(
        format(json!({"encoding": "u8", "sample_rate": 8000, "channels": 9})),
        "`format.channels` must be in 1..=8"
    );
    assert_eq!(
        message(
            RequestKind::Signup,
            json!({"username": "_x", "password": "p"})
        ),
        "`username` must start with an ASCII letter or digit"
    );
    assert_eq!(
        message(RequestKind::Cancel, json!({"target": 0})),
        "`target` must be a request id (an integer in 1..=4294967295)"
    );
}

#[test]
fn every_request_reads_back_from_the_header_a_client_writes() {
    let sound = |name: &str| TemplateSource::Sound(name.into());
    let options = CountOptions {
        threshold: Some(0.5),
        min_gap_s: None,
    };
    let format = PcmFormat {
        encoding: PcmEncoding::S16Le,
        sample_rate: 16_000,
        channels: 2,
    };
    let upload = || UploadRef {
        upload_id: "u1".into(),
    };
    let stream = || StreamRef {
        stream_id: "stream-1".into(),
    };
    let requests = [
        Request::Open(OpenRequest::Signup(Signup {
            username: "ann".into(),
            password: "correct horse".into(),
        })),
        Request::Open(OpenRequest::Login(Login {
            username: "ann".into(),
            password: "x".into(),
        })),
        Request::Open(OpenRequest::Resume(Resume { token: "t".into() })),
        Request::Open(OpenRequest::Ping),
        Request::User(UserRequest::Logout),
        Request::User(UserRequest::Library(LibraryRequest::UploadBegin(
            UploadBegin {
                size: 10,
                sha256: parse_sha256_hex(HASH).unwrap(),
            },
        ))),
        Request::User(UserRequest::Library(LibraryRequest::UploadChunk(
            UploadChunk {
                upload_id: "u1".into(),
                offset: 4,
            },
        ))),
        Request::User(UserRequest::Library(LibraryRequest::UploadFinish(upload()))),
        Request::User(UserRequest::Library(LibraryRequest::UploadAbort(upload()))),
        Request::User(UserRequest::Library(LibraryRequest::SoundList)),
        Request::User(UserRequest::Library(LibraryRequest::SoundSave(SoundSave {
            name: "bop".into(),
            upload_id: None,
            overwrite: true,
        }))),
        Request::User(UserRequest::Library(LibraryRequest::SoundSave(SoundSave {
            name: "bop".into(),
            upload_id: Some("u1".into()),
            overwrite: false,
        }))),
        Request::User(UserRequest::Library(LibraryRequest::SoundGet(SoundGet {
            name: "bop".into(),
            offset: 7,
        }))),
        Request::User(UserRequest::Library(LibraryRequest::SoundRename(
            SoundRename {
                name: "bop".into(),
                new_name: "pob".into(),
            },
        ))),
        Request::User(UserRequest::Library(LibraryRequest::SoundDelete(
            SoundDelete { name: "bop".into() },
        ))),
        Request::User(UserRequest::Count(Count {
            template: sound("bop"),
            recording_upload: None,
            options: CountOptions::default(),
        })),
        Request::User(UserRequest::Count(Count {
            template: TemplateSource::Upload("u2".into()),
            recording_upload: Some("u3".into()),
            options,
        })),
        Request::User(UserRequest::Cancel(Cancel { target: 3 })),
        Request::User(UserRequest::Stream(StreamRequest::Open(StreamOpen {
            template: sound("bop"),
            format,
            options,
        }))),
        Request::User(UserRequest::Stream(StreamRequest::Data(stream()))),
        Request::User(UserRequest::Stream(StreamRequest::Close(stream()))),
        Request::Admin(AdminRequest::Sessions(Page::default())),
        Request::Admin(AdminRequest::Kick(AdminKick { session_id: 12 })),
        Request::Admin(AdminRequest::Users(Page {
            offset: 5,
            limit: 10,
        })),
        Request::Admin(AdminRequest::UserDelete(AdminUserDelete {
            username: "bob".into(),
        })),
        Request::Admin(AdminRequest::UserRole(AdminUserRole {
            username: "bob".into(),
            role: Role::Admin,
        })),
        Request::Admin(AdminRequest::Broadcast(AdminBroadcast {
            message: "hi".into(),
            priority: Priority::High,
        })),
        Request::Admin(AdminRequest::Stats),
        Request::Admin(AdminRequest::Tail(AdminTail {
            level: LogLevel::Debug,
        })),
        Request::Admin(AdminRequest::Shutdown(AdminShutdown { grace_s: 2.5 })),
    ];
    let mut kinds: Vec<_> = requests.iter().map(Request::kind).collect();
    kinds.dedup();
    assert_eq!(kinds, RequestKind::ALL, "one of each type, in order");
    for request in requests {
        let header = request.header();
        assert_eq!(header["type"], request.kind().as_str());
        assert_eq!(
            Request::parse(request.kind(), &header),
            Ok(request.clone()),
            "{header:?}"
        );
    }
    let count = Request::User(UserRequest::Count(Count {
        template: sound("bop"),
        recording_upload: None,
        options: CountOptions::default(),
    }));
    assert_eq!(
        Value::Object(count.header()),
        json!({"type": "count", "sound": "bop"}),
        "absent options are left out"
    );
}
