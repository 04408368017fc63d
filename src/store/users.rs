//! Accounts: creation, lookup, roles, the admin list, and deletion.

use std::collections::HashMap;

use diesel::dsl::count_star;
use diesel::prelude::*;

use super::files::{now_ms, remove_quietly};
use super::models::{NewUser, Role, UserRecord, UserRow, UserSummary};
use super::open::is_unique_violation;
use super::schema::{resume_tokens, sounds, users};
use super::{Store, StoreError, StoreResult};

/// The uniqueness key of a username: its ASCII lowercase (usernames are ASCII
/// by the protocol's rule, so this is full case folding for them).
pub(crate) fn username_key(username: &str) -> String {
    username.to_ascii_lowercase()
}

impl Store {
    /// Creates an account. `username` is kept as written; it must be unique
    /// without regard to case, else [`StoreError::UsernameTaken`]. The caller
    /// has checked its syntax and hashed the password.
    pub fn create_user(
        &mut self,
        username: &str,
        password_hash: &str,
        role: Role,
    ) -> StoreResult<UserRow> {
        let key = username_key(username);
        let new = NewUser {
            username,
            username_key: &key,
            password_hash,
            role: role.as_str(),
            created_at: now_ms(),
        };
        let record = diesel::insert_into(users::table)
            .values(&new)
            .returning(UserRecord::as_returning())
            .get_result(&mut self.conn)
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::UsernameTaken
                } else {
                    StoreError::Database(e)
                }
            })?;
        log::info!(target: "auth", "created {} account {username}", role.as_str());
        UserRow::try_from(record)
    }

    /// The account called `username` in any case, if there is one.
    pub fn find_user(&mut self, username: &str) -> StoreResult<Option<UserRow>> {
        users::table
            .filter(users::username_key.eq(username_key(username)))
            .select(UserRecord::as_select())
            .first(&mut self.conn)
            .optional()?
            .map(UserRow::try_from)
            .transpose()
    }

    /// The account with database id `user_id`, if it still exists.
    pub fn user_by_id(&mut self, user_id: i64) -> StoreResult<Option<UserRow>> {
        users::table
            .find(user_id)
            .select(UserRecord::as_select())
            .first(&mut self.conn)
            .optional()?
            .map(UserRow::try_from)
            .transpose()
    }

    /// Records a login or resume at `now_ms`. [`StoreError::NotFound`] if the
    /// account is gone.
    pub fn touch_last_seen(&mut self, user_id: i64, now_ms: i64) -> StoreResult<()> {
        let n = diesel::update(users::table.find(user_id))
            .set(users::last_seen.eq(Some(now_ms)))
            .execute(&mut self.conn)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Changes the role of `username` (any case). [`StoreError::NotFound`] if
    /// there is no such account; [`StoreError::LastAdmin`] (and no change) if
    /// it is the only admin and `role` is not admin. The check and the change
    /// are one transaction, so two demotions at once cannot both pass it.
    pub fn set_role(&mut self, username: &str, role: Role) -> StoreResult<()> {
        let key = username_key(username);
        self.conn.immediate_transaction(|c| {
            let current: String = users::table
                .filter(users::username_key.eq(&key))
                .select(users::role)
                .first(c)
                .optional()?
                .ok_or(StoreError::NotFound)?;
            if role != Role::Admin && current == Role::Admin.as_str() {
                refuse_if_last_admin(c)?;
            }
            diesel::update(users::table.filter(users::username_key.eq(&key)))
                .set(users::role.eq(role.as_str()))
                .execute(c)?;
            Ok::<_, StoreError>(())
        })?;
        log::info!(target: "admin", "role of {username} set to {role}");
        Ok(())
    }

    /// Every account with its number of saved sounds, ordered by username
    /// (case-insensitively), for `admin.users`.
    pub fn list_users(&mut self) -> StoreResult<Vec<UserSummary>> {
        let counts: HashMap<i64, i64> = sounds::table
            .group_by(sounds::user_id)
            .select((sounds::user_id, count_star()))
            .load::<(i64, i64)>(&mut self.conn)?
            .into_iter()
            .collect();
        let records: Vec<UserRecord> = users::table
            .order(users::username_key.asc())
            .select(UserRecord::as_select())
            .load(&mut self.conn)?;
        records
            .into_iter()
            .map(|r| {
                let sounds = counts.get(&r.id).copied().unwrap_or(0);
                let user = UserRow::try_from(r)?;
                Ok(UserSummary {
                    username: user.username,
                    role: user.role,
                    created_at: user.created_at,
                    last_seen: user.last_seen,
                    sounds,
                })
            })
            .collect()
    }

    /// Deletes the account `username` (any case) with its sounds, their files,
    /// and its resume tokens. [`StoreError::NotFound`] if there is no such
    /// account; [`StoreError::LastAdmin`] (and nothing deleted) if it is the
    /// only admin, checked in the same transaction as the deletion.
    ///
    /// Ordering: every row goes in ONE transaction, and only after it commits
    /// are the files removed. A crash before the commit leaves the account
    /// whole; a crash after it leaves only files that no row names, which the
    /// next [`Store::open`] removes. The reverse order could leave rows
    /// pointing at missing files, which nothing can repair.
    pub fn delete_user(&mut self, username: &str) -> StoreResult<()> {
        let key = username_key(username);
        let file_ids = self.conn.immediate_transaction(|c| {
            let (user_id, role): (i64, String) = users::table
                .filter(users::username_key.eq(&key))
                .select((users::id, users::role))
                .first(c)
                .optional()?
                .ok_or(StoreError::NotFound)?;
            if role == Role::Admin.as_str() {
                refuse_if_last_admin(c)?;
            }
            let file_ids: Vec<String> = sounds::table
                .filter(sounds::user_id.eq(user_id))
                .select(sounds::file_id)
                .load(c)?;
            // ON DELETE CASCADE would do these two; being explicit keeps the
            // deletion correct even on a connection without foreign keys.
            diesel::delete(sounds::table.filter(sounds::user_id.eq(user_id))).execute(c)?;
            diesel::delete(resume_tokens::table.filter(resume_tokens::user_id.eq(user_id)))
                .execute(c)?;
            diesel::delete(users::table.find(user_id)).execute(c)?;
            Ok::<_, StoreError>(file_ids)
        })?;
        for file_id in &file_ids {
            remove_quietly(&self.file_path(file_id));
        }
        log::info!(
            target: "admin",
            "deleted account {username} and {} sound(s)",
            file_ids.len()
        );
        Ok(())
    }
}

/// [`StoreError::LastAdmin`] if at most one account is an admin. Called
/// inside the transaction that would take an admin's rights away, so the count
/// cannot change between this check and that change.
fn refuse_if_last_admin(c: &mut SqliteConnection) -> StoreResult<()> {
    let admins: i64 = users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .select(count_star())
        .first(c)?;
    if admins <= 1 {
        return Err(StoreError::LastAdmin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::open::tests::{meta_for, open_in};
    use super::super::LoginSpan;
    use super::*;

    #[test]
    fn usernames_are_unique_without_regard_to_case_and_kept_as_written() {
        let (_dir, mut store) = open_in();
        let alice = store.create_user("Alice", "h1", Role::User).unwrap();
        assert_eq!(alice.username, "Alice");
        assert_eq!(alice.role, Role::User);
        assert!(alice.last_seen.is_none());
        assert!(matches!(
            store.create_user("aLICE", "h2", Role::Admin),
            Err(StoreError::UsernameTaken)
        ));
        let found = store.find_user("ALICE").unwrap().unwrap();
        assert_eq!(found, alice);
        assert_eq!(store.user_by_id(alice.id).unwrap().unwrap(), alice);
        assert!(store.find_user("bob").unwrap().is_none());
        assert!(store.user_by_id(alice.id + 100).unwrap().is_none());
    }

    #[test]
    fn debug_of_a_user_hides_the_hash() {
        let (_dir, mut store) = open_in();
        let u = store
            .create_user("carol", "$argon2id$secret", Role::User)
            .unwrap();
        assert!(!format!("{u:?}").contains("argon2"));
    }

    #[test]
    fn roles_last_seen_and_the_admin_list() {
        let (_dir, mut store) = open_in();
        let bob = store.create_user("bob", "h", Role::User).unwrap();
        let amy = store.create_user("Amy", "h", Role::Admin).unwrap();
        store.touch_last_seen(bob.id, 1234).unwrap();
        store.set_role("BOB", Role::Admin).unwrap();
        assert!(matches!(
            store.set_role("nobody", Role::Admin),
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.touch_last_seen(9999, 1),
            Err(StoreError::NotFound)
        ));
        store
            .save_sound_bytes(bob.id, "a", b"aa", meta_for(b"aa"), false)
            .unwrap();
        store
            .save_sound_bytes(bob.id, "b", b"bb", meta_for(b"bb"), false)
            .unwrap();
        let list = store.list_users().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].username, "Amy");
        assert_eq!(list[0].role, Role::Admin);
        assert_eq!(list[0].sounds, 0);
        assert_eq!(list[0].last_seen, None);
        assert_eq!(list[0].created_at, amy.created_at);
        assert_eq!(list[1].username, "bob");
        assert_eq!(list[1].role, Role::Admin);
        assert_eq!(list[1].sounds, 2);
        assert_eq!(list[1].last_seen, Some(1234));
    }

    #[test]
    fn delete_user_removes_rows_tokens_and_files() {
        let (_dir, mut store) = open_in();
        let dan = store.create_user("Dan", "h", Role::User).unwrap();
        let eve = store.create_user("eve", "h", Role::User).unwrap();
        let s1 = store
            .save_sound_bytes(dan.id, "one", b"111", meta_for(b"111"), false)
            .unwrap();
        let s2 = store
            .save_sound_bytes(dan.id, "two", b"222", meta_for(b"222"), false)
            .unwrap();
        let keep = store
            .save_sound_bytes(eve.id, "one", b"333", meta_for(b"333"), false)
            .unwrap();
        let login = LoginSpan {
            login_id: 1,
            ends_at_ms: i64::MAX,
        };
        store
            .insert_token(dan.id, "d1", 0, 1_000_000, login)
            .unwrap();
        store
            .insert_token(eve.id, "e1", 0, 1_000_000, login)
            .unwrap();

        store.delete_user("dan").unwrap();
        assert!(store.find_user("Dan").unwrap().is_none());
        assert!(store.list_sounds(dan.id).unwrap().is_empty());
        assert!(!store.sound_path(&s1).exists());
        assert!(!store.sound_path(&s2).exists());
        assert!(store.consume_token("d1", 1).unwrap().is_none());
        // Others are untouched.
        assert!(store.sound_path(&keep).exists());
        assert_eq!(store.consume_token("e1", 1).unwrap().unwrap().0.id, eve.id);
        assert!(matches!(
            store.delete_user("dan"),
            Err(StoreError::NotFound)
        ));
        // The name is free again.
        store.create_user("DAN", "h", Role::User).unwrap();
    }

    #[test]
    fn the_last_admin_can_be_neither_demoted_nor_deleted() {
        let (_dir, mut store) = open_in();
        store.create_user("Root", "h", Role::Admin).unwrap();
        store.create_user("bob", "h", Role::User).unwrap();
        let only_admin = |store: &mut Store| -> Vec<(String, Role)> {
            store
                .list_users()
                .unwrap()
                .into_iter()
                .map(|u| (u.username, u.role))
                .collect()
        };
        let before = only_admin(&mut store);

        // Demoting or deleting the only admin (in any case) changes nothing.
        assert!(matches!(
            store.set_role("root", Role::User),
            Err(StoreError::LastAdmin)
        ));
        assert!(matches!(
            store.delete_user("ROOT"),
            Err(StoreError::LastAdmin)
        ));
        assert_eq!(only_admin(&mut store), before);
        // Making the only admin an admin again, or demoting a user, is fine.
        store.set_role("root", Role::Admin).unwrap();
        store.set_role("bob", Role::User).unwrap();
        store.delete_user("bob").unwrap();

        // With a second admin, either of them may go; then the other is the last.
        store.create_user("carol", "h", Role::User).unwrap();
        store.set_role("carol", Role::Admin).unwrap();
        store.set_role("root", Role::User).unwrap();
        assert!(matches!(
            store.delete_user("carol"),
            Err(StoreError::LastAdmin)
        ));
        store.set_role("root", Role::Admin).unwrap();
        store.delete_user("carol").unwrap();
        assert!(matches!(
            store.set_role("Root", Role::User),
            Err(StoreError::LastAdmin)
        ));
        assert_eq!(
            only_admin(&mut store),
            vec![("Root".to_owned(), Role::Admin)]
        );
    }
}
