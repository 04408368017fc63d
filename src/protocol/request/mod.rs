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
//! The fields are read by serde's derives on the request types (types.rs),
//! the naming and size rules of §5 held by validated newtypes read with
//! `try_from` (rules.rs); fields.rs turns serde's errors into the module's
//! wording, naming the field. The rules are also plain functions
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

mod fields;
mod rules;
mod types;

pub use rules::{
    check_password_size, check_password_strength, login_could_be_valid, parse_sha256_hex,
    username_key, validate_sound_name, validate_username,
};
pub use types::*;

use serde_json::{Map, Value};

use super::codes::{wire_enum, LogLevel, Priority, Role};
use super::message::request_id;
use super::{EnvelopeError, EnvelopeProblem, FieldError};
use fields::{fields_of, read};

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
        use {AdminRequest as A, LibraryRequest as L, OpenRequest as O, StreamRequest as S};
        let library = |op| Request::User(UserRequest::Library(op));
        let stream = |request| Request::User(UserRequest::Stream(request));
        Ok(match kind {
            RequestKind::Signup => Request::Open(O::Signup(read(header)?)),
            RequestKind::Login => Request::Open(O::Login(read(header)?)),
            RequestKind::Resume => Request::Open(O::Resume(read(header)?)),
            RequestKind::Ping => Request::Open(O::Ping),
            RequestKind::Logout => Request::User(UserRequest::Logout),
            RequestKind::UploadBegin => {
                library(L::UploadBegin(read::<UploadBegin>(header)?.check_size()?))
            }
            RequestKind::UploadChunk => library(L::UploadChunk(read(header)?)),
            RequestKind::UploadFinish => library(L::UploadFinish(read(header)?)),
            RequestKind::UploadAbort => library(L::UploadAbort(read(header)?)),
            RequestKind::SoundList => library(L::SoundList),
            RequestKind::SoundSave => library(L::SoundSave(read(header)?)),
            RequestKind::SoundGet => library(L::SoundGet(read(header)?)),
            RequestKind::SoundRename => library(L::SoundRename(read(header)?)),
            RequestKind::SoundDelete => library(L::SoundDelete(read(header)?)),
            RequestKind::Count => Request::User(UserRequest::Count(Count::read(header)?)),
            RequestKind::Cancel => Request::User(UserRequest::Cancel(read(header)?)),
            RequestKind::StreamOpen => stream(S::Open(StreamOpen::read(header)?)),
            RequestKind::StreamData => stream(S::Data(read(header)?)),
            RequestKind::StreamClose => stream(S::Close(read(header)?)),
            RequestKind::AdminSessions => Request::Admin(A::Sessions(read(header)?)),
            RequestKind::AdminKick => Request::Admin(A::Kick(read(header)?)),
            RequestKind::AdminUsers => Request::Admin(A::Users(read(header)?)),
            RequestKind::AdminUserDelete => Request::Admin(A::UserDelete(read(header)?)),
            RequestKind::AdminUserRole => Request::Admin(A::UserRole(read(header)?)),
            RequestKind::AdminBroadcast => Request::Admin(A::Broadcast(read(header)?)),
            RequestKind::AdminStats => Request::Admin(A::Stats),
            RequestKind::AdminTail => Request::Admin(A::Tail(read(header)?)),
            RequestKind::AdminShutdown => Request::Admin(A::Shutdown(read(header)?)),
        })
    }

    /// The request as a client sends it: its header without the `id`
    /// (which the client's connection adds). [`Request::parse`] reads it
    /// back as this request.
    pub fn header(&self) -> Map<String, Value> {
        let mut header = fields_of(self);
        header.insert("type".to_owned(), Value::from(self.kind().as_str()));
        header
    }

    /// The type of this request.
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::Open(OpenRequest::Signup(_)) => RequestKind::Signup,
            Request::Open(OpenRequest::Login(_)) => RequestKind::Login,
            Request::Open(OpenRequest::Resume(_)) => RequestKind::Resume,
            Request::Open(OpenRequest::Ping) => RequestKind::Ping,
            Request::User(UserRequest::Logout) => RequestKind::Logout,
            Request::User(UserRequest::Library(op)) => op.kind(),
            Request::User(UserRequest::Count(_)) => RequestKind::Count,
            Request::User(UserRequest::Cancel(_)) => RequestKind::Cancel,
            Request::User(UserRequest::Stream(StreamRequest::Open(_))) => RequestKind::StreamOpen,
            Request::User(UserRequest::Stream(StreamRequest::Data(_))) => RequestKind::StreamData,
            Request::User(UserRequest::Stream(StreamRequest::Close(_))) => RequestKind::StreamClose,
            Request::Admin(AdminRequest::Sessions(_)) => RequestKind::AdminSessions,
            Request::Admin(AdminRequest::Kick(_)) => RequestKind::AdminKick,
            Request::Admin(AdminRequest::Users(_)) => RequestKind::AdminUsers,
            Request::Admin(AdminRequest::UserDelete(_)) => RequestKind::AdminUserDelete,
            Request::Admin(AdminRequest::UserRole(_)) => RequestKind::AdminUserRole,
            Request::Admin(AdminRequest::Broadcast(_)) => RequestKind::AdminBroadcast,
            Request::Admin(AdminRequest::Stats) => RequestKind::AdminStats,
            Request::Admin(AdminRequest::Tail(_)) => RequestKind::AdminTail,
            Request::Admin(AdminRequest::Shutdown(_)) => RequestKind::AdminShutdown,
        }
    }
}

#[cfg(test)]
mod tests;
