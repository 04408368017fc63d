//! Requests that bring audio (`sound.save`, `count`, `stream.open`), in
//! three steps: the library says where the audio is, it is decoded and
//! checked on tokio's blocking threads, then the library stores it or
//! consumes the uploads it came from.
//!
//! Decoding an MP3 or AAC file is CPU work, milliseconds to seconds of it:
//! on the library's one thread it would hold up every other user's
//! database request, and on a session's event loop every connection of
//! that loop. So the library only ever touches paths and rows, and a failed
//! check consumes nothing (PROTOCOL.md §5: an upload is used by the first
//! request that succeeds with it).

use std::path::{Path, PathBuf};
use std::time::Instant;

use actix::prelude::*;
use bytes::Bytes;

use super::library::{
    AudioInput, Consume, CountJob, Library, PeekUpload, StageRecording, StoreSound, TemplatePath,
};
use super::timing::{JobTiming, Ms};
use crate::audio::{measure_duration, AudioReader};
use crate::dsp::{read_template, DspError, Options, TemplateAudio};
use crate::logging::SessionLog;
use crate::protocol::response::SoundInfo;
use crate::protocol::{ErrorCode, TemplateSource, WireError};
use crate::store::{hex_sha256, FinishedUpload, SoundMeta};

/// `sound.save`: the audio decoded whole (a template of at most 60 s), and
/// hashed when inline (an upload's hash was verified as it arrived), off
/// the library's thread, then stored.
pub async fn save_sound(
    library: Addr<Library>,
    owner: i64,
    name: String,
    input: AudioInput,
    overwrite: bool,
) -> Result<SoundInfo, WireError> {
    let bytes = match &input {
        AudioInput::Inline(bytes) => AudioBytes::Memory(bytes.clone()),
        AudioInput::Upload(id) => AudioBytes::Upload(
            ask(library.send(PeekUpload {
                owner,
                upload_id: id.clone(),
            }))
            .await?,
        ),
    };
    let meta = blocking(move || sound_meta(&bytes)).await??;
    ask(library.send(StoreSound {
        owner,
        name,
        input,
        meta,
        overwrite,
    }))
    .await
}

/// The template of a `stream.open`, decoded off the library's thread; a
/// template upload is consumed once it decoded (a saved sound needs no
/// second trip to the library). Where its time went is
/// logged at `debug` after `log`.
pub async fn stream_template(
    library: Addr<Library>,
    owner: i64,
    template: TemplateSource,
    log: SessionLog,
) -> Result<TemplateAudio, WireError> {
    let started = Instant::now();
    let path = template_path(&library, owner, &template).await?;
    let located = started.elapsed();
    let queued = Instant::now();
    let (audio, decoding) = blocking(move || {
        let running = JobTiming::start(queued);
        let audio = decode_template(&path);
        (audio, running.finish())
    })
    .await?;
    let audio = audio?;
    let consuming = Instant::now();
    // A saved sound is never consumed: only a template upload needs the
    // library again (one trip less through its queue for a live stream).
    if matches!(template, TemplateSource::Upload(_)) {
        ask(library.send(Consume {
            owner,
            template,
            recording: None,
        }))
        .await?;
    }
    log::debug!(target: "analysis::timing", "{log}: stream template: located {}, decoded ({decoding}), consumed {}",
        Ms(located), Ms(consuming.elapsed()));
    Ok(audio)
}

/// Everything a `count` needs: the template decoded and the recording's
/// length checked (both off the library's thread), then the uploads
/// consumed. A failure consumes nothing; an inline recording written for
/// the check is removed.
pub async fn prepare_count(
    library: Addr<Library>,
    owner: i64,
    template: TemplateSource,
    recording: AudioInput,
    options: Options,
) -> Result<CountJob, WireError> {
    let template_path = template_path(&library, owner, &template).await?;
    let (staged, max_audio) = ask(library.send(StageRecording { owner, recording })).await?;
    let (template_audio, total_s, staged) = blocking(move || {
        let checked = decode_template(&template_path).and_then(|audio| {
            let total_s = recording_length(staged.path(), max_audio.as_secs_f64())?;
            Ok((audio, total_s))
        });
        // The staged recording goes back either way: dropped on failure,
        // an inline one is removed.
        checked.map(|(audio, total_s)| (audio, total_s, staged))
    })
    .await??;
    let recording = ask(library.send(Consume {
        owner,
        template,
        recording: Some(staged),
    }))
    .await?
    .ok_or_else(|| WireError::internal("a count's recording went missing"))?;
    Ok(CountJob {
        template: template_audio,
        recording,
        total_s,
        options,
    })
}

/// Where a template's bytes are (a saved sound or a finished upload), from
/// the library, without consuming it.
async fn template_path(
    library: &Addr<Library>,
    owner: i64,
    template: &TemplateSource,
) -> Result<PathBuf, WireError> {
    ask(library.send(TemplatePath {
        owner,
        template: template.clone(),
    }))
    .await
}

/// Runs CPU-bound work on tokio's blocking threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, WireError> {
    actix_rt::task::spawn_blocking(work)
        .await
        .map_err(|err| WireError::internal(format!("blocking task failed: {err}")))
}

/// Waits for an actor's answer; a lost mailbox is an internal error.
pub(crate) async fn ask<T>(
    request: impl std::future::Future<Output = Result<Result<T, WireError>, MailboxError>>,
) -> Result<T, WireError> {
    request
        .await
        .map_err(|err| WireError::internal(format!("actor unreachable: {err}")))?
}

/// A sound's bytes, in a request's payload or in a finished upload.
#[derive(Debug, Clone)]
pub enum AudioBytes {
    /// The request's payload.
    Memory(Bytes),
    /// A finished upload on disk, its size and SHA-256 verified.
    Upload(FinishedUpload),
}

/// What the library stores about a sound, from its bytes decoded whole:
/// a sound that does not decode, or lasts over 60 s, is refused here.
pub fn sound_meta(bytes: &AudioBytes) -> Result<SoundMeta, WireError> {
    let reader = match bytes {
        AudioBytes::Memory(bytes) => AudioReader::from_bytes(bytes.clone()),
        AudioBytes::Upload(upload) => AudioReader::open(&upload.path),
    };
    let channels = reader.as_ref().map_or(0, |reader| reader.info().channels);
    let audio = reader
        .map_err(DspError::from)
        .and_then(read_template)
        .map_err(|err| labelled("the sound", err))?;
    let (size, sha256) = match bytes {
        AudioBytes::Memory(bytes) => (bytes.len() as u64, hex_sha256(bytes)),
        AudioBytes::Upload(upload) => (upload.size, upload.sha256.clone()),
    };
    Ok(SoundMeta {
        duration_ms: duration_ms(audio.samples.len() as u64, audio.sample_rate),
        sample_rate: audio.sample_rate as i32,
        channels: i32::from(channels),
        size: size as i64,
        sha256,
    })
}

/// Decodes a template (saved sound or upload) for a count or a stream.
pub fn decode_template(path: &Path) -> Result<TemplateAudio, WireError> {
    AudioReader::open(path)
        .map_err(DspError::from)
        .and_then(read_template)
        .map_err(|err| labelled("the template", err))
}

/// The length of a recording in seconds, checked against `max_audio_s`
/// (decoding stops once past it where the container does not say).
pub fn recording_length(path: &Path, max_audio_s: f64) -> Result<f64, WireError> {
    let total_s =
        measure_duration(path, max_audio_s).map_err(|err| labelled("the recording", err.into()))?;
    if total_s > max_audio_s {
        return Err(WireError::new(
            ErrorCode::TooLarge,
            format!("the recording lasts {total_s:.0} s; recordings may last at most {max_audio_s:.0} s"),
        ));
    }
    Ok(total_s)
}

/// The wire error of a decoding failure, saying which audio it was about.
fn labelled(what: &str, err: DspError) -> WireError {
    let mut wire = WireError::from(err);
    if wire.code != ErrorCode::Internal {
        wire.message = format!("{what}: {}", wire.message);
    }
    wire
}

fn duration_ms(frames: u64, rate: u32) -> i64 {
    let rate = u64::from(rate.max(1));
    i64::try_from((frames * 1000 + rate / 2) / rate).unwrap_or(i64::MAX)
}
