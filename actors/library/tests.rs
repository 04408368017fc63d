//! The library's logic, tested without actors.

use std::path::Path;
use std::time::Duration;

use actix::{Handler, Message, SyncContext};
use bytes::Bytes;

use super::*;
use crate::actors::audio_jobs::{decode_template, recording_length, sound_meta, AudioBytes};
use crate::audio::SampleLayout;
use crate::dsp::Options;
use crate::protocol::{ErrorCode, TemplateSource};
use crate::store::hex_sha256;
use sha2::{Digest, Sha256};

/// `sound.save`'s steps, as [`super::super::audio_jobs::save_sound`]
/// runs them, without actors.
fn save(
    lib: &mut Library,
    owner: i64,
    name: &str,
    input: AudioInput,
    overwrite: bool,
) -> LibraryResult<SoundInfo> {
    let bytes = match &input {
        AudioInput::Inline(bytes) => AudioBytes::Memory(bytes.clone()),
        AudioInput::Upload(id) => AudioBytes::Upload(lib.peek_upload(owner, id)?),
    };
    let meta = sound_meta(&bytes)?;
    lib.store_sound(owner, name, input, meta, overwrite)
}

/// `count`'s preparation, as [`super::super::audio_jobs::prepare_count`]
/// runs it, without actors.
fn prepare(
    lib: &mut Library,
    owner: i64,
    template: &TemplateSource,
    recording: AudioInput,
) -> LibraryResult<CountJob> {
    let path = lib.template_path(owner, template)?;
    let (staged, max_audio) = lib.stage_recording(owner, recording)?;
    let audio = decode_template(&path)?;
    let total_s = recording_length(staged.path(), max_audio.as_secs_f64())?;
    let recording = lib.consume(owner, template, Some(staged))?.unwrap();
    Ok(CountJob {
        template: audio,
        recording,
        total_s,
        options: Options::default(),
    })
}

fn settings(dir: &Path) -> Settings {
    Settings {
        data_dir: dir.to_owned(),
        max_audio: Duration::from_secs(30),
        // Whatever the machine's free space (the reserve has tests of its own).
        disk_reserve: 0,
        ..Settings::default()
    }
}

/// A sine of `seconds` at 8 kHz as 16-bit mono WAV.
fn wav_bytes(seconds: f32) -> Vec<u8> {
    let rate = 8_000;
    let samples: Vec<f32> = (0..(seconds * rate as f32) as usize)
        .map(|i| (i as f32 * 0.05).sin() * 0.5)
        .collect();
    crate::synth::wav_bytes(&samples, rate, 1, SampleLayout::S16)
}

fn upload(lib: &mut Library, owner: i64, bytes: &[u8]) -> String {
    let sha: [u8; 32] = Sha256::digest(bytes).into();
    let id = lib.upload_begin(owner, bytes.len() as u64, &sha).unwrap();
    lib.upload_chunk(owner, &id, 0, bytes).unwrap();
    lib.upload_finish(owner, &id).unwrap();
    id
}

#[test]
fn sounds_save_list_get_rename_delete() {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&settings(dir.path())).unwrap();
    lib.create_user("Alice", "hash", Role::User).unwrap();
    let alice = lib.find_user("alice").unwrap().unwrap().id;
    let wav = wav_bytes(0.5);
    let saved = save(
        &mut lib,
        alice,
        "bop",
        AudioInput::Inline(Bytes::from(wav.clone())),
        false,
    )
    .unwrap();
    assert_eq!(
        (saved.duration_ms, saved.sample_rate, saved.channels),
        (500, 8000, 1)
    );
    assert_eq!(saved.sha256, hex_sha256(&wav));
    let again = save(
        &mut lib,
        alice,
        "bop",
        AudioInput::Inline(Bytes::from(wav.clone())),
        false,
    );
    assert_eq!(again.unwrap_err().code, ErrorCode::AlreadyExists);
    // From an upload: consumed on success only.
    let id = upload(&mut lib, alice, &wav);
    let taken = save(
        &mut lib,
        alice,
        "bop",
        AudioInput::Upload(id.clone()),
        false,
    );
    assert_eq!(taken.unwrap_err().code, ErrorCode::AlreadyExists);
    save(
        &mut lib,
        alice,
        "bop2",
        AudioInput::Upload(id.clone()),
        false,
    )
    .unwrap();
    let gone = save(&mut lib, alice, "bop3", AudioInput::Upload(id), false);
    assert_eq!(gone.unwrap_err().code, ErrorCode::NotFound);
    let names: Vec<_> = lib
        .list_sounds(alice)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["bop", "bop2"]);
    let (info, bytes) = lib.get_sound(alice, "bop", 0).unwrap();
    assert_eq!((info.size, bytes), (wav.len() as u64, wav.clone()));
    let (_, tail) = lib.get_sound(alice, "bop", wav.len() as u64).unwrap();
    assert!(tail.is_empty());
    let past = lib
        .get_sound(alice, "bop", wav.len() as u64 + 1)
        .unwrap_err();
    assert_eq!(past.code, ErrorCode::BadRequest);
    assert_eq!(
        lib.rename_sound(alice, "bop", "bop2").unwrap_err().code,
        ErrorCode::AlreadyExists
    );
    assert_eq!(lib.rename_sound(alice, "bop", "beep").unwrap().name, "beep");
    lib.delete_sound(alice, "beep").unwrap();
    assert_eq!(
        lib.delete_sound(alice, "beep").unwrap_err().code,
        ErrorCode::NotFound
    );
}

#[test]
fn bad_audio_and_long_templates_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&settings(dir.path())).unwrap();
    lib.create_user("bob", "hash", Role::User).unwrap();
    let bob = lib.find_user("bob").unwrap().unwrap().id;
    let junk = save(
        &mut lib,
        bob,
        "x",
        AudioInput::Inline(Bytes::from_static(b"not audio")),
        false,
    );
    assert_eq!(junk.unwrap_err().code, ErrorCode::UnsupportedAudio);
    let long = wav_bytes(61.0);
    let id = upload(&mut lib, bob, &long);
    let err = save(&mut lib, bob, "x", AudioInput::Upload(id.clone()), false).unwrap_err();
    assert_eq!(err.code, ErrorCode::TooLarge);
    // The failed request did not consume the upload.
    assert!(lib.spool.peek(bob, &id).is_ok());
}

#[test]
fn count_preparation_checks_before_consuming_and_recordings_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&settings(dir.path())).unwrap();
    lib.create_user("carol", "hash", Role::User).unwrap();
    let carol = lib.find_user("carol").unwrap().unwrap().id;
    let template = upload(&mut lib, carol, &wav_bytes(0.3));
    let too_long = upload(&mut lib, carol, &wav_bytes(31.0));
    let source = TemplateSource::Upload(template.clone());
    let err = prepare(
        &mut lib,
        carol,
        &source,
        AudioInput::Upload(too_long.clone()),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::TooLarge);
    assert!(lib.spool.peek(carol, &template).is_ok(), "template kept");
    let job = prepare(
        &mut lib,
        carol,
        &source,
        AudioInput::Inline(Bytes::from(wav_bytes(2.0))),
    )
    .unwrap();
    assert!((job.total_s - 2.0).abs() < 1e-9);
    assert_eq!(
        lib.spool.peek(carol, &template).unwrap_err().to_string(),
        "not found"
    );
    let path = job.recording.path().to_owned();
    assert!(path.exists());
    drop(job);
    assert!(!path.exists(), "recording removed with the job");
}

#[test]
fn deleting_an_account_takes_everything_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&settings(dir.path())).unwrap();
    lib.create_user("Erin", "hash", Role::User).unwrap();
    // frank is an admin too, so that erin is not the last one.
    lib.create_user("frank", "hash", Role::Admin).unwrap();
    let erin = lib.find_user("erin").unwrap().unwrap().id;
    let frank = lib.find_user("frank").unwrap().unwrap().id;
    let wav = wav_bytes(0.2);
    save(
        &mut lib,
        erin,
        "a",
        AudioInput::Inline(Bytes::from(wav.clone())),
        false,
    )
    .unwrap();
    save(
        &mut lib,
        frank,
        "b",
        AudioInput::Inline(Bytes::from(wav.clone())),
        false,
    )
    .unwrap();
    let pending = upload(&mut lib, erin, &wav);
    let grant = lib.grant_login(erin).unwrap();
    lib.set_role("ERIN", Role::Admin).unwrap();
    let users = lib.list_users().unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(
        (users[0].username.as_str(), users[0].role),
        ("Erin", Role::Admin)
    );
    assert_eq!(users[0].sounds, 1);
    assert!(users[0].last_seen.as_deref().unwrap().ends_with('Z'));
    assert_eq!(users[1].last_seen, None);

    assert_eq!(lib.delete_user("erin").unwrap(), erin);
    assert!(lib.find_user("erin").unwrap().is_none());
    assert!(lib.resume(&grant.token).unwrap().is_none(), "tokens gone");
    assert!(lib.spool.peek(erin, &pending).is_err(), "uploads gone");
    assert!(lib.spool.is_empty());
    let files = std::fs::read_dir(dir.path().join("sounds"))
        .unwrap()
        .count();
    assert_eq!(files, 1, "only frank's sound is left");
    assert_eq!(lib.list_sounds(frank).unwrap().len(), 1);
    assert_eq!(
        lib.delete_user("erin").unwrap_err().code,
        ErrorCode::NotFound
    );
    assert_eq!(
        lib.set_role("nobody", Role::User).unwrap_err().code,
        ErrorCode::NotFound
    );
    // frank is now the last admin.
    assert_eq!(
        lib.delete_user("frank").unwrap_err().code,
        ErrorCode::Forbidden
    );
    assert_eq!(
        lib.set_role("FRANK", Role::User).unwrap_err().code,
        ErrorCode::Forbidden
    );
    assert_eq!(lib.list_sounds(frank).unwrap().len(), 1, "nothing changed");
}

#[test]
fn tokens_are_single_use() {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&settings(dir.path())).unwrap();
    lib.create_user("dave", "hash", Role::Admin).unwrap();
    let dave = lib.find_user("DAVE").unwrap().unwrap().id;
    let grant = lib.grant_login(dave).unwrap();
    assert_eq!((grant.username.as_str(), grant.role), ("dave", Role::Admin));
    let again = lib.resume(&grant.token).unwrap().unwrap();
    assert_ne!(again.token, grant.token);
    assert!(lib.resume(&grant.token).unwrap().is_none(), "spent");
    assert_eq!(
        again.login_id, grant.login_id,
        "a resume goes on with the login"
    );
    let other = lib.grant_login(dave).unwrap();
    assert_ne!(other.login_id, grant.login_id);
    lib.revoke_login(grant.login_id).unwrap();
    assert!(lib.resume(&again.token).unwrap().is_none(), "revoked");
    assert!(lib.resume(&other.token).unwrap().is_some(), "another login");
}

#[test]
fn a_login_ends_however_often_it_is_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&Settings {
        login_lifetime: Duration::from_millis(300),
        ..settings(dir.path())
    })
    .unwrap();
    lib.create_user("dave", "hash", Role::User).unwrap();
    let dave = lib.find_user("dave").unwrap().unwrap().id;
    let mut grant = lib.grant_login(dave).unwrap();
    for _ in 0..3 {
        grant = lib
            .resume(&grant.token)
            .unwrap()
            .expect("within the lifetime");
    }
    std::thread::sleep(Duration::from_millis(350));
    assert!(
        lib.resume(&grant.token).unwrap().is_none(),
        "the login ended"
    );
}

/// Makes every write of the library's database fail, as a full disk
/// would, while reads go on (`PRAGMA query_only`).
fn refuse_writes(lib: &mut Library, refuse: bool) {
    use diesel::RunQueryDsl;
    let pragma = format!("PRAGMA query_only = {}", if refuse { "ON" } else { "OFF" });
    diesel::sql_query(pragma)
        .execute(&mut lib.store.conn)
        .unwrap();
}

#[test]
fn logins_and_resumes_go_on_when_the_database_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&settings(dir.path())).unwrap();
    lib.create_user("gina", "hash", Role::User).unwrap();
    let gina = lib.find_user("gina").unwrap().unwrap().id;
    refuse_writes(&mut lib, true);
    let probe = crate::store::LoginSpan {
        login_id: 1,
        ends_at_ms: i64::MAX,
    };
    assert!(lib.store.insert_token(gina, "probe", 0, 1, probe).is_err());
    let grant = lib.grant_login(gina).unwrap();
    let again = lib.resume(&grant.token).unwrap().expect("kept in memory");
    lib.housekeeping();
    assert_eq!(lib.unsaved_tokens.len(), 1, "still no room");
    refuse_writes(&mut lib, false);
    assert!(lib.resume(&grant.token).unwrap().is_none(), "single use");
    lib.housekeeping();
    assert!(lib.unsaved_tokens.is_empty(), "written once there is room");
    drop(lib);
    let mut lib = Library::open(&settings(dir.path())).unwrap();
    let third = lib
        .resume(&again.token)
        .unwrap()
        .expect("survives a restart");
    lib.revoke_login(third.login_id).unwrap();
    assert!(lib.resume(&third.token).unwrap().is_none());
}

library_message!(
    /// Panics, as a bug would.
    Explode {} -> (),
    |_lib, _m| panic!("a bug in the library")
);

#[test]
fn a_panic_is_answered_internal_and_the_library_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let system = actix::System::new();
    system.block_on(async {
        let (library, _closed) = Library::start(&settings(dir.path())).unwrap();
        let err = library.send(Explode {}).await.unwrap().unwrap_err();
        assert_eq!(err.code, ErrorCode::Internal);
        library
            .send(CreateUser {
                username: "after".into(),
                password_hash: "hash".into(),
                role: Role::User,
            })
            .await
            .unwrap()
            .unwrap();
        let found = library
            .send(FindUser {
                username: "AFTER".into(),
            })
            .await
            .unwrap()
            .unwrap();
        assert!(found.is_some());
    });
}

#[test]
fn a_transaction_left_open_by_a_panic_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&settings(dir.path())).unwrap();
    let err = lib
        .guarded("test", |lib| {
            let _ = lib
                .store
                .conn
                .immediate_transaction::<(), crate::store::StoreError, _>(|_| {
                    panic!("in the middle of a transaction")
                });
            Ok(())
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Internal);
    lib.create_user("kept", "hash", Role::User).unwrap();
    drop(lib);
    let mut lib = Library::open(&settings(dir.path())).unwrap();
    assert!(
        lib.find_user("kept").unwrap().is_some(),
        "committed, not swallowed by the open transaction"
    );
}
