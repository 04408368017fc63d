//! The server's logger: one `log` implementation installed by `harmonic
//! serve` that does two things with every record.
//!
//! 1. It writes env_logger-style lines (`timestamp level target: message`)
//!    to stderr or, with `--log-file`, appends them to a file that
//!    [`LogHandle::reopen`] reopens (on SIGHUP, so that logrotate works).
//!    Which records are written is env_logger's `RUST_LOG` filter over the
//!    server's defaults (see [`default_filter`]).
//! 2. It fans records out to the `admin.tail` subscribers of the
//!    [`TailHub`]: each subscriber has a bounded queue and a level; a record
//!    that does not fit in a full queue is dropped and counted, so a slow
//!    subscriber never slows the thread that logs.
//!
//! A tail asked at `debug` gets the server's own `debug` records (targets
//! [`SERVER_TARGETS`]) even when `RUST_LOG` does not write them; records of
//! other targets (libraries) reach a tail only when `RUST_LOG` writes them.
//! Nothing here logs secrets: the callers never put passwords, keys or
//! tokens in a message.

//!
//! Layout: the tail hub in `tail.rs`, the reopenable log file in `file.rs`,
//! the context every session line starts with in `session.rs`.

mod file;
mod session;
mod tail;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use log::{Level, LevelFilter, Log, Metadata, Record};

use file::ReopeningFile;
pub use session::SessionLog;
pub use tail::{LogRecord, TailHub, TailSubscription};

/// The log targets of the server, one per concern.
pub const SERVER_TARGETS: [&str; 5] = ["connection", "auth", "library", "analysis", "admin"];

/// Records one `admin.tail` subscriber may have waiting before newer ones
/// are dropped (and counted).
pub const TAIL_QUEUE_LEN: usize = 1024;

/// Why logging could not start or the log file could not be reopened.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The log file could not be opened.
    #[error("cannot open the log file {path}: {source}")]
    OpenFile {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Another logger is installed already.
    #[error("a logger is already installed")]
    AlreadyInstalled,
}

/// Whether `target` is one of the server's own (`connection`, `auth`... or
/// a sub-target such as `auth::throttle`).
pub fn is_server_target(target: &str) -> bool {
    let head = target.split("::").next().unwrap_or(target);
    SERVER_TARGETS.contains(&head)
}

/// The server's filter before `RUST_LOG`: `warn` for everything, `info` for
/// the server's targets; with `debug`, `debug` for them and `trace` for
/// `connection` (hex dumps of plaintext headers, secrets redacted).
pub fn default_filter(debug: bool) -> String {
    let level = if debug { "debug" } else { "info" };
    let mut spec = String::from("warn");
    for target in SERVER_TARGETS {
        let level = if debug && target == "connection" {
            "trace"
        } else {
            level
        };
        spec.push_str(&format!(",{target}={level}"));
    }
    spec
}

/// One log line as the server writes it:
/// `2026-11-21T05:00:00.123Z INFO  auth: message`.
pub fn format_line(time: SystemTime, level: Level, target: &str, message: &str) -> String {
    format!(
        "{} {:<5} {}: {}",
        humantime::format_rfc3339_millis(time),
        level,
        target,
        message
    )
}

/// How to set the logger up.
#[derive(Debug, Clone, Default)]
pub struct LogSetup {
    /// The filter before `rust_log` (see [`default_filter`]).
    pub default_filter: String,
    /// `RUST_LOG`'s value, if set: its directives refine the defaults.
    pub rust_log: Option<String>,
    /// Append to this file instead of writing to stderr.
    pub log_file: Option<PathBuf>,
}

impl LogSetup {
    /// The server's setup: [`default_filter`], `RUST_LOG` from the environment.
    pub fn server(debug: bool, log_file: Option<PathBuf>) -> LogSetup {
        LogSetup {
            default_filter: default_filter(debug),
            rust_log: std::env::var("RUST_LOG").ok(),
            log_file,
        }
    }
}

/// What stays adjustable once the logger is installed.
#[derive(Clone, Default)]
pub struct LogHandle {
    file: Option<ReopeningFile>,
}

impl std::fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogHandle")
            .field("file", &self.file.as_ref().map(|file| &file.path))
            .finish()
    }
}

impl LogHandle {
    /// Reopens the log file by its path (SIGHUP); nothing without one.
    pub fn reopen(&self) -> Result<(), LoggingError> {
        match &self.file {
            Some(file) => file.reopen(),
            None => Ok(()),
        }
    }

    /// The log file, if any.
    pub fn log_file(&self) -> Option<&Path> {
        self.file.as_ref().map(|file| file.path.as_path())
    }
}

/// The server's logger (see the module documentation).
pub struct ServerLogger {
    output: env_logger::Logger,
    hub: Arc<TailHub>,
}

impl ServerLogger {
    /// A logger as `setup` says, feeding `hub`; not installed.
    pub fn new(
        setup: &LogSetup,
        hub: Arc<TailHub>,
    ) -> Result<(ServerLogger, LogHandle), LoggingError> {
        let mut builder = env_logger::Builder::new();
        builder.parse_filters(&setup.default_filter);
        if let Some(spec) = &setup.rust_log {
            builder.parse_filters(spec);
        }
        builder.format(|out, record| {
            writeln!(
                out,
                "{}",
                format_line(
                    SystemTime::now(),
                    record.level(),
                    record.target(),
                    &record.args().to_string()
                )
            )
        });
        let mut handle = LogHandle::default();
        if let Some(path) = &setup.log_file {
            let file = ReopeningFile::open(path)?;
            builder.target(env_logger::Target::Pipe(Box::new(file.clone())));
            handle.file = Some(file);
        }
        Ok((
            ServerLogger {
                output: builder.build(),
                hub,
            },
            handle,
        ))
    }

    /// Installs a logger as `setup` says, feeding [`TailHub::global`].
    pub fn install(setup: &LogSetup) -> Result<LogHandle, LoggingError> {
        let hub = Arc::clone(TailHub::global());
        let (logger, handle) = ServerLogger::new(setup, Arc::clone(&hub))?;
        let base = logger.output.filter();
        log::set_boxed_logger(Box::new(logger)).map_err(|_| LoggingError::AlreadyInstalled)?;
        log::set_max_level(base);
        hub.set_base(base.max(LevelFilter::Error));
        Ok(handle)
    }

    /// Whether a tail takes this record: the server's targets at any
    /// level a subscriber wants, other targets only when written anyway.
    fn tail_takes(&self, record: &Record<'_>) -> bool {
        self.hub.wants(record.level())
            && (is_server_target(record.target()) || self.output.matches(record))
    }
}

impl Log for ServerLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.output.enabled(metadata)
            || (self.hub.wants(metadata.level()) && is_server_target(metadata.target()))
    }

    fn log(&self, record: &Record<'_>) {
        if self.output.matches(record) {
            self.output.log(record);
        }
        if self.tail_takes(record) {
            self.hub.publish(record);
        }
    }

    fn flush(&self) {
        self.output.flush();
    }
}

#[cfg(test)]
mod tests;
