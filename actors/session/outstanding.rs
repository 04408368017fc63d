//! The requests of one session that have no final answer yet, in one map.
//!
//! Every request is entered when its envelope is read and leaves when its
//! final answer goes (or the session closes without one): the map rejects a
//! reused id and times each request for its log line. A request that waits
//! for another actor or a stream also has a [`Pending`]: what to stop when it
//! is cancelled or the session ends. A late result whose request has no
//! `Pending` any more is discarded, so nothing carries an id after its answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::SpawnHandle;

use crate::protocol::RequestKind;

/// What a request waiting for its final answer holds.
pub enum Pending {
    /// Waits for another actor or a blocking task; nothing to stop.
    Plain,
    /// A running `count`.
    Count {
        /// Set to stop the count (`cancel`, shutdown, session gone).
        cancel: Arc<AtomicBool>,
        /// Its `progress` pushes, once the count runs.
        progress: Option<SpawnHandle>,
    },
    /// A running `admin.tail`.
    Tail {
        /// The stream of its records (cancelling it leaves the log hub).
        records: SpawnHandle,
        /// Records it could not deliver.
        dropped: Arc<AtomicU64>,
    },
}

impl Pending {
    /// Stops a count; what the caller must cancel in its context (a timer,
    /// a stream), if anything.
    pub fn stop(&self) -> Option<SpawnHandle> {
        match self {
            Pending::Plain => None,
            Pending::Count { cancel, progress } => {
                cancel.store(true, Ordering::Relaxed);
                *progress
            }
            Pending::Tail { records, .. } => Some(*records),
        }
    }
}

/// One unanswered request.
struct Unanswered {
    kind: RequestKind,
    received: Instant,
    pending: Option<Pending>,
}

/// Every unanswered request of a session, by id.
#[derive(Default)]
pub struct Outstanding {
    requests: HashMap<u32, Unanswered>,
}

impl Outstanding {
    /// Enters request `id`; false if that id is already unanswered.
    pub fn receive(&mut self, id: u32, kind: RequestKind) -> bool {
        if self.requests.contains_key(&id) {
            return false;
        }
        self.requests.insert(
            id,
            Unanswered {
                kind,
                received: Instant::now(),
                pending: None,
            },
        );
        true
    }

    /// The type of unanswered request `id`.
    pub fn kind(&self, id: u32) -> Option<RequestKind> {
        self.requests.get(&id).map(|request| request.kind)
    }

    /// Request `id` now waits, holding `pending`.
    pub fn wait(&mut self, id: u32, pending: Pending) {
        if let Some(request) = self.requests.get_mut(&id) {
            request.pending = Some(pending);
        }
    }

    /// Whether request `id` still waits for its answer.
    pub fn is_waiting(&self, id: u32) -> bool {
        self.pending(id).is_some()
    }

    /// What request `id` waits with.
    pub fn pending(&self, id: u32) -> Option<&Pending> {
        self.requests.get(&id)?.pending.as_ref()
    }

    /// Records the progress timer of count `id`.
    pub fn set_progress(&mut self, id: u32, timer: SpawnHandle) {
        if let Some(Pending::Count { progress, .. }) = self
            .requests
            .get_mut(&id)
            .and_then(|request| request.pending.as_mut())
        {
            *progress = Some(timer);
        }
    }

    /// Takes what request `id` waits with: it will be answered now (or
    /// never). `None` if it was not waiting.
    pub fn take(&mut self, id: u32) -> Option<Pending> {
        self.requests.get_mut(&id)?.pending.take()
    }

    /// Removes request `id` as answered: its type and when it came.
    pub fn answered(&mut self, id: u32) -> Option<(RequestKind, Instant)> {
        let request = self.requests.remove(&id)?;
        Some((request.kind, request.received))
    }

    /// How many requests wait (the outstanding limit of a session).
    pub fn waiting(&self) -> usize {
        self.requests
            .values()
            .filter(|request| request.pending.is_some())
            .count()
    }

    /// Whether something other than a tail still waits.
    pub fn work_waiting(&self) -> bool {
        self.requests.values().any(|request| {
            matches!(
                request.pending,
                Some(Pending::Plain | Pending::Count { .. })
            )
        })
    }

    /// The ids of the requests that wait, tails among them when `tails`.
    pub fn waiting_ids(&self, tails: bool) -> Vec<u32> {
        self.requests
            .iter()
            .filter(|(_, request)| match &request.pending {
                Some(Pending::Tail { .. }) => tails,
                Some(_) => !tails,
                None => false,
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// The ids of every unanswered request.
    pub fn ids(&self) -> Vec<u32> {
        self.requests.keys().copied().collect()
    }

    /// Stops every running count (the session is gone).
    pub fn cancel_counts(&self) {
        for request in self.requests.values() {
            if let Some(Pending::Count { cancel, .. }) = &request.pending {
                cancel.store(true, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_unanswered_once() {
        let mut outstanding = Outstanding::default();
        assert!(outstanding.receive(1, RequestKind::Ping));
        assert!(!outstanding.receive(1, RequestKind::Count));
        assert_eq!(
            outstanding.answered(1).map(|(kind, _)| kind),
            Some(RequestKind::Ping)
        );
        assert!(outstanding.receive(1, RequestKind::Count));
    }

    #[test]
    fn waiting_requests_are_taken_once() {
        let mut outstanding = Outstanding::default();
        let cancel = Arc::new(AtomicBool::new(false));
        outstanding.receive(1, RequestKind::Count);
        outstanding.receive(2, RequestKind::SoundList);
        outstanding.receive(3, RequestKind::Ping);
        outstanding.wait(
            1,
            Pending::Count {
                cancel: Arc::clone(&cancel),
                progress: None,
            },
        );
        outstanding.wait(2, Pending::Plain);
        assert_eq!(outstanding.waiting(), 2);
        assert!(outstanding.work_waiting());
        assert!(!outstanding.is_waiting(3));
        let mut waiting = outstanding.waiting_ids(false);
        waiting.sort();
        assert_eq!(waiting, [1, 2]);
        assert!(outstanding.waiting_ids(true).is_empty());

        let count = outstanding.take(1).unwrap();
        assert!(count.stop().is_none());
        assert!(cancel.load(Ordering::Relaxed));
        assert!(outstanding.take(1).is_none(), "a late result finds nothing");
        // Taken, not yet answered: the id stays in use until its answer.
        assert!(!outstanding.receive(1, RequestKind::Ping));
        assert!(outstanding.answered(1).is_some());
        assert_eq!(outstanding.waiting(), 1);
    }

    #[test]
    fn cancel_counts_stops_every_count() {
        let mut outstanding = Outstanding::default();
        let flags: Vec<_> = (1..=3).map(|_| Arc::new(AtomicBool::new(false))).collect();
        for (id, flag) in (1..).zip(&flags) {
            outstanding.receive(id, RequestKind::Count);
            outstanding.wait(
                id,
                Pending::Count {
                    cancel: Arc::clone(flag),
                    progress: None,
                },
            );
        }
        outstanding.cancel_counts();
        assert!(flags.iter().all(|flag| flag.load(Ordering::Relaxed)));
    }
}
