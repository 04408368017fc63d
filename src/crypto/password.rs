//! Password hashes: argon2id in PHC string form, with a random salt.
//!
//! Hashing and verifying are slow on purpose (tens of milliseconds and
//! 19 MiB of memory per call): that is what makes a stolen database
//! expensive to attack. Callers must run them off the event loop.
//!
//! The 19 MiB are the cost that matters on a small server: allocated afresh
//! for every call, they end up kept by the allocator's per-thread arenas
//! after a burst of logins (hundreds of MiB that never go back to the
//! system). A [`PasswordHasher`] therefore owns its argon2 memory and
//! computes every hash and every verification in it: the server keeps one
//! per hashing worker, so hashing memory is fixed at workers × 19 MiB,
//! whatever the number of logins.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::CryptoError;

/// Memory cost in KiB (OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1).
const MEMORY_KIB: u32 = 19_456;
/// Number of passes over the memory.
const ITERATIONS: u32 = 2;
/// Degree of parallelism.
const PARALLELISM: u32 = 1;
/// Length of the hash in bytes (argon2's default, what every stored hash has).
const OUTPUT_LEN: usize = 32;
/// Longest salt decoded (the PHC format's limit).
const MAX_SALT_LEN: usize = 64;

/// The cost parameters of new hashes.
fn params() -> Result<Params, CryptoError> {
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, Some(OUTPUT_LEN))
        .map_err(|e| CryptoError::PasswordHash(e.to_string()))
}

/// Bytes of argon2 memory one [`PasswordHasher`] holds (19 MiB).
pub const HASHER_MEMORY_BYTES: usize = MEMORY_KIB as usize * 1024;

/// A password hasher that owns its argon2 memory for its whole life, so
/// that a thread hashing thousands of passwords allocates 19 MiB once.
///
/// Hashes it makes are those of argon2's own `hash_password` (argon2id,
/// m=19456, t=2, p=1, 16-byte salt, 32-byte output, PHC string); it verifies
/// any argon2 PHC hash whose memory cost fits in its memory.
pub struct PasswordHasher {
    memory: Vec<Block>,
}

impl PasswordHasher {
    /// A hasher with the memory of the current parameters (19 MiB, touched
    /// by the first hash; kept until the hasher is dropped).
    pub fn new() -> PasswordHasher {
        PasswordHasher {
            memory: vec![Block::new(); HASHER_MEMORY_BYTES / Block::SIZE],
        }
    }

    /// Bytes of argon2 memory this hasher holds.
    pub fn memory_bytes(&self) -> usize {
        self.memory.len() * Block::SIZE
    }

    /// Hashes `password` with argon2id and a fresh random salt; returns the
    /// PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) to store.
    pub fn hash(&mut self, password: &str) -> Result<String, CryptoError> {
        let salt = SaltString::generate(&mut rand_core::OsRng);
        self.hash_with_salt(password, &salt)
    }

    fn hash_with_salt(&mut self, password: &str, salt: &SaltString) -> Result<String, CryptoError> {
        let failed = |e: &dyn std::fmt::Display| CryptoError::PasswordHash(e.to_string());
        let params = params()?;
        let mut salt_bytes = [0u8; MAX_SALT_LEN];
        let salt_bytes = salt
            .as_salt()
            .decode_b64(&mut salt_bytes)
            .map_err(|e| failed(&e))?;
        let mut out = [0u8; OUTPUT_LEN];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt_bytes,
                &mut out,
                &mut self.memory,
            )
            .map_err(|e| failed(&e))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches the stored PHC string, computed in this
    /// hasher's memory and compared in constant time. The algorithm and
    /// costs are read from the hash itself, so hashes made with other
    /// parameters keep verifying as long as their memory cost fits in this
    /// hasher's; a hash that does not (none this server ever made), or a
    /// malformed one, is simply `false`: the account cannot be logged into,
    /// nothing panics.
    pub fn verify(&mut self, password: &str, phc: &str) -> bool {
        let Ok(hash) = PasswordHash::new(phc) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
            return false;
        };
        let version = match hash.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(version)) => version,
            Some(Err(_)) => return false,
        };
        let Ok(params) = Params::try_from(&hash) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
            return false;
        };
        if params.block_count() > self.memory.len() {
            return false;
        }
        let mut salt_bytes = [0u8; MAX_SALT_LEN];
        let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        let mut out = [0u8; Output::MAX_LENGTH];
        let out = &mut out[..expected.len()];
        let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
            password.as_bytes(),
            salt_bytes,
            out,
            &mut self.memory,
        );
        // `Output`'s equality is constant-time.
        computed.is_ok() && Output::new(out).is_ok_and(|out| out == expected)
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        PasswordHasher::new()
    }
}

/// Hashes one password with a hasher of its own (19 MiB for this call):
/// for one-off callers such as `harmonic user add`. The server hashes on
/// its workers' [`PasswordHasher`]s instead.
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    PasswordHasher::new().hash(password)
}

/// Verifies one password with a hasher of its own (see [`hash_password`]).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHasher::new().verify(password, phc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

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
        let mut hasher = PasswordHasher::new();
        let first = hasher.hash("pässwörd✓").unwrap();
        let second = hasher.hash("pässwörd✓").unwrap();
        assert_ne!(first, second);
        assert!(hasher.verify("pässwörd✓", &second));
    }

    #[test]
    fn hashes_are_argon2s_own_both_ways() {
        // What argon2's `hash_password` made before the hasher existed (and
        // what every stored hash is) verifies, and the hasher's own hash of
        // the same salt is the very same string.
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params().unwrap());
        let salt = SaltString::generate(&mut rand_core::OsRng);
        let stored = reference
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        let mut hasher = PasswordHasher::new();
        assert!(hasher.verify("correct horse", &stored));
        assert!(!hasher.verify("correct horsf", &stored));
        assert_eq!(
            hasher.hash_with_salt("correct horse", &salt).unwrap(),
            stored
        );
        let ours = hasher.hash("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(reference.verify_password(b"correct horse", &parsed).is_ok());
        // Other costs verify too, when their memory fits.
        let cheap = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(64, 3, 1, None).unwrap(),
        )
        .hash_password(b"old password", &salt)
        .unwrap()
        .to_string();
        assert!(hasher.verify("old password", &cheap));
        assert!(!hasher.verify("old passwore", &cheap));
    }

    #[test]
    fn the_memory_is_reused_not_reallocated() {
        let mut hasher = PasswordHasher::new();
        let (start, blocks) = (hasher.memory.as_ptr(), hasher.memory.len());
        assert_eq!(hasher.memory_bytes(), 19 * 1024 * 1024);
        let phc = hasher.hash("correct horse").unwrap();
        for attempt in ["wrong", "correct horse", "also wrong"] {
            hasher.verify(attempt, &phc);
        }
        assert_eq!(hasher.memory.as_ptr(), start);
        assert_eq!(hasher.memory.len(), blocks);
    }

    #[test]
    fn malformed_or_too_costly_hash_is_false() {
        let mut hasher = PasswordHasher::new();
        for phc in [
            "",
            "not a hash",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$!!!!",
            "$unknown$v=1$abc$def",
            "$argon2id$v=7$m=19456,t=2,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            // 64 MiB: more than a hasher holds.
            "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(!hasher.verify("password", phc), "{phc}");
        }
    }
}
