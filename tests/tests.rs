//! The integration tests, in one binary (as ripgrep does): shared helpers
//! compile once, and every helper is used somewhere. Tests that need a
//! process to themselves run there through
//! [`server_support::in_own_process`].

mod server_support;

mod cli_analyze;
mod cli_client;
mod engine;
mod formats;
mod interop;
mod real_sounds;
mod server_admin;
mod server_auth;
mod server_crash;
mod server_e2e;
mod server_edges;
mod server_lifecycle;
mod server_output;
mod server_quotas;
mod server_tail_slow;
mod server_threads;
