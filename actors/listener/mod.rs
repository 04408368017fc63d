//! The listener actor: accepts TCP connections, enforces the connection
//! limits of §7 (at once, and per address; a refused connection is simply
//! closed), and hands each connection to one of the [`SessionThreads`], where
//! its handshake runs under its time limit and its [`Session`] starts with a
//! session id. It also knows every session, to tell them all when the server
//! shuts down.
//!
//! Sessions run on several threads (actix arbiters, one event loop each) so
//! that handshakes (ECDH + ECDSA) and the encryption of every frame use every
//! core; the listener itself only accepts and counts. A connection goes to
//! the thread holding the fewest connections (ties in turn). The listener
//! talks to sessions only through their `Addr`s, which work across threads.
//!
//! Limits per address count an address by its group
//! ([`address_group`]: an IPv6 client by its /64): all its connections
//! (256), and among them those not logged in yet (64), so that a few
//! addresses cannot hold every place with silent connections for the whole
//! login timer.
//!
//! Nothing a client does before logging in writes a log line per event at
//! `info`: refused connections and failed handshakes are `debug` lines, and
//! the listener sums them up in one `info` line every
//! [`UNWELCOME_SUMMARY_INTERVAL`] in which there were any, so that a flood
//! can neither fill the log nor make every event loop wait on its writes.
//!
//! Accept errors (out of file descriptors, a connection reset before it was
//! accepted) are logged and retried with a growing pause; they never end the
//! listener. A connection's place is held by a [`ConnectionPermit`] that
//! gives it back when dropped, whatever ends the connection.

mod admin;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Poll};
use std::time::Duration;

use actix::prelude::*;
use actix_rt::ArbiterHandle;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::hub::{
    AccountDeleted, AccountRole, AccountRoleChanged, Broadcast, ConnectionEnded,
    ConnectionLoggedIn, ConnectionPermit, DeliverNotice, Describe, EndAccountSessions, Kick,
    KickSession, ListSessions, ListenerHandle, SessionHandle, Shutdown,
};
use super::services::Services;
use super::session::Session;
use super::timing::watch_event_loop;
use crate::address::address_group;
use crate::crypto::ServerIdentity;
use crate::protocol::response::SessionInfo;
use crate::transport::server_handshake;

/// First pause after a failed accept; it doubles up to [`MAX_ACCEPT_BACKOFF`].
const FIRST_ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// Longest pause between accept attempts.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);
/// After the grace, how long sessions get to say `bye` before the server
/// stops anyway.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(2);
/// How often refused connections and failed handshakes are summed up in
/// one `info` line (when there were any): often enough for an operator
/// watching a flood, rare enough that a flood costs a line per period.
pub const UNWELCOME_SUMMARY_INTERVAL: Duration = Duration::from_secs(10);

/// Why a new connection is closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// The server holds `max_connections`.
    Full,
    /// Its address holds `max_connections_per_address`.
    Address,
    /// Its address holds `max_pre_login_per_address` not logged in.
    PreLogin,
}

/// Connections the server did not welcome since the last summary line:
/// counted here (handshakes fail on the session threads), logged by the
/// listener's timer.
#[derive(Debug, Default)]
pub struct UnwelcomeCounts {
    full: AtomicU64,
    per_address: AtomicU64,
    pre_login: AtomicU64,
    handshakes_failed: AtomicU64,
}

impl UnwelcomeCounts {
    fn refused(&self, refusal: Refusal) {
        let counter = match refusal {
            Refusal::Full => &self.full,
            Refusal::Address => &self.per_address,
            Refusal::PreLogin => &self.pre_login,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The summary line of what was counted since the last one (and starts
    /// counting again); `None` if nothing was.
    fn take_summary(&self) -> Option<String> {
        let full = self.full.swap(0, Ordering::Relaxed);
        let per_address = self.per_address.swap(0, Ordering::Relaxed);
        let pre_login = self.pre_login.swap(0, Ordering::Relaxed);
        let failed = self.handshakes_failed.swap(0, Ordering::Relaxed);
        if full + per_address + pre_login + failed == 0 {
            return None;
        }
        Some(format!(
            "refused {} connection(s) (server full: {full}, per-address limit: {per_address}, \
             pre-login limit: {pre_login}); {failed} handshake(s) failed",
            full + per_address + pre_login
        ))
    }
}

/// The connections of one address group.
#[derive(Debug, Default, Clone, Copy)]
struct AddressLoad {
    connections: usize,
    /// Of those, the ones whose session has not logged in yet.
    pre_login: usize,
}

/// A connection not ended yet (handshakes included), as the listener counts it.
#[derive(Debug, Clone, Copy)]
struct Placed {
    thread: usize,
    /// Its [`address_group`].
    group: IpAddr,
    logged_in: bool,
}

/// The threads that run the sessions: actix arbiters, each with its own
/// event loop. Owned by the [`Server`](super::Server), which stops and joins
/// them once every session has ended; dropping them does the same, so no
/// thread outlives its server.
pub struct SessionThreads {
    arbiters: Vec<Arbiter>,
}

impl SessionThreads {
    /// Starts `count` threads (at least one). Must run inside an actix `System`.
    pub fn start(count: usize) -> std::io::Result<SessionThreads> {
        let arbiters = (0..count.max(1))
            .map(|_| Arbiter::try_new())
            .collect::<std::io::Result<Vec<_>>>()?;
        log::debug!(target: "connection", "{} session thread(s)", arbiters.len());
        for (index, arbiter) in arbiters.iter().enumerate() {
            arbiter.spawn(watch_event_loop(format!("session-{index}")));
        }
        Ok(SessionThreads { arbiters })
    }

    /// Handles to start work on each thread, in a fixed order.
    pub fn handles(&self) -> Vec<ArbiterHandle> {
        self.arbiters.iter().map(Arbiter::handle).collect()
    }

    /// Stops every thread (whatever still runs there is dropped, which gives
    /// back its connection's place) and waits for each to end. Blocking.
    pub fn stop_and_join(mut self) {
        self.stop_and_join_all();
    }

    fn stop_and_join_all(&mut self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        for arbiter in self.arbiters.drain(..) {
            if arbiter.join().is_err() {
                log::error!(target: "connection", "a session thread panicked");
            }
        }
    }
}

impl Drop for SessionThreads {
    fn drop(&mut self) {
        self.stop_and_join_all();
    }
}

/// One session thread as the listener sees it.
struct SessionThread {
    arbiter: ArbiterHandle,
    /// Connections placed there that have not ended (handshakes included).
    connections: usize,
}

/// The listener actor.
pub struct Listener {
    services: Services,
    identity: Arc<ServerIdentity>,
    socket: Option<TcpListener>,
    accepting: Option<SpawnHandle>,
    threads: Vec<SessionThread>,
    /// Where the search for the least loaded thread starts (ties in turn).
    next_thread: usize,
    next_session_id: u64,
    sessions: HashMap<u64, SessionHandle>,
    /// Every connection not ended yet (handshakes included).
    placed: HashMap<u64, Placed>,
    connections: usize,
    /// By [`address_group`].
    per_address: HashMap<IpAddr, AddressLoad>,
    unwelcome: Arc<UnwelcomeCounts>,
    shutdown: Option<Shutdown>,
    stopped: Option<oneshot::Sender<()>>,
}

impl Listener {
    /// A listener on a bound socket, starting sessions on `threads` (at least
    /// one). `stopped` fires once a shutdown has ended every connection.
    pub fn new(
        services: Services,
        identity: Arc<ServerIdentity>,
        socket: TcpListener,
        threads: Vec<ArbiterHandle>,
        stopped: oneshot::Sender<()>,
    ) -> Listener {
        Listener {
            services,
            identity,
            socket: Some(socket),
            accepting: None,
            threads: threads
                .into_iter()
                .map(|arbiter| SessionThread {
                    arbiter,
                    connections: 0,
                })
                .collect(),
            next_thread: 0,
            next_session_id: 1,
            sessions: HashMap::new(),
            placed: HashMap::new(),
            connections: 0,
            per_address: HashMap::new(),
            unwelcome: Arc::default(),
            shutdown: None,
            stopped: Some(stopped),
        }
    }

    /// The session thread with the fewest connections; among equals, the
    /// first after the one chosen last. `None` without threads.
    fn least_loaded_thread(&mut self) -> Option<usize> {
        let loads: Vec<usize> = self.threads.iter().map(|t| t.connections).collect();
        let chosen = least_loaded(&loads, self.next_thread)?;
        self.next_thread = (chosen + 1) % loads.len();
        Some(chosen)
    }

    /// Whether a new connection from address group `group` fits in the
    /// limits of §7.
    fn admits(&self, group: IpAddr) -> Result<(), Refusal> {
        let settings = &self.services.settings;
        let load = self.per_address.get(&group).copied().unwrap_or_default();
        if self.connections >= settings.max_connections {
            Err(Refusal::Full)
        } else if load.connections >= settings.max_connections_per_address {
            Err(Refusal::Address)
        } else if load.pre_login >= settings.max_pre_login_per_address {
            Err(Refusal::PreLogin)
        } else {
            Ok(())
        }
    }

    /// Ends the shutdown once the last connection is gone.
    fn finish_if_empty(&mut self) {
        if self.shutdown.is_some() && self.connections == 0 {
            if let Some(stopped) = self.stopped.take() {
                log::info!(target: "connection", "every session has ended");
                let _ = stopped.send(());
            }
        }
    }
}

/// The index of the smallest of `loads`; among equals, the first at or after
/// `start` (going round). `None` if `loads` is empty.
fn least_loaded(loads: &[usize], start: usize) -> Option<usize> {
    let count = loads.len();
    (0..count)
        .map(|offset| (start + offset) % count)
        .min_by_key(|&index| loads[index])
}

/// The accepted connections, with failed accepts retried after a pause.
fn accepted(socket: TcpListener) -> impl futures::Stream<Item = (TcpStream, SocketAddr)> {
    futures::stream::unfold(socket, |socket| async move {
        let mut backoff = FIRST_ACCEPT_BACKOFF;
        loop {
            match socket.accept().await {
                Ok(connection) => return Some((connection, socket)),
                Err(err) => {
                    log::warn!(target: "connection", "accept failed: {err}; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                }
            }
        }
    })
}

impl Actor for Listener {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(socket) = self.socket.take() {
            self.accepting = Some(ctx.add_stream(accepted(socket)));
        }
        ctx.run_interval(UNWELCOME_SUMMARY_INTERVAL, |listener, _| {
            if let Some(summary) = listener.unwelcome.take_summary() {
                log::info!(target: "connection", "last {UNWELCOME_SUMMARY_INTERVAL:?}: {summary}");
            }
        });
    }
}

impl StreamHandler<(TcpStream, SocketAddr)> for Listener {
    fn handle(&mut self, (stream, peer): (TcpStream, SocketAddr), ctx: &mut Context<Self>) {
        if self.shutdown.is_some() {
            return;
        }
        let group = address_group(peer.ip());
        if let Err(refusal) = self.admits(group) {
            self.unwelcome.refused(refusal);
            log::debug!(target: "connection", "peer={peer}: refused ({refusal:?} limit)");
            return;
        }
        // A tokio stream belongs to the event loop that registered it: it
        // leaves this one as a plain socket and joins its thread's loop there.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(err) => {
                log::warn!(target: "connection", "peer={peer}: cannot hand the connection over: {err}");
                return;
            }
        };
        let Some(thread) = self.least_loaded_thread() else {
            log::error!(target: "connection", "peer={peer}: refused, no session thread");
            return;
        };
        self.connections += 1;
        let load = self.per_address.entry(group).or_default();
        load.connections += 1;
        load.pre_login += 1;
        self.threads[thread].connections += 1;
        let id = self.next_session_id;
        self.next_session_id += 1;
        self.placed.insert(
            id,
            Placed {
                thread,
                group,
                logged_in: false,
            },
        );
        let listener = ctx.address();
        let permit = ConnectionPermit::new(ListenerHandle::of(&listener), id, peer.ip());
        let unwelcome = Arc::clone(&self.unwelcome);
        log::debug!(target: "connection", "session={id} peer={peer}: accepted, thread {thread}");
        let identity = Arc::clone(&self.identity);
        let services = self.services.clone();
        // If the thread is gone (the server is stopping), the closure is
        // dropped with the permit, which gives the connection's place back.
        self.threads[thread].arbiter.spawn_fn(move || {
            actix_rt::spawn(handshake_and_start(
                id, peer, stream, identity, services, permit, listener, unwelcome,
            ));
        });
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        // The accept stream never ends on its own; cancelled at shutdown.
    }
}

/// On a session thread: adopts the connection into this thread's event loop,
/// runs the handshake and starts the [`Session`] here. The listener lists
/// the session before the ServerHello goes out ([`ListedBeforeReply`]), so a
/// client that has finished its handshake is always in `admin.sessions` and
/// the metrics. On any failure the permit is dropped, which ends the
/// connection's count (and its listing).
#[allow(clippy::too_many_arguments)]
async fn handshake_and_start(
    id: u64,
    peer: SocketAddr,
    stream: std::net::TcpStream,
    identity: Arc<ServerIdentity>,
    services: Services,
    permit: ConnectionPermit,
    listener: Addr<Listener>,
    unwelcome: Arc<UnwelcomeCounts>,
) {
    let mut stream = match TcpStream::from_std(stream) {
        Ok(stream) => stream,
        Err(err) => {
            log::warn!(target: "connection", "session={id} peer={peer}: cannot adopt the connection: {err}");
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let timeout = services.settings.handshake_timeout;
    // The session's mailbox exists before the session: what the listener
    // sends it meanwhile waits there.
    let ctx: Context<Session> = Context::new();
    let listing = listener.send(SessionListed {
        id,
        session: SessionHandle::of(&ctx.address()),
    });
    let mut connection = ListedBeforeReply {
        stream: &mut stream,
        listing: Some(Box::pin(async move {
            // A listener that is gone has nothing to list.
            let _ = listing.await;
        })),
    };
    match server_handshake(&mut connection, &identity, timeout).await {
        Ok(keys) => {
            Session::start(ctx, id, peer, services, stream, &keys, permit);
        }
        Err(err) => {
            unwelcome.handshakes_failed.fetch_add(1, Ordering::Relaxed);
            log::debug!(target: "connection", "session={id} peer={peer}: handshake failed: {err}");
        }
    }
}

/// The connection during the handshake: reads pass through; the first write
/// (the ServerHello, or the HRMX answer) waits until `listing` is done.
struct ListedBeforeReply<'a> {
    stream: &'a mut TcpStream,
    listing: Option<Pin<Box<dyn Future<Output = ()>>>>,
}

impl tokio::io::AsyncRead for ListedBeforeReply<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for ListedBeforeReply<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if let Some(listing) = self.listing.as_mut() {
            ready!(listing.as_mut().poll(cx));
            self.listing = None;
        }
        Pin::new(&mut *self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.stream).poll_shutdown(cx)
    }
}

/// A connection's session is about to answer its handshake (on its thread):
/// list it. Its address works at once; the session itself starts right
/// after the ServerHello.
#[derive(Message)]
#[rtype(result = "()")]
struct SessionListed {
    id: u64,
    session: SessionHandle,
}

impl Handler<SessionListed> for Listener {
    type Result = ();

    fn handle(&mut self, listed: SessionListed, _: &mut Context<Self>) {
        // A connection that ended already (its permit came back first) is
        // not listed: nothing would ever remove it.
        if !self.placed.contains_key(&listed.id) {
            return;
        }
        if let Some(shutdown) = &self.shutdown {
            listed.session.shutdown.do_send(shutdown.clone());
        }
        self.sessions.insert(listed.id, listed.session);
    }
}

impl Handler<ConnectionEnded> for Listener {
    type Result = ();

    fn handle(&mut self, ended: ConnectionEnded, _: &mut Context<Self>) {
        self.sessions.remove(&ended.id);
        if let Some(placed) = self.placed.remove(&ended.id) {
            if let Some(thread) = self.threads.get_mut(placed.thread) {
                thread.connections = thread.connections.saturating_sub(1);
            }
            if let Some(load) = self.per_address.get_mut(&placed.group) {
                load.connections = load.connections.saturating_sub(1);
                if !placed.logged_in {
                    load.pre_login = load.pre_login.saturating_sub(1);
                }
                if load.connections == 0 {
                    self.per_address.remove(&placed.group);
                }
            }
        }
        self.connections = self.connections.saturating_sub(1);
        self.finish_if_empty();
    }
}

impl Handler<ConnectionLoggedIn> for Listener {
    type Result = ();

    fn handle(&mut self, logged_in: ConnectionLoggedIn, _: &mut Context<Self>) {
        let Some(placed) = self.placed.get_mut(&logged_in.id) else {
            return;
        };
        if placed.logged_in {
            return;
        }
        placed.logged_in = true;
        if let Some(load) = self.per_address.get_mut(&placed.group) {
            load.pre_login = load.pre_login.saturating_sub(1);
        }
    }
}

impl Handler<Shutdown> for Listener {
    type Result = ();

    fn handle(&mut self, shutdown: Shutdown, ctx: &mut Context<Self>) {
        if self.shutdown.is_some() {
            return;
        }
        log::info!(target: "connection", "shutting down: {} session(s), grace {:?}",
            self.sessions.len(), shutdown.grace);
        if let Some(accepting) = self.accepting.take() {
            ctx.cancel_future(accepting);
        }
        for session in self.sessions.values() {
            session.shutdown.do_send(shutdown.clone());
        }
        let grace = shutdown.grace;
        self.shutdown = Some(shutdown);
        ctx.run_later(grace + SHUTDOWN_SLACK, |listener, _| {
            if let Some(stopped) = listener.stopped.take() {
                log::warn!(target: "connection", "{} connection(s) still open after the grace; stopping anyway",
                    listener.connections);
                let _ = stopped.send(());
            }
        });
        self.finish_if_empty();
    }
}

#[cfg(test)]
mod tests;
