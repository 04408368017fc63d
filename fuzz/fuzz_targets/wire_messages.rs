//! Any bytes a peer sends (frames, message plaintexts, request headers, a
//! handshake hello) are taken apart into values or typed errors: never a
//! panic. Covers what the server reads before and after decryption.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

use harmonic::crypto::handshake::check_client_hello;
use harmonic::protocol::{decode_message, Envelope, FrameCodec, Request};

fuzz_target!(|data: &[u8]| {
    let _ = check_client_hello(data);

    // The bytes as a stream of frames, each frame's body as a message.
    let mut codec = FrameCodec::new();
    let mut stream = BytesMut::from(data);
    while let Ok(Some(body)) = codec.decode(&mut stream) {
        inspect(body.freeze());
    }
    // And the bytes as one decrypted message plaintext.
    inspect(Bytes::copy_from_slice(data));
});

fn inspect(plaintext: Bytes) {
    let Ok(message) = decode_message(plaintext) else {
        return;
    };
    if let Ok(envelope) = Envelope::parse(&message.header) {
        let _ = Request::parse(envelope.kind, &message.header);
    }
}
