//! Resume tokens, stored only as their SHA-256 digest (see
//! [`crate::crypto::token_digest`]), single-use, and kept across restarts.
//!
//! Every token belongs to a login ([`LoginSpan`]): the one a password
//! began, which each resume carries on with a fresh token. A logout revokes
//! all of a login's tokens, and no token outlives the login's end, however
//! often it is resumed.

use diesel::prelude::*;

use super::models::{NewToken, UserRecord, UserRow};
use super::schema::{resume_tokens, users};
use super::{Store, StoreResult};

/// The login a resume token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginSpan {
    /// Shared by every token of the login (random, chosen at the login).
    pub login_id: i64,
    /// When the login ends (Unix ms): its tokens expire by then at the latest.
    pub ends_at_ms: i64,
}

impl LoginSpan {
    /// When a token made at `now_ms` for `ttl_ms` expires (Unix ms): after
    /// its lifetime, but never past the end of the login.
    pub fn token_expiry(&self, now_ms: i64, ttl_ms: i64) -> i64 {
        now_ms.saturating_add(ttl_ms).min(self.ends_at_ms)
    }
}

impl Store {
    /// Stores a token digest for `user_id`, valid from `now_ms` for `ttl_ms`
    /// but never past the end of its `login`.
    pub fn insert_token(
        &mut self,
        user_id: i64,
        digest: &str,
        now_ms: i64,
        ttl_ms: i64,
        login: LoginSpan,
    ) -> StoreResult<()> {
        diesel::insert_into(resume_tokens::table)
            .values(&NewToken {
                user_id,
                token_digest: digest,
                created_at: now_ms,
                expires_at: login.token_expiry(now_ms, ttl_ms),
                login_id: login.login_id,
                login_ends_at: login.ends_at_ms,
            })
            .execute(&mut self.conn)?;
        Ok(())
    }

    /// Spends the token with this digest: it is deleted in the same
    /// transaction that reads it, so it works once. Returns its user and
    /// login, or `None` when it is unknown, spent, or expired (an expired
    /// one is deleted too).
    pub fn consume_token(
        &mut self,
        digest: &str,
        now_ms: i64,
    ) -> StoreResult<Option<(UserRow, LoginSpan)>> {
        self.conn.immediate_transaction(|c| {
            let token: Option<(i64, i64, i64, i64, i64)> = resume_tokens::table
                .filter(resume_tokens::token_digest.eq(digest))
                .select((
                    resume_tokens::id,
                    resume_tokens::user_id,
                    resume_tokens::expires_at,
                    resume_tokens::login_id,
                    resume_tokens::login_ends_at,
                ))
                .first(c)
                .optional()?;
            let Some((id, user_id, expires_at, login_id, ends_at_ms)) = token else {
                return Ok(None);
            };
            diesel::delete(resume_tokens::table.find(id)).execute(c)?;
            if expires_at <= now_ms || ends_at_ms <= now_ms {
                return Ok(None);
            }
            let login = LoginSpan {
                login_id,
                ends_at_ms,
            };
            let user = users::table
                .find(user_id)
                .select(UserRecord::as_select())
                .first(c)
                .optional()?
                .map(UserRow::try_from)
                .transpose()?;
            Ok(user.map(|user| (user, login)))
        })
    }

    /// Revokes every token of login `login_id` (at `logout`); how many.
    pub fn revoke_login(&mut self, login_id: i64) -> StoreResult<usize> {
        Ok(
            diesel::delete(resume_tokens::table.filter(resume_tokens::login_id.eq(login_id)))
                .execute(&mut self.conn)?,
        )
    }

    /// Revokes the token with this digest; whether it existed.
    pub fn revoke_token(&mut self, digest: &str) -> StoreResult<bool> {
        let n = diesel::delete(resume_tokens::table.filter(resume_tokens::token_digest.eq(digest)))
            .execute(&mut self.conn)?;
        Ok(n > 0)
    }

    /// Deletes every token expired at `now_ms`; returns how many.
    pub fn purge_expired_tokens(&mut self, now_ms: i64) -> StoreResult<usize> {
        Ok(
            diesel::delete(resume_tokens::table.filter(resume_tokens::expires_at.le(now_ms)))
                .execute(&mut self.conn)?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::open::tests::open_in;
    use super::super::Role;
    use super::*;
    use crate::crypto::token_digest;

    /// A login that never ends by itself.
    const FOREVER: LoginSpan = LoginSpan {
        login_id: 7,
        ends_at_ms: i64::MAX,
    };

    #[test]
    fn a_token_is_single_use() {
        let (_dir, mut store) = open_in();
        let u = store.create_user("ann", "h", Role::User).unwrap();
        let d = token_digest("secret-token");
        assert_eq!(d.len(), 64);
        store.insert_token(u.id, &d, 1_000, 500, FOREVER).unwrap();
        let (user, login) = store.consume_token(&d, 1_100).unwrap().unwrap();
        assert_eq!((user.id, login), (u.id, FOREVER));
        assert!(store.consume_token(&d, 1_100).unwrap().is_none());
        assert!(store.consume_token("unknown", 1_100).unwrap().is_none());
    }

    #[test]
    fn an_expired_token_is_refused_and_deleted() {
        let (_dir, mut store) = open_in();
        let u = store.create_user("ann", "h", Role::User).unwrap();
        store.insert_token(u.id, "d", 1_000, 500, FOREVER).unwrap();
        assert!(store.consume_token("d", 1_500).unwrap().is_none());
        assert!(
            !store.revoke_token("d").unwrap(),
            "deleted when found expired"
        );
    }

    #[test]
    fn revoke_and_purge() {
        let (_dir, mut store) = open_in();
        let u = store.create_user("ann", "h", Role::User).unwrap();
        store.insert_token(u.id, "a", 0, 100, FOREVER).unwrap();
        store.insert_token(u.id, "b", 0, 200, FOREVER).unwrap();
        store.insert_token(u.id, "c", 0, 300, FOREVER).unwrap();
        assert!(store.revoke_token("a").unwrap());
        assert!(store.consume_token("a", 1).unwrap().is_none());
        assert_eq!(store.purge_expired_tokens(250).unwrap(), 1);
        assert!(store.consume_token("b", 1).unwrap().is_none());
        assert!(store.consume_token("c", 1).unwrap().is_some());
    }

    #[test]
    fn tokens_survive_a_reopen() {
        let (dir, mut store) = open_in();
        let u = store.create_user("ann", "h", Role::User).unwrap();
        let far = super::super::files::now_ms() + 86_400_000;
        store.insert_token(u.id, "kept", 0, far, FOREVER).unwrap();
        store.insert_token(u.id, "stale", 0, 1, FOREVER).unwrap();
        drop(store);
        let mut store = Store::open(dir.path()).unwrap();
        assert!(
            !store.revoke_token("stale").unwrap(),
            "expired ones purged at open"
        );
        let (again, _) = store.consume_token("kept", 10).unwrap().unwrap();
        assert_eq!(again.username, "ann");
    }

    #[test]
    fn a_logout_revokes_every_token_of_its_login_only() {
        let (_dir, mut store) = open_in();
        let u = store.create_user("ann", "h", Role::User).unwrap();
        let other = LoginSpan {
            login_id: 8,
            ..FOREVER
        };
        store.insert_token(u.id, "first", 0, 100, FOREVER).unwrap();
        store
            .insert_token(u.id, "resumed", 0, 100, FOREVER)
            .unwrap();
        store.insert_token(u.id, "phone", 0, 100, other).unwrap();
        assert_eq!(store.revoke_login(FOREVER.login_id).unwrap(), 2);
        assert!(store.consume_token("first", 1).unwrap().is_none());
        assert!(store.consume_token("resumed", 1).unwrap().is_none());
        assert!(store.consume_token("phone", 1).unwrap().is_some());
    }

    #[test]
    fn no_token_outlives_its_login() {
        let (_dir, mut store) = open_in();
        let u = store.create_user("ann", "h", Role::User).unwrap();
        let login = LoginSpan {
            login_id: 9,
            ends_at_ms: 1_000,
        };
        // A day's ttl from 900 is cut to the login's end at 1,000.
        store
            .insert_token(u.id, "late", 900, 86_400_000, login)
            .unwrap();
        assert!(store.consume_token("late", 1_000).unwrap().is_none());
        store
            .insert_token(u.id, "early", 900, 86_400_000, login)
            .unwrap();
        assert_eq!(store.consume_token("early", 999).unwrap().unwrap().1, login);
    }
}
