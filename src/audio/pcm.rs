//! Sample layouts and the push-based raw PCM decoder used by live streams.
//!
//! WAV files and raw streams share [`SampleLayout::mix_to_mono`], so a stream
//! and the same audio sent as a WAV decode to the very same samples.

use super::{check_sample_rate, AudioError};

/// How one sample is stored: width, signedness and byte order (little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleLayout {
    /// 8-bit unsigned, silence at 128.
    U8,
    /// 16-bit signed.
    S16,
    /// 24-bit signed, packed in three bytes.
    S24,
    /// 32-bit signed.
    S32,
    /// 32-bit IEEE float.
    F32,
}

impl SampleLayout {
    /// Bytes one sample of this layout takes.
    pub fn bytes(self) -> usize {
        match self {
            SampleLayout::U8 => 1,
            SampleLayout::S16 => 2,
            SampleLayout::S24 => 3,
            SampleLayout::S32 | SampleLayout::F32 => 4,
        }
    }

    /// Decodes whole interleaved frames from `bytes` (its length must be a
    /// multiple of the frame size), averages the channels and appends one
    /// mono sample per frame to `out`, scaled to -1..1.
    ///
    /// `first_frame` is the index of the first frame in the whole signal, used
    /// to name the frame of a non-finite float sample.
    ///
    /// The samples are those symphonia's PCM decoder gives, mixed as
    /// `AudioReader` mixes them (channels summed from `-0.0` in order, then
    /// scaled), to the bit: a WAV read without symphonia's decoder, a raw
    /// stream and the same audio decoded by symphonia are the same signal.
    pub fn mix_to_mono(
        self,
        bytes: &[u8],
        channels: usize,
        first_frame: u64,
        out: &mut Vec<f32>,
    ) -> Result<(), AudioError> {
        debug_assert_eq!(bytes.len() % (self.bytes() * channels), 0);
        match self {
            SampleLayout::U8 => mix_frames(bytes, channels, out, |[b]: [u8; 1]| {
                (f32::from(b) - 128.0) / 128.0
            }),
            SampleLayout::S16 => mix_frames(bytes, channels, out, |b: [u8; 2]| {
                f32::from(i16::from_le_bytes(b)) / 32_768.0
            }),
            SampleLayout::S24 => mix_frames(bytes, channels, out, |[b0, b1, b2]: [u8; 3]| {
                // Sign-extend by placing the 24 bits at the top of an i32.
                let v = i32::from_le_bytes([0, b0, b1, b2]) >> 8;
                v as f32 / 8_388_608.0
            }),
            SampleLayout::S32 => mix_frames(bytes, channels, out, |b: [u8; 4]| {
                i32::from_le_bytes(b) as f32 / 2_147_483_648.0
            }),
            SampleLayout::F32 => {
                let start = out.len();
                mix_frames(bytes, channels, out, f32::from_le_bytes);
                check_floats(out, start, first_frame)?;
            }
        }
        Ok(())
    }
}

/// Appends the mix of every whole frame of `W`-byte samples in `bytes`
/// to `out`. One channel is copied through `decode` (no arithmetic, so a
/// `-0.0` stays one, as in symphonia's path); more are summed from
/// `-0.0` in channel order and scaled by `1 / channels`.
#[inline]
fn mix_frames<const W: usize>(
    bytes: &[u8],
    channels: usize,
    out: &mut Vec<f32>,
    decode: impl Fn([u8; W]) -> f32,
) {
    let sample = |chunk: &[u8]| {
        let mut raw = [0u8; W];
        raw.copy_from_slice(chunk);
        decode(raw)
    };
    if channels == 1 {
        out.extend(bytes.chunks_exact(W).map(sample));
        return;
    }
    let gain = 1.0 / channels as f32;
    out.extend(bytes.chunks_exact(W * channels).map(|frame| {
        let sum = frame
            .chunks_exact(W)
            .map(sample)
            .fold(-0.0f32, |a, b| a + b);
        sum * gain
    }));
}

/// Checks the float samples `out[start..]` (frame `first_frame` on): one
/// pass without branches over them all (`abs() <= MAX` fails for NaN and
/// infinities too, as [`checked_sample`](super::checked_sample) does);
/// only a bad sample sends the check back, sample by sample, for its
/// error, with the samples before it kept. Integer layouts need no check:
/// they lie within ±1 by construction.
pub(crate) fn check_floats(
    out: &mut Vec<f32>,
    start: usize,
    first_frame: u64,
) -> Result<(), AudioError> {
    let mixed = &out[start..];
    if mixed.iter().fold(true, |fine, v| {
        fine & (v.abs() <= super::MAX_SAMPLE_MAGNITUDE)
    }) {
        return Ok(());
    }
    for index in 0..mixed.len() {
        if let Err(error) = super::checked_sample(out[start + index], first_frame + index as u64) {
            out.truncate(start + index);
            return Err(error);
        }
    }
    Ok(())
}

/// The encodings a live stream may use (PROTOCOL.md §5 `stream.open`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PcmEncoding {
    /// `u8`: 8-bit unsigned.
    U8,
    /// `s16le`: 16-bit signed little-endian.
    S16Le,
    /// `f32le`: 32-bit float little-endian.
    F32Le,
}

impl PcmEncoding {
    /// Every encoding, for parsing and tests.
    pub const ALL: [PcmEncoding; 3] = [PcmEncoding::U8, PcmEncoding::S16Le, PcmEncoding::F32Le];

    /// The wire name (`u8`, `s16le`, `f32le`).
    pub fn as_wire(self) -> &'static str {
        match self {
            PcmEncoding::U8 => "u8",
            PcmEncoding::S16Le => "s16le",
            PcmEncoding::F32Le => "f32le",
        }
    }

    /// Parses the wire name.
    pub fn from_wire(name: &str) -> Option<PcmEncoding> {
        PcmEncoding::ALL.into_iter().find(|e| e.as_wire() == name)
    }

    /// The sample layout of this encoding.
    pub fn layout(self) -> SampleLayout {
        match self {
            PcmEncoding::U8 => SampleLayout::U8,
            PcmEncoding::S16Le => SampleLayout::S16,
            PcmEncoding::F32Le => SampleLayout::F32,
        }
    }
}

/// What a raw PCM stream carries: encoding, rate and channel count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmFormat {
    /// How samples are stored.
    pub encoding: PcmEncoding,
    /// Frames per second.
    pub sample_rate: u32,
    /// Interleaved channels per frame.
    pub channels: u16,
}

/// Most channels a live stream may have (PROTOCOL.md §5).
pub const MAX_STREAM_CHANNELS: u16 = 8;

impl PcmFormat {
    /// Checks rate and channel count against PROTOCOL.md §5.
    pub fn validate(&self) -> Result<(), AudioError> {
        check_sample_rate(self.sample_rate)?;
        if !(1..=MAX_STREAM_CHANNELS).contains(&self.channels) {
            return Err(AudioError::BadChannels(self.channels));
        }
        Ok(())
    }

    /// Bytes one interleaved frame takes.
    pub fn frame_bytes(&self) -> usize {
        self.encoding.layout().bytes() * usize::from(self.channels)
    }
}

/// Turns raw PCM bytes, pushed in pieces of any size, into mono samples.
///
/// A push may end in the middle of a sample or a frame: the remainder is kept
/// for the next push, so the output never depends on how the bytes were cut.
#[derive(Debug)]
pub struct PcmDecoder {
    format: PcmFormat,
    remainder: Vec<u8>,
    frames_decoded: u64,
}

impl PcmDecoder {
    /// A decoder for `format`, which is validated first.
    pub fn new(format: PcmFormat) -> Result<PcmDecoder, AudioError> {
        format.validate()?;
        Ok(PcmDecoder {
            format,
            remainder: Vec::with_capacity(format.frame_bytes()),
            frames_decoded: 0,
        })
    }

    /// The stream's format.
    pub fn format(&self) -> PcmFormat {
        self.format
    }

    /// Frames decoded so far.
    pub fn frames_decoded(&self) -> u64 {
        self.frames_decoded
    }

    /// Decodes every whole frame of `remainder + bytes` into `out` (mono).
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<f32>) -> Result<(), AudioError> {
        let frame_len = self.format.frame_bytes();
        let layout = self.format.encoding.layout();
        let channels = usize::from(self.format.channels);
        if !self.remainder.is_empty() {
            let need = frame_len - self.remainder.len();
            let take = need.min(bytes.len());
            self.remainder.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.remainder.len() < frame_len {
                return Ok(());
            }
            layout.mix_to_mono(&self.remainder, channels, self.frames_decoded, out)?;
            self.frames_decoded += 1;
            self.remainder.clear();
        }
        let whole = bytes.len() / frame_len * frame_len;
        layout.mix_to_mono(&bytes[..whole], channels, self.frames_decoded, out)?;
        self.frames_decoded += (whole / frame_len) as u64;
        self.remainder.extend_from_slice(&bytes[whole..]);
        Ok(())
    }

    /// Bytes held back because they do not make a whole frame yet.
    pub fn pending_bytes(&self) -> usize {
        self.remainder.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_decode_full_scale_and_silence() {
        let mut out = Vec::new();
        SampleLayout::U8
            .mix_to_mono(&[128, 0, 255], 1, 0, &mut out)
            .unwrap();
        assert_eq!(out[0], 0.0);
        assert_eq!(out[1], -1.0);
        assert!((out[2] - 127.0 / 128.0).abs() < 1e-6);
        out.clear();
        let s24 = [0x00, 0x00, 0x80, 0xff, 0xff, 0x7f];
        SampleLayout::S24.mix_to_mono(&s24, 1, 0, &mut out).unwrap();
        assert_eq!(out[0], -1.0);
        assert!((out[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn stereo_is_averaged() {
        let mut out = Vec::new();
        let bytes: Vec<u8> = [16_384i16, -16_384, 32_767, 32_767]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        SampleLayout::S16
            .mix_to_mono(&bytes, 2, 0, &mut out)
            .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], 0.0);
        assert!((out[1] - 32_767.0 / 32_768.0).abs() < 1e-6);
    }

    #[test]
    fn nan_is_an_error_naming_the_frame() {
        let mut bytes = Vec::new();
        for v in [0.5f32, f32::NAN] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let err = SampleLayout::F32
            .mix_to_mono(&bytes, 1, 10, &mut Vec::new())
            .unwrap_err();
        assert!(matches!(err, AudioError::NonFinite { frame: 11 }));
    }

    #[test]
    fn absurd_floats_are_an_error_and_16_bit_scaled_floats_are_not() {
        let mut bytes = Vec::new();
        for v in [32_768.0f32, -7.9e20] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let mut out = Vec::new();
        let err = SampleLayout::F32
            .mix_to_mono(&bytes, 1, 0, &mut out)
            .unwrap_err();
        assert!(matches!(err, AudioError::OutOfRange { frame: 1 }), "{err}");
        assert_eq!(out, vec![32_768.0], "the frame before it was fine");
    }

    #[test]
    fn decoder_output_does_not_depend_on_how_bytes_are_cut() {
        let format = PcmFormat {
            encoding: PcmEncoding::F32Le,
            sample_rate: 48_000,
            channels: 3,
        };
        let bytes: Vec<u8> = (0..300)
            .flat_map(|i| ((i as f32 * 0.37).sin()).to_le_bytes())
            .collect();
        let mut whole = Vec::new();
        PcmDecoder::new(format)
            .unwrap()
            .push(&bytes, &mut whole)
            .unwrap();
        assert_eq!(whole.len(), 100);
        for cut in [1, 5, 7, 12, 13, 299] {
            let mut decoder = PcmDecoder::new(format).unwrap();
            let mut pieces = Vec::new();
            for piece in bytes.chunks(cut) {
                decoder.push(piece, &mut pieces).unwrap();
            }
            assert_eq!(pieces, whole, "cut {cut}");
            assert_eq!(decoder.pending_bytes(), 0);
        }
    }

    #[test]
    fn formats_are_validated() {
        let mut format = PcmFormat {
            encoding: PcmEncoding::S16Le,
            sample_rate: 7_999,
            channels: 1,
        };
        assert!(matches!(
            format.validate(),
            Err(AudioError::BadSampleRate(7_999))
        ));
        format.sample_rate = 192_000;
        format.channels = 9;
        assert!(matches!(format.validate(), Err(AudioError::BadChannels(9))));
        format.channels = 8;
        assert!(format.validate().is_ok());
        assert_eq!(PcmEncoding::from_wire("s16le"), Some(PcmEncoding::S16Le));
        assert_eq!(PcmEncoding::from_wire("s16be"), None);
    }
}
