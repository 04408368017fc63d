//! Persistent state: the SQLite database through diesel, and audio files on disk.
//!
//! Why this shape:
//! - One [`Store`] owns one SQLite connection and the data directory. It is
//!   plain blocking code, owned by the sound-library actor, which calls it
//!   from a blocking thread; nothing here knows about actix or the wire.
//! - Nothing acknowledged is lost on a crash: SQLite runs in WAL mode with
//!   `synchronous=FULL`, and every file is written under a temporary name,
//!   fsynced, renamed into place, and its directory fsynced. A file is always
//!   durable *before* the row that names it commits, and a row is always
//!   deleted *before* its file. So a crash can leave only files that no row
//!   names (never a row without its file), and [`Store::open`] removes those.
//! - Uploads ([`UploadSpool`]) are spooled to disk, never held in memory, and
//!   do not survive a restart: the `uploads/` folder is emptied at open.
//! - Errors are typed ([`StoreError`]) and precise enough for the protocol
//!   layer to map each to a wire code in one place; no wire codes here.
//!
//! Layout of the data directory:
//! ```text
//! harmonic.lock                held locked by the process that has the store open
//! harmonic.db (+ -wal, -shm)   users, sounds, resume_tokens (owner-only)
//! sounds/<file_id>.wav         one file per saved sound (file_id = 32 hex digits)
//! sounds/<random>.tmp          a file being written (removed at open if left over)
//! uploads/<upload_id>.part     spooled uploads (emptied at open)
//! ```

mod files;
mod lock;
mod models;
mod open;
mod schema;
mod sounds;
mod tokens;
mod uploads;
mod users;

use std::path::PathBuf;

pub use files::hex_sha256;
pub use lock::{DataDirLock, LOCK_FILE};
pub use models::{Role, SoundMeta, SoundRow, UserRow, UserSummary};
pub use open::Store;
pub use tokens::LoginSpan;
pub use uploads::{FinishedUpload, UploadId, UploadSpool, MAX_UPLOAD_SIZE, UPLOAD_MAX_IDLE};

/// A limit of PROTOCOL.md §5 that a request would pass. Each is a server
/// setting; its name is the `limit` of the `quota_exceeded` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// Saved sounds per user.
    Sounds,
    /// Bytes of saved sound files per user.
    SoundBytes,
    /// Uploads begun and not finished, per user.
    UnfinishedUploads,
    /// Free bytes kept on the data directory's disk.
    DiskReserve,
}

impl Quota {
    /// The setting's name, as in the settings file.
    pub fn setting(self) -> &'static str {
        match self {
            Quota::Sounds => "sounds_per_user",
            Quota::SoundBytes => "sound_bytes_per_user",
            Quota::UnfinishedUploads => "unfinished_uploads_per_user",
            Quota::DiskReserve => "disk_reserve",
        }
    }

    /// What a user is told when `limit` (the setting's value) is reached.
    fn explain(self, limit: u64) -> String {
        match self {
            Quota::Sounds => {
                format!("you may keep at most {limit} saved sounds; delete one first")
            }
            Quota::SoundBytes => {
                format!("your saved sounds may take at most {limit} bytes; delete some first")
            }
            Quota::UnfinishedUploads => format!(
                "you may have at most {limit} unfinished uploads at once; finish or abort one first"
            ),
            Quota::DiskReserve => format!(
                "the server's disk is too full: this upload would leave less than {limit} bytes free"
            ),
        }
    }
}

/// The per-user limits of saved sounds (settings `sounds_per_user` and
/// `sound_bytes_per_user`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoundQuota {
    /// Saved sounds one user may have.
    pub sounds: u64,
    /// Bytes of saved sound files one user may have.
    pub bytes: u64,
}

/// Everything that can go wrong in the store, with enough detail for the
/// protocol layer to choose a wire code (`not_found`, `already_exists`, ...).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A user with the same case-folded username already exists.
    #[error("username is taken")]
    UsernameTaken,
    /// The user, sound, or upload does not exist (or belongs to someone else,
    /// or was already consumed).
    #[error("not found")]
    NotFound,
    /// The change would leave the server without an admin (demoting or
    /// deleting the only admin account); nothing was changed.
    #[error("the server must keep at least one admin account")]
    LastAdmin,
    /// A sound with that name already exists for that user.
    #[error("a sound with that name already exists")]
    AlreadyExists,
    /// A read of a sound's bytes started past its end.
    #[error("offset {offset} is past the end of the sound ({size} bytes)")]
    OffsetPastEnd {
        /// The offset asked for.
        offset: u64,
        /// The sound's size in bytes.
        size: u64,
    },
    /// A file operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Another process (a running server, an offline command) has the data
    /// directory open; nothing was touched.
    #[error("the data directory {} is in use by another Harmonic process{}; stop it first (a running server keeps its data directory to itself)", .dir.display(), .holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default())]
    Locked {
        /// The data directory.
        dir: PathBuf,
        /// The process that holds it, when it said.
        holder: Option<u32>,
    },
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Connection(#[from] diesel::ConnectionError),
    /// A database query failed.
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    /// The embedded migrations could not be run.
    #[error("migration failed: {0}")]
    Migration(String),
    /// Stored data contradicts itself (unknown role, a file shorter than its
    /// row says, a size that does not match the file, a non-UTF-8 path).
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// `upload.begin` asked for more than [`MAX_UPLOAD_SIZE`] bytes.
    #[error("upload of {size} bytes is larger than the limit of {max}")]
    UploadTooLarge {
        /// The size asked for.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// `upload.begin` gave a checksum that is not 64 hex digits.
    #[error("the sha256 is not 64 hex digits")]
    InvalidSha256,
    /// A chunk's offset is not the number of bytes received so far.
    #[error("wrong offset, expected {expected}")]
    WrongOffset {
        /// The offset the next chunk must have (bytes received so far).
        expected: u64,
    },
    /// A chunk would go past the size given at `upload.begin`.
    #[error("chunk goes past the upload's size of {size} bytes")]
    PastSize {
        /// The size given at `upload.begin`.
        size: u64,
    },
    /// `upload.finish` before every byte arrived; the upload is kept.
    #[error("upload incomplete: {received} bytes received")]
    Incomplete {
        /// Bytes received so far.
        received: u64,
    },
    /// The finished upload's SHA-256 is not the one announced; the upload was
    /// discarded.
    #[error("checksum mismatch; the upload was discarded")]
    ChecksumMismatch,
    /// The request would pass one of the quotas; nothing was changed.
    #[error("{}", .quota.explain(*.limit))]
    QuotaExceeded {
        /// Which quota.
        quota: Quota,
        /// Its setting's value.
        limit: u64,
    },
    /// An upload was used (taken) before it was finished; it is kept.
    #[error("upload is not finished: {received} bytes received")]
    Unfinished {
        /// Bytes received so far.
        received: u64,
    },
}

impl StoreError {
    /// An [`StoreError::Io`] for `path`, for use in `map_err`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}

/// Result of every store operation.
pub type StoreResult<T> = Result<T, StoreError>;
