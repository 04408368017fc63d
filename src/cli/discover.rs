//! `harmonic discover`: finds Harmonic servers on the LAN (docs/DISCOVERY.md).
//!
//! It sends one probe to the broadcast address 255.255.255.255:2525, one to
//! 127.0.0.1:2525 (a server on this machine), and one to each `--probe`
//! address, then lists the servers that answered within `--timeout`.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;

use super::admin::table;
use super::client::runtime;
use crate::discovery::{discover, DISCOVERY_PORT};

/// Arguments of `harmonic discover`.
#[derive(Debug, clap::Args)]
pub struct DiscoverArgs {
    /// Seconds to wait for answers.
    #[arg(long, default_value = "1", value_parser = super::seconds)]
    pub timeout: f64,
    /// Print the servers as JSON (the global `--json`).
    #[arg(skip)]
    pub json: bool,
    /// Also probe this UDP address (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub probe: Vec<SocketAddr>,
    /// Do not broadcast: probe 127.0.0.1:2525 and the --probe addresses only.
    #[arg(long)]
    pub no_broadcast: bool,
}

/// The addresses probed.
fn targets(args: &DiscoverArgs) -> Vec<SocketAddr> {
    let mut targets = Vec::new();
    if !args.no_broadcast {
        targets.push(SocketAddr::from(([255, 255, 255, 255], DISCOVERY_PORT)));
    }
    targets.push(SocketAddr::from(([127, 0, 0, 1], DISCOVERY_PORT)));
    targets.extend(&args.probe);
    targets.dedup();
    targets
}

/// Runs `harmonic discover`.
pub fn run(args: DiscoverArgs) -> Result<(), String> {
    let timeout = Duration::try_from_secs_f64(args.timeout).unwrap_or(Duration::from_secs(1));
    let targets = targets(&args);
    let servers = runtime()?
        .block_on(discover(&targets, timeout))
        .map_err(|err| err.to_string())?;
    let text = if args.json {
        let list: Vec<_> = servers
            .iter()
            .map(|s| {
                json!({
                    "address": s.address.to_string(),
                    "host": s.address.ip().to_string(),
                    "port": s.address.port(),
                    "fingerprint": s.fingerprint_hex(),
                    "name": s.announcement.name,
                })
            })
            .collect();
        format!("{}\n", serde_json::Value::from(list))
    } else if servers.is_empty() {
        eprintln!("no server answered within {timeout:?}");
        String::new()
    } else {
        let rows: Vec<Vec<String>> = servers
            .iter()
            .map(|s| {
                vec![
                    s.address.to_string(),
                    s.fingerprint_hex(),
                    s.announcement.name.clone(),
                ]
            })
            .collect();
        table(&["ADDRESS", "FINGERPRINT", "NAME"], &rows)
    };
    super::print_stdout(&text)
}
