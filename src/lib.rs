//! Harmonic counts how many times a short sound (a key press, a punch, a
//! skipping-rope hit) occurs in a longer recording, and when.
//!
//! # Layout
//! The domain, plain Rust without actix:
//! - [`protocol`]: the wire format of PROTOCOL.md: frames, message headers,
//!   requests, answers, error codes.
//! - [`crypto`]: the handshake (P-256 ECDH, ECDSA identity, HKDF), the
//!   encrypted channel (ChaCha20-Poly1305 with counter nonces) and password
//!   hashing.
//! - [`transport`]: the async handshake and encrypted message codecs over any
//!   byte stream, and the byte counting of a connection.
//! - [`audio`]: decoding WAV and raw PCM, mixing to mono, resampling to the
//!   analysis rate, in bounded blocks.
//! - [`dsp`]: the counting engine: features, FFT cross-correlation, peak
//!   picking, in one streaming pipeline.
//! - [`store`]: the SQLite database (diesel) and the audio files on disk.
//! - [`auth`]: the failed-login throttle and the signup rules, as plain data.
//! - [`address`]: how client addresses are grouped for per-address limits.
//! - [`config`]: the server's settings, every limit and timer of §7.
//! - [`logging`]: the server's logger (env_logger-style lines) and the hub
//!   that feeds `admin.tail`.
//! - [`discovery`]: finding a server on the LAN over UDP.
//! - [`os_limits`]: enough open files for the connections (RLIMIT_NOFILE).
//! - [`client`]: a typed async client of the protocol.
//! - [`cli`]: the `harmonic` command line (server, client commands, tools).
//! - [`synth`]: synthetic audio with known truth, for tests and benchmarks.
//! - [`plot`]: pictures of why the engine counted what it counted.
//!
//! The concurrent shell:
//! - [`actors`]: the thin actix layer that makes the server (built from
//!   `actors/` at the top of the repository).
//!
//! Everything but `actors` is plain Rust, testable without a running server.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod address;
pub mod audio;
pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod crypto;
pub mod discovery;
pub mod dsp;
pub mod logging;
pub mod os_limits;
pub mod plot;
pub mod protocol;
pub mod store;
pub mod synth;
pub mod transport;

#[path = "../actors/mod.rs"]
pub mod actors;
