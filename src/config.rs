//! Server settings: every limit and timer of PROTOCOL.md §7 (and a few of the
//! server's own), each a named, documented field with the spec's default.
//!
//! Settings come in three layers, the first that gives a value wins:
//! 1. command-line flags and `HARMONIC_*` environment variables (clap);
//! 2. an optional TOML file (`--config`), with the same names in snake case;
//! 3. the defaults of [`Settings::default`].
//!
//! One struct, [`SettingsLayer`], is both the clap arguments and the TOML
//! file's shape, so a setting cannot exist in one and be forgotten in the
//! other. Times are given in seconds (fractions allowed, which tests use for
//! tiny timers) and held as [`Duration`]s.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Default listening address (PROTOCOL.md: default TCP port 2525).
pub const DEFAULT_LISTEN: &str = "0.0.0.0:2525";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./harmonic-data";
/// Default UDP address of LAN discovery for `harmonic serve` (docs/DISCOVERY.md).
pub const DEFAULT_DISCOVERY_LISTEN: &str = "0.0.0.0:2525";

/// The server's settings, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Where the database, the sound files, the uploads and the identity key live.
    pub data_dir: PathBuf,
    /// The handshake must complete within this long of accept (§2: 10 s).
    pub handshake_timeout: Duration,
    /// A session must log in within this long of connecting (§7: 300 s).
    pub login_timeout: Duration,
    /// A session that sends no frame for this long is closed (§7: 600 s).
    pub idle_timeout: Duration,
    /// Grace given to running requests on SIGINT/SIGTERM (§7: 10 s).
    pub shutdown_grace: Duration,
    /// Requests one session may have outstanding at once (§7: 32).
    pub max_outstanding: usize,
    /// Connections at once (§7: 10,000).
    pub max_connections: usize,
    /// Connections at once from one IP address (§7: 256).
    pub max_connections_per_address: usize,
    /// Of those, connections not yet logged in (§7: 64); an IPv6 client
    /// counts by its /64 in every per-address limit ([`crate::address`]).
    pub max_pre_login_per_address: usize,
    /// Largest upload in bytes (§7: 512 MiB).
    pub max_upload_size: u64,
    /// Longest recording, in seconds of audio (§7: 4 hours).
    pub max_audio: Duration,
    /// How long a resume token stays valid (§5: 86,400 s).
    pub resume_ttl: Duration,
    /// How long a login lasts, however often it is resumed: a resume token
    /// never outlives the login that began with a password (default 30
    /// days; a server setting of the project, see docs/PROTOCOL.md).
    pub login_lifetime: Duration,
    /// Failed logins for one username that lock it (§5: 5).
    pub login_failures_per_username: u32,
    /// Failed logins from one address that lock it (§5: 20).
    pub login_failures_per_address: u32,
    /// The window of the failed-login counts, from the first failure (§5: 15 minutes).
    pub login_failure_window: Duration,
    /// Whether anyone may `signup` (§5); when not, `signup` is `forbidden`
    /// and accounts are made with `harmonic user add` (default: open).
    pub public_signup: bool,
    /// Signups from one address within [`Settings::signup_window`] (§5: 10).
    pub signups_per_address: u32,
    /// The window of the signup count, from the first signup (§5: one hour).
    pub signup_window: Duration,
    /// Unfinished or unused uploads are removed after this long idle (§5: one hour).
    pub upload_max_idle: Duration,
    /// Analysis worker threads (default: the number of CPUs).
    pub analysis_workers: usize,
    /// Counts that may wait for a worker; past it, `busy` (default 64).
    pub analysis_queue: usize,
    /// Password workers: threads that hash and check passwords (argon2id,
    /// ~15 ms of CPU each), each holding its 19 MiB of argon2 memory for
    /// its life; more signups and logins wait their turn (logins first), so
    /// a burst of them costs neither more memory nor every core (default:
    /// the number of CPUs).
    pub password_workers: usize,
    /// Live streams one session may have open at once (default 8).
    pub max_streams_per_session: usize,
    /// Saved sounds one user may have (§5: 1,000); past it, `quota_exceeded`.
    pub sounds_per_user: u64,
    /// Bytes of saved sound files one user may have (§5: 1 GiB).
    pub sound_bytes_per_user: u64,
    /// Uploads one user may have begun and not finished (§5: 4).
    pub unfinished_uploads_per_user: usize,
    /// Bytes that `upload.begin` keeps free on the data directory's disk,
    /// counting what the unfinished uploads will still write (§5: 1 GiB):
    /// room for the database, so logins keep working however much is uploaded.
    pub disk_reserve: u64,
    /// Threads that run the sessions (each an actix arbiter with its own
    /// event loop): handshakes and the encryption of every frame are spread
    /// over them, a new connection going to the least loaded (default: the
    /// number of CPUs).
    pub session_threads: usize,
    /// How often idle uploads and expired tokens are purged (default 60 s).
    pub housekeeping_interval: Duration,
    /// UDP address that answers LAN discovery probes; `None` turns discovery
    /// off. [`Settings::resolve`] (the `serve` command) defaults to
    /// [`DEFAULT_DISCOVERY_LISTEN`]; [`Settings::default`] (servers embedded
    /// in tests and tools) has it off, so they never listen on the LAN.
    pub discovery_listen: Option<SocketAddr>,
    /// The name discovery answers give (default: the host name).
    pub server_name: Option<String>,
    /// Address of the Prometheus page (`GET /metrics`); `None`: no page (default).
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([0, 0, 0, 0], 2525)),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            handshake_timeout: Duration::from_secs(10),
            login_timeout: Duration::from_secs(300),
            idle_timeout: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(10),
            max_outstanding: 32,
            max_connections: 10_000,
            max_connections_per_address: 256,
            max_pre_login_per_address: 64,
            max_upload_size: crate::protocol::MAX_UPLOAD_SIZE,
            max_audio: Duration::from_secs(4 * 3600),
            resume_ttl: Duration::from_secs(86_400),
            login_lifetime: Duration::from_secs(30 * 86_400),
            login_failures_per_username: 5,
            login_failures_per_address: 20,
            login_failure_window: Duration::from_secs(15 * 60),
            public_signup: true,
            signups_per_address: 10,
            signup_window: Duration::from_secs(3600),
            upload_max_idle: crate::store::UPLOAD_MAX_IDLE,
            analysis_workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            analysis_queue: 64,
            password_workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_streams_per_session: 8,
            sounds_per_user: 1_000,
            sound_bytes_per_user: 1 << 30,
            unfinished_uploads_per_user: 4,
            disk_reserve: 1 << 30,
            session_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            housekeeping_interval: Duration::from_secs(60),
            discovery_listen: None,
            server_name: None,
            metrics_listen: None,
        }
    }
}

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The `--config` file could not be read.
    #[error("cannot read the settings file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The `--config` file is not valid TOML of the expected shape.
    #[error("settings file {path} is invalid: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong (unknown keys included).
        reason: String,
    },
    /// A value out of range.
    #[error("setting `{name}` {reason}")]
    Invalid {
        /// The setting's name (snake case, as in the file).
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// One layer of settings, every field optional: the command-line flags (with
/// their `HARMONIC_*` variables) and the TOML file share this shape.
#[derive(Debug, Clone, Default, PartialEq, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsLayer {
    /// Address and port to listen on [default: 0.0.0.0:2525].
    #[arg(long, env = "HARMONIC_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory (database, sounds, identity key) [default: ./harmonic-data].
    #[arg(long, env = "HARMONIC_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Seconds the handshake may take [default: 10].
    #[arg(long, env = "HARMONIC_HANDSHAKE_TIMEOUT_S")]
    pub handshake_timeout_s: Option<f64>,
    /// Seconds a session has to log in [default: 300].
    #[arg(long, env = "HARMONIC_LOGIN_TIMEOUT_S")]
    pub login_timeout_s: Option<f64>,
    /// Seconds without a frame before a session is closed [default: 600].
    #[arg(long, env = "HARMONIC_IDLE_TIMEOUT_S")]
    pub idle_timeout_s: Option<f64>,
    /// Seconds running requests get to finish on shutdown [default: 10].
    #[arg(long, env = "HARMONIC_SHUTDOWN_GRACE_S")]
    pub shutdown_grace_s: Option<f64>,
    /// Outstanding requests per session [default: 32].
    #[arg(long, env = "HARMONIC_MAX_OUTSTANDING")]
    pub max_outstanding: Option<usize>,
    /// Connections at once [default: 10000].
    #[arg(long, env = "HARMONIC_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Connections at once from one address [default: 256].
    #[arg(long, env = "HARMONIC_MAX_CONNECTIONS_PER_ADDRESS")]
    pub max_connections_per_address: Option<usize>,
    /// Connections from one address not yet logged in [default: 64].
    #[arg(long, env = "HARMONIC_MAX_PRE_LOGIN_PER_ADDRESS")]
    pub max_pre_login_per_address: Option<usize>,
    /// Largest upload in bytes [default: 536870912].
    #[arg(long, env = "HARMONIC_MAX_UPLOAD_SIZE")]
    pub max_upload_size: Option<u64>,
    /// Longest recording in seconds [default: 14400].
    #[arg(long, env = "HARMONIC_MAX_AUDIO_S")]
    pub max_audio_s: Option<f64>,
    /// Seconds a resume token stays valid [default: 86400].
    #[arg(long, env = "HARMONIC_RESUME_TTL_S")]
    pub resume_ttl_s: Option<f64>,
    /// Seconds a login lasts however often it is resumed [default: 2592000].
    #[arg(long, env = "HARMONIC_LOGIN_LIFETIME_S")]
    pub login_lifetime_s: Option<f64>,
    /// Failed logins that lock a username [default: 5].
    #[arg(long, env = "HARMONIC_LOGIN_FAILURES_PER_USERNAME")]
    pub login_failures_per_username: Option<u32>,
    /// Failed logins that lock an address [default: 20].
    #[arg(long, env = "HARMONIC_LOGIN_FAILURES_PER_ADDRESS")]
    pub login_failures_per_address: Option<u32>,
    /// Seconds of the failed-login window [default: 900].
    #[arg(long, env = "HARMONIC_LOGIN_FAILURE_WINDOW_S")]
    pub login_failure_window_s: Option<f64>,
    /// Refuse `signup` (`forbidden`): accounts are then made with `harmonic user add`.
    #[arg(long)]
    #[serde(default)]
    pub no_public_signup: bool,
    /// Signups from one address per signup window [default: 10].
    #[arg(long, env = "HARMONIC_SIGNUPS_PER_ADDRESS")]
    pub signups_per_address: Option<u32>,
    /// Seconds of the signup window [default: 3600].
    #[arg(long, env = "HARMONIC_SIGNUP_WINDOW_S")]
    pub signup_window_s: Option<f64>,
    /// Seconds before an idle upload is removed [default: 3600].
    #[arg(long, env = "HARMONIC_UPLOAD_MAX_IDLE_S")]
    pub upload_max_idle_s: Option<f64>,
    /// Analysis worker threads [default: number of CPUs].
    #[arg(long, env = "HARMONIC_ANALYSIS_WORKERS")]
    pub analysis_workers: Option<usize>,
    /// Counts that may wait for a worker before `busy` [default: 64].
    #[arg(long, env = "HARMONIC_ANALYSIS_QUEUE")]
    pub analysis_queue: Option<usize>,
    /// Password workers (19 MiB each); more logins wait [default: number of CPUs].
    #[arg(long, env = "HARMONIC_PASSWORD_WORKERS")]
    pub password_workers: Option<usize>,
    /// Live streams open at once per session [default: 8].
    #[arg(long, env = "HARMONIC_MAX_STREAMS_PER_SESSION")]
    pub max_streams_per_session: Option<usize>,
    /// Saved sounds per user [default: 1000].
    #[arg(long, env = "HARMONIC_SOUNDS_PER_USER")]
    pub sounds_per_user: Option<u64>,
    /// Bytes of saved sounds per user [default: 1073741824].
    #[arg(long, env = "HARMONIC_SOUND_BYTES_PER_USER")]
    pub sound_bytes_per_user: Option<u64>,
    /// Unfinished uploads per user [default: 4].
    #[arg(long, env = "HARMONIC_UNFINISHED_UPLOADS_PER_USER")]
    pub unfinished_uploads_per_user: Option<usize>,
    /// Bytes `upload.begin` keeps free on the data directory's disk [default: 1073741824].
    #[arg(long, env = "HARMONIC_DISK_RESERVE")]
    pub disk_reserve: Option<u64>,
    /// Threads the sessions (handshakes, encryption) are spread over [default: number of CPUs].
    #[arg(long, env = "HARMONIC_SESSION_THREADS")]
    pub session_threads: Option<usize>,
    /// Seconds between purges of idle uploads and expired tokens [default: 60].
    #[arg(long, env = "HARMONIC_HOUSEKEEPING_INTERVAL_S")]
    pub housekeeping_interval_s: Option<f64>,
    /// UDP address answering LAN discovery probes [default: 0.0.0.0:2525].
    #[arg(long, env = "HARMONIC_DISCOVERY_LISTEN")]
    pub discovery_listen: Option<SocketAddr>,
    /// Do not answer LAN discovery probes.
    #[arg(long)]
    #[serde(default)]
    pub no_discovery: bool,
    /// The server's name in discovery answers [default: the host name].
    #[arg(long, env = "HARMONIC_SERVER_NAME")]
    pub server_name: Option<String>,
    /// Serve the statistics as Prometheus text at http://ADDR/metrics [default: off].
    #[arg(long, env = "HARMONIC_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

impl SettingsLayer {
    /// Reads a TOML settings file.
    pub fn from_file(path: &Path) -> Result<SettingsLayer, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|err| ConfigError::Parse {
            path: path.to_owned(),
            reason: err.message().to_owned(),
        })
    }
}

/// Seconds given as a setting: finite and not negative.
fn seconds(name: &'static str, value: f64) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(value).map_err(|_| ConfigError::Invalid {
        name,
        reason: "must be a finite number of seconds >= 0",
    })
}

impl Settings {
    /// Resolves the settings: `flags` (command line and environment) over
    /// `file` (the TOML file, if any) over the defaults, then checks them.
    pub fn resolve(flags: &SettingsLayer, file: &SettingsLayer) -> Result<Settings, ConfigError> {
        let d = Settings::default();
        macro_rules! pick {
            ($field:ident) => {
                flags.$field.clone().or_else(|| file.$field.clone())
            };
        }
        macro_rules! secs {
            ($field:ident, $default:expr) => {
                match pick!($field) {
                    Some(value) => seconds(stringify!($field), value)?,
                    None => $default,
                }
            };
        }
        let settings = Settings {
            listen: pick!(listen).unwrap_or(d.listen),
            data_dir: pick!(data_dir).unwrap_or(d.data_dir),
            handshake_timeout: secs!(handshake_timeout_s, d.handshake_timeout),
            login_timeout: secs!(login_timeout_s, d.login_timeout),
            idle_timeout: secs!(idle_timeout_s, d.idle_timeout),
            shutdown_grace: secs!(shutdown_grace_s, d.shutdown_grace),
            max_outstanding: pick!(max_outstanding).unwrap_or(d.max_outstanding),
            max_connections: pick!(max_connections).unwrap_or(d.max_connections),
            max_connections_per_address: pick!(max_connections_per_address)
                .unwrap_or(d.max_connections_per_address),
            max_pre_login_per_address: pick!(max_pre_login_per_address)
                .unwrap_or(d.max_pre_login_per_address),
            max_upload_size: pick!(max_upload_size).unwrap_or(d.max_upload_size),
            max_audio: secs!(max_audio_s, d.max_audio),
            resume_ttl: secs!(resume_ttl_s, d.resume_ttl),
            login_lifetime: secs!(login_lifetime_s, d.login_lifetime),
            login_failures_per_username: pick!(login_failures_per_username)
                .unwrap_or(d.login_failures_per_username),
            login_failures_per_address: pick!(login_failures_per_address)
                .unwrap_or(d.login_failures_per_address),
            login_failure_window: secs!(login_failure_window_s, d.login_failure_window),
            public_signup: !(flags.no_public_signup || file.no_public_signup),
            signups_per_address: pick!(signups_per_address).unwrap_or(d.signups_per_address),
            signup_window: secs!(signup_window_s, d.signup_window),
            upload_max_idle: secs!(upload_max_idle_s, d.upload_max_idle),
            analysis_workers: pick!(analysis_workers).unwrap_or(d.analysis_workers),
            analysis_queue: pick!(analysis_queue).unwrap_or(d.analysis_queue),
            password_workers: pick!(password_workers).unwrap_or(d.password_workers),
            max_streams_per_session: pick!(max_streams_per_session)
                .unwrap_or(d.max_streams_per_session),
            session_threads: pick!(session_threads).unwrap_or(d.session_threads),
            sounds_per_user: pick!(sounds_per_user).unwrap_or(d.sounds_per_user),
            sound_bytes_per_user: pick!(sound_bytes_per_user).unwrap_or(d.sound_bytes_per_user),
            unfinished_uploads_per_user: pick!(unfinished_uploads_per_user)
                .unwrap_or(d.unfinished_uploads_per_user),
            disk_reserve: pick!(disk_reserve).unwrap_or(d.disk_reserve),
            housekeeping_interval: secs!(housekeeping_interval_s, d.housekeeping_interval),
            discovery_listen: if flags.no_discovery || file.no_discovery {
                None
            } else {
                Some(pick!(discovery_listen).unwrap_or_else(|| {
                    SocketAddr::from(([0, 0, 0, 0], crate::discovery::DISCOVERY_PORT))
                }))
            },
            server_name: pick!(server_name),
            metrics_listen: pick!(metrics_listen),
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Checks the values that would make the server unusable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("max_outstanding", self.max_outstanding),
            ("max_connections", self.max_connections),
            (
                "max_connections_per_address",
                self.max_connections_per_address,
            ),
            ("max_pre_login_per_address", self.max_pre_login_per_address),
            ("analysis_workers", self.analysis_workers),
            ("password_workers", self.password_workers),
            ("session_threads", self.session_threads),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1",
                });
            }
        }
        if self.max_upload_size > crate::protocol::MAX_UPLOAD_SIZE {
            return Err(ConfigError::Invalid {
                name: "max_upload_size",
                reason: "must be at most 536870912 bytes (the protocol's limit)",
            });
        }
        if self.housekeeping_interval.is_zero() {
            return Err(ConfigError::Invalid {
                name: "housekeeping_interval_s",
                reason: "must be more than 0",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_spec_values() {
        let s = Settings::resolve(&SettingsLayer::default(), &SettingsLayer::default()).unwrap();
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(s.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(s.handshake_timeout, Duration::from_secs(10));
        assert_eq!(s.login_timeout, Duration::from_secs(300));
        assert_eq!(s.idle_timeout, Duration::from_secs(600));
        assert_eq!(s.shutdown_grace, Duration::from_secs(10));
        assert_eq!(s.max_outstanding, 32);
        assert_eq!(s.max_connections, 10_000);
        assert_eq!(s.max_connections_per_address, 256);
        assert_eq!(s.max_upload_size, 512 * 1024 * 1024);
        assert_eq!(s.max_audio, Duration::from_secs(14_400));
        assert_eq!(s.resume_ttl, Duration::from_secs(86_400));
        assert_eq!(s.max_pre_login_per_address, 64);
        assert_eq!(s.login_lifetime, Duration::from_secs(30 * 86_400));
        assert_eq!(s.login_failures_per_username, 5);
        assert_eq!(s.login_failures_per_address, 20);
        assert_eq!(s.login_failure_window, Duration::from_secs(900));
        assert!(s.public_signup);
        assert_eq!(s.signups_per_address, 10);
        assert_eq!(s.signup_window, Duration::from_secs(3600));
        let closed: SettingsLayer = toml::from_str("no_public_signup = true\n").unwrap();
        let closed = Settings::resolve(&SettingsLayer::default(), &closed).unwrap();
        assert!(!closed.public_signup);
        assert_eq!(s.upload_max_idle, Duration::from_secs(3600));
        assert_eq!(s.analysis_queue, 64);
        assert_eq!(s.sounds_per_user, 1_000);
        assert_eq!(s.sound_bytes_per_user, 1 << 30);
        assert_eq!(s.unfinished_uploads_per_user, 4);
        assert_eq!(s.disk_reserve, 1 << 30);
        assert_eq!(
            s.discovery_listen.map(|a| a.to_string()).as_deref(),
            Some(DEFAULT_DISCOVERY_LISTEN)
        );
        assert_eq!(s.metrics_listen, None);
        assert_eq!(
            Settings::default().discovery_listen,
            None,
            "embedded servers"
        );
    }

    #[test]
    fn discovery_can_be_moved_or_turned_off() {
        let file: SettingsLayer = toml::from_str(
            "discovery_listen = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:9100\"\n",
        )
        .unwrap();
        let s = Settings::resolve(&SettingsLayer::default(), &file).unwrap();
        assert_eq!(s.discovery_listen, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(s.metrics_listen, Some("127.0.0.1:9100".parse().unwrap()));
        let off = SettingsLayer {
            no_discovery: true,
            ..SettingsLayer::default()
        };
        assert_eq!(
            Settings::resolve(&off, &file).unwrap().discovery_listen,
            None
        );
        let off: SettingsLayer = toml::from_str("no_discovery = true\n").unwrap();
        let s = Settings::resolve(&SettingsLayer::default(), &off).unwrap();
        assert_eq!(s.discovery_listen, None);
    }

    #[test]
    fn flags_win_over_file_which_wins_over_defaults() {
        let file: SettingsLayer = toml::from_str(
            "listen = \"127.0.0.1:4000\"\nidle_timeout_s = 5.5\nmax_outstanding = 7\n",
        )
        .unwrap();
        let flags = SettingsLayer {
            max_outstanding: Some(3),
            ..SettingsLayer::default()
        };
        let s = Settings::resolve(&flags, &file).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:4000");
        assert_eq!(s.idle_timeout, Duration::from_millis(5500));
        assert_eq!(s.max_outstanding, 3);
        assert_eq!(s.login_timeout, Duration::from_secs(300));
        assert_eq!(s.session_threads, Settings::default().session_threads);
        assert!(s.session_threads >= 1);
        let file: SettingsLayer = toml::from_str("session_threads = 3\n").unwrap();
        assert_eq!(
            Settings::resolve(&SettingsLayer::default(), &file)
                .unwrap()
                .session_threads,
            3
        );
    }

    #[test]
    fn file_with_unknown_key_or_bad_value_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("harmonic.toml");
        std::fs::write(&path, "idle_timeout = 5\n").unwrap();
        let err = SettingsLayer::from_file(&path).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
        std::fs::write(&path, "idle_timeout_s = -1\n").unwrap();
        let layer = SettingsLayer::from_file(&path).unwrap();
        let err = Settings::resolve(&SettingsLayer::default(), &layer).unwrap_err();
        assert!(err.to_string().contains("idle_timeout_s"), "{err}");
        let zero = SettingsLayer {
            max_connections: Some(0),
            ..SettingsLayer::default()
        };
        assert!(Settings::resolve(&zero, &SettingsLayer::default()).is_err());
        let no_threads = SettingsLayer {
            session_threads: Some(0),
            ..SettingsLayer::default()
        };
        let err = Settings::resolve(&no_threads, &SettingsLayer::default()).unwrap_err();
        assert!(err.to_string().contains("session_threads"), "{err}");
        let missing = SettingsLayer::from_file(&dir.path().join("nope.toml")).unwrap_err();
        assert!(matches!(missing, ConfigError::Read { .. }));
    }
}
