//! One process at a time on a data directory, and the directory kept to
//! its owner.
//!
//! `harmonic serve` and the offline commands (`harmonic user add`) both
//! open the store, and opening runs recovery: it empties `uploads/` and
//! removes sound files that no row names. Run beside a live server, that
//! would delete the server's uploads and the files of saves still in
//! flight. So [`super::Store::open`] takes an exclusive lock on
//! `harmonic.lock` first, held as long as the store is open: a second
//! opener gets [`StoreError::Locked`], which names the holder. The lock is
//! `flock(2)` (`LockFileEx` on Windows) through `fs4`: the kernel drops it
//! when the process ends, however it ends, so a crash never leaves a stale
//! lock behind.
//!
//! The data directory holds password hashes, resume-token digests, the
//! server's private key and every user's audio: it is created readable by
//! its owner only (0700), and so is the database (0600; SQLite gives its
//! `-wal` and `-shm` files the database's mode).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{StoreError, StoreResult};

/// The lock file inside the data directory.
pub const LOCK_FILE: &str = "harmonic.lock";

/// An exclusive lock on a data directory, released when dropped (or when
/// the process ends).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Creates `data_dir` if needed (owner-only) and locks it, or
    /// [`StoreError::Locked`] when another process holds it. The lock file
    /// says which process holds it.
    pub fn acquire(data_dir: &Path) -> StoreResult<DataDirLock> {
        create_private_dir(data_dir)?;
        let path = data_dir.join(LOCK_FILE);
        let mut file = private_file_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(StoreError::io(&path))?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(StoreError::Locked {
                    dir: data_dir.to_owned(),
                    holder: holder.trim().parse().ok(),
                });
            }
            Err(fs4::TryLockError::Error(source)) => return Err(StoreError::Io { path, source }),
        }
        // Best effort: the pid only makes the other side's message clearer.
        let _ = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()));
        Ok(DataDirLock { _file: file })
    }
}

/// Creates `dir` and its missing parents readable by the owner only; an
/// existing folder keeps its mode (an administrator may have chosen it).
pub(crate) fn create_private_dir(dir: &Path) -> StoreResult<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(StoreError::io(dir))
}

/// Options that create a file readable and writable by its owner only.
pub(crate) fn private_file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Creates the database file owner-only before SQLite does (SQLite would
/// create it with the umask's mode); an existing one is left as it is.
pub(crate) fn create_private_file(path: &Path) -> StoreResult<()> {
    match private_file_options()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Io {
            path: PathBuf::from(path),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        match DataDirLock::acquire(dir.path()) {
            Err(StoreError::Locked { holder, .. }) => {
                assert_eq!(holder, Some(std::process::id()))
            }
            other => panic!("not refused: {other:?}"),
        }
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn folders_and_files_are_created_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a").join("data");
        let _lock = DataDirLock::acquire(&data).unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&data.join(LOCK_FILE)), 0o600);
        let file = data.join("file");
        create_private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        create_private_file(&file).unwrap();
    }
}
