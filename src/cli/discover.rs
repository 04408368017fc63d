//! `harmonic discover`: finds Harmonic servers on the LAN (docs/DISCOVERY.md).
//!
//! It sends one probe to the broadcast address 255.255.255.255:2525, one to
//! 127.0.0.1:2525 (a server on this machine), and one to each `--probe`
//! address, then lists the servers that answered within `--timeout`.
//!
//! A server's name comes from anyone on the LAN: in the table, control
//! characters and the invisible ones that reorder text (bidirectional
//! overrides) are shown escaped (`\u{1b}`), so a name can neither drive the
//! terminal nor disguise itself. `--json` gives the name as sent (JSON
//! escapes control characters itself).

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

/// `text` with every character a terminal would act on rather than show
/// (category Cc: C0, DEL, C1) and every bidirectional control (which can
/// make text read in another order) written as a `\u{..}` escape; a
/// backslash is doubled, so an escape in the output is always one of ours.
pub(crate) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c == '\\' {
            out.push_str("\\\\");
        } else if c.is_control() || bidi {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
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
                    printable(&s.announcement.name),
                ]
            })
            .collect();
        table(&["ADDRESS", "FINGERPRINT", "NAME"], &rows)
    };
    super::print_stdout(&text)
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn names_from_the_lan_cannot_drive_the_terminal() {
        assert_eq!(printable("Studio PC"), "Studio PC");
        assert_eq!(
            printable("Café 音"),
            "Café 音",
            "letters of any script stay"
        );
        assert_eq!(printable("evil\u{1b}[2J\u{7}"), "evil\\u{1b}[2J\\u{7}");
        assert_eq!(printable("a\rb\nc"), "a\\u{d}b\\u{a}c");
        assert_eq!(printable("x\u{9b}31m"), "x\\u{9b}31m", "C1 CSI");
        assert_eq!(printable("abc\u{202e}gpj"), "abc\\u{202e}gpj");
        assert_eq!(
            printable("a\\u{1b}"),
            "a\\\\u{1b}",
            "a literal escape stays visible as such"
        );
    }
}
