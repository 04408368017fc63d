//! Harmonic counts how many times a short sound (a key press, a punch, a
//! skipping-rope hit) occurs in a longer recording, and when.
//!
//! # Layout
//! - [`audio`]: decoding WAV and raw PCM, mixing to mono, resampling to the
//!   analysis rate, in bounded blocks.
//! - [`dsp`]: the counting engine: features, FFT cross-correlation, peak
//!   picking, in one streaming pipeline.
//! - [`protocol`]: the wire format of PROTOCOL.md: frames, message headers,
//!   requests, error codes.
//! - [`crypto`]: the handshake (P-256 ECDH, ECDSA identity, HKDF) and the
//!   encrypted channel (ChaCha20-Poly1305 with counter nonces).
//! - [`store`]: the SQLite database (diesel) and the audio files on disk.
//! - [`transport`]: the async handshake and encrypted message codecs over any byte stream.
//! - [`client`]: a typed async client of the protocol.
//! - [`actors`]: the thin actix layer that makes the server (built from
//!   `actors/` at the top of the repository).
//!
//! Everything but `actors` is plain Rust, testable without a running server.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audio;
pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod crypto;
pub mod discovery;
pub mod dsp;
pub mod logging;
pub mod plot;
pub mod protocol;
pub mod store;
pub mod synth;
pub mod transport;

#[path = "../actors/mod.rs"]
pub mod actors;
