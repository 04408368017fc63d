//! The async glue between a byte stream and the pure `crypto` and `protocol`
//! modules, shared by the server (actix) and the client (tokio).
//!
//! - [`handshake`]: the two plaintext frames of PROTOCOL.md §2 over any
//!   `AsyncRead + AsyncWrite`, for both sides, under one timeout.
//! - [`codec`]: the encrypted frames of §3 carrying the messages of §4, as
//!   tokio-util codecs. [`DecryptingCodec`] (for a `FramedRead` over the read
//!   half) and [`EncryptingCodec`] (for a `FramedWrite` over the write half)
//!   are separate so a connection's reader and writer can own one each;
//!   [`EncryptedCodec`] joins them for a single `Framed`.
//! - [`counting`]: byte-counting adapters of a connection's halves and the
//!   [`Outbox`] that tells how much a slow peer has not read yet.
//!
//! Nothing here logs: the caller knows the session id and the peer, and logs
//! the [`TransportError`] it gets with them.

pub mod codec;
pub mod counting;
pub mod handshake;

pub use codec::{
    split_codecs, DecryptingCodec, EncryptedCodec, EncryptingCodec, Incoming, OutgoingMessage,
};
pub use counting::{CountingEncoder, CountingReader, CountingWriter, Gated, Outbox};
pub use handshake::{client_handshake, server_handshake, HANDSHAKE_TIMEOUT};

use std::time::Duration;

use thiserror::Error;

use crate::crypto::{ChannelError, ClientHelloError, HandshakeError};
use crate::protocol::{FrameError, MessageError};

/// Why a connection cannot go on. Every variant ends it; the variant says how
/// (PROTOCOL.md §1–§3):
///
/// - [`TransportError::BadFrameLength`] after the handshake: the server sends
///   `bye` `protocol_error`, then closes; before it, it just closes.
/// - [`TransportError::Authentication`]: the connection ends at once.
/// - everything else: close (the peer is gone, or misbehaved during the handshake).
#[derive(Debug, Error)]
pub enum TransportError {
    /// The socket failed.
    #[error("transport I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The handshake did not complete in time.
    #[error("handshake did not complete within {0:?}")]
    Timeout(Duration),
    /// The peer closed the connection between two frames (a clean end after
    /// the handshake; during it, the peer gave up).
    #[error("connection closed by the peer")]
    Closed,
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed inside a frame ({have} of {need} bytes)")]
    Truncated {
        /// Bytes of the frame (prefix included) that arrived.
        have: usize,
        /// Bytes the frame needed (prefix included), when its prefix was read.
        need: usize,
    },
    /// A length prefix of zero or above `MAX_FRAME_LEN`; its body was not read.
    #[error("frame length prefix {len} is outside 1..=1048576")]
    BadFrameLength {
        /// The length announced.
        len: usize,
    },
    /// Server side: the ClientHello was refused. For
    /// [`ClientHelloError::UnsupportedVersion`] the "HRMX" answer has been
    /// written already; for the other variants nothing was written.
    #[error("bad client hello: {0}")]
    ClientHello(ClientHelloError),
    /// Client side: the server's answer was refused (or was an "HRMX" rejection).
    #[error("bad server hello: {0}")]
    ServerHello(HandshakeError),
    /// An encrypted frame failed authentication (tampered, replayed, out of
    /// order, too short to hold a tag, or sealed with another key): the
    /// connection must end at once, with no answer.
    #[error("encrypted frame failed authentication")]
    Authentication,
    /// This direction has used every nonce; the connection must close.
    #[error("frame counter exhausted")]
    CounterExhausted,
}

impl From<FrameError> for TransportError {
    fn from(err: FrameError) -> Self {
        match err {
            FrameError::Empty => TransportError::BadFrameLength { len: 0 },
            FrameError::TooLong(len) => TransportError::BadFrameLength { len },
            FrameError::Truncated { have, need } => TransportError::Truncated { have, need },
            FrameError::Io(err) => TransportError::Io(err),
        }
    }
}

impl From<ChannelError> for TransportError {
    fn from(err: ChannelError) -> Self {
        match err {
            // A body shorter than a tag cannot authenticate; a longer one than
            // a frame never gets here (the frame layer refuses its prefix).
            ChannelError::Authentication | ChannelError::BadFrameLength { .. } => {
                TransportError::Authentication
            }
            ChannelError::CounterExhausted => TransportError::CounterExhausted,
            // `OutgoingMessage` is bounded by MAX_MESSAGE_LEN, which is the
            // sealer's own limit, so this is a programming error upstream.
            ChannelError::PlaintextTooLarge { len, .. } => TransportError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                MessageError::TooLong(len),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
