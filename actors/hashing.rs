//! The password workers: a fixed set of threads (`password_workers`), each
//! holding one [`PasswordHasher`] (19 MiB of argon2 memory) for its life,
//! fed by one queue with two lanes.
//!
//! - Memory: every hash and every verification runs in a worker's own
//!   memory, allocated by its first job and reused by every later one, so
//!   hashing costs at most `password_workers` × 19 MiB whatever the number of
//!   logins. (Fresh 19 MiB per call used to end up kept by the allocator's
//!   per-thread arenas: hundreds of MiB after a burst.)
//! - Order: a free worker takes a login before any signup, so a login never
//!   waits for a flood of signups. Logins take turns by client address
//!   ([`address_group`]): each turn, the oldest login of the next address
//!   with logins waiting. A login therefore waits for at most one login of
//!   each other address (and its own address's earlier ones), plus the
//!   hashes already running: hundreds of clients logging in at once from a
//!   few addresses (each login costs a full hash) delay a login from
//!   elsewhere by a few hashes, not by hundreds.
//!
//! The workers are plain threads, not a `SyncArbiter`: its one FIFO mailbox
//! cannot put logins before signups.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::oneshot;

use super::timing::JobTiming;
use crate::address::address_group;
use crate::crypto::password::PasswordHasher;
use crate::crypto::CryptoError;

/// Which queue a job waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Password checks of logins, by the client's address group: always
    /// taken first, the addresses in turn.
    Login(IpAddr),
    /// Hashes of new passwords (signups): taken when no login waits.
    Signup,
}

/// What a worker computes.
enum Work {
    /// Hash a new password.
    Hash { password: String },
    /// Check a password against a stored PHC string.
    Verify { password: String, phc: String },
}

/// What a worker answers.
#[derive(Debug)]
enum Outcome {
    Hashed(Result<String, CryptoError>),
    Verified(bool),
    /// The job panicked (the worker lives on).
    Panicked,
}

/// A job and where its answer goes.
struct Job {
    work: Work,
    reply: oneshot::Sender<Done>,
    /// When it was queued.
    queued: Instant,
}

/// A job's answer, with its place in the order the workers took jobs.
#[derive(Debug)]
struct Done {
    outcome: Outcome,
    /// How many jobs the workers had taken before this one (what the tests
    /// of the order read).
    #[cfg_attr(not(test), allow(dead_code))]
    taken_after: u64,
    /// Its wait for a worker and its run.
    timing: JobTiming,
}

/// A login's password check: whether it matched, and where its time went
/// (for the login's `debug` line).
#[derive(Debug, Clone, Copy)]
pub struct PasswordCheck {
    /// Whether the password is the one hashed.
    pub matched: bool,
    /// Its wait for a worker, its hash and the CPU time the hash got.
    pub timing: JobTiming,
    /// Jobs queued (in both lanes) when it was.
    pub queued_with: usize,
}

/// Why a password job got no answer.
#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    /// The workers stopped (the server is shutting down).
    #[error("the password workers have stopped")]
    Stopped,
    /// The hash or check panicked (the worker survives it).
    #[error("password hashing failed unexpectedly")]
    Panicked,
    /// Hashing a new password failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// The two lanes: logins first, by address in turn; signups in arrival order.
#[derive(Default)]
struct Lanes {
    logins: LoginTurns,
    signups: VecDeque<Job>,
    closed: bool,
}

impl Lanes {
    fn push(&mut self, lane: Lane, job: Job) {
        match lane {
            Lane::Login(from) => self.logins.push(address_group(from), job),
            Lane::Signup => self.signups.push_back(job),
        }
    }

    /// The next job a free worker takes: a login, else the oldest signup.
    fn next(&mut self) -> Option<Job> {
        self.logins.next().or_else(|| self.signups.pop_front())
    }

    fn len(&self) -> usize {
        self.logins.len + self.signups.len()
    }
}

/// Logins waiting, by address group, taken in turns: one address cannot
/// hold the workers for long while others wait.
#[derive(Default)]
struct LoginTurns {
    /// The addresses with logins waiting, in the order of their turns (an
    /// address that starts waiting gets the last turn).
    turns: VecDeque<IpAddr>,
    /// Each waiting address's logins, in arrival order (never empty).
    waiting: HashMap<IpAddr, VecDeque<Job>>,
    /// Logins waiting in all.
    len: usize,
}

impl LoginTurns {
    fn push(&mut self, group: IpAddr, job: Job) {
        let queue = self.waiting.entry(group).or_insert_with(|| {
            self.turns.push_back(group);
            VecDeque::new()
        });
        queue.push_back(job);
        self.len += 1;
    }

    /// The oldest login of the address whose turn it is; the address then
    /// waits for its next turn behind the others, or leaves if it has no
    /// more logins waiting.
    fn next(&mut self) -> Option<Job> {
        let group = self.turns.pop_front()?;
        let queue = self.waiting.get_mut(&group)?;
        let job = queue.pop_front();
        if queue.is_empty() {
            self.waiting.remove(&group);
        } else {
            self.turns.push_back(group);
        }
        if job.is_some() {
            self.len -= 1;
        }
        job
    }
}

/// What the workers and the handles share.
struct Shared {
    lanes: Mutex<Lanes>,
    ready: Condvar,
    /// Jobs taken by a worker since start.
    taken: AtomicU64,
    /// Hashers allocated since start (one per worker that has had a job).
    hashers: AtomicUsize,
}

impl Shared {
    fn lanes(&self) -> MutexGuard<'_, Lanes> {
        // A worker never panics while holding the lock (jobs run outside it).
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Stops the workers when the last handle goes.
struct Closer(Arc<Shared>);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.lanes().closed = true;
        self.0.ready.notify_all();
    }
}

/// A handle on the password workers (cheap to clone).
#[derive(Clone)]
pub struct PasswordWorkers {
    shared: Arc<Shared>,
    _closer: Arc<Closer>,
    workers: usize,
}

impl PasswordWorkers {
    /// Starts `workers` threads (at least one). Each allocates its 19 MiB
    /// at its first job, so a server nobody logs into never pays it.
    pub fn start(workers: usize) -> std::io::Result<PasswordWorkers> {
        let pool = PasswordWorkers::without_threads(workers);
        pool.spawn_threads()?;
        Ok(pool)
    }

    /// The queue, with no thread taking jobs yet.
    fn without_threads(workers: usize) -> PasswordWorkers {
        let shared = Arc::new(Shared {
            lanes: Mutex::new(Lanes::default()),
            ready: Condvar::new(),
            taken: AtomicU64::new(0),
            hashers: AtomicUsize::new(0),
        });
        PasswordWorkers {
            _closer: Arc::new(Closer(Arc::clone(&shared))),
            shared,
            workers: workers.max(1),
        }
    }

    fn spawn_threads(&self) -> std::io::Result<()> {
        for index in 0..self.workers {
            let shared = Arc::clone(&self.shared);
            std::thread::Builder::new()
                .name(format!("password-{index}"))
                .spawn(move || work(&shared))?;
        }
        Ok(())
    }

    /// Hashes a new password (a signup's): waits behind every login.
    pub async fn hash(&self, password: String) -> Result<String, HashingError> {
        match self
            .submit(Lane::Signup, Work::Hash { password })
            .await?
            .outcome
        {
            Outcome::Hashed(hashed) => Ok(hashed?),
            Outcome::Verified(_) | Outcome::Panicked => Err(HashingError::Panicked),
        }
    }

    /// Checks the password of a login from `peer` against a stored hash:
    /// waits for at most one login of each other address queued before it,
    /// its own address's earlier logins, and the hashes already running.
    pub async fn verify(
        &self,
        password: String,
        phc: String,
        peer: IpAddr,
    ) -> Result<PasswordCheck, HashingError> {
        let queued_with = self.queued();
        let done = self
            .submit(Lane::Login(peer), Work::Verify { password, phc })
            .await?;
        match done.outcome {
            Outcome::Verified(matched) => Ok(PasswordCheck {
                matched,
                timing: done.timing,
                queued_with,
            }),
            Outcome::Hashed(_) | Outcome::Panicked => Err(HashingError::Panicked),
        }
    }

    /// Queues `work` in `lane` now (not when the future is first polled).
    fn submit(
        &self,
        lane: Lane,
        work: Work,
    ) -> impl std::future::Future<Output = Result<Done, HashingError>> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            work,
            reply,
            queued: Instant::now(),
        };
        self.shared.lanes().push(lane, job);
        self.shared.ready.notify_one();
        async move { answer.await.map_err(|_| HashingError::Stopped) }
    }

    /// The number of worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Hashers (19 MiB each) allocated since start: at most [`Self::workers`],
    /// whatever the number of jobs.
    pub fn hashers_allocated(&self) -> usize {
        self.shared.hashers.load(Ordering::Relaxed)
    }

    /// Jobs waiting for a worker.
    pub fn queued(&self) -> usize {
        self.shared.lanes().len()
    }
}

/// One worker's loop: take the next job, run it in this worker's hasher,
/// answer; until the last handle is dropped.
fn work(shared: &Shared) {
    let mut hasher: Option<PasswordHasher> = None;
    loop {
        let job = {
            let mut lanes = shared.lanes();
            loop {
                if let Some(job) = lanes.next() {
                    break job;
                }
                if lanes.closed {
                    return;
                }
                lanes = shared
                    .ready
                    .wait(lanes)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let taken_after = shared.taken.fetch_add(1, Ordering::Relaxed);
        if job.reply.is_closed() {
            continue; // the session went away: nobody waits for this answer
        }
        let hasher = hasher.get_or_insert_with(|| {
            shared.hashers.fetch_add(1, Ordering::Relaxed);
            PasswordHasher::new()
        });
        let running = JobTiming::start(job.queued);
        // A panic leaves nothing to repair: the hasher's memory is
        // overwritten by the next job anyway.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &job.work {
            Work::Hash { password } => Outcome::Hashed(hasher.hash(password)),
            Work::Verify { password, phc } => Outcome::Verified(hasher.verify(password, phc)),
        }))
        .unwrap_or_else(|_| {
            log::error!(target: "auth", "password hashing panicked");
            Outcome::Panicked
        });
        let _ = job.reply.send(Done {
            outcome,
            taken_after,
            timing: running.finish(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client address: 10.0.0.`n`.
    fn host(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn memory_is_allocated_once_per_worker_whatever_the_logins() {
        let workers = PasswordWorkers::start(2).unwrap();
        actix_rt::System::new().block_on(async {
            let phc = workers.hash("correct horse".into()).await.unwrap();
            let checks = (0..40).map(|i| {
                let password = if i % 2 == 0 { "correct horse" } else { "wrong" };
                workers.verify(password.into(), phc.clone(), host(1))
            });
            let results = futures::future::join_all(checks).await;
            for (i, result) in results.into_iter().enumerate() {
                assert_eq!(result.unwrap().matched, i % 2 == 0);
            }
        });
        let hashers = workers.hashers_allocated();
        assert!((1..=2).contains(&hashers), "{hashers} hashers for 41 jobs");
        assert_eq!(workers.queued(), 0);
    }

    #[test]
    fn logins_are_taken_before_every_queued_signup() {
        let mut lanes = Lanes::default();
        let job = |lane| {
            let (reply, _) = oneshot::channel();
            let work = match lane {
                Lane::Login(_) => Work::Verify {
                    password: "p".into(),
                    phc: "h".into(),
                },
                Lane::Signup => Work::Hash {
                    password: "p".into(),
                },
            };
            let queued = Instant::now();
            (
                lane,
                Job {
                    work,
                    reply,
                    queued,
                },
            )
        };
        for (lane, job) in [
            job(Lane::Signup),
            job(Lane::Signup),
            job(Lane::Login(host(1))),
            job(Lane::Signup),
            job(Lane::Login(host(1))),
        ] {
            lanes.push(lane, job);
        }
        let order: Vec<bool> = std::iter::from_fn(|| lanes.next())
            .map(|job| matches!(job.work, Work::Verify { .. }))
            .collect();
        assert_eq!(order, [true, true, false, false, false]);
    }

    #[test]
    fn logins_take_turns_by_address() {
        // 30 logins from one address, then 2 from another and 1 from a
        // third (an IPv6 /64 counts as one address): the later addresses
        // are served in turn with the first, not after all of its logins.
        let mut lanes = Lanes::default();
        let busy = host(1);
        let other = host(2);
        let v6 = |last: u16| IpAddr::from([0xfd00, 0, 0, 1, 0, 0, 0, last]);
        let mut arrivals = vec![busy; 30];
        arrivals.extend([other, v6(1), other, v6(2)]);
        let mut replies = Vec::new();
        for from in &arrivals {
            let (reply, answer) = oneshot::channel();
            let work = Work::Hash {
                password: from.to_string(),
            };
            let queued = Instant::now();
            let job = Job {
                work,
                reply,
                queued,
            };
            lanes.push(Lane::Login(*from), job);
            replies.push(answer);
        }
        assert_eq!(lanes.len(), 34);
        let order: Vec<String> = std::iter::from_fn(|| lanes.next())
            .map(|job| match job.work {
                Work::Hash { password } => password,
                Work::Verify { .. } => unreachable!(),
            })
            .collect();
        let (b, o) = (busy.to_string(), other.to_string());
        let (v1, v2) = (v6(1).to_string(), v6(2).to_string());
        assert_eq!(
            order[..7],
            [&b, &o, &v1, &b, &o, &v2, &b].map(String::as_str)
        );
        assert!(order[7..].iter().all(|from| *from == b));
        assert_eq!(lanes.len(), 0);
    }

    #[test]
    fn a_login_queued_behind_a_flood_of_signups_is_taken_next() {
        // A flood of signups queued before a login, then one worker: the
        // login is the first job it takes, the signups follow in order.
        let workers = PasswordWorkers::without_threads(1);
        actix_rt::System::new().block_on(async {
            let signups: Vec<_> = (0..12)
                .map(|_| {
                    workers.submit(
                        Lane::Signup,
                        Work::Hash {
                            password: "a new password".into(),
                        },
                    )
                })
                .collect();
            let login = workers.submit(
                Lane::Login(host(1)),
                Work::Verify {
                    password: "p".into(),
                    phc: "not a hash".into(),
                },
            );
            workers.spawn_threads().unwrap();
            let done = login.await.unwrap();
            assert!(matches!(done.outcome, Outcome::Verified(false)));
            assert_eq!(done.taken_after, 0);
            let order: Vec<u64> = futures::future::join_all(signups)
                .await
                .into_iter()
                .map(|signup| signup.unwrap().taken_after)
                .collect();
            assert_eq!(order, (1..=12).collect::<Vec<_>>());
        });
    }
}
