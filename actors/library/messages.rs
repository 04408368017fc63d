//! The library's messages: each is handled by one method of [`Library`].

use std::path::PathBuf;
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;

use super::{AudioInput, Library, LibraryResult, LoginGrant, RecordingFile, StagedRecording};
use crate::protocol::response::{
    SoundChunk, SoundInfo, SoundList, SoundResult, UploadBegun, UploadFinished, UploadReceived,
    UserInfo,
};
use crate::protocol::{Empty, LibraryRequest, Role, TemplateSource, WireError};
use crate::store::{FinishedUpload, SoundMeta, UserRow};

/// Declares a message of the library, its result, and a handler that calls
/// one method of [`Library`] under the panic guard ([`Library::guarded`]).
macro_rules! library_message {
    ($(#[$meta:meta])* $name:ident { $($field:ident : $ty:ty),* $(,)? } -> $result:ty, |$lib:ident, $msg:ident| $body:expr) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name { $(#[allow(missing_docs)] pub $field: $ty),* }

        impl Message for $name {
            type Result = LibraryResult<$result>;
        }

        impl Handler<$name> for Library {
            type Result = LibraryResult<$result>;
            fn handle(&mut self, $msg: $name, _: &mut SyncContext<Self>) -> Self::Result {
                self.guarded(stringify!($name), |$lib: &mut Library| $body)
            }
        }
    };
}

library_message!(
    /// Creates an account (rules checked, password hashed by the caller).
    CreateUser { username: String, password_hash: String, role: Role } -> (),
    |lib, m| lib.create_user(&m.username, &m.password_hash, m.role)
);
library_message!(
    /// Looks an account up by username, any case.
    FindUser { username: String } -> Option<UserRow>,
    |lib, m| lib.find_user(&m.username)
);
library_message!(
    /// Completes a login whose password was verified.
    GrantLogin { user_id: i64 } -> LoginGrant,
    |lib, m| lib.grant_login(m.user_id)
);
library_message!(
    /// Spends a resume token.
    ResumeLogin { token: String } -> Option<LoginGrant>,
    |lib, m| lib.resume(&m.token)
);
library_message!(
    /// Revokes every resume token of a login.
    RevokeLogin { login_id: i64 } -> (),
    |lib, m| lib.revoke_login(m.login_id)
);
library_message!(
    /// `sound.save`, its audio checked.
    StoreSound { owner: i64, name: String, input: AudioInput, meta: SoundMeta, overwrite: bool } -> SoundInfo,
    |lib, m| lib.store_sound(m.owner, &m.name, m.input, m.meta, m.overwrite)
);
library_message!(
    /// A finished upload: where it is, its verified size and SHA-256 (not consumed).
    PeekUpload { owner: i64, upload_id: String } -> FinishedUpload,
    |lib, m| lib.peek_upload(m.owner, &m.upload_id)
);
library_message!(
    /// Where a template is (not consumed).
    TemplatePath { owner: i64, template: TemplateSource } -> PathBuf,
    |lib, m| lib.template_path(m.owner, &m.template)
);
library_message!(
    /// Where a count's recording is, and the longest allowed.
    StageRecording { owner: i64, recording: AudioInput } -> (StagedRecording, Duration),
    |lib, m| lib.stage_recording(m.owner, m.recording)
);
library_message!(
    /// Consumes the uploads a checked request used.
    Consume { owner: i64, template: TemplateSource, recording: Option<StagedRecording> } -> Option<RecordingFile>,
    |lib, m| lib.consume(m.owner, &m.template, m.recording)
);
library_message!(
    /// `admin.users`.
    ListUsers {} -> Vec<UserInfo>,
    |lib, _m| lib.list_users()
);
library_message!(
    /// `admin.user.delete`: the account's id.
    DeleteUser { username: String } -> i64,
    |lib, m| lib.delete_user(&m.username)
);
library_message!(
    /// `admin.user.role`: the account's id.
    SetRole { username: String, role: Role } -> i64,
    |lib, m| lib.set_role(&m.username, m.role)
);
library_message!(
    /// Periodic purge of idle uploads and expired tokens.
    Housekeeping {} -> (),
    |lib, _m| { lib.housekeeping(); Ok(()) }
);

/// An operation on a user's uploads and saved sounds (`upload.*`,
/// `sound.*`), carried as the client sent it, with the request's payload.
#[derive(Debug)]
pub struct LibraryOp {
    /// The logged-in user.
    pub owner: i64,
    /// The operation.
    pub op: LibraryRequest,
    /// The request's payload (an upload's chunk, a sound saved inline).
    pub payload: Bytes,
}

impl Message for LibraryOp {
    type Result = LibraryResult<LibraryAnswer>;
}

/// What a library operation answers: the fields of its `ok`, and the bytes
/// of a `sound.get` (its payload).
#[derive(Debug)]
pub struct LibraryAnswer {
    /// The result fields.
    pub result: LibraryResultFields,
    /// The payload of the answer (empty but for `sound.get`).
    pub payload: Vec<u8>,
}

/// The result fields of each library operation.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum LibraryResultFields {
    /// `upload.begin`.
    UploadBegun(UploadBegun),
    /// `upload.chunk`.
    UploadReceived(UploadReceived),
    /// `upload.finish`.
    UploadFinished(UploadFinished),
    /// `sound.list`.
    Sounds(SoundList),
    /// `sound.save`, `sound.rename`.
    Sound(SoundResult),
    /// `sound.get`.
    Chunk(SoundChunk),
    /// `upload.abort`, `sound.delete`.
    Done(Empty),
}

impl LibraryAnswer {
    fn fields(result: LibraryResultFields) -> Self {
        LibraryAnswer {
            result,
            payload: Vec::new(),
        }
    }
}

impl Handler<LibraryOp> for Library {
    type Result = LibraryResult<LibraryAnswer>;

    fn handle(&mut self, op: LibraryOp, _: &mut SyncContext<Self>) -> Self::Result {
        let kind = op.op.kind().as_str();
        self.guarded(kind, |lib| lib.apply(op.owner, op.op, op.payload))
    }
}

impl Library {
    /// Applies one library operation of user `owner`.
    pub fn apply(
        &mut self,
        owner: i64,
        op: LibraryRequest,
        payload: Bytes,
    ) -> LibraryResult<LibraryAnswer> {
        use LibraryResultFields as R;
        let result = match op {
            LibraryRequest::UploadBegin(begin) => R::UploadBegun(UploadBegun {
                upload_id: self.upload_begin(owner, begin.size, &begin.sha256)?,
            }),
            LibraryRequest::UploadChunk(chunk) => R::UploadReceived(UploadReceived {
                received: self.upload_chunk(owner, &chunk.upload_id, chunk.offset, &payload)?,
            }),
            LibraryRequest::UploadFinish(finish) => R::UploadFinished(UploadFinished {
                size: self.upload_finish(owner, &finish.upload_id)?,
                upload_id: finish.upload_id,
            }),
            LibraryRequest::UploadAbort(abort) => {
                self.upload_abort(owner, &abort.upload_id)?;
                R::Done(Empty {})
            }
            LibraryRequest::SoundList => R::Sounds(SoundList {
                sounds: self.list_sounds(owner)?,
            }),
            // Its audio is decoded off this thread first (`audio_jobs::save_sound`,
            // then `StoreSound`): a save never reaches the library as an operation.
            LibraryRequest::SoundSave(_) => {
                return Err(WireError::internal(
                    "sound.save goes through audio_jobs::save_sound",
                ))
            }
            LibraryRequest::SoundGet(get) => {
                let (sound, bytes) = self.get_sound(owner, &get.name, get.offset)?;
                return Ok(LibraryAnswer {
                    result: R::Chunk(SoundChunk {
                        sound,
                        offset: get.offset,
                    }),
                    payload: bytes,
                });
            }
            LibraryRequest::SoundRename(rename) => R::Sound(SoundResult {
                sound: self.rename_sound(owner, &rename.name, &rename.new_name)?,
            }),
            LibraryRequest::SoundDelete(delete) => {
                self.delete_sound(owner, &delete.name)?;
                R::Done(Empty {})
            }
        };
        Ok(LibraryAnswer::fields(result))
    }
}
