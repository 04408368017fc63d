//! Resume tokens (PROTOCOL.md §5): a client reconnects with one instead of its
//! password.
//!
//! The token itself goes only to the client; the database keeps its SHA-256
//! digest, so a leaked database does not let anyone resume a session. A plain
//! hash is enough here (unlike passwords): the token is 256 random bits, too
//! many to guess.

use rand_core::RngCore;
use sha2::{Digest, Sha256};

/// Number of random bytes in a resume token.
pub const RESUME_TOKEN_BYTES: usize = 32;

/// A fresh resume token: 32 random bytes from the OS, as 64 lower-case hex digits.
pub fn new_resume_token() -> String {
    let mut bytes = [0u8; RESUME_TOKEN_BYTES];
    rand_core::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the database stores and looks tokens up by: `hex(SHA-256(token))`.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_hex_digits_and_unique() {
        let first = new_resume_token();
        let second = new_resume_token();
        assert_eq!(first.len(), 64);
        assert!(first
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert_ne!(first, second);
    }

    #[test]
    fn digest_is_hex_sha256_and_differs_from_the_token() {
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = new_resume_token();
        assert_eq!(token_digest(&token), token_digest(&token));
        assert_ne!(token_digest(&token), token);
    }
}
