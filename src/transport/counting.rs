//! Byte counting on a connection: what the server's `bytes_in`/`bytes_out`
//! report, and the backlog a session holds for a peer that reads slowly.
//!
//! The server's writer never pushes back (tokio's socket answers "not ready"
//! where actix waits for "would block"), so a session measures its own
//! backlog: bytes encoded into the writer's buffer minus bytes the socket
//! took ([`Outbox::backlog`]).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::codec::Encoder;

use super::{EncryptingCodec, OutgoingMessage, TransportError};

/// What a connection has sent its peer: bytes encoded into the writer's
/// buffer and bytes the socket took from it.
#[derive(Debug, Default)]
pub struct Outbox {
    encoded: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl Outbox {
    /// Bytes encoded but not yet written to the socket.
    pub fn backlog(&self) -> u64 {
        self.encoded
            .load(Ordering::Relaxed)
            .saturating_sub(self.written.load(Ordering::Relaxed))
    }

    /// `codec`, counting what it encodes here and in `total_out` (the
    /// server's `bytes_out`).
    pub fn encoder(&self, codec: EncryptingCodec, total_out: Arc<AtomicU64>) -> CountingEncoder {
        CountingEncoder {
            inner: codec,
            encoded: Arc::clone(&self.encoded),
            total_out,
        }
    }

    /// `inner`, counting here what the socket takes.
    pub fn writer<W>(&self, inner: W) -> CountingWriter<W> {
        CountingWriter {
            inner,
            written: Arc::clone(&self.written),
        }
    }
}

/// An encrypting encoder that counts the bytes it produces: exactly what
/// the writer will have to write.
pub struct CountingEncoder {
    inner: EncryptingCodec,
    encoded: Arc<AtomicU64>,
    total_out: Arc<AtomicU64>,
}

impl Encoder<OutgoingMessage> for CountingEncoder {
    type Error = TransportError;

    fn encode(&mut self, message: OutgoingMessage, dst: &mut BytesMut) -> Result<(), Self::Error> {
        let before = dst.len();
        self.inner.encode(message, dst)?;
        let encoded = (dst.len() - before) as u64;
        self.encoded.fetch_add(encoded, Ordering::Relaxed);
        self.total_out.fetch_add(encoded, Ordering::Relaxed);
        Ok(())
    }
}

/// The write half of a connection, counting the bytes the socket takes.
pub struct CountingWriter<W> {
    inner: W,
    written: Arc<AtomicU64>,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for CountingWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = &poll {
            self.written.fetch_add(*written as u64, Ordering::Relaxed);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The read half of a connection, counting the bytes it reads (the
/// server's `bytes_in`).
pub struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    /// `inner`, adding every byte read to `count`.
    pub fn new(inner: R, count: Arc<AtomicU64>) -> Self {
        CountingReader { inner, count }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for CountingReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        self.count.fetch_add(read as u64, Ordering::Relaxed);
        poll
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Side;
    use crate::transport::codec::split_codecs;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn reader_and_writer_count_what_passes() {
        let (near, mut far) = tokio::io::duplex(64);
        let outbox = Outbox::default();
        let mut writer = outbox.writer(near);
        writer.write_all(b"hello").await.unwrap();
        assert_eq!(outbox.written.load(Ordering::Relaxed), 5);
        let count = Arc::new(AtomicU64::new(0));
        let mut reader = CountingReader::new(&mut far, Arc::clone(&count));
        let mut got = [0u8; 5];
        reader.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
        assert_eq!(count.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn the_backlog_is_encoded_minus_written() {
        let keys = crate::crypto::SessionKeys {
            client_to_server: [1; 32],
            server_to_client: [2; 32],
            transcript_hash: [3; 32],
        };
        let (encrypt, _) = split_codecs(&keys, Side::Server);
        let outbox = Outbox::default();
        let total = Arc::new(AtomicU64::new(0));
        let mut encoder = outbox.encoder(encrypt, Arc::clone(&total));
        let mut buffer = BytesMut::new();
        let message = OutgoingMessage::new(&serde_json::json!({"type": "ping"}), &[]).unwrap();
        encoder.encode(message, &mut buffer).unwrap();
        let encoded = buffer.len() as u64;
        assert_eq!(outbox.backlog(), encoded);
        assert_eq!(total.load(Ordering::Relaxed), encoded);
        outbox.written.fetch_add(encoded - 1, Ordering::Relaxed);
        assert_eq!(outbox.backlog(), 1);
    }
}
