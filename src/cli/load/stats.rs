//! What a run measured: latencies and errors per request type, the live
//! progress line and the final report.

use super::*;

/// Latencies and errors seen by one session (merged at the end).
#[derive(Default)]
pub(super) struct Stats {
    pub(super) latency: BTreeMap<&'static str, Histogram<u64>>,
    pub(super) error_latency: BTreeMap<String, Histogram<u64>>,
    pub(super) errors: BTreeMap<String, u64>,
    pub(super) requests: u64,
    pub(super) handshakes: u64,
    pub(super) wrong_counts: u64,
    /// `busy` or `rate_limited` answers in a row (this session's backoff).
    pub(super) busy_streak: u32,
}

pub(super) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

impl Stats {
    pub(super) fn record(&mut self, kind: &'static str, micros: u64) {
        self.latency
            .entry(kind)
            .or_insert_with(histogram)
            .saturating_record(micros.max(1));
    }

    pub(super) fn error(&mut self, kind: &'static str, label: String, micros: u64) {
        self.error_latency
            .entry(format!("{kind} {label}"))
            .or_insert_with(histogram)
            .saturating_record(micros.max(1));
        *self.errors.entry(label).or_default() += 1;
    }

    pub(super) fn merge(&mut self, other: Stats) {
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
pub(super) fn error_label(err: &ClientError) -> String {
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
pub(super) async fn timed<T>(
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

/// A live progress line on a terminal.
pub(super) fn progress_line(
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

pub(super) fn millis(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

pub(super) fn percentiles(hist: &Histogram<u64>) -> Value {
    json!({
        "n": hist.len(),
        "p50": millis(hist.value_at_quantile(0.50)),
        "p90": millis(hist.value_at_quantile(0.90)),
        "p99": millis(hist.value_at_quantile(0.99)),
        "max": millis(hist.max()),
    })
}

/// The `--json` report (the text report is printed from it).
pub(super) fn report(
    args: &LoadArgs,
    shared: &Shared,
    stats: &Stats,
    elapsed: f64,
    accounts: usize,
) -> Value {
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

pub(super) fn text_report(report: &Value) -> String {
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
