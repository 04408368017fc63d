//! Runs the Python client of `tests/interop/` (written from the protocol page
//! alone) against an in-process server: the proof that a client in another
//! language can be written from the spec. Python 3 with the `cryptography`
//! package is required; without it this test fails and says how to install it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harmonic::actors::ServerThread;
use harmonic::config::Settings;

/// How to install what the Python client needs.
const PIP_COMMAND: &str = "python3 -m pip install --quiet -r tests/interop/requirements.txt";

/// How long the whole scenario may take before it is killed.
const SCENARIO_LIMIT: Duration = Duration::from_secs(180);

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fails the test unless `python3` runs and imports `cryptography`.
fn require_python_cryptography() {
    let probe = Command::new("python3")
        .args(["-c", "import cryptography; print(cryptography.__version__)"])
        .output();
    match probe {
        Err(err) => panic!(
            "the interop test needs `python3` on PATH, and it could not be run ({err}).\n\
             Install Python 3.11 or later, then run: {PIP_COMMAND}"
        ),
        Ok(output) if !output.status.success() => panic!(
            "the interop test needs Python's `cryptography` package, and \
             `python3 -c 'import cryptography'` failed:\n{}\nInstall it with: {PIP_COMMAND}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Ok(output) => eprintln!(
            "interop: python3 with cryptography {}",
            String::from_utf8_lossy(&output.stdout).trim()
        ),
    }
}

/// Runs `command` with its output in files under `dir`, killing it after
/// `limit`; returns whether it succeeded and everything it printed.
fn run_with_limit(mut command: Command, dir: &Path, limit: Duration) -> (bool, String) {
    let stdout_path = dir.join("stdout.txt");
    let stderr_path = dir.join("stderr.txt");
    command
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).unwrap())
        .stderr(File::create(&stderr_path).unwrap());
    let mut child = command.spawn().expect("python3 starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut printed = std::fs::read_to_string(&stdout_path).unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    if !stderr.is_empty() {
        printed.push_str("\n--- stderr ---\n");
        printed.push_str(&stderr);
    }
    match status {
        Some(status) => (status.success(), format!("{printed}\n(exit: {status})")),
        None => (false, format!("{printed}\n(killed after {limit:?})")),
    }
}

#[test]
fn python_client_written_from_the_spec_runs_the_scenario() {
    require_python_cryptography();
    let data = tempfile::tempdir().unwrap();
    let server = ServerThread::spawn(Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_owned(),
        analysis_workers: 2,
        ..Settings::default()
    })
    .expect("server starts");

    let root = manifest_dir();
    let mut command = Command::new("python3");
    command
        .current_dir(&root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .arg(root.join("tests/interop/scenario.py"))
        .args(["--server", &server.local_addr().to_string()])
        .args(["--fingerprint", server.fingerprint()]);
    let vectors = root.join("../shared/test-vectors.json");
    if vectors.is_file() {
        command.arg("--vectors").arg(&vectors);
    } else {
        eprintln!(
            "interop: {} is absent: skipping only the vector self-check",
            vectors.display()
        );
    }

    let outputs = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (succeeded, printed) = run_with_limit(command, outputs.path(), SCENARIO_LIMIT);
    eprintln!("{printed}\ninterop: took {:?}", started.elapsed());
    assert!(
        succeeded,
        "the Python interop client failed against the server:\n{printed}"
    );
    assert!(
        printed.contains(" passed, 0 failed"),
        "no summary line in the client's output:\n{printed}"
    );
    server.stop(Duration::from_secs(1)).unwrap();
}
