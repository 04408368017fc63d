//! What the server sends (§4, §5, §6): `ok` and `error` answers, the pushes
//! (`progress`, `log`, `notice`, `shutdown`, `bye`), the result structs that
//! several requests share, and the client's typed view of all of it
//! ([`ServerMessage`]).
//!
//! Every header here serialises with `type` first, then `id`, then the rest
//! (so `OkResponse::new(1, PingResult { server_time_ms: 1_763_700_000_000 })`
//! gives the bytes of the test vector's second frame). Pass any of them to
//! [`encode_message`](super::encode_message).

//!
//! Layout: this file holds the two final answers ([`OkResponse`],
//! [`ErrorResponse`]); `push.rs` the pushes; `results.rs` the result structs;
//! `client.rs` the client's reading of a server message.

mod client;
mod push;
mod results;
#[cfg(test)]
mod tests;

pub use client::{result_as, ServerMessage};
pub use push::Push;
pub use results::*;

use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::codes::ErrorCode;
use super::{EnvelopeError, FieldError, MessageError};

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
