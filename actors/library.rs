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

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use bytes::Bytes;

use crate::config::Settings;
use crate::crypto::{new_resume_token, token_digest};
use crate::dsp::{Options, TemplateAudio};
use crate::protocol::response::{
    SoundChunk, SoundInfo, SoundList, SoundResult, UploadBegun, UploadFinished, UploadReceived,
    UserInfo,
};
use crate::protocol::{
    rfc3339_millis, Empty, ErrorCode, LibraryRequest, Role, TemplateSource, WireError,
};
use crate::store::{LoginSpan, SoundMeta, SoundRow, Store, UploadSpool, UserRow};

/// Longest stretch of a sound that one `sound.get` answer carries (§5).
pub const SOUND_GET_MAX_BYTES: usize = 1_000_000;

/// Every answer of the library.
pub type LibraryResult<T> = Result<T, WireError>;

/// Audio given to a request: inline (the payload) or a finished upload.
#[derive(Debug, Clone)]
pub enum AudioInput {
    /// The request's payload.
    Inline(Bytes),
    /// A finished upload of the user.
    Upload(String),
}

impl AudioInput {
    /// Audio given either as the upload named in `field` or as the payload,
    /// exactly one of them (else `bad_request`).
    pub fn of_request(upload: Option<String>, payload: Bytes, field: &str) -> LibraryResult<Self> {
        match (upload, payload.is_empty()) {
            (Some(id), true) => Ok(AudioInput::Upload(id)),
            (None, false) => Ok(AudioInput::Inline(payload)),
            (Some(_), false) => Err(WireError::bad_request(format!(
                "give either `{field}` or a payload, not both"
            ))),
            (None, true) => Err(WireError::bad_request(format!(
                "no audio: give `{field}` or the WAV file as the payload"
            ))),
        }
    }
}

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

/// A file that belongs to a count: removed when this value is dropped,
/// whatever the outcome (§5: "a recording is deleted once counted").
#[derive(Debug)]
pub struct RecordingFile(PathBuf);

impl RecordingFile {
    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for RecordingFile {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_file(&self.0) {
            if err.kind() != std::io::ErrorKind::NotFound {
                log::warn!(target: "library", "cannot remove recording {}: {err}", self.0.display());
            }
        }
    }
}

/// A count's recording, located but not consumed yet.
#[derive(Debug)]
pub enum StagedRecording {
    /// An inline recording, written to the uploads folder.
    Inline(RecordingFile),
    /// A finished upload, still the user's.
    Upload {
        /// The upload's id.
        id: String,
        /// Where its bytes are.
        path: PathBuf,
    },
}

impl StagedRecording {
    /// Where the recording's bytes are.
    pub fn path(&self) -> &Path {
        match self {
            StagedRecording::Inline(file) => file.path(),
            StagedRecording::Upload { path, .. } => path,
        }
    }
}

/// Everything an analysis worker needs for one count.
#[derive(Debug)]
pub struct CountJob {
    /// The template, decoded.
    pub template: TemplateAudio,
    /// The recording, on disk, removed when the job is dropped.
    pub recording: RecordingFile,
    /// The recording's length in seconds.
    pub total_s: f64,
    /// The engine's options.
    pub options: Options,
}

/// The sound-library actor.
pub struct Library {
    store: Store,
    spool: UploadSpool,
    max_audio: Duration,
    resume_ttl: Duration,
    login_lifetime: Duration,
    upload_max_idle: Duration,
    /// Dropped with the library: tells [`LibraryClosed`] the database is closed.
    closed: Option<std::sync::mpsc::Sender<()>>,
}

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
        let spool = UploadSpool::open(store.uploads_dir(), settings.max_upload_size)?;
        Ok(Library {
            store,
            spool,
            max_audio: settings.max_audio,
            resume_ttl: settings.resume_ttl,
            login_lifetime: settings.login_lifetime,
            upload_max_idle: settings.upload_max_idle,
            closed: None,
        })
    }

    /// Opens the library and starts it on a thread of its own.
    ///
    /// The store is opened here, before the thread starts, so that an
    /// unusable data directory is an error of the caller's, not a panic.
    pub fn start(
        settings: &Settings,
    ) -> Result<(Addr<Library>, LibraryClosed), crate::store::StoreError> {
        let (closed_tx, closed_rx) = std::sync::mpsc::channel();
        let mut library = Library::open(settings)?;
        library.closed = Some(closed_tx);
        let opened = std::sync::Mutex::new(Some(library));
        let settings = settings.clone();
        let addr = SyncArbiter::start(1, move || {
            // Called once: a SyncArbiter only makes a new actor when the
            // old one stops itself, which the library never does.
            let again = opened.lock().ok().and_then(|mut slot| slot.take());
            again.unwrap_or_else(|| {
                Library::open(&settings)
                    .unwrap_or_else(|err| panic!("cannot reopen the library: {err}"))
            })
        });
        Ok((addr, LibraryClosed(closed_rx)))
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
    /// of `login`.
    fn continue_login(&mut self, user_id: i64, login: LoginSpan) -> LibraryResult<LoginGrant> {
        let user = self.store.user_by_id(user_id)?.ok_or_else(|| {
            WireError::new(
                ErrorCode::InvalidCredentials,
                "invalid username or password",
            )
        })?;
        let now = now_ms();
        self.store.touch_last_seen(user.id, now)?;
        let sounds = self.store.sound_names(user.id)?;
        let token = new_resume_token();
        let digest = token_digest(&token);
        let ttl_ms = i64::try_from(self.resume_ttl.as_millis()).unwrap_or(i64::MAX);
        self.store
            .insert_token(user.id, &digest, now, ttl_ms, login)?;
        let valid_ms = now.saturating_add(ttl_ms).min(login.ends_at_ms) - now;
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
        match self.store.consume_token(&token_digest(token), now_ms())? {
            Some((user, login)) => self.continue_login(user.id, login).map(Some),
            None => Ok(None),
        }
    }

    /// Revokes every token of login `login_id` (`logout`).
    pub fn revoke_login(&mut self, login_id: i64) -> LibraryResult<()> {
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

    // ----- audio for counting -----
    //
    // Decoding is CPU work and runs off this thread (super::audio_jobs):
    // the library only says where the audio is, then consumes what a
    // request used once its audio has been checked.

    /// Where a template's bytes are (a saved sound or a finished upload),
    /// without consuming anything.
    pub fn template_path(&mut self, owner: i64, source: &TemplateSource) -> LibraryResult<PathBuf> {
        match source {
            TemplateSource::Sound(name) => {
                let row = self.sound(owner, name)?;
                Ok(self.store.sound_path(&row))
            }
            TemplateSource::Upload(id) => self.upload_path(owner, id),
        }
    }

    /// Where a count's recording is: an inline one is written to the
    /// uploads folder (removed with the returned file), an upload is only
    /// located. Also the longest recording allowed, for the check.
    pub fn stage_recording(
        &mut self,
        owner: i64,
        recording: AudioInput,
    ) -> LibraryResult<(StagedRecording, Duration)> {
        let staged = match recording {
            AudioInput::Inline(bytes) => {
                StagedRecording::Inline(RecordingFile(self.write_inline(&bytes)?))
            }
            AudioInput::Upload(id) => {
                let path = self.upload_path(owner, &id)?;
                StagedRecording::Upload { id, path }
            }
        };
        Ok((staged, self.max_audio))
    }

    /// Consumes what a checked request used: the template upload, if any,
    /// and the recording's upload, if any (which becomes the returned file,
    /// removed once counted). Nothing is consumed unless all of it is there.
    pub fn consume(
        &mut self,
        owner: i64,
        template: &TemplateSource,
        recording: Option<StagedRecording>,
    ) -> LibraryResult<Option<RecordingFile>> {
        if let TemplateSource::Upload(id) = template {
            self.spool.peek(owner, id)?;
        }
        if let Some(StagedRecording::Upload { id, .. }) = &recording {
            self.spool.peek(owner, id)?;
        }
        if let TemplateSource::Upload(id) = template {
            drop(RecordingFile(self.spool.take(owner, id)?.path));
        }
        Ok(match recording {
            None => None,
            Some(StagedRecording::Inline(file)) => Some(file),
            Some(StagedRecording::Upload { id, .. }) => {
                Some(RecordingFile(self.spool.take(owner, &id)?.path))
            }
        })
    }

    /// Writes an inline recording to a fresh `.part` file in the uploads
    /// folder (emptied at start, so a crash leaves nothing behind).
    fn write_inline(&self, bytes: &[u8]) -> LibraryResult<PathBuf> {
        let path = self
            .store
            .uploads_dir()
            .join(format!("inline-{:032x}.part", rand::random::<u128>()));
        std::fs::write(&path, bytes)
            .map_err(|err| WireError::internal(format!("{}: {err}", path.display())))?;
        Ok(path)
    }

    /// Removes idle uploads and expired tokens.
    pub fn housekeeping(&mut self) {
        self.spool.expire(Instant::now(), self.upload_max_idle);
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

/// Declares a message of the library, its result, and a handler that calls
/// one method of [`Library`].
macro_rules! library_message {
    ($(#[$meta:meta])* $name:ident { $($field:ident : $ty:ty),* $(,)? } -> $result:ty, |$lib:ident, $msg:ident| $body:expr) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name { $(#[allow(missing_docs)] pub $field: $ty),* }

        impl Message for $name {
            type Result = LibraryResult<$result>;
        }

        impl Handler<$name> for Library {
            type Result = LibraryResult<$result>;
            fn handle(&mut self, $msg: $name, _: &mut SyncContext<Self>) -> Self::Result {
                let $lib = self;
                $body
            }
        }
    };
}

library_message!(
    /// Creates an account (rules checked, password hashed by the caller).
    CreateUser { username: String, password_hash: String, role: Role } -> (),
    |lib, m| lib.create_user(&m.username, &m.password_hash, m.role)
);
library_message!(
    /// Looks an account up by username, any case.
    FindUser { username: String } -> Option<UserRow>,
    |lib, m| lib.find_user(&m.username)
);
library_message!(
    /// Completes a login whose password was verified.
    GrantLogin { user_id: i64 } -> LoginGrant,
    |lib, m| lib.grant_login(m.user_id)
);
library_message!(
    /// Spends a resume token.
    ResumeLogin { token: String } -> Option<LoginGrant>,
    |lib, m| lib.resume(&m.token)
);
library_message!(
    /// Revokes every resume token of a login.
    RevokeLogin { login_id: i64 } -> (),
    |lib, m| lib.revoke_login(m.login_id)
);
library_message!(
    /// `sound.save`, its audio checked.
    StoreSound { owner: i64, name: String, input: AudioInput, meta: SoundMeta, overwrite: bool } -> SoundInfo,
    |lib, m| lib.store_sound(m.owner, &m.name, m.input, m.meta, m.overwrite)
);
library_message!(
    /// Where a finished upload is (not consumed).
    UploadPath { owner: i64, upload_id: String } -> PathBuf,
    |lib, m| lib.upload_path(m.owner, &m.upload_id)
);
library_message!(
    /// Where a template is (not consumed).
    TemplatePath { owner: i64, template: TemplateSource } -> PathBuf,
    |lib, m| lib.template_path(m.owner, &m.template)
);
library_message!(
    /// Where a count's recording is, and the longest allowed.
    StageRecording { owner: i64, recording: AudioInput } -> (StagedRecording, Duration),
    |lib, m| lib.stage_recording(m.owner, m.recording)
);
library_message!(
    /// Consumes the uploads a checked request used.
    Consume { owner: i64, template: TemplateSource, recording: Option<StagedRecording> } -> Option<RecordingFile>,
    |lib, m| lib.consume(m.owner, &m.template, m.recording)
);
library_message!(
    /// `admin.users`.
    ListUsers {} -> Vec<UserInfo>,
    |lib, _m| lib.list_users()
);
library_message!(
    /// `admin.user.delete`: the account's id.
    DeleteUser { username: String } -> i64,
    |lib, m| lib.delete_user(&m.username)
);
library_message!(
    /// `admin.user.role`: the account's id.
    SetRole { username: String, role: Role } -> i64,
    |lib, m| lib.set_role(&m.username, m.role)
);
library_message!(
    /// Periodic purge of idle uploads and expired tokens.
    Housekeeping {} -> (),
    |lib, _m| { lib.housekeeping(); Ok(()) }
);

/// An operation on a user's uploads and saved sounds (`upload.*`,
/// `sound.*`), carried as the client sent it, with the request's payload.
#[derive(Debug)]
pub struct LibraryOp {
    /// The logged-in user.
    pub owner: i64,
    /// The operation.
    pub op: LibraryRequest,
    /// The request's payload (an upload's chunk, a sound saved inline).
    pub payload: Bytes,
}

impl Message for LibraryOp {
    type Result = LibraryResult<LibraryAnswer>;
}

/// What a library operation answers: the fields of its `ok`, and the bytes
/// of a `sound.get` (its payload).
#[derive(Debug)]
pub struct LibraryAnswer {
    /// The result fields.
    pub result: LibraryResultFields,
    /// The payload of the answer (empty but for `sound.get`).
    pub payload: Vec<u8>,
}

/// The result fields of each library operation.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum LibraryResultFields {
    /// `upload.begin`.
    UploadBegun(UploadBegun),
    /// `upload.chunk`.
    UploadReceived(UploadReceived),
    /// `upload.finish`.
    UploadFinished(UploadFinished),
    /// `sound.list`.
    Sounds(SoundList),
    /// `sound.save`, `sound.rename`.
    Sound(SoundResult),
    /// `sound.get`.
    Chunk(SoundChunk),
    /// `upload.abort`, `sound.delete`.
    Done(Empty),
}

impl LibraryAnswer {
    fn fields(result: LibraryResultFields) -> Self {
        LibraryAnswer {
            result,
            payload: Vec::new(),
        }
    }
}

impl Handler<LibraryOp> for Library {
    type Result = LibraryResult<LibraryAnswer>;

    fn handle(&mut self, op: LibraryOp, _: &mut SyncContext<Self>) -> Self::Result {
        self.apply(op.owner, op.op, op.payload)
    }
}

impl Library {
    /// Applies one library operation of user `owner`.
    pub fn apply(
        &mut self,
        owner: i64,
        op: LibraryRequest,
        payload: Bytes,
    ) -> LibraryResult<LibraryAnswer> {
        use LibraryResultFields as R;
        let result = match op {
            LibraryRequest::UploadBegin(begin) => R::UploadBegun(UploadBegun {
                upload_id: self.upload_begin(owner, begin.size, &begin.sha256)?,
            }),
            LibraryRequest::UploadChunk(chunk) => R::UploadReceived(UploadReceived {
                received: self.upload_chunk(owner, &chunk.upload_id, chunk.offset, &payload)?,
            }),
            LibraryRequest::UploadFinish(finish) => R::UploadFinished(UploadFinished {
                size: self.upload_finish(owner, &finish.upload_id)?,
                upload_id: finish.upload_id,
            }),
            LibraryRequest::UploadAbort(abort) => {
                self.upload_abort(owner, &abort.upload_id)?;
                R::Done(Empty {})
            }
            LibraryRequest::SoundList => R::Sounds(SoundList {
                sounds: self.list_sounds(owner)?,
            }),
            // Its audio is decoded off this thread first (`audio_jobs::save_sound`,
            // then `StoreSound`): a save never reaches the library as an operation.
            LibraryRequest::SoundSave(_) => {
                return Err(WireError::internal(
                    "sound.save goes through audio_jobs::save_sound",
                ))
            }
            LibraryRequest::SoundGet(get) => {
                let (sound, bytes) = self.get_sound(owner, &get.name, get.offset)?;
                return Ok(LibraryAnswer {
                    result: R::Chunk(SoundChunk {
                        sound,
                        offset: get.offset,
                    }),
                    payload: bytes,
                });
            }
            LibraryRequest::SoundRename(rename) => R::Sound(SoundResult {
                sound: self.rename_sound(owner, &rename.name, &rename.new_name)?,
            }),
            LibraryRequest::SoundDelete(delete) => {
                self.delete_sound(owner, &delete.name)?;
                R::Done(Empty {})
            }
        };
        Ok(LibraryAnswer::fields(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::audio_jobs::{decode_template, recording_length, sound_meta, AudioBytes};
    use crate::audio::SampleLayout;
    use crate::store::hex_sha256;
    use sha2::{Digest, Sha256};

    /// `sound.save`'s steps, as [`super::super::audio_jobs::save_sound`]
    /// runs them, without actors.
    fn save(
        lib: &mut Library,
        owner: i64,
        name: &str,
        input: AudioInput,
        overwrite: bool,
    ) -> LibraryResult<SoundInfo> {
        let bytes = match &input {
            AudioInput::Inline(bytes) => AudioBytes::Memory(bytes.clone()),
            AudioInput::Upload(id) => AudioBytes::File(lib.upload_path(owner, id)?),
        };
        let meta = sound_meta(&bytes)?;
        lib.store_sound(owner, name, input, meta, overwrite)
    }

    /// `count`'s preparation, as [`super::super::audio_jobs::prepare_count`]
    /// runs it, without actors.
    fn prepare(
        lib: &mut Library,
        owner: i64,
        template: &TemplateSource,
        recording: AudioInput,
    ) -> LibraryResult<CountJob> {
        let path = lib.template_path(owner, template)?;
        let (staged, max_audio) = lib.stage_recording(owner, recording)?;
        let audio = decode_template(&path)?;
        let total_s = recording_length(staged.path(), max_audio.as_secs_f64())?;
        let recording = lib.consume(owner, template, Some(staged))?.unwrap();
        Ok(CountJob {
            template: audio,
            recording,
            total_s,
            options: Options::default(),
        })
    }

    fn settings(dir: &Path) -> Settings {
        Settings {
            data_dir: dir.to_owned(),
            max_audio: Duration::from_secs(30),
            ..Settings::default()
        }
    }

    /// A sine of `seconds` at 8 kHz as 16-bit mono WAV.
    fn wav_bytes(seconds: f32) -> Vec<u8> {
        let rate = 8_000;
        let samples: Vec<f32> = (0..(seconds * rate as f32) as usize)
            .map(|i| (i as f32 * 0.05).sin() * 0.5)
            .collect();
        crate::synth::wav_bytes(&samples, rate, 1, SampleLayout::S16)
    }

    fn upload(lib: &mut Library, owner: i64, bytes: &[u8]) -> String {
        let sha: [u8; 32] = Sha256::digest(bytes).into();
        let id = lib.upload_begin(owner, bytes.len() as u64, &sha).unwrap();
        lib.upload_chunk(owner, &id, 0, bytes).unwrap();
        lib.upload_finish(owner, &id).unwrap();
        id
    }

    #[test]
    fn sounds_save_list_get_rename_delete() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&settings(dir.path())).unwrap();
        lib.create_user("Alice", "hash", Role::User).unwrap();
        let alice = lib.find_user("alice").unwrap().unwrap().id;
        let wav = wav_bytes(0.5);
        let saved = save(
            &mut lib,
            alice,
            "bop",
            AudioInput::Inline(Bytes::from(wav.clone())),
            false,
        )
        .unwrap();
        assert_eq!(
            (saved.duration_ms, saved.sample_rate, saved.channels),
            (500, 8000, 1)
        );
        assert_eq!(saved.sha256, hex_sha256(&wav));
        let again = save(
            &mut lib,
            alice,
            "bop",
            AudioInput::Inline(Bytes::from(wav.clone())),
            false,
        );
        assert_eq!(again.unwrap_err().code, ErrorCode::AlreadyExists);
        // From an upload: consumed on success only.
        let id = upload(&mut lib, alice, &wav);
        let taken = save(
            &mut lib,
            alice,
            "bop",
            AudioInput::Upload(id.clone()),
            false,
        );
        assert_eq!(taken.unwrap_err().code, ErrorCode::AlreadyExists);
        save(
            &mut lib,
            alice,
            "bop2",
            AudioInput::Upload(id.clone()),
            false,
        )
        .unwrap();
        let gone = save(&mut lib, alice, "bop3", AudioInput::Upload(id), false);
        assert_eq!(gone.unwrap_err().code, ErrorCode::NotFound);
        let names: Vec<_> = lib
            .list_sounds(alice)
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["bop", "bop2"]);
        let (info, bytes) = lib.get_sound(alice, "bop", 0).unwrap();
        assert_eq!((info.size, bytes), (wav.len() as u64, wav.clone()));
        let (_, tail) = lib.get_sound(alice, "bop", wav.len() as u64).unwrap();
        assert!(tail.is_empty());
        let past = lib
            .get_sound(alice, "bop", wav.len() as u64 + 1)
            .unwrap_err();
        assert_eq!(past.code, ErrorCode::BadRequest);
        assert_eq!(
            lib.rename_sound(alice, "bop", "bop2").unwrap_err().code,
            ErrorCode::AlreadyExists
        );
        assert_eq!(lib.rename_sound(alice, "bop", "beep").unwrap().name, "beep");
        lib.delete_sound(alice, "beep").unwrap();
        assert_eq!(
            lib.delete_sound(alice, "beep").unwrap_err().code,
            ErrorCode::NotFound
        );
    }

    #[test]
    fn bad_audio_and_long_templates_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&settings(dir.path())).unwrap();
        lib.create_user("bob", "hash", Role::User).unwrap();
        let bob = lib.find_user("bob").unwrap().unwrap().id;
        let junk = save(
            &mut lib,
            bob,
            "x",
            AudioInput::Inline(Bytes::from_static(b"not audio")),
            false,
        );
        assert_eq!(junk.unwrap_err().code, ErrorCode::UnsupportedAudio);
        let long = wav_bytes(61.0);
        let id = upload(&mut lib, bob, &long);
        let err = save(&mut lib, bob, "x", AudioInput::Upload(id.clone()), false).unwrap_err();
        assert_eq!(err.code, ErrorCode::TooLarge);
        // The failed request did not consume the upload.
        assert!(lib.spool.peek(bob, &id).is_ok());
    }

    #[test]
    fn count_preparation_checks_before_consuming_and_recordings_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&settings(dir.path())).unwrap();
        lib.create_user("carol", "hash", Role::User).unwrap();
        let carol = lib.find_user("carol").unwrap().unwrap().id;
        let template = upload(&mut lib, carol, &wav_bytes(0.3));
        let too_long = upload(&mut lib, carol, &wav_bytes(31.0));
        let source = TemplateSource::Upload(template.clone());
        let err = prepare(
            &mut lib,
            carol,
            &source,
            AudioInput::Upload(too_long.clone()),
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::TooLarge);
        assert!(lib.spool.peek(carol, &template).is_ok(), "template kept");
        let job = prepare(
            &mut lib,
            carol,
            &source,
            AudioInput::Inline(Bytes::from(wav_bytes(2.0))),
        )
        .unwrap();
        assert!((job.total_s - 2.0).abs() < 1e-9);
        assert_eq!(
            lib.spool.peek(carol, &template).unwrap_err().to_string(),
            "not found"
        );
        let path = job.recording.path().to_owned();
        assert!(path.exists());
        drop(job);
        assert!(!path.exists(), "recording removed with the job");
    }

    #[test]
    fn deleting_an_account_takes_everything_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&settings(dir.path())).unwrap();
        lib.create_user("Erin", "hash", Role::User).unwrap();
        // frank is an admin too, so that erin is not the last one.
        lib.create_user("frank", "hash", Role::Admin).unwrap();
        let erin = lib.find_user("erin").unwrap().unwrap().id;
        let frank = lib.find_user("frank").unwrap().unwrap().id;
        let wav = wav_bytes(0.2);
        save(
            &mut lib,
            erin,
            "a",
            AudioInput::Inline(Bytes::from(wav.clone())),
            false,
        )
        .unwrap();
        save(
            &mut lib,
            frank,
            "b",
            AudioInput::Inline(Bytes::from(wav.clone())),
            false,
        )
        .unwrap();
        let pending = upload(&mut lib, erin, &wav);
        let grant = lib.grant_login(erin).unwrap();
        lib.set_role("ERIN", Role::Admin).unwrap();
        let users = lib.list_users().unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(
            (users[0].username.as_str(), users[0].role),
            ("Erin", Role::Admin)
        );
        assert_eq!(users[0].sounds, 1);
        assert!(users[0].last_seen.as_deref().unwrap().ends_with('Z'));
        assert_eq!(users[1].last_seen, None);

        assert_eq!(lib.delete_user("erin").unwrap(), erin);
        assert!(lib.find_user("erin").unwrap().is_none());
        assert!(lib.resume(&grant.token).unwrap().is_none(), "tokens gone");
        assert!(lib.spool.peek(erin, &pending).is_err(), "uploads gone");
        assert!(lib.spool.is_empty());
        let files = std::fs::read_dir(dir.path().join("sounds"))
            .unwrap()
            .count();
        assert_eq!(files, 1, "only frank's sound is left");
        assert_eq!(lib.list_sounds(frank).unwrap().len(), 1);
        assert_eq!(
            lib.delete_user("erin").unwrap_err().code,
            ErrorCode::NotFound
        );
        assert_eq!(
            lib.set_role("nobody", Role::User).unwrap_err().code,
            ErrorCode::NotFound
        );
        // frank is now the last admin.
        assert_eq!(
            lib.delete_user("frank").unwrap_err().code,
            ErrorCode::Forbidden
        );
        assert_eq!(
            lib.set_role("FRANK", Role::User).unwrap_err().code,
            ErrorCode::Forbidden
        );
        assert_eq!(lib.list_sounds(frank).unwrap().len(), 1, "nothing changed");
    }

    #[test]
    fn tokens_are_single_use() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&settings(dir.path())).unwrap();
        lib.create_user("dave", "hash", Role::Admin).unwrap();
        let dave = lib.find_user("DAVE").unwrap().unwrap().id;
        let grant = lib.grant_login(dave).unwrap();
        assert_eq!((grant.username.as_str(), grant.role), ("dave", Role::Admin));
        let again = lib.resume(&grant.token).unwrap().unwrap();
        assert_ne!(again.token, grant.token);
        assert!(lib.resume(&grant.token).unwrap().is_none(), "spent");
        assert_eq!(
            again.login_id, grant.login_id,
            "a resume goes on with the login"
        );
        let other = lib.grant_login(dave).unwrap();
        assert_ne!(other.login_id, grant.login_id);
        lib.revoke_login(grant.login_id).unwrap();
        assert!(lib.resume(&again.token).unwrap().is_none(), "revoked");
        assert!(lib.resume(&other.token).unwrap().is_some(), "another login");
    }

    #[test]
    fn a_login_ends_however_often_it_is_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&Settings {
            login_lifetime: Duration::from_millis(300),
            ..settings(dir.path())
        })
        .unwrap();
        lib.create_user("dave", "hash", Role::User).unwrap();
        let dave = lib.find_user("dave").unwrap().unwrap().id;
        let mut grant = lib.grant_login(dave).unwrap();
        for _ in 0..3 {
            grant = lib
                .resume(&grant.token)
                .unwrap()
                .expect("within the lifetime");
        }
        std::thread::sleep(Duration::from_millis(350));
        assert!(
            lib.resume(&grant.token).unwrap().is_none(),
            "the login ended"
        );
    }
}
