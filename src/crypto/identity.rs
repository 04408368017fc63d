//! The server's long-lived P-256 identity key (PROTOCOL.md §2).
//!
//! Clients pin the key's fingerprint on first use, so the key must survive
//! restarts: it lives in `identity.pem` in the data directory, readable by the
//! owner only, and a damaged file is an error rather than a reason to mint a new
//! key behind everyone's back.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use p256::SecretKey;
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};

use super::CryptoError;

/// Name of the identity file inside the data directory.
pub const IDENTITY_FILE_NAME: &str = "identity.pem";

/// The fingerprint of a server identity key: `hex(SHA-256(65-byte SEC1 key))`,
/// lower case. This is what clients pin and what the server logs at start.
pub fn fingerprint(identity_key: &[u8; 65]) -> String {
    hex::encode(Sha256::digest(identity_key))
}

/// The server's identity: the key that signs every ServerHello.
pub struct ServerIdentity {
    signing_key: SigningKey,
    public_key: [u8; 65],
}

impl ServerIdentity {
    /// Loads the identity from `dir/identity.pem`, or creates it there on first start.
    ///
    /// A new file is written to a temporary file (mode 0600 on unix), fsynced
    /// and renamed into place, so a crash never leaves a half-written key. An
    /// existing file that cannot be read or parsed is an error naming the path.
    pub fn load_or_create(dir: &Path) -> Result<ServerIdentity, CryptoError> {
        let path = dir.join(IDENTITY_FILE_NAME);
        match fs::read(&path) {
            Ok(contents) => {
                let corrupt = |reason: String| CryptoError::CorruptIdentity {
                    path: path.clone(),
                    reason,
                };
                let pem = std::str::from_utf8(&contents)
                    .map_err(|_| corrupt("not PEM text".to_owned()))?;
                let secret = SecretKey::from_pkcs8_pem(pem).map_err(|e| corrupt(e.to_string()))?;
                warn_if_readable_by_others(&path);
                Ok(Self::from_secret_key(&secret))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secret = SecretKey::random(&mut rand_core::OsRng);
                write_new_identity(dir, &path, &secret)?;
                Ok(Self::from_secret_key(&secret))
            }
            Err(source) => Err(CryptoError::IdentityIo { path, source }),
        }
    }

    /// Builds an identity from its 32-byte big-endian secret scalar (tests, vectors).
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Result<ServerIdentity, CryptoError> {
        let secret = SecretKey::from_slice(secret).map_err(|_| CryptoError::InvalidSecretKey)?;
        Ok(Self::from_secret_key(&secret))
    }

    /// A fresh random identity that is not stored anywhere (tests, throwaway servers).
    pub fn generate(rng: &mut impl CryptoRngCore) -> ServerIdentity {
        Self::from_secret_key(&SecretKey::random(rng))
    }

    fn from_secret_key(secret: &SecretKey) -> ServerIdentity {
        let mut public_key = [0u8; 65];
        public_key.copy_from_slice(secret.public_key().to_encoded_point(false).as_bytes());
        ServerIdentity {
            signing_key: SigningKey::from(secret),
            public_key,
        }
    }

    /// The identity public key, SEC1 uncompressed (`0x04 || X || Y`), as sent in the ServerHello.
    pub fn public_key_bytes(&self) -> [u8; 65] {
        self.public_key
    }

    /// The fingerprint clients pin; see [`fingerprint`].
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.public_key)
    }

    /// Signs `message` with ECDSA P-256 / SHA-256, deterministically (RFC 6979),
    /// in the fixed 64-byte `r || s` form.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        let signature: Signature = self.signing_key.sign(message);
        signature.to_bytes().into()
    }
}

impl fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("fingerprint", &self.fingerprint())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The key is still used (refusing to start would not undo a leak), but the
/// operator is told, since PROTOCOL.md §2 wants the file readable by the owner only.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = fs::metadata(path) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                log::warn!(
                    target: "admin",
                    "identity file {} has mode {mode:o}: it should be readable by its owner only (chmod 600)",
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Writes a new identity file atomically: temp file (owner-only), fsync, rename, fsync the directory.
fn write_new_identity(dir: &Path, path: &Path, secret: &SecretKey) -> Result<(), CryptoError> {
    let io_error = |path: &Path| {
        let path: PathBuf = path.to_path_buf();
        move |source| CryptoError::IdentityIo { path, source }
    };
    let pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| CryptoError::KeyEncoding(e.to_string()))?;
    fs::create_dir_all(dir).map_err(io_error(dir))?;

    let temp_path = dir.join(format!(".{IDENTITY_FILE_NAME}.tmp-{}", std::process::id()));
    // A leftover from a crash may exist with other permissions; start afresh.
    match fs::remove_file(&temp_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_error(&temp_path)(e)),
        _ => {}
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&temp_path).and_then(|mut file| {
        file.write_all(pem.as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&temp_path);
        return Err(io_error(&temp_path)(e));
    }
    if let Err(e) = fs::rename(&temp_path, path) {
        let _ = fs::remove_file(&temp_path);
        return Err(io_error(path)(e));
    }
    // Make the rename itself durable. Directories cannot be opened this way on Windows.
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_or_create_twice_gives_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let first = ServerIdentity::load_or_create(dir.path()).unwrap();
        let second = ServerIdentity::load_or_create(dir.path()).unwrap();
        assert_eq!(first.public_key_bytes(), second.public_key_bytes());
        assert_eq!(first.fingerprint(), second.fingerprint());
        // Only the identity file is left behind, no temp file.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(IDENTITY_FILE_NAME)]);
    }

    #[test]
    fn load_or_create_makes_the_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("data").join("server");
        let identity = ServerIdentity::load_or_create(&nested).unwrap();
        assert!(nested.join(IDENTITY_FILE_NAME).is_file());
        let again = ServerIdentity::load_or_create(&nested).unwrap();
        assert_eq!(identity.public_key_bytes(), again.public_key_bytes());
    }

    #[cfg(unix)]
    #[test]
    fn identity_file_is_readable_by_the_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        ServerIdentity::load_or_create(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(IDENTITY_FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn corrupt_identity_file_is_an_error_naming_the_path_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(IDENTITY_FILE_NAME);
        fs::write(&path, "-----BEGIN PRIVATE KEY-----\nnot a key\n").unwrap();
        let err = ServerIdentity::load_or_create(dir.path()).unwrap_err();
        assert!(
            matches!(err, CryptoError::CorruptIdentity { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(&path.display().to_string()));
        // Never silently replaced.
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "-----BEGIN PRIVATE KEY-----\nnot a key\n"
        );
    }

    #[test]
    fn binary_or_empty_identity_file_is_corrupt_not_an_io_error() {
        for contents in [&[0xff, 0xfe, 0x00][..], b""] {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join(IDENTITY_FILE_NAME), contents).unwrap();
            let err = ServerIdentity::load_or_create(dir.path()).unwrap_err();
            assert!(
                matches!(err, CryptoError::CorruptIdentity { .. }),
                "{err:?}"
            );
        }
    }

    #[test]
    fn stored_file_is_pkcs8_pem_of_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let identity = ServerIdentity::load_or_create(dir.path()).unwrap();
        let pem = fs::read_to_string(dir.path().join(IDENTITY_FILE_NAME)).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let secret = SecretKey::from_pkcs8_pem(&pem).unwrap();
        let from_bytes = ServerIdentity::from_secret_bytes(&secret.to_bytes().into()).unwrap();
        assert_eq!(from_bytes.public_key_bytes(), identity.public_key_bytes());
    }

    #[test]
    fn fingerprint_is_hex_sha256_of_the_sec1_key() {
        let identity = ServerIdentity::from_secret_bytes(&[0x33; 32]).unwrap();
        let key = identity.public_key_bytes();
        assert_eq!(key[0], 0x04);
        assert_eq!(identity.fingerprint(), hex::encode(Sha256::digest(key)));
        assert_eq!(identity.fingerprint().len(), 64);
    }

    #[test]
    fn invalid_secret_scalars_are_rejected() {
        assert!(matches!(
            ServerIdentity::from_secret_bytes(&[0; 32]),
            Err(CryptoError::InvalidSecretKey)
        ));
        assert!(matches!(
            ServerIdentity::from_secret_bytes(&[0xff; 32]),
            Err(CryptoError::InvalidSecretKey)
        ));
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let identity = ServerIdentity::from_secret_bytes(&[0x33; 32]).unwrap();
        let shown = format!("{identity:?}");
        assert!(shown.contains("<redacted>"));
        assert!(shown.contains(&identity.fingerprint()));
        assert!(!shown.contains("3333333333"));
    }
}
