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

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use log::{Level, LevelFilter, Log, Metadata, Record};
use tokio::sync::mpsc;

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

// ----- the tail hub -----

/// A log record as a tail subscriber receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// When it was logged.
    pub time: SystemTime,
    /// Its level.
    pub level: Level,
    /// Its target (`connection`, `auth`...).
    pub target: String,
    /// The text.
    pub message: String,
}

struct Subscriber {
    id: u64,
    level: Level,
    queue: mpsc::Sender<LogRecord>,
    dropped: Arc<AtomicU64>,
}

/// The `admin.tail` subscribers, fed by the logger.
pub struct TailHub {
    subscribers: Mutex<Vec<Subscriber>>,
    next_id: AtomicU64,
    /// The most verbose level any subscriber wants, as a `LevelFilter` number.
    wanted: AtomicUsize,
    /// The level the logger writes anyway (`log::max_level` never goes below it).
    base: AtomicUsize,
}

impl std::fmt::Debug for TailHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TailHub")
            .field("subscribers", &self.lock().len())
            .finish()
    }
}

fn level_filter_from(n: usize) -> LevelFilter {
    LevelFilter::iter()
        .find(|level| *level as usize == n)
        .unwrap_or(LevelFilter::Off)
}

impl TailHub {
    /// A hub without subscribers.
    pub fn new() -> TailHub {
        TailHub {
            subscribers: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            wanted: AtomicUsize::new(LevelFilter::Off as usize),
            base: AtomicUsize::new(LevelFilter::Off as usize),
        }
    }

    /// The hub the installed logger feeds (one per process).
    pub fn global() -> &'static Arc<TailHub> {
        static HUB: OnceLock<Arc<TailHub>> = OnceLock::new();
        HUB.get_or_init(|| Arc::new(TailHub::new()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscriber>> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether some subscriber wants records at `level`.
    pub fn wants(&self, level: Level) -> bool {
        level <= level_filter_from(self.wanted.load(Ordering::Relaxed))
    }

    /// Subscribes at `level` ("that level and the more severe ones") with a
    /// queue of `capacity` records.
    pub fn subscribe(self: &Arc<Self>, level: Level, capacity: usize) -> TailSubscription {
        self.subscribe_after(level, capacity, None)
    }

    /// The same, with `first` (when `level` admits it) queued before any
    /// record published from now on: a tail opens with its own start
    /// record, logged just before, and never with a record another thread
    /// published in between.
    pub fn subscribe_after(
        self: &Arc<Self>,
        level: Level,
        capacity: usize,
        first: Option<LogRecord>,
    ) -> TailSubscription {
        let (queue, records) = mpsc::channel(capacity.max(1));
        if let Some(first) = first.filter(|record| record.level <= level) {
            // The queue is new and holds at least one record.
            let _ = queue.try_send(first);
        }
        let dropped = Arc::new(AtomicU64::new(0));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().push(Subscriber {
            id,
            level,
            queue,
            dropped: Arc::clone(&dropped),
        });
        self.refresh_levels();
        TailSubscription {
            id,
            hub: Arc::clone(self),
            records,
            dropped,
        }
    }

    /// How many subscribers there are.
    pub fn subscriber_count(&self) -> usize {
        self.lock().len()
    }

    fn unsubscribe(&self, id: u64) {
        self.lock().retain(|s| s.id != id);
        self.refresh_levels();
    }

    /// Records what the subscribers want, and raises (or lowers)
    /// `log::max_level` to the most verbose of that and the logger's own.
    fn refresh_levels(&self) {
        let wanted = self
            .lock()
            .iter()
            .map(|s| s.level.to_level_filter())
            .max()
            .unwrap_or(LevelFilter::Off);
        self.wanted.store(wanted as usize, Ordering::Relaxed);
        let base = level_filter_from(self.base.load(Ordering::Relaxed));
        if base != LevelFilter::Off {
            log::set_max_level(base.max(wanted));
        }
    }

    /// Sets the level the installed logger writes (see [`TailHub::refresh_levels`]).
    fn set_base(&self, base: LevelFilter) {
        self.base.store(base as usize, Ordering::Relaxed);
        self.refresh_levels();
    }

    /// Gives a record to every subscriber whose level admits it, without
    /// ever waiting: a full queue drops it and counts.
    pub fn publish(&self, record: &Record<'_>) {
        if !self.wants(record.level()) {
            return;
        }
        let mut message: Option<LogRecord> = None;
        let mut gone = false;
        for subscriber in self.lock().iter() {
            if record.level() > subscriber.level {
                continue;
            }
            let copy = message
                .get_or_insert_with(|| LogRecord {
                    time: SystemTime::now(),
                    level: record.level(),
                    target: record.target().to_owned(),
                    message: record.args().to_string(),
                })
                .clone();
            match subscriber.queue.try_send(copy) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    subscriber.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => gone = true,
            }
        }
        if gone {
            self.lock().retain(|s| !s.queue.is_closed());
            self.refresh_levels();
        }
    }
}

impl Default for TailHub {
    fn default() -> Self {
        TailHub::new()
    }
}

/// One `admin.tail`'s records; unsubscribes when dropped.
pub struct TailSubscription {
    id: u64,
    hub: Arc<TailHub>,
    records: mpsc::Receiver<LogRecord>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for TailSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TailSubscription")
            .field("id", &self.id)
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl TailSubscription {
    /// The next record (waits); `None` never happens while subscribed.
    pub async fn next(&mut self) -> Option<LogRecord> {
        self.records.recv().await
    }

    /// The next record if one is waiting.
    pub fn try_next(&mut self) -> Option<LogRecord> {
        self.records.try_recv().ok()
    }

    /// Records dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The counter of dropped records, to read after the subscription is gone.
    pub fn dropped_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.dropped)
    }
}

impl Drop for TailSubscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.id);
    }
}

// ----- the log file -----

/// The log file, appended to, reopened by path on demand (after logrotate
/// moved it away).
#[derive(Clone)]
struct ReopeningFile {
    path: PathBuf,
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
    fn open(path: &Path) -> Result<ReopeningFile, LoggingError> {
        Ok(ReopeningFile {
            path: path.to_owned(),
            file: Arc::new(Mutex::new(open_append(path)?)),
        })
    }

    fn reopen(&self) -> Result<(), LoggingError> {
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

// ----- the logger -----

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
mod tests {
    use super::*;

    fn record<'a>(level: Level, target: &'a str, args: std::fmt::Arguments<'a>) -> Record<'a> {
        Record::builder()
            .level(level)
            .target(target)
            .args(args)
            .build()
    }

    #[test]
    fn targets_filter_and_line_format() {
        assert!(is_server_target("auth"));
        assert!(is_server_target("auth::throttle"));
        assert!(!is_server_target("actix_server"));
        assert_eq!(
            default_filter(false),
            "warn,connection=info,auth=info,library=info,analysis=info,admin=info"
        );
        assert!(default_filter(true).contains("connection=trace"));
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_500);
        assert_eq!(
            format_line(time, Level::Warn, "admin", "hello"),
            "1970-01-01T00:00:01.500Z WARN  admin: hello"
        );
    }

    #[test]
    fn a_subscription_can_open_with_its_own_start_record() {
        let hub = Arc::new(TailHub::new());
        let start = |level| LogRecord {
            time: SystemTime::now(),
            level,
            target: "admin".to_owned(),
            message: "tails the log".to_owned(),
        };
        let mut tail = hub.subscribe_after(Level::Info, 4, Some(start(Level::Info)));
        hub.publish(&record(Level::Info, "connection", format_args!("later")));
        let first = tail.try_next().expect("the start record");
        assert_eq!(
            (first.target.as_str(), first.message.as_str()),
            ("admin", "tails the log")
        );
        assert_eq!(tail.try_next().map(|r| r.message), Some("later".to_owned()));
        // A tail at `error` does not get an `info` start record.
        let mut errors = hub.subscribe_after(Level::Error, 4, Some(start(Level::Info)));
        assert_eq!(errors.try_next(), None);
    }

    #[test]
    fn subscribers_get_their_levels_and_a_full_queue_drops_and_counts() {
        let hub = Arc::new(TailHub::new());
        assert!(!hub.wants(Level::Error));
        let mut info = hub.subscribe(Level::Info, 2);
        let mut debug = hub.subscribe(Level::Debug, 16);
        assert!(hub.wants(Level::Debug) && !hub.wants(Level::Trace));
        for n in 0..3 {
            hub.publish(&record(Level::Info, "auth", format_args!("login {n}")));
        }
        hub.publish(&record(Level::Debug, "library", format_args!("detail")));
        hub.publish(&record(Level::Trace, "connection", format_args!("dump")));
        let got: Vec<_> = std::iter::from_fn(|| info.try_next())
            .map(|r| r.message)
            .collect();
        assert_eq!(got, ["login 0", "login 1"]);
        assert_eq!(info.dropped(), 1, "the third did not fit");
        let got: Vec<_> = std::iter::from_fn(|| debug.try_next())
            .map(|r| (r.level, r.target, r.message))
            .collect();
        assert_eq!(got.len(), 4);
        assert_eq!(
            got[3],
            (Level::Debug, "library".to_owned(), "detail".to_owned())
        );
        assert_eq!(debug.dropped(), 0);
        drop(debug);
        assert_eq!(hub.subscriber_count(), 1);
        assert!(!hub.wants(Level::Debug), "levels follow the subscribers");
        drop(info);
        assert_eq!(hub.subscriber_count(), 0);
    }

    #[test]
    fn logger_writes_what_the_filter_passes_and_tails_the_server_targets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("harmonic.log");
        let hub = Arc::new(TailHub::new());
        let setup = LogSetup {
            default_filter: default_filter(false),
            rust_log: Some("auth=warn".into()),
            log_file: Some(path.clone()),
        };
        let (logger, handle) = ServerLogger::new(&setup, Arc::clone(&hub)).unwrap();
        let mut tail = hub.subscribe(Level::Debug, 64);
        logger.log(&record(
            Level::Info,
            "auth",
            format_args!("hidden by RUST_LOG"),
        ));
        logger.log(&record(Level::Info, "library", format_args!("saved")));
        logger.log(&record(Level::Debug, "analysis", format_args!("tail only")));
        logger.log(&record(Level::Debug, "mio::poll", format_args!("not ours")));
        logger.flush();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("hidden"), "{text}");
        assert!(text.contains(" INFO  library: saved\n"), "{text}");
        assert!(!text.contains("tail only"), "{text}");
        let tailed: Vec<_> = std::iter::from_fn(|| tail.try_next())
            .map(|r| r.message)
            .collect();
        assert_eq!(tailed, ["hidden by RUST_LOG", "saved", "tail only"]);
        assert!(logger.enabled(
            &Metadata::builder()
                .level(Level::Debug)
                .target("auth")
                .build()
        ));
        assert!(!logger.enabled(
            &Metadata::builder()
                .level(Level::Debug)
                .target("mio")
                .build()
        ));

        // logrotate: the file moves away, SIGHUP reopens the path.
        let rotated = dir.path().join("harmonic.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        logger.log(&record(Level::Warn, "admin", format_args!("before reopen")));
        handle.reopen().unwrap();
        logger.log(&record(Level::Warn, "admin", format_args!("after reopen")));
        logger.flush();
        let old = std::fs::read_to_string(&rotated).unwrap();
        let new = std::fs::read_to_string(&path).unwrap();
        assert!(old.contains("before reopen") && !old.contains("after reopen"));
        assert!(new.contains("after reopen") && !new.contains("before reopen"));
    }
}
