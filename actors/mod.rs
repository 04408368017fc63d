//! The actix layer of the server: one file per actor, each with the messages
//! it handles.
//!
//! - [`listener`]: accepts connections, limits them, hands each to one of
//!   the session threads (where its handshake runs and its session starts),
//!   and leads the shutdown.
//! - [`session`]: one per connection, on one of the session threads
//!   ([`listener::SessionThreads`], one actix arbiter per CPU by default);
//!   the checks of §4 and every request.
//! - [`auth`]: signup, login, resume, logout and the failed-login throttle.
//! - [`hashing`]: the password workers (fixed argon2 memory, logins first).
//! - [`library`]: the only owner of the store and the upload spool (one thread).
//! - [`analysis`]: the pool of worker threads that count.
//! - [`audio_jobs`]: requests that bring audio, decoded on blocking
//!   threads between a library step that locates it and one that stores or
//!   consumes it.
//! - [`panic_guard`]: a panic on an actor thread becomes an `internal` answer.
//! - [`timing`]: where a job's time goes (waiting, running, CPU), for `debug` lines.
//! - [`metrics`]: the statistics of `admin.stats`, also as a Prometheus page.
//! - [`services`]: the settings, addresses and counters every session gets.
//! - [`hub`]: the messages between the listener and the sessions, which
//!   reach each other through `Recipient`s (imports among actor files run
//!   one way: `listener` → `session` → `metrics` → `hub`).
//!
//! Beside the actors, two plain tokio tasks: LAN discovery
//! ([`crate::discovery::serve`]) and the optional metrics page.
//!
//! [`Server`] starts them all inside a running actix `System`;
//! [`ServerThread`] runs one on a thread of its own (tests, tools).

pub mod analysis;
pub mod audio_jobs;
pub mod auth;
pub mod hashing;
pub mod hub;
pub mod library;
pub mod listener;
pub mod metrics;
pub mod panic_guard;
pub mod services;
pub mod session;
pub mod timing;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::config::Settings;
use crate::crypto::{CryptoError, ServerIdentity};
use crate::discovery::ServerAnnouncement;
use crate::logging::TailHub;
use crate::store::StoreError;
use analysis::AnalysisPool;
use auth::Auth;
use hub::Shutdown;
pub use hub::{ADMIN_SHUTDOWN_MESSAGE, MAX_SHUTDOWN_GRACE, SHUTDOWN_MESSAGE};
use library::{Housekeeping, Library, LibraryClosed};
use listener::{Listener, SessionThreads};
pub use services::{ServerCounters, Services};

/// How long a stopping server waits for the database to close.
pub const LIBRARY_CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listening address is taken (another server, or another program).
    #[error("port {port} is already in use on {addr}; choose another address with --listen or HARMONIC_LISTEN")]
    AddressInUse {
        /// The address asked for.
        addr: SocketAddr,
        /// Its port.
        port: u16,
    },
    /// Binding failed for another reason (permissions, unknown address).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The data directory could not be opened.
    #[error("cannot open the data directory: {0}")]
    Store(#[from] StoreError),
    /// The identity key could not be loaded or created.
    #[error("{0}")]
    Identity(#[from] CryptoError),
    /// The server thread could not be started or ended badly.
    #[error("server thread: {0}")]
    Thread(String),
}

/// A running server (inside an actix `System`).
pub struct Server {
    local_addr: SocketAddr,
    fingerprint: String,
    listener: Addr<Listener>,
    stopped: oneshot::Receiver<()>,
    library_closed: LibraryClosed,
    discovery_addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    session_threads: SessionThreads,
}

/// Binds a TCP socket, with the errors of [`ServerError`].
async fn bind_tcp(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServerError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => ServerError::AddressInUse {
                addr,
                port: addr.port(),
            },
            _ => ServerError::Bind { addr, source },
        })
}

impl Server {
    /// Opens the data directory, binds the listening socket and starts every
    /// actor. Must run inside an actix `System`.
    pub async fn start(settings: Settings) -> Result<Server, ServerError> {
        // The library first: it locks the data directory (another server
        // or an offline command on it is refused before anything is
        // touched) and creates it owner-only.
        let library = Library::open(&settings)?;
        let identity = Arc::new(ServerIdentity::load_or_create(&settings.data_dir)?);
        let socket = bind_tcp(settings.listen).await?;
        let local_addr = socket.local_addr().map_err(|source| ServerError::Bind {
            addr: settings.listen,
            source,
        })?;
        let metrics_socket = match settings.metrics_listen {
            Some(addr) => Some(bind_tcp(addr).await?),
            None => None,
        };
        // Discovery is a convenience: a taken UDP port is a warning, not a failure.
        let discovery_socket = match settings.discovery_listen {
            Some(addr) => match tokio::net::UdpSocket::bind(addr).await {
                Ok(socket) => Some(socket),
                Err(err) => {
                    log::warn!(target: "connection", "discovery: cannot listen on UDP {addr}: {err}; clients must be given the address");
                    None
                }
            },
            None => None,
        };
        let (library, library_closed) = library.start_opened(&settings);
        let passwords = hashing::PasswordWorkers::start(settings.password_workers)
            .map_err(|err| ServerError::Thread(format!("cannot start a password worker: {err}")))?;
        let auth = Auth::new(&settings, library.clone(), passwords).start();
        // The listener's and the auth actor's thread.
        actix_rt::spawn(timing::watch_event_loop("main".into()));
        let pool = AnalysisPool::start(settings.analysis_workers, settings.analysis_queue);
        let housekeeping = library.clone();
        let period = settings
            .housekeeping_interval
            .max(Duration::from_millis(10));
        actix_rt::spawn(async move {
            let mut tick = actix_rt::time::interval(period);
            loop {
                tick.tick().await;
                if housekeeping.send(Housekeeping {}).await.is_err() {
                    break;
                }
            }
        });
        let services = Services {
            settings: Arc::new(settings),
            auth,
            library,
            pool,
            counters: Arc::default(),
            hub: Arc::clone(TailHub::global()),
        };
        let fingerprint = identity.fingerprint();
        let server_name = services
            .settings
            .server_name
            .clone()
            .unwrap_or_else(crate::discovery::host_name);
        let stats = (Arc::clone(&services.counters), services.pool.clone());
        let (stopped_tx, stopped) = oneshot::channel();
        let raw_fingerprint: [u8; 32] =
            <sha2::Sha256 as sha2::Digest>::digest(identity.public_key_bytes()).into();
        let session_threads = SessionThreads::start(services.settings.session_threads)
            .map_err(|err| ServerError::Thread(format!("cannot start a session thread: {err}")))?;
        let listener = Listener::new(
            services,
            identity,
            socket,
            session_threads.handles(),
            stopped_tx,
        )
        .start();
        log::info!(target: "connection", "listening on {local_addr}; identity fingerprint {fingerprint}");
        let mut metrics_addr = None;
        if let Some(socket) = metrics_socket {
            metrics_addr = socket.local_addr().ok();
            let source = metrics::StatsSource {
                listener: listener.clone().recipient(),
                counters: stats.0,
                pool: stats.1,
            };
            log::info!(target: "admin", "metrics: http://{}/metrics", socket.local_addr().map(|a| a.to_string()).unwrap_or_default());
            actix_rt::spawn(metrics::serve(socket, source));
        }
        let mut discovery_addr = None;
        if let Some(socket) = discovery_socket {
            discovery_addr = socket.local_addr().ok();
            log::info!(target: "connection", "discovery: answering probes on UDP {} as {server_name:?}",
                socket.local_addr().map(|a| a.to_string()).unwrap_or_default());
            let announcement = ServerAnnouncement {
                tcp_port: local_addr.port(),
                fingerprint: raw_fingerprint,
                name: server_name,
            };
            actix_rt::spawn(crate::discovery::serve(socket, announcement));
        }
        Ok(Server {
            local_addr,
            fingerprint,
            listener,
            stopped,
            library_closed,
            discovery_addr,
            metrics_addr,
            session_threads,
        })
    }

    /// The UDP address that answers discovery probes, if discovery is on.
    pub fn discovery_addr(&self) -> Option<SocketAddr> {
        self.discovery_addr
    }

    /// The address of the metrics page, if there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The address the server listens on (the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `hex(SHA-256(identity key))`, which clients pin.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A handle that starts the graceful shutdown (for signal handlers).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.listener.clone())
    }

    /// Waits until a shutdown has ended every session, then stops and joins
    /// the session threads. What is left to wait for once the `System` is
    /// gone is returned.
    pub async fn stopped(self) -> LibraryClosed {
        let _ = self.stopped.await;
        let threads = self.session_threads;
        // Joining blocks; the event loop stays free meanwhile.
        if actix_rt::task::spawn_blocking(move || threads.stop_and_join())
            .await
            .is_err()
        {
            log::error!(target: "connection", "stopping the session threads failed");
        }
        self.library_closed
    }
}

/// Starts the graceful shutdown of a [`Server`].
#[derive(Clone)]
pub struct ShutdownHandle(Addr<Listener>);

impl ShutdownHandle {
    /// Stop accepting, push `shutdown` with `grace` to every session, and
    /// end once nothing runs (or the grace is over).
    pub fn shutdown(&self, message: &str, grace: Duration) {
        self.0.do_send(Shutdown {
            message: message.to_owned(),
            grace,
        });
    }
}

/// A server running in an actix `System` on a thread of its own.
pub struct ServerThread {
    local_addr: SocketAddr,
    fingerprint: String,
    discovery_addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    handle: ShutdownHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// Starts a server on a new thread; returns once it listens.
    pub fn spawn(settings: Settings) -> Result<ServerThread, ServerError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("harmonic-server".into())
            .spawn(move || {
                let system = actix::System::new();
                let closed = system.block_on(async move {
                    match Server::start(settings).await {
                        Ok(server) => {
                            let started = (
                                server.local_addr(),
                                server.fingerprint().to_owned(),
                                server.shutdown_handle(),
                                (server.discovery_addr(), server.metrics_addr()),
                            );
                            let _ = ready_tx.send(Ok(started));
                            Some(server.stopped().await)
                        }
                        Err(err) => {
                            let _ = ready_tx.send(Err(err));
                            None
                        }
                    }
                });
                // Dropping the System drops every actor, and with them the
                // last addresses of the library, whose thread then closes
                // the database.
                drop(system);
                if let Some(closed) = closed {
                    if !closed.wait(LIBRARY_CLOSE_LIMIT) {
                        log::warn!(target: "library", "the library did not close within {LIBRARY_CLOSE_LIMIT:?}");
                    }
                }
            })
            .map_err(|err| ServerError::Thread(err.to_string()))?;
        let (local_addr, fingerprint, handle, (discovery_addr, metrics_addr)) =
            ready_rx.recv().map_err(|_| {
                ServerError::Thread("the server thread ended before starting".into())
            })??;
        Ok(ServerThread {
            local_addr,
            fingerprint,
            discovery_addr,
            metrics_addr,
            handle,
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The identity fingerprint.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The UDP address that answers discovery probes, if discovery is on.
    pub fn discovery_addr(&self) -> Option<SocketAddr> {
        self.discovery_addr
    }

    /// The address of the metrics page, if there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Starts the graceful shutdown (see [`ShutdownHandle::shutdown`]).
    pub fn shutdown(&self, grace: Duration) {
        self.handle.shutdown(SHUTDOWN_MESSAGE, grace);
    }

    /// Shuts down with `grace` and waits for the thread to end.
    pub fn stop(mut self, grace: Duration) -> Result<(), ServerError> {
        self.shutdown(grace);
        self.join()
    }

    /// Waits for the thread to end (after a shutdown).
    pub fn join(&mut self) -> Result<(), ServerError> {
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| ServerError::Thread("the server thread panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.shutdown(Duration::ZERO);
            let _ = self.join();
        }
    }
}
