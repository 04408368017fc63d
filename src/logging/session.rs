//! The context of every log line about one session: the prefix admins grep
//! (`session=… peer=… user=…`). The session keeps it, and hands a copy to
//! the actors that log on its behalf (auth, analysis), so every line about
//! one session starts the same way.

use std::fmt;
use std::net::SocketAddr;

/// The context of every log line about one session, written as
/// `session=<id> peer=<ip:port>` and ` user=<name>` once logged in. One
/// value per session, kept up to date at login and logout, and formatted
/// straight into each line.
#[derive(Debug, Clone)]
pub struct SessionLog {
    id: u64,
    peer: SocketAddr,
    user: Option<String>,
}

impl SessionLog {
    /// The context of session `id` with `peer`, not logged in.
    pub fn new(id: u64, peer: SocketAddr) -> Self {
        SessionLog {
            id,
            peer,
            user: None,
        }
    }

    /// The session is logged in as `username` (or no longer logged in).
    pub fn set_user(&mut self, username: Option<String>) {
        self.user = username;
    }
}

impl fmt::Display for SessionLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session={} peer={}", self.id, self.peer)?;
        if let Some(user) = &self.user {
            write!(f, " user={user}")?;
        }
        Ok(())
    }
}
