//! The handshake and the encrypted channel of PROTOCOL.md §2 and §3, plus the
//! server's other secrets: its long-lived identity key, password hashes and
//! resume tokens.
//!
//! Everything here is a pure function over bytes (the identity file is the one
//! exception): no sockets and no async runtime, so the connection layer decides
//! how bytes move and this module only decides what they are. Keeping the
//! cryptography in one place also keeps the reviewable surface small.
//!
//! - [`handshake`]: ClientHello / ServerHello, ECDH, the signature and the key
//!   schedule, for both the server and the client.
//! - [`channel`]: sealing and opening encrypted frames once the keys are agreed.
//! - [`identity`]: the server's P-256 identity key, kept on disk, and its
//!   fingerprint that clients pin.
//! - [`password`]: argon2id password hashes.
//! - [`token`]: resume tokens and the digest the database keeps of them.

pub mod channel;
pub mod handshake;
pub mod identity;
pub mod password;
pub mod token;

#[cfg(test)]
mod test_vectors;

use std::path::PathBuf;

pub use channel::{channel_pair, FrameOpener, FrameSealer, Side};
pub use handshake::{
    check_client_hello, server_respond, server_respond_with_secret, version_reject_body,
    ClientHandshake, ClientHello, ServerAccepted, SessionKeys,
};
pub use identity::{fingerprint, ServerIdentity};
pub use password::{hash_password, verify_password};
pub use token::{new_resume_token, token_digest};

/// Why the server refuses a ClientHello (PROTOCOL.md §2).
///
/// Only [`ClientHelloError::UnsupportedVersion`] is answered (with
/// [`version_reject_body`]); on every other variant the server just closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientHelloError {
    /// The hello starts with "HRMC" but asks for a version this server does not speak.
    #[error("client asks for protocol version {0}, this server speaks version 1")]
    UnsupportedVersion(u8),
    /// The body does not start with "HRMC".
    #[error("client hello does not start with \"HRMC\"")]
    BadMagic,
    /// The body is not exactly 70 bytes long.
    #[error("client hello is {actual} bytes long, expected 70")]
    BadLength {
        /// The length received.
        actual: usize,
    },
    /// The client's ephemeral key is not an uncompressed SEC1 point on P-256.
    #[error("client ephemeral key is not an uncompressed P-256 point")]
    BadEphemeralKey,
}

/// Why the client refuses the server's answer to its ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The server answered "HRMX": it does not speak our version.
    #[error("server rejected protocol version 1 (it speaks up to version {highest}): {reason}")]
    VersionRejected {
        /// The highest version the server supports.
        highest: u8,
        /// The server's human-readable reason.
        reason: String,
    },
    /// The answer starts with neither "HRMS" nor "HRMX".
    #[error("server hello does not start with \"HRMS\"")]
    BadMagic,
    /// The ServerHello carries a version other than 1.
    #[error("server hello has protocol version {0}, expected 1")]
    UnsupportedVersion(u8),
    /// The answer has the wrong length (199 bytes for a ServerHello, at least 5 for a rejection).
    #[error("server hello is {actual} bytes long, expected {expected}")]
    BadLength {
        /// The length received.
        actual: usize,
        /// The length the protocol requires.
        expected: usize,
    },
    /// The server's ephemeral key is not an uncompressed P-256 point.
    #[error("server ephemeral key is not an uncompressed P-256 point")]
    BadEphemeralKey,
    /// The server's identity key is not an uncompressed P-256 point.
    #[error("server identity key is not an uncompressed P-256 point")]
    BadIdentityKey,
    /// The signature is malformed or does not verify under the identity key.
    #[error("server signature does not verify: the server is not who it claims to be")]
    BadSignature,
    /// The server's identity is not the one pinned for it.
    #[error("server identity changed: pinned fingerprint {pinned}, server presented {presented}")]
    IdentityChanged {
        /// The fingerprint the client had pinned.
        pinned: String,
        /// The fingerprint the server presented.
        presented: String,
    },
}

/// Errors of the encrypted channel (PROTOCOL.md §3). Every one of them ends
/// the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The plaintext does not fit in one frame.
    #[error("plaintext of {len} bytes exceeds the maximum of {max} bytes per frame")]
    PlaintextTooLarge {
        /// The plaintext length offered.
        len: usize,
        /// The largest plaintext a frame can carry.
        max: usize,
    },
    /// The frame body is shorter than a tag or longer than a frame may be.
    #[error("encrypted frame body of {len} bytes is outside 16..={max}")]
    BadFrameLength {
        /// The body length received.
        len: usize,
        /// The largest body a frame may have.
        max: usize,
    },
    /// The frame failed authentication: tampered, replayed, out of order or
    /// sealed with another key.
    #[error("encrypted frame failed authentication")]
    Authentication,
    /// This direction has used every nonce; a new frame would reuse one.
    #[error("frame counter exhausted: the connection must close")]
    CounterExhausted,
}

/// Errors of the identity key, password hashing and key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Secret key bytes that are not a valid P-256 scalar (zero or not below the order).
    #[error("secret key bytes are not a valid P-256 scalar")]
    InvalidSecretKey,
    /// Reading or writing the identity file failed.
    #[error("identity file {path}: {source}")]
    IdentityIo {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The identity file exists but does not hold a P-256 PKCS#8 PEM key.
    /// It is never replaced silently: clients pinned the key it held.
    #[error("identity file {path} is corrupt ({reason}); restore it from a backup, or delete it to create a new identity that every client will have to re-pin")]
    CorruptIdentity {
        /// The corrupt file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Encoding the identity key as PKCS#8 PEM failed.
    #[error("cannot encode the identity key: {0}")]
    KeyEncoding(String),
    /// Argon2 refused to hash (bad parameters or an internal error).
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
}
