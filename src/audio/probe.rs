//! Recognising what an audio file is from its bytes (never from a name):
//! the containers Harmonic reads, the header's errors, and the one fix
//! symphonia needs to read every valid WAV. `decode.rs` decodes what this
//! module recognised.

use std::io::{Read, Seek, SeekFrom};
use std::sync::OnceLock;

use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::{Hint, Probe};

use super::AudioError;

/// Recognises the container of `source` and reads its header, with gapless
/// decoding on (encoder delay and padding trimmed).
pub(super) fn open_format(
    source: Box<dyn MediaSource>,
) -> Result<Box<dyn FormatReader>, AudioError> {
    let stream = MediaSourceStream::new(source, Default::default());
    let format_options = FormatOptions {
        enable_gapless: true,
        ..Default::default()
    };
    let probed = probe()
        .format(
            &Hint::new(),
            stream,
            &format_options,
            &MetadataOptions::default(),
        )
        .map_err(header_error)?;
    Ok(probed.format)
}

/// The container formats Harmonic reads, recognised by their content, and
/// ID3v2 tags in front of an MP3. Raw ADTS AAC (`.aac`, a broadcast
/// format) is left out: phones write AAC in M4A, and symphonia 0.5's ADTS
/// probe panics on any bytes that merely look like an ADTS header with a
/// zero frame length (found by fuzzing), which a file of any format may
/// hold.
fn probe() -> &'static Probe {
    static PROBE: OnceLock<Probe> = OnceLock::new();
    PROBE.get_or_init(|| {
        use symphonia::default::formats::{
            AiffReader, FlacReader, IsoMp4Reader, MpaReader, OggReader, WavReader,
        };
        let mut probe = Probe::default();
        probe.register_all::<WavReader>();
        probe.register_all::<AiffReader>();
        probe.register_all::<FlacReader>();
        probe.register_all::<MpaReader>();
        probe.register_all::<OggReader>();
        probe.register_all::<IsoMp4Reader>();
        probe.register_all::<symphonia_metadata::id3v2::Id3v2Reader>();
        probe
    })
}

/// An error while recognising the format and reading the header.
pub(super) fn header_error(err: SymphoniaError) -> AudioError {
    match err {
        SymphoniaError::Unsupported(_) => AudioError::NotAudio,
        SymphoniaError::IoError(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::HeaderTruncated
        }
        SymphoniaError::IoError(err) => AudioError::Read(err),
        SymphoniaError::DecodeError(what) | SymphoniaError::LimitError(what) => {
            AudioError::Malformed(format!("its header is damaged ({what})"))
        }
        other => AudioError::Malformed(other.to_string()),
    }
}

/// Works around symphonia 0.5 reading the pad byte of an odd-sized `LIST`
/// chunk twice (once as the list's, once as its parent's), which shifts it
/// into the next chunk and fails a valid WAV that recorders and taggers
/// write. Such chunks (found by walking the chunk headers up to `data`)
/// are shown to symphonia renamed `JUNK`, a chunk it skips correctly; an
/// even-sized `LIST` keeps its name. Anything that is not a seekable RIFF
/// WAVE passes through untouched.
pub(super) struct OddListFix<S> {
    inner: S,
    /// Offsets of the ids to rename.
    renamed: Vec<u64>,
    position: u64,
}

/// Chunks walked before `data` at most: a WAV has a handful.
const MAX_HEADER_CHUNKS: usize = 256;

impl<S: Read + Seek> OddListFix<S> {
    pub(super) fn new(mut inner: S) -> Self {
        let renamed = odd_lists(&mut inner).unwrap_or_default();
        let position = inner.seek(SeekFrom::Start(0)).unwrap_or(0);
        OddListFix {
            inner,
            renamed,
            position,
        }
    }
}

/// Offsets of the odd-sized `LIST` chunks before `data` of a RIFF WAVE.
fn odd_lists(source: &mut impl Read) -> std::io::Result<Vec<u64>> {
    let mut header = [0u8; 12];
    source.read_exact(&mut header)?;
    if &header[..4] != b"RIFF" || &header[8..] != b"WAVE" {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    let mut offset = 12u64;
    for _ in 0..MAX_HEADER_CHUNKS {
        let mut chunk = [0u8; 8];
        source.read_exact(&mut chunk)?;
        let size = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        if &chunk[..4] == b"data" {
            break;
        }
        if &chunk[..4] == b"LIST" && size % 2 == 1 {
            found.push(offset);
        }
        let skip = size + size % 2;
        std::io::copy(&mut source.take(skip), &mut std::io::sink())?;
        offset += 8 + skip;
    }
    Ok(found)
}

impl<S: Read> Read for OddListFix<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let start = self.position;
        for &id in &self.renamed {
            for (k, &byte) in b"JUNK".iter().enumerate() {
                let at = id + k as u64;
                if at >= start && at < start + n as u64 {
                    buf[(at - start) as usize] = byte;
                }
            }
        }
        self.position += n as u64;
        Ok(n)
    }
}

impl<S: Seek> Seek for OddListFix<S> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.position = self.inner.seek(to)?;
        Ok(self.position)
    }
}

impl<S: MediaSource> MediaSource for OddListFix<S> {
    fn is_seekable(&self) -> bool {
        self.inner.is_seekable()
    }

    fn byte_len(&self) -> Option<u64> {
        self.inner.byte_len()
    }
}
