//! The listener actor: accepts TCP connections, enforces the connection
//! limits of §7 (at once, and per address; a refused connection is simply
//! closed), runs each handshake under its time limit, and starts one
//! [`Session`] per connection with a session id. It also knows every session,
//! to tell them all when the server shuts down.
//!
//! Accept errors (out of file descriptors, a connection reset before it was
//! accepted) are logged and retried with a growing pause; they never end the
//! listener. A connection's place is held by a [`ConnectionPermit`] that
//! gives it back when dropped, whatever ends the connection.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::session::{
    AccountDeleted, AccountRole, DeliverNotice, Describe, KickSession, Session, ShutdownNotice,
};
use super::Services;
use crate::crypto::ServerIdentity;
use crate::protocol::response::SessionInfo;
use crate::protocol::{Push, Role};
use crate::transport::server_handshake;

/// First pause after a failed accept; it doubles up to [`MAX_ACCEPT_BACKOFF`].
const FIRST_ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// Longest pause between accept attempts.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);
/// After the grace, how long sessions get to say `bye` before the server
/// stops anyway.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(2);

/// The listener actor.
pub struct Listener {
    services: Services,
    identity: Arc<ServerIdentity>,
    socket: Option<TcpListener>,
    accepting: Option<SpawnHandle>,
    next_session_id: u64,
    sessions: HashMap<u64, Addr<Session>>,
    connections: usize,
    per_address: HashMap<IpAddr, usize>,
    shutdown: Option<ShutdownNotice>,
    stopped: Option<oneshot::Sender<()>>,
}

impl Listener {
    /// A listener on a bound socket. `stopped` fires once a shutdown has
    /// ended every connection.
    pub fn new(
        services: Services,
        identity: Arc<ServerIdentity>,
        socket: TcpListener,
        stopped: oneshot::Sender<()>,
    ) -> Listener {
        Listener {
            services,
            identity,
            socket: Some(socket),
            accepting: None,
            next_session_id: 1,
            sessions: HashMap::new(),
            connections: 0,
            per_address: HashMap::new(),
            shutdown: None,
            stopped: Some(stopped),
        }
    }

    /// Whether a new connection from `ip` fits in the limits.
    fn admits(&self, ip: IpAddr) -> bool {
        let settings = &self.services.settings;
        self.connections < settings.max_connections
            && self.per_address.get(&ip).copied().unwrap_or(0)
                < settings.max_connections_per_address
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
    }
}

impl StreamHandler<(TcpStream, SocketAddr)> for Listener {
    fn handle(&mut self, (stream, peer): (TcpStream, SocketAddr), ctx: &mut Context<Self>) {
        if self.shutdown.is_some() {
            return;
        }
        let ip = peer.ip();
        if !self.admits(ip) {
            log::warn!(target: "connection", "peer={peer}: refused, connection limit reached");
            return;
        }
        self.connections += 1;
        *self.per_address.entry(ip).or_insert(0) += 1;
        let id = self.next_session_id;
        self.next_session_id += 1;
        let permit = ConnectionPermit {
            listener: ctx.address(),
            id,
            ip,
        };
        log::debug!(target: "connection", "session={id} peer={peer}: accepted");
        let identity = Arc::clone(&self.identity);
        let services = self.services.clone();
        let timeout = services.settings.handshake_timeout;
        let handshake = async move {
            let mut stream = stream;
            let _ = stream.set_nodelay(true);
            match server_handshake(&mut stream, &identity, timeout).await {
                Ok(keys) => Some(Session::start(id, peer, services, stream, &keys, permit)),
                Err(err) => {
                    log::info!(target: "connection", "session={id} peer={peer}: handshake failed: {err}");
                    None
                }
            }
        };
        ctx.spawn(handshake.into_actor(self).map(move |session, listener, _| {
            if let Some(session) = session {
                if let Some(notice) = &listener.shutdown {
                    session.do_send(notice.clone());
                }
                listener.sessions.insert(id, session);
            }
        }));
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        // The accept stream never ends on its own; cancelled at shutdown.
    }
}

impl ConnectionPermit {
    /// The listener, for requests about every session (`admin.*`).
    pub fn listener(&self) -> &Addr<Listener> {
        &self.listener
    }
}

/// Describes every session (`admin.sessions`, `admin.stats`), by session id.
#[derive(Debug, Message)]
#[rtype(result = "Vec<SessionInfo>")]
pub struct ListSessions;

impl Handler<ListSessions> for Listener {
    type Result = ResponseFuture<Vec<SessionInfo>>;

    fn handle(&mut self, _: ListSessions, _: &mut Context<Self>) -> Self::Result {
        let asks: Vec<_> = self.sessions.values().map(|s| s.send(Describe)).collect();
        Box::pin(async move {
            let mut sessions: Vec<SessionInfo> = futures::future::join_all(asks)
                .await
                .into_iter()
                .filter_map(Result::ok)
                .collect();
            sessions.sort_by_key(|s| s.session_id);
            sessions
        })
    }
}

/// `admin.kick`: ends session `session_id` with `bye kicked`. Whether it exists.
#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub struct Kick {
    /// The session to end.
    pub session_id: u64,
}

impl Handler<Kick> for Listener {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, kick: Kick, _: &mut Context<Self>) -> Self::Result {
        // A session that is closing already (kicked, timed out) counts as gone.
        let kicked = self
            .sessions
            .get(&kick.session_id)
            .map(|session| session.send(KickSession));
        Box::pin(async move {
            match kicked {
                Some(kicked) => kicked.await.unwrap_or(false),
                None => false,
            }
        })
    }
}

/// `admin.broadcast`: a `notice` to every logged-in session; how many got it.
#[derive(Debug, Message)]
#[rtype(result = "u64")]
pub struct Broadcast {
    /// The `notice` push.
    pub notice: Push,
}

impl Handler<Broadcast> for Listener {
    type Result = ResponseFuture<u64>;

    fn handle(&mut self, broadcast: Broadcast, _: &mut Context<Self>) -> Self::Result {
        let deliveries: Vec<_> = self
            .sessions
            .values()
            .map(|session| session.send(DeliverNotice(broadcast.notice.clone())))
            .collect();
        Box::pin(async move {
            futures::future::join_all(deliveries)
                .await
                .into_iter()
                .filter(|delivered| matches!(delivered, Ok(true)))
                .count() as u64
        })
    }
}

/// An account was deleted: its sessions end with `bye kicked`; how many.
#[derive(Debug, Message)]
#[rtype(result = "u64")]
pub struct EndAccountSessions {
    /// The deleted account's id.
    pub user_id: i64,
}

impl Handler<EndAccountSessions> for Listener {
    type Result = ResponseFuture<u64>;

    fn handle(&mut self, end: EndAccountSessions, _: &mut Context<Self>) -> Self::Result {
        let ends: Vec<_> = self
            .sessions
            .values()
            .map(|session| {
                session.send(AccountDeleted {
                    user_id: end.user_id,
                })
            })
            .collect();
        Box::pin(async move {
            futures::future::join_all(ends)
                .await
                .into_iter()
                .filter(|ended| matches!(ended, Ok(true)))
                .count() as u64
        })
    }
}

/// An account's role changed: its live sessions take it at once.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct AccountRoleChanged {
    /// The account's id.
    pub user_id: i64,
    /// The new role.
    pub role: Role,
}

impl Handler<AccountRoleChanged> for Listener {
    type Result = ();

    fn handle(&mut self, changed: AccountRoleChanged, _: &mut Context<Self>) {
        for session in self.sessions.values() {
            session.do_send(AccountRole {
                user_id: changed.user_id,
                role: changed.role,
            });
        }
    }
}

/// A connection's place in the limits; given back when dropped.
pub struct ConnectionPermit {
    listener: Addr<Listener>,
    id: u64,
    ip: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.listener.do_send(ConnectionEnded {
            id: self.id,
            ip: self.ip,
        });
    }
}

/// A connection has ended (its permit was dropped).
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct ConnectionEnded {
    id: u64,
    ip: IpAddr,
}

impl Handler<ConnectionEnded> for Listener {
    type Result = ();

    fn handle(&mut self, ended: ConnectionEnded, _: &mut Context<Self>) {
        self.sessions.remove(&ended.id);
        self.connections = self.connections.saturating_sub(1);
        if let Some(count) = self.per_address.get_mut(&ended.ip) {
            *count -= 1;
            if *count == 0 {
                self.per_address.remove(&ended.ip);
            }
        }
        self.finish_if_empty();
    }
}

/// Starts the graceful shutdown of §6: stop accepting, tell every session,
/// and stop for good after the grace (and a little slack for the `bye`s).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown {
    /// The text of the `shutdown` push.
    pub message: String,
    /// How long running requests may take.
    pub grace: Duration,
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
        let notice = ShutdownNotice {
            message: shutdown.message,
            grace: shutdown.grace,
        };
        for session in self.sessions.values() {
            session.do_send(notice.clone());
        }
        self.shutdown = Some(notice);
        ctx.run_later(shutdown.grace + SHUTDOWN_SLACK, |listener, _| {
            if let Some(stopped) = listener.stopped.take() {
                log::warn!(target: "connection", "{} connection(s) still open after the grace; stopping anyway",
                    listener.connections);
                let _ = stopped.send(());
            }
        });
        self.finish_if_empty();
    }
}
