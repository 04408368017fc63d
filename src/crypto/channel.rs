//! The encrypted frames of PROTOCOL.md §3, after the handshake.
//!
//! Each direction has its own ChaCha20-Poly1305 key and its own frame counter,
//! starting at 0. The nonce is `4 zero bytes || u64 counter` (big-endian) and
//! the associated data is the frame's own 4-byte length prefix, so a frame
//! cannot be truncated, replayed, reordered or reflected back to its sender
//! without failing authentication.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};

use super::handshake::SessionKeys;
use super::ChannelError;

use crate::protocol::MAX_FRAME_LEN;

/// Length of the Poly1305 tag appended to every ciphertext.
pub const TAG_LEN: usize = 16;

/// Largest plaintext one encrypted frame can carry.
pub const MAX_PLAINTEXT_LEN: usize = MAX_FRAME_LEN - TAG_LEN;

/// Which end of the connection a channel belongs to: it picks which key seals
/// and which opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Seals with the client-to-server key, opens with the server-to-client key.
    Client,
    /// Seals with the server-to-client key, opens with the client-to-server key.
    Server,
}

/// The sealing and opening halves of one side's channel.
///
/// They are separate values so a connection's reader and writer can own one each.
pub fn channel_pair(keys: &SessionKeys, side: Side) -> (FrameSealer, FrameOpener) {
    let (seal_key, open_key) = match side {
        Side::Client => (&keys.client_to_server, &keys.server_to_client),
        Side::Server => (&keys.server_to_client, &keys.client_to_server),
    };
    (FrameSealer::new(seal_key), FrameOpener::new(open_key))
}

/// The nonce of frame `counter`: 4 zero bytes, then the counter big-endian.
fn nonce(counter: u64) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&counter.to_be_bytes());
    nonce.into()
}

/// Length prefix of a body of `body_len` bytes; callers have bounded it by `MAX_FRAME_LEN`.
fn length_prefix(body_len: usize) -> [u8; 4] {
    debug_assert!(body_len <= MAX_FRAME_LEN);
    (body_len as u32).to_be_bytes()
}

/// Encrypts the frames one side sends.
pub struct FrameSealer {
    cipher: ChaCha20Poly1305,
    /// Counter of the next frame; `None` once every counter has been used.
    next_counter: Option<u64>,
}

impl FrameSealer {
    /// A sealer with `key` whose first frame has counter 0.
    pub fn new(key: &[u8; 32]) -> FrameSealer {
        FrameSealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
            next_counter: Some(0),
        }
    }

    /// Seals `plaintext` into a whole frame: the 4-byte length prefix followed
    /// by ciphertext and tag, ready to write to the socket.
    ///
    /// The counter advances only when a frame is produced.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, ChannelError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(ChannelError::PlaintextTooLarge {
                len: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            });
        }
        let counter = self.next_counter.ok_or(ChannelError::CounterExhausted)?;
        let prefix = length_prefix(plaintext.len() + TAG_LEN);

        let mut frame = Vec::with_capacity(4 + plaintext.len() + TAG_LEN);
        frame.extend_from_slice(&prefix);
        frame.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .encrypt_in_place_detached(&nonce(counter), &prefix, &mut frame[4..])
            .map_err(|_| ChannelError::PlaintextTooLarge {
                len: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            })?;
        frame.extend_from_slice(&tag);

        self.next_counter = counter.checked_add(1);
        Ok(frame)
    }

    #[cfg(test)]
    fn starting_at(key: &[u8; 32], counter: u64) -> FrameSealer {
        FrameSealer {
            next_counter: Some(counter),
            ..FrameSealer::new(key)
        }
    }
}

impl std::fmt::Debug for FrameSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameSealer")
            .field("next_counter", &self.next_counter)
            .finish_non_exhaustive()
    }
}

/// Decrypts the frames one side receives.
pub struct FrameOpener {
    cipher: ChaCha20Poly1305,
    /// Counter the next frame must carry; `None` once every counter has been used.
    next_counter: Option<u64>,
}

impl FrameOpener {
    /// An opener with `key` that expects counter 0 first.
    pub fn new(key: &[u8; 32]) -> FrameOpener {
        FrameOpener {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
            next_counter: Some(0),
        }
    }

    /// Opens a frame body (what follows the length prefix) and returns its plaintext.
    ///
    /// The associated data is recomputed from `body.len()`. The counter
    /// advances only when the frame authenticates; any error must end the
    /// connection (PROTOCOL.md §3).
    pub fn open(&mut self, body: &[u8]) -> Result<Vec<u8>, ChannelError> {
        if body.len() < TAG_LEN || body.len() > MAX_FRAME_LEN {
            return Err(ChannelError::BadFrameLength {
                len: body.len(),
                max: MAX_FRAME_LEN,
            });
        }
        let counter = self.next_counter.ok_or(ChannelError::CounterExhausted)?;
        let prefix = length_prefix(body.len());
        let (ciphertext, tag) = body.split_at(body.len() - TAG_LEN);

        let mut plaintext = ciphertext.to_vec();
        self.cipher
            .decrypt_in_place_detached(
                &nonce(counter),
                &prefix,
                &mut plaintext,
                Tag::from_slice(tag),
            )
            .map_err(|_| ChannelError::Authentication)?;

        self.next_counter = counter.checked_add(1);
        Ok(plaintext)
    }

    #[cfg(test)]
    fn starting_at(key: &[u8; 32], counter: u64) -> FrameOpener {
        FrameOpener {
            next_counter: Some(counter),
            ..FrameOpener::new(key)
        }
    }
}

impl std::fmt::Debug for FrameOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameOpener")
            .field("next_counter", &self.next_counter)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_vectors::{load_vectors, vector_bytes};

    fn keys() -> SessionKeys {
        SessionKeys {
            client_to_server: [0x01; 32],
            server_to_client: [0x02; 32],
            transcript_hash: [0x03; 32],
        }
    }

    /// The body of a whole frame, after checking its prefix.
    fn body(frame: &[u8]) -> &[u8] {
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        &frame[4..]
    }

    #[test]
    fn round_trip_both_directions() {
        let (mut client_seal, mut client_open) = channel_pair(&keys(), Side::Client);
        let (mut server_seal, mut server_open) = channel_pair(&keys(), Side::Server);
        for message in [&b"hello"[..], b"", &[7u8; 5000]] {
            let frame = client_seal.seal(message).unwrap();
            assert_eq!(frame.len(), 4 + message.len() + TAG_LEN);
            assert_eq!(server_open.open(body(&frame)).unwrap(), message);
            let frame = server_seal.seal(message).unwrap();
            assert_eq!(client_open.open(body(&frame)).unwrap(), message);
        }
    }

    #[test]
    fn same_plaintext_gives_different_frames() {
        let (mut seal, _) = channel_pair(&keys(), Side::Client);
        assert_ne!(seal.seal(b"ping").unwrap(), seal.seal(b"ping").unwrap());
    }

    #[test]
    fn tampered_ciphertext_tag_or_length_fails() {
        let (mut seal, _) = channel_pair(&keys(), Side::Client);
        let frame = seal.seal(b"some plaintext").unwrap();

        let mut ciphertext = body(&frame).to_vec();
        ciphertext[0] ^= 0x80;
        let mut tag = body(&frame).to_vec();
        *tag.last_mut().unwrap() ^= 0x01;
        // A body cut short or padded changes the length, hence the associated data.
        let shorter = &body(&frame)[1..];
        let mut longer = body(&frame).to_vec();
        longer.push(0);

        for bad in [&ciphertext[..], &tag, shorter, &longer] {
            let (_, mut open) = channel_pair(&keys(), Side::Server);
            assert_eq!(open.open(bad).unwrap_err(), ChannelError::Authentication);
            // The counter did not move: the genuine frame still opens.
            assert_eq!(open.open(body(&frame)).unwrap(), b"some plaintext");
        }
    }

    #[test]
    fn replayed_frame_fails() {
        let (mut seal, _) = channel_pair(&keys(), Side::Client);
        let (_, mut open) = channel_pair(&keys(), Side::Server);
        let frame = seal.seal(b"once").unwrap();
        open.open(body(&frame)).unwrap();
        assert_eq!(
            open.open(body(&frame)).unwrap_err(),
            ChannelError::Authentication
        );
    }

    #[test]
    fn out_of_order_frames_fail() {
        let (mut seal, _) = channel_pair(&keys(), Side::Client);
        let (_, mut open) = channel_pair(&keys(), Side::Server);
        let first = seal.seal(b"first").unwrap();
        let second = seal.seal(b"second").unwrap();
        assert_eq!(
            open.open(body(&second)).unwrap_err(),
            ChannelError::Authentication
        );
        assert_eq!(open.open(body(&first)).unwrap(), b"first");
        assert_eq!(open.open(body(&second)).unwrap(), b"second");
    }

    #[test]
    fn wrong_direction_key_fails() {
        // A frame reflected back to its sender does not open there.
        let (mut client_seal, mut client_open) = channel_pair(&keys(), Side::Client);
        let frame = client_seal.seal(b"reflect me").unwrap();
        assert_eq!(
            client_open.open(body(&frame)).unwrap_err(),
            ChannelError::Authentication
        );
        let other = SessionKeys {
            client_to_server: [0x09; 32],
            ..keys()
        };
        let (_, mut stranger) = channel_pair(&other, Side::Server);
        assert_eq!(
            stranger.open(body(&frame)).unwrap_err(),
            ChannelError::Authentication
        );
    }

    #[test]
    fn oversize_plaintext_is_rejected_and_largest_fits() {
        let (mut seal, _) = channel_pair(&keys(), Side::Client);
        let (_, mut open) = channel_pair(&keys(), Side::Server);
        let too_big = vec![0u8; MAX_PLAINTEXT_LEN + 1];
        assert_eq!(
            seal.seal(&too_big).unwrap_err(),
            ChannelError::PlaintextTooLarge {
                len: MAX_PLAINTEXT_LEN + 1,
                max: MAX_PLAINTEXT_LEN
            }
        );
        // The refusal did not use a counter.
        let largest = seal.seal(&too_big[1..]).unwrap();
        assert_eq!(largest.len(), 4 + MAX_FRAME_LEN);
        assert_eq!(&largest[..4], &(MAX_FRAME_LEN as u32).to_be_bytes());
        assert_eq!(open.open(body(&largest)).unwrap().len(), MAX_PLAINTEXT_LEN);
    }

    #[test]
    fn bodies_of_impossible_length_are_rejected() {
        let (_, mut open) = channel_pair(&keys(), Side::Server);
        assert!(matches!(
            open.open(&[0u8; 15]),
            Err(ChannelError::BadFrameLength { len: 15, .. })
        ));
        assert!(matches!(
            open.open(&vec![0u8; MAX_FRAME_LEN + 1]),
            Err(ChannelError::BadFrameLength { .. })
        ));
    }

    #[test]
    fn counter_never_wraps() {
        let key = [0x05; 32];
        let mut seal = FrameSealer::starting_at(&key, u64::MAX);
        let mut open = FrameOpener::starting_at(&key, u64::MAX);
        let last = seal.seal(b"last").unwrap();
        assert_eq!(
            seal.seal(b"one more").unwrap_err(),
            ChannelError::CounterExhausted
        );
        assert_eq!(open.open(body(&last)).unwrap(), b"last");
        assert_eq!(
            open.open(body(&last)).unwrap_err(),
            ChannelError::CounterExhausted
        );
    }

    #[test]
    fn reproduces_the_frame_test_vectors() {
        let Some(v) = load_vectors() else { return };
        let keys = SessionKeys {
            client_to_server: vector_bytes(&v, "k_c2s").try_into().unwrap(),
            server_to_client: vector_bytes(&v, "k_s2c").try_into().unwrap(),
            transcript_hash: vector_bytes(&v, "transcript_hash").try_into().unwrap(),
        };
        let frames = v["frames"].as_array().unwrap();
        assert_eq!(frames.len(), 3);
        for case in frames {
            let plaintext = hex::decode(case["plaintext"].as_str().unwrap()).unwrap();
            let frame = hex::decode(case["frame"].as_str().unwrap()).unwrap();
            let counter = case["counter"].as_u64().unwrap();
            let (seal_key, label) = match case["direction"].as_str().unwrap() {
                "c2s" => (&keys.client_to_server, "c2s"),
                "s2c" => (&keys.server_to_client, "s2c"),
                other => panic!("unknown direction {other}"),
            };
            let sealed = FrameSealer::starting_at(seal_key, counter)
                .seal(&plaintext)
                .unwrap();
            assert_eq!(
                hex::encode(&sealed),
                hex::encode(&frame),
                "{label} #{counter}"
            );
            let opened = FrameOpener::starting_at(seal_key, counter)
                .open(&frame[4..])
                .unwrap();
            assert_eq!(opened, plaintext, "{label} #{counter}");
        }

        // The same frames through the public API, in the order of the conversation.
        let (mut client_seal, mut client_open) = channel_pair(&keys, Side::Client);
        let (mut server_seal, mut server_open) = channel_pair(&keys, Side::Server);
        for case in frames {
            let plaintext = hex::decode(case["plaintext"].as_str().unwrap()).unwrap();
            let frame = hex::decode(case["frame"].as_str().unwrap()).unwrap();
            let (seal, open) = if case["direction"] == "c2s" {
                (&mut client_seal, &mut server_open)
            } else {
                (&mut server_seal, &mut client_open)
            };
            assert_eq!(seal.seal(&plaintext).unwrap(), frame);
            assert_eq!(open.open(&frame[4..]).unwrap(), plaintext);
        }
    }
}
