//! `harmonic serve`: runs the server until SIGINT or SIGTERM, then stops
//! gracefully (PROTOCOL.md §6) and exits with status 0.
//!
//! Logging goes through env_logger with one target per concern
//! (`connection`, `auth`, `library`, `analysis`, `admin`): `info` by default,
//! `debug` with `--debug` (and `trace` for `connection`, which dumps every
//! plaintext header in hex with passwords and tokens redacted); `RUST_LOG`
//! refines either.

use std::io::Write;
use std::path::PathBuf;

use crate::actors::{Server, LIBRARY_CLOSE_LIMIT, SHUTDOWN_MESSAGE};
use crate::config::{Settings, SettingsLayer};

/// The log targets of the server, one per concern.
pub const LOG_TARGETS: [&str; 5] = ["connection", "auth", "library", "analysis", "admin"];

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
    /// Write the log to FILE (appending) instead of stderr.
    #[arg(long, env = "HARMONIC_LOG_FILE", value_name = "FILE")]
    log_file: Option<PathBuf>,
}

/// Runs the server until a signal has stopped it.
pub fn run(args: ServeArgs) -> Result<(), String> {
    init_logging(args.debug, args.log_file.as_ref())?;
    let file = match &args.config {
        Some(path) => SettingsLayer::from_file(path).map_err(|err| err.to_string())?,
        None => SettingsLayer::default(),
    };
    let settings = Settings::resolve(&args.settings, &file).map_err(|err| err.to_string())?;
    let grace = settings.shutdown_grace;
    let system = actix::System::new();
    let closed = system.block_on(async move {
        let server = Server::start(settings).await.map_err(|err| err.to_string())?;
        log::info!(target: "connection", "harmonic {} ready", env!("CARGO_PKG_VERSION"));
        let handle = server.shutdown_handle();
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

/// env_logger with the server's targets; `RUST_LOG` refines the defaults.
fn init_logging(debug: bool, log_file: Option<&PathBuf>) -> Result<(), String> {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(log::LevelFilter::Warn);
    for target in LOG_TARGETS {
        let level = if debug {
            log::LevelFilter::Debug
        } else {
            log::LevelFilter::Info
        };
        builder.filter_module(target, level);
    }
    if debug {
        builder.filter_module("connection", log::LevelFilter::Trace);
    }
    builder.parse_default_env();
    builder.format(|out, record| {
        writeln!(
            out,
            "{} {:<5} {}: {}",
            humantime::format_rfc3339_millis(std::time::SystemTime::now()),
            record.level(),
            record.target(),
            record.args()
        )
    });
    if let Some(path) = log_file {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|err| format!("cannot open the log file {}: {err}", path.display()))?;
        builder.target(env_logger::Target::Pipe(Box::new(file)));
    }
    builder
        .try_init()
        .map_err(|err| format!("cannot start logging: {err}"))
}
