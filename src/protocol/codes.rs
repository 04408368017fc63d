//! The stable strings of the protocol: error codes (§4), `bye` reasons (§6),
//! roles, broadcast priorities and log levels (§5), as typed enums that
//! serialise to exactly the spec's strings.

use std::fmt;

/// Declares a field-less enum whose variants map one-to-one to wire strings,
/// with `ALL`, `as_str`, `from_wire`, `Display` and serde through those
/// strings (so serde and `as_str` can never disagree). Shared with
/// [`request`](super::request) for the request types and PCM encodings.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order of the spec.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The exact string on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $wire, )+
                }
            }

            /// The value for a wire string (exact, case-sensitive match).
            pub fn from_wire(wire: &str) -> Option<Self> {
                match wire {
                    $( $wire => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let wire = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                $name::from_wire(&wire).ok_or_else(|| {
                    <D::Error as ::serde::de::Error>::unknown_variant(&wire, &[$($wire),+])
                })
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum! {
    /// The stable error codes of §4, the `code` of an `error` answer.
    pub enum ErrorCode {
        /// Unreadable header, unknown type, bad or missing field.
        BadRequest => "bad_request",
        /// A request that needs a login, before login.
        Unauthenticated => "unauthenticated",
        /// An admin request from a user without the admin role.
        Forbidden => "forbidden",
        /// Wrong username/password pair, or a spent, unknown or expired resume token.
        InvalidCredentials => "invalid_credentials",
        /// Signup with a username already taken (in any case).
        UsernameTaken => "username_taken",
        /// Signup password of fewer than 8 code points.
        WeakPassword => "weak_password",
        /// Unknown sound, upload, stream, session, user or cancel target.
        NotFound => "not_found",
        /// A sound name already used (without `overwrite`).
        AlreadyExists => "already_exists",
        /// An upload over the size limit or a template over 60 s.
        TooLarge => "too_large",
        /// An upload whose bytes do not match its announced sha256.
        ChecksumMismatch => "checksum_mismatch",
        /// Audio that does not decode.
        UnsupportedAudio => "unsupported_audio",
        /// No capacity: analysis queue full, or too many outstanding requests.
        Busy => "busy",
        /// Locked out by failed logins; the answer carries `retry_after_s`.
        RateLimited => "rate_limited",
        /// A count ended by `cancel`.
        Cancelled => "cancelled",
        /// The server is stopping.
        ShuttingDown => "shutting_down",
        /// A fault of the server's own.
        Internal => "internal",
        /// A quota (a server setting, named by the answer's `limit`) would be passed.
        QuotaExceeded => "quota_exceeded",
    }
}

wire_enum! {
    /// The `reason` of a `bye` (§6), sent just before the server closes a session.
    pub enum ByeReason {
        /// No frame for the idle time (600 s by default).
        IdleTimeout => "idle_timeout",
        /// No login within the login time (300 s by default).
        LoginTimeout => "login_timeout",
        /// An admin ended the session (`admin.kick`).
        Kicked => "kicked",
        /// The server is stopping.
        Shutdown => "shutdown",
        /// A frame that breaks §1 (zero or over-long length).
        ProtocolError => "protocol_error",
    }
}

wire_enum! {
    /// An account's role (§5): admins may use the `admin.*` requests.
    pub enum Role {
        /// An ordinary account.
        User => "user",
        /// An administrator.
        Admin => "admin",
    }
}

wire_enum! {
    /// The priority of an admin broadcast (`admin.broadcast`, `notice`).
    pub enum Priority {
        /// Informational.
        Low => "low",
        /// Worth noticing.
        Medium => "medium",
        /// Urgent.
        High => "high",
    }
}

wire_enum! {
    /// A log level of `admin.tail` and of the `log` push, most severe first.
    pub enum LogLevel {
        /// Errors only.
        Error => "error",
        /// Warnings and errors.
        Warn => "warn",
        /// The default of `admin.tail`.
        Info => "info",
        /// Debugging detail.
        Debug => "debug",
        /// Everything.
        Trace => "trace",
    }
}

/// `admin.tail`'s level when it gives none (§5).
impl Default for LogLevel {
    fn default() -> Self {
        LogLevel::Info
    }
}

impl LogLevel {
    /// Whether a record at `record` passes a tail asked at `self`: "that level
    /// and the more severe ones" (§5 `admin.tail`).
    pub fn admits(self, record: LogLevel) -> bool {
        record.to_log() <= self.to_log()
    }

    /// The `log` crate's level of the same name.
    pub const fn to_log(self) -> log::Level {
        match self {
            LogLevel::Error => log::Level::Error,
            LogLevel::Warn => log::Level::Warn,
            LogLevel::Info => log::Level::Info,
            LogLevel::Debug => log::Level::Debug,
            LogLevel::Trace => log::Level::Trace,
        }
    }
}

impl From<log::Level> for LogLevel {
    fn from(level: log::Level) -> Self {
        match level {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Trace => LogLevel::Trace,
        }
    }
}

/// An error code as received by a client: one of the stable codes, or a
/// string this version does not know (kept, so a newer server's codes are
/// still shown rather than failing the whole message).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReceivedCode {
    /// A code of §4.
    Known(ErrorCode),
    /// Any other string.
    Unknown(String),
}

impl ReceivedCode {
    /// Classifies a wire string.
    pub fn from_wire(wire: &str) -> Self {
        ErrorCode::from_wire(wire).map_or_else(|| Self::Unknown(wire.to_owned()), Self::Known)
    }

    /// The string as received.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Known(code) => code.as_str(),
            Self::Unknown(wire) => wire,
        }
    }

    /// Whether this is `code`.
    pub fn is(&self, code: ErrorCode) -> bool {
        *self == Self::Known(code)
    }
}

impl fmt::Display for ReceivedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_serialises_to_its_spec_string() {
        let spec = [
            "bad_request",
            "unauthenticated",
            "forbidden",
            "invalid_credentials",
            "username_taken",
            "weak_password",
            "not_found",
            "already_exists",
            "too_large",
            "checksum_mismatch",
            "unsupported_audio",
            "busy",
            "rate_limited",
            "cancelled",
            "shutting_down",
            "internal",
            "quota_exceeded",
        ];
        assert_eq!(ErrorCode::ALL.len(), 17);
        for (code, wire) in ErrorCode::ALL.iter().zip(spec) {
            assert_eq!(serde_json::to_string(code).unwrap(), format!("\"{wire}\""));
            assert_eq!(code.as_str(), wire);
            assert_eq!(code.to_string(), wire);
            let back: ErrorCode = serde_json::from_str(&format!("\"{wire}\"")).unwrap();
            assert_eq!(back, *code);
        }
    }

    #[test]
    fn unknown_or_differently_cased_code_does_not_deserialise() {
        assert!(serde_json::from_str::<ErrorCode>("\"BadRequest\"").is_err());
        assert!(serde_json::from_str::<ErrorCode>("\"Bad_Request\"").is_err());
        assert!(serde_json::from_str::<ErrorCode>("\"nope\"").is_err());
        assert_eq!(ErrorCode::from_wire("internal"), Some(ErrorCode::Internal));
    }

    #[test]
    fn small_enums_use_spec_strings() {
        let byes: Vec<_> = ByeReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            byes,
            [
                "idle_timeout",
                "login_timeout",
                "kicked",
                "shutdown",
                "protocol_error"
            ]
        );
        assert_eq!(serde_json::to_string(&Role::Admin).unwrap(), "\"admin\"");
        assert_eq!(serde_json::to_string(&Role::User).unwrap(), "\"user\"");
        let priorities: Vec<_> = Priority::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(priorities, ["low", "medium", "high"]);
        let levels: Vec<_> = LogLevel::ALL.iter().map(|l| l.as_str()).collect();
        assert_eq!(levels, ["error", "warn", "info", "debug", "trace"]);
        for level in LogLevel::ALL {
            let json = serde_json::to_string(level).unwrap();
            assert_eq!(serde_json::from_str::<LogLevel>(&json).unwrap(), *level);
            assert_eq!(LogLevel::from(level.to_log()), *level);
        }
    }

    #[test]
    fn tail_level_admits_itself_and_more_severe() {
        assert!(LogLevel::Info.admits(LogLevel::Error));
        assert!(LogLevel::Info.admits(LogLevel::Warn));
        assert!(LogLevel::Info.admits(LogLevel::Info));
        assert!(!LogLevel::Info.admits(LogLevel::Debug));
        assert!(!LogLevel::Error.admits(LogLevel::Warn));
        assert!(LogLevel::Trace.admits(LogLevel::Trace));
    }

    #[test]
    fn received_code_keeps_unknown_strings() {
        assert_eq!(
            ReceivedCode::from_wire("busy"),
            ReceivedCode::Known(ErrorCode::Busy)
        );
        assert!(ReceivedCode::from_wire("busy").is(ErrorCode::Busy));
        let other = ReceivedCode::from_wire("a_later_code");
        assert_eq!(other, ReceivedCode::Unknown("a_later_code".into()));
        assert_eq!(other.to_string(), "a_later_code");
    }
}
