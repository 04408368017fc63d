//! What a session writes to the log besides its context ([`SessionLog`],
//! `session=… peer=… user=…`, the prefix admins grep): the one line of each request under the
//! target of its concern, and the `--debug` dumps of headers with their
//! secrets redacted.

use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value};

pub use crate::logging::SessionLog;
use crate::protocol::RequestKind;

/// Header fields never written to the log, not even in trace dumps.
const SECRET_FIELDS: [&str; 3] = ["password", "token", "resume_token"];

/// The log target of a request's line: its concern.
pub fn request_target(kind: RequestKind) -> &'static str {
    use RequestKind as K;
    match kind {
        K::Signup | K::Login | K::Resume | K::Logout => "auth",
        K::Ping => "connection",
        K::UploadBegin
        | K::UploadChunk
        | K::UploadFinish
        | K::UploadAbort
        | K::SoundList
        | K::SoundSave
        | K::SoundGet
        | K::SoundRename
        | K::SoundDelete => "library",
        K::Count | K::Cancel | K::StreamOpen | K::StreamData | K::StreamClose => "analysis",
        K::AdminSessions
        | K::AdminKick
        | K::AdminUsers
        | K::AdminUserDelete
        | K::AdminUserRole
        | K::AdminBroadcast
        | K::AdminStats
        | K::AdminTail
        | K::AdminShutdown => "admin",
    }
}

/// The requests that come many times a second in normal use: logged at
/// `debug`, the others at `info`.
pub fn is_frequent(kind: RequestKind) -> bool {
    matches!(
        kind,
        RequestKind::Ping
            | RequestKind::UploadChunk
            | RequestKind::SoundGet
            | RequestKind::StreamData
    )
}

/// `<context>: request <id> <type> -> <outcome> in <ms> ms`, the one line
/// of a request: `debug` for frequent requests and when `quiet`, else `info`.
pub fn log_request(
    context: &SessionLog,
    id: u32,
    kind: RequestKind,
    outcome: &str,
    started: Instant,
    quiet: bool,
) {
    let level = if quiet || is_frequent(kind) {
        log::Level::Debug
    } else {
        log::Level::Info
    };
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    log::log!(target: request_target(kind), level, "{context}: request {id} {kind} -> {outcome} in {ms:.1} ms");
}

/// A header for the trace log, secrets redacted, as hex of its JSON (the
/// `--debug` dumps).
pub fn dump<H: Serialize>(header: &H) -> String {
    let mut value = serde_json::to_value(header).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        redact(map);
    }
    hex::encode(value.to_string())
}

/// Replaces the value of every secret field of a header.
fn redact(map: &mut Map<String, Value>) {
    for field in SECRET_FIELDS {
        if let Some(value) = map.get_mut(field) {
            *value = Value::String("<redacted>".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn undump(dumped: &str) -> Value {
        serde_json::from_slice(&hex::decode(dumped).unwrap()).unwrap()
    }

    #[test]
    fn secrets_never_reach_a_dump() {
        let login = json!({"type": "login", "id": 3, "username": "ann", "password": "hunter22"});
        assert_eq!(
            undump(&dump(&login)),
            json!({"type": "login", "id": 3, "username": "ann", "password": "<redacted>"})
        );
        let resume = json!({"type": "resume", "id": 4, "token": "abc"});
        assert_eq!(undump(&dump(&resume))["token"], "<redacted>");
        let answer = json!({"type": "ok", "id": 3, "resume_token": "xyz", "role": "user"});
        let dumped = undump(&dump(&answer));
        assert_eq!(dumped["resume_token"], "<redacted>");
        assert_eq!(dumped["role"], "user");
        for secret in ["hunter22", "abc", "xyz"] {
            for header in [&login, &resume, &answer] {
                let text = String::from_utf8(hex::decode(dump(header)).unwrap()).unwrap();
                assert!(!text.contains(secret), "{text}");
            }
        }
    }

    #[test]
    fn headers_without_secrets_are_dumped_whole() {
        let ping = json!({"type": "ping", "id": 1});
        assert_eq!(dump(&ping), hex::encode(ping.to_string()));
        // Not an object: nothing to redact, still dumped.
        assert_eq!(undump(&dump(&json!([1, 2]))), json!([1, 2]));
    }

    #[test]
    fn the_context_names_the_user_once_logged_in() {
        let mut context = SessionLog::new(7, "10.0.0.2:5000".parse().unwrap());
        assert_eq!(context.to_string(), "session=7 peer=10.0.0.2:5000");
        context.set_user(Some("ann".into()));
        assert_eq!(context.to_string(), "session=7 peer=10.0.0.2:5000 user=ann");
        context.set_user(None);
        assert_eq!(context.to_string(), "session=7 peer=10.0.0.2:5000");
    }

    #[test]
    fn every_request_has_a_concern() {
        for kind in RequestKind::ALL {
            let target = request_target(*kind);
            let expected = match kind.as_str() {
                "ping" => "connection",
                "signup" | "login" | "resume" | "logout" => "auth",
                wire if wire.starts_with("admin.") => "admin",
                wire if wire.starts_with("upload.") || wire.starts_with("sound.") => "library",
                _ => "analysis",
            };
            assert_eq!(target, expected, "{kind}");
        }
        assert!(is_frequent(RequestKind::StreamData));
        assert!(!is_frequent(RequestKind::Count));
    }
}
