//! The result structs of §5's `ok` answers, shared by the server (which
//! writes them) and the client (which reads them with
//! [`result_as`](super::result_as)).

use serde::{Deserialize, Serialize};

use crate::protocol::codes::Role;

/// The most events a `count` or `stream.close` answer lists (§5, 1.2): past
/// it the list is empty and `events_truncated` is set, so the answer always
/// fits in one frame (10,000 events are about 600 KB of JSON).
pub const MAX_LISTED_EVENTS: usize = 10_000;

fn is_false(value: &bool) -> bool {
    !*value
}

/// A saved sound, as in `sound.list`, `sound.save`, `sound.get`, `sound.rename`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoundInfo {
    /// The name, as saved.
    pub name: String,
    /// Length of the audio in milliseconds.
    pub duration_ms: u64,
    /// The file's sample rate.
    pub sample_rate: u32,
    /// The file's channel count.
    pub channels: u16,
    /// The file's size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    /// When it was saved, RFC 3339.
    pub created_at: String,
}

/// One occurrence of the template.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EventInfo {
    /// Where it starts, in seconds from the start of the recording or stream.
    pub start_s: f64,
    /// How well it matches, in 0..=1.
    pub score: f64,
}

/// The result of `login` and `resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResult {
    /// The username as first written at signup.
    pub username: String,
    /// The account's role.
    pub role: Role,
    /// Names of the user's saved sounds.
    pub sounds: Vec<String>,
    /// A fresh single-use resume token.
    pub resume_token: String,
    /// How long the token lives, in seconds.
    pub resume_ttl_s: u64,
}

/// The result of `ping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingResult {
    /// The server's clock, Unix milliseconds.
    pub server_time_ms: u64,
}

/// The result of `upload.begin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadBegun {
    /// The opaque id of the new upload.
    pub upload_id: String,
}

/// The result of `upload.chunk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReceived {
    /// Bytes received so far.
    pub received: u64,
}

/// The result of `upload.finish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadFinished {
    /// The upload, now usable once.
    pub upload_id: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The result of `sound.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoundList {
    /// Every saved sound of the user.
    pub sounds: Vec<SoundInfo>,
}

/// The result of `sound.save` and `sound.rename`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoundResult {
    /// The sound as saved.
    pub sound: SoundInfo,
}

/// The result of `sound.get` (the bytes are the payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoundChunk {
    /// The sound.
    pub sound: SoundInfo,
    /// Where the payload's bytes start in the file.
    pub offset: u64,
}

/// The result of `count`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountResult {
    /// How many events (always the full count).
    pub count: u64,
    /// The events, in time order; empty when `events_truncated`.
    pub events: Vec<EventInfo>,
    /// Length of the recording in seconds.
    pub duration_s: f64,
    /// Server time spent, in milliseconds.
    pub elapsed_ms: u64,
    /// More than [`MAX_LISTED_EVENTS`] events: `events` is empty and every
    /// event came in the `progress` pushes' `new_events` (since 1.2; written
    /// only when true).
    #[serde(default, skip_serializing_if = "is_false")]
    pub events_truncated: bool,
}

/// The result of `stream.open`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamOpened {
    /// The opaque id of the stream.
    pub stream_id: String,
}

/// The result of `stream.data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamProgress {
    /// Events since `stream.open`.
    pub total: u64,
    /// Events that became certain with this chunk.
    pub new_events: Vec<EventInfo>,
    /// Seconds of the stream analysed so far.
    pub processed_s: f64,
}

/// The result of `stream.close`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamClosed {
    /// How many events.
    pub total: u64,
    /// All the events, in time order; empty when `events_truncated`.
    pub events: Vec<EventInfo>,
    /// Length of the stream in seconds.
    pub duration_s: f64,
    /// More than [`MAX_LISTED_EVENTS`] events: `events` is empty, the client
    /// has had each in a `stream.data` answer (since 1.2; written only when
    /// true).
    #[serde(default, skip_serializing_if = "is_false")]
    pub events_truncated: bool,
}

/// The final answer of `admin.tail` (after `cancel` or at shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TailEnded {
    /// Log records that could not be delivered.
    pub dropped: u64,
}

/// The result of `admin.broadcast`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastResult {
    /// Logged-in sessions reached.
    pub delivered: u64,
}

/// One session in `admin.sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The id for `admin.kick`.
    pub session_id: u64,
    /// Who is logged in; `null` before login (always written).
    pub username: Option<String>,
    /// The peer's `ip:port`.
    pub peer: String,
    /// Whole seconds since the connection.
    pub connected_s: u64,
    /// Whole seconds since the last frame.
    pub idle_s: u64,
    /// Requests received.
    pub requests: u64,
}

/// The result of `admin.sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    /// The open sessions of the page asked for, by `session_id`.
    pub sessions: Vec<SessionInfo>,
    /// How many sessions are open in all (since 1.2; 0 from a 1.1 server,
    /// whose one page is the whole list).
    #[serde(default)]
    pub total: u64,
}

/// One account in `admin.users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// The username as first written.
    pub username: String,
    /// The account's role.
    pub role: Role,
    /// When it signed up, RFC 3339.
    pub created_at: String,
    /// Last login, RFC 3339; `null` if never (always written).
    pub last_seen: Option<String>,
    /// How many saved sounds.
    pub sounds: u64,
}

/// The result of `admin.users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserList {
    /// The accounts of the page asked for, by username.
    pub users: Vec<UserInfo>,
    /// How many accounts there are in all (since 1.2; 0 from a 1.1
    /// server, whose one page is the whole list).
    #[serde(default)]
    pub total: u64,
}

/// The result of `admin.stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsResult {
    /// Whole seconds since the server started.
    pub uptime_s: u64,
    /// Open sessions.
    pub sessions: u64,
    /// Logged-in sessions.
    pub logged_in: u64,
    /// Successful logins (and resumes) since start.
    pub logins: u64,
    /// Analysis jobs waiting.
    pub jobs_queued: u64,
    /// Analysis jobs running.
    pub jobs_running: u64,
    /// Analysis jobs finished since start.
    pub jobs_done: u64,
    /// Seconds of audio analysed since start.
    pub audio_s_analysed: f64,
    /// Bytes received since start.
    pub bytes_in: u64,
    /// Bytes sent since start.
    pub bytes_out: u64,
    /// The server process's resident memory (RSS) in bytes, when the
    /// system tells it (Linux); an addition to the contract's fields, so
    /// absent from other servers' answers.
    #[serde(default)]
    pub resident_memory_bytes: Option<u64>,
}
