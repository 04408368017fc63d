//! What the root of the server hands every listener and session: the
//! settings, the shared actors' addresses and the server-wide counters.
//! Kept apart from `actors/mod.rs`, which starts the actors, so that the
//! actor files import it without importing the module that imports them.

use std::sync::Arc;

use actix::prelude::*;

use super::analysis::AnalysisPool;
use super::auth::Auth;
use super::library::Library;
use crate::config::Settings;
use crate::logging::TailHub;

/// What every session needs: the settings and the addresses of the shared actors.
#[derive(Clone)]
pub struct Services {
    /// The settings.
    pub settings: Arc<Settings>,
    /// The auth actor.
    pub auth: Addr<Auth>,
    /// The sound-library actor.
    pub library: Addr<Library>,
    /// The analysis pool.
    pub pool: AnalysisPool,
    /// Counters for `admin.stats`.
    pub counters: Arc<ServerCounters>,
    /// Where `admin.tail` subscribes to the log.
    pub hub: Arc<TailHub>,
}

/// Server-wide counters for `admin.stats`.
#[derive(Debug)]
pub struct ServerCounters {
    /// When the server started.
    pub started: std::time::Instant,
    /// Successful logins and resumes.
    pub logins: std::sync::atomic::AtomicU64,
    /// Bytes read from clients (after the handshake, frames included).
    pub bytes_in: Arc<std::sync::atomic::AtomicU64>,
    /// Bytes sent to clients (after the handshake, frames included).
    pub bytes_out: Arc<std::sync::atomic::AtomicU64>,
}

impl Default for ServerCounters {
    fn default() -> Self {
        ServerCounters {
            started: std::time::Instant::now(),
            logins: Default::default(),
            bytes_in: Default::default(),
            bytes_out: Default::default(),
        }
    }
}
