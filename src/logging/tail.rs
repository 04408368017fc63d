//! The `admin.tail` subscribers: a bounded queue and a level each, fed by
//! the logger without ever blocking it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use log::{Level, LevelFilter, Record};
use tokio::sync::mpsc;

/// A log record as a tail subscriber receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// When it was logged.
    pub time: SystemTime,
    /// Its level.
    pub level: Level,
    /// Its target (`connection`, `auth`...).
    pub target: String,
    /// The text.
    pub message: String,
}

struct Subscriber {
    id: u64,
    level: Level,
    queue: mpsc::Sender<LogRecord>,
    dropped: Arc<AtomicU64>,
}

/// The `admin.tail` subscribers, fed by the logger.
pub struct TailHub {
    subscribers: Mutex<Vec<Subscriber>>,
    next_id: AtomicU64,
    /// The most verbose level any subscriber wants, as a `LevelFilter` number.
    wanted: AtomicUsize,
    /// The level the logger writes anyway (`log::max_level` never goes below it).
    base: AtomicUsize,
}

impl std::fmt::Debug for TailHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TailHub")
            .field("subscribers", &self.lock().len())
            .finish()
    }
}

fn level_filter_from(n: usize) -> LevelFilter {
    LevelFilter::iter()
        .find(|level| *level as usize == n)
        .unwrap_or(LevelFilter::Off)
}

impl TailHub {
    /// A hub without subscribers.
    pub fn new() -> TailHub {
        TailHub {
            subscribers: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            wanted: AtomicUsize::new(LevelFilter::Off as usize),
            base: AtomicUsize::new(LevelFilter::Off as usize),
        }
    }

    /// The hub the installed logger feeds (one per process).
    pub fn global() -> &'static Arc<TailHub> {
        static HUB: OnceLock<Arc<TailHub>> = OnceLock::new();
        HUB.get_or_init(|| Arc::new(TailHub::new()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscriber>> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether some subscriber wants records at `level`.
    pub fn wants(&self, level: Level) -> bool {
        level <= level_filter_from(self.wanted.load(Ordering::Relaxed))
    }

    /// Subscribes at `level` ("that level and the more severe ones") with a
    /// queue of `capacity` records.
    pub fn subscribe(self: &Arc<Self>, level: Level, capacity: usize) -> TailSubscription {
        self.subscribe_after(level, capacity, None)
    }

    /// The same, with `first` (when `level` admits it) queued before any
    /// record published from now on: a tail opens with its own start
    /// record, logged just before, and never with a record another thread
    /// published in between.
    pub fn subscribe_after(
        self: &Arc<Self>,
        level: Level,
        capacity: usize,
        first: Option<LogRecord>,
    ) -> TailSubscription {
        let (queue, records) = mpsc::channel(capacity.max(1));
        if let Some(first) = first.filter(|record| record.level <= level) {
            // The queue is new and holds at least one record.
            let _ = queue.try_send(first);
        }
        let dropped = Arc::new(AtomicU64::new(0));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().push(Subscriber {
            id,
            level,
            queue,
            dropped: Arc::clone(&dropped),
        });
        self.refresh_levels();
        TailSubscription {
            id,
            hub: Arc::clone(self),
            records,
            dropped,
        }
    }

    /// How many subscribers there are.
    pub fn subscriber_count(&self) -> usize {
        self.lock().len()
    }

    fn unsubscribe(&self, id: u64) {
        self.lock().retain(|s| s.id != id);
        self.refresh_levels();
    }

    /// Records what the subscribers want, and raises (or lowers)
    /// `log::max_level` to the most verbose of that and the logger's own.
    fn refresh_levels(&self) {
        let wanted = self
            .lock()
            .iter()
            .map(|s| s.level.to_level_filter())
            .max()
            .unwrap_or(LevelFilter::Off);
        self.wanted.store(wanted as usize, Ordering::Relaxed);
        let base = level_filter_from(self.base.load(Ordering::Relaxed));
        if base != LevelFilter::Off {
            log::set_max_level(base.max(wanted));
        }
    }

    /// Sets the level the installed logger writes (see [`TailHub::refresh_levels`]).
    pub(super) fn set_base(&self, base: LevelFilter) {
        self.base.store(base as usize, Ordering::Relaxed);
        self.refresh_levels();
    }

    /// Gives a record to every subscriber whose level admits it, without
    /// ever waiting: a full queue drops it and counts.
    pub fn publish(&self, record: &Record<'_>) {
        if !self.wants(record.level()) {
            return;
        }
        let mut message: Option<LogRecord> = None;
        let mut gone = false;
        for subscriber in self.lock().iter() {
            if record.level() > subscriber.level {
                continue;
            }
            let copy = message
                .get_or_insert_with(|| LogRecord {
                    time: SystemTime::now(),
                    level: record.level(),
                    target: record.target().to_owned(),
                    message: record.args().to_string(),
                })
                .clone();
            match subscriber.queue.try_send(copy) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    subscriber.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => gone = true,
            }
        }
        if gone {
            self.lock().retain(|s| !s.queue.is_closed());
            self.refresh_levels();
        }
    }
}

impl Default for TailHub {
    fn default() -> Self {
        TailHub::new()
    }
}

/// One `admin.tail`'s records; unsubscribes when dropped.
pub struct TailSubscription {
    id: u64,
    hub: Arc<TailHub>,
    records: mpsc::Receiver<LogRecord>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for TailSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TailSubscription")
            .field("id", &self.id)
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl TailSubscription {
    /// The next record (waits); `None` never happens while subscribed.
    pub async fn next(&mut self) -> Option<LogRecord> {
        self.records.recv().await
    }

    /// The next record if one is waiting.
    pub fn try_next(&mut self) -> Option<LogRecord> {
        self.records.try_recv().ok()
    }

    /// Records dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The counter of dropped records, to read after the subscription is gone.
    pub fn dropped_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.dropped)
    }
}

impl Drop for TailSubscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.id);
    }
}
