//! Byte counting on a connection: what the server's `bytes_in`/`bytes_out`
//! report, and the backlog a session holds for a peer that reads slowly.
//!
//! The server's writer never pushes back (tokio's socket answers "not ready"
//! where actix waits for "would block"), so a session measures its own
//! backlog: bytes encoded into the writer's buffer minus bytes the socket
//! took ([`Outbox::backlog`]). Its [`Outbox::gate`] holds the session's
//! reading of requests while that backlog, with the answers already promised
//! to requests under way, is at its limit (PROTOCOL.md §7, 1.2: a client
//! that does not read its answers finds the server stops reading its
//! requests; TCP flow control then holds the client), and opens as soon as
//! the socket takes enough.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures::task::AtomicWaker;
use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::codec::Encoder;

use super::{EncryptingCodec, OutgoingMessage, TransportError};

/// What a connection has sent its peer and owes it, shared by its encoder,
/// its writer, its gate and the session.
#[derive(Debug)]
struct OutboxState {
    /// Bytes encoded into the writer's buffer.
    encoded: AtomicU64,
    /// Bytes the socket took.
    written: AtomicU64,
    /// Bytes set aside for answers of requests under way.
    promised: AtomicU64,
    /// Backlog plus promises at which the gate closes.
    limit: u64,
    /// The gate's reader, woken when the backlog drains.
    reader: AtomicWaker,
}

impl OutboxState {
    fn backlog(&self) -> u64 {
        self.encoded
            .load(Ordering::Relaxed)
            .saturating_sub(self.written.load(Ordering::Relaxed))
    }

    fn full(&self) -> bool {
        self.backlog()
            .saturating_add(self.promised.load(Ordering::Relaxed))
            >= self.limit
    }

    /// Opens the gate if there is room again.
    fn wake_if_room(&self) {
        if !self.full() {
            self.reader.wake();
        }
    }
}

/// What a connection has sent its peer: bytes encoded into the writer's
/// buffer, bytes the socket took from it, and the answers it has promised.
#[derive(Debug, Clone)]
pub struct Outbox {
    state: Arc<OutboxState>,
}

impl Outbox {
    /// An outbox whose [`gate`](Outbox::gate) closes when the backlog plus
    /// the promised answers reach `limit` bytes.
    pub fn new(limit: u64) -> Outbox {
        Outbox {
            state: Arc::new(OutboxState {
                encoded: AtomicU64::new(0),
                written: AtomicU64::new(0),
                promised: AtomicU64::new(0),
                limit,
                reader: AtomicWaker::new(),
            }),
        }
    }

    /// Bytes encoded but not yet written to the socket.
    pub fn backlog(&self) -> u64 {
        self.state.backlog()
    }

    /// Sets `bytes` aside for the answer of a request under way, so the gate
    /// counts it before it exists (a request whose answer may be large).
    pub fn promise(&self, bytes: u64) {
        self.state.promised.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Releases a [`promise`](Outbox::promise): the answer is encoded (and
    /// counted in the backlog) or will never be.
    pub fn release(&self, bytes: u64) {
        let _ =
            self.state
                .promised
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |promised| {
                    Some(promised.saturating_sub(bytes))
                });
        self.state.wake_if_room();
    }

    /// `codec`, counting what it encodes here and in `total_out` (the
    /// server's `bytes_out`).
    pub fn encoder(&self, codec: EncryptingCodec, total_out: Arc<AtomicU64>) -> CountingEncoder {
        CountingEncoder {
            inner: codec,
            outbox: Arc::clone(&self.state),
            total_out,
        }
    }

    /// `inner`, counting here what the socket takes.
    pub fn writer<W>(&self, inner: W) -> CountingWriter<W> {
        CountingWriter {
            inner,
            outbox: Arc::clone(&self.state),
        }
    }

    /// `incoming` (a connection's messages), yielding nothing while the
    /// backlog plus the promises are at the limit.
    pub fn gate<S>(&self, incoming: S) -> Gated<S> {
        Gated {
            inner: incoming,
            outbox: Arc::clone(&self.state),
        }
    }
}

/// A connection's incoming messages, held while its peer does not read
/// its answers ([`Outbox::gate`]).
pub struct Gated<S> {
    inner: S,
    outbox: Arc<OutboxState>,
}

impl<S: Stream + Unpin> Stream for Gated<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.outbox.full() {
            self.outbox.reader.register(cx.waker());
            // The socket may have taken bytes between the check and the
            // registration: look again so that no wake-up is lost.
            if self.outbox.full() {
                return Poll::Pending;
            }
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// An encrypting encoder that counts the bytes it produces: exactly what
/// the writer will have to write.
pub struct CountingEncoder {
    inner: EncryptingCodec,
    outbox: Arc<OutboxState>,
    total_out: Arc<AtomicU64>,
}

impl Encoder<OutgoingMessage> for CountingEncoder {
    type Error = TransportError;

    fn encode(&mut self, message: OutgoingMessage, dst: &mut BytesMut) -> Result<(), Self::Error> {
        let before = dst.len();
        self.inner.encode(message, dst)?;
        let encoded = (dst.len() - before) as u64;
        self.outbox.encoded.fetch_add(encoded, Ordering::Relaxed);
        self.total_out.fetch_add(encoded, Ordering::Relaxed);
        Ok(())
    }
}

/// The write half of a connection, counting the bytes the socket takes.
pub struct CountingWriter<W> {
    inner: W,
    outbox: Arc<OutboxState>,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for CountingWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = &poll {
            self.outbox
                .written
                .fetch_add(*written as u64, Ordering::Relaxed);
            self.outbox.wake_if_room();
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
        let outbox = Outbox::new(1 << 20);
        let mut writer = outbox.writer(near);
        writer.write_all(b"hello").await.unwrap();
        assert_eq!(outbox.state.written.load(Ordering::Relaxed), 5);
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
        let outbox = Outbox::new(1 << 20);
        let total = Arc::new(AtomicU64::new(0));
        let mut encoder = outbox.encoder(encrypt, Arc::clone(&total));
        let mut buffer = BytesMut::new();
        let message = OutgoingMessage::new(&serde_json::json!({"type": "ping"}), &[]).unwrap();
        encoder.encode(message, &mut buffer).unwrap();
        let encoded = buffer.len() as u64;
        assert_eq!(outbox.backlog(), encoded);
        assert_eq!(total.load(Ordering::Relaxed), encoded);
        outbox
            .state
            .written
            .fetch_add(encoded - 1, Ordering::Relaxed);
        assert_eq!(outbox.backlog(), 1);
    }

    #[tokio::test]
    async fn the_gate_holds_the_reader_until_the_peer_reads() {
        use futures::StreamExt;

        let outbox = Outbox::new(10);
        let mut gated = outbox.gate(futures::stream::iter([1, 2]));
        assert_eq!(gated.next().await, Some(1), "open below the limit");

        // 6 bytes encoded and not written, 4 promised: at the limit.
        outbox.state.encoded.fetch_add(6, Ordering::Relaxed);
        outbox.promise(4);
        let held = tokio::time::timeout(std::time::Duration::from_millis(50), gated.next());
        assert!(held.await.is_err(), "held at the limit");

        // The answer is encoded (backlog 6 + 4) and its promise released:
        // still full. The peer reads 1 byte: room again, and the reader
        // wakes without being polled by anyone else.
        outbox.state.encoded.fetch_add(4, Ordering::Relaxed);
        outbox.release(4);
        let (near, mut far) = tokio::io::duplex(64);
        let mut writer = outbox.writer(near);
        let next = tokio::spawn(async move { gated.next().await });
        tokio::task::yield_now().await;
        assert!(!next.is_finished());
        writer.write_all(b"x").await.unwrap();
        let mut byte = [0u8; 1];
        far.read_exact(&mut byte).await.unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), next).await;
        assert_eq!(got.unwrap().unwrap(), Some(2));
    }
}
