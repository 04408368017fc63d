//! Small file-system helpers shared by the store and the upload spool: random
//! names, durable writes (temp + fsync + rename + fsync of the directory),
//! and best-effort removal.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use super::{StoreError, StoreResult};

/// 32 random hex digits (128 bits from the OS), for file and upload ids.
pub(crate) fn random_hex_id() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether `s` looks like an id made by [`random_hex_id`].
pub(crate) fn is_hex_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Lowercase hex SHA-256 of `bytes`, the form the store keeps checksums in.
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Unix time in milliseconds, for `created_at` columns.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Makes the directory entries of `dir` (creations, renames, removals)
/// durable. A no-op where directories cannot be opened (not Unix).
pub(crate) fn sync_dir(dir: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(StoreError::io(dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Flushes a file's data and metadata to the disk.
pub(crate) fn sync_file(path: &Path) -> StoreResult<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(StoreError::io(path))
}

/// Writes `bytes` to a new file at `path` and fsyncs it. The caller renames
/// it into place afterwards; `path` must not exist.
pub(crate) fn write_new_synced(path: &Path, bytes: &[u8]) -> StoreResult<()> {
    let result = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        });
    if let Err(source) = result {
        remove_quietly(path);
        return Err(StoreError::Io {
            path: path.to_owned(),
            source,
        });
    }
    Ok(())
}

/// Removes a file, logging (not returning) a failure other than "not found".
/// Used where the file is already unreferenced: a leftover is an orphan that
/// the next [`super::Store::open`] removes.
pub(crate) fn remove_quietly(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => log::warn!(target: "library", "cannot remove {}: {e}", path.display()),
    }
}

/// Removes every entry of `dir` (files and subfolders); returns how many.
pub(crate) fn empty_dir(dir: &Path) -> StoreResult<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir).map_err(StoreError::io(dir))? {
        let entry = entry.map_err(StoreError::io(dir))?;
        let path = entry.path();
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let result = if is_dir {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        result.map_err(StoreError::io(&path))?;
        removed += 1;
    }
    Ok(removed)
}
