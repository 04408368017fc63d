//! The account requests: `ping`, `signup`, `login`, `resume` (open to
//! anyone) and `logout`.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use actix::prelude::*;

use super::{ask, LoggedIn, Pending, Session};
use crate::actors::auth::{Login, Logout, Resume, Signup};
use crate::actors::library::LoginGrant;
use crate::protocol::response::PingResult;
use crate::protocol::{unix_millis, Empty, LoginResult, OpenRequest, WireError};

impl Session {
    /// The requests allowed before login.
    pub(super) fn open_request(&mut self, id: u32, request: OpenRequest, ctx: &mut Context<Self>) {
        let auth = self.services.auth.clone();
        let peer = self.peer.ip();
        match request {
            OpenRequest::Ping => self.send_ok(
                id,
                PingResult {
                    server_time_ms: unix_millis(SystemTime::now()),
                },
            ),
            OpenRequest::Signup(signup) => self.track(
                id,
                async move {
                    ask(auth.send(Signup {
                        username: signup.username,
                        password: signup.password,
                        peer,
                    }))
                    .await
                    .map(|()| Empty {})
                },
                ctx,
            ),
            OpenRequest::Login(login) => {
                let attempt = ask(auth.send(Login {
                    username: login.username,
                    password: login.password,
                    peer,
                    log: self.log.clone(),
                }));
                self.track_login(id, attempt, ctx)
            }
            OpenRequest::Resume(resume) => {
                let attempt = ask(auth.send(Resume {
                    token: resume.token,
                    peer,
                    log: self.log.clone(),
                }));
                self.track_login(id, attempt, ctx)
            }
        }
    }

    /// `logout`: the session stays open, logged out, and every resume token
    /// of its login is revoked (the one it was given, and any issued since
    /// by resumes elsewhere). Its tails end first (§5: a tail ends with its
    /// login).
    pub(super) fn logout(&mut self, id: u32, user: LoggedIn, ctx: &mut Context<Self>) {
        self.end_tails(ctx);
        self.login = None;
        self.log.set_user(None);
        log::info!(target: "auth", "{}: {} logged out", self.log, user.username);
        let auth = self.services.auth.clone();
        self.track(
            id,
            async move {
                ask(auth.send(Logout {
                    login_id: user.login_id,
                }))
                .await
                .map(|()| Empty {})
            },
            ctx,
        )
    }

    /// `login` and `resume`: on success the session is logged in as the
    /// grant says (replacing any login); on failure the current login stays.
    fn track_login<F>(&mut self, id: u32, attempt: F, ctx: &mut Context<Self>)
    where
        F: std::future::Future<Output = Result<LoginGrant, WireError>> + 'static,
    {
        self.outstanding.wait(id, Pending::Plain);
        ctx.spawn(attempt.into_actor(self).map(move |result, session, ctx| {
            if !session.outstanding.is_waiting(id) {
                return;
            }
            if result.is_ok() {
                // A new login ends the tails of the one it replaces.
                session.end_tails(ctx);
            }
            let answer = result.map(|grant| session.log_in(grant));
            session.answer(id, answer, &[], ctx);
        }));
    }

    /// Logs the session in as `grant` says; the answer of the login.
    fn log_in(&mut self, grant: LoginGrant) -> LoginResult {
        self.login = Some(LoggedIn {
            user_id: grant.user_id,
            username: grant.username.clone(),
            role: grant.role,
            login_id: grant.login_id,
        });
        self.log.set_user(Some(grant.username.clone()));
        self.ever_logged_in = true;
        self.permit.logged_in();
        self.services
            .counters
            .logins
            .fetch_add(1, Ordering::Relaxed);
        LoginResult {
            username: grant.username,
            role: grant.role,
            sounds: grant.sounds,
            resume_token: grant.token,
            resume_ttl_s: grant.token_ttl.as_secs(),
        }
    }
}
