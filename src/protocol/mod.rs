//! The wire protocol of PROTOCOL.md: frames, messages, requests and error codes.
//!
//! The layers, from bytes upwards (each one knows nothing of the one above):
//! - [`frame`] (§1): `u32 length | body`, with the 1 MiB bound checked before
//!   anything is allocated ([`FrameCodec`]).
//! - [`message`] (§4): the plaintext of an encrypted frame,
//!   `u32 header_len | JSON header | payload` ([`encode_message`],
//!   [`decode_message`]), and the reading of `type` and `id`.
//! - [`codes`]: the stable strings of the protocol (error codes, `bye`
//!   reasons, roles, priorities, log levels).
//! - [`request`] (§5): what a client asks, parsed in two phases that follow the
//!   check order of §4: [`Envelope::parse`] (id and a known type) before the
//!   shutdown, login and role checks, then [`Request::parse`] (the fields).
//! - [`response`] (§4, §6): what the server sends (ok, error, pushes) and the
//!   client's typed view of it ([`ServerMessage`]).
//! - [`errors`]: the one mapping of every domain error (store, audio, dsp,
//!   fields) to a wire code and message ([`WireError`]).
//! - [`time`]: the two time formats of §4 (RFC 3339 with milliseconds, Unix ms).
//!
//! Encryption (§2, §3) lives in `crypto`; this module only sees frame bodies
//! and plaintexts.

pub mod codes;
pub mod errors;
pub mod frame;
pub mod message;
pub mod request;
pub mod response;
pub mod time;

pub use codes::{ByeReason, ErrorCode, LogLevel, Priority, ReceivedCode, Role};
pub use errors::WireError;
pub use frame::{frame_prefix, FrameCodec, MAX_FRAME_LEN};
pub use message::{
    decode_message, encode_message, message_type, parse_id, request_id, RawMessage, MAX_MESSAGE_LEN,
};
pub use request::{
    check_password_size, check_password_strength, login_could_be_valid, parse_sha256_hex,
    username_key, validate_sound_name, validate_username, Access, AdminRequest, CountOptions,
    Envelope, LibraryRequest, OpenRequest, PcmEncoding, PcmFormat, Request, RequestKind,
    StreamRequest, TemplateSource, UserRequest, MAX_PASSWORD_BYTES, MAX_UPLOAD_SIZE,
    MIN_PASSWORD_CHARS,
};
pub use response::{
    result_as, Empty, ErrorResponse, EventInfo, LoginResult, OkResponse, Push, ServerMessage,
    SoundInfo,
};
pub use time::{rfc3339_millis, unix_millis};

use thiserror::Error;

/// Why a frame could not be read or written (§1).
///
/// Every variant ends the connection: before the handshake by closing it,
/// after it with `bye` `protocol_error`.
#[derive(Debug, Error)]
pub enum FrameError {
    /// A length prefix of zero (§1 requires at least one byte of body).
    #[error("frame length is zero")]
    Empty,
    /// A length prefix (or a body to send) above [`MAX_FRAME_LEN`].
    #[error("frame length {0} exceeds the limit of {MAX_FRAME_LEN} bytes")]
    TooLong(usize),
    /// The stream ended in the middle of a frame.
    #[error("stream ended inside a frame ({have} of {need} bytes)")]
    Truncated {
        /// Bytes of the frame (prefix included) that arrived.
        have: usize,
        /// Bytes the frame needed (prefix included), when the prefix was read.
        need: usize,
    },
    /// The underlying transport failed.
    #[error("transport error: {0}")]
    Io(#[from] std::io::Error),
}

/// Why the plaintext of a frame is not a readable message (§4).
///
/// The server answers every variant of a received message with an `error`
/// `bad_request` that has no `id`, and the session goes on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    /// Fewer than the 4 bytes of `header_len`.
    #[error("message shorter than its 4-byte header length")]
    Truncated,
    /// `header_len` points past the end of the message.
    #[error("header length {header_len} exceeds the {available} bytes that follow it")]
    HeaderLenPastEnd {
        /// The announced header length.
        header_len: usize,
        /// The bytes present after the 4-byte prefix.
        available: usize,
    },
    /// The header bytes are not UTF-8.
    #[error("header is not UTF-8")]
    NotUtf8,
    /// The header is not JSON (an empty header included); when encoding, the
    /// header could not be serialised.
    #[error("header is not JSON: {0}")]
    NotJson(String),
    /// The header is JSON but not an object.
    #[error("header is not a JSON object")]
    NotObject,
    /// A message to send does not fit in one frame ([`MAX_MESSAGE_LEN`]).
    #[error("message of {0} bytes does not fit in one frame")]
    TooLong(usize),
}

/// Why a request `id` (or another field holding an id, such as `cancel`'s
/// `target`) is not valid: §4 requires an integer in 1..=2^32-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum IdError {
    /// The field is absent (or `null`).
    #[error("missing")]
    Missing,
    /// The field is not a JSON integer (a string, a float such as `1.5` or
    /// `1.0`, a boolean...).
    #[error("not an integer")]
    NotAnInteger,
    /// An integer outside 1..=4294967295 (0, negative, too large).
    #[error("out of range 1..=4294967295")]
    OutOfRange,
}

/// Why a request header fails the first check of §4 ("the header and a known
/// `type`"). Always answered `bad_request`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{problem}")]
pub struct EnvelopeError {
    /// The request id, when one could be read: the `error` answer carries it.
    /// `None` (id missing or invalid) means the answer has no `id`.
    pub id: Option<u32>,
    /// What is wrong.
    pub problem: EnvelopeProblem,
}

/// What [`EnvelopeError`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnvelopeProblem {
    /// `id` missing or invalid.
    #[error("invalid `id`: {0}")]
    Id(IdError),
    /// No `type` field.
    #[error("missing `type`")]
    MissingType,
    /// `type` is not a string.
    #[error("`type` is not a string")]
    TypeNotString,
    /// `type` names no request of §5 (shortened to 64 characters).
    #[error("unknown request type `{0}`")]
    UnknownType(String),
}

/// A request field that is missing, of the wrong type or out of range.
///
/// `code` is the error code to answer with: [`ErrorCode::BadRequest`] for
/// everything but an upload `size` over [`MAX_UPLOAD_SIZE`], which is
/// [`ErrorCode::TooLarge`] (§5 names that code for it; see
/// [`Request::parse`] for the order of the checks).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{field}` {reason}")]
pub struct FieldError {
    /// The field's name as on the wire (`format.sample_rate` for nested ones).
    pub field: String,
    /// A human-readable reason, for the `message` of the answer.
    pub reason: String,
    /// The code to answer with.
    pub code: ErrorCode,
}

impl FieldError {
    /// A `bad_request` about `field`.
    pub fn bad(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
            code: ErrorCode::BadRequest,
        }
    }
}

/// A value that breaks one of the naming or size rules of §5 (username,
/// password, sound name, sha256). The caller knows which field it was and
/// which code to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct RuleViolation(pub &'static str);

/// Why a server message could not be understood by a client.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ServerMessageError {
    /// No string `type`.
    #[error("server message has no string `type`")]
    MissingType,
    /// A known message whose fields are missing or of the wrong type.
    #[error("server message `{kind}` is invalid: {reason}")]
    Invalid {
        /// The message's `type`.
        kind: String,
        /// What is wrong.
        reason: String,
    },
}
