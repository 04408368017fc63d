//! The server's statistics: gathered once for `admin.stats` and for the
//! optional Prometheus page (`--metrics-listen`), a tiny HTTP/1.1 server on
//! plain tokio that answers `GET /metrics` with the text format 0.0.4.
//!
//! The page has no authentication: bind it to a local or monitoring-only
//! address. It reveals counts, never names or addresses.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::analysis::AnalysisPool;
use super::hub::ListSessions;
use super::services::ServerCounters;
use crate::protocol::response::StatsResult;
use crate::protocol::WireError;

/// The content type of the Prometheus text format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Longest HTTP request head read.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// A scraper must send its request within this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the statistics come from.
#[derive(Clone)]
pub struct StatsSource {
    /// The listener (sessions).
    pub listener: Recipient<ListSessions>,
    /// Traffic and login counters.
    pub counters: Arc<ServerCounters>,
    /// The analysis pool (jobs).
    pub pool: AnalysisPool,
}

impl StatsSource {
    /// The figures of `admin.stats`, now.
    pub async fn collect(&self) -> Result<StatsResult, WireError> {
        let sessions = self
            .listener
            .send(ListSessions)
            .await
            .map_err(|err| WireError::internal(format!("listener unreachable: {err}")))?;
        let load = self.pool.load();
        let counters = &self.counters;
        Ok(StatsResult {
            uptime_s: counters.started.elapsed().as_secs(),
            sessions: sessions.len() as u64,
            logged_in: sessions.iter().filter(|s| s.username.is_some()).count() as u64,
            logins: counters.logins.load(Ordering::Relaxed),
            jobs_queued: load.queued() as u64,
            jobs_running: load.running() as u64,
            jobs_done: load.done(),
            audio_s_analysed: load.audio_s(),
            bytes_in: counters.bytes_in.load(Ordering::Relaxed),
            bytes_out: counters.bytes_out.load(Ordering::Relaxed),
            resident_memory_bytes: resident_memory_bytes(),
        })
    }
}

/// The process's resident memory in bytes (`VmRSS` of `/proc/self/status`),
/// or `None` where there is no such file (not Linux).
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_rss_bytes(&status)
}

/// The `VmRSS:  1234 kB` line of a `/proc/PID/status` text, in bytes.
fn vm_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

/// The statistics in the Prometheus text format, each with HELP and TYPE.
pub fn render_prometheus(stats: &StatsResult) -> String {
    let mut metrics: Vec<(&str, &str, &str, f64)> = vec![
        (
            "harmonic_uptime_seconds",
            "gauge",
            "Seconds since the server started.",
            stats.uptime_s as f64,
        ),
        (
            "harmonic_sessions",
            "gauge",
            "Open sessions.",
            stats.sessions as f64,
        ),
        (
            "harmonic_logged_in_sessions",
            "gauge",
            "Logged-in sessions.",
            stats.logged_in as f64,
        ),
        (
            "harmonic_logins_total",
            "counter",
            "Successful logins and resumes since start.",
            stats.logins as f64,
        ),
        (
            "harmonic_jobs_queued",
            "gauge",
            "Counts waiting for an analysis worker.",
            stats.jobs_queued as f64,
        ),
        (
            "harmonic_jobs_running",
            "gauge",
            "Counts running.",
            stats.jobs_running as f64,
        ),
        (
            "harmonic_jobs_done_total",
            "counter",
            "Counts finished since start.",
            stats.jobs_done as f64,
        ),
        (
            "harmonic_audio_analysed_seconds_total",
            "counter",
            "Seconds of audio analysed since start.",
            stats.audio_s_analysed,
        ),
        (
            "harmonic_bytes_in_total",
            "counter",
            "Bytes received from clients since start.",
            stats.bytes_in as f64,
        ),
        (
            "harmonic_bytes_out_total",
            "counter",
            "Bytes sent to clients since start.",
            stats.bytes_out as f64,
        ),
    ];
    if let Some(bytes) = stats.resident_memory_bytes {
        metrics.push((
            "harmonic_resident_memory_bytes",
            "gauge",
            "Resident memory of the server process (RSS).",
            bytes as f64,
        ));
    }
    let mut text = String::new();
    for (name, kind, help, value) in metrics {
        let _ = writeln!(text, "# HELP {name} {help}");
        let _ = writeln!(text, "# TYPE {name} {kind}");
        let _ = writeln!(text, "{name} {value}");
    }
    text
}

/// Answers scrapers on `socket` until the server stops.
pub async fn serve(socket: TcpListener, source: StatsSource) {
    loop {
        match socket.accept().await {
            Ok((stream, _)) => {
                let source = source.clone();
                actix_rt::spawn(async move {
                    if let Err(err) = answer(stream, &source).await {
                        log::debug!(target: "admin", "metrics: {err}");
                    }
                });
            }
            Err(err) => {
                log::warn!(target: "admin", "metrics: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads one request head and answers it; the connection then closes.
async fn answer(mut stream: TcpStream, source: &StatsSource) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let read = tokio::time::timeout(REQUEST_TIMEOUT, async {
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
    match read {
        Err(_) => return Ok(()),
        Ok(result) => result?,
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let response = match (method, path) {
        ("GET" | "HEAD", "/metrics") => match source.collect().await {
            Ok(stats) => http(
                "200 OK",
                METRICS_CONTENT_TYPE,
                &render_prometheus(&stats),
                method,
            ),
            Err(err) => http(
                "500 Internal Server Error",
                "text/plain",
                &format!("{err}\n"),
                method,
            ),
        },
        ("GET" | "HEAD", _) => http("404 Not Found", "text/plain", "see /metrics\n", method),
        _ => http(
            "405 Method Not Allowed",
            "text/plain",
            "GET /metrics\n",
            method,
        ),
    };
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

fn http(status: &str, content_type: &str, body: &str, method: &str) -> String {
    let body = if method == "HEAD" { "" } else { body };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stat_is_a_metric_with_help_and_type() {
        let stats = StatsResult {
            uptime_s: 12,
            sessions: 3,
            logged_in: 2,
            logins: 5,
            jobs_queued: 0,
            jobs_running: 1,
            jobs_done: 7,
            audio_s_analysed: 90.5,
            bytes_in: 1000,
            bytes_out: 2000,
            resident_memory_bytes: Some(12 << 20),
        };
        let text = render_prometheus(&stats);
        assert!(text.contains("# TYPE harmonic_logins_total counter\nharmonic_logins_total 5\n"));
        assert!(text.contains("harmonic_audio_analysed_seconds_total 90.5\n"));
        assert!(text.contains("# HELP harmonic_sessions Open sessions.\n"));
        let samples: Vec<_> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(samples.len(), 11);
        assert_eq!(text.lines().filter(|l| l.starts_with("# TYPE")).count(), 11);
        assert!(text.contains("harmonic_resident_memory_bytes 12582912\n"));
        assert!(http("200 OK", METRICS_CONTENT_TYPE, "x", "HEAD").ends_with("\r\n\r\n"));
    }

    #[test]
    fn resident_memory_is_read_from_proc() {
        let status = "Name:\tharmonic\nVmHWM:\t   20000 kB\nVmRSS:\t   12345 kB\nThreads:\t9\n";
        assert_eq!(vm_rss_bytes(status), Some(12345 * 1024));
        assert_eq!(vm_rss_bytes("Name:\tx\n"), None);
        if cfg!(target_os = "linux") {
            let rss = resident_memory_bytes().unwrap();
            assert!(rss > 1 << 20, "{rss}");
        }
    }
}
