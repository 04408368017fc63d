//! The messages between the listener and the sessions, and the handles each
//! side keeps of the other: a [`SessionHandle`] (what the listener asks of a
//! session) and a [`ListenerHandle`] (what a session asks of the listener,
//! for the requests that concern every session). Both are sets of
//! `Recipient`s, so neither actor names the other's type and the imports
//! among actor files stay one way: `listener` → `session` → `metrics` →
//! `hub`.
//!
//! A session is listed by the listener before its handshake's answer goes
//! out, and unlisted when its [`ConnectionPermit`] is dropped, whatever ends
//! the connection.

use std::net::IpAddr;
use std::time::Duration;

use actix::prelude::*;

use crate::protocol::response::SessionInfo;
use crate::protocol::{Push, Role};

// ----- what the listener asks of a session -----

/// Describes the session for `admin.sessions`.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "SessionInfo")]
pub struct Describe;

/// `admin.kick`: `bye kicked`, then close; whether the session was open
/// (not closing already).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "bool")]
pub struct KickSession;

/// An `admin.broadcast` notice: sent if the session is logged in (and not
/// closing); whether it was.
#[derive(Debug, Clone, Message)]
#[rtype(result = "bool")]
pub struct DeliverNotice(pub Push);

/// An account was deleted: a session logged in as it ends with `bye
/// kicked`; whether this one did.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "bool")]
pub struct AccountDeleted {
    /// The deleted account's id.
    pub user_id: i64,
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

/// The text of the `shutdown` push when the server stops on a signal.
pub const SHUTDOWN_MESSAGE: &str = "the server is shutting down";
/// The text of the `shutdown` push after `admin.shutdown`.
pub const ADMIN_SHUTDOWN_MESSAGE: &str =
    "the server is shutting down at an administrator's request";
/// The longest grace a shutdown takes (a larger `grace_s` is cut to it).
pub const MAX_SHUTDOWN_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The graceful shutdown of §6. To the listener: stop accepting, tell every
/// session, and stop for good after the grace. To a session: push
/// `shutdown`, refuse new requests, give the running ones `grace`, then
/// `bye`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Shutdown {
    /// The text of the `shutdown` push.
    pub message: String,
    /// How long running requests may take.
    pub grace: Duration,
}

/// How the listener reaches one session.
#[derive(Clone)]
pub struct SessionHandle {
    /// `admin.sessions`.
    pub describe: Recipient<Describe>,
    /// `admin.kick`.
    pub kick: Recipient<KickSession>,
    /// `admin.broadcast`.
    pub notice: Recipient<DeliverNotice>,
    /// `admin.user.delete`.
    pub account_deleted: Recipient<AccountDeleted>,
    /// `admin.user.role`.
    pub account_role: Recipient<AccountRole>,
    /// The server's shutdown.
    pub shutdown: Recipient<Shutdown>,
}

impl SessionHandle {
    /// The handle of an actor that takes every message of a session.
    pub fn of<A>(session: &Addr<A>) -> Self
    where
        A: Actor<Context = Context<A>>
            + Handler<Describe>
            + Handler<KickSession>
            + Handler<DeliverNotice>
            + Handler<AccountDeleted>
            + Handler<AccountRole>
            + Handler<Shutdown>,
    {
        SessionHandle {
            describe: session.clone().recipient(),
            kick: session.clone().recipient(),
            notice: session.clone().recipient(),
            account_deleted: session.clone().recipient(),
            account_role: session.clone().recipient(),
            shutdown: session.clone().recipient(),
        }
    }
}

// ----- what a session asks of the listener -----

/// Describes every session (`admin.sessions`, `admin.stats`), by session id.
#[derive(Debug, Message)]
#[rtype(result = "Vec<SessionInfo>")]
pub struct ListSessions;

/// `admin.kick`: ends session `session_id` with `bye kicked`. Whether it exists.
#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub struct Kick {
    /// The session to end.
    pub session_id: u64,
}

/// `admin.broadcast`: a `notice` to every logged-in session; how many got it.
#[derive(Debug, Message)]
#[rtype(result = "u64")]
pub struct Broadcast {
    /// The `notice` push.
    pub notice: Push,
}

/// An account was deleted: its sessions end with `bye kicked`; how many.
#[derive(Debug, Message)]
#[rtype(result = "u64")]
pub struct EndAccountSessions {
    /// The deleted account's id.
    pub user_id: i64,
}

/// An account's role changed: its live sessions take it at once. Answered
/// once every session has taken it, so that the `ok` of `admin.user.role`
/// comes after (sessions run on several threads).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct AccountRoleChanged {
    /// The account's id.
    pub user_id: i64,
    /// The new role.
    pub role: Role,
}

/// A connection has ended (its permit was dropped).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ConnectionEnded {
    /// The session id of the connection.
    pub id: u64,
    /// Its peer's address.
    pub ip: IpAddr,
}

/// A connection's session logged in for the first time: it no longer
/// counts against its address's pre-login limit (§7).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ConnectionLoggedIn {
    /// The session id of the connection.
    pub id: u64,
}

/// How a session reaches the listener.
#[derive(Clone)]
pub struct ListenerHandle {
    /// `admin.sessions`, `admin.stats`.
    pub list: Recipient<ListSessions>,
    /// `admin.kick`.
    pub kick: Recipient<Kick>,
    /// `admin.broadcast`.
    pub broadcast: Recipient<Broadcast>,
    /// `admin.user.delete`.
    pub end_account: Recipient<EndAccountSessions>,
    /// `admin.user.role`.
    pub role_changed: Recipient<AccountRoleChanged>,
    /// `admin.shutdown`.
    pub shutdown: Recipient<Shutdown>,
    /// The end of a connection.
    pub ended: Recipient<ConnectionEnded>,
    /// A connection's first login.
    pub logged_in: Recipient<ConnectionLoggedIn>,
}

impl ListenerHandle {
    /// The handle of an actor that takes every message of a listener.
    pub fn of<A>(listener: &Addr<A>) -> Self
    where
        A: Actor<Context = Context<A>>
            + Handler<ListSessions>
            + Handler<Kick>
            + Handler<Broadcast>
            + Handler<EndAccountSessions>
            + Handler<AccountRoleChanged>
            + Handler<Shutdown>
            + Handler<ConnectionEnded>
            + Handler<ConnectionLoggedIn>,
    {
        ListenerHandle {
            list: listener.clone().recipient(),
            kick: listener.clone().recipient(),
            broadcast: listener.clone().recipient(),
            end_account: listener.clone().recipient(),
            role_changed: listener.clone().recipient(),
            shutdown: listener.clone().recipient(),
            ended: listener.clone().recipient(),
            logged_in: listener.clone().recipient(),
        }
    }
}

/// A connection's place in the listener's limits; given back when dropped.
pub struct ConnectionPermit {
    listener: ListenerHandle,
    id: u64,
    ip: IpAddr,
    logged_in: bool,
}

impl ConnectionPermit {
    /// The place of connection `id` from `ip`.
    pub fn new(listener: ListenerHandle, id: u64, ip: IpAddr) -> Self {
        ConnectionPermit {
            listener,
            id,
            ip,
            logged_in: false,
        }
    }

    /// The connection's session has logged in: from now on it counts only
    /// in its address's limit of all connections. Said once, whatever
    /// logins follow (a logout does not make it a pre-login connection
    /// again: the login timer of §7 is over for it too).
    pub fn logged_in(&mut self) {
        if !self.logged_in {
            self.logged_in = true;
            self.listener
                .logged_in
                .do_send(ConnectionLoggedIn { id: self.id });
        }
    }

    /// The listener, for requests about every session (`admin.*`).
    pub fn listener(&self) -> &ListenerHandle {
        &self.listener
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.listener.ended.do_send(ConnectionEnded {
            id: self.id,
            ip: self.ip,
        });
    }
}
