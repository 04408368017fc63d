//! `harmonic user add NAME [--admin]`: creates an account offline, with the
//! same rules as `signup` (the first admin cannot sign up: signup makes users).
//!
//! The password comes from a prompt (asked twice) on a terminal, or from
//! the first line of stdin otherwise (for scripts); it is never an argument,
//! so it stays out of shell histories and process lists.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::auth::check_signup;
use crate::config::DEFAULT_DATA_DIR;
use crate::crypto::hash_password;
use crate::store::{Role, Store, StoreError};

/// Arguments of `harmonic user`.
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    /// What to do with accounts.
    #[command(subcommand)]
    command: UserCommand,
}

/// The `user` subcommands.
#[derive(Debug, clap::Subcommand)]
enum UserCommand {
    /// Create an account (password from a prompt, or one line of stdin).
    Add(AddArgs),
}

/// Arguments of `harmonic user add`.
#[derive(Debug, clap::Args)]
struct AddArgs {
    /// The username (letters, digits, `_`, `.`, `-`; up to 32; unique in any case).
    name: String,
    /// Make the account an administrator.
    #[arg(long)]
    admin: bool,
    /// The server's data directory.
    #[arg(long, env = "HARMONIC_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
}

/// Runs `harmonic user ...`.
pub fn run(args: UserArgs) -> Result<(), String> {
    match args.command {
        UserCommand::Add(add) => {
            let password = read_password(&add.name)?;
            let role = if add.admin { Role::Admin } else { Role::User };
            add_user(&add.data_dir, &add.name, &password, role)?;
            eprintln!("created {} account {}", role, add.name);
            Ok(())
        }
    }
}

/// Creates an account in the data directory `data_dir`.
pub fn add_user(data_dir: &Path, name: &str, password: &str, role: Role) -> Result<(), String> {
    check_signup(name, password).map_err(|err| err.to_string())?;
    let hash = hash_password(password).map_err(|err| err.to_string())?;
    let mut store = Store::open(data_dir).map_err(|err| {
        format!(
            "cannot open the data directory {}: {err}",
            data_dir.display()
        )
    })?;
    match store.create_user(name, &hash, role) {
        Ok(_) => Ok(()),
        Err(StoreError::UsernameTaken) => Err(format!("the username {name} is taken")),
        Err(err) => Err(err.to_string()),
    }
}

fn read_password(name: &str) -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {name}: "))
            .map_err(|err| format!("cannot read the password: {err}"))?;
        let again = rpassword::prompt_password("Again: ")
            .map_err(|err| format!("cannot read the password: {err}"))?;
        if first != again {
            return Err("the passwords differ".into());
        }
        Ok(first)
    } else {
        super::client::password_from_stdin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_accounts_with_the_signup_rules() {
        let dir = tempfile::tempdir().unwrap();
        add_user(dir.path(), "Root", "correct horse", Role::Admin).unwrap();
        let taken = add_user(dir.path(), "root", "correct horse", Role::User).unwrap_err();
        assert!(taken.contains("taken"), "{taken}");
        let weak = add_user(dir.path(), "bob", "short", Role::User).unwrap_err();
        assert!(weak.contains("8"), "{weak}");
        assert!(add_user(dir.path(), "-bob", "correct horse", Role::User).is_err());
        let mut store = Store::open(dir.path()).unwrap();
        let root = store.find_user("ROOT").unwrap().unwrap();
        assert_eq!((root.username.as_str(), root.role), ("Root", Role::Admin));
        assert!(crate::crypto::verify_password(
            "correct horse",
            &root.password_hash
        ));
    }
}
