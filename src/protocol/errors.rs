//! The one place where every domain error becomes a wire error (§4): a code
//! of [`ErrorCode`], a human-readable message, and the extra fields some
//! codes carry (`expected_offset`, `received`, `retry_after_s`, `limit`).
//!
//! Faults of the server's own (I/O, database, corrupt store) become
//! `internal` with a generic message: their details name files and queries
//! that are none of the client's business, so they are logged (target
//! `library`) and not sent.

use std::time::Duration;

use serde_json::{Map, Value};

use super::{ErrorCode, ErrorResponse, FieldError, RuleViolation};
use crate::audio::AudioError;
use crate::auth::AuthError;
use crate::crypto::CryptoError;
use crate::dsp::DspError;
use crate::store::StoreError;

/// An error ready to be answered: code, message and extra fields.
#[derive(Debug, Clone, PartialEq)]
pub struct WireError {
    /// The stable code.
    pub code: ErrorCode,
    /// The human-readable message.
    pub message: String,
    /// Extra fields of the answer (see [`ErrorResponse::with_field`]).
    pub extra: Map<String, Value>,
}

impl WireError {
    /// An error with no extra field.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> WireError {
        WireError {
            code,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// A `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> WireError {
        WireError::new(ErrorCode::BadRequest, message)
    }

    /// An `internal` error; the details go to the log, not to the client.
    pub fn internal(details: impl std::fmt::Display) -> WireError {
        log::error!(target: "library", "internal error: {details}");
        WireError::new(ErrorCode::Internal, "internal server error")
    }

    /// `rate_limited` with `retry_after_s` (whole seconds, rounded up).
    pub fn rate_limited(message: impl Into<String>, wait: Duration) -> WireError {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        WireError::new(ErrorCode::RateLimited, message).with_field("retry_after_s", secs)
    }

    /// Adds an extra field.
    pub fn with_field(mut self, name: &str, value: impl Into<Value>) -> WireError {
        self.extra.insert(name.to_owned(), value.into());
        self
    }

    /// The `error` answer to request `id`.
    pub fn to_response(&self, id: u32) -> ErrorResponse {
        self.extra.iter().fold(
            ErrorResponse::for_request(id, self.code, self.message.clone()),
            |answer, (name, value)| answer.with_field(name, value.clone()),
        )
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<StoreError> for WireError {
    fn from(err: StoreError) -> WireError {
        use ErrorCode as C;
        match err {
            StoreError::UsernameTaken => WireError::new(C::UsernameTaken, err.to_string()),
            StoreError::NotFound => WireError::new(C::NotFound, err.to_string()),
            StoreError::AlreadyExists => WireError::new(C::AlreadyExists, err.to_string()),
            StoreError::LastAdmin => WireError::new(C::Forbidden, err.to_string()),
            StoreError::OffsetPastEnd { .. } => WireError::bad_request(err.to_string()),
            StoreError::UploadTooLarge { .. } => WireError::new(C::TooLarge, err.to_string()),
            StoreError::InvalidSha256 => WireError::bad_request(err.to_string()),
            StoreError::WrongOffset { expected } => {
                WireError::bad_request(err.to_string()).with_field("expected_offset", expected)
            }
            StoreError::PastSize { .. } => WireError::bad_request(err.to_string()),
            StoreError::Incomplete { received } | StoreError::Unfinished { received } => {
                WireError::bad_request(err.to_string()).with_field("received", received)
            }
            StoreError::ChecksumMismatch => WireError::new(C::ChecksumMismatch, err.to_string()),
            StoreError::QuotaExceeded { quota, .. } => {
                WireError::new(C::QuotaExceeded, err.to_string())
                    .with_field("limit", quota.setting())
            }
            StoreError::Io { .. }
            | StoreError::Locked { .. }
            | StoreError::Connection(_)
            | StoreError::Database(_)
            | StoreError::Migration(_)
            | StoreError::Corrupt(_) => WireError::internal(err),
        }
    }
}

impl From<AudioError> for WireError {
    fn from(err: AudioError) -> WireError {
        match err {
            AudioError::Io { .. } | AudioError::Read(_) | AudioError::Resample(_) => {
                WireError::internal(err)
            }
            AudioError::NotAudio
            | AudioError::NoAudioTrack
            | AudioError::Unsupported(_)
            | AudioError::Malformed(_)
            | AudioError::HeaderTruncated
            | AudioError::Truncated { .. }
            | AudioError::Empty
            | AudioError::BadSampleRate(_)
            | AudioError::BadChannels(_)
            | AudioError::NonFinite { .. }
            | AudioError::OutOfRange { .. } => {
                WireError::new(ErrorCode::UnsupportedAudio, err.to_string())
            }
        }
    }
}

impl From<DspError> for WireError {
    fn from(err: DspError) -> WireError {
        match err {
            DspError::Audio(audio) => audio.into(),
            DspError::TemplateTooLong(_) => WireError::new(ErrorCode::TooLarge, err.to_string()),
            DspError::Cancelled => WireError::new(ErrorCode::Cancelled, err.to_string()),
            // The audio decodes, but it cannot be counted as asked: the
            // client's request is at fault, and the message says how.
            DspError::SilentTemplate
            | DspError::NoDistinctSound
            | DspError::TemplateTooShort
            | DspError::TemplateLongerThanRecording { .. }
            | DspError::InvalidOption(_) => WireError::bad_request(err.to_string()),
        }
    }
}

impl From<AuthError> for WireError {
    fn from(err: AuthError) -> WireError {
        match err {
            AuthError::BadUsername(_) | AuthError::BadPassword(_) => {
                WireError::bad_request(err.to_string())
            }
            AuthError::WeakPassword(_) => WireError::new(ErrorCode::WeakPassword, err.to_string()),
            AuthError::SignupClosed => WireError::new(ErrorCode::Forbidden, err.to_string()),
            AuthError::TooManySignups { retry_after } | AuthError::LoginLocked { retry_after } => {
                WireError::rate_limited(err.to_string(), retry_after)
            }
        }
    }
}

impl From<CryptoError> for WireError {
    fn from(err: CryptoError) -> WireError {
        WireError::internal(err)
    }
}

impl From<FieldError> for WireError {
    fn from(err: FieldError) -> WireError {
        WireError::new(err.code, err.to_string())
    }
}

impl From<RuleViolation> for WireError {
    fn from(err: RuleViolation) -> WireError {
        WireError::bad_request(err.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(err: impl Into<WireError>) -> ErrorCode {
        err.into().code
    }

    #[test]
    fn store_errors_map_to_their_codes() {
        assert_eq!(code(StoreError::UsernameTaken), ErrorCode::UsernameTaken);
        assert_eq!(code(StoreError::NotFound), ErrorCode::NotFound);
        assert_eq!(code(StoreError::AlreadyExists), ErrorCode::AlreadyExists);
        assert_eq!(code(StoreError::LastAdmin), ErrorCode::Forbidden);
        let quota = WireError::from(StoreError::QuotaExceeded {
            quota: crate::store::Quota::DiskReserve,
            limit: 1 << 30,
        });
        assert_eq!(quota.code, ErrorCode::QuotaExceeded);
        assert_eq!(quota.extra["limit"], json!("disk_reserve"));
        assert_eq!(
            code(StoreError::ChecksumMismatch),
            ErrorCode::ChecksumMismatch
        );
        assert_eq!(
            code(StoreError::UploadTooLarge { size: 9, max: 1 }),
            ErrorCode::TooLarge
        );
        assert_eq!(code(StoreError::Corrupt("x".into())), ErrorCode::Internal);
        let offset: WireError = StoreError::WrongOffset { expected: 42 }.into();
        let answer = serde_json::to_value(offset.to_response(7)).unwrap();
        assert_eq!(answer["code"], "bad_request");
        assert_eq!(answer["expected_offset"], 42);
        assert_eq!(answer["id"], 7);
        let early: WireError = StoreError::Incomplete { received: 3 }.into();
        assert_eq!(early.extra["received"], json!(3));
    }

    #[test]
    fn internal_errors_hide_their_details() {
        let err: WireError = StoreError::Io {
            path: "/secret/path".into(),
            source: std::io::Error::other("disk on fire"),
        }
        .into();
        assert_eq!(err.code, ErrorCode::Internal);
        assert!(!err.message.contains("secret"));
    }

    #[test]
    fn audio_and_dsp_errors_map_to_their_codes() {
        assert_eq!(code(AudioError::NotAudio), ErrorCode::UnsupportedAudio);
        assert_eq!(
            code(AudioError::Unsupported("opus".into())),
            ErrorCode::UnsupportedAudio
        );
        assert_eq!(code(AudioError::Empty), ErrorCode::UnsupportedAudio);
        assert_eq!(
            code(AudioError::OutOfRange { frame: 3 }),
            ErrorCode::UnsupportedAudio
        );
        assert_eq!(code(DspError::TemplateTooLong(61.0)), ErrorCode::TooLarge);
        assert_eq!(code(DspError::Cancelled), ErrorCode::Cancelled);
        assert_eq!(code(DspError::SilentTemplate), ErrorCode::BadRequest);
        assert_eq!(code(DspError::NoDistinctSound), ErrorCode::BadRequest);
        assert_eq!(
            code(DspError::Audio(AudioError::BadSampleRate(4))),
            ErrorCode::UnsupportedAudio
        );
    }

    #[test]
    fn field_errors_keep_their_code_and_rate_limit_rounds_up() {
        let field = FieldError {
            field: "size".into(),
            reason: "too big".into(),
            code: ErrorCode::TooLarge,
        };
        assert_eq!(code(field), ErrorCode::TooLarge);
        let limited: WireError = AuthError::LoginLocked {
            retry_after: Duration::from_millis(1500),
        }
        .into();
        assert_eq!(limited.extra["retry_after_s"], json!(2));
        assert_eq!(limited.code, ErrorCode::RateLimited);
        let signups: WireError = AuthError::TooManySignups {
            retry_after: Duration::from_secs(3599),
        }
        .into();
        assert_eq!(signups.extra["retry_after_s"], json!(3599));
        assert!(signups.message.contains("signups"), "{}", signups.message);
        assert_eq!(code(AuthError::SignupClosed), ErrorCode::Forbidden);
        let weak = crate::protocol::RuleViolation("is short");
        assert_eq!(code(AuthError::WeakPassword(weak)), ErrorCode::WeakPassword);
        assert_eq!(code(AuthError::BadUsername(weak)), ErrorCode::BadRequest);
    }
}
