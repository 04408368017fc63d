//! The sound-library actor: the only owner of the [`Store`] (SQLite and the
//! audio files) and of the [`UploadSpool`]. Diesel and file I/O block, so it
//! runs on a [`SyncArbiter`] thread of its own; one
//! thread, because SQLite takes one writer at a time anyway.
//!
//! Everything the other actors need from disk goes through its messages:
//! accounts and resume tokens for the auth actor, uploads and sounds for the
//! sessions, and where the audio of a request is. Decoding that audio is
//! CPU work and never runs here ([`super::audio_jobs`]). Each message is handled by a plain method of
//! [`Library`], so the logic is tested without actors.
//!
//! - this file: the actor, its accounts, uploads and sounds;
//! - `audio.rs`: where the audio of a count or stream is, and consuming it;
//! - `messages.rs`: the actor's messages, one per method.

mod audio;
#[macro_use]
mod messages;
#[cfg(test)]
mod tests;
mod unsaved;

pub use audio::{AudioInput, CountJob, RecordingFile, StagedRecording};
pub use messages::*;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;

use super::panic_guard::without_panics;
use super::timing::{JobTiming, WorkTally};
use crate::config::Settings;
use crate::crypto::{new_resume_token, token_digest};
use crate::protocol::response::{SoundInfo, UserInfo};
use crate::protocol::{rfc3339_millis, ErrorCode, Role, WireError};
use crate::store::{
    FinishedUpload, LoginSpan, SoundMeta, SoundQuota, SoundRow, Store, UploadSpool, UserRow,
};
/// Longest stretch of a sound that one `sound.get` answer carries (§5).
pub const SOUND_GET_MAX_BYTES: usize = 1_000_000;

/// Every answer of the library.
pub type LibraryResult<T> = Result<T, WireError>;

/// A successful login or resume: what the answer needs, and the login its
/// tokens belong to (for `logout`).
#[derive(Debug, Clone)]
pub struct LoginGrant {
    /// The account's id.
    pub user_id: i64,
    /// The username as first written.
    pub username: String,
    /// The account's role.
    pub role: Role,
    /// Names of the user's sounds.
    pub sounds: Vec<String>,
    /// The fresh resume token (sent once, never logged).
    pub token: String,
    /// The login the token belongs to: a password login's own, or the one
    /// a resume carries on.
    pub login_id: i64,
    /// How long the token is valid: `resume_ttl`, or less when its login
    /// ends sooner (the answer's `resume_ttl_s`).
    pub token_ttl: Duration,
}

/// The sound-library actor.
pub struct Library {
    store: Store,
    spool: UploadSpool,
    max_audio: Duration,
    resume_ttl: Duration,
    login_lifetime: Duration,
    upload_max_idle: Duration,
    sound_quota: SoundQuota,
    /// Resume tokens of logins the database could not take (a full disk).
    unsaved_tokens: unsaved::UnsavedTokens,
    /// Dropped with the library: tells [`LibraryClosed`] the database is closed.
    closed: Option<std::sync::mpsc::Sender<()>>,
    /// Where this thread's time goes (a `debug` line every
    /// [`WORK_REPORT_PERIOD`]): every login and request that touches the
    /// disk waits for it.
    work: WorkTally,
}

/// How often the library writes where its time went (at `debug`).
const WORK_REPORT_PERIOD: Duration = Duration::from_secs(5);

/// Waits until the library (and so the database connection) is gone: a new
/// server on the same data directory must not find it locked.
pub struct LibraryClosed(std::sync::mpsc::Receiver<()>);

impl LibraryClosed {
    /// Waits at most `limit`; whether the library is gone.
    pub fn wait(&self, limit: Duration) -> bool {
        matches!(
            self.0.recv_timeout(limit),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
        )
    }
}

impl Library {
    /// Opens the store and the spool in `settings.data_dir`.
    pub fn open(settings: &Settings) -> Result<Library, crate::store::StoreError> {
        let store = Store::open(&settings.data_dir)?;
        let mut spool = UploadSpool::open(store.uploads_dir(), settings.max_upload_size)?;
        spool.set_quotas(settings.unfinished_uploads_per_user, settings.disk_reserve);
        Ok(Library {
            store,
            spool,
            max_audio: settings.max_audio,
            resume_ttl: settings.resume_ttl,
            login_lifetime: settings.login_lifetime,
            upload_max_idle: settings.upload_max_idle,
            sound_quota: SoundQuota {
                sounds: settings.sounds_per_user,
                bytes: settings.sound_bytes_per_user,
            },
            unsaved_tokens: Default::default(),
            closed: None,
            work: WorkTally::default(),
        })
    }

    /// Opens the library and starts it on a thread of its own.
    ///
    /// The store is opened here, before the thread starts, so that an
    /// unusable data directory is an error of the caller's, not a panic.
    pub fn start(
        settings: &Settings,
    ) -> Result<(Addr<Library>, LibraryClosed), crate::store::StoreError> {
        Ok(Library::open(settings)?.start_opened(settings))
    }

    /// Starts an opened library on a thread of its own.
    pub fn start_opened(mut self, settings: &Settings) -> (Addr<Library>, LibraryClosed) {
        let (closed_tx, closed_rx) = std::sync::mpsc::channel();
        self.closed = Some(closed_tx);
        let opened = std::sync::Mutex::new(Some(self));
        let settings = settings.clone();
        let named = || std::thread::Builder::new().name("library".into());
        let addr = SyncArbiter::start_with_thread_builder(1, named, move || {
            // Called once: a SyncArbiter only makes a new actor when the
            // old one stops itself, which the library never does.
            let again = opened.lock().ok().and_then(|mut slot| slot.take());
            again.unwrap_or_else(|| {
                Library::open(&settings)
                    .unwrap_or_else(|err| panic!("cannot reopen the library: {err}"))
            })
        });
        (addr, LibraryClosed(closed_rx))
    }

    /// Runs the work of one message (called `message` in the log) under
    /// the panic guard: a panic is answered `internal` and the thread keeps
    /// serving. A panic may leave a transaction open, which would swallow
    /// every later write into it; it is rolled back first, so the next
    /// message starts from what was committed.
    pub fn guarded<T>(
        &mut self,
        message: &'static str,
        work: impl FnOnce(&mut Library) -> LibraryResult<T>,
    ) -> LibraryResult<T> {
        let mut panicked = true;
        let running = JobTiming::start(Instant::now());
        let result = without_panics("library", &message, || {
            let result = work(self);
            panicked = false;
            result
        });
        self.work.record(message, &running.finish());
        if let Some(summary) = self.work.summary_every(WORK_REPORT_PERIOD) {
            log::debug!(target: "library::timing", "library thread: {summary}");
        }
        if panicked {
            if let Err(err) = self.store.reset_after_panic() {
                log::error!(target: "library", "after a panic, the database could not be reset: {err}");
            }
        }
        result
    }

    /// The `resume_ttl_s` of login answers.
    pub fn resume_ttl_s(&self) -> u64 {
        self.resume_ttl.as_secs()
    }

    // ----- accounts -----

    /// Creates an account (the caller checked the rules and hashed the password).
    pub fn create_user(&mut self, username: &str, hash: &str, role: Role) -> LibraryResult<()> {
        self.store.create_user(username, hash, store_role(role))?;
        Ok(())
    }

    /// The account called `username` in any case.
    pub fn find_user(&mut self, username: &str) -> LibraryResult<Option<UserRow>> {
        Ok(self.store.find_user(username)?)
    }

    /// Completes a password login of `user_id`: a new login, lasting
    /// `login_lifetime`, with its first resume token.
    pub fn grant_login(&mut self, user_id: i64) -> LibraryResult<LoginGrant> {
        let lifetime_ms = i64::try_from(self.login_lifetime.as_millis()).unwrap_or(i64::MAX);
        let login = LoginSpan {
            login_id: rand::random(),
            ends_at_ms: now_ms().saturating_add(lifetime_ms),
        };
        self.continue_login(user_id, login)
    }

    /// Records a login (or resume) of `user_id` and issues a resume token
    /// of `login`. Its writes never fail it: see `unsaved.rs` for a full
    /// disk.
    fn continue_login(&mut self, user_id: i64, login: LoginSpan) -> LibraryResult<LoginGrant> {
        let user = self.store.user_by_id(user_id)?.ok_or_else(|| {
            WireError::new(
                ErrorCode::InvalidCredentials,
                "invalid username or password",
            )
        })?;
        let now = now_ms();
        if let Err(err) = self.store.touch_last_seen(user.id, now) {
            log::warn!(target: "auth", "login of {} not recorded as last seen: {err}", user.username);
        }
        let sounds = self.store.sound_names(user.id)?;
        let token = new_resume_token();
        let digest = token_digest(&token);
        let ttl_ms = i64::try_from(self.resume_ttl.as_millis()).unwrap_or(i64::MAX);
        if let Err(err) = self
            .store
            .insert_token(user.id, &digest, now, ttl_ms, login)
        {
            let kept = self
                .unsaved_tokens
                .keep(user.id, &digest, now, ttl_ms, login);
            log::warn!(target: "auth", "resume token of {} not written ({err}); {}", user.username,
                if kept { "kept in memory until the database has room" } else { "too many wait: it will resume nothing" });
        }
        let valid_ms = login.token_expiry(now, ttl_ms) - now;
        let token_ttl = Duration::from_millis(u64::try_from(valid_ms).unwrap_or(0));
        Ok(LoginGrant {
            user_id: user.id,
            username: user.username,
            role: wire_role(user.role),
            sounds,
            token,
            login_id: login.login_id,
            token_ttl,
        })
    }

    /// Spends a resume token: the same login goes on with a fresh token
    /// (never past the login's end); `None` when the token is unknown,
    /// spent or expired, or its login has ended.
    pub fn resume(&mut self, token: &str) -> LibraryResult<Option<LoginGrant>> {
        let digest = token_digest(token);
        if let Some((user_id, login)) = self.unsaved_tokens.spend(&digest, now_ms()) {
            return match self.store.user_by_id(user_id)? {
                Some(_) => self.continue_login(user_id, login).map(Some),
                None => Ok(None),
            };
        }
        match self.store.consume_token(&digest, now_ms())? {
            Some((user, login)) => self.continue_login(user.id, login).map(Some),
            None => Ok(None),
        }
    }

    /// Revokes every resume token of login `login_id` (`logout`).
    pub fn revoke_login(&mut self, login_id: i64) -> LibraryResult<()> {
        self.unsaved_tokens.revoke_login(login_id);
        self.store.revoke_login(login_id)?;
        Ok(())
    }

    // ----- administration -----

    /// `admin.users`: every account, ordered by username.
    pub fn list_users(&mut self) -> LibraryResult<Vec<UserInfo>> {
        Ok(self
            .store
            .list_users()?
            .into_iter()
            .map(|user| UserInfo {
                username: user.username,
                role: wire_role(user.role),
                created_at: rfc3339_millis(at_millis(user.created_at)),
                last_seen: user.last_seen.map(|ms| rfc3339_millis(at_millis(ms))),
                sounds: u64::try_from(user.sounds).unwrap_or(0),
            })
            .collect())
    }

    /// `admin.user.delete`: the account, its sounds and their files, its
    /// resume tokens and its uploads, in one step of the library (no other
    /// request of the store runs in between). Returns the account's id, so
    /// that its sessions can be ended.
    pub fn delete_user(&mut self, username: &str) -> LibraryResult<i64> {
        let user = self
            .store
            .find_user(username)?
            .ok_or_else(|| no_account(username))?;
        self.store.delete_user(&user.username)?;
        self.unsaved_tokens.remove_user(user.id);
        let uploads = self.spool.remove_owner(user.id);
        if uploads > 0 {
            log::info!(target: "admin", "removed {uploads} upload(s) of {}", user.username);
        }
        Ok(user.id)
    }

    /// `admin.user.role`: returns the account's id, so that its live
    /// sessions take the new role at once.
    pub fn set_role(&mut self, username: &str, role: Role) -> LibraryResult<i64> {
        let user = self
            .store
            .find_user(username)?
            .ok_or_else(|| no_account(username))?;
        self.store.set_role(&user.username, store_role(role))?;
        Ok(user.id)
    }

    // ----- uploads -----

    /// `upload.begin`.
    pub fn upload_begin(
        &mut self,
        owner: i64,
        size: u64,
        sha256: &[u8; 32],
    ) -> LibraryResult<String> {
        Ok(self
            .spool
            .begin(owner, size, &hex::encode(sha256), Instant::now())?)
    }

    /// `upload.chunk`: bytes received so far.
    pub fn upload_chunk(
        &mut self,
        owner: i64,
        id: &str,
        offset: u64,
        bytes: &[u8],
    ) -> LibraryResult<u64> {
        Ok(self.spool.chunk(owner, id, offset, bytes, Instant::now())?)
    }

    /// `upload.finish`: the size.
    pub fn upload_finish(&mut self, owner: i64, id: &str) -> LibraryResult<u64> {
        Ok(self.spool.finish(owner, id)?.1)
    }

    /// `upload.abort`.
    pub fn upload_abort(&mut self, owner: i64, id: &str) -> LibraryResult<()> {
        Ok(self.spool.abort(owner, id)?)
    }

    // ----- sounds -----

    /// `sound.list`.
    pub fn list_sounds(&mut self, owner: i64) -> LibraryResult<Vec<SoundInfo>> {
        Ok(self
            .store
            .list_sounds(owner)?
            .iter()
            .map(sound_info)
            .collect())
    }

    /// `sound.save`, once the audio was checked off this thread
    /// ([`super::audio_jobs::save_sound`]): stores it, consuming the upload.
    pub fn store_sound(
        &mut self,
        owner: i64,
        name: &str,
        input: AudioInput,
        meta: SoundMeta,
        overwrite: bool,
    ) -> LibraryResult<SoundInfo> {
        let size = u64::try_from(meta.size).unwrap_or(u64::MAX);
        self.store
            .check_sound_quota(owner, name, size, self.sound_quota)?;
        let row = match input {
            AudioInput::Inline(bytes) => self
                .store
                .save_sound_bytes(owner, name, &bytes, meta, overwrite)?,
            AudioInput::Upload(id) => {
                self.spool.peek(owner, &id)?;
                if !overwrite && self.store.get_sound(owner, name)?.is_some() {
                    return Err(WireError::new(
                        ErrorCode::AlreadyExists,
                        "a sound with that name already exists",
                    ));
                }
                let upload = self.spool.take(owner, &id)?;
                self.store
                    .save_sound(owner, name, &upload.path, meta, overwrite)?
            }
        };
        Ok(sound_info(&row))
    }

    /// A finished upload (where its bytes are, its verified size and
    /// SHA-256), without consuming it.
    pub fn peek_upload(&mut self, owner: i64, id: &str) -> LibraryResult<FinishedUpload> {
        Ok(self.spool.peek(owner, id)?)
    }

    /// Where a finished upload's bytes are, without consuming it.
    pub fn upload_path(&mut self, owner: i64, id: &str) -> LibraryResult<PathBuf> {
        Ok(self.spool.peek(owner, id)?.path)
    }

    /// `sound.get`: the sound and up to [`SOUND_GET_MAX_BYTES`] from `offset`.
    pub fn get_sound(
        &mut self,
        owner: i64,
        name: &str,
        offset: u64,
    ) -> LibraryResult<(SoundInfo, Vec<u8>)> {
        let row = self.sound(owner, name)?;
        let bytes = self
            .store
            .read_sound_range(&row, offset, SOUND_GET_MAX_BYTES)?;
        Ok((sound_info(&row), bytes))
    }

    /// `sound.rename`.
    pub fn rename_sound(
        &mut self,
        owner: i64,
        name: &str,
        new_name: &str,
    ) -> LibraryResult<SoundInfo> {
        Ok(sound_info(&self.store.rename_sound(owner, name, new_name)?))
    }

    /// `sound.delete`.
    pub fn delete_sound(&mut self, owner: i64, name: &str) -> LibraryResult<()> {
        Ok(self.store.delete_sound(owner, name)?)
    }

    fn sound(&mut self, owner: i64, name: &str) -> LibraryResult<SoundRow> {
        self.store
            .get_sound(owner, name)?
            .ok_or_else(|| WireError::new(ErrorCode::NotFound, format!("no sound called {name:?}")))
    }

    /// Removes idle uploads and expired tokens; writes the resume tokens a
    /// full disk kept in memory, if it has room now.
    pub fn housekeeping(&mut self) {
        self.spool.expire(Instant::now(), self.upload_max_idle);
        if !self.unsaved_tokens.is_empty() {
            match self.unsaved_tokens.flush(&mut self.store, now_ms()) {
                Ok(n) => log::info!(target: "library", "wrote {n} resume token(s) kept in memory"),
                Err(err) => {
                    log::warn!(target: "library", "{} resume token(s) still wait for room: {err}", self.unsaved_tokens.len())
                }
            }
        }
        match self.store.purge_expired_tokens(now_ms()) {
            Ok(0) => {}
            Ok(n) => log::debug!(target: "library", "purged {n} expired resume token(s)"),
            Err(err) => log::warn!(target: "library", "cannot purge expired tokens: {err}"),
        }
    }
}

fn no_account(username: &str) -> WireError {
    WireError::new(
        ErrorCode::NotFound,
        format!("no account called {username:?}"),
    )
}

fn at_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn now_ms() -> i64 {
    i64::try_from(crate::protocol::unix_millis(SystemTime::now())).unwrap_or(i64::MAX)
}

/// A sound as the protocol shows it.
pub fn sound_info(row: &SoundRow) -> SoundInfo {
    let created = UNIX_EPOCH + Duration::from_millis(u64::try_from(row.created_at).unwrap_or(0));
    SoundInfo {
        name: row.name.clone(),
        duration_ms: u64::try_from(row.duration_ms).unwrap_or(0),
        sample_rate: u32::try_from(row.sample_rate).unwrap_or(0),
        channels: u16::try_from(row.channels).unwrap_or(0),
        size: u64::try_from(row.size).unwrap_or(0),
        sha256: row.sha256.clone(),
        created_at: rfc3339_millis(created),
    }
}

/// The store's role as the wire's.
pub fn wire_role(role: crate::store::Role) -> Role {
    match role {
        crate::store::Role::User => Role::User,
        crate::store::Role::Admin => Role::Admin,
    }
}

/// The wire's role as the store's.
pub fn store_role(role: Role) -> crate::store::Role {
    match role {
        Role::User => crate::store::Role::User,
        Role::Admin => crate::store::Role::Admin,
    }
}

impl Actor for Library {
    type Context = SyncContext<Self>;
}
