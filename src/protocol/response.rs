//! What the server sends (§4, §5, §6): `ok` and `error` answers, the pushes
//! (`progress`, `log`, `notice`, `shutdown`, `bye`), the result structs that
//! several requests share, and the client's typed view of all of it
//! ([`ServerMessage`]).
//!
//! Every header here serialises with `type` first, then `id`, then the rest
//! (so `OkResponse::new(1, PingResult { server_time_ms: 1_763_700_000_000 })`
//! gives the bytes of the test vector's second frame). Pass any of them to
//! [`encode_message`](super::encode_message).

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::codes::{ByeReason, ErrorCode, LogLevel, Priority, ReceivedCode, Role};
use super::message::{parse_id, RawMessage};
use super::time::rfc3339_millis;
use super::{EnvelopeError, FieldError, MessageError, ServerMessageError};

/// Header fields that an answer's extra or result fields may not replace.
const RESERVED_FIELDS: [&str; 4] = ["type", "id", "code", "message"];

/// Writes a constant `type` tag.
fn tag<S: Serializer>(tag: &&'static str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(tag)
}

/// The final `ok` answer to request `id`, with its result fields.
///
/// `T` must serialise to a JSON object (a result struct, [`Empty`] or a
/// `serde_json::Map`) whose fields are not named `type` or `id`; none of §5's
/// results are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OkResponse<T = Map<String, Value>> {
    #[serde(rename = "type", serialize_with = "tag")]
    kind: &'static str,
    /// The request's id.
    pub id: u32,
    /// The result fields, written beside `type` and `id`.
    #[serde(flatten)]
    pub result: T,
}

impl<T: Serialize> OkResponse<T> {
    /// `{"type":"ok","id":id, ...result}`.
    pub fn new(id: u32, result: T) -> Self {
        Self {
            kind: "ok",
            id,
            result,
        }
    }
}

impl OkResponse<Empty> {
    /// `{"type":"ok","id":id}`, the `{}` result of §5.
    pub fn empty(id: u32) -> Self {
        Self::new(id, Empty {})
    }
}

/// The `{}` result: no field beyond `type` and `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Empty {}

/// An `error` answer: the final answer to request `id`, or (without `id`) to
/// a message whose header or id could not be read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorResponse {
    #[serde(rename = "type", serialize_with = "tag")]
    kind: &'static str,
    /// The request's id; `None` leaves the field out (§4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// The stable code.
    pub code: ErrorCode,
    /// A human-readable explanation (never a secret).
    pub message: String,
    /// Extra fields, such as `retry_after_s`, `expected_offset`, `received`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ErrorResponse {
    /// An error answer, with or without an id.
    pub fn new(id: Option<u32>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            kind: "error",
            id,
            code,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// The answer to request `id`.
    pub fn for_request(id: u32, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(Some(id), code, message)
    }

    /// `bad_request` without id, for a message that could not be read.
    pub fn unreadable(err: &MessageError) -> Self {
        Self::new(None, ErrorCode::BadRequest, err.to_string())
    }

    /// `bad_request` for a failed [`Envelope::parse`](super::Envelope::parse),
    /// with the id when it could be read.
    pub fn from_envelope(err: &EnvelopeError) -> Self {
        Self::new(err.id, ErrorCode::BadRequest, err.to_string())
    }

    /// The answer to request `id` for a failed
    /// [`Request::parse`](super::Request::parse) (`bad_request` or `too_large`).
    pub fn from_field(id: u32, err: &FieldError) -> Self {
        Self::for_request(id, err.code, err.to_string())
    }

    /// Adds an extra field. Names of the fixed fields (`type`, `id`, `code`,
    /// `message`) are ignored, so the header never has a duplicate key.
    pub fn with_field(mut self, name: &str, value: impl Into<Value>) -> Self {
        if !RESERVED_FIELDS.contains(&name) {
            self.extra.insert(name.to_owned(), value.into());
        }
        self
    }

    /// `retry_after_s` of `rate_limited`: whole seconds, rounded up so that a
    /// client that waits that long is not refused again.
    pub fn retry_after(self, wait: Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.with_field("retry_after_s", secs)
    }

    /// `expected_offset` of a misplaced `upload.chunk`.
    pub fn expected_offset(self, offset: u64) -> Self {
        self.with_field("expected_offset", offset)
    }

    /// `received` of an early `upload.finish`.
    pub fn received(self, bytes: u64) -> Self {
        self.with_field("received", bytes)
    }
}

/// A message the server sends of its own accord (§5 pushes that carry a
/// request id, and the §6 pushes that carry none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Push {
    /// Progress of a running `count`.
    Progress {
        /// The `count` request's id.
        id: u32,
        /// Seconds of the recording analysed so far (never decreasing).
        done_s: f64,
        /// The recording's length in seconds.
        total_s: f64,
    },
    /// A log record for a running `admin.tail`.
    Log {
        /// The `admin.tail` request's id.
        id: u32,
        /// When, RFC 3339 with milliseconds and `Z`.
        ts: String,
        /// The record's level.
        level: LogLevel,
        /// The record's target (connection, auth, library, analysis, admin...).
        target: String,
        /// The record's text.
        message: String,
    },
    /// An admin broadcast, to logged-in sessions only.
    Notice {
        /// The text.
        message: String,
        /// Its priority.
        priority: Priority,
        /// When it was sent, RFC 3339.
        ts: String,
    },
    /// The server is stopping.
    Shutdown {
        /// Why, for people.
        message: String,
        /// Seconds running requests have left.
        grace_s: f64,
    },
    /// The server closes the session right after this.
    Bye {
        /// Why.
        reason: ByeReason,
    },
}

impl Push {
    /// A `log` push for tail `id`, stamped with `time`.
    pub fn log(
        id: u32,
        time: SystemTime,
        level: LogLevel,
        target: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Push::Log {
            id,
            ts: rfc3339_millis(time),
            level,
            target: target.into(),
            message: message.into(),
        }
    }

    /// A `notice` push, stamped with `time`.
    pub fn notice(message: impl Into<String>, priority: Priority, time: SystemTime) -> Self {
        Push::Notice {
            message: message.into(),
            priority,
            ts: rfc3339_millis(time),
        }
    }

    /// The request a push belongs to (`progress`, `log`), if any.
    pub fn request_id(&self) -> Option<u32> {
        match self {
            Push::Progress { id, .. } | Push::Log { id, .. } => Some(*id),
            Push::Notice { .. } | Push::Shutdown { .. } | Push::Bye { .. } => None,
        }
    }
}

/// A saved sound, as in `sound.list`, `sound.save`, `sound.get`, `sound.rename`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoundInfo {
    /// The name, as saved.
    pub name: String,
    /// Length of the audio in milliseconds.
    pub duration_ms: u64,
    /// The file's sample rate.
    pub sample_rate: u32,
    /// The file's channel count.
    pub channels: u16,
    /// The file's size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    /// When it was saved, RFC 3339.
    pub created_at: String,
}

/// One occurrence of the template.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EventInfo {
    /// Where it starts, in seconds from the start of the recording or stream.
    pub start_s: f64,
    /// How well it matches, in 0..=1.
    pub score: f64,
}

/// The result of `login` and `resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResult {
    /// The username as first written at signup.
    pub username: String,
    /// The account's role.
    pub role: Role,
    /// Names of the user's saved sounds.
    pub sounds: Vec<String>,
    /// A fresh single-use resume token.
    pub resume_token: String,
    /// How long the token lives, in seconds.
    pub resume_ttl_s: u64,
}

/// The result of `ping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingResult {
    /// The server's clock, Unix milliseconds.
    pub server_time_ms: u64,
}

/// The result of `upload.begin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadBegun {
    /// The opaque id of the new upload.
    pub upload_id: String,
}

/// The result of `upload.chunk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReceived {
    /// Bytes received so far.
    pub received: u64,
}

/// The result of `upload.finish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadFinished {
    /// The upload, now usable once.
    pub upload_id: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The result of `sound.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoundList {
    /// Every saved sound of the user.
    pub sounds: Vec<SoundInfo>,
}

/// The result of `sound.save` and `sound.rename`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoundResult {
    /// The sound as saved.
    pub sound: SoundInfo,
}

/// The result of `sound.get` (the bytes are the payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoundChunk {
    /// The sound.
    pub sound: SoundInfo,
    /// Where the payload's bytes start in the file.
    pub offset: u64,
}

/// The result of `count`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountResult {
    /// How many events.
    pub count: u64,
    /// The events, in time order.
    pub events: Vec<EventInfo>,
    /// Length of the recording in seconds.
    pub duration_s: f64,
    /// Server time spent, in milliseconds.
    pub elapsed_ms: u64,
}

/// The result of `stream.open`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamOpened {
    /// The opaque id of the stream.
    pub stream_id: String,
}

/// The result of `stream.data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamProgress {
    /// Events since `stream.open`.
    pub total: u64,
    /// Events that became certain with this chunk.
    pub new_events: Vec<EventInfo>,
    /// Seconds of the stream analysed so far.
    pub processed_s: f64,
}

/// The result of `stream.close`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamClosed {
    /// How many events.
    pub total: u64,
    /// All the events, in time order.
    pub events: Vec<EventInfo>,
    /// Length of the stream in seconds.
    pub duration_s: f64,
}

/// The final answer of `admin.tail` (after `cancel` or at shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TailEnded {
    /// Log records that could not be delivered.
    pub dropped: u64,
}

/// The result of `admin.broadcast`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastResult {
    /// Logged-in sessions reached.
    pub delivered: u64,
}

/// One session in `admin.sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The id for `admin.kick`.
    pub session_id: u64,
    /// Who is logged in; `null` before login (always written).
    pub username: Option<String>,
    /// The peer's `ip:port`.
    pub peer: String,
    /// Whole seconds since the connection.
    pub connected_s: u64,
    /// Whole seconds since the last frame.
    pub idle_s: u64,
    /// Requests received.
    pub requests: u64,
}

/// The result of `admin.sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    /// Every open session.
    pub sessions: Vec<SessionInfo>,
}

/// One account in `admin.users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// The username as first written.
    pub username: String,
    /// The account's role.
    pub role: Role,
    /// When it signed up, RFC 3339.
    pub created_at: String,
    /// Last login, RFC 3339; `null` if never (always written).
    pub last_seen: Option<String>,
    /// How many saved sounds.
    pub sounds: u64,
}

/// The result of `admin.users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserList {
    /// Every account.
    pub users: Vec<UserInfo>,
}

/// The result of `admin.stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsResult {
    /// Whole seconds since the server started.
    pub uptime_s: u64,
    /// Open sessions.
    pub sessions: u64,
    /// Logged-in sessions.
    pub logged_in: u64,
    /// Successful logins (and resumes) since start.
    pub logins: u64,
    /// Analysis jobs waiting.
    pub jobs_queued: u64,
    /// Analysis jobs running.
    pub jobs_running: u64,
    /// Analysis jobs finished since start.
    pub jobs_done: u64,
    /// Seconds of audio analysed since start.
    pub audio_s_analysed: f64,
    /// Bytes received since start.
    pub bytes_in: u64,
    /// Bytes sent since start.
    pub bytes_out: u64,
    /// The server process's resident memory (RSS) in bytes, when the
    /// system tells it (Linux); an addition to the contract's fields, so
    /// absent from other servers' answers.
    #[serde(default)]
    pub resident_memory_bytes: Option<u64>,
}

/// Reads the result fields of an `ok` answer as a typed result
/// (unknown fields are ignored).
pub fn result_as<T: DeserializeOwned>(fields: &Map<String, Value>) -> Result<T, serde_json::Error> {
    T::deserialize(Value::Object(fields.clone()))
}

/// A message from the server, as a client sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// The final success of request `id`.
    Ok {
        /// The request's id.
        id: u32,
        /// Every header field but `type` and `id` (read with [`result_as`]).
        fields: Map<String, Value>,
        /// The payload (the bytes of `sound.get`), often empty.
        payload: Bytes,
    },
    /// The final failure of request `id`, or of an unreadable message.
    Error {
        /// The request's id, absent for unreadable messages.
        id: Option<u32>,
        /// The code, kept even when this version does not know it.
        code: ReceivedCode,
        /// The human-readable message (empty if the server gave none).
        message: String,
        /// Extra fields (`retry_after_s`, `expected_offset`, `received`...).
        fields: Map<String, Value>,
    },
    /// A `progress`, `log`, `notice`, `shutdown` or `bye`.
    Push(Push),
    /// A `type` this version does not know, kept whole so a client can log
    /// and skip it.
    Other {
        /// The `type`.
        kind: String,
        /// The whole header.
        header: Map<String, Value>,
        /// The payload.
        payload: Bytes,
    },
}

impl ServerMessage {
    /// Interprets a decoded message from the server.
    pub fn parse(message: RawMessage) -> Result<ServerMessage, ServerMessageError> {
        let RawMessage {
            mut header,
            payload,
        } = message;
        let kind = match header.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            _ => return Err(ServerMessageError::MissingType),
        };
        let invalid = |reason: String| ServerMessageError::Invalid {
            kind: kind.clone(),
            reason,
        };
        match kind.as_str() {
            "ok" => {
                let id =
                    parse_id(header.get("id")).map_err(|err| invalid(format!("`id` {err}")))?;
                header.remove("type");
                header.remove("id");
                Ok(ServerMessage::Ok {
                    id,
                    fields: header,
                    payload,
                })
            }
            "error" => {
                let id = match header.get("id") {
                    None | Some(Value::Null) => None,
                    value => Some(parse_id(value).map_err(|err| invalid(format!("`id` {err}")))?),
                };
                let code = match header.get("code") {
                    Some(Value::String(code)) => ReceivedCode::from_wire(code),
                    _ => return Err(invalid("`code` is missing or not a string".into())),
                };
                let message = match header.remove("message") {
                    Some(Value::String(message)) => message,
                    _ => String::new(),
                };
                for fixed in RESERVED_FIELDS {
                    header.remove(fixed);
                }
                Ok(ServerMessage::Error {
                    id,
                    code,
                    message,
                    fields: header,
                })
            }
            "progress" | "log" | "notice" | "shutdown" | "bye" => {
                Push::deserialize(Value::Object(header))
                    .map(ServerMessage::Push)
                    .map_err(|err| invalid(err.to_string()))
            }
            _ => Ok(ServerMessage::Other {
                kind,
                header,
                payload,
            }),
        }
    }

    /// The request this message answers or belongs to, if any.
    pub fn request_id(&self) -> Option<u32> {
        match self {
            ServerMessage::Ok { id, .. } => Some(*id),
            ServerMessage::Error { id, .. } => *id,
            ServerMessage::Push(push) => push.request_id(),
            ServerMessage::Other { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::{decode_message, encode_message};
    use crate::protocol::{EnvelopeProblem, IdError};
    use serde_json::json;
    use std::time::UNIX_EPOCH;

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
        let ServerMessage::Ok { id, fields, .. } =
            round_trip(&OkResponse::new(2, login.clone()), &[])
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
            to_json(
                &ErrorResponse::for_request(4, ErrorCode::BadRequest, "x").expected_offset(1024)
            )["expected_offset"],
            1024
        );
        assert_eq!(
            to_json(&ErrorResponse::for_request(4, ErrorCode::BadRequest, "x").received(7))
                ["received"],
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
                total_s: 10.0
            }),
            json!({"type": "progress", "id": 4, "done_s": 1.5, "total_s": 10.0})
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
        let header = json!({"type": "error", "code": "quota_exceeded", "message": "m", "limit": 3});
        let ServerMessage::Error {
            id, code, fields, ..
        } = round_trip(&header, &[])
        else {
            panic!("error expected")
        };
        assert_eq!(id, None);
        assert_eq!(code, ReceivedCode::Unknown("quota_exceeded".into()));
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
}
