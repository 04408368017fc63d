//! `harmonic admin ...`: the administration requests of PROTOCOL.md §5 from
//! the command line, as an account with the `admin` role.
//!
//! It connects like every client command (`--server`, `--yes`, the server's
//! key pinned in `known_servers`), logs in as `--user` with the password
//! from a prompt on a terminal or the first line of stdin, or else with the
//! login kept by `harmonic login`, sends one request and prints its answer:
//! a table, or with `--json` the answer's fields as one JSON object (log
//! records as one JSON object per line).

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::client::{connect, log_in, read_password, runtime};
use crate::client::{Client, ClientError};
use crate::protocol::request::{
    AdminBroadcast, AdminKick, AdminShutdown, AdminTail, AdminUserDelete, AdminUserRole, Cancel,
    Page, MAX_PAGE_LIMIT,
};
use crate::protocol::response::{SessionList, StatsResult, UserList};
use crate::protocol::{AdminRequest, LogLevel, Priority, Push, Request, Role, UserRequest};

/// Where to connect and as whom (shared by `admin` and `tail`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AdminConnectArgs {
    /// The server, key pinning and `--json`, as for every client command.
    #[arg(skip)]
    pub server: super::client::ConnectArgs,
    /// The admin account to log in as (`--user`, a global option).
    #[arg(skip)]
    pub user: Option<String>,
}

/// Arguments of `harmonic admin`.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// Connection and account, from the global options.
    #[arg(skip)]
    pub connect: AdminConnectArgs,
    /// The request.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The `admin` subcommands, one per request.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// List the open sessions (every page of them).
    Sessions,
    /// Close a session (it gets `bye kicked`).
    Kick {
        /// A session id from `harmonic admin sessions`.
        id: u64,
    },
    /// List the accounts (every page of them).
    Users,
    /// Delete an account with its sounds and files, and end its sessions.
    UserDelete {
        /// The username (any case).
        name: String,
    },
    /// Change an account's role.
    UserRole {
        /// The username (any case).
        name: String,
        /// `user` or `admin`.
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Send a notice to every logged-in session.
    Broadcast {
        /// The text.
        message: String,
        /// `low`, `medium` or `high`.
        #[arg(long, default_value = "medium", value_parser = parse_priority)]
        priority: Priority,
    },
    /// Server statistics.
    Stats,
    /// Follow the server's log (Ctrl-C ends it).
    Tail {
        /// Least severe level shown: error, warn, info, debug, trace.
        #[arg(long, default_value = "info", value_parser = parse_level)]
        level: LogLevel,
    },
    /// Stop the server gracefully.
    Shutdown {
        /// Seconds running requests get to finish.
        #[arg(long, default_value = "10", value_parser = super::seconds)]
        grace: f64,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::from_wire(text).ok_or_else(|| format!("'{text}' is not a role (user, admin)"))
}

fn parse_priority(text: &str) -> Result<Priority, String> {
    Priority::from_wire(text)
        .ok_or_else(|| format!("'{text}' is not a priority (low, medium, high)"))
}

/// Parses a log level (`error`, `warn`, `info`, `debug`, `trace`).
pub(crate) fn parse_level(text: &str) -> Result<LogLevel, String> {
    LogLevel::from_wire(text)
        .ok_or_else(|| format!("'{text}' is not a level (error, warn, info, debug, trace)"))
}

/// Runs `harmonic admin ...`.
pub fn run(args: AdminArgs) -> Result<(), String> {
    let runtime = runtime()?;
    runtime.block_on(async move {
        let client = connect_and_login(&args.connect).await?;
        let json = args.connect.server.json;
        match args.command {
            AdminCommand::Tail { level } => {
                let printer = if json {
                    LogPrinter::Json
                } else {
                    LogPrinter::Plain
                };
                tail(&client, level, printer).await
            }
            command => {
                let fields = match list_key(&command) {
                    Some(key) => every_page(&client, &command, key).await?,
                    None => {
                        let request = request_of(&command, Page::default());
                        let reply = client.call(&request, bytes::Bytes::new()).await;
                        let kind = request.kind();
                        reply.map_err(|err| describe(kind.as_str(), &err))?.fields
                    }
                };
                let text = if json {
                    format!("{}\n", Value::Object(fields))
                } else {
                    render(&command, &fields)?
                };
                super::print_stdout(&text)
            }
        }
    })
}

/// Connects (pinning the server's key) and logs in as an administrator.
pub(crate) async fn connect_and_login(args: &AdminConnectArgs) -> Result<Client, String> {
    let client = connect(&args.server).await.map_err(|f| f.message)?;
    let login = match &args.user {
        Some(user) => {
            let password = read_password(&format!("Password for {user}@{}: ", args.server.server))?;
            client
                .login(user, &password)
                .await
                .map_err(|err| describe("login", &err))?
        }
        None => log_in(&client, &args.server, true)
            .await
            .map_err(|f| f.message)?,
    };
    if login.role != Role::Admin {
        return Err(format!("{} is not an administrator", login.username));
    }
    Ok(client)
}

/// The list field of a paged command (`admin.sessions`, `admin.users`).
fn list_key(command: &AdminCommand) -> Option<&'static str> {
    match command {
        AdminCommand::Sessions => Some("sessions"),
        AdminCommand::Users => Some("users"),
        _ => None,
    }
}

/// Every page of a paged list, joined into one answer (`key` holding every
/// entry, `total` the server's last count). Pages are read until one comes
/// back empty or `total` entries have come; a server that gives no `total`
/// (PROTOCOL 1.1) sends its whole list in the first page. Entries that come
/// and go between two pages may be missed or seen twice, as with any
/// offset paging; the page size is the largest the protocol allows, so a
/// list of up to 1,000 is read at once.
async fn every_page(
    client: &Client,
    command: &AdminCommand,
    key: &str,
) -> Result<Map<String, Value>, String> {
    let mut entries = Vec::new();
    let mut offset = 0u64;
    loop {
        let page = Page {
            offset,
            limit: MAX_PAGE_LIMIT,
        };
        let request = request_of(command, page);
        let reply = client.call(&request, bytes::Bytes::new()).await;
        let mut fields = reply
            .map_err(|err| describe(request.kind().as_str(), &err))?
            .fields;
        let page_entries = match fields.remove(key) {
            Some(Value::Array(page_entries)) => page_entries,
            _ => {
                return Err(format!(
                    "unexpected answer from the server: no `{key}` list"
                ))
            }
        };
        let total = fields.get("total").and_then(Value::as_u64).unwrap_or(0);
        offset += page_entries.len() as u64;
        let last = page_entries.is_empty() || offset >= total;
        entries.extend(page_entries);
        if last {
            fields.insert(key.to_owned(), Value::Array(entries));
            return Ok(fields);
        }
    }
}

/// One line about a failed request.
fn describe(kind: &str, err: &ClientError) -> String {
    format!("{kind}: {err}")
}

/// The request of a command (`page` for the paged lists).
fn request_of(command: &AdminCommand, page: Page) -> Request {
    Request::Admin(match command {
        AdminCommand::Sessions => AdminRequest::Sessions(page),
        AdminCommand::Kick { id } => AdminRequest::Kick(AdminKick { session_id: *id }),
        AdminCommand::Users => AdminRequest::Users(page),
        AdminCommand::UserDelete { name } => AdminRequest::UserDelete(AdminUserDelete {
            username: name.clone(),
        }),
        AdminCommand::UserRole { name, role } => AdminRequest::UserRole(AdminUserRole {
            username: name.clone(),
            role: *role,
        }),
        AdminCommand::Broadcast { message, priority } => AdminRequest::Broadcast(AdminBroadcast {
            message: message.clone(),
            priority: *priority,
        }),
        AdminCommand::Stats => AdminRequest::Stats,
        AdminCommand::Tail { level } => AdminRequest::Tail(AdminTail { level: *level }),
        AdminCommand::Shutdown { grace } => {
            AdminRequest::Shutdown(AdminShutdown { grace_s: *grace })
        }
    })
}

fn parse<T: serde::de::DeserializeOwned>(fields: &Map<String, Value>) -> Result<T, String> {
    crate::protocol::response::result_as(fields)
        .map_err(|err| format!("unexpected answer from the server: {err}"))
}

/// The answer of a command for people.
fn render(command: &AdminCommand, fields: &Map<String, Value>) -> Result<String, String> {
    Ok(match command {
        AdminCommand::Sessions => {
            let list: SessionList = parse(fields)?;
            let rows = list
                .sessions
                .iter()
                .map(|s| {
                    vec![
                        s.session_id.to_string(),
                        s.username.clone().unwrap_or_else(|| "-".into()),
                        s.peer.clone(),
                        format!("{}s", s.connected_s),
                        format!("{}s", s.idle_s),
                        s.requests.to_string(),
                    ]
                })
                .collect::<Vec<_>>();
            table(
                &["ID", "USER", "PEER", "CONNECTED", "IDLE", "REQUESTS"],
                &rows,
            )
        }
        AdminCommand::Users => {
            let list: UserList = parse(fields)?;
            let rows = list
                .users
                .iter()
                .map(|u| {
                    vec![
                        u.username.clone(),
                        u.role.to_string(),
                        u.sounds.to_string(),
                        u.created_at.clone(),
                        u.last_seen.clone().unwrap_or_else(|| "never".into()),
                    ]
                })
                .collect::<Vec<_>>();
            table(
                &["USERNAME", "ROLE", "SOUNDS", "CREATED", "LAST SEEN"],
                &rows,
            )
        }
        AdminCommand::Stats => {
            let stats: StatsResult = parse(fields)?;
            let rows = [
                ("uptime", format!("{} s", stats.uptime_s)),
                ("sessions", stats.sessions.to_string()),
                ("logged in", stats.logged_in.to_string()),
                ("logins", stats.logins.to_string()),
                ("jobs queued", stats.jobs_queued.to_string()),
                ("jobs running", stats.jobs_running.to_string()),
                ("jobs done", stats.jobs_done.to_string()),
                ("audio analysed", format!("{:.1} s", stats.audio_s_analysed)),
                ("bytes in", stats.bytes_in.to_string()),
                ("bytes out", stats.bytes_out.to_string()),
                (
                    "resident memory",
                    stats.resident_memory_bytes.map_or("unknown".into(), |b| {
                        format!("{:.1} MiB", b as f64 / 1048576.0)
                    }),
                ),
            ]
            .into_iter()
            .map(|(k, v)| vec![k.to_owned(), v])
            .collect::<Vec<_>>();
            table(&["STAT", "VALUE"], &rows)
        }
        AdminCommand::Kick { id } => format!("session {id} kicked\n"),
        AdminCommand::UserDelete { name } => format!("account {name} deleted\n"),
        AdminCommand::UserRole { name, role } => format!("{name} is now {role}\n"),
        AdminCommand::Broadcast { .. } => {
            let delivered = fields.get("delivered").and_then(Value::as_u64).unwrap_or(0);
            format!("delivered to {delivered} session(s)\n")
        }
        AdminCommand::Shutdown { grace } => {
            format!("the server is shutting down (grace {grace} s)\n")
        }
        AdminCommand::Tail { .. } => String::new(),
    })
}

/// Left-aligned columns separated by two spaces, with a header line.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        text.trim_end().to_owned() + "\n"
    };
    let mut text = line(header.to_vec());
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}

/// How `tail` prints log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogPrinter {
    /// The server's own line format.
    Plain,
    /// The same, coloured by level (ANSI).
    Colour,
    /// One JSON object per record.
    Json,
}

impl LogPrinter {
    /// The text of one `log` push (with its newline); `None` for other pushes.
    pub(crate) fn line(self, push: &Push) -> Option<String> {
        let Push::Log {
            ts,
            level,
            target,
            message,
            ..
        } = push
        else {
            return None;
        };
        Some(match self {
            LogPrinter::Json => format!(
                "{}\n",
                json!({"ts": ts, "level": level, "target": target, "message": message})
            ),
            LogPrinter::Plain => {
                format!("{ts} {:<5} {target}: {message}\n", level_label(*level))
            }
            LogPrinter::Colour => {
                let colour = match level {
                    LogLevel::Error => "\x1b[1;31m",
                    LogLevel::Warn => "\x1b[33m",
                    LogLevel::Info => "\x1b[32m",
                    LogLevel::Debug => "\x1b[34m",
                    LogLevel::Trace => "\x1b[2m",
                };
                format!(
                    "\x1b[2m{ts}\x1b[0m {colour}{:<5}\x1b[0m \x1b[1m{target}\x1b[0m: {message}\n",
                    level_label(*level)
                )
            }
        })
    }
}

/// `INFO`, `WARN`... as in the server's own log lines.
fn level_label(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Error => "ERROR",
        LogLevel::Warn => "WARN",
        LogLevel::Info => "INFO",
        LogLevel::Debug => "DEBUG",
        LogLevel::Trace => "TRACE",
    }
}

/// Follows the log until Ctrl-C (then `cancel`) or the server ends the session.
pub(crate) async fn tail(
    client: &Client,
    level: LogLevel,
    printer: LogPrinter,
) -> Result<(), String> {
    let mut pending = client
        .start(
            &Request::Admin(AdminRequest::Tail(AdminTail { level })),
            bytes::Bytes::new(),
        )
        .await
        .map_err(|err| describe("admin.tail", &err))?;
    let id = pending.id();
    // Notices and the shutdown warning go to stderr, beside the log.
    if let Some(mut pushes) = client.pushes() {
        tokio::spawn(async move {
            while let Some(push) = pushes.recv().await {
                match push {
                    Push::Notice {
                        message,
                        priority,
                        ts,
                    } => {
                        eprintln!("{ts} notice ({priority}): {message}")
                    }
                    Push::Shutdown { message, grace_s } => {
                        eprintln!("server: {message} (grace {grace_s} s)")
                    }
                    _ => {}
                }
            }
        });
    }
    let interrupted = loop {
        tokio::select! {
            push = pending.next_push() => match push {
                Some(push) => {
                    if let Some(line) = printer.line(&push) {
                        super::print_stdout(&line)?;
                    }
                }
                None => break false,
            },
            _ = tokio::signal::ctrl_c() => break true,
        }
    };
    if interrupted {
        // The cancel's own answer may race the tail's: wait for both.
        let cancel = Request::User(UserRequest::Cancel(Cancel { target: id }));
        let cancel = client.start(&cancel, bytes::Bytes::new());
        if let Ok(cancel) = cancel.await {
            let _ = tokio::time::timeout(Duration::from_secs(5), cancel.answer()).await;
        }
        while let Ok(Some(push)) =
            tokio::time::timeout(Duration::from_secs(5), pending.next_push()).await
        {
            if let Some(line) = printer.line(&push) {
                super::print_stdout(&line)?;
            }
        }
    }
    match tokio::time::timeout(Duration::from_secs(5), pending.answer()).await {
        Ok(Ok(reply)) => {
            let dropped = reply
                .fields
                .get("dropped")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            eprintln!("tail ended; {dropped} record(s) dropped");
            Ok(())
        }
        Ok(Err(ClientError::Closed { reason })) => {
            eprintln!(
                "the server closed the session ({})",
                reason.unwrap_or_else(|| "no reason".into())
            );
            Ok(())
        }
        Ok(Err(err)) => Err(describe("admin.tail", &err)),
        Err(_) => Err("admin.tail: no answer after cancel".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_log_lines_print() {
        let text = table(
            &["ID", "USER"],
            &[
                vec!["1".into(), "root".into()],
                vec!["12".into(), "-".into()],
            ],
        );
        assert_eq!(text, "ID  USER\n1   root\n12  -\n");
        let push = Push::Log {
            id: 3,
            ts: "2026-01-01T00:00:00.000Z".into(),
            level: LogLevel::Warn,
            target: "auth".into(),
            message: "failed login".into(),
        };
        assert_eq!(
            LogPrinter::Plain.line(&push).unwrap(),
            "2026-01-01T00:00:00.000Z WARN  auth: failed login\n"
        );
        assert!(LogPrinter::Colour
            .line(&push)
            .unwrap()
            .contains("\x1b[33mWARN"));
        let json: Value = serde_json::from_str(&LogPrinter::Json.line(&push).unwrap()).unwrap();
        assert_eq!(json["level"], "warn");
        let request = request_of(
            &AdminCommand::UserRole {
                name: "bob".into(),
                role: Role::Admin,
            },
            Page::default(),
        );
        assert_eq!(request.kind().as_str(), "admin.user.role");
        assert_eq!(
            Value::Object(request.header()),
            json!({"type": "admin.user.role", "username": "bob", "role": "admin"})
        );
        assert!(parse_priority("urgent").is_err());
    }
}
