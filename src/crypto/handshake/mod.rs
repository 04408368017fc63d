//! The plaintext handshake of PROTOCOL.md §2, for both sides.
//!
//! The client sends an ephemeral P-256 key; the server answers with its own
//! ephemeral key, its long-lived identity key and a signature binding both to
//! the client's hello. Both sides then derive one ChaCha20-Poly1305 key per
//! direction from the ECDH secret, salted with the hash of the two hellos.

use std::fmt;

use hkdf::Hkdf;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};

use super::identity::{fingerprint, ServerIdentity};
use super::{ClientHelloError, CryptoError, HandshakeError};

/// Magic of a ClientHello.
pub const CLIENT_MAGIC: &[u8; 4] = b"HRMC";
/// Magic of a ServerHello.
pub const SERVER_MAGIC: &[u8; 4] = b"HRMS";
/// Magic of the server's answer to a version it does not speak.
pub const REJECT_MAGIC: &[u8; 4] = b"HRMX";
/// The protocol version this crate speaks (and the highest it supports).
pub const PROTOCOL_VERSION: u8 = 1;
/// Length of an SEC1 uncompressed P-256 point: `0x04 || X || Y`.
pub const PUBLIC_KEY_LEN: usize = 65;
/// Length of a fixed-form ECDSA P-256 signature, `r || s`.
pub const SIGNATURE_LEN: usize = 64;
/// Length of a ClientHello body: magic, version, ephemeral key.
pub const CLIENT_HELLO_LEN: usize = 4 + 1 + PUBLIC_KEY_LEN;
/// Length of a ServerHello body: magic, version, ephemeral key, identity key, signature.
pub const SERVER_HELLO_LEN: usize = 4 + 1 + PUBLIC_KEY_LEN + PUBLIC_KEY_LEN + SIGNATURE_LEN;
/// Prefix of the message the server signs (domain separation).
pub const SIGNATURE_CONTEXT: &[u8] = b"harmonic/1 server signature";
/// HKDF info of the client-to-server key.
pub const HKDF_INFO_CLIENT_TO_SERVER: &[u8] = b"harmonic/1 client->server";
/// HKDF info of the server-to-client key.
pub const HKDF_INFO_SERVER_TO_CLIENT: &[u8] = b"harmonic/1 server->client";

/// Tag of an SEC1 uncompressed point; the protocol accepts no other encoding.
const SEC1_UNCOMPRESSED_TAG: u8 = 0x04;

/// The keys both sides derive from a completed handshake.
///
/// `Debug` shows the transcript hash (public) and redacts the keys.
#[derive(Clone)]
pub struct SessionKeys {
    /// Key of the frames the client sends.
    pub client_to_server: [u8; 32],
    /// Key of the frames the server sends.
    pub server_to_client: [u8; 32],
    /// SHA-256 of ClientHello body || ServerHello body.
    pub transcript_hash: [u8; 32],
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKeys")
            .field("client_to_server", &"<redacted>")
            .field("server_to_client", &"<redacted>")
            .field("transcript_hash", &hex::encode(self.transcript_hash))
            .finish()
    }
}

/// A ClientHello the server has checked: right magic, version and length, and
/// a valid ephemeral key.
#[derive(Clone)]
pub struct ClientHello {
    body: [u8; CLIENT_HELLO_LEN],
    ephemeral_key: PublicKey,
}

impl ClientHello {
    /// The hello's exact bytes (they enter the signature and the transcript hash).
    pub fn body(&self) -> &[u8; CLIENT_HELLO_LEN] {
        &self.body
    }

    /// The client's ephemeral public key, SEC1 uncompressed.
    pub fn ephemeral_key_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        let mut key = [0u8; PUBLIC_KEY_LEN];
        key.copy_from_slice(&self.body[5..]);
        key
    }
}

impl fmt::Debug for ClientHello {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHello")
            .field("ephemeral_key", &hex::encode(&self.body[5..]))
            .finish()
    }
}

/// Server side: checks a ClientHello body.
///
/// The version is checked first, whatever the length: a body that starts with
/// "HRMC" and has a fifth byte other than 1 is
/// [`ClientHelloError::UnsupportedVersion`], to be answered with
/// [`version_reject_body`]. Every other error means: close the connection.
pub fn check_client_hello(body: &[u8]) -> Result<ClientHello, ClientHelloError> {
    if !body.starts_with(CLIENT_MAGIC) {
        return Err(ClientHelloError::BadMagic);
    }
    if let Some(&version) = body.get(4) {
        if version != PROTOCOL_VERSION {
            return Err(ClientHelloError::UnsupportedVersion(version));
        }
    }
    let body: [u8; CLIENT_HELLO_LEN] = body
        .try_into()
        .map_err(|_| ClientHelloError::BadLength { actual: body.len() })?;
    let ephemeral_key =
        parse_uncompressed_point(&body[5..]).ok_or(ClientHelloError::BadEphemeralKey)?;
    Ok(ClientHello {
        body,
        ephemeral_key,
    })
}

/// Server side: the body answering a ClientHello of a version this server does
/// not speak: `"HRMX" | highest supported version | UTF-8 reason`.
pub fn version_reject_body(reason: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(5 + reason.len());
    body.extend_from_slice(REJECT_MAGIC);
    body.push(PROTOCOL_VERSION);
    body.extend_from_slice(reason.as_bytes());
    body
}

/// Server side: answers a checked ClientHello with a fresh ephemeral key.
///
/// Returns the 199-byte ServerHello body to send and the session keys.
pub fn server_respond(
    hello: &ClientHello,
    identity: &ServerIdentity,
    rng: &mut impl CryptoRngCore,
) -> (Vec<u8>, SessionKeys) {
    respond_with_key(hello, identity, &SecretKey::random(rng))
}

/// Server side: as [`server_respond`], with the ephemeral secret scalar given
/// (32 bytes, big-endian). Only for test vectors: a reused ephemeral key
/// destroys forward secrecy.
pub fn server_respond_with_secret(
    hello: &ClientHello,
    identity: &ServerIdentity,
    ephemeral_secret: &[u8; 32],
) -> Result<(Vec<u8>, SessionKeys), CryptoError> {
    let secret =
        SecretKey::from_slice(ephemeral_secret).map_err(|_| CryptoError::InvalidSecretKey)?;
    Ok(respond_with_key(hello, identity, &secret))
}

fn respond_with_key(
    hello: &ClientHello,
    identity: &ServerIdentity,
    ephemeral: &SecretKey,
) -> (Vec<u8>, SessionKeys) {
    let ephemeral_key = uncompressed_bytes(&ephemeral.public_key());
    let identity_key = identity.public_key_bytes();
    let signature = identity.sign(&signed_message(&hello.body, &ephemeral_key, &identity_key));

    let mut server_hello = Vec::with_capacity(SERVER_HELLO_LEN);
    server_hello.extend_from_slice(SERVER_MAGIC);
    server_hello.push(PROTOCOL_VERSION);
    server_hello.extend_from_slice(&ephemeral_key);
    server_hello.extend_from_slice(&identity_key);
    server_hello.extend_from_slice(&signature);
    debug_assert_eq!(server_hello.len(), SERVER_HELLO_LEN);

    let shared = ecdh_shared_x(ephemeral, &hello.ephemeral_key);
    let keys = derive_session_keys(&hello.body, &server_hello, &shared);
    (server_hello, keys)
}

/// What the client learns from a valid ServerHello.
#[derive(Debug, Clone)]
pub struct ServerAccepted {
    /// The session keys.
    pub keys: SessionKeys,
    /// The server's identity key, SEC1 uncompressed.
    pub identity_key: [u8; PUBLIC_KEY_LEN],
    /// `hex(SHA-256(identity_key))`, to compare with the pinned one.
    pub fingerprint: String,
}

impl ServerAccepted {
    /// Checks the server's identity against the fingerprint pinned for it
    /// (trust on first use); case-insensitive hex.
    pub fn check_pinned(&self, pinned_fingerprint: &str) -> Result<(), HandshakeError> {
        if self
            .fingerprint
            .eq_ignore_ascii_case(pinned_fingerprint.trim())
        {
            Ok(())
        } else {
            Err(HandshakeError::IdentityChanged {
                pinned: pinned_fingerprint.trim().to_ascii_lowercase(),
                presented: self.fingerprint.clone(),
            })
        }
    }
}

/// Client side of the handshake: holds the ephemeral secret between the
/// ClientHello and the server's answer.
pub struct ClientHandshake {
    ephemeral: SecretKey,
    hello: [u8; CLIENT_HELLO_LEN],
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandshake")
            .field("hello", &hex::encode(self.hello))
            .field("ephemeral_secret", &"<redacted>")
            .finish()
    }
}

impl ClientHandshake {
    /// Starts a handshake with a fresh ephemeral key; returns the state and the
    /// 70-byte ClientHello body to send.
    pub fn start(rng: &mut impl CryptoRngCore) -> (ClientHandshake, [u8; CLIENT_HELLO_LEN]) {
        Self::with_key(SecretKey::random(rng))
    }

    /// As [`ClientHandshake::start`], with the ephemeral secret scalar given
    /// (32 bytes, big-endian). Only for test vectors.
    pub fn from_secret(
        ephemeral_secret: &[u8; 32],
    ) -> Result<(ClientHandshake, [u8; CLIENT_HELLO_LEN]), CryptoError> {
        let secret =
            SecretKey::from_slice(ephemeral_secret).map_err(|_| CryptoError::InvalidSecretKey)?;
        Ok(Self::with_key(secret))
    }

    fn with_key(ephemeral: SecretKey) -> (ClientHandshake, [u8; CLIENT_HELLO_LEN]) {
        let mut hello = [0u8; CLIENT_HELLO_LEN];
        hello[..4].copy_from_slice(CLIENT_MAGIC);
        hello[4] = PROTOCOL_VERSION;
        hello[5..].copy_from_slice(&uncompressed_bytes(&ephemeral.public_key()));
        (ClientHandshake { ephemeral, hello }, hello)
    }

    /// The ClientHello body this handshake sent.
    pub fn hello(&self) -> &[u8; CLIENT_HELLO_LEN] {
        &self.hello
    }

    /// Checks the server's answer (a ServerHello or an "HRMX" rejection),
    /// verifies the signature and derives the session keys.
    ///
    /// The identity is only proven to hold its key here; whether it is the
    /// expected server is for [`ServerAccepted::check_pinned`] to say.
    pub fn finish(self, server_body: &[u8]) -> Result<ServerAccepted, HandshakeError> {
        if server_body.starts_with(REJECT_MAGIC) {
            let Some(&highest) = server_body.get(4) else {
                return Err(HandshakeError::BadLength {
                    actual: server_body.len(),
                    expected: REJECT_MAGIC.len() + 1,
                });
            };
            return Err(HandshakeError::VersionRejected {
                highest,
                reason: String::from_utf8_lossy(&server_body[5..]).into_owned(),
            });
        }
        if !server_body.starts_with(SERVER_MAGIC) {
            return Err(HandshakeError::BadMagic);
        }
        if let Some(&version) = server_body.get(4) {
            if version != PROTOCOL_VERSION {
                return Err(HandshakeError::UnsupportedVersion(version));
            }
        }
        if server_body.len() != SERVER_HELLO_LEN {
            return Err(HandshakeError::BadLength {
                actual: server_body.len(),
                expected: SERVER_HELLO_LEN,
            });
        }
        let ephemeral_bytes = &server_body[5..5 + PUBLIC_KEY_LEN];
        let identity_bytes = &server_body[5 + PUBLIC_KEY_LEN..5 + 2 * PUBLIC_KEY_LEN];
        let signature_bytes = &server_body[5 + 2 * PUBLIC_KEY_LEN..];

        let server_ephemeral =
            parse_uncompressed_point(ephemeral_bytes).ok_or(HandshakeError::BadEphemeralKey)?;
        let identity =
            parse_uncompressed_point(identity_bytes).ok_or(HandshakeError::BadIdentityKey)?;
        let signature =
            Signature::from_slice(signature_bytes).map_err(|_| HandshakeError::BadSignature)?;
        VerifyingKey::from(&identity)
            .verify(
                &signed_message(&self.hello, ephemeral_bytes, identity_bytes),
                &signature,
            )
            .map_err(|_| HandshakeError::BadSignature)?;

        let shared = ecdh_shared_x(&self.ephemeral, &server_ephemeral);
        let keys = derive_session_keys(&self.hello, server_body, &shared);
        let mut identity_key = [0u8; PUBLIC_KEY_LEN];
        identity_key.copy_from_slice(identity_bytes);
        Ok(ServerAccepted {
            keys,
            fingerprint: fingerprint(&identity_key),
            identity_key,
        })
    }
}

/// Parses a 65-byte SEC1 uncompressed point and checks it lies on P-256.
/// Compressed points and the identity are refused: the protocol fixes the encoding.
fn parse_uncompressed_point(bytes: &[u8]) -> Option<PublicKey> {
    if bytes.len() != PUBLIC_KEY_LEN || bytes[0] != SEC1_UNCOMPRESSED_TAG {
        return None;
    }
    PublicKey::from_sec1_bytes(bytes).ok()
}

fn uncompressed_bytes(key: &PublicKey) -> [u8; PUBLIC_KEY_LEN] {
    let mut bytes = [0u8; PUBLIC_KEY_LEN];
    bytes.copy_from_slice(key.to_encoded_point(false).as_bytes());
    bytes
}

/// `SIGNATURE_CONTEXT || ClientHello body || server ephemeral key || server identity key`.
fn signed_message(client_hello: &[u8], ephemeral_key: &[u8], identity_key: &[u8]) -> Vec<u8> {
    [SIGNATURE_CONTEXT, client_hello, ephemeral_key, identity_key].concat()
}

/// The x-coordinate of the ECDH point (32 bytes).
fn ecdh_shared_x(secret: &SecretKey, peer: &PublicKey) -> [u8; 32] {
    let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), peer.as_affine());
    (*shared.raw_secret_bytes()).into()
}

/// The key schedule of PROTOCOL.md §2.
fn derive_session_keys(
    client_hello: &[u8],
    server_hello: &[u8],
    shared_x: &[u8; 32],
) -> SessionKeys {
    let transcript_hash: [u8; 32] = Sha256::new()
        .chain_update(client_hello)
        .chain_update(server_hello)
        .finalize()
        .into();
    let hkdf = Hkdf::<Sha256>::new(Some(&transcript_hash), shared_x);
    let expand = |info: &[u8]| {
        let mut key = [0u8; 32];
        hkdf.expand(info, &mut key)
            .expect("32 bytes is far below HKDF-SHA256's 8160-byte output limit");
        key
    };
    SessionKeys {
        client_to_server: expand(HKDF_INFO_CLIENT_TO_SERVER),
        server_to_client: expand(HKDF_INFO_SERVER_TO_CLIENT),
        transcript_hash,
    }
}

#[cfg(test)]
mod tests;
