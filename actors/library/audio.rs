//! Where the audio of a count or a stream is, and consuming what a request
//! used once its audio was checked.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;

use super::{Library, LibraryResult};
use crate::dsp::{Options, TemplateAudio};
use crate::protocol::{TemplateSource, WireError};

/// Audio given to a request: inline (the payload) or a finished upload.
#[derive(Debug, Clone)]
pub enum AudioInput {
    /// The request's payload.
    Inline(Bytes),
    /// A finished upload of the user.
    Upload(String),
}

impl AudioInput {
    /// Audio given either as the upload named in `field` or as the payload,
    /// exactly one of them (else `bad_request`).
    pub fn of_request(upload: Option<String>, payload: Bytes, field: &str) -> LibraryResult<Self> {
        match (upload, payload.is_empty()) {
            (Some(id), true) => Ok(AudioInput::Upload(id)),
            (None, false) => Ok(AudioInput::Inline(payload)),
            (Some(_), false) => Err(WireError::bad_request(format!(
                "give either `{field}` or a payload, not both"
            ))),
            (None, true) => Err(WireError::bad_request(format!(
                "no audio: give `{field}` or the WAV file as the payload"
            ))),
        }
    }
}

/// A file that belongs to a count: removed when this value is dropped,
/// whatever the outcome (§5: "a recording is deleted once counted").
#[derive(Debug)]
pub struct RecordingFile(PathBuf);

impl RecordingFile {
    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for RecordingFile {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_file(&self.0) {
            if err.kind() != std::io::ErrorKind::NotFound {
                log::warn!(target: "library", "cannot remove recording {}: {err}", self.0.display());
            }
        }
    }
}

/// A count's recording, located but not consumed yet.
#[derive(Debug)]
pub enum StagedRecording {
    /// An inline recording, written to the uploads folder.
    Inline(RecordingFile),
    /// A finished upload, still the user's.
    Upload {
        /// The upload's id.
        id: String,
        /// Where its bytes are.
        path: PathBuf,
    },
}

impl StagedRecording {
    /// Where the recording's bytes are.
    pub fn path(&self) -> &Path {
        match self {
            StagedRecording::Inline(file) => file.path(),
            StagedRecording::Upload { path, .. } => path,
        }
    }
}

/// Everything an analysis worker needs for one count.
#[derive(Debug)]
pub struct CountJob {
    /// The template, decoded.
    pub template: TemplateAudio,
    /// The recording, on disk, removed when the job is dropped.
    pub recording: RecordingFile,
    /// The recording's length in seconds.
    pub total_s: f64,
    /// The engine's options.
    pub options: Options,
}

impl Library {
    // ----- audio for counting -----
    //
    // Decoding is CPU work and runs off this thread (super::audio_jobs):
    // the library only says where the audio is, then consumes what a
    // request used once its audio has been checked.

    /// Where a template's bytes are (a saved sound or a finished upload),
    /// without consuming anything.
    pub fn template_path(&mut self, owner: i64, source: &TemplateSource) -> LibraryResult<PathBuf> {
        match source {
            TemplateSource::Sound(name) => {
                let row = self.sound(owner, name)?;
                Ok(self.store.sound_path(&row))
            }
            TemplateSource::Upload(id) => self.upload_path(owner, id),
        }
    }

    /// Where a count's recording is: an inline one is written to the
    /// uploads folder (removed with the returned file), an upload is only
    /// located. Also the longest recording allowed, for the check.
    pub fn stage_recording(
        &mut self,
        owner: i64,
        recording: AudioInput,
    ) -> LibraryResult<(StagedRecording, Duration)> {
        let staged = match recording {
            AudioInput::Inline(bytes) => {
                StagedRecording::Inline(RecordingFile(self.write_inline(&bytes)?))
            }
            AudioInput::Upload(id) => {
                let path = self.upload_path(owner, &id)?;
                StagedRecording::Upload { id, path }
            }
        };
        Ok((staged, self.max_audio))
    }

    /// Consumes what a checked request used: the template upload, if any,
    /// and the recording's upload, if any (which becomes the returned file,
    /// removed once counted). Nothing is consumed unless all of it is there.
    pub fn consume(
        &mut self,
        owner: i64,
        template: &TemplateSource,
        recording: Option<StagedRecording>,
    ) -> LibraryResult<Option<RecordingFile>> {
        if let TemplateSource::Upload(id) = template {
            self.spool.peek(owner, id)?;
        }
        if let Some(StagedRecording::Upload { id, .. }) = &recording {
            self.spool.peek(owner, id)?;
        }
        if let TemplateSource::Upload(id) = template {
            drop(RecordingFile(self.spool.take(owner, id)?.path));
        }
        Ok(match recording {
            None => None,
            Some(StagedRecording::Inline(file)) => Some(file),
            Some(StagedRecording::Upload { id, .. }) => {
                Some(RecordingFile(self.spool.take(owner, &id)?.path))
            }
        })
    }

    /// Writes an inline recording to a fresh `.part` file in the uploads
    /// folder (emptied at start, so a crash leaves nothing behind).
    fn write_inline(&self, bytes: &[u8]) -> LibraryResult<PathBuf> {
        let path = self
            .store
            .uploads_dir()
            .join(format!("inline-{:032x}.part", rand::random::<u128>()));
        std::fs::write(&path, bytes)
            .map_err(|err| WireError::internal(format!("{}: {err}", path.display())))?;
        Ok(path)
    }
}
