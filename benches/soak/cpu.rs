//! Where the CPU went during the soak, in windows of a few seconds: the
//! server's threads by group (password workers, analysis workers, session
//! threads, library, ...), the bench's own process (the abusers' and the
//! well-behaved client's side), the whole machine (other programs too) and
//! its load average. A slow answer then shows whether the server's work
//! waited for the cores, and for whose work.

use std::collections::BTreeMap;

use super::*;

/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
const TICKS_PER_S: f64 = 100.0;

/// One reading.
struct Reading {
    at: Instant,
    load1: f64,
    /// The machine's busy and total ticks (all cores), from /proc/stat.
    machine: (u64, u64),
    /// The server's ticks by thread group.
    server: BTreeMap<String, u64>,
    /// The server's time ready to run but waiting for a core, in ns, by
    /// thread group (schedstat).
    server_waiting: BTreeMap<String, u64>,
    /// The bench process's ticks.
    bench: u64,
}

/// CPU use over one window, in cores (1.0 = one core all the time).
pub(crate) struct CpuWindow {
    pub(crate) from_s: f64,
    pub(crate) to_s: f64,
    pub(crate) load1: f64,
    pub(crate) machine_busy: f64,
    pub(crate) cores: usize,
    pub(crate) server: BTreeMap<String, f64>,
    /// Cores' worth of time the server's threads were ready but waited for a core.
    pub(crate) server_waiting: BTreeMap<String, f64>,
    pub(crate) bench: f64,
}

/// Reads the CPU counters every `period` on a thread.
pub(crate) struct CpuWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Reading>>,
    start: Instant,
}

impl CpuWatch {
    pub(crate) fn start(server_pid: u32, period: Duration) -> CpuWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let start = Instant::now();
        let thread = std::thread::spawn(move || {
            let mut readings = vec![read(server_pid)];
            let mut next = Instant::now() + period;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                if Instant::now() >= next {
                    readings.push(read(server_pid));
                    next += period;
                }
            }
            readings.push(read(server_pid));
            readings
        });
        CpuWatch {
            stop,
            thread,
            start,
        }
    }

    /// The windows between readings, times from when the watch started.
    pub(crate) fn stop(self) -> Vec<CpuWindow> {
        self.stop.store(true, Ordering::Relaxed);
        let readings = self.thread.join().unwrap_or_default();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        readings
            .windows(2)
            .filter_map(|pair| {
                let (a, b) = (&pair[0], &pair[1]);
                let seconds = b.at.duration_since(a.at).as_secs_f64();
                if seconds < 0.5 {
                    return None;
                }
                let rate = |ticks: u64| ticks as f64 / TICKS_PER_S / seconds;
                let busy = b.machine.0.saturating_sub(a.machine.0) as f64;
                let total = b.machine.1.saturating_sub(a.machine.1).max(1) as f64;
                let server = b
                    .server
                    .iter()
                    .map(|(group, ticks)| {
                        let before = a.server.get(group).copied().unwrap_or(0);
                        (group.clone(), rate(ticks.saturating_sub(before)))
                    })
                    .collect();
                let server_waiting = b
                    .server_waiting
                    .iter()
                    .map(|(group, ns)| {
                        let before = a.server_waiting.get(group).copied().unwrap_or(0);
                        (
                            group.clone(),
                            ns.saturating_sub(before) as f64 / 1e9 / seconds,
                        )
                    })
                    .collect();
                Some(CpuWindow {
                    server_waiting,
                    from_s: a.at.duration_since(self.start).as_secs_f64(),
                    to_s: b.at.duration_since(self.start).as_secs_f64(),
                    load1: b.load1,
                    machine_busy: busy / total * cores as f64,
                    cores,
                    server,
                    bench: rate(b.bench.saturating_sub(a.bench)),
                })
            })
            .collect()
    }
}

fn read(server_pid: u32) -> Reading {
    Reading {
        at: Instant::now(),
        load1: std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| text.split_whitespace().next()?.parse().ok())
            .unwrap_or(f64::NAN),
        machine: machine_ticks().unwrap_or((0, 0)),
        server: thread_ticks(server_pid, |stat, _| stat_ticks(stat)),
        server_waiting: thread_ticks(server_pid, |_, schedstat| {
            schedstat.split_whitespace().nth(1)?.parse().ok()
        }),
        bench: std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| stat_ticks(&stat))
            .unwrap_or(0),
    }
}

/// Busy and total ticks of all cores (the first line of /proc/stat).
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    // idle and iowait are not busy.
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

/// A process's or thread's user + system ticks, from its `stat` line.
fn stat_ticks(stat: &str) -> Option<u64> {
    // The name (field 2) may hold spaces: count fields after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// A sum over the server's threads by group (`value` reads a thread's
/// `stat` and `schedstat`): the thread's name without its number
/// (`password-1` → `password`), every actix arbiter (the session threads
/// and the system's) as `actix-rt`.
fn thread_ticks(pid: u32, value: impl Fn(&str, &str) -> Option<u64>) -> BTreeMap<String, u64> {
    let mut groups = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return groups;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        let group = name
            .split('|')
            .next()
            .unwrap_or(name)
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
            .to_owned();
        *groups.entry(group).or_insert(0) += value(&stat, &schedstat).unwrap_or(0);
    }
    groups
}

/// The windows as a Markdown table: cores used by each server thread group,
/// by the bench, by the whole machine.
pub(crate) fn print_cpu_table(windows: &[CpuWindow]) {
    let mut groups: Vec<&String> = windows
        .iter()
        .flat_map(|w| w.server.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // Groups that never used a tenth of a core in any window are left out.
    groups.retain(|group| {
        windows
            .iter()
            .any(|w| w.server.get(*group).copied().unwrap_or(0.0) >= 0.1)
    });
    let cores = windows.first().map_or(1, |w| w.cores);
    println!(
        "CPU in cores (of {cores}); `server` is the whole server process, `bench` the \
         abusers' and the well-behaved client's side, `machine` every program. A \
         thread group's cell is `running / ready but waiting for a core`.\n"
    );
    print!("| s | load avg | machine | server | bench |");
    for group in &groups {
        print!(" {group} |");
    }
    println!();
    println!("|---|---|---|---|---|{}", "---|".repeat(groups.len()));
    for w in windows {
        let server: f64 = w.server.values().sum();
        print!(
            "| {:.0}-{:.0} | {:.1} | {:.2} | {server:.2} | {:.2} |",
            w.from_s, w.to_s, w.load1, w.machine_busy, w.bench
        );
        for group in &groups {
            print!(
                " {:.2} / {:.2} |",
                w.server.get(*group).copied().unwrap_or(0.0),
                w.server_waiting.get(*group).copied().unwrap_or(0.0)
            );
        }
        println!();
    }
}
