//! What the listener asks of a session (the messages of the
//! [`hub`](crate::actors::hub)): describe itself, close, deliver a notice,
//! follow its account's deletion or role change, shut down.

use actix::prelude::*;

use super::Session;
use crate::actors::hub::{
    AccountDeleted, AccountRole, DeliverNotice, Describe, KickSession, Shutdown,
};
use crate::protocol::response::SessionInfo;
use crate::protocol::{ByeReason, ErrorCode, Push, Role, WireError};

impl Handler<Describe> for Session {
    type Result = MessageResult<Describe>;

    fn handle(&mut self, _: Describe, _: &mut Context<Self>) -> Self::Result {
        MessageResult(SessionInfo {
            session_id: self.id,
            username: self.login.as_ref().map(|login| login.username.clone()),
            peer: self.peer.to_string(),
            connected_s: self.connected.elapsed().as_secs(),
            idle_s: self.idle.quiet_for().as_secs(),
            requests: self.requests,
        })
    }
}

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

impl Handler<AccountDeleted> for Session {
    type Result = bool;

    fn handle(&mut self, deleted: AccountDeleted, ctx: &mut Context<Self>) -> bool {
        let mine = self
            .login
            .as_ref()
            .is_some_and(|login| login.user_id == deleted.user_id);
        if mine && !self.closing {
            log::info!(target: "admin", "{}: the account was deleted", self.log);
            // §5: its tails end with their `ok` before the `bye`.
            self.end_tails(ctx);
            self.bye(ByeReason::Kicked, ctx);
        }
        mine
    }
}

impl Handler<AccountRole> for Session {
    type Result = ();

    fn handle(&mut self, changed: AccountRole, ctx: &mut Context<Self>) {
        let Some(login) = self.login.as_mut() else {
            return;
        };
        if login.user_id != changed.user_id {
            return;
        }
        login.role = changed.role;
        if changed.role != Role::Admin {
            // §5: a tail ends when its account loses the admin role.
            self.end_tails(ctx);
        }
    }
}

impl Handler<Shutdown> for Session {
    type Result = ();

    fn handle(&mut self, notice: Shutdown, ctx: &mut Context<Self>) {
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
        if !self.outstanding.work_waiting() {
            self.end_tails(ctx);
            return self.bye(ByeReason::Shutdown, ctx);
        }
        ctx.run_later(notice.grace, |session, ctx| {
            let late = WireError::new(
                ErrorCode::ShuttingDown,
                "the server stopped before this request finished",
            );
            session.end_tails(ctx);
            for id in session.outstanding.waiting_ids(false) {
                if session.stop_waiting(id, ctx).is_some() {
                    session.send_error(id, &late);
                }
            }
            session.bye(ByeReason::Shutdown, ctx);
        });
    }
}
