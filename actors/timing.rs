//! Where a request's time goes, for the `debug` lines that admins (and the
//! abuse soak) read when a request is slow: how long a job waited for a
//! worker thread, how long it ran there, and how much CPU time the thread
//! got meanwhile. A run much longer than its CPU time means the thread
//! was ready but other threads (or other programs) had the cores.
//!
//! Every such line is on the sub-target `timing` of its concern
//! (`auth::timing`, `analysis::timing`, `library::timing`,
//! `connection::timing`), so that `RUST_LOG=info,auth::timing=debug,...`
//! writes them without the `debug` line of every request.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

/// One job's time on a worker thread.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JobTiming {
    /// From queueing to a worker taking it.
    pub waited: Duration,
    /// From being taken to being done (wall clock).
    pub ran: Duration,
    /// CPU time the worker thread got while running it (`None` where the
    /// system cannot say).
    pub cpu: Option<Duration>,
}

impl JobTiming {
    /// Starts timing on the worker thread a job queued at `queued`.
    pub fn start(queued: Instant) -> RunningJob {
        RunningJob {
            waited: queued.elapsed(),
            started: Instant::now(),
            cpu_at_start: thread_cpu_time(),
        }
    }
}

/// A job being timed on its worker thread ([`JobTiming::start`]).
#[derive(Debug)]
pub struct RunningJob {
    waited: Duration,
    started: Instant,
    cpu_at_start: Option<Duration>,
}

impl RunningJob {
    /// The job is done: its timing (call on the same thread as `start`).
    pub fn finish(self) -> JobTiming {
        JobTiming {
            waited: self.waited,
            ran: self.started.elapsed(),
            cpu: thread_cpu_time()
                .zip(self.cpu_at_start)
                .map(|(now, start)| now.saturating_sub(start)),
        }
    }
}

/// `waited 12.0 ms, ran 80.1 ms (79.5 ms CPU)`.
impl fmt::Display for JobTiming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "waited {}, ran {}", Ms(self.waited), Ms(self.ran))?;
        if let Some(cpu) = self.cpu {
            write!(f, " ({} CPU)", Ms(cpu))?;
        }
        Ok(())
    }
}

/// A duration written in milliseconds with one decimal, as the request
/// lines write theirs.
#[derive(Debug, Clone, Copy)]
pub struct Ms(pub Duration);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} ms", self.0.as_secs_f64() * 1000.0)
    }
}

/// What one thread spent its time on, by kind of job, over a window: when
/// its jobs take all of the window, whatever is sent to it waits in its
/// queue; when they take much more time than CPU, it waits for the disk
/// or for the cores.
#[derive(Debug)]
pub struct WorkTally {
    since: Instant,
    by_kind: BTreeMap<&'static str, KindTally>,
}

#[derive(Debug, Default)]
struct KindTally {
    jobs: u32,
    wall: Duration,
    cpu: Duration,
}

impl Default for WorkTally {
    fn default() -> WorkTally {
        WorkTally {
            since: Instant::now(),
            by_kind: BTreeMap::new(),
        }
    }
}

impl WorkTally {
    /// Adds one job of `kind`.
    pub fn record(&mut self, kind: &'static str, timing: &JobTiming) {
        let tally = self.by_kind.entry(kind).or_default();
        tally.jobs += 1;
        tally.wall += timing.ran;
        tally.cpu += timing.cpu.unwrap_or_default();
    }

    /// Once `period` has passed since the window began: its summary
    /// (`busy 4.1 s of 5.0 s (0.3 s CPU): 3 GrantLogin 2.0 s (0.0 s CPU), ...`,
    /// the kinds by time taken), and a new window begins.
    pub fn summary_every(&mut self, period: Duration) -> Option<String> {
        let window = self.since.elapsed();
        if window < period {
            return None;
        }
        let mut kinds: Vec<_> = std::mem::take(&mut self.by_kind).into_iter().collect();
        self.since = Instant::now();
        kinds.sort_by_key(|(_, tally)| std::cmp::Reverse(tally.wall));
        let wall: Duration = kinds.iter().map(|(_, t)| t.wall).sum();
        let cpu: Duration = kinds.iter().map(|(_, t)| t.cpu).sum();
        let mut line = format!(
            "busy {:.1} s of {:.1} s ({:.1} s CPU)",
            wall.as_secs_f64(),
            window.as_secs_f64(),
            cpu.as_secs_f64()
        );
        for (kind, tally) in kinds {
            line.push_str(&format!(
                "; {} {kind} {:.2} s ({:.2} s CPU)",
                tally.jobs,
                tally.wall.as_secs_f64(),
                tally.cpu.as_secs_f64()
            ));
        }
        Some(line)
    }
}

/// How often [`watch_event_loop`] wakes up.
const LAG_PROBE_PERIOD: Duration = Duration::from_millis(100);
/// How often [`watch_event_loop`] writes what it saw.
const LAG_REPORT_PERIOD: Duration = Duration::from_secs(5);

/// Measures, on the event loop it is spawned on, how late a timer fires:
/// every message of every actor on that thread waits about as long. Each
/// `LAG_REPORT_PERIOD` (5 s) it writes the worst and mean lateness at `debug`
/// (target `connection::timing`), naming the loop `name`; runs until
/// its event loop stops.
pub async fn watch_event_loop(name: String) {
    let mut worst = Duration::ZERO;
    let mut total = Duration::ZERO;
    let mut probes = 0u32;
    let mut reported = Instant::now();
    loop {
        let asleep = Instant::now();
        tokio::time::sleep(LAG_PROBE_PERIOD).await;
        let late = asleep.elapsed().saturating_sub(LAG_PROBE_PERIOD);
        worst = worst.max(late);
        total += late;
        probes += 1;
        if reported.elapsed() >= LAG_REPORT_PERIOD {
            log::debug!(target: "connection::timing", "event loop {name}: timers late by {} at most, {} on average",
                Ms(worst), Ms(total / probes));
            (worst, total, probes, reported) = (Duration::ZERO, Duration::ZERO, 0, Instant::now());
        }
    }
}

/// The CPU time the calling thread has used.
#[cfg(unix)]
pub fn thread_cpu_time() -> Option<Duration> {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let secs = u64::try_from(now.tv_sec).ok()?;
    let nanos = u32::try_from(now.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}

/// The CPU time the calling thread has used (unknown here).
#[cfg(not(unix))]
pub fn thread_cpu_time() -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_job_gets_about_its_wall_time_in_cpu_and_a_sleeping_one_none() {
        let queued = Instant::now();
        let busy = JobTiming::start(queued);
        let spin_until = Instant::now() + Duration::from_millis(30);
        let mut spins = 0u64;
        while Instant::now() < spin_until {
            spins = std::hint::black_box(spins + 1);
        }
        let busy = busy.finish();
        assert!(busy.ran >= Duration::from_millis(30));
        let cpu = busy.cpu.expect("thread CPU time on unix");
        assert!(cpu > Duration::ZERO && cpu <= busy.ran + Duration::from_millis(5));

        let sleeping = JobTiming::start(Instant::now());
        std::thread::sleep(Duration::from_millis(30));
        let sleeping = sleeping.finish();
        assert!(sleeping.ran >= Duration::from_millis(30));
        assert!(sleeping.cpu.expect("thread CPU time") < Duration::from_millis(10));
    }

    #[test]
    fn timings_read_as_milliseconds() {
        let timing = JobTiming {
            waited: Duration::from_micros(12_040),
            ran: Duration::from_micros(80_100),
            cpu: Some(Duration::from_micros(79_500)),
        };
        assert_eq!(
            timing.to_string(),
            "waited 12.0 ms, ran 80.1 ms (79.5 ms CPU)"
        );
    }
}
