//! Live counting, `stream.open` .. `stream.close`: each stream runs the
//! streaming [`Counter`] in the analysis pool, one chunk at a time, in a
//! place reserved like a count's (none free: `busy`, the chunk not taken).
//! The session waits (`ctx.wait`) for each chunk, which keeps a stream's
//! chunks in order and the event loop free.
//!
//! The cap on open streams counts the opens under way from the moment they
//! pass the check: pipelined `stream.open`s cannot all pass it while their
//! templates decode.

use actix::prelude::*;
use bytes::Bytes;

use super::count::{engine_options, event_infos};
use std::collections::HashMap;

use super::{LoggedIn, Pending, Session};
use crate::actors::analysis::JobSlot;
use crate::actors::audio_jobs;
use crate::audio::PcmDecoder;
use crate::dsp::Counter;
use crate::protocol::request::StreamOpen;
use crate::protocol::response::{StreamClosed, StreamOpened, StreamProgress, MAX_LISTED_EVENTS};
use crate::protocol::{ErrorCode, StreamRequest, WireError};

/// The live streams of a session.
#[derive(Default)]
pub(super) struct Streams {
    /// The open streams, by id.
    open: HashMap<String, LiveStream>,
    /// `stream.open`s that passed the cap and are preparing their engine.
    opening: usize,
}

/// A live-counting stream (`stream.open` .. `stream.close`).
pub(super) struct LiveStream {
    /// Taken while a chunk is being counted on a blocking thread.
    engine: Option<StreamEngine>,
    sample_rate: u32,
    frame_bytes: usize,
}

/// The part of a stream that runs off the event loop.
struct StreamEngine {
    decoder: PcmDecoder,
    counter: Counter,
    samples: Vec<f32>,
}

impl Session {
    /// The requests of live counting.
    pub(super) fn stream(
        &mut self,
        id: u32,
        user: LoggedIn,
        request: StreamRequest,
        payload: Bytes,
        ctx: &mut Context<Self>,
    ) {
        match request {
            StreamRequest::Open(open) => self.stream_open(id, user, open, ctx),
            StreamRequest::Data(data) => self.stream_data(id, data.stream_id, payload, ctx),
            StreamRequest::Close(close) => self.stream_close(id, close.stream_id, ctx),
        }
    }

    /// A place in the analysis pool for a stream's work, or `busy`.
    fn pool_place(&self) -> Result<JobSlot, WireError> {
        self.services.pool.try_reserve().ok_or_else(|| {
            WireError::new(
                ErrorCode::Busy,
                "every analysis worker is busy and the queue is full; send the chunk again",
            )
        })
    }

    fn stream_open(&mut self, id: u32, user: LoggedIn, open: StreamOpen, ctx: &mut Context<Self>) {
        // The check and the reservation are one step: the place is held
        // from here until the stream opens or fails.
        if self.streams.open.len() + self.streams.opening
            >= self.services.settings.max_streams_per_session
        {
            let err = WireError::new(ErrorCode::Busy, "too many open streams on this session");
            return self.send_error(id, &err);
        }
        self.streams.opening += 1;
        let format = open.format;
        let options = engine_options(&open.options);
        let log = self.log.clone();
        let template = audio_jobs::stream_template(
            self.services.library.clone(),
            user.user_id,
            open.template,
            log.clone(),
        );
        let pool = self.services.pool.clone();
        let prepare = async move {
            let template = template.await?;
            let slot = pool.try_reserve().ok_or_else(|| {
                WireError::new(
                    ErrorCode::Busy,
                    "every analysis worker is busy and the queue is full",
                )
            })?;
            pool.run_work(
                slot,
                log,
                "stream engine",
                move || -> Result<StreamEngine, WireError> {
                    Ok(StreamEngine {
                        decoder: PcmDecoder::new(format)?,
                        counter: Counter::new(&template, format.sample_rate, &options)?,
                        samples: Vec::new(),
                    })
                },
            )
            .await?
        };
        self.outstanding.wait(id, Pending::Plain);
        ctx.spawn(prepare.into_actor(self).map(move |engine, session, ctx| {
            session.streams.opening -= 1;
            let opened = engine.map(|engine| {
                let stream_id = format!("stream-{}", session.next_stream);
                session.next_stream += 1;
                session.streams.open.insert(
                    stream_id.clone(),
                    LiveStream {
                        engine: Some(engine),
                        sample_rate: format.sample_rate,
                        frame_bytes: format.frame_bytes(),
                    },
                );
                StreamOpened { stream_id }
            });
            session.answer(id, opened, &[], ctx);
        }));
    }

    fn stream_data(&mut self, id: u32, stream_id: String, payload: Bytes, ctx: &mut Context<Self>) {
        let max_audio_s = self.services.settings.max_audio.as_secs_f64();
        let place = self.pool_place();
        let Some(stream) = self.streams.open.get_mut(&stream_id) else {
            return self.send_error(id, &no_stream(&stream_id));
        };
        let Some(mut engine) = stream.engine.take() else {
            return self.send_error(id, &WireError::internal("stream engine in use"));
        };
        let frames_after = engine.decoder.frames_decoded()
            + ((engine.decoder.pending_bytes() + payload.len()) / stream.frame_bytes) as u64;
        if frames_after as f64 / f64::from(stream.sample_rate) > max_audio_s {
            stream.engine = Some(engine);
            let err = WireError::new(
                ErrorCode::TooLarge,
                "the stream is longer than the audio length limit",
            );
            return self.send_error(id, &err);
        }
        let slot = match place {
            Ok(slot) => slot,
            Err(busy) => {
                stream.engine = Some(engine);
                return self.send_error(id, &busy);
            }
        };
        self.outstanding.wait(id, Pending::Plain);
        let log = self.log.clone();
        let pool = self.services.pool.clone();
        let work = async move {
            pool.run_work(slot, log, "stream chunk", move || {
                engine.samples.clear();
                let result = engine
                    .decoder
                    .push(&payload, &mut engine.samples)
                    .map_err(WireError::from)
                    .and_then(|()| {
                        engine
                            .counter
                            .push(&engine.samples)
                            .map_err(WireError::from)
                    });
                (engine, result)
            })
            .await
        };
        // Wait: the next message (maybe this stream's next chunk) is read
        // only once this one is counted.
        ctx.wait(work.into_actor(self).map(move |done, session, ctx| {
            let result = match done {
                Ok((engine, new_events)) => {
                    let processed_s = engine.counter.processed_s();
                    let total = engine.counter.events().len() as u64;
                    if let Some(stream) = session.streams.open.get_mut(&stream_id) {
                        stream.engine = Some(engine);
                    }
                    new_events.map(|events| StreamProgress {
                        total,
                        new_events: event_infos(&events),
                        processed_s,
                    })
                }
                Err(err) => {
                    session.streams.open.remove(&stream_id);
                    Err(err)
                }
            };
            session.answer(id, result, &[], ctx);
        }));
    }

    fn stream_close(&mut self, id: u32, stream_id: String, ctx: &mut Context<Self>) {
        if !self.streams.open.contains_key(&stream_id) {
            return self.send_error(id, &no_stream(&stream_id));
        }
        let slot = match self.pool_place() {
            Ok(slot) => slot,
            Err(busy) => return self.send_error(id, &busy),
        };
        let Some(mut engine) = self
            .streams
            .open
            .remove(&stream_id)
            .and_then(|stream| stream.engine)
        else {
            return self.send_error(id, &no_stream(&stream_id));
        };
        self.outstanding.wait(id, Pending::Plain);
        let log = self.log.clone();
        let pool = self.services.pool.clone();
        let work = async move {
            pool.run_work(slot, log, "stream close", move || {
                let finished = engine.counter.finish();
                finished.map_err(WireError::from).map(|_| {
                    let events = engine.counter.events();
                    // Past the cap the client has had every event already, in
                    // the `new_events` of its `stream.data` answers (1.2).
                    let events_truncated = events.len() > MAX_LISTED_EVENTS;
                    StreamClosed {
                        total: events.len() as u64,
                        events: if events_truncated {
                            Vec::new()
                        } else {
                            event_infos(events)
                        },
                        duration_s: engine.counter.processed_s(),
                        events_truncated,
                    }
                })
            })
            .await
        };
        ctx.wait(work.into_actor(self).map(move |done, session, ctx| {
            session.answer(id, done.and_then(|closed| closed), &[], ctx);
        }));
    }
}

fn no_stream(stream_id: &str) -> WireError {
    WireError::new(ErrorCode::NotFound, format!("no open stream {stream_id:?}"))
}
