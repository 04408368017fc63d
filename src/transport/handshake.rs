//! The plaintext handshake of PROTOCOL.md §2 over an async byte stream.
//!
//! Each side reads and writes exactly its two frames and nothing more, so the
//! stream can be handed to the encrypted codecs afterwards without losing a
//! byte. The whole exchange runs under one timeout.

use std::time::Duration;

use bytes::BytesMut;
use rand_core::OsRng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::Encoder;

use super::TransportError;
use crate::crypto::handshake::{CLIENT_HELLO_LEN, PROTOCOL_VERSION};
use crate::crypto::{
    check_client_hello, server_respond, version_reject_body, ClientHandshake, ClientHello,
    ClientHelloError, ServerAccepted, ServerIdentity, SessionKeys,
};
use crate::protocol::{frame_prefix, FrameCodec};

/// The default time a handshake may take, from accept or connect (§7: 10 s).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes of a frame's length prefix.
const PREFIX_LEN: usize = 4;

/// Server side: reads the ClientHello, answers it and returns the session keys.
///
/// - A length prefix of zero or above `MAX_FRAME_LEN` is
///   [`TransportError::BadFrameLength`]: its body is not read; close.
/// - A hello of another version is answered with the plaintext "HRMX" frame
///   ([`version_reject_body`]), the write side is shut down, and the result is
///   [`TransportError::ClientHello`] with
///   [`ClientHelloError::UnsupportedVersion`].
/// - Any other bad hello is [`TransportError::ClientHello`] with nothing
///   written: close.
/// - Everything runs within `timeout`, else [`TransportError::Timeout`].
pub async fn server_handshake<S>(
    stream: &mut S,
    identity: &ServerIdentity,
    timeout: Duration,
) -> Result<SessionKeys, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let exchange = async {
        let hello = match read_client_hello(stream).await? {
            Ok(hello) => hello,
            Err(ClientHelloError::UnsupportedVersion(version)) => {
                let reason = format!(
                    "this server speaks protocol version {PROTOCOL_VERSION}, not {version}"
                );
                write_plain_frame(stream, &version_reject_body(&reason)).await?;
                // The peer learns at once that nothing follows; a failure here
                // changes nothing for the caller, who closes anyway.
                let _ = stream.shutdown().await;
                return Err(TransportError::ClientHello(
                    ClientHelloError::UnsupportedVersion(version),
                ));
            }
            Err(err) => return Err(TransportError::ClientHello(err)),
        };
        let (server_hello, keys) = server_respond(&hello, identity, &mut OsRng);
        write_plain_frame(stream, &server_hello).await?;
        Ok(keys)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| TransportError::Timeout(timeout))?
}

/// Client side: sends a ClientHello with a fresh ephemeral key and checks the
/// server's answer (signature included).
///
/// Whether the server is the expected one is the caller's check
/// ([`ServerAccepted::check_pinned`]). An "HRMX" answer is
/// [`TransportError::ServerHello`] with `HandshakeError::VersionRejected`.
pub async fn client_handshake<S>(
    stream: &mut S,
    timeout: Duration,
) -> Result<ServerAccepted, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let exchange = async {
        let (handshake, hello) = ClientHandshake::start(&mut OsRng);
        write_plain_frame(stream, &hello).await?;
        let body = read_plain_frame(stream).await?;
        handshake.finish(&body).map_err(TransportError::ServerHello)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| TransportError::Timeout(timeout))?
}

/// Reads the ClientHello frame and checks it.
///
/// Only its first [`CLIENT_HELLO_LEN`] bytes are kept, so a peer announcing a
/// 1 MiB hello costs 70 bytes of memory, not 1 MiB, for as long as the
/// handshake lasts. The version is checked first whatever the length (§2);
/// for a hello of another version the rest of the frame is read and dropped,
/// so the "HRMX" answer is not lost to a reset when the caller closes with
/// unread bytes. Any other bad hello is refused without reading further.
async fn read_client_hello<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Result<ClientHello, ClientHelloError>, TransportError> {
    let len = read_length(stream).await?;
    let kept = len.min(CLIENT_HELLO_LEN);
    let mut body = vec![0u8; kept];
    read_body(stream, &mut body, len).await?;
    if len == CLIENT_HELLO_LEN {
        return Ok(check_client_hello(&body));
    }
    match check_client_hello(&body) {
        Err(ClientHelloError::BadMagic) => Ok(Err(ClientHelloError::BadMagic)),
        Err(ClientHelloError::UnsupportedVersion(version)) => {
            discard(stream, len - kept).await?;
            Ok(Err(ClientHelloError::UnsupportedVersion(version)))
        }
        // Kept bytes that look fine, or a short hello: the length is wrong.
        _ => Ok(Err(ClientHelloError::BadLength { actual: len })),
    }
}

/// Reads and drops `count` bytes.
async fn discard<S: AsyncRead + Unpin>(stream: &mut S, count: usize) -> Result<(), TransportError> {
    let mut sink = tokio::io::sink();
    let copied = tokio::io::copy(&mut stream.take(count as u64), &mut sink).await?;
    if copied < count as u64 {
        return Err(TransportError::Closed);
    }
    Ok(())
}

/// Reads exactly one plaintext frame, checking its length before reading
/// (or allocating for) its body.
async fn read_plain_frame<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Vec<u8>, TransportError> {
    let len = read_length(stream).await?;
    let mut body = vec![0u8; len];
    read_body(stream, &mut body, len).await?;
    Ok(body)
}

/// Reads a length prefix and checks it (1..=`MAX_FRAME_LEN`).
async fn read_length<S: AsyncRead + Unpin>(stream: &mut S) -> Result<usize, TransportError> {
    let mut prefix = [0u8; PREFIX_LEN];
    let got = read_until_full(stream, &mut prefix).await?;
    if got == 0 {
        return Err(TransportError::Closed);
    }
    if got < PREFIX_LEN {
        return Err(TransportError::Truncated {
            have: got,
            need: PREFIX_LEN,
        });
    }
    let len = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
    // The frame layer's own check: zero or over-long is an error.
    frame_prefix(len)?;
    Ok(len)
}

/// Fills `body`, the first bytes of a frame of `len` bytes.
async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    body: &mut [u8],
    len: usize,
) -> Result<(), TransportError> {
    let got = read_until_full(stream, body).await?;
    if got < body.len() {
        return Err(TransportError::Truncated {
            have: PREFIX_LEN + got,
            need: PREFIX_LEN + len,
        });
    }
    Ok(())
}

/// Fills `buf` unless the stream ends first; returns the bytes read.
async fn read_until_full<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// Writes one plaintext frame in a single write, and flushes it.
async fn write_plain_frame<S: AsyncWrite + Unpin>(
    stream: &mut S,
    body: &[u8],
) -> Result<(), TransportError> {
    let mut frame = BytesMut::with_capacity(PREFIX_LEN + body.len());
    FrameCodec.encode(body, &mut frame)?;
    stream.write_all(&frame).await?;
    stream.flush().await?;
    Ok(())
}
