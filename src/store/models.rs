//! The rows the store hands out, and the values it takes in.

use std::fmt;

use diesel::prelude::*;

use super::schema::{resume_tokens, sounds, users};
use super::StoreError;

/// A user's role: `admin` may use the `admin.*` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// An ordinary user.
    User,
    /// An administrator.
    Admin,
}

impl Role {
    /// The role as stored and as written on the wire (`user` / `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    /// Parses `user` or `admin` (exactly); anything else is `None`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One account. `Debug` leaves the password hash out so that it never ends
/// up in a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Database id, stable for the account's life.
    pub id: i64,
    /// The username as first written at signup.
    pub username: String,
    /// The salted slow hash of the password (PHC string).
    pub password_hash: String,
    /// The account's role.
    pub role: Role,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last login or resume, Unix milliseconds; `None` if never.
    pub last_seen: Option<i64>,
}

impl fmt::Debug for UserRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .field("last_seen", &self.last_seen)
            .finish_non_exhaustive()
    }
}

/// One line of `admin.users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// The username as first written.
    pub username: String,
    /// The account's role.
    pub role: Role,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last login or resume, Unix milliseconds; `None` if never.
    pub last_seen: Option<i64>,
    /// How many saved sounds the user has.
    pub sounds: i64,
}

/// One saved sound. Its file is `sounds/<file_id>.wav`
/// (see [`super::Store::sound_path`]).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = sounds, check_for_backend(diesel::sqlite::Sqlite))]
pub struct SoundRow {
    /// Database id.
    pub id: i64,
    /// The owner.
    pub user_id: i64,
    /// The user's name for it (exact, case-sensitive; never a path).
    pub name: String,
    /// 32 random hex digits naming the file.
    pub file_id: String,
    /// Length of the audio in milliseconds.
    pub duration_ms: i64,
    /// Sample rate of the WAV file, Hz.
    pub sample_rate: i32,
    /// Channel count of the WAV file.
    pub channels: i32,
    /// File size in bytes.
    pub size: i64,
    /// Hex SHA-256 of the whole file.
    pub sha256: String,
    /// When it was saved (or last overwritten), Unix milliseconds.
    pub created_at: i64,
}

/// What the caller (who decoded the WAV) knows about a sound being saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoundMeta {
    /// Length of the audio in milliseconds.
    pub duration_ms: i64,
    /// Sample rate of the WAV file, Hz.
    pub sample_rate: i32,
    /// Channel count of the WAV file.
    pub channels: i32,
    /// File size in bytes; checked against the file.
    pub size: i64,
    /// Hex SHA-256 of the whole file.
    pub sha256: String,
}

/// A `users` row as stored (role as text).
#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct UserRecord {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: i64,
    pub last_seen: Option<i64>,
}

impl TryFrom<UserRecord> for UserRow {
    type Error = StoreError;

    fn try_from(r: UserRecord) -> Result<Self, StoreError> {
        let role = Role::parse(&r.role)
            .ok_or_else(|| StoreError::Corrupt(format!("user {} has role {:?}", r.id, r.role)))?;
        Ok(UserRow {
            id: r.id,
            username: r.username,
            password_hash: r.password_hash,
            role,
            created_at: r.created_at,
            last_seen: r.last_seen,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub(crate) struct NewUser<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub created_at: i64,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = sounds)]
pub(crate) struct NewSound<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub file_id: &'a str,
    pub duration_ms: i64,
    pub sample_rate: i32,
    pub channels: i32,
    pub size: i64,
    pub sha256: &'a str,
    pub created_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = resume_tokens)]
pub(crate) struct NewToken<'a> {
    pub user_id: i64,
    pub token_digest: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
    pub login_id: i64,
    pub login_ends_at: i64,
}
