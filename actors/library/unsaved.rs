//! Logins on a full disk.
//!
//! A login writes twice: `last_seen`, and its fresh resume token. Neither
//! may cost the login (PROTOCOL.md §5: a full disk never stops logins):
//! - the server keeps its own writes off the last GiB: `upload.begin` keeps
//!   the disk reserve free, counting what unfinished uploads will still
//!   write, and everything else it writes is small (≤ 1 MiB inline
//!   payloads) or moves bytes already counted (a finished upload becoming a
//!   sound is a rename). So the database finds its pages unless something
//!   other than the server filled the disk;
//! - when it does not, `last_seen` is skipped (a warning in the log), and
//!   the resume token is kept here, in memory, and written to the database
//!   by the next housekeeping that finds room. Until then it resumes like
//!   any other; a restart before that loses it, and its client logs in
//!   with the password instead.

use std::collections::HashMap;

use crate::store::{LoginSpan, Store, StoreResult};

/// The most tokens held in memory (about 100 bytes each): past it a login
/// still succeeds, but its token resumes nothing until the disk has room
/// again. Ten thousand is more logins than a LAN server sees while an
/// administrator frees its disk.
const MAX_UNSAVED_TOKENS: usize = 10_000;

/// A resume token the database could not take.
#[derive(Debug, Clone, Copy)]
struct UnsavedToken {
    user_id: i64,
    created_at: i64,
    ttl_ms: i64,
    login: LoginSpan,
}

impl UnsavedToken {
    /// When it stops resuming (Unix ms), as the database would record it.
    fn expires_at(&self) -> i64 {
        self.login.token_expiry(self.created_at, self.ttl_ms)
    }
}

/// Resume tokens waiting for room in the database, by digest.
#[derive(Debug, Default)]
pub(super) struct UnsavedTokens(HashMap<String, UnsavedToken>);

impl UnsavedTokens {
    /// Keeps a token the database refused; false when too many wait already.
    pub(super) fn keep(
        &mut self,
        user_id: i64,
        digest: &str,
        now_ms: i64,
        ttl_ms: i64,
        login: LoginSpan,
    ) -> bool {
        if self.0.len() >= MAX_UNSAVED_TOKENS {
            return false;
        }
        let token = UnsavedToken {
            user_id,
            created_at: now_ms,
            ttl_ms,
            login,
        };
        self.0.insert(digest.to_owned(), token);
        true
    }

    /// Spends the token with this digest: its user and login, if it is
    /// here and valid (its login not ended).
    pub(super) fn spend(&mut self, digest: &str, now_ms: i64) -> Option<(i64, LoginSpan)> {
        let token = self.0.remove(digest)?;
        (token.expires_at() > now_ms).then_some((token.user_id, token.login))
    }

    /// Forgets every token of a login (`logout`).
    pub(super) fn revoke_login(&mut self, login_id: i64) {
        self.0.retain(|_, token| token.login.login_id != login_id);
    }

    /// Forgets every token of a deleted account.
    pub(super) fn remove_user(&mut self, user_id: i64) {
        self.0.retain(|_, token| token.user_id != user_id);
    }

    /// How many wait.
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none waits.
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Writes what the database takes now, drops the expired ones; the
    /// first failure ends the attempt (the disk is still full).
    pub(super) fn flush(&mut self, store: &mut Store, now_ms: i64) -> StoreResult<usize> {
        self.0.retain(|_, token| token.expires_at() > now_ms);
        let mut written = 0;
        let digests: Vec<String> = self.0.keys().cloned().collect();
        for digest in digests {
            if let Some(token) = self.0.get(&digest).copied() {
                store.insert_token(
                    token.user_id,
                    &digest,
                    token.created_at,
                    token.ttl_ms,
                    token.login,
                )?;
                self.0.remove(&digest);
                written += 1;
            }
        }
        Ok(written)
    }
}
