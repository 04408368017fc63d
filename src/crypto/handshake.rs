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
mod tests {
    use super::*;
    use crate::crypto::test_vectors::{load_vectors, vector_bytes};
    use rand_core::OsRng;

    /// Server and client side of one random handshake.
    fn handshake_pair() -> (ClientHandshake, Vec<u8>, SessionKeys, ServerIdentity) {
        let identity = ServerIdentity::generate(&mut OsRng);
        let (client, hello) = ClientHandshake::start(&mut OsRng);
        let checked = check_client_hello(&hello).unwrap();
        let (server_hello, server_keys) = server_respond(&checked, &identity, &mut OsRng);
        (client, server_hello, server_keys, identity)
    }

    #[test]
    fn constants_match_the_spec() {
        assert_eq!(CLIENT_HELLO_LEN, 70);
        assert_eq!(SERVER_HELLO_LEN, 199);
    }

    #[test]
    fn client_and_server_agree_on_keys() {
        let (client, server_hello, server_keys, identity) = handshake_pair();
        assert_eq!(server_hello.len(), SERVER_HELLO_LEN);
        let accepted = client.finish(&server_hello).unwrap();
        assert_eq!(accepted.keys.client_to_server, server_keys.client_to_server);
        assert_eq!(accepted.keys.server_to_client, server_keys.server_to_client);
        assert_eq!(accepted.keys.transcript_hash, server_keys.transcript_hash);
        assert_ne!(server_keys.client_to_server, server_keys.server_to_client);
        assert_eq!(accepted.identity_key, identity.public_key_bytes());
        assert_eq!(accepted.fingerprint, identity.fingerprint());
        accepted.check_pinned(&identity.fingerprint()).unwrap();
        accepted
            .check_pinned(&identity.fingerprint().to_uppercase())
            .unwrap();
    }

    #[test]
    fn two_handshakes_give_different_keys() {
        let (_, _, first, _) = handshake_pair();
        let (_, _, second, _) = handshake_pair();
        assert_ne!(first.client_to_server, second.client_to_server);
    }

    #[test]
    fn tampered_signature_is_rejected() {
        let (client, mut server_hello, _, _) = handshake_pair();
        server_hello[SERVER_HELLO_LEN - 1] ^= 0x01;
        assert_eq!(
            client.finish(&server_hello).unwrap_err(),
            HandshakeError::BadSignature
        );
    }

    #[test]
    fn tampered_ephemeral_key_is_rejected() {
        // Swap in another valid ephemeral key: the point is fine, the signature is not.
        let (client, mut server_hello, _, _) = handshake_pair();
        let other = SecretKey::random(&mut OsRng);
        server_hello[5..70].copy_from_slice(&uncompressed_bytes(&other.public_key()));
        assert_eq!(
            client.finish(&server_hello).unwrap_err(),
            HandshakeError::BadSignature
        );
    }

    #[test]
    fn substituted_identity_key_is_rejected() {
        // A man in the middle presents his own identity key with the real signature.
        let (client, mut server_hello, _, _) = handshake_pair();
        let impostor = ServerIdentity::generate(&mut OsRng);
        server_hello[70..135].copy_from_slice(&impostor.public_key_bytes());
        assert_eq!(
            client.finish(&server_hello).unwrap_err(),
            HandshakeError::BadSignature
        );
    }

    #[test]
    fn a_signature_over_another_hello_is_rejected() {
        // A ServerHello replayed from another handshake does not verify for this client.
        let (_, replayed, _, _) = handshake_pair();
        let (client, _) = ClientHandshake::start(&mut OsRng);
        assert_eq!(
            client.finish(&replayed).unwrap_err(),
            HandshakeError::BadSignature
        );
    }

    #[test]
    fn wrong_pinned_identity_is_rejected() {
        let (client, server_hello, _, identity) = handshake_pair();
        let accepted = client.finish(&server_hello).unwrap();
        let pinned = ServerIdentity::generate(&mut OsRng).fingerprint();
        assert_eq!(
            accepted.check_pinned(&pinned).unwrap_err(),
            HandshakeError::IdentityChanged {
                pinned: pinned.clone(),
                presented: identity.fingerprint()
            }
        );
    }

    #[test]
    fn truncated_or_extended_server_hello_is_rejected() {
        let (client, server_hello, _, _) = handshake_pair();
        assert_eq!(
            client.finish(&server_hello[..198]).unwrap_err(),
            HandshakeError::BadLength {
                actual: 198,
                expected: 199
            }
        );
        let (client, server_hello, _, _) = handshake_pair();
        let mut longer = server_hello.clone();
        longer.push(0);
        assert!(matches!(
            client.finish(&longer),
            Err(HandshakeError::BadLength { actual: 200, .. })
        ));
        let (client, _) = ClientHandshake::start(&mut OsRng);
        assert!(matches!(
            client.finish(b"HR"),
            Err(HandshakeError::BadMagic)
        ));
    }

    #[test]
    fn server_hello_with_bad_magic_or_version_is_rejected() {
        let (client, mut server_hello, _, _) = handshake_pair();
        server_hello[0] = b'X';
        assert_eq!(
            client.finish(&server_hello).unwrap_err(),
            HandshakeError::BadMagic
        );
        let (client, mut server_hello, _, _) = handshake_pair();
        server_hello[4] = 2;
        assert_eq!(
            client.finish(&server_hello).unwrap_err(),
            HandshakeError::UnsupportedVersion(2)
        );
    }

    #[test]
    fn server_hello_with_a_point_off_the_curve_is_rejected() {
        let (client, mut server_hello, _, _) = handshake_pair();
        server_hello[69] ^= 0x01; // last byte of the ephemeral key's Y
        assert_eq!(
            client.finish(&server_hello).unwrap_err(),
            HandshakeError::BadEphemeralKey
        );
        let (client, mut server_hello, _, _) = handshake_pair();
        server_hello[134] ^= 0x01; // last byte of the identity key's Y
        assert_eq!(
            client.finish(&server_hello).unwrap_err(),
            HandshakeError::BadIdentityKey
        );
    }

    #[test]
    fn version_rejection_is_recognised() {
        let (client, _) = ClientHandshake::start(&mut OsRng);
        let body = version_reject_body("this server speaks version 1 only");
        assert_eq!(&body[..5], b"HRMX\x01");
        assert_eq!(
            client.finish(&body).unwrap_err(),
            HandshakeError::VersionRejected {
                highest: 1,
                reason: "this server speaks version 1 only".to_owned()
            }
        );
        let (client, _) = ClientHandshake::start(&mut OsRng);
        assert_eq!(
            client.finish(b"HRMX\x03").unwrap_err(),
            HandshakeError::VersionRejected {
                highest: 3,
                reason: String::new()
            }
        );
        let (client, _) = ClientHandshake::start(&mut OsRng);
        assert!(matches!(
            client.finish(b"HRMX"),
            Err(HandshakeError::BadLength { actual: 4, .. })
        ));
    }

    #[test]
    fn client_hello_of_another_version_is_unsupported_whatever_its_length() {
        let (_, hello) = ClientHandshake::start(&mut OsRng);
        let mut v2 = hello;
        v2[4] = 2;
        assert_eq!(
            check_client_hello(&v2).unwrap_err(),
            ClientHelloError::UnsupportedVersion(2)
        );
        for body in [
            &b"HRMC\x02"[..],
            b"HRMC\x02abc",
            &[b"HRMC\x02".as_slice(), &[0u8; 200]].concat(),
        ] {
            assert_eq!(
                check_client_hello(body).unwrap_err(),
                ClientHelloError::UnsupportedVersion(2)
            );
        }
        assert_eq!(
            check_client_hello(b"HRMC\x00").unwrap_err(),
            ClientHelloError::UnsupportedVersion(0)
        );
    }

    #[test]
    fn bad_client_hellos_are_rejected() {
        let (_, hello) = ClientHandshake::start(&mut OsRng);
        assert_eq!(check_client_hello(&hello).unwrap().body(), &hello);

        let mut bad_magic = hello;
        bad_magic[0] = b'h';
        assert_eq!(
            check_client_hello(&bad_magic).unwrap_err(),
            ClientHelloError::BadMagic
        );
        assert_eq!(
            check_client_hello(b"").unwrap_err(),
            ClientHelloError::BadMagic
        );
        assert_eq!(
            check_client_hello(b"HRM").unwrap_err(),
            ClientHelloError::BadMagic
        );
        assert_eq!(
            check_client_hello(b"HRMC").unwrap_err(),
            ClientHelloError::BadLength { actual: 4 }
        );
        assert_eq!(
            check_client_hello(&hello[..69]).unwrap_err(),
            ClientHelloError::BadLength { actual: 69 }
        );
        let mut longer = hello.to_vec();
        longer.push(0);
        assert_eq!(
            check_client_hello(&longer).unwrap_err(),
            ClientHelloError::BadLength { actual: 71 }
        );

        let mut off_curve = hello;
        off_curve[69] ^= 0x01;
        assert_eq!(
            check_client_hello(&off_curve).unwrap_err(),
            ClientHelloError::BadEphemeralKey
        );
        let mut not_uncompressed = hello;
        not_uncompressed[5] = 0x02;
        assert_eq!(
            check_client_hello(&not_uncompressed).unwrap_err(),
            ClientHelloError::BadEphemeralKey
        );
        let mut zeros = hello;
        zeros[6..].fill(0);
        assert_eq!(
            check_client_hello(&zeros).unwrap_err(),
            ClientHelloError::BadEphemeralKey
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let (client, server_hello, keys, _) = handshake_pair();
        let shown = format!("{keys:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains(&hex::encode(keys.client_to_server)));
        assert!(!shown.contains(&hex::encode(keys.server_to_client)));
        assert!(format!("{client:?}").contains("<redacted>"));
        let accepted = client.finish(&server_hello).unwrap();
        assert!(!format!("{accepted:?}").contains(&hex::encode(keys.client_to_server)));
    }

    fn vector_secret(vectors: &serde_json::Value, name: &str) -> [u8; 32] {
        vector_bytes(vectors, name).try_into().unwrap()
    }

    #[test]
    fn reproduces_the_handshake_test_vectors() {
        let Some(v) = load_vectors() else { return };
        let identity =
            ServerIdentity::from_secret_bytes(&vector_secret(&v, "server_identity_private"))
                .unwrap();
        assert_eq!(
            identity.fingerprint(),
            v["server_identity_fingerprint"].as_str().unwrap()
        );

        let (client, client_hello) =
            ClientHandshake::from_secret(&vector_secret(&v, "client_ephemeral_private")).unwrap();
        assert_eq!(
            hex::encode(client_hello),
            hex::encode(vector_bytes(&v, "client_hello"))
        );

        let checked = check_client_hello(&client_hello).unwrap();
        let (server_hello, server_keys) = server_respond_with_secret(
            &checked,
            &identity,
            &vector_secret(&v, "server_ephemeral_private"),
        )
        .unwrap();
        assert_eq!(
            hex::encode(&server_hello),
            hex::encode(vector_bytes(&v, "server_hello"))
        );

        let server_ephemeral =
            SecretKey::from_slice(&vector_secret(&v, "server_ephemeral_private")).unwrap();
        assert_eq!(
            hex::encode(ecdh_shared_x(&server_ephemeral, &checked.ephemeral_key)),
            v["ecdh_shared_x"].as_str().unwrap()
        );
        assert_eq!(
            hex::encode(server_keys.transcript_hash),
            v["transcript_hash"].as_str().unwrap()
        );
        assert_eq!(
            hex::encode(server_keys.client_to_server),
            v["k_c2s"].as_str().unwrap()
        );
        assert_eq!(
            hex::encode(server_keys.server_to_client),
            v["k_s2c"].as_str().unwrap()
        );

        // The client, given the vector's ServerHello, verifies it and derives the same keys.
        let accepted = client.finish(&vector_bytes(&v, "server_hello")).unwrap();
        assert_eq!(
            accepted.fingerprint,
            v["server_identity_fingerprint"].as_str().unwrap()
        );
        assert_eq!(
            hex::encode(accepted.keys.transcript_hash),
            v["transcript_hash"].as_str().unwrap()
        );
        assert_eq!(
            hex::encode(accepted.keys.client_to_server),
            v["k_c2s"].as_str().unwrap()
        );
        assert_eq!(
            hex::encode(accepted.keys.server_to_client),
            v["k_s2c"].as_str().unwrap()
        );
    }
}
