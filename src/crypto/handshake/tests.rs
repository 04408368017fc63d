//! Tests of the handshake: both sides, the test vectors and every way a
//! hello can be wrong.

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
        ServerIdentity::from_secret_bytes(&vector_secret(&v, "server_identity_private")).unwrap();
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
