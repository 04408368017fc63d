//! WAV files read block by block.
//!
//! hound parses the RIFF structure (fmt, WAVE_FORMAT_EXTENSIBLE, LIST and other
//! chunks before `data`); the data chunk itself is then read in blocks and
//! decoded in bulk by [`SampleLayout`], so memory stays bounded however long
//! the recording is, and decoding runs at memory speed rather than one
//! `read` call per sample.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::{check_sample_rate, AudioError, SampleLayout, MAX_WAV_CHANNELS};

/// The facts of a WAV file that matter to analysis and to the sound library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavInfo {
    /// Frames per second.
    pub sample_rate: u32,
    /// Interleaved channels per frame (mixed to mono on reading).
    pub channels: u16,
    /// Bits per sample as stored in the file's container.
    pub bits_per_sample: u16,
    /// How each sample is stored.
    pub layout: SampleLayout,
    /// Whole frames in the data chunk.
    pub frames: u64,
}

impl WavInfo {
    /// Length of the audio in seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames as f64 / f64::from(self.sample_rate)
    }
}

/// Most samples [`WavSource::read_all`] reserves room for before it has
/// read them (4 MiB of `f32`); longer audio grows the buffer as it arrives.
pub const READ_ALL_RESERVE_FRAMES: u64 = 1 << 20;

/// A WAV file's audio, delivered as mono `f32` blocks at the file's own rate.
pub struct WavSource<R = BufReader<File>> {
    reader: R,
    info: WavInfo,
    frames_read: u64,
    bytes: Vec<u8>,
}

impl WavSource<BufReader<File>> {
    /// Opens a WAV file and reads its header.
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        let file = File::open(path).map_err(|source| AudioError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        WavSource::from_reader(BufReader::with_capacity(1 << 16, file))
    }
}

impl<R: Read> WavSource<R> {
    /// Reads the header from `reader`, leaving it at the first audio byte.
    pub fn from_reader(reader: R) -> Result<Self, AudioError> {
        let header = hound::WavReader::new(reader).map_err(hound_error)?;
        let spec = header.spec();
        let frames = u64::from(header.duration());
        // hound leaves the reader at the first byte of the data chunk.
        let reader = header.into_inner();
        check_sample_rate(spec.sample_rate)?;
        if spec.channels == 0 || spec.channels > MAX_WAV_CHANNELS {
            return Err(AudioError::BadChannels(spec.channels));
        }
        // hound reports the valid bits; samples are stored in whole bytes
        // (WAVE_FORMAT_EXTENSIBLE left-justifies them, so reading the
        // container width scales them right).
        let container_bits = spec.bits_per_sample.div_ceil(8) * 8;
        let layout = match (spec.sample_format, container_bits) {
            (hound::SampleFormat::Int, 8) => SampleLayout::U8,
            (hound::SampleFormat::Int, 16) => SampleLayout::S16,
            (hound::SampleFormat::Int, 24) => SampleLayout::S24,
            (hound::SampleFormat::Int, 32) => SampleLayout::S32,
            (hound::SampleFormat::Float, 32) => SampleLayout::F32,
            (format, bits) => {
                return Err(AudioError::Unsupported(format!(
                    "{bits}-bit {} samples",
                    if format == hound::SampleFormat::Float {
                        "float"
                    } else {
                        "integer"
                    }
                )))
            }
        };
        if frames == 0 {
            return Err(AudioError::Empty);
        }
        Ok(WavSource {
            reader,
            info: WavInfo {
                sample_rate: spec.sample_rate,
                channels: spec.channels,
                bits_per_sample: container_bits,
                layout,
                frames,
            },
            frames_read: 0,
            bytes: Vec::new(),
        })
    }

    /// The file's format and length.
    pub fn info(&self) -> WavInfo {
        self.info
    }

    /// Frames delivered so far.
    pub fn frames_read(&self) -> u64 {
        self.frames_read
    }

    /// Appends up to `max_frames` mono samples to `out`; returns how many,
    /// 0 once the data chunk is exhausted.
    pub fn read_block(
        &mut self,
        max_frames: usize,
        out: &mut Vec<f32>,
    ) -> Result<usize, AudioError> {
        let remaining = self.info.frames - self.frames_read;
        let frames = (max_frames as u64).min(remaining) as usize;
        if frames == 0 {
            return Ok(0);
        }
        let frame_bytes = self.info.layout.bytes() * usize::from(self.info.channels);
        self.bytes.resize(frames * frame_bytes, 0);
        let mut filled = 0;
        while filled < self.bytes.len() {
            match self.reader.read(&mut self.bytes[filled..]) {
                Ok(0) => {
                    return Err(AudioError::Truncated {
                        expected: self.info.frames * frame_bytes as u64,
                        actual: self.frames_read * frame_bytes as u64 + filled as u64,
                    })
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(AudioError::NotWav(format!("reading audio data: {e}"))),
            }
        }
        self.info.layout.mix_to_mono(
            &self.bytes,
            usize::from(self.info.channels),
            self.frames_read,
            out,
        )?;
        self.frames_read += frames as u64;
        Ok(frames)
    }

    /// Reads everything that is left (for short files such as templates).
    ///
    /// Room is reserved for at most `READ_ALL_RESERVE_FRAMES` up front:
    /// the length comes from the header, which a damaged or hostile file
    /// can set to 4 GiB over a few bytes of audio (found by `fuzz/`).
    pub fn read_all(&mut self) -> Result<Vec<f32>, AudioError> {
        let remaining = self.info.frames - self.frames_read;
        let mut out = Vec::with_capacity(remaining.min(READ_ALL_RESERVE_FRAMES) as usize);
        while self.read_block(1 << 16, &mut out)? > 0 {}
        Ok(out)
    }
}

/// Turns hound's errors into ours, keeping its explanation.
fn hound_error(error: hound::Error) -> AudioError {
    match error {
        hound::Error::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::NotWav("the file ends inside its header".into())
        }
        hound::Error::IoError(e) => AudioError::NotWav(e.to_string()),
        hound::Error::FormatError(what) => AudioError::NotWav(what.to_string()),
        hound::Error::Unsupported => AudioError::Unsupported(
            "compressed or unknown format tag (only PCM and IEEE float are read)".into(),
        ),
        other => AudioError::NotWav(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// `samples` as a WAV file of `spec`'s layout: frames of `spec.channels`
    /// interleaved samples, so `samples.len()` is a multiple of it.
    fn wav_bytes(spec: hound::WavSpec, samples: &[f32]) -> Vec<u8> {
        let layout = match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Float, _) => SampleLayout::F32,
            (_, 8) => SampleLayout::U8,
            (_, 16) => SampleLayout::S16,
            (_, 24) => SampleLayout::S24,
            _ => SampleLayout::S32,
        };
        let channels = usize::from(spec.channels);
        // The one writer copies a mono signal to every channel: give it
        // one sample per frame.
        let frames: Vec<f32> = samples.iter().step_by(channels).copied().collect();
        crate::synth::wav_bytes(&frames, spec.sample_rate, spec.channels, layout)
    }

    #[test]
    fn every_supported_layout_decodes_to_the_same_signal() {
        let signal: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        for (format, bits) in [
            (hound::SampleFormat::Int, 8),
            (hound::SampleFormat::Int, 16),
            (hound::SampleFormat::Int, 24),
            (hound::SampleFormat::Int, 32),
            (hound::SampleFormat::Float, 32),
        ] {
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: 22_050,
                bits_per_sample: bits,
                sample_format: format,
            };
            let mut source = WavSource::from_reader(Cursor::new(wav_bytes(spec, &signal))).unwrap();
            assert_eq!(source.info().frames, 1000);
            let decoded = source.read_all().unwrap();
            let tolerance = if bits == 8 { 0.02 } else { 1e-4 };
            for (a, b) in decoded.iter().zip(&signal) {
                assert!((a - b).abs() < tolerance, "{bits}-bit: {a} vs {b}");
            }
        }
    }

    #[test]
    fn truncated_data_is_a_clear_error() {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut bytes = wav_bytes(spec, &[0.1; 2000]);
        bytes.truncate(bytes.len() - 100);
        let mut source = WavSource::from_reader(Cursor::new(bytes)).unwrap();
        let err = source.read_all().unwrap_err();
        assert!(
            matches!(
                err,
                AudioError::Truncated {
                    expected: 4000,
                    actual: 3900
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_header_that_claims_gigabytes_is_truncated_not_allocated() {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut bytes = wav_bytes(spec, &[0.1; 20]);
        assert_eq!(&bytes[36..40], b"data", "hound's canonical header");
        bytes[40..44].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let mut source = WavSource::from_reader(Cursor::new(bytes)).unwrap();
        assert_eq!(source.info().frames, 0xFFFF_FFF0 / 4);
        let err = source.read_all().unwrap_err();
        assert!(
            matches!(err, AudioError::Truncated { actual: 40, .. }),
            "{err}"
        );
    }

    #[test]
    fn garbage_empty_and_absurd_rates_are_rejected() {
        assert!(matches!(
            WavSource::from_reader(Cursor::new(b"hello world, not a wav".to_vec())),
            Err(AudioError::NotWav(_))
        ));
        assert!(matches!(
            WavSource::from_reader(Cursor::new(Vec::new())),
            Err(AudioError::NotWav(_))
        ));
        let mut spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        assert!(matches!(
            WavSource::from_reader(Cursor::new(wav_bytes(spec, &[]))),
            Err(AudioError::Empty)
        ));
        spec.sample_rate = 1_000_000;
        assert!(matches!(
            WavSource::from_reader(Cursor::new(wav_bytes(spec, &[0.0; 10]))),
            Err(AudioError::BadSampleRate(1_000_000))
        ));
    }
}
