//! An hour of fast typing counted end to end: 30,000 key clicks, one every
//! 0.12 s, in a 16 kHz recording of faint noise, served by an in-process
//! server (default settings, 127.0.0.1:0) and counted by the release
//! `harmonic` binary, as a user would:
//! `harmonic --server ADDR count --template click.wav hour.wav` (after
//! `signup` and `login`), which uploads the recording in chunks, sends
//! `count`, and gathers every event from the `progress` pushes since the
//! answer lists none past 10,000.
//!
//! `cargo bench --bench hour_of_clicks -- [--keep DIR]`
//!
//! Prints what the CLI printed (the count, and how many event lines, of
//! them how many within 20 ms of a click), the command's wall time (resume,
//! upload, analysis, pushes, printing) and the server's resident memory
//! after it (this process holds the server only). Exits with status 1 when
//! the CLI fails or prints fewer than 30,000 events. With `--keep DIR`,
//! writes `click.wav` and `hour.wav` there.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output, Stdio};
use std::time::Instant;

use harmonic::actors::metrics::resident_memory_bytes;
use harmonic::actors::ServerThread;
use harmonic::audio::SampleLayout;
use harmonic::config::Settings;
use harmonic::synth;

const RATE: u32 = 16_000;
const CLICKS: usize = 30_000;
/// One click every 0.12 s: 30,000 in an hour.
const SPACING_S: f64 = 0.12;

fn main() -> ExitCode {
    let keep = std::env::args()
        .skip_while(|a| a != "--keep")
        .nth(1)
        .map(PathBuf::from);
    let dir = tempfile::tempdir().expect("temp dir");
    let files = keep.unwrap_or_else(|| dir.path().to_owned());
    std::fs::create_dir_all(&files).expect("output directory");

    let click = synth::sound(synth::SoundKind::KeyClick, RATE, &mut synth::rng(7));
    assert!(
        (click.len() as f64 / f64::from(RATE)) < SPACING_S,
        "the click is shorter than the spacing"
    );
    let seconds = 3600.0;
    let mut hour: Vec<f32> =
        synth::white((seconds * f64::from(RATE)) as usize, &mut synth::rng(11))
            .into_iter()
            .map(|s| s * 0.003)
            .collect();
    for i in 0..CLICKS {
        let start = ((0.05 + i as f64 * SPACING_S) * f64::from(RATE)) as usize;
        for (out, s) in hour[start..].iter_mut().zip(&click) {
            *out += s;
        }
    }
    let click_path = files.join("click.wav");
    let hour_path = files.join("hour.wav");
    std::fs::write(
        &click_path,
        synth::wav_bytes(&click, RATE, 1, SampleLayout::S16),
    )
    .expect("write click.wav");
    std::fs::write(
        &hour_path,
        synth::wav_bytes(&hour, RATE, 1, SampleLayout::S16),
    )
    .expect("write hour.wav");
    drop(hour);

    let data = tempfile::tempdir().expect("data dir");
    let settings = Settings {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: data.path().to_owned(),
        ..Settings::default()
    };
    let server = ServerThread::spawn(settings).expect("server starts");
    let cli = Cli {
        server: server.local_addr().to_string(),
        config: tempfile::tempdir().expect("config dir"),
    };
    let password = "correct horse\n";
    cli.must(&["--yes", "signup", "typist"], password);
    cli.must(&["login", "typist"], password);

    let started = Instant::now();
    let printed = cli.must(
        &[
            "count",
            "--template",
            path_arg(&click_path),
            path_arg(&hour_path),
        ],
        "",
    );
    let elapsed = started.elapsed();
    let mut lines = printed.lines();
    let summary = lines.next().unwrap_or_default().to_owned();
    // An event line: "<n>  <start> s  score <score>".
    let starts: Vec<f64> = lines
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let _number: usize = words.next()?.parse().ok()?;
            let start: f64 = words.next()?.parse().ok()?;
            (words.next()? == "s").then_some(start)
        })
        .collect();
    let near_a_click = starts
        .iter()
        .filter(|start| {
            let k = ((*start - 0.05) / SPACING_S).round();
            (*start - (0.05 + k * SPACING_S)).abs() < 0.02
        })
        .count();
    println!("| what | value |\n|---|---:|");
    println!("| clicks in the hour | {CLICKS} |");
    println!("| the CLI's first line | {summary} |");
    println!("| event lines printed | {} |", starts.len());
    println!("| of them within 20 ms of a click | {near_a_click} |");
    println!(
        "| `harmonic count` wall time ({:.0} MB upload, analysis, pushes, printing) | {:.2} s |",
        std::fs::metadata(&hour_path).map_or(0.0, |m| m.len() as f64 / 1e6),
        elapsed.as_secs_f64()
    );
    println!(
        "| server resident memory after | {:.0} MiB |",
        resident_memory_bytes().unwrap_or(0) as f64 / 1048576.0
    );
    if starts.len() < CLICKS {
        eprintln!("the CLI printed {} events of {CLICKS}", starts.len());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The release `harmonic` binary, against the bench's server, with its own
/// config directory (known servers, session file).
struct Cli {
    server: String,
    config: tempfile::TempDir,
}

impl Cli {
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_harmonic"))
            .args(["--server", self.server.as_str()])
            .args(args)
            .env("HARMONIC_CONFIG_DIR", self.config.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the harmonic binary runs");
        if let Some(mut input) = child.stdin.take() {
            // A command that reads no password may have closed its stdin.
            let _ = input.write_all(stdin.as_bytes());
        }
        child.wait_with_output().expect("the harmonic binary ends")
    }

    /// Runs a command that must succeed; its stdout.
    fn must(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "harmonic {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}
