//! What the server needs of the operating system: enough open files for
//! `max_connections` (RLIMIT_NOFILE).
//!
//! Every connection is a file descriptor, and so are the database, the log
//! file, the listening sockets, each session thread's event loop and each
//! upload being written. Many systems start a process with a soft limit of
//! 1,024 open files (the hard limit is often far higher), which ends
//! connections past about a thousand with `EMFILE` on accept. At start the
//! server raises the soft limit toward the hard one as far as
//! `max_connections` needs; if even the hard limit is too low, it lowers
//! `max_connections` to what fits, with a warning naming both numbers, so
//! that the connection limit refuses cleanly instead of accept failing.

/// Descriptors kept for everything but connections: the database and its
/// journal, the log file, the listening and discovery sockets, one event
/// loop per session thread, the uploads being written and the audio being
/// read. A few dozen are in use at once on a busy server; 256 leaves room.
pub const RESERVED_FILES: u64 = 256;

/// What [`plan_open_files`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFilesPlan {
    /// The soft limit to set (unchanged if no raise is needed or possible).
    pub soft: u64,
    /// The connections that fit in it: `max_connections`, or fewer.
    pub max_connections: usize,
}

/// The soft limit to ask for, given the `soft` and `hard` limits now
/// (`None`: unlimited) and `max_connections`: at least what the connections
/// and [`RESERVED_FILES`] need, never above the hard limit, never lower
/// than now; and how many connections fit in it.
pub fn plan_open_files(
    soft: Option<u64>,
    hard: Option<u64>,
    max_connections: usize,
) -> OpenFilesPlan {
    let wanted = (max_connections as u64).saturating_add(RESERVED_FILES);
    let Some(soft) = soft else {
        return OpenFilesPlan {
            soft: u64::MAX,
            max_connections,
        };
    };
    let raised = match hard {
        None => soft.max(wanted),
        Some(hard) => soft.max(wanted.min(hard)),
    };
    let fitting = raised.saturating_sub(RESERVED_FILES);
    OpenFilesPlan {
        soft: raised,
        max_connections: max_connections.min(usize::try_from(fitting).unwrap_or(usize::MAX)),
    }
}

/// Raises the soft RLIMIT_NOFILE as far as `max_connections` needs (within
/// the hard limit) and returns how many connections fit: `max_connections`,
/// or fewer with a warning on the `connection` target naming the numbers.
/// At least one connection is always allowed, whatever the limits.
pub fn ensure_open_files(max_connections: usize) -> usize {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let now = getrlimit(Resource::Nofile);
        let plan = plan_open_files(now.current, now.maximum, max_connections);
        let mut soft = now.current;
        if now.current.is_some_and(|current| plan.soft > current) {
            let raised = Rlimit {
                current: Some(plan.soft),
                maximum: now.maximum,
            };
            match setrlimit(Resource::Nofile, raised) {
                Ok(()) => {
                    log::info!(target: "connection", "raised the open-file limit from {} to {} for max_connections={max_connections}",
                        now.current.unwrap_or_default(), plan.soft);
                    soft = Some(plan.soft);
                }
                Err(err) => {
                    log::warn!(target: "connection", "cannot raise the open-file limit to {}: {err}", plan.soft);
                }
            }
        }
        let fitting = match soft {
            Some(soft) => plan_open_files(Some(soft), Some(soft), max_connections).max_connections,
            None => max_connections,
        };
        if fitting < max_connections {
            log::warn!(target: "connection",
                "max_connections={max_connections} needs {} open files, but the limit is {} (hard limit {}): \
                 accepting at most {} connection(s); raise the limit (ulimit -n, systemd LimitNOFILE=) or lower --max-connections",
                (max_connections as u64).saturating_add(RESERVED_FILES),
                soft.unwrap_or_default(),
                now.maximum.map_or("unlimited".to_owned(), |hard| hard.to_string()),
                fitting.max(1));
        }
        fitting.max(1)
    }
    #[cfg(not(unix))]
    {
        max_connections
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_as_far_as_needed_within_the_hard_one() {
        // The common case: 1,024 soft, a high hard limit.
        let plan = plan_open_files(Some(1024), Some(1_048_576), 10_000);
        assert_eq!(
            plan,
            OpenFilesPlan {
                soft: 10_256,
                max_connections: 10_000
            }
        );
        // Enough already: nothing changes, never lowered.
        let plan = plan_open_files(Some(65_536), Some(65_536), 10_000);
        assert_eq!(
            plan,
            OpenFilesPlan {
                soft: 65_536,
                max_connections: 10_000
            }
        );
        // Unlimited.
        assert_eq!(plan_open_files(None, None, 10_000).max_connections, 10_000);
        assert_eq!(plan_open_files(Some(1024), None, 10_000).soft, 10_256);
    }

    #[test]
    fn a_low_hard_limit_lowers_the_connections() {
        let plan = plan_open_files(Some(1024), Some(4096), 10_000);
        assert_eq!(
            plan,
            OpenFilesPlan {
                soft: 4096,
                max_connections: 4096 - 256
            }
        );
        assert_eq!(plan_open_files(Some(100), Some(100), 10).max_connections, 0);
    }

    #[test]
    fn the_process_can_serve_a_few_connections() {
        // Raising toward a small need never fails and never lowers anything.
        assert_eq!(ensure_open_files(8), 8);
    }
}
