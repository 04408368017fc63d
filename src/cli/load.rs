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

/// Latencies and errors seen by one session (merged at the end).
#[derive(Default)]
struct Stats {
    latency: BTreeMap<&'static str, Histogram<u64>>,
    error_latency: BTreeMap<String, Histogram<u64>>,
    errors: BTreeMap<String, u64>,
    requests: u64,
    handshakes: u64,
    wrong_counts: u64,
    /// `busy` or `rate_limited` answers in a row (this session's backoff).
    busy_streak: u32,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

impl Stats {
    fn record(&mut self, kind: &'static str, micros: u64) {
        self.latency
            .entry(kind)
            .or_insert_with(histogram)
            .saturating_record(micros.max(1));
    }

    fn error(&mut self, kind: &'static str, label: String, micros: u64) {
        self.error_latency
            .entry(format!("{kind} {label}"))
            .or_insert_with(histogram)
            .saturating_record(micros.max(1));
        *self.errors.entry(label).or_default() += 1;
    }

    fn merge(&mut self, other: Stats) {
        for (kind, hist) in other.latency {
            let _ = self.latency.entry(kind).or_insert_with(histogram).add(hist);
        }
        for (kind, hist) in other.error_latency {
            let _ = self
                .error_latency
                .entry(kind)
                .or_insert_with(histogram)
                .add(hist);
        }
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        self.requests += other.requests;
        self.handshakes += other.handshakes;
        self.wrong_counts += other.wrong_counts;
    }
}

/// The error code of a failed request, or what else failed.
fn error_label(err: &ClientError) -> String {
    match err {
        ClientError::Server { code, .. } => code.as_str().to_owned(),
        ClientError::Closed { .. } => "closed".into(),
        ClientError::Timeout => "timeout".into(),
        ClientError::Io(io) if io.raw_os_error() == Some(24) => "too_many_open_files".into(),
        ClientError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection_refused".into()
        }
        ClientError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionReset => {
            "connection_reset".into()
        }
        ClientError::Io(_) => "io".into(),
        ClientError::Handshake(_) => "handshake_failed".into(),
        ClientError::Protocol(_) => "protocol".into(),
        ClientError::IdentityChanged { .. } => "identity_changed".into(),
        ClientError::Encode(_) => "encode".into(),
    }
}

/// Runs `fut`, a request of type `kind`, and records its latency or error.
async fn timed<T>(
    shared: &Shared,
    stats: &mut Stats,
    kind: &'static str,
    fut: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    let started = Instant::now();
    let result = fut.await;
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    stats.requests += 1;
    shared.live.requests.fetch_add(1, Ordering::Relaxed);
    match &result {
        Ok(_) => stats.record(kind, micros),
        Err(err) => {
            shared.live.errors.fetch_add(1, Ordering::Relaxed);
            stats.error(kind, error_label(err), micros);
        }
    }
    result
}

/// The local address session `index` connects from, to stay under the
/// server's per-address limit against a loopback server.
fn local_address(server: SocketAddr, index: usize) -> Option<IpAddr> {
    match server.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => {
            let offset = u32::try_from(index / SESSIONS_PER_LOCAL_ADDRESS).ok()?;
            let base = u32::from(Ipv4Addr::new(127, 0, 0, 2));
            let local = Ipv4Addr::from(base.checked_add(offset)?);
            local.is_loopback().then_some(IpAddr::V4(local))
        }
        _ => None,
    }
}

/// Connects session `index` (TCP from its local address, handshake, the
/// run's pinned fingerprint).
async fn open(shared: &Shared, index: usize) -> Result<Client, ClientError> {
    let options = ConnectOptions {
        pinned_fingerprint: Some(shared.fingerprint.clone()),
        ..ConnectOptions::default()
    };
    let socket = if shared.server.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(local) = local_address(shared.server, index) {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    let stream = tokio::time::timeout(options.timeout, socket.connect(shared.server))
        .await
        .map_err(|_| ClientError::Timeout)??;
    stream.set_nodelay(true)?;
    Client::over_stream(stream, options).await
}

/// Connects and records the handshake's latency (TCP connect included).
async fn open_timed(shared: &Shared, stats: &mut Stats, index: usize) -> Option<Client> {
    let started = Instant::now();
    match open(shared, index).await {
        Ok(client) => {
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            stats.record("handshake", micros);
            stats.handshakes += 1;
            Some(client)
        }
        Err(err) => {
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            shared.live.errors.fetch_add(1, Ordering::Relaxed);
            stats.error("handshake", error_label(&err), micros);
            None
        }
    }
}

/// Logs a session in: signup once per account, then the password for the
/// account's first session and `resume` with the freshest token after it.
async fn log_in(
    shared: &Shared,
    stats: &mut Stats,
    client: &Client,
    account: &Account,
) -> Result<(), ClientError> {
    let mut state = account.state.lock().await;
    if !state.signed_up {
        // From the local address of its signup slot, not the session's.
        let slot = account.index / SIGNUPS_PER_LOCAL_ADDRESS * SESSIONS_PER_LOCAL_ADDRESS;
        let signer = open(shared, slot).await?;
        let signed = timed(
            shared,
            stats,
            "signup",
            signer.signup(&account.username, PASSWORD),
        )
        .await;
        signer.close().await;
        match signed {
            Ok(()) => {}
            Err(err) if err.is_code(ErrorCode::UsernameTaken) => {}
            Err(err) => return Err(err),
        }
        state.signed_up = true;
    }
    // Resume with the account's token; when there is none, or it was spent
    // meanwhile, log in with the password.
    let resumed = match state.token.take() {
        Some(token) => match timed(shared, stats, "resume", client.resume(&token)).await {
            Ok(result) => Some(result),
            Err(err) if err.is_code(ErrorCode::InvalidCredentials) => None,
            Err(err) => return Err(err),
        },
        None => None,
    };
    let result = match resumed {
        Some(result) => result,
        None => {
            timed(
                shared,
                stats,
                "login",
                client.login(&account.username, PASSWORD),
            )
            .await?
        }
    };
    state.token = Some(result.resume_token);
    if shared.scenario.needs_template() && !state.template_saved {
        let template = AudioSource::Bytes(shared.template.clone());
        timed(
            shared,
            stats,
            "sound.save",
            client.sound_save(TEMPLATE_NAME, template, true),
        )
        .await?;
        state.template_saved = true;
    }
    Ok(())
}

/// The step an iteration of the loop takes.
#[derive(Debug, Clone, Copy)]
enum Step {
    Login,
    Count,
    Stream,
    Ping,
    List,
    Idle,
}

/// The blend of `mixed`, one step per iteration.
const MIXED: [Step; 10] = [
    Step::Ping,
    Step::List,
    Step::Count,
    Step::Ping,
    Step::Stream,
    Step::List,
    Step::Count,
    Step::Ping,
    Step::Count,
    Step::Stream,
];

fn step(scenario: Scenario, iteration: usize) -> Step {
    match scenario {
        Scenario::Login => Step::Login,
        Scenario::Count => Step::Count,
        Scenario::Stream => Step::Stream,
        Scenario::Idle => Step::Idle,
        Scenario::Mixed | Scenario::Handshake => MIXED[iteration % MIXED.len()],
    }
}

/// Runs one step; `Err` only when the connection is gone.
async fn run_step(
    shared: &Shared,
    stats: &mut Stats,
    client: &Client,
    account: &Account,
    step: Step,
) -> Result<(), ClientError> {
    let outcome = match step {
        Step::Ping => timed(shared, stats, "ping", client.ping()).await.map(drop),
        Step::List => timed(shared, stats, "sound.list", client.sound_list())
            .await
            .map(drop),
        Step::Login => {
            let login = timed(
                shared,
                stats,
                "login",
                client.login(&account.username, PASSWORD),
            )
            .await;
            match login {
                Ok(_) => timed(shared, stats, "logout", client.logout()).await,
                Err(err) => Err(err),
            }
        }
        Step::Count => {
            let template = TemplateSource::Sound(TEMPLATE_NAME.to_owned());
            let recording = AudioSource::Bytes(shared.recording.clone());
            let counted = timed(
                shared,
                stats,
                "count",
                client.count(&template, recording, &shared.options, |_, _| {}),
            )
            .await;
            counted.map(|result| {
                if shared
                    .expected_count
                    .is_some_and(|expected| expected != result.count)
                {
                    stats.wrong_counts += 1;
                }
            })
        }
        Step::Stream => stream(shared, stats, client).await,
        Step::Idle => {
            let wake = (Instant::now() + shared.ping_interval).min(shared.deadline);
            tokio::time::sleep_until(wake.into()).await;
            if Instant::now() >= shared.deadline {
                return Ok(());
            }
            timed(shared, stats, "ping", client.ping()).await.map(drop)
        }
    };
    match outcome {
        Err(err @ (ClientError::Closed { .. } | ClientError::Io(_))) => Err(err),
        Err(err) if err.is_code(ErrorCode::Busy) || err.is_code(ErrorCode::RateLimited) => {
            back_off(stats).await;
            Ok(())
        }
        _ => {
            stats.busy_streak = 0;
            Ok(())
        }
    }
}

/// Waits after a `busy`: exponential backoff with jitter.
async fn back_off(stats: &mut Stats) {
    let doubled = BACKOFF.saturating_mul(1 << stats.busy_streak.min(5));
    let jitter = Duration::from_millis((stats.requests.wrapping_mul(7919)) % 100);
    stats.busy_streak = stats.busy_streak.saturating_add(1);
    tokio::time::sleep(doubled.min(MAX_BACKOFF) + jitter).await;
}

/// `stream.open`, the recording in 100 ms `stream.data`, `stream.close`.
async fn stream(shared: &Shared, stats: &mut Stats, client: &Client) -> Result<(), ClientError> {
    let template = TemplateSource::Sound(TEMPLATE_NAME.to_owned());
    let stream_id = timed(
        shared,
        stats,
        "stream.open",
        client.stream_open(&template, &shared.pcm_format, &shared.options),
    )
    .await?;
    let chunk_len = shared.pcm_format.frame_bytes()
        * ((f64::from(shared.pcm_format.sample_rate) * STREAM_CHUNK_S) as usize).max(1);
    let mut offset = 0;
    while offset < shared.pcm.len() {
        let end = (offset + chunk_len).min(shared.pcm.len());
        let chunk = shared.pcm.slice(offset..end);
        timed(
            shared,
            stats,
            "stream.data",
            client.stream_data(&stream_id, chunk),
        )
        .await?;
        offset = end;
    }
    let closed = timed(
        shared,
        stats,
        "stream.close",
        client.stream_close(&stream_id),
    )
    .await?;
    if shared
        .expected_count
        .is_some_and(|expected| expected != closed.total)
    {
        stats.wrong_counts += 1;
    }
    Ok(())
}

/// One session: connect, log in, loop on the scenario until the deadline;
/// reconnect when the connection is lost.
async fn session(shared: &Shared, index: usize, stats: &mut Stats) {
    let account = &shared.accounts[index % shared.accounts.len()];
    let mut iteration = index;
    while Instant::now() < shared.deadline {
        let Some(client) = open_timed(shared, stats, index).await else {
            tokio::time::sleep(RECONNECT_DELAY).await;
            continue;
        };
        if shared.scenario == Scenario::Handshake {
            let _ = timed(shared, stats, "ping", client.ping()).await;
            client.close().await;
            continue;
        }
        let connected = shared.live.connected.fetch_add(1, Ordering::Relaxed) + 1;
        shared
            .live
            .peak_connected
            .fetch_max(connected, Ordering::Relaxed);
        let mut logged_in = log_in(shared, stats, &client, account).await;
        if let Err(err) = &logged_in {
            if err.is_code(ErrorCode::Busy) || err.is_code(ErrorCode::RateLimited) {
                back_off(stats).await;
                logged_in = log_in(shared, stats, &client, account).await;
            }
        }
        if logged_in.is_ok() {
            while Instant::now() < shared.deadline {
                let this = step(shared.scenario, iteration);
                iteration += 1;
                if run_step(shared, stats, &client, account, this)
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
        shared.live.connected.fetch_sub(1, Ordering::Relaxed);
        if Instant::now() < shared.deadline && !client.is_closed() && logged_in.is_err() {
            tokio::time::sleep(RECONNECT_DELAY).await;
        }
        drop(client);
    }
}

/// A WAV file (16-bit mono) in memory.
fn wav_bytes(samples: &[f32], rate: u32) -> Vec<u8> {
    synth::wav_bytes(samples, rate, 1, crate::audio::SampleLayout::S16)
}

/// A sample as 16-bit PCM, as [`wav_bytes`] writes it (live streams send raw PCM).
fn s16(sample: f32) -> i16 {
    (sample.clamp(-1.0, 1.0) * 32_767.0).round() as i16
}

/// The generated template and a 10 s recording holding it at [`SYNTH_EVENTS`].
pub(crate) fn generated_audio() -> (Vec<f32>, Vec<f32>) {
    let template = synth::sound(synth::SoundKind::KeyClick, SYNTH_RATE, &mut synth::rng(7));
    let len = (SYNTH_SECONDS * f64::from(SYNTH_RATE)) as usize;
    let mut recording: Vec<f32> = synth::white(len, &mut synth::rng(11))
        .into_iter()
        .map(|s| s * 0.003)
        .collect();
    for &at in &SYNTH_EVENTS {
        let start = (at * f64::from(SYNTH_RATE)) as usize;
        for (i, s) in template.iter().enumerate() {
            if let Some(out) = recording.get_mut(start + i) {
                *out += s;
            }
        }
    }
    (template, recording)
}

/// The audio of the run: template WAV, recording WAV, recording as s16le
/// PCM with its format, and the expected count (known for generated audio).
fn audio(args: &LoadArgs) -> Result<(Bytes, Bytes, Bytes, PcmFormat, Option<u64>), String> {
    let (generated_template, generated_recording) = generated_audio();
    let template = match &args.template {
        Some(path) => std::fs::read(path).map_err(|err| format!("{}: {err}", path.display()))?,
        None => wav_bytes(&generated_template, SYNTH_RATE),
    };
    let (recording, expected) = match &args.recording {
        Some(path) => (
            std::fs::read(path).map_err(|err| format!("{}: {err}", path.display()))?,
            None,
        ),
        None => (
            wav_bytes(&generated_recording, SYNTH_RATE),
            (args.template.is_none()).then_some(SYNTH_EVENTS.len() as u64),
        ),
    };
    let mut source = AudioReader::from_bytes(recording.clone())
        .map_err(|err| format!("the recording: {err}"))?;
    let rate = source.info().sample_rate;
    let samples = source
        .read_all()
        .map_err(|err| format!("the recording: {err}"))?;
    let pcm: Vec<u8> = samples.iter().flat_map(|s| s16(*s).to_le_bytes()).collect();
    let format = PcmFormat {
        encoding: PcmEncoding::S16Le,
        sample_rate: rate,
        channels: 1,
    };
    Ok((
        Bytes::from(template),
        Bytes::from(recording),
        Bytes::from(pcm),
        format,
        expected,
    ))
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

/// A live progress line on a terminal.
fn progress_line(
    shared: &Arc<Shared>,
    sessions: usize,
    started: Instant,
) -> Option<(ProgressBar, tokio::task::JoinHandle<()>)> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let ticker = {
        let bar = bar.clone();
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            let mut last = (Instant::now(), 0u64);
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let requests = shared.live.requests.load(Ordering::Relaxed);
                let now = Instant::now();
                let rate = (requests - last.1) as f64 / (now - last.0).as_secs_f64();
                last = (now, requests);
                let left = shared.deadline.saturating_duration_since(now).as_secs();
                bar.set_message(format!(
                    "sessions {}/{sessions} · requests {requests} ({rate:.0}/s) · errors {} · {left} s left",
                    shared.live.connected.load(Ordering::Relaxed),
                    shared.live.errors.load(Ordering::Relaxed),
                ));
                bar.tick();
                let _ = started;
            }
        })
    };
    Some((bar, ticker))
}

fn millis(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn percentiles(hist: &Histogram<u64>) -> Value {
    json!({
        "n": hist.len(),
        "p50": millis(hist.value_at_quantile(0.50)),
        "p90": millis(hist.value_at_quantile(0.90)),
        "p99": millis(hist.value_at_quantile(0.99)),
        "max": millis(hist.max()),
    })
}

/// The `--json` report (the text report is printed from it).
fn report(args: &LoadArgs, shared: &Shared, stats: &Stats, elapsed: f64, accounts: usize) -> Value {
    let latency: Map<String, Value> = stats
        .latency
        .iter()
        .map(|(kind, hist)| ((*kind).to_owned(), percentiles(hist)))
        .collect();
    let error_latency: Map<String, Value> = stats
        .error_latency
        .iter()
        .map(|(kind, hist)| (kind.clone(), percentiles(hist)))
        .collect();
    json!({
        "server": shared.server.to_string(),
        "scenario": args.scenario.name(),
        "sessions": args.sessions,
        "accounts": accounts,
        "ramp_s": args.ramp,
        "duration_s": args.duration,
        "elapsed_s": elapsed,
        "peak_sessions": shared.live.peak_connected.load(Ordering::Relaxed),
        "requests": stats.requests,
        "requests_per_s": stats.requests as f64 / elapsed.max(1e-9),
        "handshakes": stats.handshakes,
        "handshakes_per_s": stats.handshakes as f64 / elapsed.max(1e-9),
        "latency_ms": latency,
        "errors": stats.errors,
        "error_latency_ms": error_latency,
        "wrong_counts": stats.wrong_counts,
    })
}

fn text_report(report: &Value) -> String {
    let number = |key: &str| report[key].as_f64().unwrap_or_default();
    let mut out = format!(
        "{} scenario against {}: {} sessions ({} accounts, peak {} at once), {:.1} s\n\
         {} requests, {:.1} per second; {} handshakes, {:.1} per second\n",
        report["scenario"].as_str().unwrap_or_default(),
        report["server"].as_str().unwrap_or_default(),
        report["sessions"],
        report["accounts"],
        report["peak_sessions"],
        number("elapsed_s"),
        report["requests"],
        number("requests_per_s"),
        report["handshakes"],
        number("handshakes_per_s"),
    );
    let table = |title: &str, key: &str, out: &mut String| {
        if let Some(rows) = report[key].as_object().filter(|rows| !rows.is_empty()) {
            out.push_str(&format!(
                "{title:<24} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
                "n", "p50 ms", "p90 ms", "p99 ms", "max ms"
            ));
            for (kind, row) in rows {
                let cell = |name: &str| row[name].as_f64().unwrap_or_default();
                out.push_str(&format!(
                    "{kind:<24} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2}\n",
                    row["n"].as_u64().unwrap_or_default(),
                    cell("p50"),
                    cell("p90"),
                    cell("p99"),
                    cell("max")
                ));
            }
        }
    };
    table("request", "latency_ms", &mut out);
    match report["errors"].as_object() {
        Some(errors) if !errors.is_empty() => {
            let list: Vec<String> = errors
                .iter()
                .map(|(code, n)| format!("{code} {n}"))
                .collect();
            out.push_str(&format!("errors: {}\n", list.join(", ")));
            table("error answers", "error_latency_ms", &mut out);
        }
        _ => out.push_str("errors: none\n"),
    }
    if let Some(wrong) = report["wrong_counts"].as_u64().filter(|&n| n > 0) {
        out.push_str(&format!(
            "counts that differed from the expected one: {wrong}\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_sessions_spread_over_local_addresses() {
        let server: SocketAddr = "127.0.0.1:2525".parse().unwrap();
        assert_eq!(local_address(server, 0), Some("127.0.0.2".parse().unwrap()));
        assert_eq!(
            local_address(server, 19),
            Some("127.0.0.2".parse().unwrap())
        );
        assert_eq!(
            local_address(server, 20),
            Some("127.0.0.3".parse().unwrap())
        );
        assert_eq!(
            local_address(server, 10_000),
            Some("127.0.1.246".parse().unwrap())
        );
        let remote: SocketAddr = "192.0.2.1:2525".parse().unwrap();
        assert_eq!(local_address(remote, 5000), None);
    }

    #[test]
    fn generated_wav_decodes_to_the_recording() {
        let (_, recording) = generated_audio();
        let wav = wav_bytes(&recording, SYNTH_RATE);
        let mut source = AudioReader::from_bytes(wav).unwrap();
        assert_eq!(source.info().sample_rate, SYNTH_RATE);
        let decoded = source.read_all().unwrap();
        assert_eq!(decoded.len(), recording.len());
        assert!((decoded[16_000] - recording[16_000]).abs() < 1e-4);
    }

    #[test]
    fn stats_merge_and_report_percentiles() {
        let mut a = Stats::default();
        for ms in 1..=100 {
            a.record("ping", ms * 1000);
        }
        a.requests = 100;
        let mut b = Stats::default();
        b.error("count", "busy".into(), 500);
        b.requests = 1;
        a.merge(b);
        let p = percentiles(&a.latency["ping"]);
        assert_eq!(p["n"], 100);
        assert!((p["p50"].as_f64().unwrap() - 50.0).abs() < 0.1, "{p}");
        assert!((p["max"].as_f64().unwrap() - 100.0).abs() < 0.1, "{p}");
        assert_eq!(a.errors["busy"], 1);
        assert_eq!(a.requests, 101);
    }
}
