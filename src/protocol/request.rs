//! Client requests (§5), parsed in the order of the checks of §4:
//!
//! 1. the header and a known `type` ([`Envelope::parse`], `bad_request`);
//! 2. a shutdown under way (`shutting_down`), login (`unauthenticated`,
//!    [`RequestKind::needs_login`]) and role (`forbidden`,
//!    [`RequestKind::needs_admin`]): the server's, with the [`Envelope`];
//! 3. the request's fields ([`Request::parse`], `bad_request`, and
//!    `too_large` for an upload `size`, see [`FieldError`]);
//! 4. the request itself: the server's.
//!
//! The naming and size rules of §5 are plain functions
//! ([`validate_username`], [`validate_sound_name`], [`check_password_size`],
//! [`check_password_strength`], ...) so the server and the client share them.
//!
//! Conventions for every field (where §5 is silent):
//! - unknown fields are ignored;
//! - an optional field given as JSON `null` counts as absent (many client
//!   libraries write `None` as `null`); a required one given as `null` is
//!   missing;
//! - integers must be JSON integers (`5`, not `5.0` or `"5"`); seconds and
//!   scores (`grace_s`, `threshold`, `min_gap_s`) may be any JSON number;
//! - strings are compared and stored exactly as given (no trimming, no
//!   Unicode normalisation).

use serde_json::{Map, Value};

use super::codes::{wire_enum, ErrorCode, LogLevel, Priority, Role};
use super::message::{parse_id, request_id};
use super::{EnvelopeError, EnvelopeProblem, FieldError, IdError, RuleViolation};

/// Longest password accepted at signup, in bytes of UTF-8 (§5).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Shortest password accepted at signup, in Unicode code points (§5).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest username (§5: one character then up to 31 more).
pub const MAX_USERNAME_LEN: usize = 32;
/// Longest sound name, in Unicode code points (§5).
pub const MAX_SOUND_NAME_CHARS: usize = 64;
/// Largest upload `size` that §5 allows (512 MiB). A server configured lower
/// checks its own setting after [`Request::parse`].
pub const MAX_UPLOAD_SIZE: u64 = 512 * 1024 * 1024;
pub use crate::audio::pcm::MAX_STREAM_CHANNELS as MAX_CHANNELS;
pub use crate::audio::{PcmEncoding, PcmFormat, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};
/// How much of an unknown `type` an error message repeats.
const MAX_ECHOED_TYPE_CHARS: usize = 64;

wire_enum! {
    /// Every request `type` of §5.
    pub enum RequestKind {
        /// Create an account.
        Signup => "signup",
        /// Log in with username and password.
        Login => "login",
        /// Log in again with a resume token.
        Resume => "resume",
        /// Keep the session alive and read the server's clock.
        Ping => "ping",
        /// Log out (the session stays open).
        Logout => "logout",
        /// Start an upload.
        UploadBegin => "upload.begin",
        /// Send the next bytes of an upload.
        UploadChunk => "upload.chunk",
        /// Finish an upload and check its hash.
        UploadFinish => "upload.finish",
        /// Drop an upload.
        UploadAbort => "upload.abort",
        /// List the user's saved sounds.
        SoundList => "sound.list",
        /// Save a sound (inline or from an upload).
        SoundSave => "sound.save",
        /// Download a saved sound, a piece at a time.
        SoundGet => "sound.get",
        /// Rename a saved sound.
        SoundRename => "sound.rename",
        /// Delete a saved sound.
        SoundDelete => "sound.delete",
        /// Count a template in a recording.
        Count => "count",
        /// End a running `count` or `admin.tail` of this session.
        Cancel => "cancel",
        /// Open a live-counting stream.
        StreamOpen => "stream.open",
        /// Send raw PCM to a stream.
        StreamData => "stream.data",
        /// Close a stream and get all its events.
        StreamClose => "stream.close",
        /// List the sessions (admin).
        AdminSessions => "admin.sessions",
        /// Close a session (admin).
        AdminKick => "admin.kick",
        /// List the accounts (admin).
        AdminUsers => "admin.users",
        /// Delete an account and its sounds (admin).
        AdminUserDelete => "admin.user.delete",
        /// Change an account's role (admin).
        AdminUserRole => "admin.user.role",
        /// Send a notice to every logged-in session (admin).
        AdminBroadcast => "admin.broadcast",
        /// Server counters (admin).
        AdminStats => "admin.stats",
        /// Follow the server's log (admin).
        AdminTail => "admin.tail",
        /// Stop the server gracefully (admin).
        AdminShutdown => "admin.shutdown",
    }
}

/// Who may send a request (§4's login and role checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, before login too.
    Open,
    /// A logged-in session (else `unauthenticated`).
    User,
    /// A session logged in with the `admin` role (else `forbidden`).
    Admin,
}

impl RequestKind {
    /// Who may send this request: the group of its [`Request`].
    pub const fn access(self) -> Access {
        if self.needs_admin() {
            Access::Admin
        } else if self.needs_login() {
            Access::User
        } else {
            Access::Open
        }
    }

    /// Whether the request needs a logged-in session (else `unauthenticated`).
    ///
    /// False only for `signup`, `login`, `resume` and `ping`. `ping` is
    /// allowed before login because §7 makes it the way to keep a session
    /// alive and it reveals nothing but the clock (a client may also use it to
    /// check the server before asking for a password). `logout` needs a login:
    /// §5's "any other request before login" covers it and there is no token
    /// to revoke, so a second `logout` is `unauthenticated`.
    pub const fn needs_login(self) -> bool {
        !matches!(
            self,
            RequestKind::Signup | RequestKind::Login | RequestKind::Resume | RequestKind::Ping
        )
    }

    /// Whether the request needs the `admin` role (else `forbidden`): every
    /// `admin.*` request.
    pub const fn needs_admin(self) -> bool {
        matches!(
            self,
            RequestKind::AdminSessions
                | RequestKind::AdminKick
                | RequestKind::AdminUsers
                | RequestKind::AdminUserDelete
                | RequestKind::AdminUserRole
                | RequestKind::AdminBroadcast
                | RequestKind::AdminStats
                | RequestKind::AdminTail
                | RequestKind::AdminShutdown
        )
    }
}

/// The first phase of a request: its id and a known type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    /// The request id (1..=2^32-1), carried by every answer and push.
    pub id: u32,
    /// The request type.
    pub kind: RequestKind,
}

impl Envelope {
    /// Reads `id` and `type` from a request header.
    ///
    /// The id is read first: when it is missing or invalid the error has no
    /// id, whatever the type; when it is valid and the type is missing, not a
    /// string or unknown, the error carries it.
    pub fn parse(header: &Map<String, Value>) -> Result<Self, EnvelopeError> {
        let id = request_id(header).map_err(|err| EnvelopeError {
            id: None,
            problem: EnvelopeProblem::Id(err),
        })?;
        let fail = |problem| EnvelopeError {
            id: Some(id),
            problem,
        };
        let kind = match header.get("type") {
            None | Some(Value::Null) => return Err(fail(EnvelopeProblem::MissingType)),
            Some(Value::String(kind)) => kind,
            Some(_) => return Err(fail(EnvelopeProblem::TypeNotString)),
        };
        match RequestKind::from_wire(kind) {
            Some(kind) => Ok(Envelope { id, kind }),
            None => Err(fail(EnvelopeProblem::UnknownType(
                kind.chars().take(MAX_ECHOED_TYPE_CHARS).collect(),
            ))),
        }
    }
}

/// Where a count or a stream takes its template from: exactly one of `sound`
/// and `template_upload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    /// A saved sound of the user (`sound`), a valid name.
    Sound(String),
    /// A finished upload (`template_upload`).
    Upload(String),
}

/// The optional `options` of `count` and `stream.open`. `None` means "use
/// the default" (the engine's, which must work without tuning).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CountOptions {
    /// Detection threshold, a finite number in 0..=1.
    pub threshold: Option<f64>,
    /// Shortest gap between two events in seconds, finite and >= 0.
    pub min_gap_s: Option<f64>,
}

/// `signup`: create an account (does not log in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signup {
    /// A valid username ([`validate_username`]), as first written.
    pub username: String,
    /// At most [`MAX_PASSWORD_BYTES`]; its strength is NOT checked here: the
    /// server answers `weak_password` after [`check_password_strength`].
    pub password: String,
}

/// `login`. Any strings: one that could never be valid is answered
/// `invalid_credentials` like a wrong pair (§5), see [`login_could_be_valid`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The username as typed (any case).
    pub username: String,
    /// The password as typed.
    pub password: String,
}

/// `resume`: log in again with a resume token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The token from the last `login`/`resume` answer.
    pub token: String,
}

/// `upload.begin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadBegin {
    /// Size of the whole file in bytes, 1..=[`MAX_UPLOAD_SIZE`].
    pub size: u64,
    /// SHA-256 of the whole file.
    pub sha256: [u8; 32],
}

/// `upload.chunk` (+ payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadChunk {
    /// The id from `upload.begin`.
    pub upload_id: String,
    /// Where the payload goes in the file; must equal the bytes received.
    pub offset: u64,
}

/// `upload.finish` and `upload.abort`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRef {
    /// The id from `upload.begin`.
    pub upload_id: String,
}

/// `sound.save` (+ payload if inline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoundSave {
    /// A valid sound name.
    pub name: String,
    /// A finished upload to save; `None` means the payload.
    pub upload_id: Option<String>,
    /// Replace an existing sound of that name (default false).
    pub overwrite: bool,
}

/// `sound.get`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoundGet {
    /// A valid sound name.
    pub name: String,
    /// First byte wanted (default 0).
    pub offset: u64,
}

/// `sound.rename`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoundRename {
    /// The current name (valid).
    pub name: String,
    /// The new name (valid).
    pub new_name: String,
}

/// `sound.delete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoundDelete {
    /// A valid sound name.
    pub name: String,
}

/// `count`: the recording is the payload or `recording_upload` (whether one
/// is there is the server's check, as is "both given").
#[derive(Debug, Clone, PartialEq)]
pub struct Count {
    /// The template.
    pub template: TemplateSource,
    /// A finished upload holding the recording; `None` means the payload.
    pub recording_upload: Option<String>,
    /// Tuning, defaults if absent.
    pub options: CountOptions,
}

/// `cancel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancel {
    /// The id of a running `count` or `admin.tail` of this session.
    pub target: u32,
}

/// `stream.open`.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamOpen {
    /// The template.
    pub template: TemplateSource,
    /// The PCM format of every `stream.data` payload.
    pub format: PcmFormat,
    /// Tuning, defaults if absent.
    pub options: CountOptions,
}

/// `stream.data` (+ payload) and `stream.close`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRef {
    /// The id from `stream.open`: an opaque string, like `upload_id`.
    pub stream_id: String,
}

/// `admin.kick`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminKick {
    /// A `session_id` from `admin.sessions`.
    pub session_id: u64,
}

/// `admin.user.delete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUserDelete {
    /// The account, any case. Not checked against the username rule: a name
    /// that cannot exist is simply `not_found`.
    pub username: String,
}

/// `admin.user.role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUserRole {
    /// The account, any case (unchecked, as in [`AdminUserDelete`]).
    pub username: String,
    /// The new role.
    pub role: Role,
}

/// `admin.broadcast`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminBroadcast {
    /// The text of the notice (any string, empty included).
    pub message: String,
    /// Its priority (required).
    pub priority: Priority,
}

/// `admin.tail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminTail {
    /// Least severe level pushed (default `info`).
    pub level: LogLevel,
}

/// `admin.shutdown`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdminShutdown {
    /// Seconds running requests may take to finish: finite, >= 0.
    pub grace_s: f64,
}

impl AdminShutdown {
    /// `grace_s` as a duration (saturating at `Duration::MAX`).
    pub fn grace(&self) -> std::time::Duration {
        std::time::Duration::try_from_secs_f64(self.grace_s).unwrap_or(std::time::Duration::MAX)
    }
}

/// A request whose fields passed the checks of §5, grouped by who may send
/// it (the login and role checks of §4, [`RequestKind::access`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Allowed before login.
    Open(OpenRequest),
    /// Needs a logged-in session.
    User(UserRequest),
    /// Needs the `admin` role.
    Admin(AdminRequest),
}

/// The requests allowed before login.
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
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

/// The requests of live counting.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamRequest {
    /// `stream.open`.
    Open(StreamOpen),
    /// `stream.data`.
    Data(StreamRef),
    /// `stream.close`.
    Close(StreamRef),
}

/// The administration requests.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminRequest {
    /// `admin.sessions`.
    Sessions,
    /// `admin.kick`.
    Kick(AdminKick),
    /// `admin.users`.
    Users,
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

impl Request {
    /// Reads and checks the fields of a request of type `kind` (the second
    /// phase, after the envelope, shutdown, login and role checks).
    ///
    /// Every failure is `bad_request` except an `upload.begin` `size` over
    /// [`MAX_UPLOAD_SIZE`], which is `too_large` ([`FieldError::code`]); it is
    /// checked after every other field of that request, so a request with
    /// both kinds of fault is `bad_request`, as the order of §4 wants.
    /// Payload presence (inline audio vs. an upload) is the server's check.
    pub fn parse(kind: RequestKind, header: &Map<String, Value>) -> Result<Request, FieldError> {
        let fields = Fields(header);
        Ok(match kind {
            RequestKind::Signup => {
                let username = fields.string("username")?;
                validate_username(&username).map_err(|rule| FieldError::bad("username", rule.0))?;
                let password = fields.string("password")?;
                check_password_size(&password)
                    .map_err(|rule| FieldError::bad("password", rule.0))?;
                Request::Open(OpenRequest::Signup(Signup { username, password }))
            }
            RequestKind::Login => Request::Open(OpenRequest::Login(Login {
                username: fields.string("username")?,
                password: fields.string("password")?,
            })),
            RequestKind::Resume => Request::Open(OpenRequest::Resume(Resume {
                token: fields.string("token")?,
            })),
            RequestKind::Ping => Request::Open(OpenRequest::Ping),
            RequestKind::Logout => Request::User(UserRequest::Logout),
            RequestKind::UploadBegin => {
                let size = fields.u64("size")?;
                if size == 0 {
                    return Err(FieldError::bad("size", "must be at least 1"));
                }
                let sha256 = parse_sha256_hex(&fields.string("sha256")?)
                    .map_err(|rule| FieldError::bad("sha256", rule.0))?;
                if size > MAX_UPLOAD_SIZE {
                    return Err(FieldError {
                        field: "size",
                        reason: format!("must be at most {MAX_UPLOAD_SIZE} bytes"),
                        code: ErrorCode::TooLarge,
                    });
                }
                Request::User(UserRequest::Library(LibraryRequest::UploadBegin(
                    UploadBegin { size, sha256 },
                )))
            }
            RequestKind::UploadChunk => Request::User(UserRequest::Library(
                LibraryRequest::UploadChunk(UploadChunk {
                    upload_id: fields.string("upload_id")?,
                    offset: fields.u64("offset")?,
                }),
            )),
            RequestKind::UploadFinish => Request::User(UserRequest::Library(
                LibraryRequest::UploadFinish(UploadRef {
                    upload_id: fields.string("upload_id")?,
                }),
            )),
            RequestKind::UploadAbort => Request::User(UserRequest::Library(
                LibraryRequest::UploadAbort(UploadRef {
                    upload_id: fields.string("upload_id")?,
                }),
            )),
            RequestKind::SoundList => {
                Request::User(UserRequest::Library(LibraryRequest::SoundList))
            }
            RequestKind::SoundSave => {
                Request::User(UserRequest::Library(LibraryRequest::SoundSave(SoundSave {
                    name: fields.sound_name("name")?,
                    upload_id: fields.opt_string("upload_id")?,
                    overwrite: fields.opt_bool("overwrite")?.unwrap_or(false),
                })))
            }
            RequestKind::SoundGet => {
                Request::User(UserRequest::Library(LibraryRequest::SoundGet(SoundGet {
                    name: fields.sound_name("name")?,
                    offset: fields.opt_u64("offset")?.unwrap_or(0),
                })))
            }
            RequestKind::SoundRename => Request::User(UserRequest::Library(
                LibraryRequest::SoundRename(SoundRename {
                    name: fields.sound_name("name")?,
                    new_name: fields.sound_name("new_name")?,
                }),
            )),
            RequestKind::SoundDelete => Request::User(UserRequest::Library(
                LibraryRequest::SoundDelete(SoundDelete {
                    name: fields.sound_name("name")?,
                }),
            )),
            RequestKind::Count => Request::User(UserRequest::Count(Count {
                template: fields.template()?,
                recording_upload: fields.opt_string("recording_upload")?,
                options: fields.options()?,
            })),
            RequestKind::Cancel => Request::User(UserRequest::Cancel(Cancel {
                target: parse_id(fields.get("target")).map_err(|err| match err {
                    IdError::Missing => FieldError::bad("target", "is missing"),
                    _ => FieldError::bad(
                        "target",
                        "must be a request id (an integer in 1..=4294967295)",
                    ),
                })?,
            })),
            RequestKind::StreamOpen => {
                Request::User(UserRequest::Stream(StreamRequest::Open(StreamOpen {
                    template: fields.template()?,
                    format: fields.format()?,
                    options: fields.options()?,
                })))
            }
            RequestKind::StreamData => {
                Request::User(UserRequest::Stream(StreamRequest::Data(StreamRef {
                    stream_id: fields.string("stream_id")?,
                })))
            }
            RequestKind::StreamClose => {
                Request::User(UserRequest::Stream(StreamRequest::Close(StreamRef {
                    stream_id: fields.string("stream_id")?,
                })))
            }
            RequestKind::AdminSessions => Request::Admin(AdminRequest::Sessions),
            RequestKind::AdminKick => Request::Admin(AdminRequest::Kick(AdminKick {
                session_id: fields.u64("session_id")?,
            })),
            RequestKind::AdminUsers => Request::Admin(AdminRequest::Users),
            RequestKind::AdminUserDelete => {
                Request::Admin(AdminRequest::UserDelete(AdminUserDelete {
                    username: fields.string("username")?,
                }))
            }
            RequestKind::AdminUserRole => Request::Admin(AdminRequest::UserRole(AdminUserRole {
                username: fields.string("username")?,
                role: fields.wire("role", Role::from_wire, "must be \"user\" or \"admin\"")?,
            })),
            RequestKind::AdminBroadcast => {
                Request::Admin(AdminRequest::Broadcast(AdminBroadcast {
                    message: fields.string("message")?,
                    priority: fields.wire(
                        "priority",
                        Priority::from_wire,
                        "must be \"low\", \"medium\" or \"high\"",
                    )?,
                }))
            }
            RequestKind::AdminStats => Request::Admin(AdminRequest::Stats),
            RequestKind::AdminTail => Request::Admin(AdminRequest::Tail(AdminTail {
                level: match fields.get("level") {
                    None => LogLevel::Info,
                    Some(_) => fields.wire(
                        "level",
                        LogLevel::from_wire,
                        "must be \"error\", \"warn\", \"info\", \"debug\" or \"trace\"",
                    )?,
                },
            })),
            RequestKind::AdminShutdown => {
                let grace_s = fields.f64("grace_s")?;
                if grace_s < 0.0 {
                    return Err(FieldError::bad("grace_s", "must be at least 0"));
                }
                Request::Admin(AdminRequest::Shutdown(AdminShutdown { grace_s }))
            }
        })
    }

    /// The type of this request.
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::Open(OpenRequest::Signup(_)) => RequestKind::Signup,
            Request::Open(OpenRequest::Login(_)) => RequestKind::Login,
            Request::Open(OpenRequest::Resume(_)) => RequestKind::Resume,
            Request::Open(OpenRequest::Ping) => RequestKind::Ping,
            Request::User(UserRequest::Logout) => RequestKind::Logout,
            Request::User(UserRequest::Library(LibraryRequest::UploadBegin(_))) => {
                RequestKind::UploadBegin
            }
            Request::User(UserRequest::Library(LibraryRequest::UploadChunk(_))) => {
                RequestKind::UploadChunk
            }
            Request::User(UserRequest::Library(LibraryRequest::UploadFinish(_))) => {
                RequestKind::UploadFinish
            }
            Request::User(UserRequest::Library(LibraryRequest::UploadAbort(_))) => {
                RequestKind::UploadAbort
            }
            Request::User(UserRequest::Library(LibraryRequest::SoundList)) => {
                RequestKind::SoundList
            }
            Request::User(UserRequest::Library(LibraryRequest::SoundSave(_))) => {
                RequestKind::SoundSave
            }
            Request::User(UserRequest::Library(LibraryRequest::SoundGet(_))) => {
                RequestKind::SoundGet
            }
            Request::User(UserRequest::Library(LibraryRequest::SoundRename(_))) => {
                RequestKind::SoundRename
            }
            Request::User(UserRequest::Library(LibraryRequest::SoundDelete(_))) => {
                RequestKind::SoundDelete
            }
            Request::User(UserRequest::Count(_)) => RequestKind::Count,
            Request::User(UserRequest::Cancel(_)) => RequestKind::Cancel,
            Request::User(UserRequest::Stream(StreamRequest::Open(_))) => RequestKind::StreamOpen,
            Request::User(UserRequest::Stream(StreamRequest::Data(_))) => RequestKind::StreamData,
            Request::User(UserRequest::Stream(StreamRequest::Close(_))) => RequestKind::StreamClose,
            Request::Admin(AdminRequest::Sessions) => RequestKind::AdminSessions,
            Request::Admin(AdminRequest::Kick(_)) => RequestKind::AdminKick,
            Request::Admin(AdminRequest::Users) => RequestKind::AdminUsers,
            Request::Admin(AdminRequest::UserDelete(_)) => RequestKind::AdminUserDelete,
            Request::Admin(AdminRequest::UserRole(_)) => RequestKind::AdminUserRole,
            Request::Admin(AdminRequest::Broadcast(_)) => RequestKind::AdminBroadcast,
            Request::Admin(AdminRequest::Stats) => RequestKind::AdminStats,
            Request::Admin(AdminRequest::Tail(_)) => RequestKind::AdminTail,
            Request::Admin(AdminRequest::Shutdown(_)) => RequestKind::AdminShutdown,
        }
    }
}

/// Typed reads of header fields, each failing with a [`FieldError`] that
/// names the field.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    /// The field's value; `null` counts as absent.
    fn get(&self, field: &str) -> Option<&'a Value> {
        self.0.get(field).filter(|value| !value.is_null())
    }

    fn string(&self, field: &'static str) -> Result<String, FieldError> {
        self.opt_string(field)?
            .ok_or_else(|| FieldError::bad(field, "is missing"))
    }

    fn opt_string(&self, field: &'static str) -> Result<Option<String>, FieldError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(FieldError::bad(field, "must be a string")),
        }
    }

    fn u64(&self, field: &'static str) -> Result<u64, FieldError> {
        self.opt_u64(field)?
            .ok_or_else(|| FieldError::bad(field, "is missing"))
    }

    fn opt_u64(&self, field: &'static str) -> Result<Option<u64>, FieldError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(number)) if !number.is_f64() => number
                .as_u64()
                .map(Some)
                .ok_or_else(|| FieldError::bad(field, "must not be negative")),
            Some(_) => Err(FieldError::bad(field, "must be a non-negative integer")),
        }
    }

    fn opt_bool(&self, field: &'static str) -> Result<Option<bool>, FieldError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(_) => Err(FieldError::bad(field, "must be true or false")),
        }
    }

    fn f64(&self, field: &'static str) -> Result<f64, FieldError> {
        number_in(field, self.get(field))?.ok_or_else(|| FieldError::bad(field, "is missing"))
    }

    fn sound_name(&self, field: &'static str) -> Result<String, FieldError> {
        let name = self.string(field)?;
        validate_sound_name(&name).map_err(|rule| FieldError::bad(field, rule.0))?;
        Ok(name)
    }

    /// A string field that must be one of a wire enum's values.
    fn wire<T>(
        &self,
        field: &'static str,
        from_wire: fn(&str) -> Option<T>,
        expected: &'static str,
    ) -> Result<T, FieldError> {
        from_wire(&self.string(field)?).ok_or_else(|| FieldError::bad(field, expected))
    }

    fn template(&self) -> Result<TemplateSource, FieldError> {
        let sound = self.opt_string("sound")?;
        let upload = self.opt_string("template_upload")?;
        match (sound, upload) {
            (Some(name), None) => {
                validate_sound_name(&name).map_err(|rule| FieldError::bad("sound", rule.0))?;
                Ok(TemplateSource::Sound(name))
            }
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

    fn options(&self) -> Result<CountOptions, FieldError> {
        let options = match self.get("options") {
            None => return Ok(CountOptions::default()),
            Some(Value::Object(options)) => options,
            Some(_) => return Err(FieldError::bad("options", "must be an object")),
        };
        let threshold = number_in("options.threshold", options.get("threshold"))?;
        if threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
            return Err(FieldError::bad("options.threshold", "must be in 0..1"));
        }
        let min_gap_s = number_in("options.min_gap_s", options.get("min_gap_s"))?;
        if min_gap_s.is_some_and(|gap| gap < 0.0) {
            return Err(FieldError::bad("options.min_gap_s", "must be at least 0"));
        }
        Ok(CountOptions {
            threshold,
            min_gap_s,
        })
    }

    fn format(&self) -> Result<PcmFormat, FieldError> {
        let format = match self.get("format") {
            None => return Err(FieldError::bad("format", "is missing")),
            Some(Value::Object(format)) => Fields(format),
            Some(_) => return Err(FieldError::bad("format", "must be an object")),
        };
        let encoding = match format.get("encoding") {
            None => return Err(FieldError::bad("format.encoding", "is missing")),
            Some(Value::String(text)) => PcmEncoding::from_wire(text),
            Some(_) => None,
        }
        .ok_or_else(|| {
            FieldError::bad("format.encoding", "must be \"u8\", \"s16le\" or \"f32le\"")
        })?;
        let sample_rate = format
            .u64("sample_rate")
            .map_err(|err| FieldError::bad("format.sample_rate", err.reason))?;
        let sample_rate = u32::try_from(sample_rate)
            .ok()
            .filter(|rate| (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(rate))
            .ok_or_else(|| {
                FieldError::bad(
                    "format.sample_rate",
                    format!("must be in {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE}"),
                )
            })?;
        let channels = format
            .u64("channels")
            .map_err(|err| FieldError::bad("format.channels", err.reason))?;
        let channels = u16::try_from(channels)
            .ok()
            .filter(|channels| (1..=MAX_CHANNELS).contains(channels))
            .ok_or_else(|| {
                FieldError::bad("format.channels", format!("must be in 1..={MAX_CHANNELS}"))
            })?;
        Ok(PcmFormat {
            encoding,
            sample_rate,
            channels,
        })
    }
}

/// An optional finite JSON number (`null` is absent).
fn number_in(field: &'static str, value: Option<&Value>) -> Result<Option<f64>, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_f64()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or_else(|| FieldError::bad(field, "must be a finite number")),
        Some(_) => Err(FieldError::bad(field, "must be a number")),
    }
}

/// Checks a username against §5: `^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$`.
///
/// Written with plain character checks, and stricter than some regex engines
/// where `$` also matches before a final newline: `"alice\n"` is refused.
pub fn validate_username(username: &str) -> Result<(), RuleViolation> {
    let mut chars = username.chars();
    let Some(first) = chars.next() else {
        return Err(RuleViolation("must not be empty"));
    };
    if !first.is_ascii_alphanumeric() {
        return Err(RuleViolation("must start with an ASCII letter or digit"));
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return Err(RuleViolation(
            "may contain only ASCII letters, digits, `_`, `.` and `-`",
        ));
    }
    // Only ASCII from here, so bytes are characters.
    if username.len() > MAX_USERNAME_LEN {
        return Err(RuleViolation("must be at most 32 characters"));
    }
    Ok(())
}

/// The form of a username under which accounts are unique (§5: `Alice` and
/// `alice` are one account): ASCII lower case, which is full case folding for
/// the ASCII-only names [`validate_username`] accepts. Also the key of the
/// per-username login failure count.
pub fn username_key(username: &str) -> String {
    username.to_ascii_lowercase()
}

/// Signup password size (§5): more than [`MAX_PASSWORD_BYTES`] bytes is
/// `bad_request`, checked before the strength.
pub fn check_password_size(password: &str) -> Result<(), RuleViolation> {
    if password.len() > MAX_PASSWORD_BYTES {
        Err(RuleViolation("must be at most 1024 bytes"))
    } else {
        Ok(())
    }
}

/// Signup password strength (§5): fewer than [`MIN_PASSWORD_CHARS`] Unicode
/// code points is `weak_password` (a request-level answer, so it is not part
/// of [`Request::parse`]).
pub fn check_password_strength(password: &str) -> Result<(), RuleViolation> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        Err(RuleViolation("must be at least 8 characters"))
    } else {
        Ok(())
    }
}

/// Whether a login pair could belong to an account at all (§5: one that
/// could never be valid is just `invalid_credentials`). Lets the server
/// answer without a password hash for such pairs; it still counts as a
/// failed login.
pub fn login_could_be_valid(username: &str, password: &str) -> bool {
    validate_username(username).is_ok()
        && check_password_size(password).is_ok()
        && check_password_strength(password).is_ok()
}

/// Checks a sound name against §5: 1–64 code points, no control character
/// (category Cc, NUL included), no `/` or `\`, not `.` or `..`, no leading
/// or trailing Unicode White_Space.
pub fn validate_sound_name(name: &str) -> Result<(), RuleViolation> {
    if name.is_empty() {
        return Err(RuleViolation("must not be empty"));
    }
    // `chars().count()` walks at most the frame's 1 MiB.
    if name.chars().count() > MAX_SOUND_NAME_CHARS {
        return Err(RuleViolation("must be at most 64 characters"));
    }
    if name == "." || name == ".." {
        return Err(RuleViolation("must not be `.` or `..`"));
    }
    // `char::is_control` is exactly general category Cc.
    if name.chars().any(char::is_control) {
        return Err(RuleViolation("must not contain control characters"));
    }
    if name.contains(['/', '\\']) {
        return Err(RuleViolation("must not contain `/` or `\\`"));
    }
    // `char::is_whitespace` is exactly the White_Space property.
    let starts = name.chars().next().is_some_and(char::is_whitespace);
    let ends = name.chars().next_back().is_some_and(char::is_whitespace);
    if starts || ends {
        return Err(RuleViolation("must not start or end with white space"));
    }
    Ok(())
}

/// Reads a SHA-256 given as 64 hex digits (either case; the server writes
/// lower case).
pub fn parse_sha256_hex(text: &str) -> Result<[u8; 32], RuleViolation> {
    let mut digest = [0u8; 32];
    if text.len() != 64 {
        return Err(RuleViolation("must be 64 hex digits"));
    }
    hex::decode_to_slice(text, &mut digest).map_err(|_| RuleViolation("must be 64 hex digits"))?;
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::decode_message;
    use bytes::Bytes;
    use serde_json::json;

    fn header(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn parse(kind: RequestKind, fields: Value) -> Result<Request, FieldError> {
        Request::parse(kind, &header(fields))
    }

    fn field_of(result: Result<Request, FieldError>) -> &'static str {
        let err = result.unwrap_err();
        assert_eq!(err.code, ErrorCode::BadRequest, "{err}");
        err.field
    }

    const HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    // --- envelope ---------------------------------------------------------

    #[test]
    fn test_vector_frame_0_is_a_ping_with_id_1() {
        let message = decode_message(Bytes::from(
            hex::decode("000000167b2274797065223a2270696e67222c226964223a317d").unwrap(),
        ))
        .unwrap();
        assert_eq!(
            Envelope::parse(&message.header),
            Ok(Envelope {
                id: 1,
                kind: RequestKind::Ping
            })
        );
        assert_eq!(
            Request::parse(RequestKind::Ping, &message.header),
            Ok(Request::Open(OpenRequest::Ping))
        );
    }

    #[test]
    fn every_request_type_round_trips() {
        let wire = [
            "signup",
            "login",
            "resume",
            "ping",
            "logout",
            "upload.begin",
            "upload.chunk",
            "upload.finish",
            "upload.abort",
            "sound.list",
            "sound.save",
            "sound.get",
            "sound.rename",
            "sound.delete",
            "count",
            "cancel",
            "stream.open",
            "stream.data",
            "stream.close",
            "admin.sessions",
            "admin.kick",
            "admin.users",
            "admin.user.delete",
            "admin.user.role",
            "admin.broadcast",
            "admin.stats",
            "admin.tail",
            "admin.shutdown",
        ];
        assert_eq!(RequestKind::ALL.len(), wire.len());
        for (kind, text) in RequestKind::ALL.iter().zip(wire) {
            assert_eq!(kind.as_str(), text);
            assert_eq!(RequestKind::from_wire(text), Some(*kind));
            let envelope = Envelope::parse(&header(json!({"type": text, "id": 7}))).unwrap();
            assert_eq!(envelope.kind, *kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(text));
        }
        assert_eq!(RequestKind::from_wire("Ping"), None);
        assert_eq!(RequestKind::from_wire("admin"), None);
    }

    #[test]
    fn login_and_role_requirements() {
        let open: Vec<_> = RequestKind::ALL
            .iter()
            .filter(|kind| !kind.needs_login())
            .map(|kind| kind.as_str())
            .collect();
        assert_eq!(open, ["signup", "login", "resume", "ping"]);
        for kind in RequestKind::ALL {
            assert_eq!(kind.needs_admin(), kind.as_str().starts_with("admin."));
            assert!(!kind.needs_admin() || kind.needs_login());
        }
        assert!(RequestKind::Logout.needs_login());
    }

    #[test]
    fn unknown_type_with_a_valid_id_keeps_the_id() {
        let err = Envelope::parse(&header(json!({"type": "sound.play", "id": 42}))).unwrap_err();
        assert_eq!(err.id, Some(42));
        assert_eq!(
            err.problem,
            EnvelopeProblem::UnknownType("sound.play".into())
        );
        let err = Envelope::parse(&header(json!({"id": 42}))).unwrap_err();
        assert_eq!(
            (err.id, err.problem),
            (Some(42), EnvelopeProblem::MissingType)
        );
        let err = Envelope::parse(&header(json!({"type": 3, "id": 42}))).unwrap_err();
        assert_eq!(
            (err.id, err.problem),
            (Some(42), EnvelopeProblem::TypeNotString)
        );
        let long = "x".repeat(10_000);
        let err = Envelope::parse(&header(json!({"type": long, "id": 1}))).unwrap_err();
        assert!(err.to_string().len() < 200, "unknown type is shortened");
    }

    #[test]
    fn invalid_or_missing_id_has_no_id_whatever_the_type() {
        for id in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("1"),
            json!(4_294_967_296u64),
            Value::Null,
        ] {
            let err = Envelope::parse(&header(json!({"type": "ping", "id": id}))).unwrap_err();
            assert_eq!(err.id, None, "{id}");
            assert!(matches!(err.problem, EnvelopeProblem::Id(_)));
        }
        let err = Envelope::parse(&header(json!({"type": "nope"}))).unwrap_err();
        assert_eq!(
            err,
            EnvelopeError {
                id: None,
                problem: EnvelopeProblem::Id(IdError::Missing)
            }
        );
        for id in [1u64, 4_294_967_295] {
            let envelope = Envelope::parse(&header(json!({"type": "ping", "id": id}))).unwrap();
            assert_eq!(u64::from(envelope.id), id);
        }
    }

    // --- validation rules -------------------------------------------------

    #[test]
    fn usernames() {
        for good in [
            "a",
            "Alice",
            "0",
            "a_b.c-d",
            "x".repeat(32).as_str(),
            "9lives",
        ] {
            assert_eq!(validate_username(good), Ok(()), "{good:?}");
        }
        let too_long = "x".repeat(33);
        for bad in [
            "", "_a", ".a", "-a", "a b", "a/b", "alice\n", "élodie", "a@b", &too_long, " a", "a\0",
        ] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn usernames_differing_in_case_share_a_key() {
        assert_eq!(username_key("Alice"), username_key("alice"));
        assert_eq!(username_key("ALICE.X-1"), "alice.x-1");
        assert_ne!(username_key("alice"), username_key("alice2"));
    }

    #[test]
    fn passwords() {
        assert!(check_password_strength("1234567").is_err());
        assert!(check_password_strength("12345678").is_ok());
        // Code points, not bytes: 7 two-byte characters are still weak.
        assert!(check_password_strength("ééééééé").is_err());
        assert!(check_password_strength("éééééééé").is_ok());
        assert!(check_password_size(&"a".repeat(1024)).is_ok());
        assert!(check_password_size(&"a".repeat(1025)).is_err());
        // Bytes, not code points: 513 two-byte characters are 1026 bytes.
        assert!(check_password_size(&"é".repeat(513)).is_err());
        assert!(login_could_be_valid("alice", "correct horse"));
        assert!(!login_could_be_valid("alice", "short"));
        assert!(!login_could_be_valid("_alice", "correct horse"));
        assert!(!login_could_be_valid("alice", &"a".repeat(1025)));
    }

    #[test]
    fn sound_names() {
        for good in [
            "bop",
            "Key press #1",
            "é",
            "a.b",
            "...",
            "x".repeat(64).as_str(),
            "\"quoted\"",
            "日本語",
            "a b",
        ] {
            assert_eq!(validate_sound_name(good), Ok(()), "{good:?}");
        }
        let too_long = "x".repeat(65);
        let huge = "y".repeat(10_000);
        for bad in [
            "",
            ".",
            "..",
            "../etc",
            "a/b",
            "/",
            "a\\b",
            "a\0b",
            "\0",
            "tab\there",
            "line\n",
            "\u{7f}",
            "\u{85}x",
            " lead",
            "trail ",
            "\u{a0}nbsp",
            "ideo\u{3000}",
            &too_long,
            &huge,
        ] {
            assert!(validate_sound_name(bad).is_err(), "{bad:?}");
        }
        // 64 code points of 3 bytes each is fine: the limit is in code points.
        assert!(validate_sound_name(&"語".repeat(64)).is_ok());
        assert!(validate_sound_name(&"語".repeat(65)).is_err());
    }

    #[test]
    fn sha256_hex() {
        let digest = parse_sha256_hex(HASH).unwrap();
        assert_eq!(hex::encode(digest), HASH);
        assert_eq!(parse_sha256_hex(&HASH.to_uppercase()).unwrap(), digest);
        assert!(parse_sha256_hex(&HASH[1..]).is_err());
        assert!(parse_sha256_hex(&format!("{HASH}0")).is_err());
        assert!(parse_sha256_hex(&format!("g{}", &HASH[1..])).is_err());
        assert!(parse_sha256_hex("").is_err());
    }

    // --- fields -----------------------------------------------------------

    #[test]
    fn signup_fields() {
        assert_eq!(
            parse(
                RequestKind::Signup,
                json!({"username": "Alice", "password": "pw", "extra": 1})
            ),
            Ok(Request::Open(OpenRequest::Signup(Signup {
                username: "Alice".into(),
                password: "pw".into()
            }))),
            "a weak password passes the field phase (weak_password comes later)"
        );
        assert_eq!(
            field_of(parse(
                RequestKind::Signup,
                json!({"username": "_x", "password": "longenough"})
            )),
            "username"
        );
        assert_eq!(
            field_of(parse(
                RequestKind::Signup,
                json!({"username": 5, "password": "longenough"})
            )),
            "username"
        );
        assert_eq!(
            field_of(parse(RequestKind::Signup, json!({"username": "alice"}))),
            "password"
        );
        assert_eq!(
            field_of(parse(
                RequestKind::Signup,
                json!({"username": "alice", "password": "a".repeat(1025)})
            )),
            "password"
        );
    }

    #[test]
    fn login_accepts_any_strings_but_not_other_types() {
        assert_eq!(
            parse(
                RequestKind::Login,
                json!({"username": "not valid!", "password": ""})
            ),
            Ok(Request::Open(OpenRequest::Login(Login {
                username: "not valid!".into(),
                password: String::new()
            })))
        );
        assert_eq!(
            field_of(parse(
                RequestKind::Login,
                json!({"username": "a", "password": 1})
            )),
            "password"
        );
        assert_eq!(field_of(parse(RequestKind::Resume, json!({}))), "token");
    }

    #[test]
    fn upload_begin_fields_and_too_large() {
        assert_eq!(
            parse(
                RequestKind::UploadBegin,
                json!({"size": 10, "sha256": HASH})
            ),
            Ok(Request::User(UserRequest::Library(
                LibraryRequest::UploadBegin(UploadBegin {
                    size: 10,
                    sha256: parse_sha256_hex(HASH).unwrap()
                })
            )))
        );
        assert!(parse(
            RequestKind::UploadBegin,
            json!({"size": MAX_UPLOAD_SIZE, "sha256": HASH})
        )
        .is_ok());
        let err = parse(
            RequestKind::UploadBegin,
            json!({"size": MAX_UPLOAD_SIZE + 1, "sha256": HASH}),
        )
        .unwrap_err();
        assert_eq!((err.field, err.code), ("size", ErrorCode::TooLarge));
        // A bad field wins over too_large (§4 order).
        assert_eq!(
            field_of(parse(
                RequestKind::UploadBegin,
                json!({"size": MAX_UPLOAD_SIZE + 1, "sha256": "zz"})
            )),
            "sha256"
        );
        assert_eq!(
            field_of(parse(
                RequestKind::UploadBegin,
                json!({"size": 0, "sha256": HASH})
            )),
            "size"
        );
        assert_eq!(
            field_of(parse(
                RequestKind::UploadBegin,
                json!({"size": -5, "sha256": HASH})
            )),
            "size"
        );
        assert_eq!(
            field_of(parse(
                RequestKind::UploadBegin,
                json!({"size": 1.5, "sha256": HASH})
            )),
            "size"
        );
        assert_eq!(
            field_of(parse(
                RequestKind::UploadBegin,
                json!({"size": "10", "sha256": HASH})
            )),
            "size"
        );
        assert_eq!(
            field_of(parse(RequestKind::UploadBegin, json!({"sha256": HASH}))),
            "size"
        );
    }

    #[test]
    fn upload_chunk_and_refs() {
        assert_eq!(
            parse(
                RequestKind::UploadChunk,
                json!({"upload_id": "u1", "offset": 0})
            ),
            Ok(Request::User(UserRequest::Library(
                LibraryRequest::UploadChunk(UploadChunk {
                    upload_id: "u1".into(),
                    offset: 0
                })
            )))
        );
        assert_eq!(
            field_of(parse(RequestKind::UploadChunk, json!({"upload_id": "u1"}))),
            "offset"
        );
        assert_eq!(
            field_of(parse(
                RequestKind::UploadChunk,
                json!({"upload_id": 1, "offset": 0})
            )),
            "upload_id"
        );
        assert_eq!(
            parse(RequestKind::UploadAbort, json!({"upload_id": "u"})),
            Ok(Request::User(UserRequest::Library(
                LibraryRequest::UploadAbort(UploadRef {
                    upload_id: "u".into()
                })
            )))
        );
        assert_eq!(
            field_of(parse(RequestKind::UploadFinish, json!({}))),
            "upload_id"
        );
    }

    #[test]
    fn sound_requests_validate_every_name() {
        assert_eq!(
            parse(RequestKind::SoundSave, json!({"name": "bop"})),
            Ok(Request::User(UserRequest::Library(
                LibraryRequest::SoundSave(SoundSave {
                    name: "bop".into(),
                    upload_id: None,
                    overwrite: false
                })
            )))
        );
        assert_eq!(
            parse(
                RequestKind::SoundSave,
                json!({"name": "bop", "upload_id": null, "overwrite": true})
            ),
            Ok(Request::User(UserRequest::Library(
                LibraryRequest::SoundSave(SoundSave {
                    name: "bop".into(),
                    upload_id: None,
                    overwrite: true
                })
            )))
        );
        assert_eq!(
            field_of(parse(
                RequestKind::SoundSave,
                json!({"name": "bop", "overwrite": "yes"})
            )),
            "overwrite"
        );
        assert_eq!(
            field_of(parse(RequestKind::SoundSave, json!({"name": "../x"}))),
            "name"
        );
        assert_eq!(
            parse(RequestKind::SoundGet, json!({"name": "bop"})),
            Ok(Request::User(UserRequest::Library(
                LibraryRequest::SoundGet(SoundGet {
                    name: "bop".into(),
                    offset: 0
                })
            )))
        );
        assert_eq!(
            field_of(parse(
                RequestKind::SoundGet,
                json!({"name": "bop", "offset": -1})
            )),
            "offset"
        );
        assert_eq!(
            field_of(parse(RequestKind::SoundGet, json!({"name": "a/b"}))),
            "name"
        );
        assert_eq!(
            field_of(parse(
                RequestKind::SoundRename,
                json!({"name": "a", "new_name": ".."})
            )),
            "new_name"
        );
        assert_eq!(
            field_of(parse(
                RequestKind::SoundRename,
                json!({"name": " a", "new_name": "b"})
            )),
            "name"
        );
        assert_eq!(
            field_of(parse(RequestKind::SoundDelete, json!({"name": "a\u{0}"}))),
            "name"
        );
        assert_eq!(field_of(parse(RequestKind::SoundDelete, json!({}))), "name");
    }

    #[test]
    fn count_template_is_exactly_one_source() {
        assert_eq!(
            parse(RequestKind::Count, json!({"sound": "bop"})),
            Ok(Request::User(UserRequest::Count(Count {
                template: TemplateSource::Sound("bop".into()),
                recording_upload: None,
                options: CountOptions::default()
            })))
        );
        assert_eq!(
            parse(
                RequestKind::Count,
                json!({"template_upload": "u1", "recording_upload": "u2", "sound": null})
            ),
            Ok(Request::User(UserRequest::Count(Count {
                template: TemplateSource::Upload("u1".into()),
                recording_upload: Some("u2".into()),
                options: CountOptions::default()
            })))
        );
        assert_eq!(field_of(parse(RequestKind::Count, json!({}))), "sound");
        assert_eq!(
            field_of(parse(
                RequestKind::Count,
                json!({"sound": "a", "template_upload": "u"})
            )),
            "sound"
        );
        assert_eq!(
            field_of(parse(RequestKind::Count, json!({"sound": "/"}))),
            "sound"
        );
        assert_eq!(
            field_of(parse(
                RequestKind::Count,
                json!({"sound": "a", "recording_upload": 3})
            )),
            "recording_upload"
        );
    }

    #[test]
    fn count_options() {
        let Ok(Request::User(UserRequest::Count(count))) = parse(
            RequestKind::Count,
            json!({"sound": "a", "options": {"threshold": 0.5, "min_gap_s": 1, "other": "x"}}),
        ) else {
            panic!("count with options")
        };
        assert_eq!(
            count.options,
            CountOptions {
                threshold: Some(0.5),
                min_gap_s: Some(1.0)
            }
        );
        for (options, field) in [
            (json!({"threshold": 1.5}), "options.threshold"),
            (json!({"threshold": -0.1}), "options.threshold"),
            (json!({"threshold": "0.5"}), "options.threshold"),
            (json!({"min_gap_s": -1}), "options.min_gap_s"),
            (json!({"min_gap_s": true}), "options.min_gap_s"),
            (json!([0.5]), "options"),
        ] {
            assert_eq!(
                field_of(parse(
                    RequestKind::Count,
                    json!({"sound": "a", "options": options})
                )),
                field
            );
        }
        assert!(parse(
            RequestKind::Count,
            json!({"sound": "a", "options": {"threshold": 0, "min_gap_s": 0}})
        )
        .is_ok());
        assert!(parse(
            RequestKind::Count,
            json!({"sound": "a", "options": {"threshold": 1}})
        )
        .is_ok());
        assert!(parse(RequestKind::Count, json!({"sound": "a", "options": null})).is_ok());
    }

    #[test]
    fn cancel_target_is_an_id() {
        assert_eq!(
            parse(RequestKind::Cancel, json!({"target": 3})),
            Ok(Request::User(UserRequest::Cancel(Cancel { target: 3 })))
        );
        for target in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("3"),
            json!(4_294_967_296u64),
        ] {
            assert_eq!(
                field_of(parse(RequestKind::Cancel, json!({"target": target}))),
                "target"
            );
        }
        assert_eq!(field_of(parse(RequestKind::Cancel, json!({}))), "target");
    }

    #[test]
    fn stream_open_format() {
        let ok = parse(
            RequestKind::StreamOpen,
            json!({"sound": "bop", "format": {"encoding": "s16le", "sample_rate": 48000, "channels": 2}}),
        )
        .unwrap();
        let Request::User(UserRequest::Stream(StreamRequest::Open(open))) = ok else {
            panic!("stream.open")
        };
        assert_eq!(
            open.format,
            PcmFormat {
                encoding: PcmEncoding::S16Le,
                sample_rate: 48_000,
                channels: 2
            }
        );
        assert_eq!(open.format.frame_bytes(), 4);
        assert_eq!(open.template, TemplateSource::Sound("bop".into()));
        for (format, field) in [
            (
                json!({"encoding": "s24le", "sample_rate": 48000, "channels": 1}),
                "format.encoding",
            ),
            (
                json!({"encoding": "S16LE", "sample_rate": 48000, "channels": 1}),
                "format.encoding",
            ),
            (
                json!({"sample_rate": 48000, "channels": 1}),
                "format.encoding",
            ),
            (
                json!({"encoding": "u8", "sample_rate": 7999, "channels": 1}),
                "format.sample_rate",
            ),
            (
                json!({"encoding": "u8", "sample_rate": 192_001, "channels": 1}),
                "format.sample_rate",
            ),
            (
                json!({"encoding": "u8", "sample_rate": 44100.0, "channels": 1}),
                "format.sample_rate",
            ),
            (
                json!({"encoding": "u8", "channels": 1}),
                "format.sample_rate",
            ),
            (
                json!({"encoding": "u8", "sample_rate": 8000, "channels": 0}),
                "format.channels",
            ),
            (
                json!({"encoding": "u8", "sample_rate": 8000, "channels": 9}),
                "format.channels",
            ),
            (
                json!({"encoding": "u8", "sample_rate": 8000, "channels": 65_537}),
                "format.channels",
            ),
            (json!("s16le"), "format"),
        ] {
            assert_eq!(
                field_of(parse(
                    RequestKind::StreamOpen,
                    json!({"sound": "a", "format": format})
                )),
                field
            );
        }
        assert_eq!(
            field_of(parse(RequestKind::StreamOpen, json!({"sound": "a"}))),
            "format"
        );
        for (rate, channels, encoding) in [(8000, 1, "u8"), (192_000, 8, "f32le")] {
            let format = json!({"encoding": encoding, "sample_rate": rate, "channels": channels});
            assert!(parse(
                RequestKind::StreamOpen,
                json!({"template_upload": "u", "format": format})
            )
            .is_ok());
        }
        assert_eq!(
            parse(RequestKind::StreamData, json!({"stream_id": "s"})),
            Ok(Request::User(UserRequest::Stream(StreamRequest::Data(
                StreamRef {
                    stream_id: "s".into()
                }
            ))))
        );
        assert_eq!(
            field_of(parse(RequestKind::StreamClose, json!({"stream_id": 1}))),
            "stream_id"
        );
    }

    #[test]
    fn admin_fields() {
        assert_eq!(
            parse(RequestKind::AdminKick, json!({"session_id": 12})),
            Ok(Request::Admin(AdminRequest::Kick(AdminKick {
                session_id: 12
            })))
        );
        assert_eq!(
            field_of(parse(RequestKind::AdminKick, json!({"session_id": "12"}))),
            "session_id"
        );
        assert_eq!(
            parse(
                RequestKind::AdminUserRole,
                json!({"username": "Bob", "role": "admin"})
            ),
            Ok(Request::Admin(AdminRequest::UserRole(AdminUserRole {
                username: "Bob".into(),
                role: Role::Admin
            })))
        );
        assert_eq!(
            field_of(parse(
                RequestKind::AdminUserRole,
                json!({"username": "Bob", "role": "root"})
            )),
            "role"
        );
        assert_eq!(
            parse(
                RequestKind::AdminBroadcast,
                json!({"message": "hi", "priority": "high"})
            ),
            Ok(Request::Admin(AdminRequest::Broadcast(AdminBroadcast {
                message: "hi".into(),
                priority: Priority::High
            })))
        );
        assert_eq!(
            field_of(parse(RequestKind::AdminBroadcast, json!({"message": "hi"}))),
            "priority"
        );
        assert_eq!(
            parse(RequestKind::AdminTail, json!({})),
            Ok(Request::Admin(AdminRequest::Tail(AdminTail {
                level: LogLevel::Info
            })))
        );
        assert_eq!(
            parse(RequestKind::AdminTail, json!({"level": "trace"})),
            Ok(Request::Admin(AdminRequest::Tail(AdminTail {
                level: LogLevel::Trace
            })))
        );
        assert_eq!(
            field_of(parse(RequestKind::AdminTail, json!({"level": "verbose"}))),
            "level"
        );
        assert_eq!(
            parse(RequestKind::AdminShutdown, json!({"grace_s": 2.5})),
            Ok(Request::Admin(AdminRequest::Shutdown(AdminShutdown {
                grace_s: 2.5
            })))
        );
        let Ok(Request::Admin(AdminRequest::Shutdown(shutdown))) =
            parse(RequestKind::AdminShutdown, json!({"grace_s": 1e300}))
        else {
            panic!("huge grace")
        };
        assert_eq!(shutdown.grace(), std::time::Duration::MAX);
        assert_eq!(
            field_of(parse(RequestKind::AdminShutdown, json!({"grace_s": -1}))),
            "grace_s"
        );
        assert_eq!(
            field_of(parse(RequestKind::AdminShutdown, json!({}))),
            "grace_s"
        );
        assert_eq!(
            parse(RequestKind::AdminStats, json!({"junk": [1]})),
            Ok(Request::Admin(AdminRequest::Stats))
        );
    }

    #[test]
    fn parsed_requests_know_their_kind() {
        let samples = [
            (RequestKind::Ping, json!({})),
            (RequestKind::Logout, json!({})),
            (RequestKind::SoundList, json!({})),
            (RequestKind::Count, json!({"sound": "a"})),
            (RequestKind::AdminSessions, json!({})),
            (RequestKind::UploadFinish, json!({"upload_id": "u"})),
        ];
        for (kind, fields) in samples {
            assert_eq!(parse(kind, fields).unwrap().kind(), kind);
        }
    }

    #[test]
    fn field_errors_name_the_field_in_their_message() {
        let err = parse(RequestKind::SoundGet, json!({"name": 5})).unwrap_err();
        assert_eq!(err.to_string(), "`name` must be a string");
    }
}
