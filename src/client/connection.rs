//! The connection: handshake, request ids, and the reader task that routes
//! every message from the server.
//!
//! A request registers a waiter under its id *before* its frame is written,
//! so an answer can never arrive unexpected. The reader task sends each final
//! answer to its waiter (a oneshot), each `progress`/`log` push to the
//! waiter's push channel, and `notice`/`shutdown`/`bye` to the client's push
//! channel. When the connection ends (a `bye`, the peer closing, a transport
//! error), every waiter left gets [`ClientError::Closed`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::codec::{FramedRead, FramedWrite};

use super::ClientError;
use crate::crypto::{HandshakeError, Side};
use crate::protocol::response::CountResult;
use crate::protocol::{result_as, EventInfo, MessageError, Push, ServerMessage};
use crate::transport::{
    client_handshake, split_codecs, DecryptingCodec, EncryptingCodec, Incoming, OutgoingMessage,
    TransportError, HANDSHAKE_TIMEOUT,
};

/// Pushes (`progress`, `log`) a request's channel holds before newer ones are
/// dropped; the reader never waits for a slow consumer.
const REQUEST_PUSH_BUFFER: usize = 64;
/// Server pushes (`notice`, `shutdown`, `bye`) held for [`Client::pushes`]
/// before newer ones are dropped.
const SERVER_PUSH_BUFFER: usize = 64;

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Limit for the TCP connect and, separately, for the handshake (§7: 10 s).
    /// Requests themselves have no time limit (a count may take minutes).
    pub timeout: Duration,
    /// The fingerprint pinned for this server (hex SHA-256 of its identity
    /// key, from a first connection); `None` accepts any identity (trust on
    /// first use: read [`Client::server_fingerprint`] and pin it).
    pub pinned_fingerprint: Option<String>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            timeout: HANDSHAKE_TIMEOUT,
            pinned_fingerprint: None,
        }
    }
}

/// The `ok` answer to a request: its result fields and payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Every header field but `type` and `id`.
    pub fields: Map<String, Value>,
    /// The payload (the bytes of `sound.get`), usually empty.
    pub payload: Bytes,
    /// Every event the request's `progress` pushes carried in `new_events`
    /// (a `count`), in order: the reader gathers them whether or not the
    /// caller reads the pushes, since past 10,000 events they are the only
    /// copy (PROTOCOL 1.2).
    pub pushed_events: Vec<EventInfo>,
}

impl Reply {
    /// Reads the fields as a typed result (`LoginResult`, `CountResult`...).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        result_as(&self.fields)
            .map_err(|err| ClientError::Protocol(format!("unexpected answer fields: {err}")))
    }

    /// Reads a `count` answer with every event: when the server listed
    /// none (`events_truncated`), the events its pushes carried. The result
    /// is whole, so its `events_truncated` is false.
    pub fn count_result(self) -> Result<CountResult, ClientError> {
        let mut result: CountResult = self.parse()?;
        if result.events_truncated {
            if self.pushed_events.len() as u64 != result.count {
                return Err(ClientError::Protocol(format!(
                    "the server counted {} events but its pushes carried {}",
                    result.count,
                    self.pushed_events.len()
                )));
            }
            result.events = self.pushed_events;
            result.events_truncated = false;
        }
        Ok(result)
    }
}

/// A request that has been sent and awaits its final answer; its pushes
/// (`progress` of a count, `log` of a tail) arrive here first.
#[derive(Debug)]
pub struct PendingRequest {
    id: u32,
    answer: oneshot::Receiver<Result<Reply, ClientError>>,
    pushes: mpsc::Receiver<Push>,
}

impl PendingRequest {
    /// The request's id (the `target` of a `cancel`).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The next push for this request; `None` once the final answer has
    /// come (or the connection ended).
    pub async fn next_push(&mut self) -> Option<Push> {
        self.pushes.recv().await
    }

    /// Waits for the final answer, ignoring pushes.
    pub async fn answer(self) -> Result<Reply, ClientError> {
        self.answer
            .await
            .unwrap_or(Err(ClientError::Closed { reason: None }))
    }

    /// Waits for the final answer, giving every push to `on_push` first, in
    /// the order they came.
    pub async fn answer_with(
        mut self,
        mut on_push: impl FnMut(Push),
    ) -> Result<Reply, ClientError> {
        // The reader drops this request's push sender just before it sends
        // the answer, so the pushes end exactly when the answer is there.
        while let Some(push) = self.pushes.recv().await {
            on_push(push);
        }
        self.answer().await
    }
}

/// The waiting side of one request.
struct Waiter {
    answer: oneshot::Sender<Result<Reply, ClientError>>,
    pushes: mpsc::Sender<Push>,
    /// The `new_events` of its `progress` pushes so far.
    events: Vec<EventInfo>,
}

/// What the client and its reader task share.
#[derive(Default)]
struct State {
    pending: HashMap<u32, Waiter>,
    /// The id the next request tries first.
    next_id: u32,
    /// `Some(reason)` once the connection is over.
    closed: Option<Option<String>>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update
        // is a single map operation.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Allocates an id (1..=u32::MAX, skipping ids still outstanding) and
    /// registers its waiter.
    fn register(&self) -> Result<PendingRequest, ClientError> {
        let mut state = self.lock();
        if let Some(reason) = &state.closed {
            return Err(ClientError::Closed {
                reason: reason.clone(),
            });
        }
        let id = loop {
            let candidate = state.next_id.max(1);
            state.next_id = candidate.checked_add(1).unwrap_or(1);
            if !state.pending.contains_key(&candidate) {
                break candidate;
            }
        };
        let (answer_tx, answer_rx) = oneshot::channel();
        let (push_tx, push_rx) = mpsc::channel(REQUEST_PUSH_BUFFER);
        state.pending.insert(
            id,
            Waiter {
                answer: answer_tx,
                pushes: push_tx,
                events: Vec::new(),
            },
        );
        Ok(PendingRequest {
            id,
            answer: answer_rx,
            pushes: push_rx,
        })
    }

    fn forget(&self, id: u32) {
        self.lock().pending.remove(&id);
    }

    fn answer(&self, id: u32, answer: Result<Reply, ClientError>) {
        let waiter = self.lock().pending.remove(&id);
        match waiter {
            Some(waiter) => {
                let Waiter {
                    answer: tx,
                    pushes,
                    events,
                } = waiter;
                drop(pushes);
                let answer = answer.map(|reply| Reply {
                    pushed_events: events,
                    ..reply
                });
                // The caller may have stopped waiting; nothing to do then.
                let _ = tx.send(answer);
            }
            None => {
                log::warn!(target: "connection", "answer for request {id}, which is not outstanding");
            }
        }
    }

    fn push_to_request(&self, id: u32, push: Push) {
        let mut state = self.lock();
        match state.pending.get_mut(&id) {
            Some(waiter) => {
                if let Push::Progress { new_events, .. } = &push {
                    waiter.events.extend_from_slice(new_events);
                }
                if waiter.pushes.try_send(push).is_err() {
                    log::debug!(target: "connection", "push for request {id} dropped: nobody reads them");
                }
            }
            None => {
                log::warn!(target: "connection", "push for request {id}, which is not outstanding");
            }
        }
    }

    /// Ends the connection: every outstanding request gets `Closed`.
    fn close(&self, reason: Option<String>) {
        let (pending, reason) = {
            let mut state = self.lock();
            // The first reason wins (a `bye` before the close that follows it).
            let reason = state.closed.get_or_insert(reason).clone();
            (std::mem::take(&mut state.pending), reason)
        };
        for (_, waiter) in pending {
            let _ = waiter.answer.send(Err(ClientError::Closed {
                reason: reason.clone(),
            }));
        }
    }

    fn closed_reason(&self) -> Option<Option<String>> {
        self.lock().closed.clone()
    }
}

type BoxedWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// A connection to a Harmonic server, logged in or not.
///
/// All methods take `&self`: share it (`Arc<Client>`) to pipeline requests
/// from several tasks. Dropping it closes the connection.
pub struct Client {
    shared: Arc<Shared>,
    writer: tokio::sync::Mutex<FramedWrite<BoxedWriter, EncryptingCodec>>,
    pushes: Mutex<Option<mpsc::Receiver<Push>>>,
    fingerprint: String,
    reader: JoinHandle<()>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("fingerprint", &self.fingerprint)
            .field("closed", &self.shared.closed_reason())
            .finish_non_exhaustive()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Client {
    /// Connects over TCP (`"host:port"` or a `SocketAddr`) and runs the handshake.
    pub async fn connect(
        addr: impl ToSocketAddrs,
        options: ConnectOptions,
    ) -> Result<Client, ClientError> {
        let stream = tokio::time::timeout(options.timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout)??;
        stream.set_nodelay(true)?;
        Self::over_stream(stream, options).await
    }

    /// Runs the handshake over any byte stream (a TCP stream, a test duplex)
    /// and starts the reader task. Checks the pinned fingerprint if given.
    pub async fn over_stream<S>(
        mut stream: S,
        options: ConnectOptions,
    ) -> Result<Client, ClientError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let accepted = client_handshake(&mut stream, options.timeout)
            .await
            .map_err(|err| match err {
                TransportError::Timeout(_) => ClientError::Timeout,
                err => ClientError::Handshake(err),
            })?;
        if let Some(pinned) = &options.pinned_fingerprint {
            accepted.check_pinned(pinned).map_err(|err| match err {
                HandshakeError::IdentityChanged { pinned, presented } => {
                    ClientError::IdentityChanged { pinned, presented }
                }
                other => ClientError::Handshake(TransportError::ServerHello(other)),
            })?;
        }
        let (encrypting, decrypting) = split_codecs(&accepted.keys, Side::Client);
        let (read_half, write_half) = tokio::io::split(stream);
        let shared = Arc::new(Shared::default());
        let (push_tx, push_rx) = mpsc::channel(SERVER_PUSH_BUFFER);
        let reader = tokio::spawn(read_loop(
            FramedRead::new(read_half, decrypting),
            Arc::clone(&shared),
            push_tx,
        ));
        let writer: BoxedWriter = Box::new(write_half);
        Ok(Client {
            shared,
            writer: tokio::sync::Mutex::new(FramedWrite::new(writer, encrypting)),
            pushes: Mutex::new(Some(push_rx)),
            fingerprint: accepted.fingerprint,
            reader,
        })
    }

    /// `hex(SHA-256(identity key))` of the server, to pin on first use.
    pub fn server_fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The server's own pushes (`notice`, `shutdown`, `bye`). There is one
    /// receiver: the first call takes it, later calls get `None`. Pushes
    /// that arrive while nobody reads (more than 64) are dropped.
    pub fn pushes(&self) -> Option<mpsc::Receiver<Push>> {
        self.pushes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Whether the connection is over (after a `bye`, a close or an error).
    pub fn is_closed(&self) -> bool {
        self.shared.closed_reason().is_some()
    }

    /// Sends a request and waits for its final answer. `header` is a JSON
    /// object with `type` and the request's fields, without `id` (it is
    /// added). An `error` answer is [`ClientError::Server`].
    pub async fn request(&self, header: Value, payload: Bytes) -> Result<Reply, ClientError> {
        self.send(header, payload).await?.answer().await
    }

    /// Sends a request and returns at once, for requests with pushes or
    /// that one may `cancel` (its id is [`PendingRequest::id`]).
    pub async fn send(&self, header: Value, payload: Bytes) -> Result<PendingRequest, ClientError> {
        let Value::Object(mut header) = header else {
            return Err(ClientError::Encode(MessageError::NotObject));
        };
        let pending = self.shared.register()?;
        let id = pending.id;
        header.insert("id".to_owned(), Value::from(id));
        let message = match OutgoingMessage::new(&header, &payload) {
            Ok(message) => message,
            Err(err) => {
                self.shared.forget(id);
                return Err(ClientError::Encode(err));
            }
        };
        let sent = self.writer.lock().await.send(message).await;
        if let Err(err) = sent {
            self.shared.forget(id);
            return Err(match err {
                TransportError::Io(err) => match self.shared.closed_reason() {
                    Some(reason) => ClientError::Closed { reason },
                    None => ClientError::Io(err),
                },
                other => ClientError::Protocol(other.to_string()),
            });
        }
        Ok(pending)
    }

    /// Closes the connection: no more requests; outstanding ones get
    /// [`ClientError::Closed`].
    pub async fn close(&self) {
        // Ignore errors: the peer may be gone already.
        let _ = self.writer.lock().await.close().await;
        self.reader.abort();
        self.shared.close(None);
    }
}

/// The reader task: routes every message until the connection ends.
async fn read_loop<R>(
    mut frames: FramedRead<R, DecryptingCodec>,
    shared: Arc<Shared>,
    server_pushes: mpsc::Sender<Push>,
) where
    R: AsyncRead + Unpin,
{
    let reason = loop {
        let message = match frames.next().await {
            None => break None,
            Some(Err(err)) => {
                log::warn!(target: "connection", "connection to the server failed: {err}");
                break Some(format!("connection error: {err}"));
            }
            Some(Ok(Incoming::Unreadable(err))) => {
                log::warn!(target: "connection", "unreadable message from the server skipped: {err}");
                continue;
            }
            Some(Ok(Incoming::Message(raw))) => match ServerMessage::parse(raw) {
                Ok(message) => message,
                Err(err) => {
                    log::warn!(target: "connection", "invalid message from the server skipped: {err}");
                    continue;
                }
            },
        };
        if let Some(reason) = route(&shared, &server_pushes, message) {
            break Some(reason);
        }
    };
    shared.close(reason);
}

/// Delivers one message; returns the reason when it ends the connection (`bye`).
fn route(
    shared: &Shared,
    server_pushes: &mpsc::Sender<Push>,
    message: ServerMessage,
) -> Option<String> {
    match message {
        ServerMessage::Ok {
            id,
            fields,
            payload,
        } => shared.answer(
            id,
            Ok(Reply {
                fields,
                payload,
                pushed_events: Vec::new(),
            }),
        ),
        ServerMessage::Error {
            id: Some(id),
            code,
            message,
            fields,
        } => shared.answer(
            id,
            Err(ClientError::Server {
                code,
                message,
                fields,
            }),
        ),
        ServerMessage::Error {
            id: None,
            code,
            message,
            ..
        } => {
            log::warn!(target: "connection", "the server could not read a message of ours: {code}: {message}");
        }
        ServerMessage::Push(push) => {
            if let Some(id) = push.request_id() {
                shared.push_to_request(id, push);
                return None;
            }
            let bye = match &push {
                Push::Bye { reason } => Some(reason.as_str().to_owned()),
                _ => None,
            };
            if server_pushes.try_send(push).is_err() {
                log::debug!(target: "connection", "server push dropped: nobody reads them");
            }
            return bye;
        }
        ServerMessage::Other { kind, .. } => {
            log::debug!(target: "connection", "message of unknown type `{kind}` skipped");
        }
    }
    None
}
