//! The pushes: messages the server sends of its own accord (§5's `progress`
//! and `log`, which carry a request id, and §6's `notice`, `shutdown`, `bye`).

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::EventInfo;
use crate::protocol::codes::{ByeReason, LogLevel, Priority};
use crate::protocol::time::rfc3339_millis;

/// A message the server sends of its own accord (§5 pushes that carry a
/// request id, and the §6 pushes that carry none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Push {
    /// Progress of a running `count`.
    Progress {
        /// The `count` request's id.
        id: u32,
        /// Seconds of the recording analysed so far (never decreasing).
        done_s: f64,
        /// The recording's length in seconds.
        total_s: f64,
        /// The events found since the previous push, in time order (since
        /// 1.2; empty from a 1.1 server).
        #[serde(default)]
        new_events: Vec<EventInfo>,
    },
    /// A log record for a running `admin.tail`.
    Log {
        /// The `admin.tail` request's id.
        id: u32,
        /// When, RFC 3339 with milliseconds and `Z`.
        ts: String,
        /// The record's level.
        level: LogLevel,
        /// The record's target (connection, auth, library, analysis, admin...).
        target: String,
        /// The record's text.
        message: String,
    },
    /// An admin broadcast, to logged-in sessions only.
    Notice {
        /// The text.
        message: String,
        /// Its priority.
        priority: Priority,
        /// When it was sent, RFC 3339.
        ts: String,
    },
    /// The server is stopping.
    Shutdown {
        /// Why, for people.
        message: String,
        /// Seconds running requests have left.
        grace_s: f64,
    },
    /// The server closes the session right after this.
    Bye {
        /// Why.
        reason: ByeReason,
    },
}

impl Push {
    /// A `log` push for tail `id`, stamped with `time`.
    pub fn log(
        id: u32,
        time: SystemTime,
        level: LogLevel,
        target: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Push::Log {
            id,
            ts: rfc3339_millis(time),
            level,
            target: target.into(),
            message: message.into(),
        }
    }

    /// A `notice` push, stamped with `time`.
    pub fn notice(message: impl Into<String>, priority: Priority, time: SystemTime) -> Self {
        Push::Notice {
            message: message.into(),
            priority,
            ts: rfc3339_millis(time),
        }
    }

    /// The request a push belongs to (`progress`, `log`), if any.
    pub fn request_id(&self) -> Option<u32> {
        match self {
            Push::Progress { id, .. } | Push::Log { id, .. } => Some(*id),
            Push::Notice { .. } | Push::Shutdown { .. } | Push::Bye { .. } => None,
        }
    }
}
