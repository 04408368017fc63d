//! The server under soak: its process, its memory, and its data directory
//! checked afterwards.

use super::*;

/// The well-behaved user and the abusers' accounts, made offline.
pub(crate) fn make_accounts(data: &Path) {
    let mut store = harmonic::store::Store::open(data).expect("store");
    let hash = harmonic::crypto::hash_password(PASSWORD).expect("hash");
    store
        .create_user(GOOD_USER, &hash, harmonic::store::Role::User)
        .expect("account");
    for i in 0..ABUSER_ACCOUNTS {
        store
            .create_user(&format!("abuser{i}"), &hash, harmonic::store::Role::User)
            .expect("account");
    }
}

pub(crate) fn free_port() -> SocketAddr {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("address")
}

/// Starts the release server; `rust_log` is its `RUST_LOG` (none: the
/// server's default filter, `info`).
pub(crate) fn start_server(
    data: &Path,
    log_file: &Path,
    addr: SocketAddr,
    rust_log: Option<&str>,
) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_harmonic"));
    command.env_remove("RUST_LOG");
    if let Some(spec) = rust_log {
        command.env("RUST_LOG", spec);
    }
    command
        .args(["serve", "--no-discovery", "--listen", &addr.to_string()])
        .arg("--data-dir")
        .arg(data)
        .arg("--log-file")
        .arg(log_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("harmonic serve starts")
}

pub(crate) async fn wait_for_server(addr: SocketAddr) {
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start listening on {addr}");
}

/// SIGTERM, then waits up to 30 s; the exit status as text.
pub(crate) fn stop_server(server: &mut Child) -> String {
    let pid = server.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match server.try_wait() {
            Ok(Some(status)) => {
                return status
                    .code()
                    .map_or_else(|| format!("{status}"), |c| c.to_string())
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = server.kill();
                let _ = server.wait();
                return "did not stop within 30 s".into();
            }
        }
    }
}

/// The peak VmRSS of a process, read every 200 ms on a thread; past
/// `kill_kib` the process is killed (the machine is shared).
pub(crate) struct RssWatch {
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) thread: std::thread::JoinHandle<(u64, bool)>,
}

impl RssWatch {
    pub(crate) fn start(pid: u32, kill_kib: u64) -> RssWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    peak = peak.max(kib);
                    if kib > kill_kib {
                        let _ = Command::new("kill")
                            .args(["-KILL", &pid.to_string()])
                            .status();
                        return (peak, true);
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            (peak, false)
        });
        RssWatch { stop, thread }
    }

    /// The peak in KiB, and whether the process was killed for it.
    pub(crate) fn stop(self) -> (u64, bool) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or((0, false))
    }
}

pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ----- clients -----

// ----- the data directory -----

/// What the check found: lines for the report, and broken promises.
pub(crate) struct DataCheck {
    pub(crate) report: Vec<String>,
    pub(crate) problems: Vec<String>,
}

pub(crate) fn check_data_dir(data: &Path, saved: &(String, String)) -> DataCheck {
    let mut report = Vec::new();
    let mut problems = Vec::new();
    // Before the store opens (which would tidy up): what is on disk.
    let on_disk: HashSet<PathBuf> = files_under(&data.join("sounds"));
    let spooled = files_under(&data.join("uploads"));
    let spooled_bytes: u64 = spooled.iter().map(|p| file_len(p)).sum();
    report.push(format!(
        "{} file(s) in sounds/; {} file(s), {} MiB in the upload spool (unfinished uploads)",
        on_disk.len(),
        spooled.len(),
        spooled_bytes >> 20
    ));
    let mut store = match harmonic::store::Store::open(data) {
        Ok(store) => store,
        Err(err) => {
            problems.push(format!("the store does not reopen: {err}"));
            return DataCheck { report, problems };
        }
    };
    let mut referenced = HashSet::new();
    let mut rows = 0;
    let users = store.list_users().unwrap_or_default();
    for user in &users {
        let Ok(Some(row)) = store.find_user(&user.username) else {
            problems.push(format!("user {} listed but not found", user.username));
            continue;
        };
        for sound in store.list_sounds(row.id).unwrap_or_default() {
            rows += 1;
            let path = store.sound_path(&sound);
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let sha = hex::encode(sha2::Sha256::digest(&bytes));
                    if bytes.len() as i64 != sound.size || sha != sound.sha256 {
                        problems.push(format!(
                            "{}/{}: the file does not match its row",
                            user.username, sound.name
                        ));
                    }
                }
                Err(err) => problems.push(format!(
                    "{}/{}: file lost ({err})",
                    user.username, sound.name
                )),
            }
            referenced.insert(path);
        }
    }
    let orphans: Vec<_> = on_disk.difference(&referenced).collect();
    report.push(format!(
        "{} account(s), {rows} saved sound(s), each file present with its size and SHA-256; {} orphaned file(s)",
        users.len(),
        orphans.len()
    ));
    if !orphans.is_empty() {
        problems.push(format!("{} orphaned file(s) in sounds/", orphans.len()));
    }
    match store.find_user(GOOD_USER).ok().flatten() {
        Some(good) => match store.get_sound(good.id, &saved.0) {
            Ok(Some(sound)) if sound.sha256 == saved.1 => {
                report.push("the well-behaved client's sound is intact".into())
            }
            _ => problems.push("the well-behaved client's sound is lost or changed".into()),
        },
        None => problems.push("the well-behaved account is gone".into()),
    }
    let left = files_under(&data.join("uploads")).len();
    report.push(format!(
        "after reopening, {left} file(s) left in the upload spool"
    ));
    if left > 0 {
        problems.push(format!("{left} spool file(s) survive a reopen"));
    }
    DataCheck { report, problems }
}

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> HashSet<PathBuf> {
    let mut files = HashSet::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.insert(path);
            }
        }
    }
    files
}
