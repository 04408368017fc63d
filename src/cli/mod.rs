//! The `harmonic` command line: one binary for the server, the client
//! commands and the tools. `src/main.rs` only calls [`run`].

mod admin;
mod analyze;
mod client;
mod count;
mod discover;
mod known_servers;
mod live;
mod load;
mod serve;
mod session_file;
mod sounds;
mod tail;
mod user;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// What `--help` says about exit statuses (also in README).
const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success
  1  the command failed: one `error: ...` line on stderr (with --json, the
     one object on stdout is {\"error\": {\"code\", \"message\"}})
  2  bad usage: an unknown option, a missing or malformed argument

Options shared by the client commands (--server, --json, --yes, --user)
may come before or after the subcommand. NO_COLOR turns colours off.";

/// Counts how many times a short sound occurs in a longer recording.
#[derive(Debug, Parser)]
#[command(
    name = "harmonic",
    version,
    about,
    propagate_version = true,
    after_help = EXIT_STATUS_HELP
)]
pub struct Cli {
    /// Options of every client command, before or after the subcommand.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The options every client command shares. They are clap global options,
/// defined once here: `harmonic --server H:P --yes signup alice` and
/// `harmonic signup alice --server H:P --yes` are the same command.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Server, `--json`, `--yes`.
    #[command(flatten)]
    pub connect: client::ConnectArgs,
    /// The admin account `admin` and `tail` log in as with its password
    /// (asked for, or the first line of stdin); without it, the login kept
    /// by `harmonic login`.
    #[arg(long, short = 'u', env = "HARMONIC_USER", global = true)]
    pub user: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Count a template sound in a recording, locally (no server needed).
    Analyze(analyze::AnalyzeArgs),
    /// Run the server (until SIGINT or SIGTERM, then a graceful stop).
    Serve(Box<serve::ServeArgs>),
    /// Manage accounts offline (e.g. create the first admin).
    User(user::UserArgs),
    /// Create an account on a server (it does not log in).
    Signup(client::AccountArgs),
    /// Log in to a server and keep the login for the next commands.
    Login(client::AccountArgs),
    /// Log out: revoke the kept login.
    Logout(client::ServerArgs),
    /// Check that a server answers, and how fast.
    Ping(client::ServerArgs),
    /// Your saved sounds on the server: list, save, get, rename, delete.
    Sounds(sounds::SoundsArgs),
    /// Count a sound in a recording, on the server.
    Count(count::CountArgs),
    /// Count a sound live in an audio file or raw PCM stream (a file or stdin).
    Live(live::LiveArgs),
    /// Load a server with N concurrent sessions and report throughput and latency.
    Load(Box<load::LoadArgs>),
    /// Administer a running server (sessions, accounts, notices, log, shutdown).
    Admin(admin::AdminArgs),
    /// Follow a running server's log live, coloured by level (admin account).
    Tail(tail::TailArgs),
    /// Find Harmonic servers on the local network.
    Discover(discover::DiscoverArgs),
    /// Print a shell completion script: `harmonic completions bash > ...`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Parses the command line, runs the command, and turns an error into one
/// line on stderr and a non-zero exit status.
pub fn run() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let server_given =
        matches.value_source("server") != Some(clap::parser::ValueSource::DefaultValue);
    let connect = cli.global.connect;
    let admin = admin::AdminConnectArgs {
        server: connect.clone(),
        user: cli.global.user,
    };
    let result = match cli.command {
        Command::Analyze(mut args) => {
            args.json = connect.json;
            analyze::run(args)
        }
        Command::Serve(args) => serve::run(*args),
        Command::User(args) => user::run(args),
        Command::Signup(mut args) => {
            args.connect = connect;
            client::signup(args)
        }
        Command::Login(mut args) => {
            args.connect = connect;
            client::login(args)
        }
        Command::Logout(mut args) => {
            args.connect = connect;
            client::logout(args)
        }
        Command::Ping(mut args) => {
            args.connect = connect;
            client::ping(args)
        }
        Command::Sounds(mut args) => {
            args.connect = connect;
            sounds::run(args)
        }
        Command::Count(mut args) => {
            args.connect = connect;
            count::run(args)
        }
        Command::Live(mut args) => {
            args.connect = connect;
            live::run(args)
        }
        Command::Load(mut args) if server_given => {
            args.connect = connect;
            load::run(*args)
        }
        Command::Load(_) => Err("load needs --server HOST:PORT (or HARMONIC_SERVER): it connects only to the server it is given".into()),
        Command::Admin(mut args) => {
            args.connect = admin;
            admin::run(args)
        }
        Command::Tail(mut args) => {
            args.connect = admin;
            tail::run(args)
        }
        Command::Discover(mut args) => {
            args.json = connect.json;
            discover::run(args)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "harmonic", &mut std::io::stdout());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Writes a command's output to stdout. A closed pipe (`| head`) is not an
/// error: the reader has what it wanted.
pub(crate) fn print_stdout(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write the output: {e}"))
        }
        _ => Ok(()),
    }
}

/// The human-readable report of a count: a summary line (`how` says where
/// and how long it was counted), then one line per event, then where the
/// plot went.
pub(crate) fn count_report(
    count: usize,
    recording: &std::path::Path,
    duration_s: f64,
    how: &str,
    events: impl IntoIterator<Item = (f64, f64)>,
    plot: Option<&std::path::Path>,
) -> String {
    let mut out = format!(
        "{count} occurrence{} in {} ({duration_s:.2} s of audio, {how})\n",
        if count == 1 { "" } else { "s" },
        recording.display(),
    );
    for (i, (start_s, score)) in events.into_iter().enumerate() {
        out.push_str(&format!(
            "{:>5}  {start_s:>10.3} s  score {score:.2}\n",
            i + 1
        ));
    }
    if let Some(path) = plot {
        out.push_str(&format!("plot written to {}\n", path.display()));
    }
    out
}

/// The engine's two settings, as options of every command that counts
/// (`analyze`, `count`, `live`).
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct EngineArgs {
    /// Score an occurrence must reach, 0..1 [default: adapts to the
    /// recording's background between 0.2 and 0.4].
    #[arg(long, value_parser = unit_interval)]
    pub threshold: Option<f32>,
    /// Seconds that must separate two occurrences [default: a quarter of the template].
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub min_gap: Option<f64>,
}

impl EngineArgs {
    /// The options for the local engine.
    pub fn local(&self) -> crate::dsp::Options {
        crate::dsp::Options {
            threshold: self.threshold,
            min_gap_s: self.min_gap,
        }
    }

    /// The options of a `count` or `stream.open` request.
    pub fn request(&self) -> crate::protocol::CountOptions {
        crate::protocol::CountOptions {
            threshold: self.threshold.map(f64::from),
            min_gap_s: self.min_gap,
        }
    }
}

/// Draws the `--plot` of a count: "TEMPLATE in RECORDING", the trace, the
/// events and the threshold in force.
pub(crate) fn draw_count_plot(
    path: &std::path::Path,
    template_name: &str,
    recording: &std::path::Path,
    trace: &crate::dsp::Trace,
    events: &[crate::dsp::Event],
) -> Result<(), String> {
    let title = format!(
        "{template_name} in {}",
        recording.file_name().unwrap_or_default().to_string_lossy()
    );
    crate::plot::draw(
        path,
        &crate::plot::PlotInput {
            trace,
            events,
            title: &title,
        },
    )
    .map_err(|err| err.to_string())
}

/// Parses a number in 0..=1 (thresholds).
pub(crate) fn unit_interval(text: &str) -> Result<f32, String> {
    let value: f32 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is outside 0..1"))
    }
}

/// Parses a finite, non-negative number of seconds.
pub(crate) fn seconds(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(format!("{value} is not a finite number of seconds >= 0"))
    }
}

#[cfg(test)]
mod command_line_tests {
    use clap::{CommandFactory, Parser};

    /// clap checks a command tree (unique names, groups, flags) only when a
    /// command is run: check every subcommand at once.
    #[test]
    fn every_subcommand_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    fn globals(args: &[&str]) -> (String, bool, bool, Option<String>) {
        let cli = super::Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let g = cli.global;
        (g.connect.server, g.connect.json, g.connect.yes, g.user)
    }

    /// Shared options mean the same before the subcommand, after it, or
    /// after a nested one, for every client command (`load` included).
    #[test]
    fn shared_options_work_before_or_after_the_subcommand() {
        let expected = ("h:1".to_owned(), true, true, None);
        for command in [
            &["signup", "alice"][..],
            &["login", "alice"],
            &["ping"],
            &["logout"],
            &["sounds", "list"],
            &["count", "--sound", "s", "r.wav"],
            &["live", "--sound", "s", "-"],
            &["load", "--sessions", "2"],
            &["discover"],
            &["analyze", "t.wav", "r.wav"],
        ] {
            let opts = ["--server", "h:1", "--json", "--yes"];
            let before: Vec<&str> = ["harmonic"]
                .iter()
                .chain(&opts)
                .chain(command)
                .copied()
                .collect();
            let after: Vec<&str> = ["harmonic"]
                .iter()
                .chain(command)
                .chain(&opts)
                .copied()
                .collect();
            let mixed: Vec<&str> = ["harmonic", "--yes"]
                .iter()
                .chain(command)
                .chain(&["--json", "--server", "h:1"])
                .copied()
                .collect();
            for args in [before, after, mixed] {
                assert_eq!(globals(&args), expected, "{args:?}");
            }
        }
        let admin = (
            "127.0.0.1:2525".to_owned(),
            false,
            false,
            Some("root".to_owned()),
        );
        assert_eq!(
            globals(&["harmonic", "--user", "root", "admin", "stats"]),
            admin
        );
        assert_eq!(
            globals(&["harmonic", "admin", "-u", "root", "stats"]),
            admin
        );
        assert_eq!(
            globals(&["harmonic", "admin", "stats", "--user", "root"]),
            admin
        );
        assert_eq!(globals(&["harmonic", "tail", "--user", "root"]), admin);
        super::Cli::try_parse_from(["harmonic", "completions", "fish"]).unwrap();
    }

    /// `--help` documents the exit statuses.
    #[test]
    fn help_documents_exit_statuses() {
        let help = super::Cli::command().render_long_help().to_string();
        assert!(
            help.contains("Exit status:") && help.contains("2  bad usage"),
            "{help}"
        );
    }
}
