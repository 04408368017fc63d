//! The abuse soak: hundreds of clients doing everything wrong at once
//! against a real `harmonic serve` process, while one well-behaved client
//! logs in, counts and streams, and the server's memory is watched.
//!
//! `cargo bench --bench soak -- [--seconds 60] [--clients 400]
//!  [--max-rss-mib 1024] [--login-ms 2000] [--count-ms 5000] [--stream-ms 5000]
//!  [--without NeverReads,Uploader,...] [--keep-log FILE] [--server-log RUST_LOG]`
//!
//! 1. Accounts are made offline in a temporary data directory (as `harmonic
//!    user add` does), then the release `harmonic serve` binary starts on a
//!    free loopback port with default settings, logging at `info` to a file.
//! 2. Log-flood probe: a logged-in client pings every 20 ms for 5 s alone,
//!    then 5 s while 16 connectors from one address fill its 64 pre-login
//!    places and then hammer it with connections the server refuses at
//!    once. Ping latency (p50/p99/max) and the log file's growth are
//!    reported for both halves.
//! 3. The soak, `--seconds` long: `--clients` abusers in equal shares of
//!    the behaviours below (`--without` leaves some out), each behaviour
//!    from its own loopback addresses (127.k.n.1, 50 clients each, so that
//!    one behaviour's address locks do not stop another): silent connections
//!    (never log in; reconnect when closed), garbage (random frames after
//!    the handshake, bad length prefixes, garbage instead of a handshake),
//!    wrong passwords (pipelined, for usernames of no account), signups
//!    (pipelined), readers that never read (pipelining `sound.get` of a
//!    0.9 MB sound), pipeliners past the outstanding limit, and uploaders
//!    (4 uploads of 64 MiB each begun, 8 MB sent to each in 1 MB chunks,
//!    never finished). Meanwhile the well-behaved
//!    client, from 127.0.0.2, loops: a new connection and `login`, a
//!    `count` of a 5 s recording, then a stream of it in 5 chunks; each
//!    step must answer within its bound, and every answer must be right.
//!    The server's RSS is read from /proc every 200 ms; past four times
//!    the bound the server is killed (SIGKILL) to protect the machine, and
//!    the run fails.
//! 4. The server is stopped with SIGTERM (graceful); its exit status must
//!    be 0. The data directory is then checked before and after a reopen:
//!    every saved sound's file exists with its size and SHA-256 (nothing
//!    lost), every file in `sounds/` belongs to a row (nothing orphaned),
//!    the well-behaved client's sound is intact, and the spool is empty
//!    once the store has reopened.
//!
//! Prints a Markdown report; exits with status 1 when a bound is broken.
//! `--keep-log FILE` copies the server's log there (its request lines give
//! each answer's time inside the server, by peer); `--server-log` sets the
//! server's `RUST_LOG` (`info,analysis=debug,auth::timing=debug,library::timing=debug,connection::timing=debug`
//! adds where each login's and stream's time went: queues, runs, CPU time,
//! the session threads' event-loop lag, the library thread's load). The report also gives
//! the well-behaved client's steps loop by loop, and where the CPU went in
//! 5 s windows (the server's threads by group, the bench, the machine).
//! Linux only (/proc, 127.0.0.0/8 source addresses).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use harmonic::audio::{PcmEncoding, PcmFormat, SampleLayout};
use harmonic::client::{Client, ConnectOptions};
use harmonic::crypto::{channel_pair, FrameSealer, Side};
use harmonic::protocol::{encode_message, CountOptions, TemplateSource};
use harmonic::synth;
use harmonic::transport::{client_handshake, split_codecs, DecryptingCodec};
use hdrhistogram::Histogram;
use rand::Rng;
use serde_json::{json, Value};
use sha2::Digest;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::codec::FramedRead;

mod clients;
mod cpu;
mod server;

use clients::*;
use cpu::*;
use server::*;

const PASSWORD: &str = "correct horse battery";
const GOOD_USER: &str = "steady";
/// Accounts the logged-in abusers share (made offline: signups are limited).
const ABUSER_ACCOUNTS: usize = 24;
const RATE: u32 = 16_000;
/// Abusers per loopback source address (under the 64 pre-login places).
const PER_ADDRESS: usize = 50;
const HANDSHAKE_WAIT: Duration = Duration::from_secs(10);

/// The command line.
struct Args {
    seconds: f64,
    clients: usize,
    max_rss_mib: u64,
    login_ms: u64,
    count_ms: u64,
    stream_ms: u64,
    without: Vec<String>,
    keep_log: Option<PathBuf>,
    server_log: Option<String>,
}

impl Args {
    fn parse() -> Args {
        let args: Vec<String> = std::env::args().collect();
        let get = |name: &str, default: f64| -> f64 {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Args {
            seconds: get("--seconds", 60.0),
            clients: get("--clients", 400.0) as usize,
            max_rss_mib: get("--max-rss-mib", 1024.0) as u64,
            login_ms: get("--login-ms", 2000.0) as u64,
            count_ms: get("--count-ms", 5000.0) as u64,
            stream_ms: get("--stream-ms", 5000.0) as u64,
            without: args
                .iter()
                .position(|a| a == "--without")
                .and_then(|i| args.get(i + 1))
                .map(|list| list.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
            keep_log: args
                .iter()
                .position(|a| a == "--keep-log")
                .and_then(|i| args.get(i + 1))
                .map(PathBuf::from),
            server_log: args
                .iter()
                .position(|a| a == "--server-log")
                .and_then(|i| args.get(i + 1))
                .cloned(),
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path().join("data");
    let log_file = work.path().join("server.log");
    make_accounts(&data);
    let addr = free_port();
    let mut server = start_server(&data, &log_file, addr, args.server_log.as_deref());
    let pid = server.id();
    let rss = RssWatch::start(pid, args.max_rss_mib * 4 * 1024);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut failures = Vec::new();
    let (flood, soak) = runtime.block_on(async {
        wait_for_server(addr).await;
        let flood = log_flood_probe(addr, &log_file).await;
        let soak = soak(addr, pid, &args).await;
        (flood, soak)
    });
    drop(runtime);
    let (peak_rss, killed) = rss.stop();
    let stopped = stop_server(&mut server);
    if let Some(keep) = &args.keep_log {
        if let Err(err) = std::fs::copy(&log_file, keep) {
            eprintln!("cannot keep the server's log at {}: {err}", keep.display());
        }
    }
    let check = check_data_dir(&data, &soak.saved);

    println!(
        "## Abuse soak ({:.0} s, {} abusers)\n",
        args.seconds, args.clients
    );
    if !args.without.is_empty() {
        println!("Left out: {}\n", args.without.join(", "));
    }
    println!("### Refused-connection flood and a logged-in client's ping\n");
    println!(
        "| phase | pings | p50 ms | p99 ms | max ms | refused connections | log bytes written |"
    );
    println!("|---|---|---|---|---|---|---|");
    for phase in &flood {
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {} | {} |",
            phase.name,
            phase.pings.len(),
            phase.pings.value_at_quantile(0.5) as f64 / 1000.0,
            phase.pings.value_at_quantile(0.99) as f64 / 1000.0,
            phase.pings.max() as f64 / 1000.0,
            phase.refused,
            phase.log_bytes
        );
    }
    println!("\n### The well-behaved client during the soak\n");
    println!("| step | bound ms | runs | failures | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|");
    let bounds = [
        ("login (connect + handshake + login)", args.login_ms),
        ("count (5 s recording)", args.count_ms),
        ("stream (open, 5 chunks, close)", args.stream_ms),
    ];
    for ((name, bound), step) in bounds.iter().zip(&soak.steps) {
        let max_ms = step.latencies.max() as f64 / 1000.0;
        println!(
            "| {name} | {bound} | {} | {} | {:.1} | {:.1} | {max_ms:.1} |",
            step.latencies.len(),
            step.failures,
            step.latencies.value_at_quantile(0.5) as f64 / 1000.0,
            step.latencies.value_at_quantile(0.99) as f64 / 1000.0,
        );
        if step.latencies.is_empty() {
            failures.push(format!("{name}: never completed"));
        }
        if max_ms > *bound as f64 {
            failures.push(format!("{name}: {max_ms:.0} ms > {bound} ms"));
        }
        if step.failures > 0 {
            failures.push(format!(
                "{name}: {} failure(s): {:?}",
                step.failures, step.errors
            ));
        }
    }
    println!("\n### The well-behaved client, loop by loop (ms)\n");
    println!("| starts at s | login | count | stream.open | 5 × stream.data | stream.close |");
    println!("|---|---|---|---|---|---|");
    for run in &soak.loops {
        let ms = |d: Option<Duration>| {
            d.map_or("-".into(), |d| format!("{:.0}", d.as_secs_f64() * 1000.0))
        };
        let chunks: Vec<String> = run.chunks.iter().map(|d| ms(Some(*d))).collect();
        println!(
            "| {:.1} | {} | {} | {} | {} | {} |",
            run.at_s,
            ms(run.login),
            ms(run.count),
            ms(run.open),
            if chunks.is_empty() {
                "-".into()
            } else {
                chunks.join(", ")
            },
            ms(run.close)
        );
    }
    println!("\n### Where the CPU went (from the soak's start)\n");
    print_cpu_table(&soak.cpu);
    println!("\n### Abusers\n");
    println!("| behaviour | clients | connections | requests sent | answers read |");
    println!("|---|---|---|---|---|");
    for (kind, tally) in soak.abusers.iter() {
        println!(
            "| {kind} | {} | {} | {} | {} |",
            tally.clients,
            tally.connections.load(Ordering::Relaxed),
            tally.sent.load(Ordering::Relaxed),
            tally.read.load(Ordering::Relaxed)
        );
    }
    let peak_mib = peak_rss / 1024;
    println!(
        "\nServer peak RSS: {peak_mib} MiB (bound {} MiB); exit status after SIGTERM: {stopped}",
        args.max_rss_mib
    );
    if killed {
        failures.push(format!(
            "the server passed {} MiB and was killed",
            args.max_rss_mib * 4
        ));
    }
    if peak_mib > args.max_rss_mib {
        failures.push(format!(
            "peak RSS {peak_mib} MiB > {} MiB",
            args.max_rss_mib
        ));
    }
    if stopped != "0" {
        failures.push(format!("server exit status {stopped}"));
    }
    println!("\n### Data directory after the soak\n");
    for line in &check.report {
        println!("- {line}");
    }
    failures.extend(check.problems);
    if failures.is_empty() {
        println!("\nEvery bound held.");
        ExitCode::SUCCESS
    } else {
        println!("\n**Broken bounds:**");
        for failure in &failures {
            println!("- {failure}");
        }
        ExitCode::FAILURE
    }
}

// ----- the server process -----
// ----- the log-flood probe -----

/// One half of the log-flood probe.
struct FloodPhase {
    name: &'static str,
    pings: Histogram<u64>,
    refused: u64,
    log_bytes: u64,
}

async fn log_flood_probe(server: SocketAddr, log_file: &Path) -> Vec<FloodPhase> {
    let prober = typed_client(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), server)
        .await
        .expect("prober connects");
    prober
        .login(GOOD_USER, PASSWORD)
        .await
        .expect("prober logs in");
    let mut phases = Vec::new();
    for (name, flood) in [("quiet", false), ("refused-connection flood", true)] {
        let stop = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicU64::new(0));
        let mut flooders = Vec::new();
        let mut holders = Vec::new();
        if flood {
            let flooder = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
            // Fill the address's 64 pre-login places...
            for _ in 0..64 {
                if let Some(raw) = Raw::connect(flooder, server).await {
                    holders.push(raw);
                }
            }
            // ...then every new connection is refused at once.
            for _ in 0..16 {
                let (stop, refused) = (Arc::clone(&stop), Arc::clone(&refused));
                flooders.push(tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok(mut stream) = tcp_from(flooder, server).await {
                            let wait = Duration::from_millis(500);
                            if client_handshake(&mut stream, wait).await.is_err() {
                                refused.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }));
            }
        }
        let log_before = file_len(log_file);
        let mut pings = Histogram::<u64>::new(3).expect("histogram");
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            let sent = Instant::now();
            prober.ping().await.expect("ping answered");
            let _ = pings.record(sent.elapsed().as_micros() as u64);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for flooder in flooders {
            let _ = flooder.await;
        }
        drop(holders);
        phases.push(FloodPhase {
            name,
            pings,
            refused: refused.load(Ordering::Relaxed),
            log_bytes: file_len(log_file).saturating_sub(log_before),
        });
    }
    prober.close().await;
    phases
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

// ----- the soak -----

/// One step of the well-behaved client.
struct Step {
    latencies: Histogram<u64>,
    failures: u64,
    errors: Vec<String>,
}

impl Step {
    fn new() -> Step {
        Step {
            latencies: Histogram::new(3).expect("histogram"),
            failures: 0,
            errors: Vec::new(),
        }
    }

    fn record<T>(&mut self, started: Instant, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => {
                let _ = self.latencies.record(started.elapsed().as_micros() as u64);
                Some(value)
            }
            Err(err) => {
                self.failures += 1;
                if self.errors.len() < 5 {
                    self.errors.push(err);
                }
                None
            }
        }
    }
}

/// What one kind of abuser did.
#[derive(Default)]
struct Tally {
    clients: usize,
    connections: AtomicU64,
    sent: AtomicU64,
    read: AtomicU64,
}

#[derive(Clone, Copy, Debug)]
enum Abuse {
    Silent,
    Garbage,
    WrongPasswords,
    Signups,
    NeverReads,
    Pipeliner,
    Uploader,
}

const ABUSES: [Abuse; 7] = [
    Abuse::Silent,
    Abuse::Garbage,
    Abuse::WrongPasswords,
    Abuse::Signups,
    Abuse::NeverReads,
    Abuse::Pipeliner,
    Abuse::Uploader,
];

/// What the soak measured.
struct Soak {
    steps: Vec<Step>,
    abusers: Vec<(String, Arc<Tally>)>,
    /// The well-behaved client's saved sound: (name, sha256).
    saved: (String, String),
    /// The well-behaved client's loops, step by step.
    loops: Vec<LoopTimes>,
    /// CPU use in windows from the soak's start.
    cpu: Vec<CpuWindow>,
}

/// One loop of the well-behaved client (`None`: the step failed or did not run).
#[derive(Default)]
struct LoopTimes {
    at_s: f64,
    login: Option<Duration>,
    count: Option<Duration>,
    open: Option<Duration>,
    chunks: Vec<Duration>,
    close: Option<Duration>,
}

async fn soak(server: SocketAddr, server_pid: u32, args: &Args) -> Soak {
    let click = synth::sound(synth::SoundKind::KeyClick, RATE, &mut synth::rng(7));
    let template_wav = synth::wav_bytes(&click, RATE, 1, SampleLayout::S16);
    let at = [0.5, 1.3, 2.1, 2.9, 3.7, 4.5];
    let session = recording(&click, 5.0, &at);
    let recording_wav = Bytes::from(synth::wav_bytes(&session, RATE, 1, SampleLayout::S16));
    let pcm: Vec<u8> = session
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32_767.0).round() as i16).to_le_bytes())
        .collect();
    let good_local = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let setup = typed_client(good_local, server).await.expect("connects");
    setup.login(GOOD_USER, PASSWORD).await.expect("logs in");
    let saved = setup
        .sound_save("click", Bytes::from(template_wav.clone()), true)
        .await
        .expect("template saved");
    setup.close().await;
    // 28 s with a click a second: a valid template of 0.9 MB, one frame.
    let ticks: Vec<f64> = (0..27).map(|t| f64::from(t) + 0.5).collect();
    let big_sound = Bytes::from(synth::wav_bytes(
        &recording(&click, 28.0, &ticks),
        RATE,
        1,
        SampleLayout::S16,
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let soak_start = Instant::now();
    let cpu = CpuWatch::start(server_pid, Duration::from_secs(5));
    let mut loops = Vec::new();
    let mut tallies: Vec<(String, Arc<Tally>)> = ABUSES
        .iter()
        .map(|kind| (format!("{kind:?}"), Arc::new(Tally::default())))
        .collect();
    let mut tasks = Vec::new();
    let kinds: Vec<(usize, Abuse)> = ABUSES
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, kind)| !args.without.contains(&format!("{kind:?}")))
        .collect();
    for index in 0..args.clients {
        let (slot, _) = kinds[index % kinds.len()];
        if let Some(tally) = Arc::get_mut(&mut tallies[slot].1) {
            tally.clients += 1;
        }
    }
    for index in 0..args.clients {
        let (slot, kind) = kinds[index % kinds.len()];
        let within = index / kinds.len();
        let local = abuser_address(slot, within);
        let account = format!("abuser{}", index % ABUSER_ACCOUNTS);
        let ctx = AbuserContext {
            server,
            local,
            account,
            index,
            stop: Arc::clone(&stop),
            tally: Arc::clone(&tallies[slot].1),
            big_sound: big_sound.clone(),
        };
        tasks.push(tokio::spawn(abuse(kind, ctx)));
        if index % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    let mut steps = vec![Step::new(), Step::new(), Step::new()];
    let expected = at.len() as u64;
    let end = Instant::now() + Duration::from_secs_f64(args.seconds);
    let format = PcmFormat {
        encoding: PcmEncoding::S16Le,
        sample_rate: RATE,
        channels: 1,
    };
    let template = TemplateSource::Sound("click".into());
    while Instant::now() < end {
        let started = Instant::now();
        let mut times = LoopTimes {
            at_s: started.duration_since(soak_start).as_secs_f64(),
            ..LoopTimes::default()
        };
        let login = async {
            let client = typed_client(good_local, server).await?;
            client
                .login(GOOD_USER, PASSWORD)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(client)
        };
        let limit = Duration::from_secs(30);
        let result = tokio::time::timeout(limit, login)
            .await
            .unwrap_or_else(|_| Err("no answer in 30 s".into()));
        let Some(client) = steps[0].record(started, result) else {
            loops.push(times);
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        times.login = Some(started.elapsed());
        let started = Instant::now();
        let count = async {
            let counted = client
                .count(
                    &template,
                    recording_wav.clone(),
                    &CountOptions::default(),
                    |_, _| {},
                )
                .await
                .map_err(|e| e.to_string())?;
            if counted.count != expected {
                return Err(format!("counted {} of {expected}", counted.count));
            }
            Ok(())
        };
        let result = tokio::time::timeout(limit, count)
            .await
            .unwrap_or_else(|_| Err("no answer in 30 s".into()));
        if steps[1].record(started, result).is_some() {
            times.count = Some(started.elapsed());
        }
        let started = Instant::now();
        let times_ref = &mut times;
        let stream = async {
            let step = Instant::now();
            let id = client
                .stream_open(&template, &format, &CountOptions::default())
                .await
                .map_err(|e| e.to_string())?;
            times_ref.open = Some(step.elapsed());
            for chunk in pcm.chunks(pcm.len().div_ceil(5)) {
                let step = Instant::now();
                client
                    .stream_data(&id, Bytes::copy_from_slice(chunk))
                    .await
                    .map_err(|e| e.to_string())?;
                times_ref.chunks.push(step.elapsed());
            }
            let step = Instant::now();
            let closed = client.stream_close(&id).await.map_err(|e| e.to_string())?;
            times_ref.close = Some(step.elapsed());
            if closed.total != expected {
                return Err(format!("streamed {} of {expected}", closed.total));
            }
            Ok(())
        };
        let result = tokio::time::timeout(limit, stream)
            .await
            .unwrap_or_else(|_| Err("no answer in 30 s".into()));
        steps[2].record(started, result);
        loops.push(times);
        client.close().await;
    }
    let cpu = cpu.stop();
    stop.store(true, Ordering::Relaxed);
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    Soak {
        steps,
        abusers: tallies,
        saved: ("click".into(), saved.sha256),
        loops,
        cpu,
    }
}

/// `seconds` of faint noise with `template` at each of `at`.
fn recording(template: &[f32], seconds: f64, at: &[f64]) -> Vec<f32> {
    synth::planted_recording(template, RATE, seconds, at)
}
