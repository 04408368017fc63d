//! The request types of §5, one per `type`, grouped by who may send them.
//! They serialise to the fields a client writes ([`Request::header`]) and
//! deserialise from them with the checks of §5 ([`Request::parse`]); where a
//! rule spans two fields (`count`'s template) a private wire form is read
//! first.

use serde::{Deserialize, Serialize};

use serde_json::{Map, Value};

use super::fields::{
    checked, hex_digest, null_is_default, object_or_default, opt_min_gap, opt_unit, pcm_format,
    read, request_id, seconds,
};
use super::rules::{NewPassword, SoundName, Username};
use super::RequestKind;
use super::MAX_UPLOAD_SIZE;
#[cfg(doc)]
use super::{check_password_strength, login_could_be_valid, validate_username, MAX_PASSWORD_BYTES};
use super::{LogLevel, PcmFormat, Priority, Role};
use crate::protocol::{ErrorCode, FieldError};

/// Where a count or a stream takes its template from: exactly one of `sound`
/// and `template_upload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TemplateSource {
    /// A saved sound of the user (`sound`), a valid name.
    #[serde(rename = "sound")]
    Sound(String),
    /// A finished upload (`template_upload`).
    #[serde(rename = "template_upload")]
    Upload(String),
}

/// The optional `options` of `count` and `stream.open`. `None` means "use
/// the default" (the engine's, which must work without tuning).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CountOptions {
    /// Detection threshold, a finite number in 0..=1.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_unit"
    )]
    pub threshold: Option<f64>,
    /// Shortest gap between two events in seconds, finite and >= 0.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_min_gap"
    )]
    pub min_gap_s: Option<f64>,
}

/// The template's fields of `count` and `stream.open` as read, before the
/// rule that exactly one is given.
#[derive(Deserialize)]
struct TemplateFields {
    sound: Option<SoundName>,
    template_upload: Option<String>,
}

impl TemplateFields {
    /// Reads the template's fields of a request. Read after the request's
    /// other fields, which all sort before these two (a header's fields are
    /// read in name order), the first bad field named is the one a single
    /// pass would name.
    fn read(header: &Map<String, Value>) -> Result<TemplateFields, FieldError> {
        read(header)
    }

    /// The template: exactly one of `sound` and `template_upload`.
    fn exactly_one(self) -> Result<TemplateSource, FieldError> {
        match (self.sound, self.template_upload) {
            (Some(name), None) => Ok(TemplateSource::Sound(name.into())),
            (None, Some(upload_id)) => Ok(TemplateSource::Upload(upload_id)),
            (None, None) => Err(FieldError::bad(
                "sound",
                "is missing: give `sound` or `template_upload`",
            )),
            (Some(_), Some(_)) => Err(FieldError::bad(
                "sound",
                "and `template_upload` are both given: give exactly one",
            )),
        }
    }
}

impl CountOptions {
    /// Whether every option is the default (a client then leaves `options` out).
    pub fn is_default(&self) -> bool {
        *self == CountOptions::default()
    }
}

/// `signup`: create an account (does not log in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signup {
    /// A valid username ([`validate_username`]), as first written.
    #[serde(deserialize_with = "checked::<Username, _>")]
    pub username: String,
    /// At most [`MAX_PASSWORD_BYTES`]; its strength is NOT checked here: the
    /// server answers `weak_password` after [`check_password_strength`].
    #[serde(deserialize_with = "checked::<NewPassword, _>")]
    pub password: String,
}

/// `login`. Any strings: one that could never be valid is answered
/// `invalid_credentials` like a wrong pair (§5), see [`login_could_be_valid`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// The username as typed (any case).
    pub username: String,
    /// The password as typed.
    pub password: String,
}

/// `resume`: log in again with a resume token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The token from the last `login`/`resume` answer.
    pub token: String,
}

/// `upload.begin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadBegin {
    /// Size of the whole file in bytes, 1..=[`MAX_UPLOAD_SIZE`]
    /// (`too_large` above it, checked after every other field).
    pub size: u64,
    /// SHA-256 of the whole file (64 hex digits on the wire).
    #[serde(with = "hex_digest")]
    pub sha256: [u8; 32],
}

impl UploadBegin {
    /// The size rule, checked after every field was read: 0 is
    /// `bad_request`, over [`MAX_UPLOAD_SIZE`] is `too_large` (§5), so a
    /// request with a bad field and a size too large is `bad_request`, as the
    /// order of §4 wants.
    pub(super) fn check_size(self) -> Result<Self, FieldError> {
        if self.size == 0 {
            return Err(FieldError::bad("size", "must be at least 1"));
        }
        if self.size > MAX_UPLOAD_SIZE {
            return Err(FieldError {
                code: ErrorCode::TooLarge,
                ..FieldError::bad("size", format!("must be at most {MAX_UPLOAD_SIZE} bytes"))
            });
        }
        Ok(self)
    }
}

/// `upload.chunk` (+ payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadChunk {
    /// The id from `upload.begin`.
    pub upload_id: String,
    /// Where the payload goes in the file; must equal the bytes received.
    pub offset: u64,
}

/// `upload.finish` and `upload.abort`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRef {
    /// The id from `upload.begin`.
    pub upload_id: String,
}

/// `sound.save` (+ payload if inline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoundSave {
    /// A valid sound name.
    #[serde(deserialize_with = "checked::<SoundName, _>")]
    pub name: String,
    /// A finished upload to save; `None` means the payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// Replace an existing sound of that name (default false).
    #[serde(default, deserialize_with = "null_is_default")]
    pub overwrite: bool,
}

/// `sound.get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoundGet {
    /// A valid sound name.
    #[serde(deserialize_with = "checked::<SoundName, _>")]
    pub name: String,
    /// First byte wanted (default 0).
    #[serde(default, deserialize_with = "null_is_default")]
    pub offset: u64,
}

/// `sound.rename`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoundRename {
    /// The current name (valid).
    #[serde(deserialize_with = "checked::<SoundName, _>")]
    pub name: String,
    /// The new name (valid).
    #[serde(deserialize_with = "checked::<SoundName, _>")]
    pub new_name: String,
}

/// `sound.delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoundDelete {
    /// A valid sound name.
    #[serde(deserialize_with = "checked::<SoundName, _>")]
    pub name: String,
}

/// `count`: the recording is the payload or `recording_upload` (whether one
/// is there is the server's check, as is "both given").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    /// The template.
    #[serde(flatten)]
    pub template: TemplateSource,
    /// A finished upload holding the recording; `None` means the payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_upload: Option<String>,
    /// Tuning, defaults if absent.
    #[serde(skip_serializing_if = "CountOptions::is_default")]
    pub options: CountOptions,
}

/// `cancel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancel {
    /// The id of a running `count` or `admin.tail` of this session.
    #[serde(deserialize_with = "request_id")]
    pub target: u32,
}

/// `stream.open`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamOpen {
    /// The template.
    #[serde(flatten)]
    pub template: TemplateSource,
    /// The PCM format of every `stream.data` payload.
    #[serde(with = "pcm_format")]
    pub format: PcmFormat,
    /// Tuning, defaults if absent.
    #[serde(skip_serializing_if = "CountOptions::is_default")]
    pub options: CountOptions,
}

/// `count`'s fields but the template's, as read.
#[derive(Deserialize)]
struct CountFields {
    recording_upload: Option<String>,
    #[serde(default, deserialize_with = "object_or_default")]
    options: CountOptions,
}

impl Count {
    /// Reads a `count` from its header.
    pub(super) fn read(header: &Map<String, Value>) -> Result<Count, FieldError> {
        let CountFields {
            recording_upload,
            options,
        } = read(header)?;
        let template = TemplateFields::read(header)?.exactly_one()?;
        Ok(Count {
            template,
            recording_upload,
            options,
        })
    }
}

/// `stream.open`'s fields but the template's, as read. A missing `format`
/// is reported after the template's fields are read, as serde reports a
/// missing field after every present one.
#[derive(Deserialize)]
struct StreamOpenFields {
    #[serde(default, deserialize_with = "present_pcm_format")]
    format: Option<PcmFormat>,
    #[serde(default, deserialize_with = "object_or_default")]
    options: CountOptions,
}

/// A `format` that is there (`null` included) is read as a format.
fn present_pcm_format<'de, D>(deserializer: D) -> Result<Option<PcmFormat>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    pcm_format::deserialize(deserializer).map(Some)
}

impl StreamOpen {
    /// Reads a `stream.open` from its header.
    pub(super) fn read(header: &Map<String, Value>) -> Result<StreamOpen, FieldError> {
        let StreamOpenFields { format, options } = read(header)?;
        let template = TemplateFields::read(header)?;
        let format = format.ok_or_else(|| FieldError::bad("format", "is missing"))?;
        Ok(StreamOpen {
            template: template.exactly_one()?,
            format,
            options,
        })
    }
}

/// `stream.data` (+ payload) and `stream.close`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRef {
    /// The id from `stream.open`: an opaque string, like `upload_id`.
    pub stream_id: String,
}

/// The most entries one `admin.sessions` or `admin.users` page holds (§5,
/// 1.2): a page of 1,000 stays far under a frame (about 200 KB).
pub const MAX_PAGE_LIMIT: u64 = 1_000;

/// `offset` and `limit` of `admin.sessions` and `admin.users` (since 1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Entries to skip (default 0).
    #[serde(default, deserialize_with = "null_is_default")]
    pub offset: u64,
    /// Entries to return at most, 1..=[`MAX_PAGE_LIMIT`] (default 1,000).
    #[serde(default = "page_limit_default", deserialize_with = "page_limit")]
    pub limit: u64,
}

fn page_limit_default() -> u64 {
    MAX_PAGE_LIMIT
}

/// `limit` of a page: absent or `null` is the default, else 1..=[`MAX_PAGE_LIMIT`].
fn page_limit<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    match Option::<u64>::deserialize(deserializer)? {
        None => Ok(MAX_PAGE_LIMIT),
        Some(limit) if (1..=MAX_PAGE_LIMIT).contains(&limit) => Ok(limit),
        Some(_) => Err(serde::de::Error::custom(format!(
            "must be from 1 to {MAX_PAGE_LIMIT}"
        ))),
    }
}

impl Default for Page {
    fn default() -> Self {
        Page {
            offset: 0,
            limit: MAX_PAGE_LIMIT,
        }
    }
}

impl Page {
    /// This page of `entries` (already in order).
    pub fn of<T>(&self, entries: Vec<T>) -> Vec<T> {
        let offset = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        entries.into_iter().skip(offset).take(limit).collect()
    }
}

/// `admin.kick`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminKick {
    /// A `session_id` from `admin.sessions`.
    pub session_id: u64,
}

/// `admin.user.delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUserDelete {
    /// The account, any case. Not checked against the username rule: a name
    /// that cannot exist is simply `not_found`.
    pub username: String,
}

/// `admin.user.role`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUserRole {
    /// The account, any case (unchecked, as in [`AdminUserDelete`]).
    pub username: String,
    /// The new role.
    pub role: Role,
}

/// `admin.broadcast`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminBroadcast {
    /// The text of the notice (any string, empty included).
    pub message: String,
    /// Its priority (required).
    pub priority: Priority,
}

/// `admin.tail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminTail {
    /// Least severe level pushed (default `info`).
    #[serde(default, deserialize_with = "null_is_default")]
    pub level: LogLevel,
}

/// `admin.shutdown`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdminShutdown {
    /// Seconds running requests may take to finish: finite, >= 0.
    #[serde(deserialize_with = "seconds")]
    pub grace_s: f64,
}

impl AdminShutdown {
    /// `grace_s` as a duration (saturating at `Duration::MAX`).
    pub fn grace(&self) -> std::time::Duration {
        std::time::Duration::try_from_secs_f64(self.grace_s).unwrap_or(std::time::Duration::MAX)
    }
}

/// A request whose fields passed the checks of §5, grouped by who may send
/// it (the login and role checks of §4, [`RequestKind::access`]). It
/// serialises to its fields alone (every group is `untagged`; a request
/// without fields is `null`), [`Request::header`] adds the `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Request {
    /// Allowed before login.
    Open(OpenRequest),
    /// Needs a logged-in session.
    User(UserRequest),
    /// Needs the `admin` role.
    Admin(AdminRequest),
}

/// The requests allowed before login.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OpenRequest {
    /// `signup`.
    Signup(Signup),
    /// `login`.
    Login(Login),
    /// `resume`.
    Resume(Resume),
    /// `ping`.
    Ping,
}

/// The requests of a logged-in user.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum UserRequest {
    /// `logout`.
    Logout,
    /// `upload.*` and `sound.*`.
    Library(LibraryRequest),
    /// `count`.
    Count(Count),
    /// `cancel`.
    Cancel(Cancel),
    /// `stream.*`.
    Stream(StreamRequest),
}

/// The operations on a user's uploads and saved sounds, carried as they are
/// to the sound library.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LibraryRequest {
    /// `upload.begin`.
    UploadBegin(UploadBegin),
    /// `upload.chunk`.
    UploadChunk(UploadChunk),
    /// `upload.finish`.
    UploadFinish(UploadRef),
    /// `upload.abort`.
    UploadAbort(UploadRef),
    /// `sound.list`.
    SoundList,
    /// `sound.save`.
    SoundSave(SoundSave),
    /// `sound.get`.
    SoundGet(SoundGet),
    /// `sound.rename`.
    SoundRename(SoundRename),
    /// `sound.delete`.
    SoundDelete(SoundDelete),
}

impl LibraryRequest {
    /// The type of this request.
    pub fn kind(&self) -> RequestKind {
        match self {
            LibraryRequest::UploadBegin(_) => RequestKind::UploadBegin,
            LibraryRequest::UploadChunk(_) => RequestKind::UploadChunk,
            LibraryRequest::UploadFinish(_) => RequestKind::UploadFinish,
            LibraryRequest::UploadAbort(_) => RequestKind::UploadAbort,
            LibraryRequest::SoundList => RequestKind::SoundList,
            LibraryRequest::SoundSave(_) => RequestKind::SoundSave,
            LibraryRequest::SoundGet(_) => RequestKind::SoundGet,
            LibraryRequest::SoundRename(_) => RequestKind::SoundRename,
            LibraryRequest::SoundDelete(_) => RequestKind::SoundDelete,
        }
    }
}

/// The requests of live counting.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum StreamRequest {
    /// `stream.open`.
    Open(StreamOpen),
    /// `stream.data`.
    Data(StreamRef),
    /// `stream.close`.
    Close(StreamRef),
}

/// The administration requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AdminRequest {
    /// `admin.sessions`.
    Sessions(Page),
    /// `admin.kick`.
    Kick(AdminKick),
    /// `admin.users`.
    Users(Page),
    /// `admin.user.delete`.
    UserDelete(AdminUserDelete),
    /// `admin.user.role`.
    UserRole(AdminUserRole),
    /// `admin.broadcast`.
    Broadcast(AdminBroadcast),
    /// `admin.stats`.
    Stats,
    /// `admin.tail`.
    Tail(AdminTail),
    /// `admin.shutdown`.
    Shutdown(AdminShutdown),
}
