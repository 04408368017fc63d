//! Opening the store: folders, database settings, migrations, and recovery
//! of whatever a crash left behind.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::files::{self, is_hex_id, now_ms, remove_quietly};
use super::lock::{create_private_dir, create_private_file, DataDirLock};
use super::schema::sounds;
use super::{StoreError, StoreResult};

/// The schema, compiled into the binary so that no diesel CLI is needed.
/// (Cargo does not notice a *new* migration folder by itself; touch this
/// file, or add `cargo:rerun-if-changed=migrations` in a build script.)
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "harmonic.db";
/// Folder of saved sounds' files inside the data directory.
pub const SOUNDS_DIR: &str = "sounds";
/// Folder of spooled uploads inside the data directory.
pub const UPLOADS_DIR: &str = "uploads";
/// How long SQLite waits on a lock held by another connection.
const BUSY_TIMEOUT_MS: u32 = 5_000;
/// Extension of a saved sound's file.
pub(crate) const SOUND_EXT: &str = "wav";
/// Extension of a file being written in `sounds/`.
pub(crate) const TEMP_EXT: &str = "tmp";

/// The server's persistent state: one SQLite connection and the data
/// directory. Blocking; owned by one thread (the sound-library actor).
pub struct Store {
    pub(crate) conn: SqliteConnection,
    pub(crate) data_dir: PathBuf,
    pub(crate) sounds_dir: PathBuf,
    pub(crate) uploads_dir: PathBuf,
    /// Held while the store is open; dropped last, after the connection.
    _lock: DataDirLock,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`: locks the data
    /// directory ([`StoreError::Locked`] when another process has it open;
    /// see [`DataDirLock`]), creates the folders and the database owner-only, opens `harmonic.db` in WAL mode with `synchronous=FULL` (a
    /// committed transaction survives a crash) and foreign keys on, runs the
    /// embedded migrations, then recovers:
    /// - `uploads/` is emptied (uploads do not survive a restart);
    /// - files in `sounds/` that no row names are removed: temporary files
    ///   and files written just before a crash that beat their row's commit,
    ///   or whose row was deleted just before a crash;
    /// - rows whose file is missing or has the wrong size are logged as
    ///   errors (target `library`) and left for an administrator;
    /// - expired resume tokens are purged.
    pub fn open(data_dir: &Path) -> StoreResult<Store> {
        let lock = DataDirLock::acquire(data_dir)?;
        let sounds_dir = data_dir.join(SOUNDS_DIR);
        let uploads_dir = data_dir.join(UPLOADS_DIR);
        for dir in [&sounds_dir, &uploads_dir] {
            create_private_dir(dir)?;
        }
        let db_path = data_dir.join(DATABASE_FILE);
        create_private_file(&db_path)?;
        let db_url = db_path
            .to_str()
            .ok_or_else(|| StoreError::Corrupt(format!("path {db_path:?} is not UTF-8")))?;
        let mut conn = connect(db_url)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        for version in &applied {
            log::info!(target: "library", "applied migration {version}");
        }
        let mut store = Store {
            conn,
            data_dir: data_dir.to_owned(),
            sounds_dir,
            uploads_dir,
            _lock: lock,
        };
        store.recover()?;
        Ok(store)
    }

    /// Brings the connection back to no transaction after a panic in the
    /// middle of one (diesel rolls back on an error, not on an unwind):
    /// rolls back every level still open; where that fails, connects anew.
    pub fn reset_after_panic(&mut self) -> StoreResult<()> {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        loop {
            let status = AnsiTransactionManager::transaction_manager_status_mut(&mut self.conn);
            match status.transaction_depth() {
                Ok(None) => return Ok(()),
                Ok(Some(depth)) => {
                    log::warn!(target: "library", "rolling back a transaction (depth {depth}) left open by a panic");
                    if AnsiTransactionManager::rollback_transaction(&mut self.conn).is_ok() {
                        continue;
                    }
                }
                Err(_) => {}
            }
            let db_path = self.data_dir.join(DATABASE_FILE);
            let db_url = db_path
                .to_str()
                .ok_or_else(|| StoreError::Corrupt(format!("path {db_path:?} is not UTF-8")))?;
            self.conn = connect(db_url)?;
            return Ok(());
        }
    }

    /// The data directory this store lives in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The folder where [`super::UploadSpool`] keeps uploads (same file
    /// system as `sounds/`, so that saving an upload is a rename). Open the
    /// spool after the store: [`Store::open`] empties this folder.
    pub fn uploads_dir(&self) -> &Path {
        &self.uploads_dir
    }

    /// Brings files and rows back in line after a crash; see [`Store::open`].
    fn recover(&mut self) -> StoreResult<()> {
        let cleared = files::empty_dir(&self.uploads_dir)?;
        if cleared > 0 {
            log::info!(target: "library", "removed {cleared} leftover upload(s)");
        }

        let rows: Vec<(String, i64)> = sounds::table
            .select((sounds::file_id, sounds::size))
            .load(&mut self.conn)?;
        let referenced: HashSet<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();

        let dir = &self.sounds_dir;
        for entry in fs::read_dir(dir).map_err(StoreError::io(dir))? {
            let entry = entry.map_err(StoreError::io(dir))?;
            let path = entry.path();
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                log::warn!(target: "library", "unexpected folder {} left alone", path.display());
                continue;
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let sound_id = name.strip_suffix(".wav").filter(|id| is_hex_id(id));
            let keep = sound_id.is_some_and(|id| referenced.contains(id));
            // A database without a single sound next to sound files is more
            // likely a lost or replaced harmonic.db than a crash mid-save:
            // never delete users' audio on that guess.
            if !keep && sound_id.is_some() && rows.is_empty() {
                log::error!(
                    target: "library",
                    "recovery: {} is not referenced and the database has no sounds; left in place (was harmonic.db replaced?)",
                    path.display()
                );
                continue;
            }
            if !keep {
                log::info!(target: "library", "recovery: removing unreferenced file {}", path.display());
                remove_quietly(&path);
            }
        }
        files::sync_dir(dir)?;

        for (file_id, size) in &rows {
            let path = self.file_path(file_id);
            match fs::metadata(&path) {
                Ok(m) if i64::try_from(m.len()).ok() == Some(*size) => {}
                Ok(m) => log::error!(
                    target: "library",
                    "sound file {} has {} bytes, its row says {size}",
                    path.display(),
                    m.len()
                ),
                Err(e) => log::error!(
                    target: "library",
                    "sound file {} of a saved sound is missing: {e}",
                    path.display()
                ),
            }
        }

        let purged = self.purge_expired_tokens(now_ms())?;
        if purged > 0 {
            log::info!(target: "library", "purged {purged} expired resume token(s)");
        }
        Ok(())
    }

    /// The path of the file named by `file_id`.
    pub(crate) fn file_path(&self, file_id: &str) -> PathBuf {
        self.sounds_dir.join(format!("{file_id}.{SOUND_EXT}"))
    }
}

/// Opens the database with the settings every connection needs.
fn connect(db_url: &str) -> StoreResult<SqliteConnection> {
    let mut conn = SqliteConnection::establish(db_url)?;
    conn.batch_execute(&format!(
        "PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = FULL; \
         PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};"
    ))?;
    Ok(conn)
}

/// Whether a diesel error is a UNIQUE constraint failure.
pub(crate) fn is_unique_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Whether a diesel error is a FOREIGN KEY constraint failure.
pub(crate) fn is_foreign_key_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use diesel::sql_types::{BigInt, Text};

    /// A store in a fresh temporary directory (kept alive by the guard).
    pub(crate) fn open_in() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    #[derive(QueryableByName)]
    struct Pragma {
        #[diesel(sql_type = Text)]
        journal_mode: String,
    }

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    #[test]
    fn open_creates_folders_tables_and_settings_and_reopens() {
        let (dir, mut store) = open_in();
        assert!(dir.path().join(DATABASE_FILE).is_file());
        assert!(dir.path().join(SOUNDS_DIR).is_dir());
        assert!(dir.path().join(UPLOADS_DIR).is_dir());
        let mode: Pragma = diesel::sql_query("PRAGMA journal_mode")
            .get_result(&mut store.conn)
            .unwrap();
        assert_eq!(mode.journal_mode, "wal");
        let sync: Count = diesel::sql_query("SELECT synchronous AS n FROM pragma_synchronous")
            .get_result(&mut store.conn)
            .unwrap();
        assert_eq!(sync.n, 2, "synchronous = FULL");
        let tables: Count = diesel::sql_query(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' \
             AND name IN ('users', 'sounds', 'resume_tokens')",
        )
        .get_result(&mut store.conn)
        .unwrap();
        assert_eq!(tables.n, 3);
        drop(store);
        // Reopening runs no migration twice and keeps the data.
        let mut store = Store::open(dir.path()).unwrap();
        assert!(!store.conn.has_pending_migration(MIGRATIONS).unwrap());
        let fk: Count = diesel::sql_query("SELECT foreign_keys AS n FROM pragma_foreign_keys")
            .get_result(&mut store.conn)
            .unwrap();
        assert_eq!(fk.n, 1);
    }

    #[test]
    fn sound_files_are_kept_when_the_database_has_no_sounds() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let file = dir
            .path()
            .join(SOUNDS_DIR)
            .join(format!("{}.wav", files::random_hex_id()));
        fs::write(&file, b"someone's audio").unwrap();
        drop(Store::open(dir.path()).unwrap());
        assert!(file.exists(), "a lost database must not cost the audio");
    }

    #[test]
    fn open_empties_uploads_and_removes_orphans_and_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let user = store
            .create_user("alice", "hash", super::super::Role::User)
            .unwrap();
        let kept = store
            .save_sound_bytes(user.id, "kept", b"RIFF-kept", meta_for(b"RIFF-kept"), false)
            .unwrap();
        drop(store);

        let sounds = dir.path().join(SOUNDS_DIR);
        let orphan = sounds.join(format!("{}.wav", files::random_hex_id()));
        let temp = sounds.join("0123.tmp");
        let stray_upload = dir.path().join(UPLOADS_DIR).join("x.part");
        fs::write(&orphan, b"orphan").unwrap();
        fs::write(&temp, b"temp").unwrap();
        fs::write(&stray_upload, b"upload").unwrap();

        let store = Store::open(dir.path()).unwrap();
        assert!(!orphan.exists(), "orphan sound file removed");
        assert!(!temp.exists(), "temp file removed");
        assert!(!stray_upload.exists(), "uploads emptied");
        assert_eq!(fs::read(store.sound_path(&kept)).unwrap(), b"RIFF-kept");
    }

    #[test]
    fn open_keeps_a_row_whose_file_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let user = store
            .create_user("bob", "hash", super::super::Role::User)
            .unwrap();
        let row = store
            .save_sound_bytes(user.id, "s", b"data", meta_for(b"data"), false)
            .unwrap();
        fs::remove_file(store.sound_path(&row)).unwrap();
        drop(store);
        let mut store = Store::open(dir.path()).unwrap();
        // The row stays (an error is logged); the admin decides.
        assert!(store.get_sound(user.id, "s").unwrap().is_some());
    }

    #[test]
    fn down_migrations_drop_everything_and_up_recreates_it() {
        let (_dir, mut store) = open_in();
        store.conn.revert_all_migrations(MIGRATIONS).unwrap();
        let tables: Count = diesel::sql_query(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' \
             AND name != '__diesel_schema_migrations'",
        )
        .get_result(&mut store.conn)
        .unwrap();
        assert_eq!(tables.n, 0);
        store.conn.run_pending_migrations(MIGRATIONS).unwrap();
        store
            .create_user("back", "h", super::super::Role::User)
            .unwrap();
    }

    #[test]
    fn store_and_spool_can_move_to_a_blocking_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Store>();
        assert_send::<super::super::UploadSpool>();
    }

    /// Metadata matching `bytes` for tests.
    pub(crate) fn meta_for(bytes: &[u8]) -> super::super::SoundMeta {
        super::super::SoundMeta {
            duration_ms: 1000,
            sample_rate: 48_000,
            channels: 1,
            size: bytes.len() as i64,
            sha256: files::hex_sha256(bytes),
        }
    }
}
