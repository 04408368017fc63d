//! One typed method per request of PROTOCOL.md §5 (admin requests excepted:
//! use [`Client::request`] for them).

use bytes::Bytes;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::upload::inline_payload;
use super::{AudioSource, Client, ClientError, PendingRequest};
use crate::protocol::response::{
    CountResult, PingResult, SoundChunk, SoundList, SoundResult, StreamClosed, StreamOpened,
    StreamProgress,
};
use crate::protocol::{CountOptions, LoginResult, PcmFormat, Push, SoundInfo, TemplateSource};

/// A header `{"type": kind}` to add fields to.
fn header(kind: &str) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("type".to_owned(), Value::from(kind));
    header
}

/// Adds `sound` or `template_upload`.
fn add_template(header: &mut Map<String, Value>, template: &TemplateSource) {
    let (field, value) = match template {
        TemplateSource::Sound(name) => ("sound", name),
        TemplateSource::Upload(upload_id) => ("template_upload", upload_id),
    };
    header.insert(field.to_owned(), Value::from(value.as_str()));
}

/// Adds `options` unless every option is the default.
fn add_options(header: &mut Map<String, Value>, options: &CountOptions) {
    let mut fields = Map::new();
    if let Some(threshold) = options.threshold {
        fields.insert("threshold".to_owned(), json!(threshold));
    }
    if let Some(min_gap_s) = options.min_gap_s {
        fields.insert("min_gap_s".to_owned(), json!(min_gap_s));
    }
    if !fields.is_empty() {
        header.insert("options".to_owned(), Value::Object(fields));
    }
}

impl Client {
    async fn call(
        &self,
        header: Map<String, Value>,
        payload: Bytes,
    ) -> Result<super::Reply, ClientError> {
        self.request(Value::Object(header), payload).await
    }

    /// `signup`: creates an account (does not log in).
    pub async fn signup(&self, username: &str, password: &str) -> Result<(), ClientError> {
        let request = json!({"type": "signup", "username": username, "password": password});
        self.request(request, Bytes::new()).await.map(drop)
    }

    /// `login`: logs this session in.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginResult, ClientError> {
        let request = json!({"type": "login", "username": username, "password": password});
        self.request(request, Bytes::new()).await?.parse()
    }

    /// `resume`: logs in again with a resume token (single use; the answer
    /// carries a fresh one).
    pub async fn resume(&self, token: &str) -> Result<LoginResult, ClientError> {
        let request = json!({"type": "resume", "token": token});
        self.request(request, Bytes::new()).await?.parse()
    }

    /// `logout`: the session stays open, logged out; its resume token is revoked.
    pub async fn logout(&self) -> Result<(), ClientError> {
        self.call(header("logout"), Bytes::new()).await.map(drop)
    }

    /// `ping`: keeps the session alive; returns the server's clock.
    pub async fn ping(&self) -> Result<PingResult, ClientError> {
        self.call(header("ping"), Bytes::new()).await?.parse()
    }

    /// `sound.list`: the user's saved sounds.
    pub async fn sound_list(&self) -> Result<Vec<SoundInfo>, ClientError> {
        let list: SoundList = self
            .call(header("sound.list"), Bytes::new())
            .await?
            .parse()?;
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
        let mut request = header("sound.save");
        request.insert("name".to_owned(), Value::from(name));
        request.insert("overwrite".to_owned(), Value::from(overwrite));
        let payload = match inline_payload(&request, &audio).await? {
            Some(payload) => payload,
            None => {
                let upload = self.upload(audio, |_, _| {}).await?;
                request.insert("upload_id".to_owned(), Value::from(upload.upload_id));
                Bytes::new()
            }
        };
        let saved: SoundResult = self.call(request, payload).await?.parse()?;
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
        let request = json!({"type": "sound.save", "name": name, "upload_id": upload_id, "overwrite": overwrite});
        let saved: SoundResult = self.request(request, Bytes::new()).await?.parse()?;
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
            let request = json!({"type": "sound.get", "name": name, "offset": offset});
            let reply = self.request(request, Bytes::new()).await?;
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
        let request = json!({"type": "sound.rename", "name": name, "new_name": new_name});
        let renamed: SoundResult = self.request(request, Bytes::new()).await?.parse()?;
        Ok(renamed.sound)
    }

    /// `sound.delete`.
    pub async fn sound_delete(&self, name: &str) -> Result<(), ClientError> {
        let request = json!({"type": "sound.delete", "name": name});
        self.request(request, Bytes::new()).await.map(drop)
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
        let mut request = header("count");
        add_template(&mut request, template);
        add_options(&mut request, options);
        let payload = match inline_payload(&request, &recording).await? {
            Some(payload) => payload,
            None => {
                let upload = self.upload(recording, |_, _| {}).await?;
                request.insert("recording_upload".to_owned(), Value::from(upload.upload_id));
                Bytes::new()
            }
        };
        self.send(Value::Object(request), payload).await
    }

    /// `count`: how many times the template occurs in the recording.
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
        reply.parse()
    }

    /// `cancel`: ends the running `count` or `admin.tail` with id `target`.
    pub async fn cancel(&self, target: u32) -> Result<(), ClientError> {
        let request = json!({"type": "cancel", "target": target});
        self.request(request, Bytes::new()).await.map(drop)
    }

    /// `stream.open`: starts a live count of raw PCM in `format`; returns the `stream_id`.
    pub async fn stream_open(
        &self,
        template: &TemplateSource,
        format: &PcmFormat,
        options: &CountOptions,
    ) -> Result<String, ClientError> {
        let mut request = header("stream.open");
        add_template(&mut request, template);
        request.insert(
            "format".to_owned(),
            json!({
                "encoding": format.encoding.as_wire(),
                "sample_rate": format.sample_rate,
                "channels": format.channels,
            }),
        );
        add_options(&mut request, options);
        let opened: StreamOpened = self.call(request, Bytes::new()).await?.parse()?;
        Ok(opened.stream_id)
    }

    /// `stream.data`: the next piece of PCM (it may end mid-sample).
    pub async fn stream_data(
        &self,
        stream_id: &str,
        pcm: Bytes,
    ) -> Result<StreamProgress, ClientError> {
        let request = json!({"type": "stream.data", "stream_id": stream_id});
        self.request(request, pcm).await?.parse()
    }

    /// `stream.close`: ends the stream; returns every event.
    pub async fn stream_close(&self, stream_id: &str) -> Result<StreamClosed, ClientError> {
        let request = json!({"type": "stream.close", "stream_id": stream_id});
        self.request(request, Bytes::new()).await?.parse()
    }
}
