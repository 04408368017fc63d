//! The naming and size rules of §5, as plain functions shared by the
//! server and the client.

#[cfg(doc)]
use super::Request;
use super::{MAX_PASSWORD_BYTES, MAX_SOUND_NAME_CHARS, MAX_USERNAME_LEN, MIN_PASSWORD_CHARS};
use crate::protocol::RuleViolation;

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

/// Declares a string newtype that holds one of the rules above: serde reads
/// it through the rule (`try_from = "String"`), so a request field read
/// through it ([`checked`](super::fields::checked)) never holds a value that
/// breaks the rule, and the rule's message names what is wrong.
macro_rules! validated_string {
    ($(#[$meta:meta])* $name:ident, $rule:path) => {
        $(#[$meta])*
        #[derive(serde::Deserialize)]
        #[serde(try_from = "String")]
        pub(super) struct $name(String);

        impl TryFrom<String> for $name {
            type Error = RuleViolation;
            fn try_from(text: String) -> Result<Self, RuleViolation> {
                $rule(&text)?;
                Ok($name(text))
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

validated_string!(
    /// A username that passes [`validate_username`]: a new account's.
    Username,
    validate_username
);
validated_string!(
    /// A sound name that passes [`validate_sound_name`].
    SoundName,
    validate_sound_name
);
validated_string!(
    /// A signup password within [`check_password_size`] (its strength is
    /// the server's later check, `weak_password`).
    NewPassword,
    check_password_size
);
