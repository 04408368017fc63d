//! Resume tokens, stored only as their SHA-256 digest (see
//! [`crate::crypto::token_digest`]), single-use, and kept across restarts.

use diesel::prelude::*;

use super::models::{NewToken, UserRecord, UserRow};
use super::schema::{resume_tokens, users};
use super::{Store, StoreResult};

impl Store {
    /// Stores a token digest for `user_id`, valid from `now_ms` for `ttl_ms`.
    pub fn insert_token(
        &mut self,
        user_id: i64,
        digest: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<()> {
        diesel::insert_into(resume_tokens::table)
            .values(&NewToken {
                user_id,
                token_digest: digest,
                created_at: now_ms,
                expires_at: now_ms.saturating_add(ttl_ms),
            })
            .execute(&mut self.conn)?;
        Ok(())
    }

    /// Spends the token with this digest: it is deleted in the same
    /// transaction that reads it, so it works once. Returns its user, or
    /// `None` when it is unknown, spent, or expired (an expired one is
    /// deleted too).
    pub fn consume_token(&mut self, digest: &str, now_ms: i64) -> StoreResult<Option<UserRow>> {
        self.conn.immediate_transaction(|c| {
            let token: Option<(i64, i64, i64)> = resume_tokens::table
                .filter(resume_tokens::token_digest.eq(digest))
                .select((
                    resume_tokens::id,
                    resume_tokens::user_id,
                    resume_tokens::expires_at,
                ))
                .first(c)
                .optional()?;
            let Some((id, user_id, expires_at)) = token else {
                return Ok(None);
            };
            diesel::delete(resume_tokens::table.find(id)).execute(c)?;
            if expires_at <= now_ms {
                return Ok(None);
            }
            users::table
                .find(user_id)
                .select(UserRecord::as_select())
                .first(c)
                .optional()?
                .map(UserRow::try_from)
                .transpose()
        })
    }

    /// Revokes the token with this digest (at `logout`); whether it existed.
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

    #[test]
    fn a_token_is_single_use() {
        let (_dir, mut store) = open_in();
        let u = store.create_user("ann", "h", Role::User).unwrap();
        let d = token_digest("secret-token");
        assert_eq!(d.len(), 64);
        store.insert_token(u.id, &d, 1_000, 500).unwrap();
        assert_eq!(store.consume_token(&d, 1_100).unwrap().unwrap().id, u.id);
        assert!(store.consume_token(&d, 1_100).unwrap().is_none());
        assert!(store.consume_token("unknown", 1_100).unwrap().is_none());
    }

    #[test]
    fn an_expired_token_is_refused_and_deleted() {
        let (_dir, mut store) = open_in();
        let u = store.create_user("ann", "h", Role::User).unwrap();
        store.insert_token(u.id, "d", 1_000, 500).unwrap();
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
        store.insert_token(u.id, "a", 0, 100).unwrap();
        store.insert_token(u.id, "b", 0, 200).unwrap();
        store.insert_token(u.id, "c", 0, 300).unwrap();
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
        store.insert_token(u.id, "kept", 0, far).unwrap();
        store.insert_token(u.id, "stale", 0, 1).unwrap();
        drop(store);
        let mut store = Store::open(dir.path()).unwrap();
        assert!(
            !store.revoke_token("stale").unwrap(),
            "expired ones purged at open"
        );
        let again = store.consume_token("kept", 10).unwrap().unwrap();
        assert_eq!(again.username, "ann");
    }
}
