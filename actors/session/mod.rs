//! The session actor: one per connection, after the handshake.
//!
//! It reads decrypted messages through `add_stream(FramedRead<read half,
//! DecryptingCodec>)` and writes through an `actix::io::FramedWrite` over the
//! write half. Each message goes through the checks of §4 in order
//! (`Session::on_message`): the header and a known type, a shutdown under
//! way, login, role, the fields, then the request itself (the outstanding
//! limit first), which `Session::dispatch` hands to its group:
//!
//! - `account.rs`: `ping`, `signup`, `login`, `resume`, `logout`;
//! - `library.rs`: `upload.*` and `sound.*`, one message to the library;
//! - `count.rs`: `count` and `cancel`;
//! - `stream.rs`: live counting, `stream.*`;
//! - `admin.rs`: `admin.*`, the log tail among them.
//!
//! Requests that wait for another actor are tracked by id in
//! `Outstanding` (`outstanding.rs`) until their one final answer; `cancel`, `bye` and the end
//! of a shutdown grace answer or drop them there, and a late result whose id
//! is gone is simply discarded, so nothing carries an id after its answer.
//!
//! Every request is logged once, when its final answer goes (or when the
//! session closes without one), with its type, outcome and duration, under
//! the target of its concern ([`log_lines`]).

mod account;
mod admin;
mod control;
mod count;
mod library;
pub mod log_lines;
mod outstanding;
mod stream;
mod timers;

pub use admin::TAIL_BACKLOG_LIMIT;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::io::{FramedWrite, WriteHandler};
use actix::prelude::*;
use bytes::Bytes;
use serde::Serialize;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;

use super::audio_jobs::ask;
use super::hub::ConnectionPermit;
use super::services::Services;
use crate::crypto::{SessionKeys, Side};
use crate::protocol::{
    Access, ByeReason, Envelope, ErrorCode, ErrorResponse, OkResponse, Push, RawMessage, Request,
    RequestKind, Role, UserRequest, WireError, MAX_FRAME_LEN,
};
use crate::transport::{
    split_codecs, CountingEncoder, CountingReader, CountingWriter, Incoming, Outbox,
    OutgoingMessage, TransportError,
};
use log_lines::{dump, log_request, SessionLog};
use outstanding::{Outstanding, Pending};
use stream::Streams;
use timers::IdleDeadline;

/// How long a closing session waits for its last frames to leave.
const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// Bytes of answers a session lets wait for its peer (encoded and not yet
/// taken by the socket, plus those promised to requests under way, see
/// `answer_promise`) before it stops reading the peer's requests
/// (PROTOCOL.md §7, 1.2: 2 MiB). A peer that pipelines requests without
/// reading the answers is then held by TCP flow control, and the session's
/// memory stays bounded (docs/PROTOCOL.md, "Memory bound").
pub const ANSWER_BACKLOG_LIMIT: u64 = 2 * 1024 * 1024;

/// The account a session is logged in as: what every request of a user
/// is handed.
#[derive(Debug, Clone)]
struct LoggedIn {
    user_id: i64,
    username: String,
    role: Role,
    /// The login its resume tokens share (`logout` revokes them all).
    login_id: i64,
}

/// One connection's actor.
pub struct Session {
    id: u64,
    peer: SocketAddr,
    /// The context of its log lines.
    log: SessionLog,
    services: Services,
    writer: FramedWrite<OutgoingMessage, CountingWriter<OwnedWriteHalf>, CountingEncoder>,
    outbox: Outbox,
    login: Option<LoggedIn>,
    ever_logged_in: bool,
    outstanding: Outstanding,
    streams: Streams,
    next_stream: u64,
    shutting_down: bool,
    closing: bool,
    idle: IdleDeadline,
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
        let read = CountingReader::new(read, Arc::clone(&services.counters.bytes_in));
        let (encrypt, decrypt) = split_codecs(keys, Side::Server);
        let outbox = Outbox::new(ANSWER_BACKLOG_LIMIT);
        ctx.add_stream(outbox.gate(FramedRead::new(read, decrypt)));
        let encrypt = outbox.encoder(encrypt, Arc::clone(&services.counters.bytes_out));
        let writer = FramedWrite::new(outbox.writer(write), encrypt, &mut ctx);
        let idle = IdleDeadline::new(services.settings.idle_timeout);
        ctx.run(Session {
            id,
            peer,
            log: SessionLog::new(id, peer),
            services,
            writer,
            outbox,
            login: None,
            ever_logged_in: false,
            outstanding: Outstanding::default(),
            streams: Streams::default(),
            next_stream: 1,
            shutting_down: false,
            closing: false,
            idle,
            connected: Instant::now(),
            requests: 0,
            permit,
        })
    }

    /// Logs the end of request `id` (once): type, outcome, duration; and
    /// releases what its answer had been promised in the outbox. A
    /// refusal before login (`unauthenticated`, `rate_limited`...) is a
    /// `debug` line: anyone can send those by the thousand.
    fn log_outcome(&mut self, id: u32, outcome: &str) {
        if let Some((kind, started)) = self.outstanding.answered(id) {
            self.outbox.release(answer_promise(kind));
            let quiet = self.login.is_none() && outcome != "ok";
            log_request(&self.log, id, kind, outcome, started, quiet);
        }
    }

    /// The level of the session's own lines (start, end, bye): `info` once
    /// it has logged in, `debug` before (a flood of connections that never
    /// log in writes nothing at `info` but the listener's summary).
    fn lifecycle_level(&self) -> log::Level {
        if self.ever_logged_in {
            log::Level::Info
        } else {
            log::Level::Debug
        }
    }

    // ----- writing -----

    /// Sends one message (answers, pushes).
    fn send<H: Serialize>(&mut self, header: &H, payload: &[u8]) {
        self.send_message(header, payload, true)
    }

    /// Sends one message; `trace` dumps it at trace level (never for `log`
    /// pushes, whose dumps would feed the tail that carries them). A message
    /// that cannot be encoded is logged and not sent: only pushes and
    /// id-less answers come here, whose headers are small and fixed in
    /// shape; final answers go through [`Session::send_answer`].
    fn send_message<H: Serialize>(&mut self, header: &H, payload: &[u8], trace: bool) {
        match OutgoingMessage::new(header, payload) {
            Ok(message) => self.write(message, header, trace),
            Err(err) => {
                log::error!(target: "connection", "{}: cannot encode a message: {err}", self.log)
            }
        }
    }

    /// Hands an encoded message to the writer.
    fn write<H: Serialize>(&mut self, message: OutgoingMessage, header: &H, trace: bool) {
        if self.writer.closed() {
            return;
        }
        if trace && log::log_enabled!(target: "connection", log::Level::Trace) {
            log::trace!(target: "connection", "{} -> {}", self.log, dump(header));
        }
        self.writer.write(message)
    }

    /// The final answer to request `id`, logged with `outcome`. An answer
    /// that does not fit in one frame is never dropped (§4, 1.2): the
    /// request gets an error with its id instead, `too_large` where it could
    /// have asked for less, else `internal`, and is logged as failed.
    fn send_answer<H: Serialize>(&mut self, id: u32, header: &H, payload: &[u8], outcome: &str) {
        match answer_message(self.outstanding.kind(id), header, payload) {
            Ok(message) => {
                self.log_outcome(id, outcome);
                self.write(message, header, true);
            }
            Err(err) => {
                log::error!(target: "connection", "{}: request {id}: its answer cannot be sent; answered {}: {}", self.log, err.code, err.message);
                self.log_outcome(id, err.code.as_str());
                self.send(&err.to_response(id), &[]);
            }
        }
    }

    fn send_error(&mut self, id: u32, err: &WireError) {
        self.send_answer(id, &err.to_response(id), &[], err.code.as_str());
    }

    fn send_ok<T: Serialize>(&mut self, id: u32, result: T) {
        self.send_answer(id, &OkResponse::new(id, result), &[], "ok");
    }

    /// Sends `bye` and closes once it has left (§6: before every server-side close).
    fn bye(&mut self, reason: ByeReason, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        log::log!(target: "connection", self.lifecycle_level(), "{}: bye {reason}", self.log);
        self.send(&Push::Bye { reason }, &[]);
        self.close(ctx);
    }

    /// Ends every outstanding request without an answer and closes.
    fn close(&mut self, ctx: &mut Context<Self>) {
        self.closing = true;
        for id in self.outstanding.ids() {
            self.stop_waiting(id, ctx);
        }
        self.log_unanswered();
        self.writer.close();
        ctx.run_later(CLOSE_FLUSH_LIMIT, |_, ctx| ctx.stop());
    }

    // ----- outstanding requests -----

    /// Stops request `id` from waiting (its count, its progress pushes, its
    /// tail): it is answered now or never. `None` if it was not waiting.
    fn stop_waiting(&mut self, id: u32, ctx: &mut Context<Self>) -> Option<Pending> {
        let pending = self.outstanding.take(id)?;
        if let Some(handle) = pending.stop() {
            // For a tail, dropping its stream drops the subscription, which
            // leaves the log hub.
            ctx.cancel_future(handle);
        }
        Some(pending)
    }

    /// Logs the requests that will get no answer (the session is closing).
    fn log_unanswered(&mut self) {
        for id in self.outstanding.ids() {
            self.log_outcome(id, "unanswered (session closed)");
        }
    }

    /// The final answer to `id`, if it is still waiting.
    fn answer<T: Serialize>(
        &mut self,
        id: u32,
        result: Result<T, WireError>,
        payload: &[u8],
        ctx: &mut Context<Self>,
    ) {
        if self.stop_waiting(id, ctx).is_none() {
            return;
        }
        match result {
            Ok(value) => self.send_answer(id, &OkResponse::new(id, value), payload, "ok"),
            Err(err) => {
                log::debug!(target: "connection", "{}: request {id}: {err}", self.log);
                self.send_error(id, &err)
            }
        }
        self.after_answer(ctx);
    }

    /// During a shutdown, the session ends once nothing runs (open tails
    /// are answered `ok` then: they would never end by themselves).
    fn after_answer(&mut self, ctx: &mut Context<Self>) {
        if self.shutting_down && !self.outstanding.work_waiting() {
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
        self.outstanding.wait(id, Pending::Plain);
        ctx.spawn(
            work.into_actor(self)
                .map(move |result, session, ctx| session.answer(id, result, &[], ctx)),
        );
    }

    // ----- the checks of §4 -----

    /// One message from the peer, through the checks of §4 in order.
    fn on_message(&mut self, raw: RawMessage, ctx: &mut Context<Self>) {
        if log::log_enabled!(target: "connection", log::Level::Trace) {
            log::trace!(target: "connection", "{} <- {}", self.log, dump(&raw.header));
        }
        let Envelope { id, kind } = match Envelope::parse(&raw.header) {
            Ok(envelope) => envelope,
            Err(err) => return self.send(&ErrorResponse::from_envelope(&err), &[]),
        };
        self.requests += 1;
        if self.outstanding.receive(id, kind) {
            // Released with its answer, in `log_outcome`.
            self.outbox.promise(answer_promise(kind));
        } else {
            // Not `send_error`: the log entry of `id` is the first request's.
            let outcome = "bad_request (id in use)";
            let quiet = self.login.is_none();
            log_request(&self.log, id, kind, outcome, Instant::now(), quiet);
            let err = WireError::bad_request(format!(
                "id {id} is already used by an outstanding request"
            ));
            return self.send(&err.to_response(id), &[]);
        }
        if self.shutting_down {
            let err = WireError::new(ErrorCode::ShuttingDown, "the server is shutting down");
            return self.send_error(id, &err);
        }
        let user = match (kind.access(), &self.login) {
            (Access::Open, _) => None,
            (_, None) => {
                let err = WireError::new(ErrorCode::Unauthenticated, "log in first");
                return self.send_error(id, &err);
            }
            (Access::Admin, Some(login)) if login.role != Role::Admin => {
                let err =
                    WireError::new(ErrorCode::Forbidden, "this request is for administrators");
                return self.send_error(id, &err);
            }
            (_, Some(login)) => Some(login.clone()),
        };
        let request = match Request::parse(kind, &raw.header) {
            Ok(request) => request,
            Err(err) => {
                let answer = ErrorResponse::from_field(id, &err);
                return self.send_answer(id, &answer, &[], answer.code.as_str());
            }
        };
        if kind != RequestKind::Cancel
            && self.outstanding.waiting() >= self.services.settings.max_outstanding
        {
            let err = WireError::new(
                ErrorCode::Busy,
                "too many outstanding requests on this session",
            );
            return self.send_error(id, &err);
        }
        self.dispatch(id, request, user, raw.payload, ctx);
    }

    /// Hands a checked request to its group, with the logged-in user.
    fn dispatch(
        &mut self,
        id: u32,
        request: Request,
        user: Option<LoggedIn>,
        payload: Bytes,
        ctx: &mut Context<Self>,
    ) {
        match (request, user) {
            (Request::Open(request), _) => self.open_request(id, request, ctx),
            (Request::User(request), Some(user)) => match request {
                UserRequest::Logout => self.logout(id, user, ctx),
                UserRequest::Library(op) => self.library(id, user, op, payload, ctx),
                UserRequest::Count(count) => self.count(id, user, count, payload, ctx),
                UserRequest::Cancel(cancel) => self.cancel(id, cancel.target, ctx),
                UserRequest::Stream(request) => self.stream(id, user, request, payload, ctx),
            },
            (Request::Admin(request), Some(_admin)) => self.admin(id, request, ctx),
            // The login check above gave a user to every request that needs one.
            (_, None) => self.send_error(id, &WireError::internal("request without its login")),
        }
    }

    /// Closes the session `idle_timeout` after its last frame: a timer for
    /// what is left, which looks again when it fires.
    fn arm_idle_timer(&mut self, ctx: &mut Context<Self>) {
        match self.idle.left() {
            Some(left) => {
                ctx.run_later(left, |session, ctx| session.arm_idle_timer(ctx));
            }
            None => self.bye(ByeReason::IdleTimeout, ctx),
        }
    }
}

/// Bytes set aside in the outbox for the answer of a request of `kind`
/// while it is under way, so that requests whose answers are large cannot
/// pile up behind the backlog limit before their answers exist: the most
/// their answer can take. Requests with small answers (a few hundred
/// bytes: `ping`, uploads, errors) and those that run for long (`count`,
/// whose answer lists at most 10,000 events, about 600 KB, and which the
/// analysis pool's capacity bounds server-wide) set nothing aside: a
/// promise held for minutes would keep the session from reading its
/// `cancel`.
fn answer_promise(kind: RequestKind) -> u64 {
    /// The largest frame with its length prefix, as the backlog counts it.
    const FRAME_ON_WIRE: u64 = MAX_FRAME_LEN as u64 + 4;
    match kind {
        // A chunk of 1,000,000 bytes and its header: at most a whole frame.
        RequestKind::SoundGet => FRAME_ON_WIRE,
        // 1,000 sounds of up to ~450 bytes of JSON each.
        RequestKind::SoundList => 512 * 1024,
        // 10,000 events of up to ~60 bytes of JSON each.
        RequestKind::StreamClose => 640 * 1024,
        // A page of up to 1,000 entries of ~200 bytes each.
        RequestKind::AdminSessions | RequestKind::AdminUsers => 256 * 1024,
        _ => 0,
    }
}

/// The message of a final answer to a request of type `kind`, or the
/// error that replaces it when it does not fit in one frame (§4).
fn answer_message<H: Serialize>(
    kind: Option<RequestKind>,
    header: &H,
    payload: &[u8],
) -> Result<OutgoingMessage, WireError> {
    OutgoingMessage::new(header, payload).map_err(|err| {
        let code = kind.map_or(ErrorCode::Internal, too_large_answer_code);
        WireError::new(code, format!("the answer does not fit in one frame: {err}"))
    })
}

/// The code of an answer too large for a frame (§4): `too_large` for the
/// requests that could have asked for less (a smaller page, a shorter
/// chunk of a stream), `internal` for the others, whose answers the server
/// keeps under a frame by design.
fn too_large_answer_code(kind: RequestKind) -> ErrorCode {
    match kind {
        RequestKind::AdminSessions | RequestKind::AdminUsers | RequestKind::StreamData => {
            ErrorCode::TooLarge
        }
        _ => ErrorCode::Internal,
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        log::debug!(target: "connection", "{}: session started", self.log);
        let settings = Arc::clone(&self.services.settings);
        ctx.run_later(settings.login_timeout, |session, ctx| {
            if !session.ever_logged_in {
                session.bye(ByeReason::LoginTimeout, ctx);
            }
        });
        self.arm_idle_timer(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.outstanding.cancel_counts();
        self.log_unanswered();
        log::log!(target: "connection", self.lifecycle_level(), "{}: session ended", self.log);
    }
}

impl StreamHandler<Result<Incoming, TransportError>> for Session {
    fn handle(&mut self, item: Result<Incoming, TransportError>, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.idle.frame();
        match item {
            Ok(Incoming::Message(raw)) => self.on_message(raw, ctx),
            Ok(Incoming::Unreadable(err)) => self.send(&ErrorResponse::unreadable(&err), &[]),
            Err(TransportError::BadFrameLength { len }) => {
                log::log!(target: "connection", self.lifecycle_level(), "{}: frame length {len} out of bounds", self.log);
                self.bye(ByeReason::ProtocolError, ctx);
            }
            Err(err) => {
                log::log!(target: "connection", self.lifecycle_level(), "{}: closing: {err}", self.log);
                self.closing = true;
                ctx.stop();
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        if !self.closing {
            log::debug!(target: "connection", "{}: peer closed the connection", self.log);
            ctx.stop();
        }
    }
}

impl WriteHandler<TransportError> for Session {
    fn error(&mut self, err: TransportError, _: &mut Context<Self>) -> Running {
        log::info!(target: "connection", "{}: write failed: {err}", self.log);
        Running::Stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::MAX_MESSAGE_LEN;
    use serde_json::json;

    #[test]
    fn an_answer_too_large_for_a_frame_becomes_an_error_with_its_id() {
        let huge = OkResponse::new(7, json!({"sounds": "x".repeat(MAX_MESSAGE_LEN)}));
        let err = answer_message(Some(RequestKind::SoundList), &huge, &[]).unwrap_err();
        assert_eq!(err.code, ErrorCode::Internal);
        let answer = err.to_response(7);
        assert_eq!(answer.id, Some(7));
        assert!(OutgoingMessage::new(&answer, &[]).is_ok(), "the error fits");
        for kind in [RequestKind::AdminUsers, RequestKind::AdminSessions] {
            let err = answer_message(Some(kind), &huge, &[]).unwrap_err();
            assert_eq!(err.code, ErrorCode::TooLarge, "{kind:?} could ask for less");
        }
        let payload = vec![0u8; MAX_MESSAGE_LEN];
        let small = OkResponse::new(7, json!({}));
        assert!(answer_message(Some(RequestKind::SoundGet), &small, &payload).is_err());
        assert!(answer_message(Some(RequestKind::SoundGet), &small, &payload[..1_000_000]).is_ok());
    }

    #[test]
    fn only_requests_with_large_answers_promise_room() {
        assert!(answer_promise(RequestKind::SoundGet) > MAX_MESSAGE_LEN as u64);
        assert_eq!(answer_promise(RequestKind::Ping), 0);
        assert_eq!(
            answer_promise(RequestKind::Count),
            0,
            "would hold `cancel` back"
        );
        assert!(
            answer_promise(RequestKind::SoundGet) * 2 > ANSWER_BACKLOG_LIMIT,
            "two chunks under way close the gate"
        );
    }
}
