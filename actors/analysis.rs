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
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;

use super::library::CountJob;
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

/// How far a count has got: `done_s` as f64 bits, only ever raised.
#[derive(Debug, Default)]
pub struct ProgressCell(AtomicU64);

impl ProgressCell {
    /// Seconds of the recording analysed so far.
    pub fn done_s(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    /// Records progress; a lower value than the current one is ignored, so
    /// the pushes never go backwards.
    pub fn advance(&self, done_s: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                (done_s > f64::from_bits(old)).then(|| done_s.to_bits())
            });
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
        let addr = SyncArbiter::start(workers.max(1), move || AnalysisWorker {
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
}

/// One worker thread.
pub struct AnalysisWorker {
    load: Arc<PoolLoad>,
}

impl Actor for AnalysisWorker {
    type Context = SyncContext<Self>;
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
        } = count;
        if cancel.load(Ordering::Relaxed) {
            return Err(DspError::Cancelled.into());
        }
        self.load.running.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = without_panics(&log, || {
            analyze_file(
                &job.template,
                job.recording.path(),
                &job.options,
                false,
                &mut |p| {
                    progress.advance(p.done_s);
                    !cancel.load(Ordering::Relaxed)
                },
            )
            .map_err(WireError::from)
        });
        self.load.running.fetch_sub(1, Ordering::Relaxed);
        self.load.done.fetch_add(1, Ordering::Relaxed);
        drop(slot);
        let elapsed = started.elapsed();
        match result {
            Ok((analysis, _)) => {
                self.load
                    .audio_ms
                    .fetch_add((analysis.duration_s * 1000.0) as u64, Ordering::Relaxed);
                log::info!(target: "analysis", "{log}: counted {} in {:.1} s of audio in {} ms",
                    analysis.count(), analysis.duration_s, elapsed.as_millis());
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

/// Runs `work`, turning a panic into an `internal` error. A panic on a
/// `SyncArbiter` thread would end that worker for good and shrink the
/// pool; the engine is not meant to panic, but its dependencies (the
/// resampler's FFT, say) have, on input the fuzzers made up.
fn without_panics<T>(
    origin: &impl std::fmt::Display,
    work: impl FnOnce() -> Result<T, WireError>,
) -> Result<T, WireError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        log::error!(target: "analysis", "{origin}: the analysis panicked: {what}");
        Err(WireError::new(
            crate::protocol::ErrorCode::Internal,
            "internal server error: the analysis failed unexpectedly",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_analysis_is_an_internal_error_not_a_dead_worker() {
        let result: Result<(), WireError> =
            without_panics(&"session 1 (127.0.0.1:1)", || panic!("boom"));
        let err = result.unwrap_err();
        assert_eq!(err.code, crate::protocol::ErrorCode::Internal);
        assert!(!err.message.contains("boom"), "internals stay in the log");
        assert_eq!(without_panics(&"s", || Ok(7)).ok(), Some(7));
    }

    #[test]
    fn progress_never_goes_back() {
        let cell = ProgressCell::default();
        cell.advance(1.5);
        cell.advance(0.5);
        assert_eq!(cell.done_s(), 1.5);
        cell.advance(2.0);
        assert_eq!(cell.done_s(), 2.0);
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
