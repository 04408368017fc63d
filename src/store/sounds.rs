//! The sound library: each user's saved short sounds, a row each plus a
//! file `sounds/<file_id>.wav`.
//!
//! Write ordering, so that a crash never leaves a row without its file:
//! saving makes the new file durable (temp name, fsync, rename, fsync of the
//! folder) BEFORE the row commits, and removes a replaced file only AFTER the
//! commit; deleting removes the row first, then the file. At worst a crash
//! leaves an unreferenced file, which [`Store::open`] removes.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use diesel::prelude::*;

use super::files::{self, now_ms, random_hex_id, remove_quietly};
use super::models::{NewSound, SoundMeta, SoundRow};
use super::open::{is_foreign_key_violation, is_unique_violation, TEMP_EXT};
use super::schema::sounds;
use super::{Quota, SoundQuota, Store, StoreError, StoreResult};

impl Store {
    /// Saves the file at `source` as the sound `name` of `user_id`.
    ///
    /// `source` (a finished upload, or any file on the same disk) is taken
    /// over: on success it has become the sound's file, on any error it has
    /// been removed. `meta.size` must be the file's size
    /// ([`StoreError::Corrupt`] otherwise). An existing `name` is
    /// [`StoreError::AlreadyExists`] unless `overwrite`, in which case the
    /// old file is removed once the new row has committed. An unknown user
    /// is [`StoreError::NotFound`].
    pub fn save_sound(
        &mut self,
        user_id: i64,
        name: &str,
        source: &Path,
        meta: SoundMeta,
        overwrite: bool,
    ) -> StoreResult<SoundRow> {
        let precheck = if overwrite {
            Ok(())
        } else {
            match self.get_sound(user_id, name) {
                Ok(None) => Ok(()),
                Ok(Some(_)) => Err(StoreError::AlreadyExists),
                Err(e) => Err(e),
            }
        };
        if let Err(e) = precheck {
            // Checked before moving the file, to spare a copy; the commit
            // checks again in its transaction.
            remove_quietly(source);
            return Err(e);
        }
        let temp = self.stage_file(source)?;
        self.install_and_commit(user_id, name, &temp, meta, overwrite)
    }

    /// Like [`Store::save_sound`], for a file that arrived inline as `bytes`:
    /// they are written to a temporary file, fsynced, and installed.
    pub fn save_sound_bytes(
        &mut self,
        user_id: i64,
        name: &str,
        bytes: &[u8],
        meta: SoundMeta,
        overwrite: bool,
    ) -> StoreResult<SoundRow> {
        if !overwrite && self.get_sound(user_id, name)?.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        let temp = self.temp_path();
        files::write_new_synced(&temp, bytes)?;
        self.install_and_commit(user_id, name, &temp, meta, overwrite)
    }

    /// Checks that saving `size` bytes as the sound `name` of `user_id`
    /// keeps the user within `quota`: a sound that replaces one of the same
    /// name adds no sound, and its bytes take the old file's place.
    /// [`StoreError::QuotaExceeded`] otherwise. The caller saves in the same
    /// step of the one thread that owns the store, so no other save comes
    /// between the check and the save.
    pub fn check_sound_quota(
        &mut self,
        user_id: i64,
        name: &str,
        size: u64,
        quota: SoundQuota,
    ) -> StoreResult<()> {
        let saved: Vec<(String, i64)> = sounds::table
            .filter(sounds::user_id.eq(user_id))
            .select((sounds::name, sounds::size))
            .load(&mut self.conn)?;
        let replaced = saved.iter().find(|(saved, _)| saved == name);
        if replaced.is_none() && saved.len() as u64 >= quota.sounds {
            return Err(StoreError::QuotaExceeded {
                quota: Quota::Sounds,
                limit: quota.sounds,
            });
        }
        let kept: u64 = saved
            .iter()
            .filter(|(saved, _)| saved != name)
            .map(|(_, bytes)| u64::try_from(*bytes).unwrap_or(0))
            .sum();
        if kept.saturating_add(size) > quota.bytes {
            return Err(StoreError::QuotaExceeded {
                quota: Quota::SoundBytes,
                limit: quota.bytes,
            });
        }
        Ok(())
    }

    /// The user's sounds, ordered by name.
    pub fn list_sounds(&mut self, user_id: i64) -> StoreResult<Vec<SoundRow>> {
        Ok(sounds::table
            .filter(sounds::user_id.eq(user_id))
            .order(sounds::name.asc())
            .select(SoundRow::as_select())
            .load(&mut self.conn)?)
    }

    /// The names of the user's sounds, ordered (for the `login` answer).
    pub fn sound_names(&mut self, user_id: i64) -> StoreResult<Vec<String>> {
        Ok(sounds::table
            .filter(sounds::user_id.eq(user_id))
            .order(sounds::name.asc())
            .select(sounds::name)
            .load(&mut self.conn)?)
    }

    /// The user's sound called exactly `name`, if any.
    pub fn get_sound(&mut self, user_id: i64, name: &str) -> StoreResult<Option<SoundRow>> {
        Ok(sounds::table
            .filter(sounds::user_id.eq(user_id))
            .filter(sounds::name.eq(name))
            .select(SoundRow::as_select())
            .first(&mut self.conn)
            .optional()?)
    }

    /// Where the file of `sound` lives (to decode it as a template).
    pub fn sound_path(&self, sound: &SoundRow) -> PathBuf {
        self.file_path(&sound.file_id)
    }

    /// Up to `max` bytes of the sound's file from `offset` (for `sound.get`).
    /// Empty at `offset == size`; [`StoreError::OffsetPastEnd`] past it;
    /// [`StoreError::Corrupt`] if the file is shorter than its row says.
    pub fn read_sound_range(
        &self,
        sound: &SoundRow,
        offset: u64,
        max: usize,
    ) -> StoreResult<Vec<u8>> {
        let size = u64::try_from(sound.size).map_err(|_| {
            StoreError::Corrupt(format!("sound {} has size {}", sound.id, sound.size))
        })?;
        if offset > size {
            return Err(StoreError::OffsetPastEnd { offset, size });
        }
        let len = usize::try_from(size - offset).map_or(max, |left| left.min(max));
        let path = self.sound_path(sound);
        let mut buf = vec![0u8; len];
        let mut file = File::open(&path).map_err(StoreError::io(&path))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(StoreError::io(&path))?;
        file.read_exact(&mut buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                StoreError::Corrupt(format!("{} is shorter than {size} bytes", path.display()))
            } else {
                StoreError::Io {
                    path: path.clone(),
                    source: e,
                }
            }
        })?;
        Ok(buf)
    }

    /// Renames the user's sound `name` to `new_name` (the file stays).
    /// [`StoreError::NotFound`] if there is no `name`,
    /// [`StoreError::AlreadyExists`] if `new_name` is taken. Renaming a sound
    /// to its own name succeeds and changes nothing.
    pub fn rename_sound(
        &mut self,
        user_id: i64,
        name: &str,
        new_name: &str,
    ) -> StoreResult<SoundRow> {
        self.conn.immediate_transaction(|c| {
            let row: SoundRow = sounds::table
                .filter(sounds::user_id.eq(user_id))
                .filter(sounds::name.eq(name))
                .select(SoundRow::as_select())
                .first(c)
                .optional()?
                .ok_or(StoreError::NotFound)?;
            if name == new_name {
                return Ok(row);
            }
            diesel::update(sounds::table.find(row.id))
                .set(sounds::name.eq(new_name))
                .returning(SoundRow::as_returning())
                .get_result(c)
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::AlreadyExists
                    } else {
                        StoreError::Database(e)
                    }
                })
        })
    }

    /// Deletes the user's sound `name`: the row first, then the file.
    /// [`StoreError::NotFound`] if there is no such sound.
    pub fn delete_sound(&mut self, user_id: i64, name: &str) -> StoreResult<()> {
        let file_id: String = diesel::delete(
            sounds::table
                .filter(sounds::user_id.eq(user_id))
                .filter(sounds::name.eq(name)),
        )
        .returning(sounds::file_id)
        .get_result(&mut self.conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
        remove_quietly(&self.file_path(&file_id));
        Ok(())
    }

    /// A fresh temporary file name in `sounds/` (removed at open if left).
    fn temp_path(&self) -> PathBuf {
        self.sounds_dir
            .join(format!("{}.{TEMP_EXT}", random_hex_id()))
    }

    /// Moves `source` to a temporary name in `sounds/`: a rename when on the
    /// same file system, else a copy and the removal of `source`. On error
    /// `source` is removed too (the caller handed it over).
    fn stage_file(&self, source: &Path) -> StoreResult<PathBuf> {
        let temp = self.temp_path();
        if fs::rename(source, &temp).is_ok() {
            return Ok(temp);
        }
        let copied = fs::copy(source, &temp);
        remove_quietly(source);
        if let Err(e) = copied {
            remove_quietly(&temp);
            return Err(StoreError::Io {
                path: source.to_owned(),
                source: e,
            });
        }
        Ok(temp)
    }

    /// Makes the staged file durable under its final name, then commits the
    /// row. On error the new file is removed; on an overwrite the old file is
    /// removed after the commit.
    fn install_and_commit(
        &mut self,
        user_id: i64,
        name: &str,
        temp: &Path,
        meta: SoundMeta,
        overwrite: bool,
    ) -> StoreResult<SoundRow> {
        let file_id = random_hex_id();
        let final_path = self.file_path(&file_id);
        if let Err(e) = self.install_file(temp, &final_path, meta.size) {
            remove_quietly(temp);
            return Err(e);
        }
        match self.commit_sound_row(user_id, name, &file_id, &meta, overwrite) {
            Ok((row, replaced)) => {
                if let Some(old) = replaced {
                    remove_quietly(&self.file_path(&old));
                }
                log::info!(target: "library", "user {user_id} saved sound {name:?} ({} bytes)", row.size);
                Ok(row)
            }
            Err(e) => {
                remove_quietly(&final_path);
                Err(e)
            }
        }
    }

    /// fsync the file, check its size, rename it into place, fsync `sounds/`.
    fn install_file(&self, temp: &Path, final_path: &Path, size: i64) -> StoreResult<()> {
        files::sync_file(temp)?;
        let actual = fs::metadata(temp).map_err(StoreError::io(temp))?.len();
        if i64::try_from(actual).ok() != Some(size) {
            return Err(StoreError::Corrupt(format!(
                "file has {actual} bytes, its metadata says {size}"
            )));
        }
        fs::rename(temp, final_path).map_err(StoreError::io(final_path))?;
        files::sync_dir(&self.sounds_dir)
    }

    /// Inserts the row, or replaces the existing one's content when
    /// `overwrite`; returns the row and the replaced file's id.
    fn commit_sound_row(
        &mut self,
        user_id: i64,
        name: &str,
        file_id: &str,
        meta: &SoundMeta,
        overwrite: bool,
    ) -> StoreResult<(SoundRow, Option<String>)> {
        let new = NewSound {
            user_id,
            name,
            file_id,
            duration_ms: meta.duration_ms,
            sample_rate: meta.sample_rate,
            channels: meta.channels,
            size: meta.size,
            sha256: &meta.sha256,
            created_at: now_ms(),
        };
        self.conn.immediate_transaction(|c| {
            let existing: Option<(i64, String)> = sounds::table
                .filter(sounds::user_id.eq(user_id))
                .filter(sounds::name.eq(name))
                .select((sounds::id, sounds::file_id))
                .first(c)
                .optional()?;
            match existing {
                Some(_) if !overwrite => Err(StoreError::AlreadyExists),
                Some((id, old_file_id)) => {
                    let row = diesel::update(sounds::table.find(id))
                        .set(&new)
                        .returning(SoundRow::as_returning())
                        .get_result(c)?;
                    Ok((row, Some(old_file_id)))
                }
                None => {
                    let row = diesel::insert_into(sounds::table)
                        .values(&new)
                        .returning(SoundRow::as_returning())
                        .get_result(c)
                        .map_err(|e| {
                            if is_foreign_key_violation(&e) {
                                StoreError::NotFound
                            } else if is_unique_violation(&e) {
                                StoreError::AlreadyExists
                            } else {
                                StoreError::Database(e)
                            }
                        })?;
                    Ok((row, None))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::open::tests::{meta_for, open_in};
    use super::super::Role;
    use super::*;

    /// The names of the files in `sounds/`, sorted.
    fn files_in_sounds(store: &Store) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&store.sounds_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn save_list_get_read_rename_delete() {
        let (dir, mut store) = open_in();
        let u = store.create_user("ann", "h", Role::User).unwrap();
        let source = dir.path().join("upload.part");
        let bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        fs::write(&source, &bytes).unwrap();

        let saved = store
            .save_sound(u.id, "Clap", &source, meta_for(&bytes), false)
            .unwrap();
        assert!(!source.exists(), "the source was moved");
        assert_eq!(saved.name, "Clap");
        assert_eq!(saved.size, 5000);
        assert_eq!(saved.sha256, files::hex_sha256(&bytes));
        assert_eq!(saved.file_id.len(), 32);
        let path = store.sound_path(&saved);
        assert_eq!(
            path,
            dir.path()
                .join("sounds")
                .join(format!("{}.wav", saved.file_id))
        );
        assert_eq!(fs::read(&path).unwrap(), bytes);
        assert_eq!(
            files_in_sounds(&store),
            vec![format!("{}.wav", saved.file_id)]
        );

        store
            .save_sound_bytes(u.id, "beep", b"bb", meta_for(b"bb"), false)
            .unwrap();
        let names: Vec<String> = store
            .list_sounds(u.id)
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["Clap", "beep"]);
        assert_eq!(store.sound_names(u.id).unwrap(), ["Clap", "beep"]);
        assert_eq!(store.get_sound(u.id, "Clap").unwrap().unwrap(), saved);
        assert!(
            store.get_sound(u.id, "clap").unwrap().is_none(),
            "names are case-sensitive"
        );

        // Ranges.
        assert_eq!(
            store.read_sound_range(&saved, 0, 1000).unwrap(),
            &bytes[..1000]
        );
        assert_eq!(
            store.read_sound_range(&saved, 4500, 1000).unwrap(),
            &bytes[4500..]
        );
        assert!(store
            .read_sound_range(&saved, 5000, 1000)
            .unwrap()
            .is_empty());
        assert!(matches!(
            store.read_sound_range(&saved, 5001, 10),
            Err(StoreError::OffsetPastEnd {
                offset: 5001,
                size: 5000
            })
        ));

        // Rename.
        let renamed = store.rename_sound(u.id, "Clap", "clap2").unwrap();
        assert_eq!(renamed.name, "clap2");
        assert_eq!(renamed.file_id, saved.file_id);
        assert!(store.get_sound(u.id, "Clap").unwrap().is_none());
        assert!(matches!(
            store.rename_sound(u.id, "Clap", "x"),
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.rename_sound(u.id, "clap2", "beep"),
            Err(StoreError::AlreadyExists)
        ));
        assert_eq!(store.rename_sound(u.id, "clap2", "clap2").unwrap(), renamed);

        // Delete.
        store.delete_sound(u.id, "clap2").unwrap();
        assert!(!path.exists());
        assert!(store.get_sound(u.id, "clap2").unwrap().is_none());
        assert!(matches!(
            store.delete_sound(u.id, "clap2"),
            Err(StoreError::NotFound)
        ));
        assert_eq!(files_in_sounds(&store).len(), 1);
    }

    #[test]
    fn names_are_per_user() {
        let (_dir, mut store) = open_in();
        let a = store.create_user("a", "h", Role::User).unwrap();
        let b = store.create_user("b", "h", Role::User).unwrap();
        store
            .save_sound_bytes(a.id, "x", b"1", meta_for(b"1"), false)
            .unwrap();
        store
            .save_sound_bytes(b.id, "x", b"2", meta_for(b"2"), false)
            .unwrap();
        assert!(matches!(
            store.delete_sound(a.id, "y"),
            Err(StoreError::NotFound)
        ));
        store.delete_sound(a.id, "x").unwrap();
        assert!(store.get_sound(b.id, "x").unwrap().is_some());
    }

    #[test]
    fn overwrite_replaces_the_file_and_removes_the_old_one() {
        let (_dir, mut store) = open_in();
        let u = store.create_user("ann", "h", Role::User).unwrap();
        let old = store
            .save_sound_bytes(u.id, "s", b"old", meta_for(b"old"), false)
            .unwrap();
        let new = store
            .save_sound_bytes(u.id, "s", b"newer", meta_for(b"newer"), true)
            .unwrap();
        assert_eq!(new.id, old.id);
        assert_ne!(new.file_id, old.file_id);
        assert_eq!(new.size, 5);
        assert!(!store.sound_path(&old).exists());
        assert_eq!(fs::read(store.sound_path(&new)).unwrap(), b"newer");
        assert_eq!(
            files_in_sounds(&store),
            vec![format!("{}.wav", new.file_id)]
        );
        assert_eq!(store.list_sounds(u.id).unwrap(), vec![new]);
    }

    #[test]
    fn already_exists_leaves_no_new_file_and_consumes_the_source() {
        let (dir, mut store) = open_in();
        let u = store.create_user("ann", "h", Role::User).unwrap();
        let first = store
            .save_sound_bytes(u.id, "s", b"one", meta_for(b"one"), false)
            .unwrap();
        let source = dir.path().join("up.part");
        fs::write(&source, b"two").unwrap();
        assert!(matches!(
            store.save_sound(u.id, "s", &source, meta_for(b"two"), false),
            Err(StoreError::AlreadyExists)
        ));
        assert!(!source.exists());
        assert!(matches!(
            store.save_sound_bytes(u.id, "s", b"two", meta_for(b"two"), false),
            Err(StoreError::AlreadyExists)
        ));
        assert_eq!(
            files_in_sounds(&store),
            vec![format!("{}.wav", first.file_id)]
        );
        assert_eq!(fs::read(store.sound_path(&first)).unwrap(), b"one");
    }

    #[test]
    fn sound_quota_counts_sounds_and_bytes_and_lets_an_overwrite_through() {
        let (_dir, mut store) = open_in();
        let u = store.create_user("ann", "h", Role::User).unwrap();
        let quota = SoundQuota {
            sounds: 2,
            bytes: 10,
        };
        store.check_sound_quota(u.id, "a", 10, quota).unwrap();
        let too_big = store.check_sound_quota(u.id, "a", 11, quota);
        assert!(matches!(
            too_big,
            Err(StoreError::QuotaExceeded {
                quota: Quota::SoundBytes,
                limit: 10
            })
        ));
        store
            .save_sound_bytes(u.id, "a", b"aaaa", meta_for(b"aaaa"), false)
            .unwrap();
        store
            .save_sound_bytes(u.id, "b", b"bbbb", meta_for(b"bbbb"), false)
            .unwrap();
        assert!(matches!(
            store.check_sound_quota(u.id, "c", 1, quota),
            Err(StoreError::QuotaExceeded {
                quota: Quota::Sounds,
                limit: 2
            })
        ));
        // Replacing "b" (4 bytes) by 6 bytes: 4 + 6 = 10, within both.
        store.check_sound_quota(u.id, "b", 6, quota).unwrap();
        assert!(store.check_sound_quota(u.id, "b", 7, quota).is_err());
        let other = store.create_user("bob", "h", Role::User).unwrap();
        store.check_sound_quota(other.id, "a", 10, quota).unwrap();
    }

    #[test]
    fn failed_saves_leave_no_file() {
        let (_dir, mut store) = open_in();
        let u = store.create_user("ann", "h", Role::User).unwrap();
        // Unknown user: the foreign key fails, the installed file goes.
        assert!(matches!(
            store.save_sound_bytes(u.id + 7, "s", b"x", meta_for(b"x"), false),
            Err(StoreError::NotFound)
        ));
        // Size that does not match the file.
        let mut meta = meta_for(b"xyz");
        meta.size = 10;
        assert!(matches!(
            store.save_sound_bytes(u.id, "s", b"xyz", meta, false),
            Err(StoreError::Corrupt(_))
        ));
        assert!(files_in_sounds(&store).is_empty());
        assert!(store.list_sounds(u.id).unwrap().is_empty());
    }
}
