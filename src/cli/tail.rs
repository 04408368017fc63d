//! `harmonic tail`: follows the server's log live, like `tail -f`, coloured
//! by level on a terminal. It is `harmonic admin tail` with a pretty printer
//! (an admin account is needed); Ctrl-C cancels the tail.

use std::io::IsTerminal;

use super::admin::{connect_and_login, parse_level, tail, AdminConnectArgs, LogPrinter};
use super::client::runtime;
use crate::protocol::LogLevel;

/// Arguments of `harmonic tail`.
#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// Connection and account, from the global options.
    #[arg(skip)]
    pub connect: AdminConnectArgs,
    /// Least severe level shown: error, warn, info, debug, trace.
    #[arg(long, default_value = "info", value_parser = parse_level)]
    pub level: LogLevel,
}

/// Runs `harmonic tail`.
pub fn run(args: TailArgs) -> Result<(), String> {
    let printer = if args.connect.server.json {
        LogPrinter::Json
    } else if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        LogPrinter::Colour
    } else {
        LogPrinter::Plain
    };
    runtime()?.block_on(async move {
        let client = connect_and_login(&args.connect).await?;
        tail(&client, args.level, printer).await
    })
}
