//! Encrypted frames carrying messages (PROTOCOL.md §3 and §4), as tokio-util
//! codecs.
//!
//! Reading: frame (§1, length checked before the body) → open (§3) →
//! [`decode_message`] (§4). Writing: [`encode_message`] (when the
//! [`OutgoingMessage`] is built) → seal. A message whose header cannot be
//! read does not end the stream: it comes out as [`Incoming::Unreadable`], for
//! the server to answer `bad_request`; every [`TransportError`] does end it.

use bytes::{Bytes, BytesMut};
use serde::Serialize;
use tokio_util::codec::{Decoder, Encoder};

use super::TransportError;
use crate::crypto::{channel_pair, FrameOpener, FrameSealer, SessionKeys, Side};
use crate::protocol::{decode_message, encode_message, FrameCodec, MessageError, RawMessage};

/// Bytes a message gains on the wire: the frame's length prefix and the AEAD tag.
const FRAME_OVERHEAD: usize = 4 + crate::crypto::channel::TAG_LEN;

/// One message read from an encrypted frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A message with a JSON-object header (its `type` and `id` unchecked).
    Message(RawMessage),
    /// The frame authenticated but its plaintext is not a readable message
    /// (§4: answered `error` `bad_request` without `id`; the session goes on).
    Unreadable(MessageError),
}

/// A message ready to be sealed: its plaintext (`header_len | header | payload`)
/// is built, and checked to fit in one frame, when the value is made, so the
/// writer can only fail on the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    plaintext: Bytes,
}

impl OutgoingMessage {
    /// Encodes `header` (anything that serialises to a JSON object: a
    /// `serde_json::Map`, a `Value::Object`, `OkResponse`, `ErrorResponse`,
    /// `Push`...) and `payload`. Fails if the header is not an object or the
    /// message does not fit in one frame ([`MessageError::TooLong`]).
    pub fn new<H: Serialize + ?Sized>(header: &H, payload: &[u8]) -> Result<Self, MessageError> {
        Ok(Self {
            plaintext: Bytes::from(encode_message(header, payload)?),
        })
    }

    /// A message with an empty payload.
    pub fn header_only<H: Serialize + ?Sized>(header: &H) -> Result<Self, MessageError> {
        Self::new(header, &[])
    }

    /// A message from an already encoded plaintext (test vectors).
    #[cfg(test)]
    pub(crate) fn from_plaintext(plaintext: Bytes) -> Self {
        Self { plaintext }
    }

    /// The message's plaintext, as it will be sealed.
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }

    /// Bytes this message takes on the wire (prefix, ciphertext and tag), for
    /// traffic counters.
    pub fn wire_len(&self) -> usize {
        self.plaintext.len() + FRAME_OVERHEAD
    }
}

/// The reading half: decodes frames, opens them and splits the messages.
#[derive(Debug)]
pub struct DecryptingCodec {
    frames: FrameCodec,
    opener: FrameOpener,
}

impl DecryptingCodec {
    /// A decoder of the frames that `side` receives (the other side's key).
    pub fn new(keys: &SessionKeys, side: Side) -> Self {
        split_codecs(keys, side).1
    }

    fn open(&mut self, body: Option<BytesMut>) -> Result<Option<Incoming>, TransportError> {
        let Some(body) = body else {
            return Ok(None);
        };
        let plaintext = self.opener.open(&body)?;
        Ok(Some(match decode_message(Bytes::from(plaintext)) {
            Ok(message) => Incoming::Message(message),
            Err(err) => Incoming::Unreadable(err),
        }))
    }
}

impl Decoder for DecryptingCodec {
    type Item = Incoming;
    type Error = TransportError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, TransportError> {
        let body = self.frames.decode(src)?;
        self.open(body)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, TransportError> {
        let body = self.frames.decode_eof(src)?;
        self.open(body)
    }
}

/// The writing half: seals messages into frames.
#[derive(Debug)]
pub struct EncryptingCodec {
    sealer: FrameSealer,
}

impl EncryptingCodec {
    /// An encoder of the frames that `side` sends (its own key).
    pub fn new(keys: &SessionKeys, side: Side) -> Self {
        split_codecs(keys, side).0
    }
}

impl Encoder<OutgoingMessage> for EncryptingCodec {
    type Error = TransportError;

    fn encode(
        &mut self,
        message: OutgoingMessage,
        dst: &mut BytesMut,
    ) -> Result<(), TransportError> {
        let frame = self.sealer.seal(&message.plaintext)?;
        dst.extend_from_slice(&frame);
        Ok(())
    }
}

/// The two halves of one side's channel, for a `FramedWrite` over the write
/// half of a socket and a `FramedRead` over its read half.
pub fn split_codecs(keys: &SessionKeys, side: Side) -> (EncryptingCodec, DecryptingCodec) {
    let (sealer, opener) = channel_pair(keys, side);
    (
        EncryptingCodec { sealer },
        DecryptingCodec {
            frames: FrameCodec::new(),
            opener,
        },
    )
}

/// Both halves in one codec, for a single `Framed` over an unsplit stream.
#[derive(Debug)]
pub struct EncryptedCodec {
    encrypting: EncryptingCodec,
    decrypting: DecryptingCodec,
}

impl EncryptedCodec {
    /// The codec of `side` for the session `keys`.
    pub fn new(keys: &SessionKeys, side: Side) -> Self {
        let (encrypting, decrypting) = split_codecs(keys, side);
        Self {
            encrypting,
            decrypting,
        }
    }

    /// The two halves, to split a connection after all.
    pub fn into_parts(self) -> (EncryptingCodec, DecryptingCodec) {
        (self.encrypting, self.decrypting)
    }
}

impl Decoder for EncryptedCodec {
    type Item = Incoming;
    type Error = TransportError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, TransportError> {
        self.decrypting.decode(src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, TransportError> {
        self.decrypting.decode_eof(src)
    }
}

impl Encoder<OutgoingMessage> for EncryptedCodec {
    type Error = TransportError;

    fn encode(
        &mut self,
        message: OutgoingMessage,
        dst: &mut BytesMut,
    ) -> Result<(), TransportError> {
        self.encrypting.encode(message, dst)
    }
}
