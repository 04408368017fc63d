//! Runs the Python client of `tests/interop/` (written from the protocol page
//! alone) against an in-process server: the proof that a client in another
//! language can be written from the spec.
//!
//! It needs Python 3 and the `cryptography` package. Where the `python3` on
//! PATH lacks it, the test makes its own virtual environment under the
//! target directory (reused by later runs) and pip-installs
//! `tests/interop/requirements.txt` there, saying so; so `cargo test` is all
//! a fresh machine with Python 3 runs. Only when neither a virtual
//! environment nor pip works does it fail, saying what to install.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harmonic::actors::ServerThread;
use harmonic::config::Settings;

/// How long the whole scenario may take before it is killed.
const SCENARIO_LIMIT: Duration = Duration::from_secs(180);

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A Python interpreter and the `PYTHONPATH` it needs for `cryptography`.
struct Python {
    program: PathBuf,
    python_path: Option<PathBuf>,
}

impl Python {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        if let Some(path) = &self.python_path {
            command.env("PYTHONPATH", path);
        }
        command
    }

    /// The `cryptography` version this interpreter imports, if it does.
    fn cryptography(&self) -> Option<String> {
        let output = self
            .command()
            .args(["-c", "import cryptography; print(cryptography.__version__)"])
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }
}

/// Runs a set-up step; its output on failure.
fn step(mut command: Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    match command.output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!(
            "`{shown}` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(err) => Err(format!("`{shown}` could not run: {err}")),
    }
}

/// `pip install` as the set-up runs it.
const PIP_INSTALL: [&str; 5] = [
    "-m",
    "pip",
    "install",
    "--quiet",
    "--disable-pip-version-check",
];

/// Runs the `steps` that install the requirements into `dir`, then checks
/// that `python` imports `cryptography`; a set-up that finished writes the
/// requirements it installed into `dir`, for later runs to reuse it.
fn set_up<const N: usize>(
    steps: [Command; N],
    dir: &Path,
    python: Python,
    wanted: &str,
) -> Result<Python, String> {
    for command in steps {
        step(command)?;
    }
    std::fs::write(dir.join("installed-requirements.txt"), wanted).unwrap();
    match python.cryptography() {
        Some(version) => {
            eprintln!(
                "interop: installed cryptography {version} in {}",
                dir.display()
            );
            Ok(python)
        }
        None => Err(format!(
            "{} still cannot import cryptography",
            dir.display()
        )),
    }
}

/// `python3` when it imports `cryptography`; else a virtual environment
/// under the target directory with `tests/interop/requirements.txt`
/// installed (made once, reused while the requirements are unchanged);
/// else, where `venv` is missing, the requirements pip-installed into a
/// folder there and put on `PYTHONPATH`.
fn python_with_cryptography() -> Python {
    let system = Python {
        program: PathBuf::from("python3"),
        python_path: None,
    };
    if let Some(version) = system.cryptography() {
        eprintln!("interop: python3 with cryptography {version}");
        return system;
    }
    let requirements = manifest_dir().join("tests/interop/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).expect("tests/interop/requirements.txt");
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let venv = base.join("interop-venv");
    let venv_python = Python {
        program: venv.join("bin/python3"),
        python_path: None,
    };
    let site = base.join("interop-site");
    let site_python = Python {
        program: PathBuf::from("python3"),
        python_path: Some(site.clone()),
    };
    // A set-up that finished wrote the requirements it installed.
    for (python, dir) in [(&venv_python, &venv), (&site_python, &site)] {
        if std::fs::read_to_string(dir.join("installed-requirements.txt"))
            .ok()
            .as_deref()
            == Some(wanted.as_str())
        {
            if let Some(version) = python.cryptography() {
                eprintln!(
                    "interop: cryptography {version} from {} (made by an earlier run)",
                    dir.display()
                );
                return Python {
                    program: python.program.clone(),
                    python_path: python.python_path.clone(),
                };
            }
        }
    }
    eprintln!(
        "interop: python3 lacks the `cryptography` package; making a virtual environment in {} and installing {} there (once; later runs reuse it)",
        venv.display(),
        requirements.display()
    );
    let mut failures = Vec::new();
    let _ = std::fs::remove_dir_all(&venv);
    let mut make = Command::new("python3");
    make.args(["-m", "venv"]).arg(&venv);
    let mut install = venv_python.command();
    install.args(PIP_INSTALL).arg("-r").arg(&requirements);
    match set_up([make, install], &venv, venv_python, &wanted) {
        Ok(python) => return python,
        Err(err) => failures.push(err),
    }
    eprintln!(
        "interop: no virtual environment ({}); installing into {} with pip --target instead",
        failures[0],
        site.display()
    );
    let _ = std::fs::remove_dir_all(&site);
    let mut install = Command::new("python3");
    install
        .args(PIP_INSTALL)
        .arg("--target")
        .arg(&site)
        .arg("-r")
        .arg(&requirements);
    match set_up([install], &site, site_python, &wanted) {
        Ok(python) => return python,
        Err(err) => failures.push(err),
    }
    panic!(
        "the interop test needs Python 3 with the `cryptography` package, and could not set it up:\n- {}\n\
         Install Python 3.11 or later with its venv module (Debian: apt-get install python3-venv), \
         or install the package yourself: python3 -m pip install -r tests/interop/requirements.txt",
        failures.join("\n- ")
    );
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
    let python = python_with_cryptography();
    let data = tempfile::tempdir().unwrap();
    let server = ServerThread::spawn(Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_owned(),
        analysis_workers: 2,
        ..Settings::default()
    })
    .expect("server starts");

    let root = manifest_dir();
    let mut command = python.command();
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
