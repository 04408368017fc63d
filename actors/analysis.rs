//! The analysis pool: `SyncArbiter` worker threads (one per CPU by default)
//! running [`analyze_file`] on counts, with a bounded queue in front.
//!
//! Capacity is reserved before a count's audio is even prepared
//! ([`AnalysisPool::try_reserve`]): when every worker is busy and the queue
//! is full, the session answers `busy` at once and nothing is consumed.
//! Progress goes through a shared [`ProgressCell`] that the session reads on
//! its own clock (so pushes are regular whatever the block sizes), and
//! cancellation through a shared flag the engine checks after every block.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix::prelude::*;

use super::library::CountJob;
use super::panic_guard::without_panics;
use super::timing::JobTiming;
use crate::dsp::{analyze_file, DspError, Event};
use crate::logging::SessionLog;
use crate::protocol::WireError;

/// The pool's counters, shared by every handle and slot.
#[derive(Debug, Default)]
pub struct PoolLoad {
    in_flight: AtomicUsize,
    running: AtomicUsize,
    done: AtomicU64,
    audio_ms: AtomicU64,
}

impl PoolLoad {
    /// Counts waiting for a worker.
    pub fn queued(&self) -> usize {
        self.in_flight
            .load(Ordering::Relaxed)
            .saturating_sub(self.running())
    }

    /// Counts running.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Counts finished (whatever their outcome).
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Seconds of audio analysed by finished counts.
    pub fn audio_s(&self) -> f64 {
        self.audio_ms.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

/// A reserved place in the pool (queued or running); released when dropped.
#[derive(Debug)]
pub struct JobSlot(Arc<PoolLoad>);

impl Drop for JobSlot {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How far a count has got, and the events it has decided that its session
/// has not pushed yet: written by the worker, read by the session's
/// progress timer.
#[derive(Debug, Default)]
pub struct ProgressCell {
    /// Seconds analysed, as f64 bits, only ever raised.
    done_s: AtomicU64,
    events: Mutex<DecidedEvents>,
}

/// The events of a running count between worker and session.
#[derive(Debug, Default)]
struct DecidedEvents {
    /// Decided, not yet taken by the session.
    waiting: Vec<Event>,
    /// How many the session has taken.
    taken: usize,
}

impl ProgressCell {
    /// Seconds of the recording analysed so far.
    pub fn done_s(&self) -> f64 {
        f64::from_bits(self.done_s.load(Ordering::Relaxed))
    }

    /// Records progress; a lower value than the current one is ignored, so
    /// the pushes never go backwards.
    pub fn advance(&self, done_s: f64) {
        let _ = self
            .done_s
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                (done_s > f64::from_bits(old)).then(|| done_s.to_bits())
            });
    }

    /// Adds events the count has just decided (in time order).
    pub fn add_events(&self, events: &[Event]) {
        if !events.is_empty() {
            self.decided().waiting.extend_from_slice(events);
        }
    }

    /// The events decided since the last call, for the next push.
    pub fn take_events(&self) -> Vec<Event> {
        let mut decided = self.decided();
        let events = std::mem::take(&mut decided.waiting);
        decided.taken += events.len();
        events
    }

    /// How many events [`ProgressCell::take_events`] has handed out: the
    /// count's events from there on are still to be pushed.
    pub fn taken(&self) -> usize {
        self.decided().taken
    }

    /// The events, whatever a panicking holder left: a list of events
    /// appended to stays whole.
    fn decided(&self) -> std::sync::MutexGuard<'_, DecidedEvents> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The address of the pool and its capacity.
#[derive(Clone)]
pub struct AnalysisPool {
    workers: Addr<AnalysisWorker>,
    capacity: usize,
    load: Arc<PoolLoad>,
}

impl AnalysisPool {
    /// Starts `workers` threads with room for `queue` waiting counts.
    pub fn start(workers: usize, queue: usize) -> AnalysisPool {
        let load = Arc::new(PoolLoad::default());
        let shared = Arc::clone(&load);
        // Named, so that `top -H` and the soak's CPU table tell them apart.
        let mut started = 0;
        let named = move || {
            started += 1;
            std::thread::Builder::new().name(format!("analysis-{}", started - 1))
        };
        let addr =
            SyncArbiter::start_with_thread_builder(workers.max(1), named, move || AnalysisWorker {
                load: Arc::clone(&shared),
            });
        AnalysisPool {
            workers: addr,
            capacity: workers.max(1) + queue,
            load,
        }
    }

    /// Reserves a place, or `None` when every worker is busy and the queue is full.
    pub fn try_reserve(&self) -> Option<JobSlot> {
        let capacity = self.capacity;
        self.load
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .ok()
            .map(|_| JobSlot(Arc::clone(&self.load)))
    }

    /// Runs a count in a reserved place.
    pub async fn run(&self, count: RunCount) -> Result<CountOutcome, WireError> {
        self.workers
            .send(count)
            .await
            .map_err(|err| WireError::internal(format!("analysis pool: {err}")))?
    }

    /// Runs `work` (a live stream's chunk, say: milliseconds of CPU) on a
    /// worker, in a reserved place: it shares the pool's bound with the
    /// counts instead of taking a thread of tokio's blocking pool, which
    /// would let streams use every core whatever the pool's size. A panic
    /// in `work` is an `internal` error. Its timing is logged at `debug`
    /// as `what`.
    pub async fn run_work<T: Send + 'static>(
        &self,
        slot: JobSlot,
        log: SessionLog,
        what: &'static str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, WireError> {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let job: Box<dyn FnOnce() + Send> = Box::new(move || {
            let _ = done_tx.send(work());
        });
        let work = RunWork {
            job,
            slot,
            log,
            what,
            queued: Instant::now(),
        };
        self.workers
            .send(work)
            .await
            .map_err(|err| WireError::internal(format!("analysis pool: {err}")))??;
        done_rx
            .await
            .map_err(|_| WireError::internal("analysis pool: the work ended without a result"))
    }

    /// The pool's counters.
    pub fn load(&self) -> &PoolLoad {
        &self.load
    }
}

/// The result of a count.
#[derive(Debug, Clone)]
pub struct CountOutcome {
    /// Every occurrence, in time order.
    pub events: Vec<Event>,
    /// Length of the recording in seconds.
    pub duration_s: f64,
}

/// Runs one count.
#[derive(Debug, Message)]
#[rtype(result = "Result<CountOutcome, WireError>")]
pub struct RunCount {
    /// The audio and options.
    pub job: CountJob,
    /// The place reserved for it.
    pub slot: JobSlot,
    /// Where the worker writes its progress.
    pub progress: Arc<ProgressCell>,
    /// Set to stop the count (`cancel`, shutdown, session gone).
    pub cancel: Arc<AtomicBool>,
    /// The asking session's log context, which starts the lines of the count.
    pub log: SessionLog,
    /// When it was sent to the pool (its wait for a worker is logged).
    pub queued: Instant,
}

/// Runs a piece of work that is not a count (see [`AnalysisPool::run_work`]).
#[derive(Message)]
#[rtype(result = "Result<(), WireError>")]
pub struct RunWork {
    job: Box<dyn FnOnce() + Send>,
    slot: JobSlot,
    /// The asking session's log context.
    log: SessionLog,
    /// What it is, for its `debug` line.
    what: &'static str,
    /// When it was sent to the pool.
    queued: Instant,
}

/// One worker thread.
pub struct AnalysisWorker {
    load: Arc<PoolLoad>,
}

impl Actor for AnalysisWorker {
    type Context = SyncContext<Self>;
}

impl Handler<RunWork> for AnalysisWorker {
    type Result = Result<(), WireError>;

    fn handle(&mut self, work: RunWork, _: &mut SyncContext<Self>) -> Self::Result {
        let RunWork {
            job,
            slot,
            log,
            what,
            queued,
        } = work;
        let in_pool = self.load.in_flight.load(Ordering::Relaxed);
        self.load.running.fetch_add(1, Ordering::Relaxed);
        let running = JobTiming::start(queued);
        let result = without_panics("analysis", &log, || {
            job();
            Ok(())
        });
        let timing = running.finish();
        self.load.running.fetch_sub(1, Ordering::Relaxed);
        drop(slot);
        log::debug!(target: "analysis::timing", "{log}: {what}: {timing} ({in_pool} places of the pool taken)");
        result
    }
}

impl Handler<RunCount> for AnalysisWorker {
    type Result = Result<CountOutcome, WireError>;

    fn handle(&mut self, count: RunCount, _: &mut SyncContext<Self>) -> Self::Result {
        let RunCount {
            job,
            slot,
            progress,
            cancel,
            log,
            queued,
        } = count;
        if cancel.load(Ordering::Relaxed) {
            return Err(DspError::Cancelled.into());
        }
        self.load.running.fetch_add(1, Ordering::Relaxed);
        let running = JobTiming::start(queued);
        let result = without_panics("analysis", &log, || {
            analyze_file(
                &job.template,
                job.recording.path(),
                &job.options,
                false,
                &mut |p| {
                    progress.advance(p.done_s);
                    progress.add_events(p.new_events);
                    !cancel.load(Ordering::Relaxed)
                },
            )
            .map_err(WireError::from)
        });
        self.load.running.fetch_sub(1, Ordering::Relaxed);
        self.load.done.fetch_add(1, Ordering::Relaxed);
        drop(slot);
        let timing = running.finish();
        log::debug!(target: "analysis::timing", "{log}: count: {timing}");
        match result {
            Ok((analysis, _)) => {
                self.load
                    .audio_ms
                    .fetch_add((analysis.duration_s * 1000.0) as u64, Ordering::Relaxed);
                log::info!(target: "analysis", "{log}: counted {} in {:.1} s of audio in {} ms",
                    analysis.count(), analysis.duration_s, timing.ran.as_millis());
                Ok(CountOutcome {
                    events: analysis.events,
                    duration_s: analysis.duration_s,
                })
            }
            Err(err) => {
                log::info!(target: "analysis", "{log}: count ended: {}", err.message);
                Err(err)
            }
        }
        // `job` drops here: the recording file is removed whatever the outcome.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_never_goes_back() {
        let cell = ProgressCell::default();
        cell.advance(1.5);
        cell.advance(0.5);
        assert_eq!(cell.done_s(), 1.5);
        cell.advance(2.0);
        assert_eq!(cell.done_s(), 2.0);
    }

    fn test_log() -> SessionLog {
        SessionLog::new(1, ([127, 0, 0, 1], 40_000).into())
    }

    #[test]
    fn work_runs_on_a_worker_and_a_panic_in_it_is_internal() {
        let system = actix::System::new();
        system.block_on(async {
            let pool = AnalysisPool::start(1, 0);
            let slot = pool.try_reserve().unwrap();
            assert!(pool.try_reserve().is_none(), "the work holds the one place");
            let answer = pool
                .run_work(slot, test_log(), "test", || 6 * 7)
                .await
                .unwrap();
            assert_eq!(answer, 42);
            let slot = pool.try_reserve().expect("freed once done");
            let err = pool
                .run_work(slot, test_log(), "test", || -> u32 { panic!("boom") })
                .await
                .unwrap_err();
            assert_eq!(err.code, crate::protocol::ErrorCode::Internal);
            let slot = pool.try_reserve().expect("the worker lives on");
            assert_eq!(
                pool.run_work(slot, test_log(), "test", || 1).await.unwrap(),
                1
            );
        });
    }

    #[test]
    fn reservations_stop_at_capacity_and_free_on_drop() {
        let system = actix::System::new();
        system.block_on(async {
            let pool = AnalysisPool::start(1, 2);
            let a = pool.try_reserve().unwrap();
            let _b = pool.try_reserve().unwrap();
            let _c = pool.try_reserve().unwrap();
            assert!(pool.try_reserve().is_none(), "1 worker + 2 queued");
            assert_eq!(pool.load().queued(), 3);
            drop(a);
            assert!(pool.try_reserve().is_some());
        });
    }
}
