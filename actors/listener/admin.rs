//! What the listener does for administrators and account changes: list,
//! kick and message every session, and end or update the sessions of an
//! account. Each asks every session and sums up the answers.

use super::*;

impl Listener {
    /// Sends `message()` to every session; resolves to the answers of the
    /// sessions that took it (one that ended meanwhile has none). Admin
    /// requests that concern every session go through here.
    fn ask_every_session<M>(
        &self,
        recipient: impl Fn(&SessionHandle) -> &Recipient<M>,
        message: impl Fn() -> M,
    ) -> impl std::future::Future<Output = Vec<M::Result>> + 'static
    where
        M: Message + Send + 'static,
        M::Result: Send,
    {
        let asks: Vec<_> = self
            .sessions
            .values()
            .map(|session| recipient(session).send(message()))
            .collect();
        async move {
            futures::future::join_all(asks)
                .await
                .into_iter()
                .filter_map(Result::ok)
                .collect()
        }
    }
}

/// How many sessions answered yes.
fn count_yes(answers: Vec<bool>) -> u64 {
    answers.into_iter().filter(|&yes| yes).count() as u64
}

impl Handler<ListSessions> for Listener {
    type Result = ResponseFuture<Vec<SessionInfo>>;

    fn handle(&mut self, _: ListSessions, _: &mut Context<Self>) -> Self::Result {
        let asks = self.ask_every_session(|session| &session.describe, || Describe);
        Box::pin(async move {
            let mut sessions = asks.await;
            sessions.sort_by_key(|s| s.session_id);
            sessions
        })
    }
}

impl Handler<Kick> for Listener {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, kick: Kick, _: &mut Context<Self>) -> Self::Result {
        // A session that is closing already (kicked, timed out) counts as gone.
        let kicked = self
            .sessions
            .get(&kick.session_id)
            .map(|session| session.kick.send(KickSession));
        Box::pin(async move {
            match kicked {
                Some(kicked) => kicked.await.unwrap_or(false),
                None => false,
            }
        })
    }
}

impl Handler<Broadcast> for Listener {
    type Result = ResponseFuture<u64>;

    fn handle(&mut self, broadcast: Broadcast, _: &mut Context<Self>) -> Self::Result {
        let deliveries = self.ask_every_session(
            |session| &session.notice,
            || DeliverNotice(broadcast.notice.clone()),
        );
        Box::pin(async move { count_yes(deliveries.await) })
    }
}

impl Handler<EndAccountSessions> for Listener {
    type Result = ResponseFuture<u64>;

    fn handle(&mut self, end: EndAccountSessions, _: &mut Context<Self>) -> Self::Result {
        let ends = self.ask_every_session(
            |session| &session.account_deleted,
            || AccountDeleted {
                user_id: end.user_id,
            },
        );
        Box::pin(async move { count_yes(ends.await) })
    }
}

impl Handler<AccountRoleChanged> for Listener {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, changed: AccountRoleChanged, _: &mut Context<Self>) -> Self::Result {
        let updates = self.ask_every_session(
            |session| &session.account_role,
            || AccountRole {
                user_id: changed.user_id,
                role: changed.role,
            },
        );
        Box::pin(async move {
            updates.await;
        })
    }
}
