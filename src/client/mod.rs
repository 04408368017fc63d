//! A typed async client of the Harmonic protocol (PROTOCOL.md), used by the
//! server's end-to-end tests, the CLI and the load generator.
//!
//! - [`connection`]: [`Client`]: connect, handshake (with the pinned
//!   fingerprint checked), and one background task that reads every message
//!   and routes it: answers by `id` to the waiting request, `progress`/`log`
//!   pushes to that request, `notice`/`shutdown`/`bye` to [`Client::pushes`].
//!   Requests may be pipelined: each has its own id.
//! - [`requests`]: one typed method per request of §5 (accounts, library,
//!   counting, live streams); admin requests go through [`Client::request`].
//! - [`upload`]: audio to send ([`AudioSource`]), inline when it fits in one
//!   frame, else as an upload of 1,000,000-byte chunks with its SHA-256
//!   computed while streaming, retried on `checksum_mismatch`.

pub mod connection;
pub mod requests;
pub mod upload;

pub use connection::{Client, ConnectOptions, PendingRequest, Reply};
pub use upload::{AudioSource, UPLOAD_CHUNK_LEN, UPLOAD_RETRIES};

use serde_json::{Map, Value};
use thiserror::Error;

use crate::protocol::{ErrorCode, MessageError, ReceivedCode};
use crate::transport::TransportError;

/// Why a client call failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The socket, or a local file, failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The handshake failed (bad server hello, version refused, bad signature...).
    #[error("handshake failed: {0}")]
    Handshake(TransportError),
    /// Connecting or the handshake took longer than [`ConnectOptions::timeout`].
    #[error("timed out connecting to the server")]
    Timeout,
    /// The connection is over; the request got no answer. `reason` is the
    /// `reason` of the server's `bye` when one came (`kicked`, `shutdown`...),
    /// else a description of what broke the connection, or `None` for a
    /// plain close.
    #[error("connection closed{}", reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default())]
    Closed {
        /// The `bye` reason, or what ended the connection.
        reason: Option<String>,
    },
    /// The server answered `error`.
    #[error("server error {code}: {message}")]
    Server {
        /// The error code, kept even when this version does not know it.
        code: ReceivedCode,
        /// The server's human-readable message.
        message: String,
        /// Extra fields (`retry_after_s`, `expected_offset`, `received`...).
        fields: Map<String, Value>,
    },
    /// The server sent something this client cannot make sense of.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server's identity key is not the pinned one (it may be an impostor).
    #[error("server identity changed: pinned fingerprint {pinned}, server presented {presented}")]
    IdentityChanged {
        /// The fingerprint the caller pinned.
        pinned: String,
        /// The fingerprint the server presented.
        presented: String,
    },
    /// A request that cannot be sent: its header is not a JSON object, or
    /// it does not fit in one frame.
    #[error("request cannot be encoded: {0}")]
    Encode(MessageError),
}

impl ClientError {
    /// The server's error code, if this is an `error` answer.
    pub fn code(&self) -> Option<&ReceivedCode> {
        match self {
            ClientError::Server { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the server answered `error` with `code`.
    pub fn is_code(&self, code: ErrorCode) -> bool {
        self.code().is_some_and(|received| received.is(code))
    }
}

#[cfg(test)]
mod tests;
