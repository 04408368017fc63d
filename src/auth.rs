//! The account rules of PROTOCOL.md §5 as plain data: no actors, no clock of
//! their own (every call takes `now`), so they are tested directly.
//!
//! - [`check_signup`]: a new account's username and password.
//! - [`LoginThrottle`]: failed logins (answered `invalid_credentials`,
//!   resumes included) are counted per username (any case, from any
//!   address) and per address. Once a count reaches its limit within the
//!   window that opened at the first of its failures, that username or
//!   address is locked until the window ends: every login or resume there is
//!   `rate_limited`, even with the right password. A success does not reset
//!   a count. When a window ends, its count starts again from zero at the
//!   next failure. An attempt still being checked counts as a failure until
//!   it is answered ([`LoginThrottle::begin`]), so concurrent attempts cannot
//!   pass the limit: at most 5 wrong passwords are ever tried per username
//!   in a window, however many connections try at once.
//! - [`SignupLimit`]: signups per address per window (10 an hour), counted
//!   before any password is hashed.
//!
//! Addresses are counted by [`address_group`] (an IPv6 client by its /64).
//!
//! Every refusal is an [`AuthError`]; `protocol::errors` gives its code.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::address::address_group;
use crate::protocol::RuleViolation;

/// Why a signup, login or resume is refused before any password is checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The username breaks the pattern of §5 (`bad_request`).
    #[error("`username` {0}")]
    BadUsername(RuleViolation),
    /// The password is over 1024 bytes (`bad_request`).
    #[error("`password` {0}")]
    BadPassword(RuleViolation),
    /// The password is too weak (`weak_password`).
    #[error("password {0}")]
    WeakPassword(RuleViolation),
    /// Public signup is turned off on this server (`forbidden`).
    #[error("signup is closed on this server: ask an administrator for an account")]
    SignupClosed,
    /// This address signed up too often (`rate_limited`).
    #[error("too many signups from this address; try again later")]
    TooManySignups {
        /// Until the address may sign up again.
        retry_after: Duration,
    },
    /// This username or address is locked by failed logins (`rate_limited`).
    #[error("too many failed logins; try again later")]
    LoginLocked {
        /// Until the lock ends, or until the attempts still being checked
        /// may have been answered.
        retry_after: Duration,
    },
}

/// Checks a signup against §5 in the order of §4: the username's syntax and
/// the password's size are field errors (`bad_request`), then the password's
/// strength (`weak_password`). Shared by `signup` and `harmonic user add`.
pub fn check_signup(username: &str, password: &str) -> Result<(), AuthError> {
    use crate::protocol::{check_password_size, check_password_strength, validate_username};
    validate_username(username).map_err(AuthError::BadUsername)?;
    check_password_size(password).map_err(AuthError::BadPassword)?;
    check_password_strength(password).map_err(AuthError::WeakPassword)
}

/// Longest username string counted per username. Longer ones cannot name an
/// account (usernames have at most 32 characters), so only their address is
/// counted; this bounds the memory a client can make the server spend.
const MAX_COUNTED_USERNAME_BYTES: usize = 64;

/// The `retry_after_s` of a lock made only by attempts still being checked:
/// they are answered within a password check or a few (tens of ms to a
/// second under load), after which the client learns whether a real lock
/// holds. A whole window would lock out a user whose own correct logins
/// happened to run at once.
pub const PENDING_RETRY_AFTER: Duration = Duration::from_secs(1);

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

/// Events (failures, signups) counted since the first of them.
#[derive(Debug, Clone, Copy)]
struct CountWindow {
    first: Instant,
    count: u32,
}

impl CountWindow {
    /// A window with nothing counted yet, opening at `now`.
    fn fresh(now: Instant) -> CountWindow {
        CountWindow {
            first: now,
            count: 0,
        }
    }

    /// How long the window still runs at `now`, if it does.
    fn remaining(&self, window: Duration, now: Instant) -> Option<Duration> {
        let end = self.first + window;
        (now < end).then(|| end - now)
    }

    /// What the window counts at `now` (nothing once it has ended).
    fn count(&self, window: Duration, now: Instant) -> u32 {
        self.remaining(window, now).map_or(0, |_| self.count)
    }

    /// Counts one more, opening a new window if the old one has ended.
    fn bump(&mut self, window: Duration, now: Instant) {
        if self.remaining(window, now).is_none() {
            *self = CountWindow::fresh(now);
        }
        self.count = self.count.saturating_add(1);
    }
}

/// The failures of one username or address, and its attempts being checked.
#[derive(Debug, Clone, Copy, Default)]
struct LoginCount {
    failures: Option<CountWindow>,
    pending: u32,
}

impl LoginCount {
    /// The time left on a lock at `now`, if `limit` is reached: failures in
    /// the window plus attempts not yet answered.
    fn locked(&self, limit: u32, window: Duration, now: Instant) -> Option<Duration> {
        let failures = self.failures.map_or(0, |w| w.count(window, now));
        if failures.saturating_add(self.pending) < limit {
            return None;
        }
        match self.failures.and_then(|w| w.remaining(window, now)) {
            Some(remaining) if failures >= limit => Some(remaining),
            _ => Some(PENDING_RETRY_AFTER),
        }
    }

    fn is_idle(&self, window: Duration, now: Instant) -> bool {
        self.pending == 0
            && self
                .failures
                .is_none_or(|w| w.remaining(window, now).is_none())
    }
}

/// A login or resume being checked: it counts as a failure of its username
/// and address until [`LoginThrottle::finish`] is given its outcome.
#[derive(Debug)]
#[must_use = "an attempt counts as a failure until it is finished"]
pub struct LoginAttempt {
    username: Option<String>,
    address: IpAddr,
}

/// Counts failed logins per username and per address.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    usernames: HashMap<String, LoginCount>,
    addresses: HashMap<IpAddr, LoginCount>,
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
        let window = self.limits.window;
        let by_address = self
            .addresses
            .get(&address_group(address))
            .and_then(|c| c.locked(self.limits.per_address, window, now));
        let by_username = username
            .and_then(counted_key)
            .and_then(|key| self.usernames.get(&key))
            .and_then(|c| c.locked(self.limits.per_username, window, now));
        match (by_address, by_username) {
            (None, None) => Ok(()),
            (a, u) => Err(a.unwrap_or_default().max(u.unwrap_or_default())),
        }
    }

    /// Starts a login (or resume, with `None`) at `now` if [`Self::check`]
    /// allows it; it counts as a failure until it is finished.
    pub fn begin(
        &mut self,
        username: Option<&str>,
        address: IpAddr,
        now: Instant,
    ) -> Result<LoginAttempt, Duration> {
        self.check(username, address, now)?;
        Ok(self.begin_unchecked(username, address))
    }

    /// Ends an attempt: no longer pending, and a failure if `failed`.
    pub fn finish(&mut self, attempt: LoginAttempt, failed: bool, now: Instant) {
        let window = self.limits.window;
        let settle = |count: &mut LoginCount| {
            count.pending = count.pending.saturating_sub(1);
            if failed {
                count
                    .failures
                    .get_or_insert(CountWindow::fresh(now))
                    .bump(window, now);
            }
        };
        settle(self.addresses.entry(attempt.address).or_default());
        if let Some(key) = attempt.username {
            settle(self.usernames.entry(key).or_default());
        }
    }

    /// Records a failed login (or resume, with `None`) at `now` that was not
    /// begun with [`Self::begin`].
    pub fn record_failure(&mut self, username: Option<&str>, address: IpAddr, now: Instant) {
        let attempt = self.begin_unchecked(username, address);
        self.finish(attempt, true, now);
    }

    fn begin_unchecked(&mut self, username: Option<&str>, address: IpAddr) -> LoginAttempt {
        let username = username.and_then(counted_key);
        if let Some(key) = &username {
            self.usernames.entry(key.clone()).or_default().pending += 1;
        }
        let address = address_group(address);
        self.addresses.entry(address).or_default().pending += 1;
        LoginAttempt { username, address }
    }

    /// Forgets every count whose window has ended and that has nothing
    /// pending (call it now and then).
    pub fn purge(&mut self, now: Instant) {
        let window = self.limits.window;
        self.usernames.retain(|_, c| !c.is_idle(window, now));
        self.addresses.retain(|_, c| !c.is_idle(window, now));
    }

    /// How many usernames and addresses are being counted.
    pub fn tracked(&self) -> (usize, usize) {
        (self.usernames.len(), self.addresses.len())
    }
}

/// The per-username key: case-folded like accounts are (§5), or `None` for
/// a string too long to be any account's name.
fn counted_key(username: &str) -> Option<String> {
    (username.len() <= MAX_COUNTED_USERNAME_BYTES).then(|| crate::protocol::username_key(username))
}

/// Signups per address within a window (§5: 10 an hour), counted when a
/// signup is admitted, before its password is hashed.
#[derive(Debug, Clone)]
pub struct SignupLimit {
    per_address: u32,
    window: Duration,
    addresses: HashMap<IpAddr, CountWindow>,
}

impl SignupLimit {
    /// At most `per_address` signups per address in each `window` (from the
    /// first signup counted).
    pub fn new(per_address: u32, window: Duration) -> SignupLimit {
        SignupLimit {
            per_address,
            window,
            addresses: HashMap::new(),
        }
    }

    /// Counts a signup from `address` at `now`, or `Err` with how long until
    /// the address may sign up again.
    pub fn admit(&mut self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let counted = self
            .addresses
            .entry(address_group(address))
            .or_insert(CountWindow::fresh(now));
        if counted.count(self.window, now) >= self.per_address {
            return Err(counted
                .remaining(self.window, now)
                .unwrap_or(PENDING_RETRY_AFTER));
        }
        counted.bump(self.window, now);
        Ok(())
    }

    /// Forgets the addresses whose window has ended.
    pub fn purge(&mut self, now: Instant) {
        let window = self.window;
        self.addresses
            .retain(|_, w| w.remaining(window, now).is_some());
    }

    /// How many addresses are being counted.
    pub fn tracked(&self) -> usize {
        self.addresses.len()
    }
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
        assert!(check_signup("Alice", "correct horse").is_ok());
        assert!(matches!(
            check_signup("-x", "short"),
            Err(AuthError::BadUsername(_))
        ));
        let huge = "p".repeat(1025);
        assert!(matches!(
            check_signup("bob", &huge),
            Err(AuthError::BadPassword(_))
        ));
        assert!(matches!(
            check_signup("bob", "seven77"),
            Err(AuthError::WeakPassword(_))
        ));
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

    #[test]
    fn attempts_being_checked_count_as_failures_until_answered() {
        let mut t = LoginThrottle::new(ThrottleLimits::default());
        let t0 = Instant::now();
        let attempts: Vec<_> = (0..5)
            .map(|i| t.begin(Some("Alice"), ip(i), t0).unwrap())
            .collect();
        // A sixth, concurrent attempt on the username waits for them.
        assert_eq!(
            t.begin(Some("alice"), ip(9), t0).unwrap_err(),
            PENDING_RETRY_AFTER
        );
        assert!(t.begin(Some("bob"), ip(9), t0).is_ok_and(|a| {
            t.finish(a, false, t0);
            true
        }));
        let mut attempts = attempts.into_iter();
        // One answered as a success frees its place...
        t.finish(attempts.next().unwrap(), false, t0);
        let again = t.begin(Some("alice"), ip(9), t0).unwrap();
        // ...and once the five others are answered as failures, the
        // username is locked for the window.
        t.finish(again, true, t0);
        for attempt in attempts {
            t.finish(attempt, true, t0 + Duration::from_secs(1));
        }
        let wait = t
            .begin(Some("alice"), ip(9), t0 + Duration::from_secs(2))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(898));
        t.purge(t0 + Duration::from_secs(3));
        assert_eq!(
            t.tracked(),
            (1, 5),
            "bob and ip 0 had no failure: forgotten"
        );
    }

    #[test]
    fn twenty_attempts_at_once_lock_an_address() {
        let mut t = LoginThrottle::new(ThrottleLimits::default());
        let t0 = Instant::now();
        let pending: Vec<_> = (0..20)
            .map(|i| t.begin(Some(&format!("user{i}")), ip(1), t0).unwrap())
            .collect();
        assert!(t.begin(Some("zed"), ip(1), t0).is_err());
        assert!(t.begin(None, ip(1), t0).is_err(), "resumes too");
        assert!(t.begin(Some("zed"), ip(2), t0).is_ok_and(|a| {
            t.finish(a, false, t0);
            true
        }));
        for attempt in pending {
            t.finish(attempt, false, t0);
        }
        assert!(t.check(Some("zed"), ip(1), t0).is_ok(), "all succeeded");
        t.purge(t0);
        assert_eq!(t.tracked(), (0, 0), "nothing pending, no failure");
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_their_counts() {
        let host = |last: u16| IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, last]);
        let mut t = LoginThrottle::new(ThrottleLimits::default());
        let t0 = Instant::now();
        for i in 0..20 {
            t.record_failure(Some(&format!("user{i}")), host(i), t0);
        }
        assert!(t.check(Some("zed"), host(999), t0).is_err(), "same /64");
        let elsewhere = IpAddr::from([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1]);
        assert!(t.check(Some("zed"), elsewhere, t0).is_ok());
        let mut signups = SignupLimit::new(10, Duration::from_secs(3600));
        for i in 0..10 {
            assert!(signups.admit(host(i), t0).is_ok());
        }
        assert!(signups.admit(host(500), t0).is_err(), "same /64");
        assert!(signups.admit(elsewhere, t0).is_ok());
    }

    #[test]
    fn ten_signups_per_address_per_hour() {
        let mut limit = SignupLimit::new(10, Duration::from_secs(3600));
        let t0 = Instant::now();
        for i in 0..10 {
            assert!(limit.admit(ip(1), t0 + Duration::from_secs(i)).is_ok());
        }
        let wait = limit
            .admit(ip(1), t0 + Duration::from_secs(600))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(3000));
        assert!(limit.admit(ip(2), t0).is_ok(), "other addresses are not");
        assert_eq!(limit.tracked(), 2);
        let later = t0 + Duration::from_secs(3600);
        limit.purge(later);
        assert_eq!(limit.tracked(), 0);
        assert!(limit.admit(ip(1), later).is_ok());
    }
}
