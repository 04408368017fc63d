//! One typed method per request of PROTOCOL.md §5, each sending the
//! protocol's own request type ([`Request`]); admin requests go through
//! [`Client::call`] with an [`AdminRequest`](crate::protocol::AdminRequest).

use bytes::Bytes;
use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::upload::inline_payload;
use super::{AudioSource, Client, ClientError, PendingRequest};
use crate::protocol::request::{
    Cancel, Count, Login, Resume, Signup, SoundDelete, SoundGet, SoundRename, SoundSave,
    StreamOpen, StreamRef,
};
use crate::protocol::response::{
    CountResult, PingResult, SoundChunk, SoundList, SoundResult, StreamClosed, StreamOpened,
    StreamProgress,
};
use crate::protocol::{
    CountOptions, LibraryRequest, LoginResult, OpenRequest, PcmFormat, Push, Request, SoundInfo,
    StreamRequest, TemplateSource, UserRequest,
};

/// A library operation as a request.
fn library(op: LibraryRequest) -> Request {
    Request::User(UserRequest::Library(op))
}

/// A live-counting request.
fn stream(request: StreamRequest) -> Request {
    Request::User(UserRequest::Stream(request))
}

impl Client {
    /// Sends `request` with `payload` and waits for its final answer.
    pub async fn call(
        &self,
        request: &Request,
        payload: Bytes,
    ) -> Result<super::Reply, ClientError> {
        self.request(Value::Object(request.header()), payload).await
    }

    /// Sends `request` with `payload` and returns at once (for requests
    /// with pushes, or that one may `cancel`).
    pub async fn start(
        &self,
        request: &Request,
        payload: Bytes,
    ) -> Result<PendingRequest, ClientError> {
        self.send(Value::Object(request.header()), payload).await
    }

    /// `signup`: creates an account (does not log in).
    pub async fn signup(&self, username: &str, password: &str) -> Result<(), ClientError> {
        let request = Request::Open(OpenRequest::Signup(Signup {
            username: username.to_owned(),
            password: password.to_owned(),
        }));
        self.call(&request, Bytes::new()).await.map(drop)
    }

    /// `login`: logs this session in.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginResult, ClientError> {
        let request = Request::Open(OpenRequest::Login(Login {
            username: username.to_owned(),
            password: password.to_owned(),
        }));
        self.call(&request, Bytes::new()).await?.parse()
    }

    /// `resume`: logs in again with a resume token (single use; the answer
    /// carries a fresh one).
    pub async fn resume(&self, token: &str) -> Result<LoginResult, ClientError> {
        let request = Request::Open(OpenRequest::Resume(Resume {
            token: token.to_owned(),
        }));
        self.call(&request, Bytes::new()).await?.parse()
    }

    /// `logout`: the session stays open, logged out; its resume token is revoked.
    pub async fn logout(&self) -> Result<(), ClientError> {
        let request = Request::User(UserRequest::Logout);
        self.call(&request, Bytes::new()).await.map(drop)
    }

    /// `ping`: keeps the session alive; returns the server's clock.
    pub async fn ping(&self) -> Result<PingResult, ClientError> {
        let request = Request::Open(OpenRequest::Ping);
        self.call(&request, Bytes::new()).await?.parse()
    }

    /// `sound.list`: the user's saved sounds.
    pub async fn sound_list(&self) -> Result<Vec<SoundInfo>, ClientError> {
        let request = library(LibraryRequest::SoundList);
        let list: SoundList = self.call(&request, Bytes::new()).await?.parse()?;
        Ok(list.sounds)
    }

    /// `sound.save`: saves `audio` under `name`, inline when it fits in one
    /// frame, else through an upload.
    pub async fn sound_save(
        &self,
        name: &str,
        audio: impl Into<AudioSource>,
        overwrite: bool,
    ) -> Result<SoundInfo, ClientError> {
        let audio = audio.into();
        let mut save = SoundSave {
            name: name.to_owned(),
            upload_id: None,
            overwrite,
        };
        let inline = library(LibraryRequest::SoundSave(save.clone()));
        let payload = match inline_payload(&inline.header(), &audio).await? {
            Some(payload) => payload,
            None => {
                save.upload_id = Some(self.upload(audio, |_, _| {}).await?.upload_id);
                Bytes::new()
            }
        };
        let request = library(LibraryRequest::SoundSave(save));
        let saved: SoundResult = self.call(&request, payload).await?.parse()?;
        Ok(saved.sound)
    }

    /// `sound.save` of a finished upload (after [`Client::upload`] with a
    /// progress callback).
    pub async fn sound_save_upload(
        &self,
        name: &str,
        upload_id: &str,
        overwrite: bool,
    ) -> Result<SoundInfo, ClientError> {
        let request = library(LibraryRequest::SoundSave(SoundSave {
            name: name.to_owned(),
            upload_id: Some(upload_id.to_owned()),
            overwrite,
        }));
        let saved: SoundResult = self.call(&request, Bytes::new()).await?.parse()?;
        Ok(saved.sound)
    }

    /// `sound.get`, repeated with the next offset until the whole file has
    /// been written to `out`; returns the sound's description.
    pub async fn sound_get<W: AsyncWrite + Unpin>(
        &self,
        name: &str,
        out: &mut W,
    ) -> Result<SoundInfo, ClientError> {
        let mut offset = 0u64;
        loop {
            let request = library(LibraryRequest::SoundGet(SoundGet {
                name: name.to_owned(),
                offset,
            }));
            let reply = self.call(&request, Bytes::new()).await?;
            let chunk: SoundChunk = reply.parse()?;
            let size = chunk.sound.size;
            let got = reply.payload.len() as u64;
            if chunk.offset != offset || offset.saturating_add(got) > size {
                return Err(ClientError::Protocol(format!(
                    "sound.get asked offset {offset}, got {got} bytes at offset {} of a {size}-byte file",
                    chunk.offset
                )));
            }
            out.write_all(&reply.payload).await?;
            offset += got;
            if offset == size {
                out.flush().await?;
                return Ok(chunk.sound);
            }
            if got == 0 {
                return Err(ClientError::Protocol(format!(
                    "sound.get returned no bytes at offset {offset} of a {size}-byte file"
                )));
            }
        }
    }

    /// `sound.rename`.
    pub async fn sound_rename(&self, name: &str, new_name: &str) -> Result<SoundInfo, ClientError> {
        let request = library(LibraryRequest::SoundRename(SoundRename {
            name: name.to_owned(),
            new_name: new_name.to_owned(),
        }));
        let renamed: SoundResult = self.call(&request, Bytes::new()).await?.parse()?;
        Ok(renamed.sound)
    }

    /// `sound.delete`.
    pub async fn sound_delete(&self, name: &str) -> Result<(), ClientError> {
        let request = library(LibraryRequest::SoundDelete(SoundDelete {
            name: name.to_owned(),
        }));
        self.call(&request, Bytes::new()).await.map(drop)
    }

    /// Sends a `count` and returns at once: read its `progress` pushes with
    /// [`PendingRequest::next_push`], cancel it with [`Client::cancel`] and
    /// its id. The recording goes inline if it fits in one frame, else it is
    /// uploaded first.
    pub async fn start_count(
        &self,
        template: &TemplateSource,
        recording: impl Into<AudioSource>,
        options: &CountOptions,
    ) -> Result<PendingRequest, ClientError> {
        let recording = recording.into();
        let mut count = Count {
            template: template.clone(),
            recording_upload: None,
            options: *options,
        };
        let inline = Request::User(UserRequest::Count(count.clone()));
        let payload = match inline_payload(&inline.header(), &recording).await? {
            Some(payload) => payload,
            None => {
                count.recording_upload = Some(self.upload(recording, |_, _| {}).await?.upload_id);
                Bytes::new()
            }
        };
        self.start(&Request::User(UserRequest::Count(count)), payload)
            .await
    }

    /// `count`: how many times the template occurs in the recording, with
    /// every event (gathered from the pushes when the answer lists none).
    /// `on_progress(done_s, total_s)` is called for each `progress` push.
    pub async fn count(
        &self,
        template: &TemplateSource,
        recording: impl Into<AudioSource>,
        options: &CountOptions,
        mut on_progress: impl FnMut(f64, f64),
    ) -> Result<CountResult, ClientError> {
        let pending = self.start_count(template, recording, options).await?;
        let reply = pending
            .answer_with(|push| {
                if let Push::Progress {
                    done_s, total_s, ..
                } = push
                {
                    on_progress(done_s, total_s);
                }
            })
            .await?;
        reply.count_result()
    }

    /// `cancel`: ends the running `count` or `admin.tail` with id `target`.
    pub async fn cancel(&self, target: u32) -> Result<(), ClientError> {
        let request = Request::User(UserRequest::Cancel(Cancel { target }));
        self.call(&request, Bytes::new()).await.map(drop)
    }

    /// `stream.open`: starts a live count of raw PCM in `format`; returns the `stream_id`.
    pub async fn stream_open(
        &self,
        template: &TemplateSource,
        format: &PcmFormat,
        options: &CountOptions,
    ) -> Result<String, ClientError> {
        let request = stream(StreamRequest::Open(StreamOpen {
            template: template.clone(),
            format: *format,
            options: *options,
        }));
        let opened: StreamOpened = self.call(&request, Bytes::new()).await?.parse()?;
        Ok(opened.stream_id)
    }

    /// `stream.data`: the next piece of PCM (it may end mid-sample).
    pub async fn stream_data(
        &self,
        stream_id: &str,
        pcm: Bytes,
    ) -> Result<StreamProgress, ClientError> {
        let request = stream(StreamRequest::Data(StreamRef {
            stream_id: stream_id.to_owned(),
        }));
        self.call(&request, pcm).await?.parse()
    }

    /// `stream.close`: ends the stream; returns every event.
    pub async fn stream_close(&self, stream_id: &str) -> Result<StreamClosed, ClientError> {
        let request = stream(StreamRequest::Close(StreamRef {
            stream_id: stream_id.to_owned(),
        }));
        self.call(&request, Bytes::new()).await?.parse()
    }
}
