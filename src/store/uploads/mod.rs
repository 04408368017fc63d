//! The upload spool: files sent in chunks (`upload.begin` / `chunk` /
//! `finish` / `abort`), written to `uploads/<id>.part` as they arrive and
//! never held in memory, with a running SHA-256.
//!
//! The index lives in memory only: uploads do not survive a restart, and the
//! folder is emptied when the spool (and the [`super::Store`]) opens. An
//! upload belongs to the user who began it; any other user gets
//! [`StoreError::NotFound`], as for an unknown or consumed id. A finished
//! upload is used once, through [`UploadSpool::take`], which hands its file
//! to the caller.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::files::{random_hex_id, remove_quietly};
use super::{Quota, StoreError, StoreResult};

pub use crate::protocol::MAX_UPLOAD_SIZE;
/// Unfinished or unused uploads are removed after this long without
/// activity (PROTOCOL.md §5).
pub const UPLOAD_MAX_IDLE: Duration = Duration::from_secs(3600);

/// An opaque upload id (32 random hex digits).
pub type UploadId = String;

/// A finished upload handed over by [`UploadSpool::take`]: the caller now
/// owns the file and must move it (e.g. [`super::Store::save_sound`]) or
/// delete it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedUpload {
    /// The spooled file.
    pub path: PathBuf,
    /// Its size in bytes (checked against the announced SHA-256).
    pub size: u64,
    /// Its SHA-256 in lowercase hex, verified by [`UploadSpool::finish`]:
    /// whoever uses the upload need not hash it again.
    pub sha256: String,
}

/// One upload in progress or finished.
struct Upload {
    owner: i64,
    path: PathBuf,
    size: u64,
    expected_sha256: [u8; 32],
    received: u64,
    hasher: Sha256,
    finished: bool,
    last_activity: Instant,
}

/// The in-memory index of uploads over the `uploads/` folder.
pub struct UploadSpool {
    dir: PathBuf,
    uploads: HashMap<UploadId, Upload>,
    max_size: u64,
    unfinished_per_owner: usize,
    disk_reserve: u64,
    /// Free bytes on the disk of a folder (replaced in tests).
    free_space: fn(&Path) -> std::io::Result<u64>,
}

impl std::fmt::Debug for UploadSpool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadSpool")
            .field("dir", &self.dir)
            .field("uploads", &self.uploads.len())
            .finish()
    }
}

impl UploadSpool {
    /// Opens the spool over `dir` (normally [`super::Store::uploads_dir`]),
    /// creating it and removing the `*.part` files it holds: uploads of a
    /// previous run are gone by design (the index was in memory). `max_size` is the upload size limit (normally
    /// [`MAX_UPLOAD_SIZE`]).
    pub fn open(dir: &Path, max_size: u64) -> StoreResult<UploadSpool> {
        fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
        // Only our own `<id>.part` files, in case `dir` is not what it should be.
        let mut removed = 0;
        for entry in fs::read_dir(dir).map_err(StoreError::io(dir))? {
            let entry = entry.map_err(StoreError::io(dir))?;
            let name = entry.file_name();
            if name.to_string_lossy().ends_with(".part") {
                remove_quietly(&entry.path());
                removed += 1;
            }
        }
        if removed > 0 {
            log::info!(target: "library", "removed {removed} upload(s) of a previous run");
        }
        Ok(UploadSpool {
            dir: dir.to_owned(),
            uploads: HashMap::new(),
            max_size,
            unfinished_per_owner: usize::MAX,
            disk_reserve: 0,
            free_space: |dir| fs4::available_space(dir),
        })
    }

    /// Sets the quotas [`UploadSpool::begin`] checks: uploads one owner may
    /// have unfinished at once, and the bytes to keep free on the disk
    /// (none and 0 until set).
    pub fn set_quotas(&mut self, unfinished_per_owner: usize, disk_reserve: u64) {
        self.unfinished_per_owner = unfinished_per_owner;
        self.disk_reserve = disk_reserve;
    }

    /// How many uploads are in the index (unfinished or not yet used).
    pub fn len(&self) -> usize {
        self.uploads.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.uploads.is_empty()
    }

    /// Starts an upload of `size` bytes whose SHA-256 is `sha256_hex` (64 hex
    /// digits, any case) for `owner`; creates its empty file.
    /// [`StoreError::UploadTooLarge`] past the limit,
    /// [`StoreError::InvalidSha256`] for a malformed checksum,
    /// [`StoreError::QuotaExceeded`] when `owner` has as many unfinished
    /// uploads as allowed or the disk would keep less than the reserve
    /// free once this upload and every unfinished one are written.
    pub fn begin(
        &mut self,
        owner: i64,
        size: u64,
        sha256_hex: &str,
        now: Instant,
    ) -> StoreResult<UploadId> {
        if size > self.max_size {
            return Err(StoreError::UploadTooLarge {
                size,
                max: self.max_size,
            });
        }
        let mut expected_sha256 = [0u8; 32];
        hex::decode_to_slice(sha256_hex, &mut expected_sha256)
            .map_err(|_| StoreError::InvalidSha256)?;
        let unfinished = self
            .uploads
            .values()
            .filter(|u| u.owner == owner && !u.finished)
            .count();
        if unfinished >= self.unfinished_per_owner {
            return Err(StoreError::QuotaExceeded {
                quota: Quota::UnfinishedUploads,
                limit: self.unfinished_per_owner as u64,
            });
        }
        self.check_disk_reserve(size)?;
        let id = random_hex_id();
        let path = self.dir.join(format!("{id}.part"));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(StoreError::io(&path))?;
        self.uploads.insert(
            id.clone(),
            Upload {
                owner,
                path,
                size,
                expected_sha256,
                received: 0,
                hasher: Sha256::new(),
                finished: false,
                last_activity: now,
            },
        );
        log::debug!(target: "library", "user {owner} began an upload of {size} bytes");
        Ok(id)
    }

    /// Refuses an upload of `size` bytes that would leave less than the
    /// reserve free: the bytes the unfinished uploads have still to write
    /// are counted as written, so uploads begun together cannot each find
    /// the same free space. Where the free space cannot be read the upload
    /// goes ahead (logged): the reserve guards the disk, it must not stop a
    /// server whose file system will not say.
    fn check_disk_reserve(&self, size: u64) -> StoreResult<()> {
        let free = match (self.free_space)(&self.dir) {
            Ok(free) => free,
            Err(err) => {
                log::warn!(target: "library", "cannot read the free space of {}: {err}", self.dir.display());
                return Ok(());
            }
        };
        let promised: u64 = self
            .uploads
            .values()
            .filter(|u| !u.finished)
            .map(|u| u.size - u.received)
            .sum();
        if promised
            .saturating_add(size)
            .saturating_add(self.disk_reserve)
            > free
        {
            log::warn!(target: "library", "upload of {size} bytes refused: {free} bytes free, {promised} promised to unfinished uploads, {} kept in reserve", self.disk_reserve);
            return Err(StoreError::QuotaExceeded {
                quota: Quota::DiskReserve,
                limit: self.disk_reserve,
            });
        }
        Ok(())
    }

    /// Appends `bytes` at `offset`, which must be the count received so far
    /// ([`StoreError::WrongOffset`] with the expected one) and must not go
    /// past the size ([`StoreError::PastSize`]); neither error changes the
    /// upload. Returns the bytes received so far.
    pub fn chunk(
        &mut self,
        owner: i64,
        id: &str,
        offset: u64,
        bytes: &[u8],
        now: Instant,
    ) -> StoreResult<u64> {
        let upload = self.get_mut(owner, id)?;
        if offset != upload.received {
            return Err(StoreError::WrongOffset {
                expected: upload.received,
            });
        }
        let len = bytes.len() as u64;
        if upload
            .received
            .checked_add(len)
            .is_none_or(|end| end > upload.size)
        {
            return Err(StoreError::PastSize { size: upload.size });
        }
        // Write at `received` (not in append mode): bytes of an earlier write
        // that failed half-way are simply overwritten by the retry.
        let path = &upload.path;
        OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| {
                f.seek(SeekFrom::Start(offset))?;
                f.write_all(bytes)
            })
            .map_err(StoreError::io(path))?;
        upload.hasher.update(bytes);
        upload.received += len;
        upload.last_activity = now;
        Ok(upload.received)
    }

    /// Ends the upload: every byte must have arrived
    /// ([`StoreError::Incomplete`], upload kept) and match the announced
    /// SHA-256 ([`StoreError::ChecksumMismatch`], upload discarded and its
    /// file removed). Finishing a finished upload again answers the same.
    pub fn finish(&mut self, owner: i64, id: &str) -> StoreResult<(PathBuf, u64)> {
        let upload = self.get_mut(owner, id)?;
        if !upload.finished {
            if upload.received < upload.size {
                return Err(StoreError::Incomplete {
                    received: upload.received,
                });
            }
            let digest = std::mem::take(&mut upload.hasher).finalize();
            if digest.as_slice() != upload.expected_sha256 {
                if let Some(gone) = self.uploads.remove(id) {
                    remove_quietly(&gone.path);
                }
                log::info!(target: "library", "user {owner}'s upload discarded: checksum mismatch");
                return Err(StoreError::ChecksumMismatch);
            }
            upload.finished = true;
        }
        Ok((upload.path.clone(), upload.size))
    }

    /// The finished upload `id` of `owner`, without consuming it (to decode
    /// and check it before the request that uses it succeeds).
    /// [`StoreError::Unfinished`] before [`UploadSpool::finish`].
    pub fn peek(&self, owner: i64, id: &str) -> StoreResult<FinishedUpload> {
        let upload = self
            .uploads
            .get(id)
            .filter(|u| u.owner == owner)
            .ok_or(StoreError::NotFound)?;
        if !upload.finished {
            return Err(StoreError::Unfinished {
                received: upload.received,
            });
        }
        Ok(FinishedUpload {
            path: upload.path.clone(),
            size: upload.size,
            sha256: hex::encode(upload.expected_sha256),
        })
    }

    /// Consumes the finished upload `id` of `owner`: it leaves the index and
    /// its file becomes the caller's (to move into the store or delete).
    /// [`StoreError::Unfinished`] (not consumed) before
    /// [`UploadSpool::finish`]; [`StoreError::NotFound`] once taken.
    pub fn take(&mut self, owner: i64, id: &str) -> StoreResult<FinishedUpload> {
        let finished = self.peek(owner, id)?;
        self.uploads.remove(id);
        Ok(finished)
    }

    /// Drops the upload `id` of `owner`, finished or not, and its file.
    pub fn abort(&mut self, owner: i64, id: &str) -> StoreResult<()> {
        self.get_mut(owner, id)?;
        if let Some(gone) = self.uploads.remove(id) {
            remove_quietly(&gone.path);
        }
        Ok(())
    }

    /// Removes every upload (finished or not) idle for `max_idle` or more at
    /// `now`, with its file; returns how many. Call it periodically.
    pub fn expire(&mut self, now: Instant, max_idle: Duration) -> usize {
        let before = self.uploads.len();
        self.uploads.retain(|_, upload| {
            let keep = now.saturating_duration_since(upload.last_activity) < max_idle;
            if !keep {
                remove_quietly(&upload.path);
            }
            keep
        });
        let removed = before - self.uploads.len();
        if removed > 0 {
            log::info!(target: "library", "expired {removed} idle upload(s)");
        }
        removed
    }

    /// Removes every upload of `owner` (e.g. when the account is deleted).
    pub fn remove_owner(&mut self, owner: i64) -> usize {
        let before = self.uploads.len();
        self.uploads.retain(|_, upload| {
            let keep = upload.owner != owner;
            if !keep {
                remove_quietly(&upload.path);
            }
            keep
        });
        before - self.uploads.len()
    }

    /// The upload `id` if it belongs to `owner`.
    fn get_mut(&mut self, owner: i64, id: &str) -> StoreResult<&mut Upload> {
        self.uploads
            .get_mut(id)
            .filter(|u| u.owner == owner)
            .ok_or(StoreError::NotFound)
    }
}

#[cfg(test)]
mod tests;
