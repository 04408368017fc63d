//! What every client command shares: the connection options (`--server`,
//! `--json`, `--yes`, `--accept-key`), the config directory, key pinning,
//! the saved login,
//! how errors are shown; and the account commands `signup`, `login`,
//! `logout` and `ping`.
//!
//! Errors: a protocol error shows the server's code and message; with
//! `--json` the one object on stdout is `{"error": {"code", "message"}}`
//! (`code` is null for errors that are not the server's). Either way the
//! command exits with status 1.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use serde_json::{json, Value};

use super::known_servers::KnownServers;
use super::session_file::{SavedLogin, SessionFile};
use crate::client::{Client, ClientError, ConnectOptions};
use crate::protocol::{ErrorCode, LoginResult};

/// The server used when neither `--server` nor `HARMONIC_SERVER` says otherwise.
pub const DEFAULT_SERVER: &str = "127.0.0.1:2525";

/// Options of every command that talks to a server: global options of
/// `harmonic`, accepted before or after the subcommand (as git, cargo and
/// ssh users expect), and handed to each command by [`super::run`].
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// The server, HOST:PORT.
    #[arg(long, env = "HARMONIC_SERVER", default_value = DEFAULT_SERVER, global = true)]
    pub server: String,
    /// Print exactly one JSON object on stdout and nothing else.
    #[arg(long, global = true)]
    pub json: bool,
    /// Trust a server seen for the first time without asking (scripts). A
    /// server whose key CHANGED is still refused: see --accept-key.
    #[arg(long, global = true)]
    pub yes: bool,
    /// Accept this key for the server even though another one is pinned
    /// (after the server's key was replaced on purpose): the new
    /// fingerprint, as shown by the refusal (hex, or `SHA256:hex`).
    #[arg(long, global = true, value_name = "FINGERPRINT")]
    pub accept_key: Option<String>,
}

impl Default for ConnectArgs {
    fn default() -> Self {
        ConnectArgs {
            server: DEFAULT_SERVER.to_owned(),
            json: false,
            yes: false,
            accept_key: None,
        }
    }
}

/// A failed client command: the server's code when it was a protocol error.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The protocol error code, if the server answered `error`.
    pub code: Option<String>,
    /// What went wrong, for people.
    pub message: String,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure {
            code: None,
            message,
        }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure::from(message.to_owned())
    }
}

impl From<ClientError> for Failure {
    fn from(err: ClientError) -> Self {
        Failure {
            code: err.code().map(|code| code.as_str().to_owned()),
            message: err.to_string(),
        }
    }
}

/// Ends a command: prints its output (`text`, or `json` with `--json`), or
/// its failure (also as JSON with `--json`) and returns the error line.
pub(crate) fn finish(
    json_mode: bool,
    outcome: Result<(String, Value), Failure>,
) -> Result<(), String> {
    match outcome {
        Ok((text, value)) => {
            if json_mode {
                super::print_stdout(&format!("{value}\n"))
            } else {
                super::print_stdout(&text)
            }
        }
        Err(failure) => {
            if json_mode {
                let object = json!({"error": {"code": failure.code, "message": failure.message}});
                super::print_stdout(&format!("{object}\n"))?;
            }
            Err(failure.message)
        }
    }
}

/// A single-threaded tokio runtime for one command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the async runtime: {err}"))
}

/// The config directory: `$HARMONIC_CONFIG_DIR`, else `<config dir>/harmonic`.
pub(crate) fn config_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("HARMONIC_CONFIG_DIR").filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::config_dir()
        .map(|dir| dir.join("harmonic"))
        .ok_or_else(|| "no config directory on this system: set HARMONIC_CONFIG_DIR".to_owned())
}

/// The saved logins.
pub(crate) fn session_file() -> Result<SessionFile, String> {
    SessionFile::load(&config_dir()?.join("session.json"))
}

/// Connects to `args.server` and checks its identity against the pinned
/// fingerprint; pins it on first use (asking on a terminal unless `--yes`
/// or `--accept-key` names it). A changed key is refused unless
/// `--accept-key` names the new one; the refusal comes right after the
/// handshake, before any request (so before any password or token) is sent.
pub(crate) async fn connect(args: &ConnectArgs) -> Result<Client, Failure> {
    let mut known = KnownServers::load(&config_dir()?.join("known_servers"))?;
    let pinned = known.fingerprint(&args.server).map(str::to_owned);
    let accepted = args.accept_key.as_deref().map(accepted_fingerprint);
    let options = ConnectOptions {
        // With --accept-key the handshake takes any key; it is compared
        // with the one named below, before the client is handed out.
        pinned_fingerprint: if accepted.is_some() {
            None
        } else {
            pinned.clone()
        },
        ..ConnectOptions::default()
    };
    let client = match Client::connect(args.server.as_str(), options).await {
        Ok(client) => client,
        Err(ClientError::IdentityChanged { pinned, presented }) => {
            return Err(identity_changed(&args.server, &pinned, &presented, known.path()).into())
        }
        Err(err) => return Err(format!("cannot connect to {}: {err}", args.server).into()),
    };
    let presented = client.server_fingerprint().to_owned();
    if let Some(accepted) = &accepted {
        if !accepted.eq_ignore_ascii_case(&presented) {
            client.close().await;
            return Err(format!(
                "{} presented the key {presented}, not the one --accept-key names ({accepted}); nothing was sent",
                args.server
            )
            .into());
        }
    }
    match pinned {
        Some(pinned) if pinned.eq_ignore_ascii_case(&presented) => {}
        Some(pinned) => {
            // Only with --accept-key naming the presented key (checked above).
            eprintln!(
                "warning: the key of {} changed (was {pinned}, now {presented}); accepted because --accept-key names it",
                args.server
            );
            known.pin(&args.server, &presented)?;
        }
        None => {
            if accepted.is_none() {
                trust_new_server(args, &presented)?;
            } else {
                eprintln!(
                    "pinned the key of {} (fingerprint {presented}, named by --accept-key)",
                    args.server
                );
            }
            known.pin(&args.server, &presented)?;
        }
    }
    Ok(client)
}

/// The fingerprint `--accept-key` names: hex, with or without ssh's
/// `SHA256:` prefix (any case), surrounding blanks ignored.
fn accepted_fingerprint(given: &str) -> String {
    let given = given.trim();
    let hex = match given.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("sha256:") => &given[7..],
        _ => given,
    };
    hex.to_ascii_lowercase()
}

/// The ssh-style refusal of a server whose key is not the pinned one.
fn identity_changed(server: &str, pinned: &str, presented: &str, file: &std::path::Path) -> String {
    format!(
        "the identity of {server} HAS CHANGED: someone may be impersonating it.\n\
         \x20 pinned fingerprint:    {pinned}\n\
         \x20 presented fingerprint: {presented}\n\
         If the server's key was replaced on purpose (check with its operator), pass \
         --accept-key {presented} (or remove the line for {server} from {}). \
         --yes does not accept a changed key. Nothing was sent to this server.",
        file.display()
    )
}

/// Decides whether to trust a server seen for the first time.
fn trust_new_server(args: &ConnectArgs, fingerprint: &str) -> Result<(), String> {
    if args.yes {
        eprintln!(
            "pinned the key of {} (fingerprint {fingerprint})",
            args.server
        );
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(format!(
            "{} is not a known server (key fingerprint {fingerprint}); \
             check the fingerprint with the server's operator and pass --yes to trust it",
            args.server
        ));
    }
    eprint!(
        "The server {} is not known.\nIts key fingerprint is {fingerprint}.\n\
         Trust it and remember it? [y/N] ",
        args.server
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|err| format!("cannot read the answer: {err}"))?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(format!("{} was not trusted", args.server))
    }
}

/// Reads a password: a prompt on a terminal, else one line of stdin.
pub(crate) fn read_password(prompt: &str) -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).map_err(|err| format!("cannot read the password: {err}"))
    } else {
        password_from_stdin()
    }
}

/// A password given on stdin by a script: its first line, without the
/// line ending.
pub(crate) fn password_from_stdin() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|err| format!("cannot read the password from stdin: {err}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Logs `client` in with the saved login: `resume` with the saved token
/// (saving the fresh one), else, when the token is spent or expired, the
/// password (asked for; `stdin_is_free` says whether it may be read from a
/// non-terminal stdin).
pub(crate) async fn log_in(
    client: &Client,
    args: &ConnectArgs,
    stdin_is_free: bool,
) -> Result<LoginResult, Failure> {
    let mut sessions = session_file()?;
    let Some(saved) = sessions.get(&args.server).cloned() else {
        return Err(format!(
            "not logged in to {}: run `harmonic login USERNAME` first",
            args.server
        )
        .into());
    };
    let result = match client.resume(&saved.resume_token).await {
        Ok(result) => result,
        Err(err) if err.is_code(ErrorCode::InvalidCredentials) => {
            if !stdin_is_free && !std::io::stdin().is_terminal() {
                return Err(format!(
                    "the saved login of {} on {} has expired and stdin is in use: run `harmonic login {}` first",
                    saved.username, args.server, saved.username
                )
                .into());
            }
            eprintln!("the saved login of {} has expired", saved.username);
            let password = read_password(&format!(
                "Password for {}@{}: ",
                saved.username, args.server
            ))?;
            client.login(&saved.username, &password).await?
        }
        Err(err) => return Err(err.into()),
    };
    sessions.set(
        &args.server,
        SavedLogin {
            username: result.username.clone(),
            resume_token: result.resume_token.clone(),
        },
    )?;
    Ok(result)
}

/// Arguments of `harmonic signup` and `harmonic login`.
#[derive(Debug, clap::Args)]
pub struct AccountArgs {
    /// The username (letters, digits, `_`, `.`, `-`; up to 32).
    username: String,
    /// Set from the global options (before or after the subcommand).
    #[arg(skip)]
    pub(crate) connect: ConnectArgs,
}

/// Arguments of the commands that need nothing but a server (`logout`, `ping`).
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Set from the global options (before or after the subcommand).
    #[arg(skip)]
    pub(crate) connect: ConnectArgs,
}

/// `harmonic signup USERNAME`: creates an account (password asked twice on a
/// terminal, else one line of stdin). It does not log in.
pub fn signup(args: AccountArgs) -> Result<(), String> {
    let outcome = runtime()?.block_on(async {
        let client = connect(&args.connect).await?;
        let password = if std::io::stdin().is_terminal() {
            let first = read_password(&format!("New password for {}: ", args.username))?;
            let again = read_password("Again: ")?;
            if first != again {
                return Err(Failure::from("the passwords differ"));
            }
            first
        } else {
            read_password("")?
        };
        client.signup(&args.username, &password).await?;
        Ok((
            format!(
                "signed up {} on {}; now `harmonic login {}`\n",
                args.username, args.connect.server, args.username
            ),
            json!({"username": args.username, "server": args.connect.server}),
        ))
    });
    finish(args.connect.json, outcome)
}

/// `harmonic login USERNAME`: logs in with the password and saves the
/// resume token for later commands.
pub fn login(args: AccountArgs) -> Result<(), String> {
    let outcome = runtime()?.block_on(async {
        let mut sessions = session_file()?;
        let client = connect(&args.connect).await?;
        let password = read_password(&format!(
            "Password for {}@{}: ",
            args.username, args.connect.server
        ))?;
        let result = client.login(&args.username, &password).await?;
        sessions.set(
            &args.connect.server,
            SavedLogin {
                username: result.username.clone(),
                resume_token: result.resume_token.clone(),
            },
        )?;
        client.close().await;
        Ok((
            format!(
                "logged in to {} as {} ({}); {} saved sound{}\n",
                args.connect.server,
                result.username,
                result.role,
                result.sounds.len(),
                if result.sounds.len() == 1 { "" } else { "s" }
            ),
            json!({
                "username": result.username,
                "role": result.role,
                "sounds": result.sounds,
                "resume_ttl_s": result.resume_ttl_s,
            }),
        ))
    });
    finish(args.connect.json, outcome)
}

/// `harmonic logout`: revokes the saved login on the server and forgets it.
pub fn logout(args: ServerArgs) -> Result<(), String> {
    let args = args.connect;
    let outcome = runtime()?.block_on(async {
        let mut sessions = session_file()?;
        let Some(saved) = sessions.get(&args.server).cloned() else {
            return Err(Failure::from(format!("not logged in to {}", args.server)));
        };
        let client = connect(&args).await?;
        match client.resume(&saved.resume_token).await {
            Ok(_) => client.logout().await?,
            // Already spent or expired: nothing left to revoke.
            Err(err) if err.is_code(ErrorCode::InvalidCredentials) => {}
            Err(err) => return Err(err.into()),
        }
        sessions.remove(&args.server)?;
        client.close().await;
        Ok((
            format!("logged out {} from {}\n", saved.username, args.server),
            json!({"username": saved.username, "server": args.server}),
        ))
    });
    finish(args.json, outcome)
}

/// `harmonic ping`: checks that the server answers, and how fast.
pub fn ping(args: ServerArgs) -> Result<(), String> {
    let args = args.connect;
    let outcome = runtime()?.block_on(async {
        let connecting = Instant::now();
        let client = connect(&args).await?;
        let connect_ms = connecting.elapsed().as_secs_f64() * 1000.0;
        let sent = Instant::now();
        let pong = client.ping().await?;
        let rtt_ms = sent.elapsed().as_secs_f64() * 1000.0;
        let fingerprint = client.server_fingerprint().to_owned();
        client.close().await;
        Ok((
            format!(
                "{} answered in {rtt_ms:.2} ms (connect and handshake {connect_ms:.1} ms); server time {}\nkey fingerprint {fingerprint}\n",
                args.server,
                crate::protocol::rfc3339_millis(
                    std::time::UNIX_EPOCH + std::time::Duration::from_millis(pong.server_time_ms)
                ),
            ),
            json!({
                "server": args.server,
                "rtt_ms": rtt_ms,
                "connect_ms": connect_ms,
                "server_time_ms": pong.server_time_ms,
                "fingerprint": fingerprint,
            }),
        ))
    });
    finish(args.json, outcome)
}
