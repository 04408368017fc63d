//! The saved login: `session.json` in the config directory, readable by the
//! owner only (mode 0600), holding for each server the username and the
//! current resume token. Tokens are single use: every command that resumes
//! saves the fresh one the server answers with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The login saved for one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SavedLogin {
    /// The account's username.
    pub username: String,
    /// The resume token the last login or resume gave.
    pub resume_token: String,
}

/// The whole file: a login per server address (`--server`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SessionData {
    #[serde(default)]
    servers: BTreeMap<String, SavedLogin>,
}

/// The session file, loaded.
#[derive(Debug, Clone)]
pub(crate) struct SessionFile {
    path: PathBuf,
    data: SessionData,
}

impl SessionFile {
    /// Reads `path`; a missing file holds no login.
    pub(crate) fn load(path: &Path) -> Result<SessionFile, String> {
        let data = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
                format!(
                    "{} is damaged ({err}); delete it and log in again",
                    path.display()
                )
            })?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => SessionData::default(),
            Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
        };
        Ok(SessionFile {
            path: path.to_owned(),
            data,
        })
    }

    /// The login saved for `server`.
    pub(crate) fn get(&self, server: &str) -> Option<&SavedLogin> {
        self.data.servers.get(server)
    }

    /// Saves `login` for `server` and writes the file (0600).
    pub(crate) fn set(&mut self, server: &str, login: SavedLogin) -> Result<(), String> {
        self.data.servers.insert(server.to_owned(), login);
        self.save()
    }

    /// Forgets the login for `server`; returns it.
    pub(crate) fn remove(&mut self, server: &str) -> Result<Option<SavedLogin>, String> {
        let removed = self.data.servers.remove(server);
        if removed.is_some() {
            self.save()?;
        }
        Ok(removed)
    }

    fn save(&self) -> Result<(), String> {
        let json = serde_json::to_vec_pretty(&self.data).map_err(|err| err.to_string())?;
        write_private(&self.path, &json)
    }
}

/// Writes `bytes` to `path` readable by the owner only: a new file with
/// mode 0600 in the same directory, renamed over the old one (so a crash
/// never leaves half a file). Creates the directory (0700) if needed.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let file_name = path.file_name().map_or_else(
        || "harmonic".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(&temp)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&temp, path));
    written.map_err(|err| {
        let _ = std::fs::remove_file(&temp);
        format!("cannot write {}: {err}", path.display())
    })
}

fn create_private_dir(dir: &Path) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|err| format!("cannot create {}: {err}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_round_trip_per_server_in_an_owner_only_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("harmonic").join("session.json");
        let mut file = SessionFile::load(&path).unwrap();
        assert!(file.get("a:1").is_none());
        let login = SavedLogin {
            username: "alice".into(),
            resume_token: "t1".into(),
        };
        file.set("a:1", login.clone()).unwrap();
        let again = SessionFile::load(&path).unwrap();
        assert_eq!(again.get("a:1"), Some(&login));
        assert!(again.get("b:2").is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut again = again;
        assert_eq!(again.remove("a:1").unwrap(), Some(login));
        assert!(SessionFile::load(&path).unwrap().get("a:1").is_none());
    }

    #[test]
    fn a_damaged_file_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = SessionFile::load(&path).unwrap_err();
        assert!(err.contains("log in again"), "{err}");
    }
}
