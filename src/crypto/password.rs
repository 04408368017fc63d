//! Password hashes: argon2id in PHC string form, with a random salt.
//!
//! Both functions are slow on purpose (tens of milliseconds and 19 MiB of
//! memory per call): that is what makes a stolen database expensive to attack.
//! Callers must run them off the event loop (a blocking thread or worker pool).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::CryptoError;

/// Memory cost in KiB (OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1).
const MEMORY_KIB: u32 = 19_456;
/// Number of passes over the memory.
const ITERATIONS: u32 = 2;
/// Degree of parallelism.
const PARALLELISM: u32 = 1;

fn argon2id() -> Result<Argon2<'static>, CryptoError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| CryptoError::PasswordHash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with argon2id and a fresh random salt; returns the PHC
/// string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) to store.
///
/// Slow on purpose: run it off the event loop.
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let salt = SaltString::generate(&mut rand_core::OsRng);
    let hash = argon2id()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| CryptoError::PasswordHash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC string. A malformed hash is
/// simply `false` (the account cannot be logged into, nothing panics).
///
/// The cost parameters are read from the hash itself, so hashes made with
/// older parameters keep verifying. Slow on purpose: run it off the event loop.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify_round_trip_and_wrong_password() {
        let phc = hash_password("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("correct horse battery staple", &phc));
        assert!(!verify_password("correct horse battery stapl", &phc));
        assert!(!verify_password("", &phc));
    }

    #[test]
    fn same_password_gets_a_different_salt() {
        let first = hash_password("pässwörd✓").unwrap();
        let second = hash_password("pässwörd✓").unwrap();
        assert_ne!(first, second);
        assert!(verify_password("pässwörd✓", &second));
    }

    #[test]
    fn malformed_hash_is_false() {
        for phc in [
            "",
            "not a hash",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$!!!!",
            "$unknown$v=1$abc$def",
        ] {
            assert!(!verify_password("password", phc), "{phc}");
        }
    }
}
