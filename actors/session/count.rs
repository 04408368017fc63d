//! `count` and `cancel`: a count reserves a place in the analysis pool
//! (else `busy`), has the library prepare its audio, then runs with
//! `progress` pushes until its answer or its cancellation.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;

use super::{LoggedIn, Pending, Session};
use crate::actors::analysis::{ProgressCell, RunCount};
use crate::actors::audio_jobs;
use crate::actors::library::AudioInput;
use crate::dsp::{Event, Options};
use crate::protocol::request::Count;
use crate::protocol::response::{CountResult, MAX_LISTED_EVENTS};
use crate::protocol::{CountOptions, Empty, ErrorCode, EventInfo, Push, WireError};

/// How often a running count pushes its progress (§5: at least 1/s, at most 10/s).
const PROGRESS_PERIOD: Duration = Duration::from_millis(500);

/// Events one `progress` push carries at most: an event is at most about
/// 60 bytes of JSON (`{"start_s":14399.123456789012,"score":0.123...},`), so
/// a push stays under 600 KB, well under a frame (§1), and an hour of
/// 30,000 events takes 3 pushes (§5 allows ten a second).
const EVENTS_PER_PUSH: usize = 10_000;

impl Session {
    /// `count`: reserve a place in the pool (else `busy`), prepare the audio
    /// (the library checks it before consuming uploads), run it with
    /// progress pushes.
    pub(super) fn count(
        &mut self,
        id: u32,
        user: LoggedIn,
        count: Count,
        payload: Bytes,
        ctx: &mut Context<Self>,
    ) {
        let received = Instant::now();
        let recording =
            match AudioInput::of_request(count.recording_upload, payload, "recording_upload") {
                Ok(recording) => recording,
                Err(err) => return self.send_error(id, &err),
            };
        let Some(slot) = self.services.pool.try_reserve() else {
            let err = WireError::new(
                ErrorCode::Busy,
                "every analysis worker is busy and the queue is full",
            );
            return self.send_error(id, &err);
        };
        let cancel = Arc::new(AtomicBool::new(false));
        self.outstanding.wait(
            id,
            Pending::Count {
                cancel: Arc::clone(&cancel),
                progress: None,
            },
        );
        let prepare = audio_jobs::prepare_count(
            self.services.library.clone(),
            user.user_id,
            count.template,
            recording,
            engine_options(&count.options),
        );
        ctx.spawn(prepare.into_actor(self).map(move |prepared, session, ctx| {
            let job = match prepared {
                Ok(job) => job,
                Err(err) => return session.answer::<Empty>(id, Err(err), &[], ctx),
            };
            if !session.outstanding.is_waiting(id) {
                return; // cancelled meanwhile; dropping the job removes the recording
            }
            let total_s = job.total_s;
            let progress = Arc::new(ProgressCell::default());
            let seen = Arc::clone(&progress);
            let pushed = Arc::clone(&progress);
            // A first push at once: the client learns the job runs and how
            // long the recording is, whatever the job's speed.
            session.push_progress(id, 0.0, total_s, &[]);
            let timer = ctx.run_interval(PROGRESS_PERIOD, move |session, _| {
                let done_s = seen.done_s().min(total_s);
                let events = event_infos(&seen.take_events());
                session.push_progress(id, done_s, total_s, &events);
            });
            session.outstanding.set_progress(id, timer);
            let pool = session.services.pool.clone();
            let log = session.log.clone();
            let run = async move {
                pool.run(RunCount {
                    job,
                    slot,
                    progress,
                    cancel,
                    log,
                    queued: Instant::now(),
                })
                .await
            };
            ctx.spawn(run.into_actor(session).map(move |outcome, session, ctx| {
                if !session.outstanding.is_waiting(id) {
                    return; // cancelled: nothing carries its id any more
                }
                let result = outcome.map(|outcome| {
                    let events = event_infos(&outcome.events);
                    // The events the progress timer has not pushed: those
                    // decided since its last tick and at the recording's end.
                    let rest = &events[pushed.taken().min(events.len())..];
                    if !rest.is_empty() {
                        session.push_progress(id, total_s, total_s, rest);
                    }
                    let events_truncated = events.len() > MAX_LISTED_EVENTS;
                    CountResult {
                        count: events.len() as u64,
                        events: if events_truncated { Vec::new() } else { events },
                        duration_s: outcome.duration_s,
                        elapsed_ms: u64::try_from(received.elapsed().as_millis())
                            .unwrap_or(u64::MAX),
                        events_truncated,
                    }
                });
                session.answer(id, result, &[], ctx);
            }));
        }));
    }

    /// Pushes the progress of count `id`, with `events` (decided since the
    /// last push) in `new_events` (1.2), [`EVENTS_PER_PUSH`] at a time:
    /// one push when there are none.
    fn push_progress(&mut self, id: u32, done_s: f64, total_s: f64, events: &[EventInfo]) {
        let empty: &[EventInfo] = &[];
        let batches: Vec<&[EventInfo]> = if events.is_empty() {
            vec![empty]
        } else {
            events.chunks(EVENTS_PER_PUSH).collect()
        };
        for batch in batches {
            self.send(
                &Push::Progress {
                    id,
                    done_s,
                    total_s,
                    new_events: batch.to_vec(),
                },
                &[],
            );
        }
    }

    /// `cancel`: ends the running count or tail `target` of this session.
    pub(super) fn cancel(&mut self, id: u32, target: u32, ctx: &mut Context<Self>) {
        match self.outstanding.pending(target) {
            Some(Pending::Tail { .. }) => {
                self.send_ok(id, Empty {});
                self.end_tail(target, ctx);
                self.after_answer(ctx);
            }
            Some(Pending::Count { .. }) => {
                self.send_ok(id, Empty {});
                let cancelled =
                    WireError::new(ErrorCode::Cancelled, "cancelled at the client's request");
                self.answer::<Empty>(target, Err(cancelled), &[], ctx);
            }
            Some(Pending::Plain) | None => {
                let err = WireError::new(
                    ErrorCode::NotFound,
                    format!("no running count or tail has id {target}"),
                );
                self.send_error(id, &err);
            }
        }
    }
}

/// The engine's options from a request's.
pub(super) fn engine_options(options: &CountOptions) -> Options {
    Options {
        threshold: options.threshold.map(|t| t as f32),
        min_gap_s: options.min_gap_s,
    }
}

/// Events as the protocol shows them.
pub(super) fn event_infos(events: &[Event]) -> Vec<EventInfo> {
    events
        .iter()
        .map(|event| EventInfo {
            start_s: event.start_s,
            score: f64::from(event.score),
        })
        .collect()
}
