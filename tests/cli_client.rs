//! The client commands and the load generator, run as the `harmonic` binary
//! against an in-process server, with the config directory in a temp dir.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::server_support::{recording, settings, start, template, wav};
use serde_json::Value;

const RATE: u32 = 16_000;
const EVENTS: [f64; 4] = [0.5, 2.0, 3.5, 5.0];
const PASSWORD: &str = "correct horse battery";

/// A server, a config dir and the audio files of a test.
struct Fixture {
    server: harmonic::actors::ServerThread,
    config: tempfile::TempDir,
    files: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let data = tempfile::tempdir().unwrap();
        let server = start(settings(data.path()));
        let files = tempfile::tempdir().unwrap();
        let click = template(RATE);
        std::fs::write(files.path().join("click.wav"), wav(&click, RATE)).unwrap();
        let session = recording(&click, RATE, 6.0, &EVENTS);
        std::fs::write(files.path().join("session.wav"), wav(&session, RATE)).unwrap();
        let pcm: Vec<u8> = session
            .iter()
            .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32_767.0).round() as i16).to_le_bytes())
            .collect();
        std::fs::write(files.path().join("session.pcm"), pcm).unwrap();
        Fixture {
            server,
            config: tempfile::tempdir().unwrap(),
            files,
            _data: data,
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.files.path().join(name)
    }

    fn addr(&self) -> String {
        self.server.local_addr().to_string()
    }

    /// Runs `harmonic ARGS --server ADDR` with `stdin`.
    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let addr = self.addr();
        let mut all = args.to_vec();
        all.extend(["--server", addr.as_str()]);
        self.run_exact(&all, stdin)
    }

    /// Runs `harmonic ARGS` with `stdin`, in this fixture's config dir.
    fn run_exact(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_harmonic"))
            .args(args)
            .env("HARMONIC_CONFIG_DIR", self.config.path())
            .env_remove("HARMONIC_SERVER")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The command may not read stdin at all.
        let _ = child.stdin.take().unwrap().write_all(stdin);
        child.wait_with_output().unwrap()
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str], stdin: &[u8]) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a `--json` command that must succeed; returns its one object.
    fn json(&self, args: &[&str], stdin: &[u8]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let stdout = self.ok(&args, stdin);
        assert_eq!(stdout.lines().count(), 1, "one line of JSON: {stdout}");
        serde_json::from_str(&stdout).unwrap()
    }

    fn signup_login(&self, name: &str) {
        let password = format!("{PASSWORD}\n");
        self.ok(&["signup", name, "--yes"], password.as_bytes());
        let login = self.json(&["login", name], password.as_bytes());
        assert_eq!(login["username"], name);
        assert!(
            login.get("resume_token").is_none(),
            "the token is never shown"
        );
    }
}

fn event_times(events: &Value) -> Vec<f64> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["start_s"].as_f64().unwrap())
        .collect()
}

fn assert_found_events(events: &Value) {
    let times = event_times(events);
    assert_eq!(times.len(), EVENTS.len(), "{events}");
    for (found, truth) in times.iter().zip(EVENTS) {
        assert!((found - truth).abs() < 0.1, "{found} vs {truth}");
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_user_signs_up_saves_a_sound_counts_and_streams() {
    let fx = Fixture::new();
    fx.signup_login("alice");

    let known = std::fs::read_to_string(fx.config.path().join("known_servers")).unwrap();
    assert_eq!(
        known.trim(),
        format!("{} {}", fx.addr(), fx.server.fingerprint())
    );
    let session_file = fx.config.path().join("session.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&session_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let token_before = std::fs::read_to_string(&session_file).unwrap();

    let click = fx.file("click.wav");
    let saved = fx.json(&["sounds", "save", "click", path(&click)], b"");
    assert_eq!(saved["sound"]["name"], "click");
    // Each command resumes with the saved token and saves the fresh one.
    assert_ne!(
        std::fs::read_to_string(&session_file).unwrap(),
        token_before
    );
    let list = fx.json(&["sounds", "list"], b"");
    assert_eq!(list["sounds"][0]["name"], "click");
    let text = fx.ok(&["sounds", "list"], b"");
    assert!(text.starts_with("click"), "{text}");
    let copy = fx.file("copy.wav");
    fx.ok(&["sounds", "get", "click", "-o", path(&copy)], b"");
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        std::fs::read(&click).unwrap()
    );

    let session = fx.file("session.wav");
    let counted = fx.json(&["count", "--sound", "click", path(&session)], b"");
    assert_eq!(counted["count"], EVENTS.len(), "{counted}");
    assert_found_events(&counted["events"]);
    assert!(counted["duration_s"].as_f64().unwrap() > 5.9);
    let plot = fx.file("why.svg");
    let text = fx.ok(
        &[
            "count",
            "--template",
            path(&click),
            path(&session),
            "--plot",
            path(&plot),
        ],
        b"",
    );
    assert!(text.starts_with("4 occurrences in"), "{text}");
    assert!(std::fs::metadata(&plot).unwrap().len() > 1000);

    let live = fx.json(&["live", "--fast", "--sound", "click", path(&session)], b"");
    assert_eq!(live["total"], EVENTS.len());
    assert_found_events(&live["events"]);
    let pcm = std::fs::read(fx.file("session.pcm")).unwrap();
    let text = fx.ok(
        &[
            "live",
            "--fast",
            "--template",
            path(&click),
            "--raw",
            "--rate",
            "16000",
            "--channels",
            "1",
            "--encoding",
            "s16le",
            "-",
        ],
        &pcm,
    );
    // One line per event; the first ones arrive together once the
    // engine's probation of the first seconds is over.
    assert_eq!(text.matches(" s  score ").count(), EVENTS.len(), "{text}");
    assert!(text.contains("count: 4\n"), "{text}");
    assert!(
        text.ends_with("total: 4 occurrences in 6.00 s of audio\n"),
        "{text}"
    );

    fx.ok(&["sounds", "rename", "click", "clack"], b"");
    fx.ok(&["sounds", "delete", "clack"], b"");
    assert_eq!(
        fx.json(&["sounds", "list"], b"")["sounds"],
        Value::Array(vec![])
    );

    let pong = fx.json(&["ping"], b"");
    assert_eq!(pong["fingerprint"], fx.server.fingerprint());
    assert!(pong["server_time_ms"].as_u64().unwrap() > 1_700_000_000_000);

    fx.ok(&["logout"], b"");
    let after = fx.run(&["sounds", "list"], b"");
    assert_eq!(after.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&after.stderr).contains("not logged in"));
}

#[test]
fn errors_show_the_protocol_code_and_exit_1() {
    let fx = Fixture::new();
    fx.signup_login("bob");
    let session = fx.file("session.wav");
    let out = fx.run(&["count", "--sound", "nosuch", path(&session)], b"");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: server error not_found:"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    let out = fx.run(&["sounds", "delete", "nosuch", "--json"], b"");
    assert_eq!(out.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["code"], "not_found");

    // A wrong password at login: invalid_credentials, and the saved login stays.
    let out = fx.run(&["login", "bob"], b"wrong password\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid_credentials"));
    fx.ok(&["sounds", "list"], b"");
}

#[test]
fn unknown_and_changed_server_keys_are_refused() {
    let fx = Fixture::new();
    // Not a terminal, no --yes: refused, with the fingerprint and what to do.
    let out = fx.run(&["ping"], b"");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--yes") && stderr.contains(fx.server.fingerprint()),
        "{stderr}"
    );

    let old = "ab".repeat(32);
    let known = fx.config.path().join("known_servers");
    std::fs::write(&known, format!("{} {old}\n", fx.addr())).unwrap();
    let out = fx.run(&["ping"], b"");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HAS CHANGED"), "{stderr}");
    assert!(
        stderr.contains(&old) && stderr.contains(fx.server.fingerprint()),
        "{stderr}"
    );
    assert!(std::fs::read_to_string(&known).unwrap().contains(&old));

    assert!(
        stderr.contains(&format!("--accept-key {}", fx.server.fingerprint())),
        "the refusal names the flag and the new key: {stderr}"
    );

    // --yes trusts new servers only: a changed key stays refused.
    let out = fx.run(&["ping", "--yes"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HAS CHANGED"));
    assert!(std::fs::read_to_string(&known).unwrap().contains(&old));
    // --accept-key naming another key is refused too.
    let out = fx.run(&["ping", "--yes", "--accept-key", &"cd".repeat(32)], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(std::fs::read_to_string(&known).unwrap().contains(&old));

    // --accept-key naming the presented key (ssh's spelling) pins it.
    let named = format!("SHA256:{}", fx.server.fingerprint().to_uppercase());
    fx.ok(&["ping", "--accept-key", &named], b"");
    let pinned = std::fs::read_to_string(&known).unwrap();
    assert!(pinned.contains(fx.server.fingerprint()) && !pinned.contains(&old));
    fx.ok(&["ping"], b"");
}

/// A server that answers the handshake with a key of its own, then reports
/// how many bytes the client sent after it (until the client hung up).
fn impostor() -> (
    std::net::SocketAddr,
    String,
    std::sync::mpsc::Receiver<usize>,
) {
    use tokio::io::AsyncReadExt;
    let identity = harmonic::crypto::ServerIdentity::generate(&mut rand_core::OsRng);
    let fingerprint = identity.fingerprint();
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let (sent_tx, sent) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            socket.set_nonblocking(true).unwrap();
            let socket = tokio::net::TcpListener::from_std(socket).unwrap();
            let (mut stream, _) = socket.accept().await.unwrap();
            let timeout = std::time::Duration::from_secs(10);
            harmonic::transport::server_handshake(&mut stream, &identity, timeout)
                .await
                .unwrap();
            let mut after = Vec::new();
            let _ = tokio::time::timeout(timeout, stream.read_to_end(&mut after)).await;
            let _ = sent_tx.send(after.len());
        });
    });
    (addr, fingerprint, sent)
}

#[test]
fn a_changed_key_is_refused_before_the_password_is_sent() {
    let fx = Fixture::new();
    let (addr, impostor_key, sent) = impostor();
    let server = addr.to_string();
    // The user's pin for that address is another key (the real server's).
    let known = fx.config.path().join("known_servers");
    std::fs::write(&known, format!("{server} {}\n", fx.server.fingerprint())).unwrap();
    let out = fx.run_exact(
        &["login", "alice", "--yes", "--server", &server],
        format!("{PASSWORD}\n").as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("HAS CHANGED") && stderr.contains(&impostor_key),
        "{stderr}"
    );
    let after_handshake = sent
        .recv_timeout(std::time::Duration::from_secs(15))
        .unwrap();
    assert_eq!(after_handshake, 0, "not a byte after the handshake");
    assert!(std::fs::read_to_string(&known)
        .unwrap()
        .contains(fx.server.fingerprint()));
}

#[test]
fn load_reports_requests_and_no_errors_but_busy() {
    let fx = Fixture::new();
    let report = fx.json(
        &[
            "load",
            "--yes",
            "--sessions",
            "5",
            "--duration",
            "2",
            "--scenario",
            "mixed",
        ],
        b"",
    );
    assert_eq!(report["sessions"], 5);
    assert!(report["requests"].as_u64().unwrap() > 20, "{report}");
    for kind in ["ping", "count", "stream.data", "handshake", "login"] {
        assert!(
            report["latency_ms"][kind]["n"].as_u64().unwrap() > 0,
            "{kind}: {report}"
        );
    }
    let errors = report["errors"].as_object().unwrap();
    assert!(errors.keys().all(|code| code == "busy"), "{report}");
    assert_eq!(report["wrong_counts"], 0, "{report}");
}

/// `--server`, `--yes` and `--json` before the subcommand, as users of git,
/// cargo and ssh write them, or after it, or both sides.
#[test]
fn shared_options_go_before_or_after_the_subcommand() {
    let fx = Fixture::new();
    let addr = fx.addr();
    let password = format!("{PASSWORD}\n");
    let out = fx.run_exact(
        &["--server", &addr, "--yes", "signup", "early"],
        password.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for args in [
        &["--json", "--server", &addr, "login", "early"][..],
        &["login", "early", "--json", "--server", &addr],
        &["--json", "login", "early", "--server", &addr],
    ] {
        let out = fx.run_exact(args, password.as_bytes());
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let login: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(login["username"], "early", "{args:?}");
    }
    let out = fx.run_exact(&["--server", &addr, "--json", "sounds", "list"], b"");
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["sounds"], Value::Array(vec![]));
    // Bad usage exits with 2, a failed command with 1.
    assert_eq!(
        fx.run_exact(&["--no-such-option", "ping"], b"")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        fx.run_exact(&["--server", "127.0.0.1:1", "ping"], b"")
            .status
            .code(),
        Some(1)
    );
    // load takes them too, and needs a server named explicitly.
    let out = fx.run_exact(&["load", "--sessions", "1", "--duration", "0"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --server"));
}

#[test]
fn completions_for_each_shell() {
    let fx = Fixture::new();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef harmonic"),
        ("fish", "complete -c harmonic"),
    ] {
        let out = fx.run_exact(&["completions", shell], b"");
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(
            script.contains(marker) && script.contains("signup"),
            "{shell}: {script:.200}"
        );
    }
}
