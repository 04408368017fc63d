//! Audio input: WAV files and raw PCM streams, mixed to mono and resampled to
//! one analysis rate, always in bounded blocks.
//!
//! Everything the counting engine sees passes through here, so a template and a
//! recording at different rates, bit depths or channel counts are comparable.
//! Nothing in this module holds a whole recording in memory: [`WavSource`]
//! reads block by block, [`PcmDecoder`] and [`Resampler`] are push-based.

pub mod pcm;
mod resample;
mod wav;

pub use pcm::{PcmDecoder, PcmEncoding, PcmFormat, SampleLayout};
pub use resample::Resampler;
pub use wav::{WavInfo, WavSource};

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
/// Most channels a WAV file may have (WAVE_FORMAT_EXTENSIBLE allows 18 speaker
/// positions; anything beyond is not a recording a client makes).
pub const MAX_WAV_CHANNELS: u16 = 32;

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
    /// The bytes are not a WAV file hound can parse.
    #[error("not a WAV file: {0}")]
    NotWav(String),
    /// A WAV file in an encoding Harmonic does not read (ADPCM, A-law, ...).
    #[error("unsupported WAV encoding: {0}")]
    Unsupported(String),
    /// The data chunk ends before its header says it does.
    #[error("truncated WAV data: the header announces {expected} bytes of audio but only {actual} are present")]
    Truncated {
        /// Bytes the data chunk header announces.
        expected: u64,
        /// Bytes actually present.
        actual: u64,
    },
    /// The file or stream has no audio samples at all.
    #[error("the audio contains no samples")]
    Empty,
    /// A sample rate outside 8 kHz to 192 kHz.
    #[error("sample rate {0} Hz is outside the supported range 8000..=192000 Hz")]
    BadSampleRate(u32),
    /// A channel count of zero or beyond what is supported.
    #[error("{0} channels is not supported (1..={max})", max = MAX_WAV_CHANNELS)]
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
