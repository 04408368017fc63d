//! The log file of `--log-file`, reopened on SIGHUP so that logrotate works.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::LoggingError;

/// The log file, appended to, reopened by path on demand (after logrotate
/// moved it away).
#[derive(Clone)]
pub(super) struct ReopeningFile {
    pub(super) path: PathBuf,
    file: Arc<Mutex<File>>,
}

fn open_append(path: &Path) -> Result<File, LoggingError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| LoggingError::OpenFile {
            path: path.to_owned(),
            source,
        })
}

impl ReopeningFile {
    pub(super) fn open(path: &Path) -> Result<ReopeningFile, LoggingError> {
        Ok(ReopeningFile {
            path: path.to_owned(),
            file: Arc::new(Mutex::new(open_append(path)?)),
        })
    }

    pub(super) fn reopen(&self) -> Result<(), LoggingError> {
        let fresh = open_append(&self.path)?;
        *self.file.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }
}

impl Write for ReopeningFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        // One lock per line: a reopen never splits a line between files.
        self.file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush()
    }
}
