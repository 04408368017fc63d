//! Audio to send: inline as a request's payload when it fits in one frame,
//! else as an upload (§5 `upload.*`).
//!
//! A file is never held in memory whole unless it is sent inline: its
//! SHA-256 is computed while reading it, and its chunks are read one at a time.

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Client, ClientError};
use crate::protocol::request::{UploadBegin, UploadChunk, UploadRef};
use crate::protocol::response::{UploadBegun, UploadFinished};
use crate::protocol::{ErrorCode, LibraryRequest, Request, UserRequest, MAX_MESSAGE_LEN};

/// A library operation as a request.
fn library(op: LibraryRequest) -> Request {
    Request::User(UserRequest::Library(op))
}

/// Payload bytes of one `upload.chunk` (the same bound as `sound.get`'s), so
/// the header and the AEAD tag fit in the 1 MiB frame beside them.
pub const UPLOAD_CHUNK_LEN: usize = 1_000_000;

/// How many times a file is sent again after `checksum_mismatch` (§5).
pub const UPLOAD_RETRIES: u32 = 3;

/// Bytes read at a time while hashing a file.
const HASH_BUFFER_LEN: usize = 256 * 1024;

/// Room kept for the `"id":4294967295` the client adds to a header.
const ID_FIELD_ROOM: usize = 16;

/// Audio to send: a file, or bytes already in memory.
#[derive(Debug, Clone)]
pub enum AudioSource {
    /// A file, read when sent.
    File(PathBuf),
    /// Bytes in memory.
    Bytes(Bytes),
}

impl From<&Path> for AudioSource {
    fn from(path: &Path) -> Self {
        AudioSource::File(path.to_owned())
    }
}

impl From<PathBuf> for AudioSource {
    fn from(path: PathBuf) -> Self {
        AudioSource::File(path)
    }
}

impl From<Bytes> for AudioSource {
    fn from(bytes: Bytes) -> Self {
        AudioSource::Bytes(bytes)
    }
}

impl From<Vec<u8>> for AudioSource {
    fn from(bytes: Vec<u8>) -> Self {
        AudioSource::Bytes(Bytes::from(bytes))
    }
}

impl AudioSource {
    /// Its size in bytes.
    pub async fn len(&self) -> Result<u64, ClientError> {
        Ok(match self {
            AudioSource::File(path) => tokio::fs::metadata(path).await?.len(),
            AudioSource::Bytes(bytes) => bytes.len() as u64,
        })
    }

    /// Whether it holds no byte at all.
    pub async fn is_empty(&self) -> Result<bool, ClientError> {
        Ok(self.len().await? == 0)
    }

    /// All of it, in memory (only for what is sent inline).
    async fn read_all(&self) -> Result<Bytes, ClientError> {
        Ok(match self {
            AudioSource::File(path) => Bytes::from(tokio::fs::read(path).await?),
            AudioSource::Bytes(bytes) => bytes.clone(),
        })
    }

    /// Size and lower-case hex SHA-256, reading a file in bounded pieces.
    async fn size_and_sha256(&self) -> Result<(u64, [u8; 32]), ClientError> {
        let mut hasher = Sha256::new();
        let size = match self {
            AudioSource::Bytes(bytes) => {
                hasher.update(bytes);
                bytes.len() as u64
            }
            AudioSource::File(path) => {
                let mut file = tokio::fs::File::open(path).await?;
                let mut buffer = vec![0u8; HASH_BUFFER_LEN];
                let mut size = 0u64;
                loop {
                    let n = file.read(&mut buffer).await?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buffer[..n]);
                    size += n as u64;
                }
                size
            }
        };
        Ok((size, hasher.finalize().into()))
    }

    /// A reader of its bytes from the start.
    async fn chunks(&self) -> Result<ChunkReader, ClientError> {
        Ok(match self {
            AudioSource::File(path) => ChunkReader::File(tokio::fs::File::open(path).await?),
            AudioSource::Bytes(bytes) => ChunkReader::Bytes(bytes.clone()),
        })
    }
}

/// Reads a source chunk by chunk.
enum ChunkReader {
    File(tokio::fs::File),
    Bytes(Bytes),
}

impl ChunkReader {
    /// The next `len` bytes (fewer only at the end of the source).
    async fn next(&mut self, len: usize) -> Result<Bytes, ClientError> {
        match self {
            ChunkReader::Bytes(bytes) => Ok(bytes.split_to(len.min(bytes.len()))),
            ChunkReader::File(file) => read_up_to(file, len).await,
        }
    }
}

async fn read_up_to<R: AsyncRead + Unpin>(
    reader: &mut R,
    len: usize,
) -> Result<Bytes, ClientError> {
    let mut chunk = BytesMut::with_capacity(len);
    while chunk.len() < len {
        let mut limited = (&mut *reader).take((len - chunk.len()) as u64);
        if limited.read_buf(&mut chunk).await? == 0 {
            break;
        }
    }
    Ok(chunk.freeze())
}

/// Whether a message with `header` (before its id is added) and a payload of
/// `payload_len` bytes fits in one frame.
pub(super) fn fits_inline(header: &Map<String, Value>, payload_len: u64) -> bool {
    let header_len = serde_json::to_vec(header).map_or(usize::MAX, |json| json.len());
    let overhead = 4usize
        .saturating_add(header_len)
        .saturating_add(ID_FIELD_ROOM);
    payload_len <= MAX_MESSAGE_LEN.saturating_sub(overhead) as u64
}

/// Inline payload of `audio` if it fits beside `header`, else `None`.
pub(super) async fn inline_payload(
    header: &Map<String, Value>,
    audio: &AudioSource,
) -> Result<Option<Bytes>, ClientError> {
    if fits_inline(header, audio.len().await?) {
        Ok(Some(audio.read_all().await?))
    } else {
        Ok(None)
    }
}

impl Client {
    /// Uploads `audio` (`upload.begin`, chunks, `upload.finish`) and returns
    /// the finished upload, usable once. `on_progress(sent, size)` is called
    /// after each chunk. On `checksum_mismatch` (the bytes changed on the
    /// way, or the file while it was read) the whole file is hashed and sent
    /// again, up to [`UPLOAD_RETRIES`] times.
    pub async fn upload(
        &self,
        audio: impl Into<AudioSource>,
        mut on_progress: impl FnMut(u64, u64),
    ) -> Result<UploadFinished, ClientError> {
        let audio = audio.into();
        let mut retries = 0;
        loop {
            match self.upload_once(&audio, &mut on_progress).await {
                Err(err)
                    if err.is_code(ErrorCode::ChecksumMismatch) && retries < UPLOAD_RETRIES =>
                {
                    retries += 1;
                    log::warn!(target: "library", "upload failed its checksum; sending it again ({retries} of {UPLOAD_RETRIES})");
                }
                result => return result,
            }
        }
    }

    /// Uploads the file at `path`; see [`Client::upload`].
    pub async fn upload_file(
        &self,
        path: &Path,
        on_progress: impl FnMut(u64, u64),
    ) -> Result<UploadFinished, ClientError> {
        self.upload(path, on_progress).await
    }

    async fn upload_once(
        &self,
        audio: &AudioSource,
        on_progress: &mut impl FnMut(u64, u64),
    ) -> Result<UploadFinished, ClientError> {
        let (size, sha256) = audio.size_and_sha256().await?;
        let begin = library(LibraryRequest::UploadBegin(UploadBegin { size, sha256 }));
        let begun: UploadBegun = self.call(&begin, Bytes::new()).await?.parse()?;
        let upload_id = begun.upload_id;
        let result = self.send_chunks(audio, &upload_id, size, on_progress).await;
        if let Err(err) = &result {
            // A mismatched upload is discarded by the server; any other
            // failure leaves one behind, which we abort if we still can.
            let discarded = err.is_code(ErrorCode::ChecksumMismatch);
            if !discarded && !matches!(err, ClientError::Closed { .. }) {
                let abort = library(LibraryRequest::UploadAbort(UploadRef {
                    upload_id: upload_id.clone(),
                }));
                if let Err(abort_err) = self.call(&abort, Bytes::new()).await {
                    log::debug!(target: "library", "upload.abort after a failed upload: {abort_err}");
                }
            }
        }
        result
    }

    async fn send_chunks(
        &self,
        audio: &AudioSource,
        upload_id: &str,
        size: u64,
        on_progress: &mut impl FnMut(u64, u64),
    ) -> Result<UploadFinished, ClientError> {
        let mut reader = audio.chunks().await?;
        let mut offset = 0u64;
        on_progress(0, size);
        while offset < size {
            let want = usize::try_from(size - offset)
                .map_or(UPLOAD_CHUNK_LEN, |left| left.min(UPLOAD_CHUNK_LEN));
            let chunk = reader.next(want).await?;
            if chunk.is_empty() {
                return Err(ClientError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the file shrank while it was uploaded ({offset} of {size} bytes)"),
                )));
            }
            let sent = chunk.len() as u64;
            let request = library(LibraryRequest::UploadChunk(UploadChunk {
                upload_id: upload_id.to_owned(),
                offset,
            }));
            self.call(&request, chunk).await?;
            offset += sent;
            on_progress(offset, size);
        }
        let finish = library(LibraryRequest::UploadFinish(UploadRef {
            upload_id: upload_id.to_owned(),
        }));
        self.call(&finish, Bytes::new()).await?.parse()
    }
}
