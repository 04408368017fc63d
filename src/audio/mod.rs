//! Audio input: files of every format phones and PCs record, and raw PCM
//! streams, mixed to mono and resampled to one analysis rate, always in
//! bounded blocks.
//!
//! Everything the counting engine sees passes through here, so a template and a
//! recording at different rates, bit depths, channel counts or formats are
//! comparable. Nothing in this module holds a whole recording in memory:
//! [`AudioReader`] decodes packet by packet, [`PcmDecoder`] and
//! [`Resampler`] are push-based. Writing WAV (seeded test audio) stays
//! with hound.

mod decode;
pub mod pcm;
mod probe;
mod resample;

pub use decode::{measure_duration, AudioInfo, AudioReader, READ_ALL_RESERVE_FRAMES};
pub use pcm::{PcmDecoder, PcmEncoding, PcmFormat, SampleLayout};
pub use resample::Resampler;

use std::path::PathBuf;

/// The rate every signal is resampled to before analysis (Hz).
///
/// 16 kHz keeps everything up to 8 kHz, which is where the character of key
/// presses, punches and rope hits lies, at a third of the cost of 48 kHz.
pub const ANALYSIS_RATE: u32 = 16_000;

/// Lowest sample rate accepted anywhere (PROTOCOL.md §5).
pub const MIN_SAMPLE_RATE: u32 = 8_000;
/// Highest sample rate accepted anywhere (PROTOCOL.md §5).
pub const MAX_SAMPLE_RATE: u32 = 192_000;
/// Most channels an audio file may have (WAVE_FORMAT_EXTENSIBLE allows 18
/// speaker positions; anything beyond is not a recording a client makes).
pub const MAX_FILE_CHANNELS: u16 = 32;

/// The formats [`AudioReader`] recognises, for messages and documentation.
pub const READABLE_FORMATS: &str = "WAV, AIFF, FLAC, MP3, Ogg Vorbis, AAC or ALAC in MP4/M4A";

/// Why audio could not be read. Each variant is a clear, user-facing sentence.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Reading failed midway (not an end of file: that is [`Self::Truncated`]).
    #[error("cannot read the audio: {0}")]
    Read(std::io::Error),
    /// The bytes are none of the formats Harmonic reads.
    #[error("not an audio file Harmonic reads (it reads {formats})", formats = READABLE_FORMATS)]
    NotAudio,
    /// A container Harmonic reads, holding nothing it can decode as audio
    /// (a video-only MP4, a metadata-only file).
    #[error("the file holds no audio track")]
    NoAudioTrack,
    /// A codec or layout Harmonic does not decode (Opus, a WAV in G.729...).
    #[error("unsupported audio: {0}")]
    Unsupported(String),
    /// The bytes claim a format but break its rules.
    #[error("damaged audio: {0}")]
    Malformed(String),
    /// The file ends before its header is complete.
    #[error("truncated: the file ends inside its header")]
    HeaderTruncated,
    /// The audio ends before the length its header announces.
    #[error("truncated: the header announces {expected_s:.3} s of audio but the file ends after {actual_s:.3} s")]
    Truncated {
        /// Seconds the header announces.
        expected_s: f64,
        /// Seconds actually present.
        actual_s: f64,
    },
    /// The file or stream has no audio samples at all.
    #[error("the audio contains no samples")]
    Empty,
    /// A sample rate outside 8 kHz to 192 kHz.
    #[error("sample rate {0} Hz is outside the supported range 8000..=192000 Hz")]
    BadSampleRate(u32),
    /// A channel count of zero or beyond what is supported.
    #[error("{0} channels is not supported (1..={max})", max = MAX_FILE_CHANNELS)]
    BadChannels(u16),
    /// A float sample that is NaN or infinite.
    #[error("the audio contains a non-finite sample (NaN or infinity) at frame {frame}")]
    NonFinite {
        /// Index of the offending frame, from the start of the audio.
        frame: u64,
    },
    /// A float sample so far beyond full scale that it cannot be audio
    /// (see [`MAX_SAMPLE_MAGNITUDE`]); left in, it would overflow the
    /// engine's transforms.
    #[error("the audio contains a sample of absurd size at frame {frame}: float samples must lie within ±{max:e} (full scale is ±1)", max = MAX_SAMPLE_MAGNITUDE)]
    OutOfRange {
        /// Index of the offending frame, from the start of the audio.
        frame: u64,
    },
    /// The resampler could not be built or failed.
    #[error("resampling failed: {0}")]
    Resample(String),
}

/// Largest float sample magnitude taken as audio. Full scale is ±1, but
/// some tools write float samples on the 16-bit scale (±32768), so the
/// bound leaves room for those; beyond it a sample is garbage, and squared
/// over an FFT frame it would overflow `f32` (found by `fuzz/`).
pub const MAX_SAMPLE_MAGNITUDE: f32 = 1e6;

/// Checks a sample rate against [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`].
pub fn check_sample_rate(rate: u32) -> Result<(), AudioError> {
    if (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(AudioError::BadSampleRate(rate))
    }
}

/// A mixed-down sample, checked: NaN, infinity and absurd magnitudes are
/// errors naming the frame, whatever the input.
pub(crate) fn checked_sample(value: f32, frame: u64) -> Result<f32, AudioError> {
    if !value.is_finite() {
        Err(AudioError::NonFinite { frame })
    } else if value.abs() > MAX_SAMPLE_MAGNITUDE {
        Err(AudioError::OutOfRange { frame })
    } else {
        Ok(value)
    }
}
