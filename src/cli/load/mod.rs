//! `harmonic load`: a load generator. N concurrent sessions, each a real
//! [`Client`] doing its scenario in a loop until the run ends; at the end,
//! requests per second, latency percentiles per request type (hdrhistogram)
//! and errors by code, as text or `--json`.
//!
//! It connects to the address it is given and to nothing else.
//!
//! - Accounts: sessions share `--accounts` accounts (default one per 100
//!   sessions), created by the run (`ld-<run>-<k>`). The first session of an
//!   account logs in with the password (argon2 on the server); the others
//!   `resume` with the token the previous one got, the cheap path of a
//!   reconnecting phone, so ten thousand sessions do not cost ten thousand
//!   password hashes. The `login` scenario then logs in with the password
//!   in a loop. Each signup is made on a connection of its own, from the
//!   local address of account k / 10 (the server allows 10 signups per
//!   address an hour).
//! - Many sessions against a loopback server: the server allows 256
//!   connections and 20 logins being checked at once per source address, so
//!   the sessions are spread over local addresses 127.0.0.2, 127.0.0.3, ...
//!   (20 each; Linux routes all of
//!   127/8 to `lo`). Each session needs a file descriptor: raise the limit
//!   with `ulimit -n` when it is lower than the sessions.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Map, Value};
use tokio::net::TcpSocket;

use crate::audio::{AudioReader, PcmEncoding, PcmFormat};
use crate::client::{AudioSource, Client, ClientError, ConnectOptions};
use crate::protocol::{CountOptions, ErrorCode, TemplateSource};
use crate::synth;

mod audio;
mod session;
mod stats;

use audio::audio;
use session::{local_address, session};
use stats::{progress_line, report, text_report, Stats};

/// Sessions bound to one local loopback address: the server allows 256
/// connections, but only 20 logins being checked at once, per address.
const SESSIONS_PER_LOCAL_ADDRESS: usize = 20;
/// Accounts signed up from one local loopback address (the server allows
/// 10 signups per address per hour).
const SIGNUPS_PER_LOCAL_ADDRESS: usize = 10;
/// The name of the template each account saves.
const TEMPLATE_NAME: &str = "load-template";
/// The password of the run's accounts.
const PASSWORD: &str = "load-generator-password";
/// Rate of the generated audio.
const SYNTH_RATE: u32 = 16_000;
/// Where the generated recording holds the template (seconds).
const SYNTH_EVENTS: [f64; 6] = [1.0, 2.5, 4.0, 5.5, 7.0, 8.5];
/// Length of the generated recording.
const SYNTH_SECONDS: f64 = 10.0;
/// Seconds of audio per `stream.data`.
const STREAM_CHUNK_S: f64 = 0.1;
/// First wait after `busy` or `rate_limited`; it doubles with each one in a
/// row (plus up to 100 ms of jitter), up to [`MAX_BACKOFF`], as a polite
/// client does.
const BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait after `busy`.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Wait before reconnecting after a failed connection.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// How long requests still running at the end may take to finish.
const FINISH_GRACE: Duration = Duration::from_secs(10);
/// Largest latency recorded (µs): an hour.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// What each session does in its loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    /// `login` with the password, then `logout`.
    Login,
    /// `count` the recording with the saved template.
    Count,
    /// `stream.open`, the recording in 100 ms `stream.data`, `stream.close`.
    Stream,
    /// A blend: of every 10 iterations, 3 ping, 2 sound.list, 3 count, 2 stream.
    Mixed,
    /// Stay logged in, one `ping` per --ping-interval (sessions held at once).
    Idle,
    /// A new connection (TCP and handshake) and one `ping`, then close.
    Handshake,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Login => "login",
            Scenario::Count => "count",
            Scenario::Stream => "stream",
            Scenario::Mixed => "mixed",
            Scenario::Idle => "idle",
            Scenario::Handshake => "handshake",
        }
    }

    fn needs_template(self) -> bool {
        matches!(self, Scenario::Count | Scenario::Stream | Scenario::Mixed)
    }
}

/// Arguments of `harmonic load`.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The server, `--json` and `--yes` (global options). The server must
    /// be given (`--server` or `HARMONIC_SERVER`): it is the only address
    /// this command connects to.
    #[arg(skip)]
    pub(crate) connect: super::client::ConnectArgs,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 10)]
    sessions: usize,
    /// Seconds over which the sessions start, evenly spread.
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = super::seconds)]
    ramp: f64,
    /// Seconds the run lasts after the ramp.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = super::seconds)]
    duration: f64,
    /// What each session does in its loop.
    #[arg(long, value_enum, default_value = "mixed")]
    scenario: Scenario,
    /// The recording to count and stream (WAV) [default: a generated 10 s
    /// recording holding the generated template 6 times].
    #[arg(long, value_name = "FILE")]
    recording: Option<PathBuf>,
    /// The template to save (WAV) [default: the generated one].
    #[arg(long, value_name = "FILE")]
    template: Option<PathBuf>,
    /// Accounts the sessions share [default: one per 100 sessions].
    #[arg(long)]
    accounts: Option<usize>,
    /// Seconds between the pings of the `idle` scenario.
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = super::seconds)]
    ping_interval: f64,
    /// Threads of the load generator's runtime [default: the CPUs].
    #[arg(long)]
    threads: Option<usize>,
}

/// One account the sessions share.
struct Account {
    /// Its place among the run's accounts.
    index: usize,
    username: String,
    state: tokio::sync::Mutex<AccountState>,
}

#[derive(Default)]
struct AccountState {
    signed_up: bool,
    /// The freshest resume token, for the next session of this account.
    token: Option<String>,
    template_saved: bool,
}

/// Counters the progress line reads while the run goes on.
#[derive(Default)]
struct LiveCounters {
    connected: AtomicUsize,
    peak_connected: AtomicUsize,
    requests: AtomicU64,
    errors: AtomicU64,
}

/// What every session shares.
struct Shared {
    server: SocketAddr,
    fingerprint: String,
    scenario: Scenario,
    accounts: Vec<Account>,
    template: Bytes,
    recording: Bytes,
    pcm: Bytes,
    pcm_format: PcmFormat,
    expected_count: Option<u64>,
    options: CountOptions,
    ping_interval: Duration,
    deadline: Instant,
    live: LiveCounters,
}

/// The soft limit on open files, from `/proc/self/limits` (Linux).
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Runs `harmonic load`.
pub fn run(args: LoadArgs) -> Result<(), String> {
    if args.sessions == 0 {
        return Err("--sessions must be at least 1".into());
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the async runtime: {err}"))?;
    let report = runtime.block_on(load(&args))?;
    let out = if args.connect.json {
        format!("{report}\n")
    } else {
        text_report(&report)
    };
    super::print_stdout(&out)
}

async fn load(args: &LoadArgs) -> Result<Value, String> {
    let named = args.connect.server.as_str();
    let server = tokio::net::lookup_host(named)
        .await
        .map_err(|err| format!("cannot resolve {named}: {err}"))?
        .next()
        .ok_or_else(|| format!("{named} resolves to no address"))?;
    if let Some(limit) = open_file_limit() {
        if (args.sessions as u64).saturating_add(64) > limit {
            eprintln!(
                "warning: the open-file limit is {limit}, too low for {} sessions: raise it first (`ulimit -n {}`)",
                args.sessions,
                args.sessions + 1024
            );
        }
    }
    if local_address(server, 0).is_none() && args.sessions > 256 {
        eprintln!(
            "warning: the server allows 256 connections per address by default; {} sessions from one address will be refused past it",
            args.sessions
        );
    }
    let accounts = args
        .accounts
        .unwrap_or_else(|| args.sessions.div_ceil(100))
        .clamp(1, args.sessions);
    if local_address(server, 0).is_none() && accounts > SIGNUPS_PER_LOCAL_ADDRESS {
        eprintln!(
            "warning: the server allows 10 signups per address an hour by default; {accounts} accounts from one address will be refused past it"
        );
    }
    let (template, recording, pcm, pcm_format, expected_count) = audio(args)?;
    // The key is checked and pinned as by every client command (`--yes`
    // where no terminal can ask); every session must then meet that key.
    let first = super::client::connect(&args.connect)
        .await
        .map_err(|failure| failure.message)?;
    let fingerprint = first.server_fingerprint().to_owned();
    first.close().await;
    if !args.connect.json {
        eprintln!("{server}: key fingerprint {fingerprint}");
    }
    let run_id = format!("{:08x}", rand::random::<u32>());
    let ramp = Duration::from_secs_f64(args.ramp);
    let started = Instant::now();
    let shared = Arc::new(Shared {
        server,
        fingerprint,
        scenario: args.scenario,
        accounts: (0..accounts)
            .map(|k| Account {
                index: k,
                username: format!("ld-{run_id}-{k}"),
                state: Default::default(),
            })
            .collect(),
        template,
        recording,
        pcm,
        pcm_format,
        expected_count,
        options: CountOptions::default(),
        ping_interval: Duration::from_secs_f64(args.ping_interval.max(0.001)),
        deadline: started + ramp + Duration::from_secs_f64(args.duration),
        live: LiveCounters::default(),
    });
    let hard_stop = shared.deadline + FINISH_GRACE;
    let mut tasks = Vec::with_capacity(args.sessions);
    for index in 0..args.sessions {
        let shared = Arc::clone(&shared);
        let start_at = started + ramp.mul_f64(index as f64 / args.sessions as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start_at.into()).await;
            let mut stats = Stats::default();
            tokio::select! {
                () = session(&shared, index, &mut stats) => {}
                () = tokio::time::sleep_until(hard_stop.into()) => {}
            }
            stats
        }));
    }
    let progress = progress_line(&shared, args.sessions, started);
    let mut total = Stats::default();
    for task in tasks {
        if let Ok(stats) = task.await {
            total.merge(stats);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    if let Some((bar, ticker)) = progress {
        ticker.abort();
        bar.finish_and_clear();
    }
    Ok(report(args, &shared, &total, elapsed, accounts))
}

#[cfg(test)]
mod tests;
