//! The session actor: one per connection, after the handshake.
//!
//! It reads decrypted messages through `add_stream(FramedRead<read half,
//! DecryptingCodec>)` and writes through an `actix::io::FramedWrite` over the
//! write half. Each message goes through the checks of §4 in order
//! (`Session::on_message`): the header and a known type, a shutdown under
//! way, login, role, the fields, then the request itself (the outstanding
//! limit first). Requests that wait for another actor are tracked by id in
//! `outstanding` until their one final answer; `cancel`, `bye` and the end
//! of a shutdown grace answer or drop them there, and a late result whose id
//! is gone is simply discarded, so nothing carries an id after its answer.
//!
//! Every request is logged once, when its final answer goes (or when the
//! session closes without one), with its type, outcome and duration, under
//! the target of its concern ([`request_target`]).
//!
//! An `admin.tail` subscribes to the log's [`TailHub`](crate::logging::TailHub)
//! and forwards its records as `log` pushes. The hub drops (and counts) what
//! the subscription's bounded queue cannot hold. The session's writer never
//! pushes back (tokio's socket answers "not ready" where actix waits for
//! "would block", so actix's high-water mark never pauses the session), so
//! the session measures its own backlog, bytes encoded but not yet taken by
//! the socket (`Outbox`): while it exceeds [`TAIL_BACKLOG_LIMIT`], a peer
//! that does not read gets its records dropped and counted, never the
//! server's memory grown.
//!
//! Live streams run the streaming [`Counter`] of the session's own streams
//! on tokio's blocking threads, one chunk at a time: the session waits
//! (`ctx.wait`) for each chunk, which keeps a stream's chunks in order and
//! the event loop free.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::io::{FramedWrite, WriteHandler};
use actix::prelude::*;
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;

use super::analysis::{ProgressCell, RunCount};
use super::audio_jobs::{self, blocking};
use super::auth::{Login, Logout, Resume, Signup};
use super::library::{
    AbortUpload, AudioInput, BeginUpload, ChunkUpload, DeleteSound, DeleteUser, FinishUpload,
    GetSound, ListSounds, ListUsers, LoginGrant, RenameSound, SetRole,
};
use super::listener::{
    AccountRoleChanged, Broadcast, ConnectionPermit, EndAccountSessions, Kick, ListSessions,
    Shutdown,
};
use super::metrics::StatsSource;
use super::{Services, ADMIN_SHUTDOWN_MESSAGE, MAX_SHUTDOWN_GRACE};
use crate::audio::PcmDecoder;
use crate::crypto::{SessionKeys, Side};
use crate::dsp::{Counter, Event, Options};
use crate::logging::{LogRecord, TAIL_QUEUE_LEN};
use crate::protocol::request::{Count, StreamOpen};
use crate::protocol::response::{
    BroadcastResult, CountResult, PingResult, SessionInfo, SessionList, SoundChunk, SoundList,
    SoundResult, StreamClosed, StreamOpened, StreamProgress, TailEnded, UploadBegun,
    UploadFinished, UploadReceived, UserList,
};
use crate::protocol::{
    unix_millis, ByeReason, CountOptions, Empty, Envelope, ErrorCode, ErrorResponse, EventInfo,
    LogLevel, LoginResult, OkResponse, Push, RawMessage, Request, RequestKind, Role, WireError,
};
use crate::transport::{split_codecs, EncryptingCodec, Incoming, OutgoingMessage, TransportError};

/// Bytes a session may hold for its peer, encoded but not taken by the
/// socket, before it drops `log` pushes instead of queueing more: a tail's
/// reader that falls this far behind loses records (counted in `dropped`).
pub const TAIL_BACKLOG_LIMIT: u64 = 256 * 1024;

/// How often a running count pushes its progress (§5: at least 1/s, at most 10/s).
const PROGRESS_PERIOD: Duration = Duration::from_millis(500);
/// How long a closing session waits for its last frames to leave.
const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(2);
/// Header fields never written to the log, not even in trace dumps.
const SECRET_FIELDS: [&str; 3] = ["password", "token", "resume_token"];

/// The account a session is logged in as.
#[derive(Debug, Clone)]
struct LoggedIn {
    user_id: i64,
    username: String,
    role: Role,
    token_digest: String,
}

/// A request waiting for its final answer.
#[derive(Default)]
struct Outstanding {
    /// Set to stop a running count.
    cancel: Option<Arc<AtomicBool>>,
    /// The progress pushes of a running count.
    progress_timer: Option<SpawnHandle>,
    /// A running `admin.tail`.
    tail: Option<RunningTail>,
}

/// A running `admin.tail`: the stream of its records, and what it dropped.
struct RunningTail {
    records: SpawnHandle,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

/// A live-counting stream (`stream.open` .. `stream.close`).
struct LiveStream {
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

/// One connection's actor.
pub struct Session {
    id: u64,
    peer: SocketAddr,
    services: Services,
    writer: FramedWrite<OutgoingMessage, CountingWriter<OwnedWriteHalf>, CountingEncoder>,
    outbox: Outbox,
    login: Option<LoggedIn>,
    ever_logged_in: bool,
    outstanding: HashMap<u32, Outstanding>,
    /// Every request not answered yet: its type and when it came (for the log).
    unanswered: HashMap<u32, (RequestKind, Instant)>,
    streams: HashMap<String, LiveStream>,
    next_stream: u64,
    shutting_down: bool,
    closing: bool,
    last_frame: Instant,
    connected: Instant,
    requests: u64,
    permit: ConnectionPermit,
}

impl Session {
    /// Starts the actor of a connection whose handshake is done, on the
    /// current thread, in `ctx`: a context made before the handshake, whose
    /// address the listener may already hold (messages sent to it wait in
    /// its mailbox until now).
    pub fn start(
        mut ctx: Context<Session>,
        id: u64,
        peer: SocketAddr,
        services: Services,
        stream: TcpStream,
        keys: &SessionKeys,
        permit: ConnectionPermit,
    ) -> Addr<Session> {
        let (read, write) = stream.into_split();
        let read = CountingReader {
            inner: read,
            count: Arc::clone(&services.counters.bytes_in),
        };
        let (encrypt, decrypt) = split_codecs(keys, Side::Server);
        ctx.add_stream(FramedRead::new(read, decrypt));
        let outbox = Outbox::default();
        let write = CountingWriter {
            inner: write,
            written: Arc::clone(&outbox.written),
        };
        let encrypt = CountingEncoder {
            inner: encrypt,
            encoded: Arc::clone(&outbox.encoded),
            counters: Arc::clone(&services.counters),
        };
        let writer = FramedWrite::new(write, encrypt, &mut ctx);
        ctx.run(Session {
            id,
            peer,
            services,
            writer,
            outbox,
            login: None,
            ever_logged_in: false,
            outstanding: HashMap::new(),
            unanswered: HashMap::new(),
            streams: HashMap::new(),
            next_stream: 1,
            shutting_down: false,
            closing: false,
            last_frame: Instant::now(),
            connected: Instant::now(),
            requests: 0,
            permit,
        })
    }

    /// `session=<id> peer=<ip:port> [user=<name>]`, the prefix of every log
    /// line about it.
    fn tag(&self) -> String {
        match &self.login {
            Some(login) => format!(
                "session={} peer={} user={}",
                self.id, self.peer, login.username
            ),
            None => format!("session={} peer={}", self.id, self.peer),
        }
    }

    /// Logs the end of request `id` (once): type, outcome, duration.
    fn log_outcome(&mut self, id: u32, outcome: &str) {
        if let Some((kind, started)) = self.unanswered.remove(&id) {
            log_request(&self.tag(), id, kind, outcome, started);
        }
    }

    // ----- writing -----

    /// Sends one message (answers, pushes).
    fn send<H: Serialize>(&mut self, header: &H, payload: &[u8]) {
        self.send_message(header, payload, true)
    }

    /// Sends one message; `trace` dumps it at trace level (never for `log`
    /// pushes, whose dumps would feed the tail that carries them).
    fn send_message<H: Serialize>(&mut self, header: &H, payload: &[u8], trace: bool) {
        if self.writer.closed() {
            return;
        }
        match OutgoingMessage::new(header, payload) {
            Ok(message) => {
                if trace && log::log_enabled!(target: "connection", log::Level::Trace) {
                    log::trace!(target: "connection", "{} -> {}", self.tag(), dump(header));
                }
                self.writer.write(message)
            }
            Err(err) => {
                log::error!(target: "connection", "{}: cannot encode an answer: {err}", self.tag())
            }
        }
    }

    fn send_error(&mut self, id: u32, err: &WireError) {
        self.log_outcome(id, err.code.as_str());
        self.send(&err.to_response(id), &[]);
    }

    fn send_ok<T: Serialize>(&mut self, id: u32, result: T) {
        self.log_outcome(id, "ok");
        self.send(&OkResponse::new(id, result), &[]);
    }

    /// Sends `bye` and closes once it has left (§6: before every server-side close).
    fn bye(&mut self, reason: ByeReason, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        log::info!(target: "connection", "{}: bye {reason}", self.tag());
        self.send(&Push::Bye { reason }, &[]);
        self.close(ctx);
    }

    /// Ends every outstanding request without an answer and closes.
    fn close(&mut self, ctx: &mut Context<Self>) {
        self.closing = true;
        for id in self.outstanding.keys().copied().collect::<Vec<_>>() {
            self.take_outstanding(id, ctx);
        }
        self.log_unanswered();
        self.writer.close();
        ctx.run_later(CLOSE_FLUSH_LIMIT, |_, ctx| ctx.stop());
    }

    // ----- outstanding requests -----

    /// Removes a request from `outstanding`, stopping its count and its
    /// progress pushes. `None` if it was answered already.
    fn take_outstanding(&mut self, id: u32, ctx: &mut Context<Self>) -> Option<Outstanding> {
        let entry = self.outstanding.remove(&id)?;
        if let Some(cancel) = &entry.cancel {
            cancel.store(true, Ordering::Relaxed);
        }
        if let Some(timer) = entry.progress_timer {
            ctx.cancel_future(timer);
        }
        if let Some(tail) = &entry.tail {
            // Dropping the stream drops the subscription, which leaves the hub.
            ctx.cancel_future(tail.records);
        }
        Some(entry)
    }

    /// Logs the requests that will get no answer (the session is closing).
    fn log_unanswered(&mut self) {
        for id in self.unanswered.keys().copied().collect::<Vec<_>>() {
            self.log_outcome(id, "unanswered (session closed)");
        }
    }

    /// Whether something other than a tail is still outstanding.
    fn work_outstanding(&self) -> bool {
        self.outstanding.values().any(|entry| entry.tail.is_none())
    }

    /// Answers every open tail `ok` with what it dropped.
    fn end_tails(&mut self, ctx: &mut Context<Self>) {
        let tails: Vec<u32> = self
            .outstanding
            .iter()
            .filter(|(_, entry)| entry.tail.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in tails {
            self.end_tail(id, ctx);
        }
    }

    /// Ends tail `id` with its final `ok` and `dropped`.
    fn end_tail(&mut self, id: u32, ctx: &mut Context<Self>) {
        if let Some(entry) = self.take_outstanding(id, ctx) {
            let dropped = entry
                .tail
                .map_or(0, |tail| tail.dropped.load(Ordering::Relaxed));
            self.send_ok(id, TailEnded { dropped });
        }
    }

    /// The final answer to `id`, if it is still outstanding.
    fn answer<T: Serialize>(
        &mut self,
        id: u32,
        result: Result<T, WireError>,
        payload: &[u8],
        ctx: &mut Context<Self>,
    ) {
        if self.take_outstanding(id, ctx).is_none() {
            return;
        }
        match result {
            Ok(value) => {
                self.log_outcome(id, "ok");
                self.send(&OkResponse::new(id, value), payload)
            }
            Err(err) => {
                log::debug!(target: "connection", "{}: request {id}: {err}", self.tag());
                self.send_error(id, &err)
            }
        }
        self.after_answer(ctx);
    }

    /// During a shutdown, the session ends once nothing runs (open tails
    /// are answered `ok` then: they would never end by themselves).
    fn after_answer(&mut self, ctx: &mut Context<Self>) {
        if self.shutting_down && !self.work_outstanding() {
            self.end_tails(ctx);
            self.bye(ByeReason::Shutdown, ctx);
        }
    }

    /// Tracks `id` and answers it with the result of `work`.
    fn track<T, F>(&mut self, id: u32, work: F, ctx: &mut Context<Self>)
    where
        T: Serialize + 'static,
        F: std::future::Future<Output = Result<T, WireError>> + 'static,
    {
        self.outstanding.insert(id, Outstanding::default());
        ctx.spawn(
            work.into_actor(self)
                .map(move |result, session, ctx| session.answer(id, result, &[], ctx)),
        );
    }

    /// The logged-in user's id (the checks of §4 ran before any request that needs it).
    fn user_id(&self) -> Result<i64, WireError> {
        self.login
            .as_ref()
            .map(|login| login.user_id)
            .ok_or_else(|| WireError::new(ErrorCode::Unauthenticated, "log in first"))
    }

    // ----- the checks of §4 -----

    fn on_message(&mut self, raw: RawMessage, ctx: &mut Context<Self>) {
        if log::log_enabled!(target: "connection", log::Level::Trace) {
            log::trace!(target: "connection", "{} <- {}", self.tag(), dump(&raw.header));
        }
        let envelope = match Envelope::parse(&raw.header) {
            Ok(envelope) => envelope,
            Err(err) => return self.send(&ErrorResponse::from_envelope(&err), &[]),
        };
        let Envelope { id, kind } = envelope;
        self.requests += 1;
        if self.outstanding.contains_key(&id) || self.unanswered.contains_key(&id) {
            // Not `send_error`: the log entry of `id` is the first request's.
            log_request(
                &self.tag(),
                id,
                kind,
                "bad_request (id in use)",
                Instant::now(),
            );
            let err = WireError::bad_request(format!(
                "id {id} is already used by an outstanding request"
            ));
            return self.send(&err.to_response(id), &[]);
        }
        self.unanswered.insert(id, (kind, Instant::now()));
        if self.shutting_down {
            return self.send_error(
                id,
                &WireError::new(ErrorCode::ShuttingDown, "the server is shutting down"),
            );
        }
        if kind.needs_login() && self.login.is_none() {
            return self.send_error(
                id,
                &WireError::new(ErrorCode::Unauthenticated, "log in first"),
            );
        }
        if kind.needs_admin() && self.login.as_ref().map(|l| l.role) != Some(Role::Admin) {
            return self.send_error(
                id,
                &WireError::new(ErrorCode::Forbidden, "this request is for administrators"),
            );
        }
        let request = match Request::parse(kind, &raw.header) {
            Ok(request) => request,
            Err(err) => {
                self.log_outcome(id, ErrorCode::BadRequest.as_str());
                return self.send(&ErrorResponse::from_field(id, &err), &[]);
            }
        };
        if kind != RequestKind::Cancel
            && self.outstanding.len() >= self.services.settings.max_outstanding
        {
            return self.send_error(
                id,
                &WireError::new(
                    ErrorCode::Busy,
                    "too many outstanding requests on this session",
                ),
            );
        }
        self.dispatch(id, request, raw.payload, ctx);
    }

    // ----- the requests -----

    fn dispatch(&mut self, id: u32, request: Request, payload: Bytes, ctx: &mut Context<Self>) {
        let library = self.services.library.clone();
        let auth = self.services.auth.clone();
        let peer = self.peer.ip();
        match request {
            Request::Ping => self.send_ok(
                id,
                PingResult {
                    server_time_ms: unix_millis(SystemTime::now()),
                },
            ),
            Request::Signup(signup) => self.track(
                id,
                async move {
                    ask(auth.send(Signup {
                        username: signup.username,
                        password: signup.password,
                    }))
                    .await
                    .map(|()| Empty {})
                },
                ctx,
            ),
            Request::Login(login) => {
                let attempt = ask(auth.send(Login {
                    username: login.username,
                    password: login.password,
                    peer,
                    origin: self.tag(),
                }));
                self.track_login(id, attempt, ctx)
            }
            Request::Resume(resume) => {
                let attempt = ask(auth.send(Resume {
                    token: resume.token,
                    peer,
                    origin: self.tag(),
                }));
                self.track_login(id, attempt, ctx)
            }
            Request::Logout => {
                if let Some(login) = self.login.take() {
                    log::info!(target: "auth", "{}: {} logged out", self.tag(), login.username);
                    self.track(
                        id,
                        async move {
                            ask(auth.send(Logout {
                                token_digest: login.token_digest,
                            }))
                            .await
                            .map(|()| Empty {})
                        },
                        ctx,
                    )
                } else {
                    self.send_error(
                        id,
                        &WireError::new(ErrorCode::Unauthenticated, "log in first"),
                    );
                }
            }
            Request::UploadBegin(begin) => {
                let owner = self.user_id();
                let max = self.services.settings.max_upload_size;
                self.track(
                    id,
                    async move {
                        if begin.size > max {
                            return Err(WireError::new(
                                ErrorCode::TooLarge,
                                format!("uploads may have at most {max} bytes"),
                            ));
                        }
                        let upload_id = ask(library.send(BeginUpload {
                            owner: owner?,
                            size: begin.size,
                            sha256: begin.sha256,
                        }))
                        .await?;
                        Ok(UploadBegun { upload_id })
                    },
                    ctx,
                )
            }
            Request::UploadChunk(chunk) => {
                let owner = self.user_id();
                self.track(
                    id,
                    async move {
                        let received = ask(library.send(ChunkUpload {
                            owner: owner?,
                            upload_id: chunk.upload_id,
                            offset: chunk.offset,
                            bytes: payload,
                        }))
                        .await?;
                        Ok(UploadReceived { received })
                    },
                    ctx,
                )
            }
            Request::UploadFinish(finish) => {
                let owner = self.user_id();
                self.track(
                    id,
                    async move {
                        let size = ask(library.send(FinishUpload {
                            owner: owner?,
                            upload_id: finish.upload_id.clone(),
                        }))
                        .await?;
                        Ok(UploadFinished {
                            upload_id: finish.upload_id,
                            size,
                        })
                    },
                    ctx,
                )
            }
            Request::UploadAbort(abort) => {
                let owner = self.user_id();
                self.track(
                    id,
                    async move {
                        ask(library.send(AbortUpload {
                            owner: owner?,
                            upload_id: abort.upload_id,
                        }))
                        .await
                        .map(|()| Empty {})
                    },
                    ctx,
                )
            }
            Request::SoundList => {
                let owner = self.user_id();
                self.track(
                    id,
                    async move {
                        let sounds = ask(library.send(ListSounds { owner: owner? })).await?;
                        Ok(SoundList { sounds })
                    },
                    ctx,
                )
            }
            Request::SoundSave(save) => {
                let owner = self.user_id();
                let input = audio_input(save.upload_id, payload, "upload_id");
                self.track(
                    id,
                    async move {
                        let sound = audio_jobs::save_sound(
                            library,
                            owner?,
                            save.name,
                            input?,
                            save.overwrite,
                        )
                        .await?;
                        Ok(SoundResult { sound })
                    },
                    ctx,
                )
            }
            Request::SoundGet(get) => {
                let owner = self.user_id();
                let offset = get.offset;
                self.outstanding.insert(id, Outstanding::default());
                let work = async move {
                    ask(library.send(GetSound {
                        owner: owner?,
                        name: get.name,
                        offset,
                    }))
                    .await
                };
                ctx.spawn(
                    work.into_actor(self)
                        .map(move |result, session, ctx| match result {
                            Ok((sound, bytes)) => {
                                session.answer(id, Ok(SoundChunk { sound, offset }), &bytes, ctx)
                            }
                            Err(err) => session.answer::<Empty>(id, Err(err), &[], ctx),
                        }),
                );
            }
            Request::SoundRename(rename) => {
                let owner = self.user_id();
                self.track(
                    id,
                    async move {
                        let sound = ask(library.send(RenameSound {
                            owner: owner?,
                            name: rename.name,
                            new_name: rename.new_name,
                        }))
                        .await?;
                        Ok(SoundResult { sound })
                    },
                    ctx,
                )
            }
            Request::SoundDelete(delete) => {
                let owner = self.user_id();
                self.track(
                    id,
                    async move {
                        ask(library.send(DeleteSound {
                            owner: owner?,
                            name: delete.name,
                        }))
                        .await
                        .map(|()| Empty {})
                    },
                    ctx,
                )
            }
            Request::Count(count) => self.count(id, count, payload, ctx),
            Request::Cancel(cancel) => {
                let target = self.outstanding.get(&cancel.target);
                let running_count = target.is_some_and(|entry| entry.cancel.is_some());
                let running_tail = target.is_some_and(|entry| entry.tail.is_some());
                if running_tail {
                    self.send_ok(id, Empty {});
                    self.end_tail(cancel.target, ctx);
                    self.after_answer(ctx);
                } else if running_count {
                    self.send_ok(id, Empty {});
                    self.answer::<Empty>(
                        cancel.target,
                        Err(WireError::new(
                            ErrorCode::Cancelled,
                            "cancelled at the client's request",
                        )),
                        &[],
                        ctx,
                    );
                } else {
                    self.send_error(
                        id,
                        &WireError::new(
                            ErrorCode::NotFound,
                            format!("no running count or tail has id {}", cancel.target),
                        ),
                    );
                }
            }
            Request::StreamOpen(open) => self.stream_open(id, open, ctx),
            Request::StreamData(data) => self.stream_data(id, data.stream_id, payload, ctx),
            Request::StreamClose(close) => self.stream_close(id, close.stream_id, ctx),
            Request::AdminSessions => {
                let list = self.permit.listener().send(ListSessions);
                self.track(
                    id,
                    async move {
                        let sessions = list.await.map_err(listener_gone)?;
                        Ok(SessionList { sessions })
                    },
                    ctx,
                )
            }
            Request::AdminStats => {
                let source = self.stats_source();
                self.track(id, async move { source.collect().await }, ctx)
            }
            Request::AdminKick(kick) => {
                log::info!(target: "admin", "{}: kicks session {}", self.tag(), kick.session_id);
                let kicked = self.permit.listener().send(Kick {
                    session_id: kick.session_id,
                });
                self.track(
                    id,
                    async move {
                        if kicked.await.map_err(listener_gone)? {
                            Ok(Empty {})
                        } else {
                            Err(WireError::new(
                                ErrorCode::NotFound,
                                format!("no session has id {}", kick.session_id),
                            ))
                        }
                    },
                    ctx,
                )
            }
            Request::AdminUsers => self.track(
                id,
                async move {
                    let users = ask(library.send(ListUsers {})).await?;
                    Ok(UserList { users })
                },
                ctx,
            ),
            Request::AdminUserDelete(delete) => {
                log::info!(target: "admin", "{}: deletes account {}", self.tag(), delete.username);
                let listener = self.permit.listener().clone();
                self.track(
                    id,
                    async move {
                        let user_id = ask(library.send(DeleteUser {
                            username: delete.username,
                        }))
                        .await?;
                        let ended = listener
                            .send(EndAccountSessions { user_id })
                            .await
                            .map_err(listener_gone)?;
                        if ended > 0 {
                            log::info!(target: "admin", "ended {ended} session(s) of the deleted account");
                        }
                        Ok(Empty {})
                    },
                    ctx,
                )
            }
            Request::AdminUserRole(change) => {
                log::info!(target: "admin", "{}: sets the role of {} to {}", self.tag(), change.username, change.role);
                let listener = self.permit.listener().clone();
                self.track(
                    id,
                    async move {
                        let role = change.role;
                        let user_id = ask(library.send(SetRole {
                            username: change.username,
                            role,
                        }))
                        .await?;
                        listener
                            .send(AccountRoleChanged { user_id, role })
                            .await
                            .map_err(listener_gone)?;
                        Ok(Empty {})
                    },
                    ctx,
                )
            }
            Request::AdminBroadcast(broadcast) => {
                log::info!(target: "admin", "{}: broadcasts a {} notice", self.tag(), broadcast.priority);
                let notice = Push::notice(broadcast.message, broadcast.priority, SystemTime::now());
                let delivered = self.permit.listener().send(Broadcast { notice });
                self.track(
                    id,
                    async move {
                        let delivered = delivered.await.map_err(listener_gone)?;
                        Ok(BroadcastResult { delivered })
                    },
                    ctx,
                )
            }
            Request::AdminTail(tail) => self.start_tail(id, tail.level, ctx),
            Request::AdminShutdown(shutdown) => {
                let grace = shutdown.grace().min(MAX_SHUTDOWN_GRACE);
                log::info!(target: "admin", "{}: shuts the server down, grace {grace:?}", self.tag());
                self.send_ok(id, Empty {});
                self.permit.listener().do_send(Shutdown {
                    message: ADMIN_SHUTDOWN_MESSAGE.to_owned(),
                    grace,
                });
            }
        }
    }

    /// Where `admin.stats` reads its figures.
    fn stats_source(&self) -> StatsSource {
        StatsSource {
            listener: self.permit.listener().clone(),
            counters: Arc::clone(&self.services.counters),
            pool: self.services.pool.clone(),
        }
    }

    /// `admin.tail`: subscribes to the log at `level` and forwards each
    /// record as a `log` push with the request's id, until `cancel`.
    fn start_tail(&mut self, id: u32, level: LogLevel, ctx: &mut Context<Self>) {
        // Logged before subscribing and queued first: the tail opens with
        // its own start, never with a record another session logged in
        // between (and never gets its start twice).
        let start = format!(
            "{}: tails the log at level {level} (request {id})",
            self.tag()
        );
        log::info!(target: "admin", "{start}");
        let first = LogRecord {
            time: std::time::SystemTime::now(),
            level: log::Level::Info,
            target: "admin".to_owned(),
            message: start,
        };
        let subscription =
            self.services
                .hub
                .subscribe_after(level.to_log(), TAIL_QUEUE_LEN, Some(first));
        let dropped = subscription.dropped_counter();
        let records = futures::stream::unfold(subscription, move |mut subscription| async move {
            let record = subscription.next().await?;
            Some((TailItem { id, record }, subscription))
        });
        let records = ctx.add_stream(records);
        self.outstanding.insert(
            id,
            Outstanding {
                cancel: None,
                progress_timer: None,
                tail: Some(RunningTail { records, dropped }),
            },
        );
    }

    /// `login` and `resume`: on success the session is logged in as the
    /// grant says (replacing any login); on failure the current login stays.
    fn track_login<F>(&mut self, id: u32, attempt: F, ctx: &mut Context<Self>)
    where
        F: std::future::Future<Output = Result<LoginGrant, WireError>> + 'static,
    {
        self.outstanding.insert(id, Outstanding::default());
        ctx.spawn(attempt.into_actor(self).map(move |result, session, ctx| {
            if !session.outstanding.contains_key(&id) {
                return;
            }
            let answer = result.map(|grant| {
                session.login = Some(LoggedIn {
                    user_id: grant.user_id,
                    username: grant.username.clone(),
                    role: grant.role,
                    token_digest: grant.token_digest,
                });
                session.ever_logged_in = true;
                session
                    .services
                    .counters
                    .logins
                    .fetch_add(1, Ordering::Relaxed);
                LoginResult {
                    username: grant.username,
                    role: grant.role,
                    sounds: grant.sounds,
                    resume_token: grant.token,
                    resume_ttl_s: session.services.settings.resume_ttl.as_secs(),
                }
            });
            session.answer(id, answer, &[], ctx);
        }));
    }

    /// `count`: reserve a place in the pool (else `busy`), prepare the audio
    /// (the library checks it before consuming uploads), run it with
    /// progress pushes.
    fn count(&mut self, id: u32, count: Count, payload: Bytes, ctx: &mut Context<Self>) {
        let received = Instant::now();
        let owner = match self.user_id() {
            Ok(owner) => owner,
            Err(err) => return self.send_error(id, &err),
        };
        let recording = match audio_input(count.recording_upload, payload, "recording_upload") {
            Ok(recording) => recording,
            Err(err) => return self.send_error(id, &err),
        };
        let Some(slot) = self.services.pool.try_reserve() else {
            return self.send_error(
                id,
                &WireError::new(
                    ErrorCode::Busy,
                    "every analysis worker is busy and the queue is full",
                ),
            );
        };
        let cancel = Arc::new(AtomicBool::new(false));
        self.outstanding.insert(
            id,
            Outstanding {
                cancel: Some(Arc::clone(&cancel)),
                progress_timer: None,
                tail: None,
            },
        );
        let prepare = audio_jobs::prepare_count(
            self.services.library.clone(),
            owner,
            count.template,
            recording,
            engine_options(&count.options),
        );
        let origin = self.tag();
        ctx.spawn(prepare.into_actor(self).map(move |prepared, session, ctx| {
            let job = match prepared {
                Ok(job) => job,
                Err(err) => return session.answer::<Empty>(id, Err(err), &[], ctx),
            };
            if !session.outstanding.contains_key(&id) {
                return; // cancelled meanwhile; dropping the job removes the recording
            }
            let total_s = job.total_s;
            let progress = Arc::new(ProgressCell::default());
            let seen = Arc::clone(&progress);
            // A first push at once: the client learns the job runs and how
            // long the recording is, whatever the job's speed.
            session.send(
                &Push::Progress {
                    id,
                    done_s: 0.0,
                    total_s,
                },
                &[],
            );
            let timer = ctx.run_interval(PROGRESS_PERIOD, move |session, _| {
                let done_s = seen.done_s().min(total_s);
                session.send(
                    &Push::Progress {
                        id,
                        done_s,
                        total_s,
                    },
                    &[],
                );
            });
            if let Some(entry) = session.outstanding.get_mut(&id) {
                entry.progress_timer = Some(timer);
            }
            let pool = session.services.pool.clone();
            let run = async move {
                pool.run(RunCount {
                    job,
                    slot,
                    progress,
                    cancel,
                    origin,
                })
                .await
            };
            ctx.spawn(run.into_actor(session).map(move |outcome, session, ctx| {
                let result = outcome.map(|outcome| CountResult {
                    count: outcome.events.len() as u64,
                    events: event_infos(&outcome.events),
                    duration_s: outcome.duration_s,
                    elapsed_ms: u64::try_from(received.elapsed().as_millis()).unwrap_or(u64::MAX),
                });
                session.answer(id, result, &[], ctx);
            }));
        }));
    }

    fn stream_open(&mut self, id: u32, open: StreamOpen, ctx: &mut Context<Self>) {
        let owner = match self.user_id() {
            Ok(owner) => owner,
            Err(err) => return self.send_error(id, &err),
        };
        if self.streams.len() >= self.services.settings.max_streams_per_session {
            return self.send_error(
                id,
                &WireError::new(ErrorCode::Busy, "too many open streams on this session"),
            );
        }
        let format = open.format;
        let options = engine_options(&open.options);
        let template =
            audio_jobs::stream_template(self.services.library.clone(), owner, open.template);
        let prepare = async move {
            let template = template.await?;
            blocking(move || -> Result<StreamEngine, WireError> {
                Ok(StreamEngine {
                    decoder: PcmDecoder::new(format)?,
                    counter: Counter::new(&template, format.sample_rate, &options)?,
                    samples: Vec::new(),
                })
            })
            .await?
        };
        self.outstanding.insert(id, Outstanding::default());
        ctx.spawn(prepare.into_actor(self).map(move |engine, session, ctx| {
            let opened = engine.map(|engine| {
                let stream_id = format!("stream-{}", session.next_stream);
                session.next_stream += 1;
                session.streams.insert(
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
        let Some(stream) = self.streams.get_mut(&stream_id) else {
            return self.send_error(id, &no_stream(&stream_id));
        };
        let Some(mut engine) = stream.engine.take() else {
            return self.send_error(id, &WireError::internal("stream engine in use"));
        };
        let frames_after = engine.decoder.frames_decoded()
            + ((engine.decoder.pending_bytes() + payload.len()) / stream.frame_bytes) as u64;
        if frames_after as f64 / f64::from(stream.sample_rate) > max_audio_s {
            stream.engine = Some(engine);
            return self.send_error(
                id,
                &WireError::new(
                    ErrorCode::TooLarge,
                    "the stream is longer than the audio length limit",
                ),
            );
        }
        self.outstanding.insert(id, Outstanding::default());
        let work = blocking(move || {
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
        });
        // Wait: the next message (maybe this stream's next chunk) is read
        // only once this one is counted.
        ctx.wait(work.into_actor(self).map(move |done, session, ctx| {
            let result = match done {
                Ok((engine, new_events)) => {
                    let processed_s = engine.counter.processed_s();
                    let total = engine.counter.events().len() as u64;
                    if let Some(stream) = session.streams.get_mut(&stream_id) {
                        stream.engine = Some(engine);
                    }
                    new_events.map(|events| StreamProgress {
                        total,
                        new_events: event_infos(&events),
                        processed_s,
                    })
                }
                Err(err) => {
                    session.streams.remove(&stream_id);
                    Err(err)
                }
            };
            session.answer(id, result, &[], ctx);
        }));
    }

    fn stream_close(&mut self, id: u32, stream_id: String, ctx: &mut Context<Self>) {
        let Some(mut engine) = self
            .streams
            .remove(&stream_id)
            .and_then(|stream| stream.engine)
        else {
            return self.send_error(id, &no_stream(&stream_id));
        };
        self.outstanding.insert(id, Outstanding::default());
        let work = blocking(move || {
            let finished = engine.counter.finish();
            finished.map_err(WireError::from).map(|_| StreamClosed {
                total: engine.counter.events().len() as u64,
                events: event_infos(engine.counter.events()),
                duration_s: engine.counter.processed_s(),
            })
        });
        ctx.wait(work.into_actor(self).map(move |done, session, ctx| {
            session.answer(id, done.and_then(|closed| closed), &[], ctx);
        }));
    }
}

/// Waits for an actor's answer; a lost mailbox is an internal error.
async fn ask<T>(
    request: impl std::future::Future<Output = Result<Result<T, WireError>, MailboxError>>,
) -> Result<T, WireError> {
    request
        .await
        .map_err(|err| WireError::internal(format!("actor unreachable: {err}")))?
}

/// Audio given either as an upload or as the payload, exactly one of them.
fn audio_input(
    upload: Option<String>,
    payload: Bytes,
    field: &str,
) -> Result<AudioInput, WireError> {
    match (upload, payload.is_empty()) {
        (Some(id), true) => Ok(AudioInput::Upload(id)),
        (None, false) => Ok(AudioInput::Inline(payload)),
        (Some(_), false) => Err(WireError::bad_request(format!(
            "give either `{field}` or a payload, not both"
        ))),
        (None, true) => Err(WireError::bad_request(format!(
            "no audio: give `{field}` or the WAV file as the payload"
        ))),
    }
}

fn listener_gone(err: MailboxError) -> WireError {
    WireError::internal(format!("listener unreachable: {err}"))
}

fn no_stream(stream_id: &str) -> WireError {
    WireError::new(ErrorCode::NotFound, format!("no open stream {stream_id:?}"))
}

fn engine_options(options: &CountOptions) -> Options {
    Options {
        threshold: options.threshold.map(|t| t as f32),
        min_gap_s: options.min_gap_s,
    }
}

fn event_infos(events: &[Event]) -> Vec<EventInfo> {
    events
        .iter()
        .map(|event| EventInfo {
            start_s: event.start_s,
            score: f64::from(event.score),
        })
        .collect()
}

/// A header for the trace log, secrets redacted, as hex of its JSON (the
/// `--debug` dumps).
fn dump<H: Serialize>(header: &H) -> String {
    let mut value = serde_json::to_value(header).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        redact(map);
    }
    hex::encode(value.to_string())
}

fn redact(map: &mut Map<String, Value>) {
    for field in SECRET_FIELDS {
        if let Some(value) = map.get_mut(field) {
            *value = Value::String("<redacted>".into());
        }
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        log::info!(target: "connection", "{}: session started", self.tag());
        let settings = Arc::clone(&self.services.settings);
        ctx.run_later(settings.login_timeout, |session, ctx| {
            if !session.ever_logged_in {
                session.bye(ByeReason::LoginTimeout, ctx);
            }
        });
        self.arm_idle_timer(settings.idle_timeout, ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        for entry in self.outstanding.values() {
            if let Some(cancel) = &entry.cancel {
                cancel.store(true, Ordering::Relaxed);
            }
        }
        self.log_unanswered();
        log::info!(target: "connection", "{}: session ended", self.tag());
    }
}

impl Session {
    /// Closes the session `idle` after its last frame.
    fn arm_idle_timer(&mut self, idle: Duration, ctx: &mut Context<Self>) {
        let due = (self.last_frame + idle).saturating_duration_since(Instant::now());
        ctx.run_later(due, move |session, ctx| {
            if session.last_frame.elapsed() >= idle {
                session.bye(ByeReason::IdleTimeout, ctx);
            } else {
                session.arm_idle_timer(idle, ctx);
            }
        });
    }
}

impl StreamHandler<Result<Incoming, TransportError>> for Session {
    fn handle(&mut self, item: Result<Incoming, TransportError>, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.last_frame = Instant::now();
        match item {
            Ok(Incoming::Message(raw)) => self.on_message(raw, ctx),
            Ok(Incoming::Unreadable(err)) => self.send(&ErrorResponse::unreadable(&err), &[]),
            Err(TransportError::BadFrameLength { len }) => {
                log::info!(target: "connection", "{}: frame length {len} out of bounds", self.tag());
                self.bye(ByeReason::ProtocolError, ctx);
            }
            Err(err) => {
                log::info!(target: "connection", "{}: closing: {err}", self.tag());
                self.closing = true;
                ctx.stop();
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        if !self.closing {
            log::debug!(target: "connection", "{}: peer closed the connection", self.tag());
            ctx.stop();
        }
    }
}

impl WriteHandler<TransportError> for Session {
    fn error(&mut self, err: TransportError, _: &mut Context<Self>) -> Running {
        log::info!(target: "connection", "{}: write failed: {err}", self.tag());
        Running::Stop
    }
}

/// Describes the session for `admin.sessions`.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "SessionInfo")]
pub struct Describe;

impl Handler<Describe> for Session {
    type Result = MessageResult<Describe>;

    fn handle(&mut self, _: Describe, _: &mut Context<Self>) -> Self::Result {
        MessageResult(SessionInfo {
            session_id: self.id,
            username: self.login.as_ref().map(|login| login.username.clone()),
            peer: self.peer.to_string(),
            connected_s: self.connected.elapsed().as_secs(),
            idle_s: self.last_frame.elapsed().as_secs(),
            requests: self.requests,
        })
    }
}

/// `admin.kick`: `bye kicked`, then close; whether the session was open
/// (not closing already).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "bool")]
pub struct KickSession;

impl Handler<KickSession> for Session {
    type Result = bool;

    fn handle(&mut self, _: KickSession, ctx: &mut Context<Self>) -> bool {
        if self.closing {
            return false;
        }
        self.bye(ByeReason::Kicked, ctx);
        true
    }
}

/// An `admin.broadcast` notice: sent if the session is logged in (and not
/// closing); whether it was.
#[derive(Debug, Clone, Message)]
#[rtype(result = "bool")]
pub struct DeliverNotice(pub Push);

impl Handler<DeliverNotice> for Session {
    type Result = bool;

    fn handle(&mut self, notice: DeliverNotice, _: &mut Context<Self>) -> bool {
        if self.login.is_none() || self.closing || self.writer.closed() {
            return false;
        }
        self.send(&notice.0, &[]);
        true
    }
}

/// An account was deleted: a session logged in as it ends with `bye
/// kicked`; whether this one did.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "bool")]
pub struct AccountDeleted {
    /// The deleted account's id.
    pub user_id: i64,
}

impl Handler<AccountDeleted> for Session {
    type Result = bool;

    fn handle(&mut self, deleted: AccountDeleted, ctx: &mut Context<Self>) -> bool {
        let mine = self
            .login
            .as_ref()
            .is_some_and(|login| login.user_id == deleted.user_id);
        if mine && !self.closing {
            log::info!(target: "admin", "{}: the account was deleted", self.tag());
            self.bye(ByeReason::Kicked, ctx);
        }
        mine
    }
}

/// An account's role changed: a session logged in as it takes the new role.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct AccountRole {
    /// The account's id.
    pub user_id: i64,
    /// The new role.
    pub role: Role,
}

impl Handler<AccountRole> for Session {
    type Result = ();

    fn handle(&mut self, changed: AccountRole, _: &mut Context<Self>) {
        if let Some(login) = self.login.as_mut() {
            if login.user_id == changed.user_id {
                login.role = changed.role;
            }
        }
    }
}

/// One record for the running tail `id`.
struct TailItem {
    id: u32,
    record: LogRecord,
}

impl StreamHandler<TailItem> for Session {
    fn handle(&mut self, item: TailItem, _: &mut Context<Self>) {
        if self.closing || !self.outstanding.contains_key(&item.id) {
            return;
        }
        if self.outbox.backlog() > TAIL_BACKLOG_LIMIT {
            // The peer is not reading: drop the record, as a full queue would.
            if let Some(tail) = self
                .outstanding
                .get(&item.id)
                .and_then(|outstanding| outstanding.tail.as_ref())
            {
                tail.dropped.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        let record = item.record;
        let push = Push::log(
            item.id,
            record.time,
            record.level.into(),
            record.target,
            record.message,
        );
        self.send_message(&push, &[], false);
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        // A subscription never ends while subscribed: nothing to do (the
        // default would stop the session).
    }
}

/// The log target of a request's line: its concern.
pub fn request_target(kind: RequestKind) -> &'static str {
    use RequestKind as K;
    match kind {
        K::Signup | K::Login | K::Resume | K::Logout => "auth",
        K::Ping => "connection",
        K::UploadBegin
        | K::UploadChunk
        | K::UploadFinish
        | K::UploadAbort
        | K::SoundList
        | K::SoundSave
        | K::SoundGet
        | K::SoundRename
        | K::SoundDelete => "library",
        K::Count | K::Cancel | K::StreamOpen | K::StreamData | K::StreamClose => "analysis",
        K::AdminSessions
        | K::AdminKick
        | K::AdminUsers
        | K::AdminUserDelete
        | K::AdminUserRole
        | K::AdminBroadcast
        | K::AdminStats
        | K::AdminTail
        | K::AdminShutdown => "admin",
    }
}

/// The requests that come many times a second in normal use: logged at
/// `debug`, the others at `info`.
pub fn is_frequent(kind: RequestKind) -> bool {
    matches!(
        kind,
        RequestKind::Ping
            | RequestKind::UploadChunk
            | RequestKind::SoundGet
            | RequestKind::StreamData
    )
}

/// `<tag>: request <id> <type> -> <outcome> in <ms> ms`, the one line of a request.
fn log_request(tag: &str, id: u32, kind: RequestKind, outcome: &str, started: Instant) {
    let level = if is_frequent(kind) {
        log::Level::Debug
    } else {
        log::Level::Info
    };
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    log::log!(target: request_target(kind), level, "{tag}: request {id} {kind} -> {outcome} in {ms:.1} ms");
}

/// What a session has sent its peer: bytes encoded into the writer's buffer
/// and bytes the socket took from it. The difference is the backlog held in
/// memory for a peer that reads slowly.
#[derive(Debug, Default)]
struct Outbox {
    encoded: Arc<std::sync::atomic::AtomicU64>,
    written: Arc<std::sync::atomic::AtomicU64>,
}

impl Outbox {
    /// Bytes encoded but not yet written to the socket.
    fn backlog(&self) -> u64 {
        self.encoded
            .load(Ordering::Relaxed)
            .saturating_sub(self.written.load(Ordering::Relaxed))
    }
}

/// The session's encoder, counting the bytes it produces (exactly what the
/// writer will have to write): for the session's backlog and for the
/// server's `bytes_out`.
struct CountingEncoder {
    inner: EncryptingCodec,
    encoded: Arc<std::sync::atomic::AtomicU64>,
    counters: Arc<super::ServerCounters>,
}

impl tokio_util::codec::Encoder<OutgoingMessage> for CountingEncoder {
    type Error = TransportError;

    fn encode(
        &mut self,
        message: OutgoingMessage,
        dst: &mut bytes::BytesMut,
    ) -> Result<(), TransportError> {
        let before = dst.len();
        self.inner.encode(message, dst)?;
        let encoded = (dst.len() - before) as u64;
        self.encoded.fetch_add(encoded, Ordering::Relaxed);
        self.counters
            .bytes_out
            .fetch_add(encoded, Ordering::Relaxed);
        Ok(())
    }
}

/// The write half of a connection, counting the bytes the socket takes.
struct CountingWriter<W> {
    inner: W,
    written: Arc<std::sync::atomic::AtomicU64>,
}

impl<W: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for CountingWriter<W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let poll = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(written)) = &poll {
            self.written.fetch_add(*written as u64, Ordering::Relaxed);
        }
        poll
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The read half of a connection, counting the bytes it reads (`bytes_in`).
struct CountingReader<R> {
    inner: R,
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for CountingReader<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        self.count.fetch_add(read as u64, Ordering::Relaxed);
        poll
    }
}

/// The server is stopping: push `shutdown`, refuse new requests, give the
/// running ones `grace`, then `bye`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ShutdownNotice {
    /// The text of the push.
    pub message: String,
    /// How long running requests may take.
    pub grace: Duration,
}

impl Handler<ShutdownNotice> for Session {
    type Result = ();

    fn handle(&mut self, notice: ShutdownNotice, ctx: &mut Context<Self>) {
        if self.closing || self.shutting_down {
            return;
        }
        self.shutting_down = true;
        self.send(
            &Push::Shutdown {
                message: notice.message,
                grace_s: notice.grace.as_secs_f64(),
            },
            &[],
        );
        if !self.work_outstanding() {
            self.end_tails(ctx);
            return self.bye(ByeReason::Shutdown, ctx);
        }
        ctx.run_later(notice.grace, |session, ctx| {
            let late = WireError::new(
                ErrorCode::ShuttingDown,
                "the server stopped before this request finished",
            );
            session.end_tails(ctx);
            for id in session.outstanding.keys().copied().collect::<Vec<_>>() {
                if session.take_outstanding(id, ctx).is_some() {
                    session.send_error(id, &late);
                }
            }
            session.bye(ByeReason::Shutdown, ctx);
        });
    }
}
