//! The failed-login throttle of PROTOCOL.md §5, as plain data: no actors, no
//! clock of its own (every call takes `now`), so it is tested directly.
//!
//! The rule: failed logins (answered `invalid_credentials`, resumes included)
//! are counted per username (any case, from any address) and per address.
//! Once a count reaches its limit within the window that opened at the first
//! of its failures, that username or address is locked until the window
//! ends: every login or resume there is `rate_limited`, even with the right
//! password. A success does not reset a count. When a window ends, its count
//! starts again from zero at the next failure.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Checks a signup against §5 in the order of §4: the username's syntax and
/// the password's size are field errors (`bad_request`), then the password's
/// strength (`weak_password`). Shared by `signup` and `harmonic user add`.
pub fn check_signup(username: &str, password: &str) -> Result<(), crate::protocol::WireError> {
    use crate::protocol::{
        check_password_size, check_password_strength, validate_username, ErrorCode, WireError,
    };
    validate_username(username)
        .map_err(|rule| WireError::bad_request(format!("`username` {rule}")))?;
    check_password_size(password)
        .map_err(|rule| WireError::bad_request(format!("`password` {rule}")))?;
    check_password_strength(password)
        .map_err(|rule| WireError::new(ErrorCode::WeakPassword, format!("password {rule}")))
}

/// Longest username string counted per username. Longer ones cannot name an
/// account (usernames have at most 32 characters), so only their address is
/// counted; this bounds the memory a client can make the server spend.
const MAX_COUNTED_USERNAME_BYTES: usize = 64;

/// The limits of the throttle (server settings, §5 defaults 5, 20, 15 min).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures that lock a username.
    pub per_username: u32,
    /// Failures that lock an address.
    pub per_address: u32,
    /// The window, from the first failure.
    pub window: Duration,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits {
            per_username: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Failures counted since the first of them.
#[derive(Debug, Clone, Copy)]
struct FailureWindow {
    first: Instant,
    failures: u32,
}

impl FailureWindow {
    /// How long the window still runs at `now`, if it does.
    fn remaining(&self, window: Duration, now: Instant) -> Option<Duration> {
        let end = self.first + window;
        (now < end).then(|| end - now)
    }
}

/// Counts failed logins per username and per address.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    usernames: HashMap<String, FailureWindow>,
    addresses: HashMap<IpAddr, FailureWindow>,
}

impl LoginThrottle {
    /// An empty throttle.
    pub fn new(limits: ThrottleLimits) -> LoginThrottle {
        LoginThrottle {
            limits,
            usernames: HashMap::new(),
            addresses: HashMap::new(),
        }
    }

    /// Whether a login (with `username`, or a resume with `None`) from
    /// `address` may be tried at `now`; `Err` holds how long until the lock
    /// ends (the `retry_after_s` of the answer).
    pub fn check(
        &self,
        username: Option<&str>,
        address: IpAddr,
        now: Instant,
    ) -> Result<(), Duration> {
        let by_address = self
            .addresses
            .get(&address)
            .and_then(|w| locked(w, self.limits.per_address, self.limits.window, now));
        let by_username = username
            .and_then(counted_key)
            .and_then(|key| self.usernames.get(&key))
            .and_then(|w| locked(w, self.limits.per_username, self.limits.window, now));
        match (by_address, by_username) {
            (None, None) => Ok(()),
            (a, u) => Err(a.unwrap_or_default().max(u.unwrap_or_default())),
        }
    }

    /// Records a failed login (or resume, with `None`) at `now`.
    pub fn record_failure(&mut self, username: Option<&str>, address: IpAddr, now: Instant) {
        let window = self.limits.window;
        bump(
            self.addresses.entry(address).or_insert(fresh(now)),
            window,
            now,
        );
        if let Some(key) = username.and_then(counted_key) {
            bump(self.usernames.entry(key).or_insert(fresh(now)), window, now);
        }
    }

    /// Forgets every window that has ended (call it now and then).
    pub fn purge(&mut self, now: Instant) {
        let window = self.limits.window;
        self.usernames
            .retain(|_, w| w.remaining(window, now).is_some());
        self.addresses
            .retain(|_, w| w.remaining(window, now).is_some());
    }

    /// How many usernames and addresses are being counted.
    pub fn tracked(&self) -> (usize, usize) {
        (self.usernames.len(), self.addresses.len())
    }
}

/// A window with no failure yet, opening at `now`.
fn fresh(now: Instant) -> FailureWindow {
    FailureWindow {
        first: now,
        failures: 0,
    }
}

/// Adds one failure, opening a new window if the old one has ended.
fn bump(entry: &mut FailureWindow, window: Duration, now: Instant) {
    if entry.remaining(window, now).is_none() {
        *entry = fresh(now);
    }
    entry.failures = entry.failures.saturating_add(1);
}

/// The time left on a lock, if the window is locked at `now`.
fn locked(w: &FailureWindow, limit: u32, window: Duration, now: Instant) -> Option<Duration> {
    if w.failures >= limit {
        w.remaining(window, now)
    } else {
        None
    }
}

/// The per-username key: case-folded like accounts are (§5), or `None` for
/// a string too long to be any account's name.
fn counted_key(username: &str) -> Option<String> {
    (username.len() <= MAX_COUNTED_USERNAME_BYTES).then(|| crate::protocol::username_key(username))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn five_failures_lock_a_username_in_any_case_from_any_address() {
        let mut t = LoginThrottle::new(ThrottleLimits::default());
        let t0 = Instant::now();
        for i in 0..4 {
            t.record_failure(Some("Alice"), ip(i), t0 + Duration::from_secs(u64::from(i)));
        }
        assert!(t
            .check(Some("alice"), ip(9), t0 + Duration::from_secs(5))
            .is_ok());
        t.record_failure(Some("ALICE"), ip(7), t0 + Duration::from_secs(10));
        let wait = t
            .check(Some("alice"), ip(9), t0 + Duration::from_secs(60))
            .unwrap_err();
        // Locked until 15 minutes after the FIRST failure.
        assert_eq!(wait, Duration::from_secs(900 - 60));
        assert!(t
            .check(Some("bob"), ip(9), t0 + Duration::from_secs(60))
            .is_ok());
        // The window ends: unlocked, and the next failure starts a new count.
        let later = t0 + Duration::from_secs(900);
        assert!(t.check(Some("alice"), ip(9), later).is_ok());
        t.record_failure(Some("alice"), ip(9), later);
        assert!(t.check(Some("alice"), ip(9), later).is_ok());
    }

    #[test]
    fn twenty_failures_lock_an_address_resumes_included() {
        let mut t = LoginThrottle::new(ThrottleLimits::default());
        let t0 = Instant::now();
        for i in 0..19 {
            let name = format!("user{i}");
            t.record_failure(Some(&name), ip(1), t0);
        }
        assert!(t.check(Some("zed"), ip(1), t0).is_ok());
        t.record_failure(None, ip(1), t0 + Duration::from_millis(500));
        let wait = t
            .check(Some("zed"), ip(1), t0 + Duration::from_secs(1))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(899));
        assert!(t.check(None, ip(1), t0).is_err(), "resumes are locked too");
        assert!(
            t.check(Some("zed"), ip(2), t0).is_ok(),
            "other addresses are not"
        );
    }

    #[test]
    fn success_does_not_reset_and_purge_forgets_ended_windows() {
        let limits = ThrottleLimits {
            per_username: 2,
            per_address: 100,
            window: Duration::from_secs(10),
        };
        let mut t = LoginThrottle::new(limits);
        let t0 = Instant::now();
        t.record_failure(Some("a"), ip(1), t0);
        // (a success would not touch the throttle at all)
        t.record_failure(Some("a"), ip(1), t0 + Duration::from_secs(1));
        assert!(t
            .check(Some("a"), ip(1), t0 + Duration::from_secs(2))
            .is_err());
        assert_eq!(t.tracked(), (1, 1));
        t.purge(t0 + Duration::from_secs(5));
        assert_eq!(t.tracked(), (1, 1));
        t.purge(t0 + Duration::from_secs(10));
        assert_eq!(t.tracked(), (0, 0));
    }

    #[test]
    fn signup_rules_in_order() {
        use crate::protocol::ErrorCode;
        assert!(check_signup("Alice", "correct horse").is_ok());
        assert_eq!(
            check_signup("-x", "short").unwrap_err().code,
            ErrorCode::BadRequest
        );
        let huge = "p".repeat(1025);
        assert_eq!(
            check_signup("bob", &huge).unwrap_err().code,
            ErrorCode::BadRequest
        );
        assert_eq!(
            check_signup("bob", "seven77").unwrap_err().code,
            ErrorCode::WeakPassword
        );
        // 8 code points, more bytes: strong enough.
        assert!(check_signup("bob", "éééééééé").is_ok());
    }

    #[test]
    fn over_long_usernames_count_against_the_address_only() {
        let mut t = LoginThrottle::new(ThrottleLimits::default());
        let long = "x".repeat(10_000);
        t.record_failure(Some(&long), ip(3), Instant::now());
        assert_eq!(t.tracked(), (0, 1));
    }
}
