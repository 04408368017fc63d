//! Throughput and latency of the server, measured with the typed client
//! against an in-process server (`ServerThread`) on 127.0.0.1:0 with a
//! temporary data directory and default settings.
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
use hdrhistogram::Histogram;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand_core::OsRng;

const USER: &str = "bench";
const PASSWORD: &str = "correct horse battery";
const RATE: u32 = 44_100;
const LEVELS: [usize; 3] = [1, 10, 100];

fn main() {
    let seconds = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    let window = Duration::from_secs_f64(seconds);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let floor = crypto_floor();

    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: dir.path().to_owned(),
        ..Settings::default()
    };
    let workers = settings.analysis_workers;
    let queue = settings.analysis_queue;
    let server = ServerThread::spawn(settings).expect("server starts");
    let addr = server.local_addr();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .expect("runtime");

    let report = runtime.block_on(async move {
        let handshakes = measure_handshakes(addr, window).await;
        let (template, recording, planted) = audio();
        let clients = connect_clients(addr, &template).await;
        let logins = measure_round_trips(&clients, window, Call::Login).await;
        let pings = measure_round_trips(&clients, window, Call::Ping).await;
        let counts = measure_counts(&clients, &recording, planted, window).await;
        Report {
            handshakes,
            logins,
            pings,
            counts,
            recording_len: recording.len(),
        }
    });
    server.stop(Duration::ZERO).expect("server stops");
    print_report(&floor, &report, cores, workers, queue, seconds);
}

/// Mean time of one run of `f`, over `n` runs.
fn mean_time(n: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..n / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed() / n
}

struct Floor {
    server: Duration,
    client: Duration,
    both_in_process: Duration,
    argon2_verify: Duration,
}

/// The crypto of one connection, without the network.
fn crypto_floor() -> Floor {
    let identity_key = SigningKey::random(&mut OsRng);
    let verifying_key = VerifyingKey::from(&identity_key);
    let peer = p256::ecdh::EphemeralSecret::random(&mut OsRng).public_key();
    // The signed message has the length of the real one: label, hello, two keys.
    let message = vec![7u8; 27 + 70 + 65 + 65];
    let signature: Signature = identity_key.sign(&message);

    let server = mean_time(2_000, || {
        let ephemeral = p256::ecdh::EphemeralSecret::random(&mut OsRng);
        let public = ephemeral.public_key();
        let shared = ephemeral.diffie_hellman(&peer);
        let signature: Signature = identity_key.sign(&message);
        std::hint::black_box((public, shared.raw_secret_bytes()[0], signature));
    });
    let client = mean_time(2_000, || {
        let ephemeral = p256::ecdh::EphemeralSecret::random(&mut OsRng);
        let public = ephemeral.public_key();
        let shared = ephemeral.diffie_hellman(&peer);
        let ok = verifying_key.verify(&message, &signature).is_ok();
        std::hint::black_box((public, shared.raw_secret_bytes()[0], ok));
    });
    let identity = ServerIdentity::generate(&mut OsRng);
    let both_in_process = mean_time(2_000, || {
        let (handshake, hello) = ClientHandshake::start(&mut OsRng);
        let hello = check_client_hello(&hello).expect("valid hello");
        let (server_hello, _keys) = server_respond(&hello, &identity, &mut OsRng);
        let accepted = handshake.finish(&server_hello).expect("valid server hello");
        std::hint::black_box(accepted);
    });
    let hash = harmonic::crypto::hash_password(PASSWORD).expect("hash");
    let argon2_verify = mean_time(20, || {
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
async fn measure_handshakes(addr: std::net::SocketAddr, window: Duration) -> Vec<(usize, f64)> {
    let mut rates = Vec::new();
    for level in LEVELS {
        let done = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let deadline = start + window;
        let tasks: Vec<_> = (0..level)
            .map(|_| {
                let done = Arc::clone(&done);
                tokio::spawn(async move {
                    while Instant::now() < deadline {
                        let client = Client::connect(addr, ConnectOptions::default())
                            .await
                            .expect("handshake");
                        client.close().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("connector");
        }
        let elapsed = start.elapsed().as_secs_f64();
        rates.push((level, done.load(Ordering::Relaxed) as f64 / elapsed));
        // Let the server see the last closes before the next level.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    rates
}

/// The template (1 s) and a 10 s recording with it at three places, as
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
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a.wav");
    synth::write_wav(&path, samples, RATE, 1, SampleLayout::S16).expect("write wav");
    Bytes::from(std::fs::read(&path).expect("read wav"))
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
) -> Vec<(usize, f64)> {
    let mut rates = Vec::new();
    for level in LEVELS {
        let done = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let deadline = start + window;
        let tasks: Vec<_> = clients[..level]
            .iter()
            .map(|client| {
                let client = Arc::clone(client);
                let done = Arc::clone(&done);
                tokio::spawn(async move {
                    while Instant::now() < deadline {
                        match call {
                            Call::Login => drop(client.login(USER, PASSWORD).await.expect("login")),
                            Call::Ping => drop(client.ping().await.expect("ping")),
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("caller");
        }
        let elapsed = start.elapsed().as_secs_f64();
        rates.push((level, done.load(Ordering::Relaxed) as f64 / elapsed));
    }
    rates
}

struct CountLevel {
    clients: usize,
    latency_us: Histogram<u64>,
    server_ms: Histogram<u64>,
    busy: u64,
    per_second: f64,
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
        let elapsed = start.elapsed().as_secs_f64();
        let latency_us = take(latency);
        levels.push(CountLevel {
            clients: level,
            per_second: latency_us.len() as f64 / elapsed,
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
    handshakes: Vec<(usize, f64)>,
    logins: Vec<(usize, f64)>,
    pings: Vec<(usize, f64)>,
    counts: Vec<CountLevel>,
    recording_len: usize,
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn print_report(
    floor: &Floor,
    report: &Report,
    cores: usize,
    workers: usize,
    queue: usize,
    seconds: f64,
) {
    println!(
        "Machine: {cores} cores shared by the clients and the server; {seconds} s per measurement; \
         default settings ({workers} analysis workers, queue {queue})."
    );
    println!();
    println!("### Crypto floor per connection (one core, no network)");
    println!();
    println!("| what | time | per second on one core |");
    println!("|---|---:|---:|");
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
    for (what, time) in rows {
        println!(
            "| {what} | {:.0} µs | {:.0} |",
            us(time),
            1.0 / time.as_secs_f64()
        );
    }
    println!();
    println!("### Round trips per second");
    println!();
    println!("| concurrent clients | handshakes/s (connect + handshake + close) | handshakes / server crypto floor | login/s | ping/s |");
    println!("|---:|---:|---:|---:|---:|");
    let server_floor_rate = 1.0 / floor.server.as_secs_f64();
    for (i, (level, handshakes)) in report.handshakes.iter().enumerate() {
        println!(
            "| {level} | {handshakes:.0} | {:.0} % | {:.1} | {:.0} |",
            100.0 * handshakes / server_floor_rate,
            report.logins[i].1,
            report.pings[i].1
        );
    }
    println!();
    println!(
        "### `count` latency, 10 s recording (44.1 kHz mono 16-bit, {} bytes inline), 1 s template",
        report.recording_len
    );
    println!();
    println!("| concurrent clients | counts | counts/s | p50 | p90 | p99 | max | server elapsed_ms p50 | busy answers |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for level in &report.counts {
        let h = &level.latency_us;
        println!(
            "| {} | {} | {:.1} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {} ms | {} |",
            level.clients,
            h.len(),
            level.per_second,
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.9)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max()),
            level.server_ms.value_at_quantile(0.5),
            level.busy
        );
    }
}
