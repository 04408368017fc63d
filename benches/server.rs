//! Throughput and latency of the server, measured with the typed client
//! against an in-process server (`ServerThread`) on 127.0.0.1:0 with a
//! temporary data directory and default settings (but for the login
//! throttle and the per-address connection limits, which the login and
//! handshake rows would trip).
//!
//! `cargo bench --bench server -- [--seconds S]` (S per measurement, default 3)
//!
//! Prints, in one run, as Markdown:
//! - the crypto floor of one handshake: the server's part (ephemeral P-256
//!   keygen + ECDH + one ECDSA sign), the client's part (keygen + ECDH +
//!   verify), and the whole handshake computation of both sides in-process;
//!   also one argon2id password check, which bounds logins;
//! - handshakes per second (connect, handshake, close) at 1, 10 and 100
//!   concurrent connectors, against that floor;
//! - `login` and `ping` round trips per second (repeated on open connections
//!   of one user) at 1, 10 and 100 connections;
//! - `count` latency (p50/p90/p99/max) for a 10 s 44.1 kHz mono recording
//!   sent inline (882 kB in one frame) at 1, 10 and 100 concurrent clients.
//!
//! Client and server share the machine's cores: what one spends the other
//! does not have.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use harmonic::actors::ServerThread;
use harmonic::audio::SampleLayout;
use harmonic::client::{Client, ConnectOptions};
use harmonic::config::Settings;
use harmonic::crypto::{check_client_hello, server_respond, ClientHandshake, ServerIdentity};
use harmonic::protocol::{CountOptions, ErrorCode, TemplateSource};
use harmonic::synth;
use harmonic::synth::evaluate::BenchArgs;
use hdrhistogram::Histogram;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand_core::OsRng;

const USER: &str = "bench";
const PASSWORD: &str = "correct horse battery";
const RATE: u32 = 44_100;
const LEVELS: [usize; 3] = [1, 10, 100];

fn main() {
    let seconds: f64 = BenchArgs::from_env().number("--seconds", 3.0);
    let window = Duration::from_secs_f64(seconds);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let floor = crypto_floor();

    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: dir.path().to_owned(),
        // The login rows measure how fast logins are checked, up to 100 at
        // once for one user from one address: the throttle counts a login
        // in flight as failed until it ends, and would answer the sixth
        // concurrent one `rate_limited` (tests/server_auth.rs tests it).
        login_failures_per_username: 1_000,
        login_failures_per_address: 1_000,
        // The handshake rows open and close up to 100 connections at once
        // from one address, none logged in, and the server counts a closed
        // one until its session has ended: the §7 per-address limits (64
        // not logged in, 256 in all) would close newcomers. One address
        // stands here for many clients, as it did before those limits.
        max_pre_login_per_address: Settings::default().max_connections,
        max_connections_per_address: Settings::default().max_connections,
        ..Settings::default()
    };
    let workers = settings.analysis_workers;
    let queue = settings.analysis_queue;
    let session_threads = settings.session_threads;
    let server = ServerThread::spawn(settings).expect("server starts");
    let addr = server.local_addr();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .expect("runtime");

    let load_before = load_average();
    let report = runtime.block_on(async move {
        let handshakes = measure_handshakes(addr, window).await;
        let (template, recording, planted) = audio();
        let clients = connect_clients(addr, &template).await;
        let logins = measure_round_trips(&clients, window, Call::Login).await;
        let pings = measure_round_trips(&clients, window, Call::Ping).await;
        let counts = measure_counts(&clients, &recording, planted, window).await;
        Report {
            load_before,
            load_after: load_average(),
            handshakes,
            logins,
            pings,
            counts,
            recording_len: recording.len(),
        }
    });
    server.stop(Duration::ZERO).expect("server stops");
    let setup = Setup {
        cores,
        workers,
        queue,
        session_threads,
        seconds,
    };
    print_report(&floor, &report, &setup);
}

/// CPU time (user + system) used so far by the process (`"self"`: clients
/// and server together) or by the calling thread (`"thread-self"`). Read
/// from /proc in 10 ms ticks; zero where /proc is absent.
fn cpu_time(of: &str) -> Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{of}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the command name, which is in parentheses.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let user: u64 = fields.get(11)?.parse().ok()?;
            let system: u64 = fields.get(12)?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn process_cpu() -> Duration {
    cpu_time("self")
}

/// The 1-minute load average (other programs on the machine count too).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Operations per second and process CPU per operation.
#[derive(Clone, Copy)]
struct Rate {
    per_second: f64,
    cpu_per_op: Duration,
}

impl Rate {
    fn of(done: u64, elapsed: Duration, cpu: Duration) -> Rate {
        Rate {
            per_second: done as f64 / elapsed.as_secs_f64(),
            cpu_per_op: cpu / u32::try_from(done.max(1)).unwrap_or(u32::MAX),
        }
    }
}

/// Wall and CPU time of one run of `f` (on this thread), averaged over
/// runs for about `budget`: CPU time is what a loaded machine does not
/// inflate.
fn time_per_run(budget: Duration, mut f: impl FnMut()) -> Cost {
    f();
    let cpu = cpu_time("thread-self");
    let start = Instant::now();
    let mut runs = 0u32;
    while start.elapsed() < budget {
        f();
        runs += 1;
    }
    Cost {
        wall: start.elapsed() / runs,
        cpu: (cpu_time("thread-self") - cpu) / runs,
    }
}

/// Time of one operation.
#[derive(Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

struct Floor {
    server: Cost,
    client: Cost,
    both_in_process: Cost,
    argon2_verify: Cost,
}

/// The crypto of one connection, without the network.
fn crypto_floor() -> Floor {
    let identity_key = SigningKey::random(&mut OsRng);
    let verifying_key = VerifyingKey::from(&identity_key);
    let peer = p256::ecdh::EphemeralSecret::random(&mut OsRng).public_key();
    // The signed message has the length of the real one: label, hello, two keys.
    let message = vec![7u8; 27 + 70 + 65 + 65];
    let signature: Signature = identity_key.sign(&message);

    let server = time_per_run(Duration::from_secs(2), || {
        let ephemeral = p256::ecdh::EphemeralSecret::random(&mut OsRng);
        let public = ephemeral.public_key();
        let shared = ephemeral.diffie_hellman(&peer);
        let signature: Signature = identity_key.sign(&message);
        std::hint::black_box((public, shared.raw_secret_bytes()[0], signature));
    });
    let client = time_per_run(Duration::from_secs(2), || {
        let ephemeral = p256::ecdh::EphemeralSecret::random(&mut OsRng);
        let public = ephemeral.public_key();
        let shared = ephemeral.diffie_hellman(&peer);
        let ok = verifying_key.verify(&message, &signature).is_ok();
        std::hint::black_box((public, shared.raw_secret_bytes()[0], ok));
    });
    let identity = ServerIdentity::generate(&mut OsRng);
    let both_in_process = time_per_run(Duration::from_secs(2), || {
        let (handshake, hello) = ClientHandshake::start(&mut OsRng);
        let hello = check_client_hello(&hello).expect("valid hello");
        let (server_hello, _keys) = server_respond(&hello, &identity, &mut OsRng);
        let accepted = handshake.finish(&server_hello).expect("valid server hello");
        std::hint::black_box(accepted);
    });
    let hash = harmonic::crypto::hash_password(PASSWORD).expect("hash");
    let argon2_verify = time_per_run(Duration::from_secs(2), || {
        assert!(harmonic::crypto::verify_password(PASSWORD, &hash));
    });
    Floor {
        server,
        client,
        both_in_process,
        argon2_verify,
    }
}

/// Connections opened, handshaken and closed per second at each level.
async fn measure_handshakes(addr: std::net::SocketAddr, window: Duration) -> Vec<(usize, Rate)> {
    // Let the server see the last closes before the next level.
    let settle = Duration::from_millis(200);
    rates_per_level(window, settle, move |_| async move {
        let client = Client::connect(addr, ConnectOptions::default())
            .await
            .expect("handshake");
        client.close().await;
    })
    .await
}

/// How many times per second `level` tasks complete `operation` (given the
/// task's number) when each repeats it until `window` has passed, at each
/// level; `settle` is a pause after each level.
async fn rates_per_level<F, Fut>(
    window: Duration,
    settle: Duration,
    operation: F,
) -> Vec<(usize, Rate)>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut rates = Vec::new();
    for level in LEVELS {
        let done = Arc::new(AtomicU64::new(0));
        let cpu = process_cpu();
        let start = Instant::now();
        let deadline = start + window;
        let tasks: Vec<_> = (0..level)
            .map(|task| {
                let done = Arc::clone(&done);
                let operation = operation.clone();
                tokio::spawn(async move {
                    while Instant::now() < deadline {
                        operation(task).await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        let done = done.load(Ordering::Relaxed);
        rates.push((level, Rate::of(done, start.elapsed(), process_cpu() - cpu)));
        tokio::time::sleep(settle).await;
    }
    rates
}

/// A key-click template (40-90 ms) and a 10 s recording with it at three places, as
/// 16-bit mono WAV at 44.1 kHz.
fn audio() -> (Bytes, Bytes, u64) {
    let mut rng = synth::rng(42);
    let template = synth::sound(synth::SoundKind::KeyClick, RATE, &mut rng);
    let mut recording: Vec<f32> = synth::pink(RATE as usize * 10, &mut synth::rng(43));
    synth::normalise_rms(&mut recording, 0.005);
    let at = [1.0, 4.5, 8.0];
    for t in at {
        let start = (t * f64::from(RATE)) as usize;
        for (out, s) in recording[start..].iter_mut().zip(&template) {
            *out += s;
        }
    }
    (wav_bytes(&template), wav_bytes(&recording), at.len() as u64)
}

fn wav_bytes(samples: &[f32]) -> Bytes {
    Bytes::from(synth::wav_bytes(samples, RATE, 1, SampleLayout::S16))
}

/// 100 logged-in connections of one user: the first logs in and saves the
/// template, the others resume with the token the previous one received
/// (a resume costs no argon2).
async fn connect_clients(addr: std::net::SocketAddr, template: &Bytes) -> Vec<Arc<Client>> {
    let first = Client::connect(addr, ConnectOptions::default())
        .await
        .expect("connect");
    first.signup(USER, PASSWORD).await.expect("signup");
    let mut token = first
        .login(USER, PASSWORD)
        .await
        .expect("login")
        .resume_token;
    first
        .sound_save("tmpl", template.clone(), false)
        .await
        .expect("save the template");
    let mut clients = vec![Arc::new(first)];
    while clients.len() < LEVELS[LEVELS.len() - 1] {
        let client = Client::connect(addr, ConnectOptions::default())
            .await
            .expect("connect");
        token = client.resume(&token).await.expect("resume").resume_token;
        clients.push(Arc::new(client));
    }
    clients
}

#[derive(Clone, Copy)]
enum Call {
    Login,
    Ping,
}

/// Round trips per second of `call` repeated on the first `level` connections.
async fn measure_round_trips(
    clients: &[Arc<Client>],
    window: Duration,
    call: Call,
) -> Vec<(usize, Rate)> {
    let clients: Arc<[Arc<Client>]> = clients.into();
    rates_per_level(window, Duration::ZERO, move |task| {
        let client = Arc::clone(&clients[task]);
        async move {
            match call {
                Call::Login => drop(client.login(USER, PASSWORD).await.expect("login")),
                Call::Ping => drop(client.ping().await.expect("ping")),
            }
        }
    })
    .await
}

struct CountLevel {
    clients: usize,
    latency_us: Histogram<u64>,
    server_ms: Histogram<u64>,
    busy: u64,
    rate: Rate,
}

/// `count` latency (request sent to answer received) at each level; a
/// client answered `busy` waits 5 ms and asks again (the busy answer is
/// counted, not timed).
async fn measure_counts(
    clients: &[Arc<Client>],
    recording: &Bytes,
    planted: u64,
    window: Duration,
) -> Vec<CountLevel> {
    let template = TemplateSource::Sound("tmpl".into());
    let options = CountOptions::default();
    // Warm-up, and a check that the work is real.
    let first = clients[0]
        .count(&template, recording.clone(), &options, |_, _| {})
        .await
        .expect("count");
    assert_eq!(first.count, planted, "{first:?}");

    let mut levels = Vec::new();
    for level in LEVELS {
        let latency = Arc::new(Mutex::new(histogram()));
        let server = Arc::new(Mutex::new(histogram()));
        let busy = Arc::new(AtomicU64::new(0));
        let cpu = process_cpu();
        let start = Instant::now();
        let deadline = start + window;
        let tasks: Vec<_> = clients[..level]
            .iter()
            .map(|client| {
                let client = Arc::clone(client);
                let (latency, server, busy) =
                    (Arc::clone(&latency), Arc::clone(&server), Arc::clone(&busy));
                let (template, options, recording) = (template.clone(), options, recording.clone());
                tokio::spawn(async move {
                    // Each client does at least one count.
                    let mut first = true;
                    while first || Instant::now() < deadline {
                        let sent = Instant::now();
                        match client
                            .count(&template, recording.clone(), &options, |_, _| {})
                            .await
                        {
                            Ok(result) => {
                                let took = sent.elapsed().as_micros() as u64;
                                latency.lock().expect("histogram").saturating_record(took);
                                server
                                    .lock()
                                    .expect("histogram")
                                    .saturating_record(result.elapsed_ms.max(1));
                                assert_eq!(result.count, planted);
                                first = false;
                            }
                            Err(err) if err.is_code(ErrorCode::Busy) => {
                                busy.fetch_add(1, Ordering::Relaxed);
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            Err(err) => panic!("count failed: {err}"),
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("counter");
        }
        let latency_us = take(latency);
        levels.push(CountLevel {
            clients: level,
            rate: Rate::of(latency_us.len(), start.elapsed(), process_cpu() - cpu),
            latency_us,
            server_ms: take(server),
            busy: busy.load(Ordering::Relaxed),
        });
    }
    levels
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

fn take(shared: Arc<Mutex<Histogram<u64>>>) -> Histogram<u64> {
    std::mem::replace(&mut *shared.lock().expect("histogram"), histogram())
}

struct Report {
    handshakes: Vec<(usize, Rate)>,
    logins: Vec<(usize, Rate)>,
    pings: Vec<(usize, Rate)>,
    load_before: String,
    load_after: String,
    counts: Vec<CountLevel>,
    recording_len: usize,
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The machine and the server's settings, for the report's first line.
struct Setup {
    cores: usize,
    workers: usize,
    queue: usize,
    session_threads: usize,
    seconds: f64,
}

fn print_report(floor: &Floor, report: &Report, setup: &Setup) {
    let Setup {
        cores,
        workers,
        queue,
        session_threads,
        seconds,
    } = setup;
    println!(
        "Machine: {cores} cores shared by the clients and the server; {seconds} s per measurement; \
         default settings ({workers} analysis workers, queue {queue}, {session_threads} session threads; \
         login throttle raised to 1000); \
         load average {} before, {} after.",
        report.load_before, report.load_after
    );
    println!();
    println!("### Crypto floor per connection (one core, no network)");
    println!();
    println!("| what | CPU time | per second on one core (by CPU time) | wall time |");
    println!("|---|---:|---:|---:|");
    let rows = [
        ("server: ephemeral keygen + ECDH + ECDSA sign", floor.server),
        (
            "client: ephemeral keygen + ECDH + ECDSA verify",
            floor.client,
        ),
        (
            "whole handshake computation, both sides (harmonic::crypto)",
            floor.both_in_process,
        ),
        ("argon2id password check (one login)", floor.argon2_verify),
    ];
    for (what, cost) in rows {
        println!(
            "| {what} | {:.0} µs | {:.0} | {:.0} µs |",
            us(cost.cpu),
            1.0 / cost.cpu.as_secs_f64(),
            us(cost.wall)
        );
    }
    println!();
    println!("### Round trips per second");
    println!();
    println!("CPU is the process's (clients and server together) per operation.");
    println!();
    println!("| concurrent clients | handshakes/s (connect + handshake + close) | of the ceiling 1 / server floor | CPU per handshake | login/s | CPU per login | ping/s | CPU per ping |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let server_floor_rate = 1.0 / floor.server.cpu.as_secs_f64();
    for (i, (level, handshakes)) in report.handshakes.iter().enumerate() {
        let (login, ping) = (report.logins[i].1, report.pings[i].1);
        println!(
            "| {level} | {:.0} | {:.0} % | {:.2} ms | {:.1} | {:.1} ms | {:.0} | {:.0} µs |",
            handshakes.per_second,
            100.0 * handshakes.per_second / server_floor_rate,
            us(handshakes.cpu_per_op) / 1000.0,
            login.per_second,
            us(login.cpu_per_op) / 1000.0,
            ping.per_second,
            us(ping.cpu_per_op),
        );
    }
    println!();
    println!(
        "### `count` latency, 10 s recording (44.1 kHz mono 16-bit, {} bytes inline), key-click template",
        report.recording_len
    );
    println!();
    println!("| concurrent clients | counts | counts/s | CPU per count | p50 | p90 | p99 | max | server elapsed_ms p50 | busy answers |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for level in &report.counts {
        let h = &level.latency_us;
        println!(
            "| {} | {} | {:.1} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {} ms | {} |",
            level.clients,
            h.len(),
            level.rate.per_second,
            us(level.rate.cpu_per_op) / 1000.0,
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.9)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max()),
            level.server_ms.value_at_quantile(0.5),
            level.busy
        );
    }
}
