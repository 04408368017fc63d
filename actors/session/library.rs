//! `upload.*` and `sound.*`: each travels to the library actor as one
//! [`LibraryOp`] carrying the operation as the client sent it.

use actix::prelude::*;
use bytes::Bytes;

use super::{ask, LoggedIn, Pending, Session};
use crate::actors::audio_jobs;
use crate::actors::library::{AudioInput, LibraryOp};
use crate::protocol::response::SoundResult;
use crate::protocol::{Empty, ErrorCode, LibraryRequest, WireError};

impl Session {
    /// A library operation of `user`; `payload` is the request's (an
    /// upload's chunk, a sound saved inline).
    pub(super) fn library(
        &mut self,
        id: u32,
        user: LoggedIn,
        op: LibraryRequest,
        payload: Bytes,
        ctx: &mut Context<Self>,
    ) {
        let max = self.services.settings.max_upload_size;
        if let LibraryRequest::UploadBegin(begin) = &op {
            if begin.size > max {
                let err = WireError::new(
                    ErrorCode::TooLarge,
                    format!("uploads may have at most {max} bytes"),
                );
                return self.send_error(id, &err);
            }
        }
        let library = self.services.library.clone();
        let owner = user.user_id;
        self.outstanding.wait(id, Pending::Plain);
        if let LibraryRequest::SoundSave(save) = op {
            // Decoded and hashed off the library's thread, then stored.
            let work = async move {
                let input = AudioInput::of_request(save.upload_id, payload, "upload_id")?;
                let sound =
                    audio_jobs::save_sound(library, owner, save.name, input, save.overwrite)
                        .await?;
                Ok(SoundResult { sound })
            };
            ctx.spawn(
                work.into_actor(self)
                    .map(move |result, session, ctx| session.answer(id, result, &[], ctx)),
            );
            return;
        }
        let work = ask(library.send(LibraryOp { owner, op, payload }));
        ctx.spawn(
            work.into_actor(self)
                .map(move |result, session, ctx| match result {
                    Ok(answer) => session.answer(id, Ok(answer.result), &answer.payload, ctx),
                    Err(err) => session.answer::<Empty>(id, Err(err), &[], ctx),
                }),
        );
    }
}
