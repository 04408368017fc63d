//! The auth actor: signup, login, resume and logout, the failed-login
//! throttle of §5 ([`LoginThrottle`]) and the signup limit
//! ([`SignupLimit`]), which it alone owns.
//!
//! Password hashing and verification are slow on purpose (argon2id), so they
//! run on the password workers ([`PasswordWorkers`]: fixed memory, logins
//! before signups, in turns by address); the accounts and tokens themselves are
//! the library actor's (it alone owns the database). A login counts as a
//! failure from the moment it is let through until its answer is known
//! (so concurrent attempts cannot pass the limit); it stays one whatever
//! made it fail (unknown user, wrong password, or a pair that could never
//! be valid), and a login for an
//! unknown user still verifies against a dummy hash, so that timing does not
//! tell which usernames exist.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::hashing::{HashingError, PasswordWorkers};
use super::library::{
    CreateUser, FindUser, GrantLogin, Library, LoginGrant, ResumeLogin, RevokeLogin,
};
use super::timing::Ms;
use crate::auth::{
    check_signup, AuthError, LoginAttempt, LoginThrottle, SignupLimit, ThrottleLimits,
};
use crate::config::Settings;
use crate::logging::SessionLog;
use crate::protocol::{login_could_be_valid, ErrorCode, Role, WireError};

/// How often ended failure windows are forgotten.
const THROTTLE_PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// The auth actor.
pub struct Auth {
    throttle: LoginThrottle,
    signups: SignupLimit,
    /// `Settings::public_signup`.
    public_signup: bool,
    library: Addr<Library>,
    /// Where passwords are hashed and checked.
    passwords: PasswordWorkers,
}

impl Auth {
    /// An auth actor over `library`, hashing on `passwords`, with the
    /// throttle limits of `settings`.
    pub fn new(settings: &Settings, library: Addr<Library>, passwords: PasswordWorkers) -> Auth {
        Auth {
            throttle: LoginThrottle::new(ThrottleLimits {
                per_username: settings.login_failures_per_username,
                per_address: settings.login_failures_per_address,
                window: settings.login_failure_window,
            }),
            signups: SignupLimit::new(settings.signups_per_address, settings.signup_window),
            public_signup: settings.public_signup,
            library,
            passwords,
        }
    }
}

impl Actor for Auth {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(THROTTLE_PURGE_INTERVAL, |auth, _| {
            let now = Instant::now();
            auth.throttle.purge(now);
            auth.signups.purge(now);
        });
    }
}

/// The answer to a wrong pair, an unknown token, and everything in between.
fn invalid_credentials(what: &str) -> WireError {
    WireError::new(ErrorCode::InvalidCredentials, format!("invalid {what}"))
}

fn mailbox(err: MailboxError) -> WireError {
    WireError::internal(format!("library unreachable: {err}"))
}

fn hashing(err: HashingError) -> WireError {
    WireError::internal(format!("password hashing: {err}"))
}

/// What a login for an unknown user is checked against, so that it costs
/// what a real check costs (same algorithm and parameters as every stored
/// hash). Its output was made up, not computed: no password matches it.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$aGFybW9uaWMgZHVtbXk$ZHVtbXkgaGFzaDogbm8gcGFzc3dvcmQgbWF0Y2hlcyE";

/// `signup`: creates a `user` account (does not log in).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), WireError>")]
pub struct Signup {
    /// The username as written.
    pub username: String,
    /// The password (never logged).
    pub password: String,
    /// The session's peer address, for the signup limit.
    pub peer: IpAddr,
}

impl Handler<Signup> for Auth {
    type Result = ResponseFuture<Result<(), WireError>>;

    /// Closed signup, the fields, the password's strength, then the
    /// address's signup count: all before any hashing.
    fn handle(&mut self, msg: Signup, _: &mut Context<Self>) -> Self::Result {
        let admitted = if self.public_signup {
            check_signup(&msg.username, &msg.password).and_then(|()| {
                self.signups
                    .admit(msg.peer, Instant::now())
                    .map_err(|retry_after| AuthError::TooManySignups { retry_after })
            })
        } else {
            Err(AuthError::SignupClosed)
        };
        if let Err(err) = admitted {
            return Box::pin(std::future::ready(Err(err.into())));
        }
        let library = self.library.clone();
        let passwords = self.passwords.clone();
        Box::pin(async move {
            let hash = passwords.hash(msg.password).await.map_err(hashing)?;
            library
                .send(CreateUser {
                    username: msg.username,
                    password_hash: hash,
                    role: Role::User,
                })
                .await
                .map_err(mailbox)?
        })
    }
}

/// `login`.
#[derive(Debug, Message)]
#[rtype(result = "Result<LoginGrant, WireError>")]
pub struct Login {
    /// The username as typed.
    pub username: String,
    /// The password (never logged).
    pub password: String,
    /// The session's peer address, for the throttle.
    pub peer: IpAddr,
    /// The session's log context, which starts the line of the outcome.
    pub log: SessionLog,
}

impl Handler<Login> for Auth {
    type Result = ResponseActFuture<Self, Result<LoginGrant, WireError>>;

    fn handle(&mut self, msg: Login, _: &mut Context<Self>) -> Self::Result {
        let Login {
            username,
            password,
            peer,
            log,
        } = msg;
        let attempt_counted = match self.throttle.begin(Some(&username), peer, Instant::now()) {
            Ok(attempt) => attempt,
            Err(retry_after) => {
                return Box::pin(fut::ready(Err(
                    AuthError::LoginLocked { retry_after }.into()
                )))
            }
        };
        let library = self.library.clone();
        let passwords = self.passwords.clone();
        let name = username.clone();
        let stages_log = log.clone();
        let attempt = async move {
            if !login_could_be_valid(&name, &password) {
                return Ok(None);
            }
            let started = Instant::now();
            let user = library
                .send(FindUser { username: name })
                .await
                .map_err(mailbox)??;
            let found = started.elapsed();
            let (user_id, phc) = match user {
                Some(user) => (Some(user.id), user.password_hash),
                None => (None, DUMMY_HASH.to_owned()),
            };
            let check = passwords
                .verify(password, phc, peer)
                .await
                .map_err(hashing)?;
            let verified = user_id.filter(|_| check.matched);
            let granting = Instant::now();
            let grant = match verified {
                Some(user_id) => library
                    .send(GrantLogin { user_id })
                    .await
                    .map_err(mailbox)?
                    .map(Some),
                None => Ok(None),
            };
            log::debug!(target: "auth::timing", "{stages_log}: login stages: account {}, password check {} ({} jobs queued before it), grant {}",
                Ms(found), check.timing, check.queued_with, Ms(granting.elapsed()));
            grant
        };
        Box::pin(
            attempt.into_actor(self).map(move |result, auth, _| {
                auth.settle(attempt_counted, result, &log, Outcome::LOGIN)
            }),
        )
    }
}

/// How a login or a resume is logged and refused.
struct Outcome {
    /// Logged after the username on success (`logged in`, `resumed`).
    success: &'static str,
    /// Logged on failure (`failed login`, `failed resume`).
    failure: &'static str,
    /// What `invalid_credentials` names.
    credentials: &'static str,
}

impl Outcome {
    const LOGIN: Outcome = Outcome {
        success: "logged in",
        failure: "failed login",
        credentials: "username or password",
    };
    const RESUME: Outcome = Outcome {
        success: "resumed",
        failure: "failed resume",
        credentials: "resume token",
    };
}

impl Auth {
    /// Ends a counted login or resume attempt: the throttle learns whether
    /// it failed, and the answer is the grant or `invalid_credentials`.
    fn settle(
        &mut self,
        attempt: LoginAttempt,
        result: Result<Option<LoginGrant>, WireError>,
        log: &SessionLog,
        outcome: Outcome,
    ) -> Result<LoginGrant, WireError> {
        let failed = matches!(result, Ok(None));
        self.throttle.finish(attempt, failed, Instant::now());
        match result {
            Ok(Some(grant)) => {
                log::info!(target: "auth", "{log}: {} {}", grant.username, outcome.success);
                Ok(grant)
            }
            Ok(None) => {
                log::info!(target: "auth", "{log}: {}", outcome.failure);
                Err(invalid_credentials(outcome.credentials))
            }
            Err(err) => Err(err),
        }
    }
}

/// `resume`.
#[derive(Debug, Message)]
#[rtype(result = "Result<LoginGrant, WireError>")]
pub struct Resume {
    /// The token (never logged).
    pub token: String,
    /// The session's peer address, for the throttle.
    pub peer: IpAddr,
    /// The session's log context, which starts the line of the outcome.
    pub log: SessionLog,
}

impl Handler<Resume> for Auth {
    type Result = ResponseActFuture<Self, Result<LoginGrant, WireError>>;

    fn handle(&mut self, msg: Resume, _: &mut Context<Self>) -> Self::Result {
        let Resume { token, peer, log } = msg;
        let attempt_counted = match self.throttle.begin(None, peer, Instant::now()) {
            Ok(attempt) => attempt,
            Err(retry_after) => {
                return Box::pin(fut::ready(Err(
                    AuthError::LoginLocked { retry_after }.into()
                )))
            }
        };
        let library = self.library.clone();
        let attempt = async move { library.send(ResumeLogin { token }).await.map_err(mailbox)? };
        Box::pin(attempt.into_actor(self).map(move |result, auth, _| {
            auth.settle(attempt_counted, result, &log, Outcome::RESUME)
        }))
    }
}

/// `logout`: revokes every resume token of the session's login.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), WireError>")]
pub struct Logout {
    /// The login (see [`LoginGrant::login_id`]).
    pub login_id: i64,
}

impl Handler<Logout> for Auth {
    type Result = ResponseFuture<Result<(), WireError>>;

    fn handle(&mut self, msg: Logout, _: &mut Context<Self>) -> Self::Result {
        let library = self.library.clone();
        Box::pin(async move {
            library
                .send(RevokeLogin {
                    login_id: msg.login_id,
                })
                .await
                .map_err(mailbox)?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_log() -> SessionLog {
        SessionLog::new(1, ([127, 0, 0, 1], 40_000).into())
    }

    #[test]
    fn signup_login_throttle_and_resume() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            data_dir: dir.path().to_owned(),
            login_failures_per_username: 2,
            ..Settings::default()
        };
        actix::System::new().block_on(async move {
            let (library, _closed) = Library::start(&settings).unwrap();
            let passwords = PasswordWorkers::start(1).unwrap();
            let auth = Auth::new(&settings, library, passwords).start();
            let peer = IpAddr::from([127, 0, 0, 1]);
            let signup = |username: &str, password: &str| Signup {
                username: username.into(),
                password: password.into(),
                peer,
            };
            let login = |username: &str, password: &str| Login {
                username: username.into(),
                password: password.into(),
                peer,
                log: test_log(),
            };
            auth.send(signup("Alice", "correct horse"))
                .await
                .unwrap()
                .unwrap();
            let taken = auth.send(signup("ALICE", "correct horse")).await.unwrap();
            assert_eq!(taken.unwrap_err().code, ErrorCode::UsernameTaken);
            let weak = auth.send(signup("bob", "short")).await.unwrap();
            assert_eq!(weak.unwrap_err().code, ErrorCode::WeakPassword);

            let grant = auth
                .send(login("alice", "correct horse"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(grant.username, "Alice");
            let resumed = auth
                .send(Resume {
                    token: grant.token.clone(),
                    peer,
                    log: test_log(),
                })
                .await
                .unwrap()
                .unwrap();
            let spent = auth
                .send(Resume {
                    token: grant.token,
                    peer,
                    log: test_log(),
                })
                .await
                .unwrap();
            assert_eq!(spent.unwrap_err().code, ErrorCode::InvalidCredentials);

            // Two failures (one of them a pair that could never be valid) lock
            // the username, even for the right password.
            let wrong = auth.send(login("alice", "wrong password")).await.unwrap();
            assert_eq!(wrong.unwrap_err().code, ErrorCode::InvalidCredentials);
            let never = auth.send(login("Alice", "x")).await.unwrap();
            assert_eq!(never.unwrap_err().code, ErrorCode::InvalidCredentials);
            let locked = auth
                .send(login("alice", "correct horse"))
                .await
                .unwrap()
                .unwrap_err();
            assert_eq!(locked.code, ErrorCode::RateLimited);
            assert!(locked.extra["retry_after_s"].as_u64().unwrap() > 800);

            auth.send(Logout {
                login_id: resumed.login_id,
            })
            .await
            .unwrap()
            .unwrap();
            let revoked = auth
                .send(Resume {
                    token: resumed.token,
                    peer,
                    log: test_log(),
                })
                .await
                .unwrap();
            assert_eq!(revoked.unwrap_err().code, ErrorCode::InvalidCredentials);
        });
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does_and_matches_nothing() {
        use argon2::password_hash::PasswordHash;
        let real = crate::crypto::hash_password("correct horse").unwrap();
        let (dummy, real) = (
            PasswordHash::new(DUMMY_HASH).unwrap(),
            PasswordHash::new(&real).unwrap(),
        );
        assert_eq!(
            (dummy.algorithm, dummy.version, dummy.params.to_string()),
            (real.algorithm, real.version, real.params.to_string())
        );
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert!(!crate::crypto::verify_password(
            "harmonic dummy",
            DUMMY_HASH
        ));
    }
}
