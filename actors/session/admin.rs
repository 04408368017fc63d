//! The administration requests (`admin.*`, role `admin`), and the log tail:
//! an `admin.tail` subscribes to the log's
//! [`TailHub`](crate::logging::TailHub) and forwards its records as `log`
//! pushes. The hub drops (and counts) what the subscription's bounded queue
//! cannot hold, and the session drops (and counts) what its peer does not
//! read: while the [`Outbox`](crate::transport::Outbox) backlog exceeds
//! [`TAIL_BACKLOG_LIMIT`], records are dropped, never the server's memory
//! grown.
//!
//! A tail lives as long as the login that started it (§5): a `logout`, a
//! new login on the session, the account's demotion or deletion end it with
//! its `ok` and `dropped` (`Session::end_tails`), as `cancel` and the end
//! of a shutdown do.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use actix::prelude::*;

use super::{Pending, Session};
use crate::actors::hub::{
    AccountRoleChanged, Broadcast, EndAccountSessions, Kick, ListSessions, Shutdown,
    ADMIN_SHUTDOWN_MESSAGE, MAX_SHUTDOWN_GRACE,
};
use crate::actors::library::{DeleteUser, ListUsers, SetRole};
use crate::actors::metrics::StatsSource;
use crate::logging::{LogRecord, TAIL_QUEUE_LEN};
use crate::protocol::response::{BroadcastResult, SessionList, TailEnded, UserList};
use crate::protocol::{AdminRequest, Empty, ErrorCode, LogLevel, Push, WireError};

use super::ask;

/// Bytes a session may hold for its peer, encoded but not taken by the
/// socket, before it drops `log` pushes instead of queueing more: a tail's
/// reader that falls this far behind loses records (counted in `dropped`).
pub const TAIL_BACKLOG_LIMIT: u64 = 256 * 1024;

impl Session {
    /// An administration request (the session's role was checked).
    pub(super) fn admin(&mut self, id: u32, request: AdminRequest, ctx: &mut Context<Self>) {
        let library = self.services.library.clone();
        let listener = self.permit.listener().clone();
        match request {
            AdminRequest::Sessions(page) => self.track(
                id,
                async move {
                    let sessions = listener
                        .list
                        .send(ListSessions)
                        .await
                        .map_err(listener_gone)?;
                    let total = sessions.len() as u64;
                    let sessions = page.of(sessions);
                    Ok(SessionList { sessions, total })
                },
                ctx,
            ),
            AdminRequest::Stats => {
                let source = self.stats_source();
                self.track(id, async move { source.collect().await }, ctx)
            }
            AdminRequest::Kick(kick) => {
                log::info!(target: "admin", "{}: kicks session {}", self.log, kick.session_id);
                let kicked = listener.kick.send(Kick {
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
            AdminRequest::Users(page) => self.track(
                id,
                async move {
                    let users = ask(library.send(ListUsers {})).await?;
                    let total = users.len() as u64;
                    let users = page.of(users);
                    Ok(UserList { users, total })
                },
                ctx,
            ),
            AdminRequest::UserDelete(delete) => {
                log::info!(target: "admin", "{}: deletes account {}", self.log, delete.username);
                self.track(
                    id,
                    async move {
                        let user_id = ask(library.send(DeleteUser {
                            username: delete.username,
                        }))
                        .await?;
                        let ended = listener
                            .end_account
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
            AdminRequest::UserRole(change) => {
                log::info!(target: "admin", "{}: sets the role of {} to {}", self.log, change.username, change.role);
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
                            .role_changed
                            .send(AccountRoleChanged { user_id, role })
                            .await
                            .map_err(listener_gone)?;
                        Ok(Empty {})
                    },
                    ctx,
                )
            }
            AdminRequest::Broadcast(broadcast) => {
                log::info!(target: "admin", "{}: broadcasts a {} notice", self.log, broadcast.priority);
                let notice = Push::notice(broadcast.message, broadcast.priority, SystemTime::now());
                let delivered = listener.broadcast.send(Broadcast { notice });
                self.track(
                    id,
                    async move {
                        let delivered = delivered.await.map_err(listener_gone)?;
                        Ok(BroadcastResult { delivered })
                    },
                    ctx,
                )
            }
            AdminRequest::Tail(tail) => self.start_tail(id, tail.level, ctx),
            AdminRequest::Shutdown(shutdown) => {
                let grace = shutdown.grace().min(MAX_SHUTDOWN_GRACE);
                log::info!(target: "admin", "{}: shuts the server down, grace {grace:?}", self.log);
                self.send_ok(id, Empty {});
                listener.shutdown.do_send(Shutdown {
                    message: ADMIN_SHUTDOWN_MESSAGE.to_owned(),
                    grace,
                });
            }
        }
    }

    /// Where `admin.stats` reads its figures.
    fn stats_source(&self) -> StatsSource {
        StatsSource {
            listener: self.permit.listener().list.clone(),
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
            self.log
        );
        log::info!(target: "admin", "{start}");
        let first = LogRecord {
            time: SystemTime::now(),
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
        self.outstanding
            .wait(id, Pending::Tail { records, dropped });
    }

    /// Answers every open tail `ok` with what it dropped.
    pub(super) fn end_tails(&mut self, ctx: &mut Context<Self>) {
        for id in self.outstanding.waiting_ids(true) {
            self.end_tail(id, ctx);
        }
    }

    /// Ends tail `id` with its final `ok` and `dropped`.
    pub(super) fn end_tail(&mut self, id: u32, ctx: &mut Context<Self>) {
        if let Some(Pending::Tail { dropped, .. }) = self.stop_waiting(id, ctx) {
            let dropped = dropped.load(Ordering::Relaxed);
            self.send_ok(id, TailEnded { dropped });
        }
    }
}

fn listener_gone(err: MailboxError) -> WireError {
    WireError::internal(format!("listener unreachable: {err}"))
}

/// One record for the running tail `id`.
struct TailItem {
    id: u32,
    record: LogRecord,
}

impl StreamHandler<TailItem> for Session {
    fn handle(&mut self, item: TailItem, _: &mut Context<Self>) {
        if self.closing {
            return;
        }
        let Some(Pending::Tail { dropped, .. }) = self.outstanding.pending(item.id) else {
            return;
        };
        if self.outbox.backlog() > TAIL_BACKLOG_LIMIT {
            // The peer is not reading: drop the record, as a full queue would.
            dropped.fetch_add(1, Ordering::Relaxed);
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
