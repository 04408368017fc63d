//! `upload.*` and `sound.*`: each travels to the library actor as one
//! [`LibraryOp`] carrying the operation as the client sent it.

use actix::prelude::*;
use bytes::Bytes;

use super::{ask, LoggedIn, Pending, Session};
use crate::actors::library::LibraryOp;
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
        let work = ask(library.send(LibraryOp {
            owner: user.user_id,
            op,
            payload,
        }));
        self.outstanding.wait(id, Pending::Plain);
        ctx.spawn(
            work.into_actor(self)
                .map(move |result, session, ctx| match result {
                    Ok(answer) => session.answer(id, Ok(answer.result), &answer.payload, ctx),
                    Err(err) => session.answer::<Empty>(id, Err(err), &[], ctx),
                }),
        );
    }
}
