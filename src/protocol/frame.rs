//! Frames (§1): `u32 length (big-endian) | body[length]`, with
//! `1 <= length <= MAX_FRAME_LEN`.
//!
//! The length prefix is checked before anything is reserved for the body, so
//! a peer cannot make us allocate more than one frame's worth, and a bad
//! prefix is reported at once (without waiting for a body that may never
//! come). "Need more bytes" is `Ok(None)`, never an error.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::FrameError;

/// The largest frame body of protocol version 1 (1 MiB).
pub const MAX_FRAME_LEN: usize = 1_048_576;

/// Bytes of the length prefix.
const PREFIX_LEN: usize = 4;

/// The 4-byte length prefix of a frame whose body is `body_len` bytes.
///
/// §3 uses it as the associated data of the AEAD, so the crypto layer needs it
/// before the frame is written. Fails like the decoder would on such a frame.
pub fn frame_prefix(body_len: usize) -> Result<[u8; 4], FrameError> {
    check_len(body_len)?;
    // `check_len` bounds it to 1 MiB, so it fits in a u32.
    let len = u32::try_from(body_len).map_err(|_| FrameError::TooLong(body_len))?;
    Ok(len.to_be_bytes())
}

fn check_len(len: usize) -> Result<(), FrameError> {
    if len == 0 {
        Err(FrameError::Empty)
    } else if len > MAX_FRAME_LEN {
        Err(FrameError::TooLong(len))
    } else {
        Ok(())
    }
}

/// The frame codec of §1, for `FramedRead`/`FramedWrite`/`Framed`.
///
/// Decodes to the frame's body (prefix stripped); encodes a body by
/// prepending its length. It is the same on both sides of the connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameCodec;

impl FrameCodec {
    /// A new codec (it has no state: a frame is decoded when complete).
    pub fn new() -> Self {
        Self
    }

    fn encode_body(&self, body: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        let prefix = frame_prefix(body.len())?;
        dst.reserve(PREFIX_LEN + body.len());
        dst.put_slice(&prefix);
        dst.put_slice(body);
        Ok(())
    }
}

impl Decoder for FrameCodec {
    type Item = BytesMut;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        let Some(prefix) = src.get(..PREFIX_LEN) else {
            return Ok(None);
        };
        let mut prefix_bytes = [0u8; PREFIX_LEN];
        prefix_bytes.copy_from_slice(prefix);
        // A u32 always fits in usize on the 32- and 64-bit targets we build for;
        // saturate rather than truncate anywhere else.
        let len = usize::try_from(u32::from_be_bytes(prefix_bytes)).unwrap_or(usize::MAX);
        check_len(len)?;

        let need = PREFIX_LEN + len;
        if src.len() < need {
            // Bounded by MAX_FRAME_LEN thanks to the check above.
            src.reserve(need - src.len());
            return Ok(None);
        }
        src.advance(PREFIX_LEN);
        Ok(Some(src.split_to(len)))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        match self.decode(src)? {
            Some(body) => Ok(Some(body)),
            None if src.is_empty() => Ok(None),
            None => {
                let need = src.get(..PREFIX_LEN).map_or(PREFIX_LEN, |prefix| {
                    let mut prefix_bytes = [0u8; PREFIX_LEN];
                    prefix_bytes.copy_from_slice(prefix);
                    PREFIX_LEN + u32::from_be_bytes(prefix_bytes) as usize
                });
                Err(FrameError::Truncated {
                    have: src.len(),
                    need,
                })
            }
        }
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, body: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.encode_body(&body, dst)
    }
}

impl Encoder<&[u8]> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, body: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        self.encode_body(body, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    use tokio_util::codec::FramedRead;

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        FrameCodec.encode(body, &mut out).unwrap();
        out.to_vec()
    }

    #[test]
    fn encode_writes_big_endian_length_then_body() {
        assert_eq!(framed(b"abc"), [0, 0, 0, 3, b'a', b'b', b'c']);
        let mut out = BytesMut::new();
        FrameCodec
            .encode(Bytes::from_static(&[7; 300]), &mut out)
            .unwrap();
        assert_eq!(&out[..4], &[0, 0, 1, 44]);
        assert_eq!(out.len(), 304);
    }

    #[test]
    fn encode_refuses_empty_and_over_long_bodies() {
        let mut out = BytesMut::new();
        assert!(matches!(
            FrameCodec.encode(&[][..], &mut out),
            Err(FrameError::Empty)
        ));
        let big = vec![0u8; MAX_FRAME_LEN + 1];
        assert!(matches!(
            FrameCodec.encode(&big[..], &mut out),
            Err(FrameError::TooLong(n)) if n == MAX_FRAME_LEN + 1
        ));
        assert!(out.is_empty());
        let max = vec![1u8; MAX_FRAME_LEN];
        FrameCodec.encode(&max[..], &mut out).unwrap();
        assert_eq!(out.len(), MAX_FRAME_LEN + 4);
    }

    #[test]
    fn prefix_matches_encoder() {
        assert_eq!(frame_prefix(0x2a).unwrap(), [0, 0, 0, 0x2a]);
        assert!(matches!(frame_prefix(0), Err(FrameError::Empty)));
        assert!(matches!(
            frame_prefix(MAX_FRAME_LEN + 1),
            Err(FrameError::TooLong(_))
        ));
    }

    #[test]
    fn decode_one_byte_at_a_time() {
        let mut wire = framed(b"hello");
        wire.extend(framed(&[0xff]));
        let mut codec = FrameCodec;
        let mut buf = BytesMut::new();
        let mut bodies = Vec::new();
        for byte in wire {
            buf.put_u8(byte);
            while let Some(body) = codec.decode(&mut buf).unwrap() {
                bodies.push(body.to_vec());
            }
        }
        assert_eq!(bodies, vec![b"hello".to_vec(), vec![0xff]]);
        assert!(buf.is_empty());
    }

    #[test]
    fn zero_length_prefix_is_empty_error_not_incomplete() {
        let mut buf = BytesMut::from(&[0u8, 0, 0][..]);
        assert!(FrameCodec.decode(&mut buf).unwrap().is_none());
        buf.put_u8(0);
        assert!(matches!(
            FrameCodec.decode(&mut buf),
            Err(FrameError::Empty)
        ));
    }

    #[test]
    fn over_long_prefix_fails_before_any_body_or_allocation() {
        let len = (MAX_FRAME_LEN + 1) as u32;
        let mut buf = BytesMut::with_capacity(4);
        buf.put_u32(len);
        let before = buf.capacity();
        assert!(matches!(
            FrameCodec.decode(&mut buf),
            Err(FrameError::TooLong(n)) if n == MAX_FRAME_LEN + 1
        ));
        assert_eq!(buf.capacity(), before, "nothing reserved for a bad frame");

        let mut buf = BytesMut::new();
        buf.put_u32(u32::MAX);
        assert!(matches!(
            FrameCodec.decode(&mut buf),
            Err(FrameError::TooLong(n)) if n == u32::MAX as usize
        ));
    }

    #[test]
    fn a_max_length_prefix_waits_for_its_body() {
        let mut buf = BytesMut::new();
        buf.put_u32(MAX_FRAME_LEN as u32);
        buf.put_slice(&[1, 2, 3]);
        assert!(FrameCodec.decode(&mut buf).unwrap().is_none());
        assert!(buf.capacity() >= MAX_FRAME_LEN + 4);
        buf.put_slice(&vec![9u8; MAX_FRAME_LEN - 3]);
        let body = FrameCodec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(body.len(), MAX_FRAME_LEN);
        assert_eq!(&body[..4], &[1, 2, 3, 9]);
    }

    #[test]
    fn eof_inside_a_frame_is_truncated() {
        let mut buf = BytesMut::from(&[0u8, 0, 0, 5, 1, 2][..]);
        assert!(matches!(
            FrameCodec.decode_eof(&mut buf),
            Err(FrameError::Truncated { have: 6, need: 9 })
        ));
        let mut empty = BytesMut::new();
        assert!(FrameCodec.decode_eof(&mut empty).unwrap().is_none());
    }

    #[tokio::test]
    async fn framed_read_over_a_tiny_duplex() {
        let (mut writer, reader) = tokio::io::duplex(3);
        let write = tokio::spawn(async move {
            let mut wire = framed(b"first");
            wire.extend(framed(&vec![0xab; 5000]));
            wire.extend(framed(b"x"));
            writer.write_all(&wire).await.unwrap();
            // Then a zero-length prefix: the reader must fail, not hang.
            writer.write_all(&[0, 0, 0, 0]).await.unwrap();
            writer
        });
        let mut frames = FramedRead::new(reader, FrameCodec::new());
        assert_eq!(&frames.next().await.unwrap().unwrap()[..], b"first");
        let big = frames.next().await.unwrap().unwrap();
        assert_eq!(big.len(), 5000);
        assert!(big.iter().all(|&b| b == 0xab));
        assert_eq!(&frames.next().await.unwrap().unwrap()[..], b"x");
        assert!(matches!(
            frames.next().await.unwrap(),
            Err(FrameError::Empty)
        ));
        drop(write.await.unwrap());
    }

    #[tokio::test]
    async fn framed_read_rejects_over_long_prefix_without_its_body() {
        let (mut writer, reader) = tokio::io::duplex(64);
        // Only the prefix is ever written and the writer stays open: the
        // error must come from the prefix alone.
        writer
            .write_all(&((MAX_FRAME_LEN as u32) + 1).to_be_bytes())
            .await
            .unwrap();
        let mut frames = FramedRead::new(reader, FrameCodec);
        assert!(matches!(
            frames.next().await.unwrap(),
            Err(FrameError::TooLong(_))
        ));
        drop(writer);
    }

    #[tokio::test]
    async fn framed_read_reports_truncation_at_eof() {
        let (mut writer, reader) = tokio::io::duplex(64);
        writer.write_all(&[0, 0, 0, 10, 1, 2, 3]).await.unwrap();
        drop(writer);
        let mut frames = FramedRead::new(reader, FrameCodec);
        assert!(matches!(
            frames.next().await.unwrap(),
            Err(FrameError::Truncated { have: 7, need: 14 })
        ));
    }
}
