//! The known-servers file: the identity fingerprint pinned for each server
//! on first use (trust on first use, as ssh's `known_hosts`).
//!
//! One `host:port fingerprint` per line; blank lines and lines starting with
//! `#` are kept as they are. The address is the one the user gave
//! (`--server`), compared exactly.

use std::path::{Path, PathBuf};

/// The pinned fingerprints, as read from the file.
#[derive(Debug, Clone)]
pub(crate) struct KnownServers {
    path: PathBuf,
    lines: Vec<String>,
}

impl KnownServers {
    /// Reads `path`; a missing file is an empty list.
    pub(crate) fn load(path: &Path) -> Result<KnownServers, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
        };
        Ok(KnownServers {
            path: path.to_owned(),
            lines: text.lines().map(str::to_owned).collect(),
        })
    }

    /// Where the list lives.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The fingerprint pinned for `server`, if any.
    pub(crate) fn fingerprint(&self, server: &str) -> Option<&str> {
        self.lines.iter().find_map(|line| {
            let (address, fingerprint) = parse_line(line)?;
            (address == server).then_some(fingerprint)
        })
    }

    /// Pins `fingerprint` for `server` (replacing an older pin) and writes the file.
    pub(crate) fn pin(&mut self, server: &str, fingerprint: &str) -> Result<(), String> {
        self.lines
            .retain(|line| parse_line(line).is_none_or(|(address, _)| address != server));
        self.lines.push(format!("{server} {fingerprint}"));
        let mut text = self.lines.join("\n");
        text.push('\n');
        super::session_file::write_private(&self.path, text.as_bytes())
    }
}

/// `(address, fingerprint)` of a pin line; `None` for blank lines and comments.
fn parse_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut words = line.split_whitespace();
    Some((words.next()?, words.next()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_replace_older_pins_and_keep_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_servers");
        std::fs::write(&path, "# pinned servers\nexample.org:2525 aaaa\n").unwrap();
        let mut known = KnownServers::load(&path).unwrap();
        assert_eq!(known.fingerprint("example.org:2525"), Some("aaaa"));
        assert_eq!(known.fingerprint("127.0.0.1:2525"), None);
        known.pin("127.0.0.1:2525", "bbbb").unwrap();
        known.pin("example.org:2525", "cccc").unwrap();
        let again = KnownServers::load(&path).unwrap();
        assert_eq!(again.fingerprint("example.org:2525"), Some("cccc"));
        assert_eq!(again.fingerprint("127.0.0.1:2525"), Some("bbbb"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# pinned servers\n"), "{text}");
        assert_eq!(text.matches("example.org").count(), 1, "{text}");
    }

    #[test]
    fn a_missing_file_is_an_empty_list() {
        let dir = tempfile::tempdir().unwrap();
        let known = KnownServers::load(&dir.path().join("nope")).unwrap();
        assert_eq!(known.fingerprint("a:1"), None);
    }
}
