//! `harmonic serve`: runs the server until SIGINT or SIGTERM, then stops
//! gracefully (PROTOCOL.md §6) and exits with status 0.
//!
//! Logging goes through [`crate::logging::ServerLogger`] with one target per
//! concern (`connection`, `auth`, `library`, `analysis`, `admin`): `info` by
//! default, `debug` with `--debug` (and `trace` for `connection`, which dumps
//! every plaintext header in hex with passwords and tokens redacted);
//! `RUST_LOG` refines either. The same records feed `admin.tail`. With
//! `--log-file`, SIGHUP reopens the file (logrotate).

use std::path::PathBuf;

use crate::actors::{Server, LIBRARY_CLOSE_LIMIT, SHUTDOWN_MESSAGE};
use crate::config::{Settings, SettingsLayer};
use crate::logging::{LogHandle, LogSetup, ServerLogger};

/// Arguments of `harmonic serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Every server setting (see also --config).
    #[command(flatten)]
    settings: SettingsLayer,
    /// A TOML file of settings (same names, snake case); flags and
    /// environment variables win over it.
    #[arg(long, env = "HARMONIC_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Debug logs, and trace-level hex dumps of plaintext headers (secrets redacted).
    #[arg(long)]
    debug: bool,
    /// Write the log to FILE (appending) instead of stderr; SIGHUP reopens it.
    #[arg(long, env = "HARMONIC_LOG_FILE", value_name = "FILE")]
    log_file: Option<PathBuf>,
}

/// Runs the server until a signal has stopped it.
pub fn run(args: ServeArgs) -> Result<(), String> {
    let log_handle = ServerLogger::install(&LogSetup::server(args.debug, args.log_file.clone()))
        .map_err(|err| format!("cannot start logging: {err}"))?;
    let file = match &args.config {
        Some(path) => SettingsLayer::from_file(path).map_err(|err| err.to_string())?,
        None => SettingsLayer::default(),
    };
    let mut settings = Settings::resolve(&args.settings, &file).map_err(|err| err.to_string())?;
    settings.max_connections = crate::os_limits::ensure_open_files(settings.max_connections);
    let grace = settings.shutdown_grace;
    let system = actix::System::new();
    let closed = system.block_on(async move {
        let server = Server::start(settings).await.map_err(|err| err.to_string())?;
        log::info!(target: "connection", "harmonic {} ready", env!("CARGO_PKG_VERSION"));
        let handle = server.shutdown_handle();
        actix_rt::spawn(reopen_on_hangup(log_handle));
        actix_rt::spawn(async move {
            wait_for_signal().await;
            log::info!(target: "connection", "signal received: stopping within {grace:?} (a second signal stops at once)");
            handle.shutdown(SHUTDOWN_MESSAGE, grace);
            wait_for_signal().await;
            log::warn!(target: "connection", "second signal: stopping now");
            std::process::exit(1);
        });
        Ok::<_, String>(server.stopped().await)
    })?;
    drop(system);
    if !closed.wait(LIBRARY_CLOSE_LIMIT) {
        log::warn!(target: "library", "the database did not close within {LIBRARY_CLOSE_LIMIT:?}");
    }
    log::info!(target: "connection", "stopped");
    Ok(())
}

/// SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use actix_rt::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = actix_rt::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                log::warn!(target: "connection", "cannot watch SIGTERM ({err}); only Ctrl-C stops the server");
                let _ = actix_rt::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = actix_rt::signal::ctrl_c().await;
    }
}

/// Reopens the log file on every SIGHUP (after logrotate moved it).
async fn reopen_on_hangup(handle: LogHandle) {
    #[cfg(unix)]
    {
        use actix_rt::signal::unix::{signal, SignalKind};
        let Some(path) = handle.log_file().map(|path| path.display().to_string()) else {
            return;
        };
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(err) => {
                log::warn!(target: "admin", "cannot watch SIGHUP ({err}); the log file will not be reopened");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            match handle.reopen() {
                Ok(()) => log::info!(target: "admin", "SIGHUP: reopened the log file {path}"),
                Err(err) => eprintln!("harmonic: SIGHUP: {err}"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = handle;
}
