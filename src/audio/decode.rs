//! Audio files of every format phones and PCs record, read block by block.
//!
//! symphonia recognises the container from its bytes, never from a name
//! (`probe.rs`): WAV in any valid RIFF layout (odd-sized chunks and their
//! pad byte, `fact`, `LIST`, `bext` or `junk` chunks anywhere,
//! WAVE_FORMAT_EXTENSIBLE), AIFF, FLAC, MP3, Ogg Vorbis and AAC or ALAC in
//! MP4/M4A. One packet at a time is decoded, mixed to mono and handed out
//! in blocks of the caller's size, so memory stays bounded however long the
//! recording is.
//!
//! Encoder delay and padding are trimmed (gapless decoding), so the same
//! sound saved as WAV and as MP3 or AAC starts at the same instant.

use std::fs::File;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{
    CodecType, Decoder, DecoderOptions, CODEC_TYPE_NULL, CODEC_TYPE_PCM_ALAW, CODEC_TYPE_PCM_F32BE,
    CODEC_TYPE_PCM_F32LE, CODEC_TYPE_PCM_F64BE, CODEC_TYPE_PCM_F64LE, CODEC_TYPE_PCM_MULAW,
    CODEC_TYPE_PCM_S16BE, CODEC_TYPE_PCM_S16LE, CODEC_TYPE_PCM_S24BE, CODEC_TYPE_PCM_S24LE,
    CODEC_TYPE_PCM_S32BE, CODEC_TYPE_PCM_S32LE, CODEC_TYPE_PCM_S8, CODEC_TYPE_PCM_U8,
};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatReader;
use symphonia::core::io::{MediaSource, ReadOnlySource};

use super::pcm::SampleLayout;
use super::probe::{header_error, open_format, OddListFix};
use super::{check_sample_rate, AudioError, MAX_FILE_CHANNELS};

/// The facts of an audio file that matter to analysis and to the sound library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioInfo {
    /// Frames per second.
    pub sample_rate: u32,
    /// Channels per frame (mixed to mono on reading).
    pub channels: u16,
    /// Frames the container announces, when it says (WAV, AIFF, FLAC, MP4,
    /// Ogg and MP3 with a Xing/LAME header do; an MP3 without one is
    /// estimated from its size; a stream written live may not say at all).
    pub frames: Option<u64>,
    /// The codec, for messages and `sounds list` (e.g. "aac", "pcm_s16le").
    pub codec: &'static str,
}

impl AudioInfo {
    /// Length of the audio in seconds, when the container announces it.
    pub fn duration_s(&self) -> Option<f64> {
        self.frames
            .map(|frames| frames as f64 / f64::from(self.sample_rate))
    }
}

/// Most samples [`AudioReader::read_all`] reserves room for before it has
/// read them (4 MiB of `f32`); longer audio grows the buffer as it arrives.
pub const READ_ALL_RESERVE_FRAMES: u64 = 1 << 20;

/// Packets in a row that may fail to decode before the file is called
/// damaged. A lossy stream with one corrupt frame (a bad sector, a glitch
/// in a phone's writer) still counts, with silence where that frame was;
/// a run this long is no longer a glitch but a file that is not what its
/// header says.
const MAX_BAD_PACKETS_IN_A_ROW: u32 = 16;

/// A file's audio, decoded packet by packet and delivered as mono `f32`
/// blocks at the file's own rate.
pub struct AudioReader {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    info: AudioInfo,
    /// How many frames may be missing at the end before the file counts as
    /// truncated; `None` where the container's length is only an estimate.
    truncation_slack: Option<u64>,
    /// Decoded mono samples not handed out yet, from `pending_start`.
    pending: Vec<f32>,
    pending_start: usize,
    /// Interleaved samples of the last packet (reused).
    interleaved: Option<SampleBuffer<f32>>,
    /// Plain PCM whose packets are mixed straight from their bytes.
    direct: Option<DirectPcm>,
    frames_decoded: u64,
    frames_read: u64,
    finished: bool,
}

impl std::fmt::Debug for AudioReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioReader")
            .field("info", &self.info)
            .field("frames_read", &self.frames_read)
            .finish_non_exhaustive()
    }
}

impl AudioReader {
    /// Opens an audio file and reads its header and first packet.
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        let file = File::open(path).map_err(|source| AudioError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        AudioReader::from_source(Box::new(OddListFix::new(file)))
    }

    /// Reads audio held in memory (an inline payload, a downloaded sound).
    pub fn from_bytes<B>(bytes: B) -> Result<Self, AudioError>
    where
        B: AsRef<[u8]> + Send + Sync + 'static,
    {
        AudioReader::from_source(Box::new(OddListFix::new(std::io::Cursor::new(bytes))))
    }

    /// Reads audio from a stream that cannot seek (stdin, a pipe). WAV,
    /// AIFF, FLAC, MP3 and Ogg read fine this way; an MP4 whose index comes
    /// after its audio cannot be read without seeking.
    pub fn from_stream<R>(reader: R) -> Result<Self, AudioError>
    where
        R: Read + Send + Sync + 'static,
    {
        AudioReader::from_source(Box::new(ReadOnlySource::new(reader)))
    }

    fn from_source(source: Box<dyn MediaSource>) -> Result<Self, AudioError> {
        catch_unwind(AssertUnwindSafe(|| AudioReader::open_source(source, true)))
            .unwrap_or_else(|_| Err(decoder_panicked()))
    }

    /// Opens the container and its decoder; `allow_direct` lets plain PCM
    /// skip symphonia's decoder ([`DirectPcm`]; tests compare both).
    fn open_source(source: Box<dyn MediaSource>, allow_direct: bool) -> Result<Self, AudioError> {
        let format = open_format(source)?;
        let track = format
            .tracks()
            .iter()
            .find(|track| track.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or(AudioError::NoAudioTrack)?;
        let params = track.codec_params.clone();
        let track_id = track.id;
        let codec = codec_name(params.codec);
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|err| match err {
                SymphoniaError::Unsupported(_) => AudioError::Unsupported(format!(
                    "the audio is in a codec Harmonic does not decode ({codec})"
                )),
                other => header_error(other),
            })?;
        if let Some(rate) = params.sample_rate {
            check_sample_rate(rate)?;
        }
        if let Some(channels) = params.channels {
            check_channels(channels.count())?;
        }
        let frames = params
            .n_frames
            .filter(|&frames| !is_unknown_pcm_length(&params, frames));
        let mut reader = AudioReader {
            format,
            decoder,
            track_id,
            info: AudioInfo {
                sample_rate: params.sample_rate.unwrap_or(0),
                channels: params.channels.map_or(0, |c| c.count() as u16),
                frames,
                codec,
            },
            truncation_slack: truncation_slack(params.codec, params.max_frames_per_packet),
            pending: Vec::new(),
            pending_start: 0,
            interleaved: None,
            direct: DirectPcm::for_params(&params).filter(|_| allow_direct),
            frames_decoded: 0,
            frames_read: 0,
            finished: false,
        };
        if reader.info.frames == Some(0) {
            return Err(AudioError::Empty);
        }
        // The first packet tells the rate and channels for certain (some
        // containers leave them to the codec) and shows at once whether the
        // audio decodes at all.
        reader.decode_more()?;
        if reader.pending.is_empty() {
            return Err(AudioError::Empty);
        }
        if reader.info.channels == 0 || reader.info.sample_rate == 0 {
            return Err(AudioError::Malformed(
                "the audio gives no channel count or sample rate".into(),
            ));
        }
        Ok(reader)
    }

    /// The file's format and length.
    pub fn info(&self) -> AudioInfo {
        self.info
    }

    /// Frames delivered so far.
    pub fn frames_read(&self) -> u64 {
        self.frames_read
    }

    /// Appends up to `max_frames` mono samples to `out`; returns how many,
    /// 0 once the audio is exhausted.
    pub fn read_block(
        &mut self,
        max_frames: usize,
        out: &mut Vec<f32>,
    ) -> Result<usize, AudioError> {
        let mut delivered = 0;
        while delivered < max_frames {
            if self.pending_start == self.pending.len() {
                if self.finished {
                    break;
                }
                self.pending.clear();
                self.pending_start = 0;
                self.decode_more()?;
                continue;
            }
            let take = (max_frames - delivered).min(self.pending.len() - self.pending_start);
            out.extend_from_slice(&self.pending[self.pending_start..self.pending_start + take]);
            self.pending_start += take;
            delivered += take;
        }
        self.frames_read += delivered as u64;
        Ok(delivered)
    }

    /// Reads everything that is left (for short files such as templates).
    ///
    /// Room is reserved for at most [`READ_ALL_RESERVE_FRAMES`] up front:
    /// the length comes from the header, which a damaged or hostile file
    /// can set to 4 GiB over a few bytes of audio (found by `fuzz/`).
    pub fn read_all(&mut self) -> Result<Vec<f32>, AudioError> {
        let remaining = self
            .info
            .frames
            .unwrap_or(0)
            .saturating_sub(self.frames_read);
        let mut out = Vec::with_capacity(remaining.min(READ_ALL_RESERVE_FRAMES) as usize);
        while self.read_block(1 << 16, &mut out)? > 0 {}
        Ok(out)
    }

    /// Decodes what is left, only to count it, and stops once past
    /// `stop_after` frames: the length of a file whose container does not
    /// announce it, at most one packet beyond the limit.
    pub fn count_remaining(mut self, stop_after: u64) -> Result<u64, AudioError> {
        let mut frames = self.frames_read;
        loop {
            frames += (self.pending.len() - self.pending_start) as u64;
            self.pending.clear();
            self.pending_start = 0;
            if self.finished || frames > stop_after {
                return Ok(frames);
            }
            self.decode_more()?;
        }
    }

    /// Decodes packets until one gives samples or the stream ends, appending
    /// them to `pending`. A panic in the decoder ends the reading with an
    /// error.
    fn decode_more(&mut self) -> Result<(), AudioError> {
        catch_unwind(AssertUnwindSafe(|| self.decode_more_unguarded())).unwrap_or_else(|_| {
            self.finished = true;
            Err(decoder_panicked())
        })
    }

    fn decode_more_unguarded(&mut self) -> Result<(), AudioError> {
        let mut bad_packets = 0;
        while !self.finished && self.pending.len() == self.pending_start {
            let packet = match self.format.next_packet() {
                Ok(packet) => packet,
                Err(SymphoniaError::IoError(err))
                    if err.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    // symphonia's end of stream (also a file cut short).
                    self.finish()?;
                    break;
                }
                Err(SymphoniaError::ResetRequired) => {
                    return Err(AudioError::Unsupported(
                        "the audio changes its format midway (a chained stream)".into(),
                    ))
                }
                Err(err) => return Err(body_error(err, self.frames_decoded)),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            if let Some(direct) = self.direct {
                let frames = direct.frames_in(packet.buf());
                if frames == 0 {
                    continue;
                }
                direct.layout.mix_to_mono(
                    &packet.buf()[..frames * direct.frame_bytes],
                    direct.channels,
                    self.frames_decoded,
                    &mut self.pending,
                )?;
                self.frames_decoded += frames as u64;
                continue;
            }
            match self.decoder.decode(&packet) {
                Ok(decoded) => {
                    bad_packets = 0;
                    let spec = *decoded.spec();
                    if decoded.frames() == 0 {
                        continue;
                    }
                    let channels = spec.channels.count();
                    adopt_spec(&mut self.info, spec.rate, channels)?;
                    let needed = decoded.frames() * channels;
                    let buffer = match &mut self.interleaved {
                        Some(buffer) if buffer.capacity() >= needed => buffer,
                        slot => slot.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
                    };
                    buffer.copy_interleaved_ref(decoded);
                    let before = self.pending.len();
                    mix_interleaved(
                        buffer.samples(),
                        channels,
                        self.frames_decoded,
                        &mut self.pending,
                    )?;
                    self.frames_decoded += (self.pending.len() - before) as u64;
                }
                Err(SymphoniaError::DecodeError(what)) => {
                    bad_packets += 1;
                    if bad_packets > MAX_BAD_PACKETS_IN_A_ROW {
                        return Err(AudioError::Malformed(format!(
                            "{bad_packets} packets in a row do not decode after {} ({what})",
                            at_time(self.frames_decoded, self.info.sample_rate)
                        )));
                    }
                    // Silence where the damaged packet was keeps every
                    // later event at its true time.
                    let silent = packet.dur().min(u64::from(self.info.sample_rate));
                    self.pending
                        .extend(std::iter::repeat_n(0.0, silent as usize));
                    self.frames_decoded += silent;
                }
                Err(err) => return Err(body_error(err, self.frames_decoded)),
            }
        }
        Ok(())
    }

    /// The stream has ended: a file that holds fewer frames than its header
    /// announces was cut short.
    fn finish(&mut self) -> Result<(), AudioError> {
        self.finished = true;
        if let (Some(expected), Some(slack)) = (self.info.frames, self.truncation_slack) {
            if self.frames_decoded + slack < expected {
                return Err(AudioError::Truncated {
                    expected_s: expected as f64 / f64::from(self.info.sample_rate.max(1)),
                    actual_s: self.frames_decoded as f64 / f64::from(self.info.sample_rate.max(1)),
                });
            }
        }
        Ok(())
    }
}

/// Plain interleaved PCM (WAV's usual 8-bit unsigned, 16-, 24- and 32-bit
/// signed little-endian and 32-bit float) mixed to mono straight from a
/// packet's bytes.
///
/// symphonia's PCM decoder first copies every sample, frame by frame,
/// into a planar buffer of the stored type, and `AudioReader` then
/// converts that to interleaved `f32`: two passes and a per-frame closure
/// that cost an hour-long recording over a second of CPU. This path gives
/// the very same samples (the same conversions, the same mix; a test
/// compares them bit for bit) in one pass. Every other codec, and PCM
/// that codes fewer bits than it stores (which symphonia shifts), goes
/// through symphonia's decoder.
#[derive(Debug, Clone, Copy)]
struct DirectPcm {
    layout: SampleLayout,
    channels: usize,
    frame_bytes: usize,
    /// symphonia's decoder holds at most this many frames of a packet
    /// (the container's packet size); kept so that both paths agree even
    /// on a packet that claims more.
    max_frames: usize,
}

impl DirectPcm {
    /// The direct path for a track, where its codec and parameters allow.
    fn for_params(params: &symphonia::core::codecs::CodecParameters) -> Option<DirectPcm> {
        let layout = match params.codec {
            CODEC_TYPE_PCM_U8 => SampleLayout::U8,
            CODEC_TYPE_PCM_S16LE => SampleLayout::S16,
            CODEC_TYPE_PCM_S24LE => SampleLayout::S24,
            CODEC_TYPE_PCM_S32LE => SampleLayout::S32,
            CODEC_TYPE_PCM_F32LE => SampleLayout::F32,
            _ => return None,
        };
        let coded_bits = params
            .bits_per_coded_sample
            .or(params.bits_per_sample)
            .unwrap_or(0);
        let stored_bits = 8 * layout.bytes() as u32;
        if layout != SampleLayout::F32 && coded_bits != stored_bits {
            return None;
        }
        let channels = params.channels?.count();
        let max_frames = usize::try_from(params.max_frames_per_packet?).ok()?;
        (1..=usize::from(MAX_FILE_CHANNELS))
            .contains(&channels)
            .then_some(DirectPcm {
                layout,
                channels,
                frame_bytes: layout.bytes() * channels,
                max_frames,
            })
    }

    /// Whole frames in a packet, as symphonia's decoder would decode them.
    fn frames_in(&self, packet: &[u8]) -> usize {
        (packet.len() / self.frame_bytes).min(self.max_frames)
    }
}

/// Whether a PCM length is a writer's "unknown" marker: a WAV written to
/// a pipe (ffmpeg, sox, arecord) cannot go back to fill in its `data`
/// size and leaves it at 0xFFFFFFFF; its audio runs to the end of the file.
fn is_unknown_pcm_length(params: &symphonia::core::codecs::CodecParameters, frames: u64) -> bool {
    let (Some(bits), Some(channels)) = (params.bits_per_coded_sample, params.channels) else {
        return false;
    };
    let frame_bytes = u64::from(bits.div_ceil(8)) * channels.count() as u64;
    is_pcm(params.codec)
        && frame_bytes > 0
        && frames * frame_bytes > u64::from(u32::MAX) - frame_bytes
}

/// A decoder that panicked on malformed input (symphonia 0.5 does on a few
/// inputs, such as an AIFF with a zero sample rate): the input is damaged,
/// and the server and the CLI go on.
fn decoder_panicked() -> AudioError {
    AudioError::Malformed("the decoder cannot make sense of it".into())
}

/// Takes the rate and channel count of decoded audio: the header's, or the
/// first packet's where the header did not say.
fn adopt_spec(info: &mut AudioInfo, rate: u32, channels: usize) -> Result<(), AudioError> {
    if info.sample_rate == 0 {
        check_sample_rate(rate)?;
        info.sample_rate = rate;
    } else if rate != info.sample_rate {
        return Err(AudioError::Unsupported(format!(
            "the sample rate changes midway, from {} Hz to {rate} Hz",
            info.sample_rate
        )));
    }
    check_channels(channels)?;
    if info.channels == 0 {
        info.channels = channels as u16;
    }
    Ok(())
}

/// Averages interleaved channels into `out`, one checked sample per frame.
fn mix_interleaved(
    samples: &[f32],
    channels: usize,
    first_frame: u64,
    out: &mut Vec<f32>,
) -> Result<(), AudioError> {
    let gain = 1.0 / channels as f32;
    let start = out.len();
    out.extend(samples.chunks_exact(channels).map(|frame| {
        let sum: f32 = frame.iter().sum();
        sum * gain
    }));
    super::pcm::check_floats(out, start, first_frame)
}

fn check_channels(channels: usize) -> Result<(), AudioError> {
    match u16::try_from(channels) {
        Ok(count) if (1..=MAX_FILE_CHANNELS).contains(&count) => Ok(()),
        _ => Err(AudioError::BadChannels(
            u16::try_from(channels).unwrap_or(u16::MAX),
        )),
    }
}

/// How many frames short of the container's announced length the decoded
/// audio may end before it is called truncated: two packets (a reader may
/// drop a last, partial one; AAC and Vorbis lengths are given up to the
/// codec's priming), and `None` for MP3, whose length may be an estimate
/// from the file size.
fn truncation_slack(codec: CodecType, max_frames_per_packet: Option<u64>) -> Option<u64> {
    (codec_name(codec) != "mp3").then(|| 2 * max_frames_per_packet.unwrap_or(4096))
}

fn is_pcm(codec: CodecType) -> bool {
    [
        CODEC_TYPE_PCM_U8,
        CODEC_TYPE_PCM_S8,
        CODEC_TYPE_PCM_S16LE,
        CODEC_TYPE_PCM_S16BE,
        CODEC_TYPE_PCM_S24LE,
        CODEC_TYPE_PCM_S24BE,
        CODEC_TYPE_PCM_S32LE,
        CODEC_TYPE_PCM_S32BE,
        CODEC_TYPE_PCM_F32LE,
        CODEC_TYPE_PCM_F32BE,
        CODEC_TYPE_PCM_F64LE,
        CODEC_TYPE_PCM_F64BE,
        CODEC_TYPE_PCM_ALAW,
        CODEC_TYPE_PCM_MULAW,
    ]
    .contains(&codec)
}

/// The codec's short name, or "an unknown codec".
fn codec_name(codec: CodecType) -> &'static str {
    symphonia::default::get_codecs()
        .get_codec(codec)
        .map_or("an unknown codec", |descriptor| descriptor.short_name)
}

/// "12.345 s", for messages about where in the audio something happened.
fn at_time(frames: u64, rate: u32) -> String {
    format!("{:.3} s", frames as f64 / f64::from(rate.max(1)))
}

/// An error while reading the audio itself.
fn body_error(err: SymphoniaError, frames: u64) -> AudioError {
    match err {
        SymphoniaError::IoError(err) => AudioError::Read(err),
        SymphoniaError::Unsupported(what) => {
            AudioError::Unsupported(format!("{what} (after {frames} frames)"))
        }
        other => AudioError::Malformed(format!("{other} (after {frames} frames)")),
    }
}

/// The length in seconds of the audio file at `path`: the container's
/// figure, or where it gives none, the decoded length. Decoding stops once
/// past `stop_after_s`, so a caller with a limit learns "too long" without
/// decoding the rest.
pub fn measure_duration(path: &Path, stop_after_s: f64) -> Result<f64, AudioError> {
    let reader = AudioReader::open(path)?;
    let info = reader.info();
    if let Some(duration_s) = info.duration_s() {
        return Ok(duration_s);
    }
    let rate = f64::from(info.sample_rate);
    let stop_after = (stop_after_s * rate).min(u64::MAX as f64) as u64;
    Ok(reader.count_remaining(stop_after)? as f64 / rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV of `frames` frames of `channels` distinct channels, with
    /// values spread over the whole range (and, in float, signed zeros,
    /// subnormals and full scale).
    fn wav(layout: SampleLayout, channels: u16, frames: usize) -> Vec<u8> {
        let spec = crate::synth::wav_spec(44_100, channels, layout);
        let mut bytes = std::io::Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut bytes, spec).unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let specials = [-0.0f32, 0.0, 1e-40, -1e-40, 1.0, -1.0, 0.5];
        for index in 0..frames * usize::from(channels) {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let word = (state >> 32) as u32;
            match layout {
                SampleLayout::U8 => writer.write_sample((word >> 24) as u8 as i8).unwrap(),
                SampleLayout::S16 => writer.write_sample((word >> 16) as u16 as i16).unwrap(),
                SampleLayout::S24 => writer.write_sample((word as i32) >> 8).unwrap(),
                SampleLayout::S32 => writer.write_sample(word as i32).unwrap(),
                SampleLayout::F32 => {
                    let value = if index % 5 == 0 {
                        specials[(word % specials.len() as u32) as usize]
                    } else {
                        (word as i32) as f32 / 2_147_483_648.0
                    };
                    writer.write_sample(value).unwrap()
                }
            }
        }
        writer.finalize().unwrap();
        bytes.into_inner()
    }

    fn read(bytes: Vec<u8>, allow_direct: bool) -> (Vec<f32>, bool) {
        let source = Box::new(OddListFix::new(std::io::Cursor::new(bytes)));
        let mut reader = AudioReader::open_source(source, allow_direct).unwrap();
        let direct = reader.direct.is_some();
        (reader.read_all().unwrap(), direct)
    }

    /// The direct path gives symphonia's samples to the bit, in every
    /// layout it takes and for any channel count.
    #[test]
    fn plain_pcm_read_directly_is_symphonias_decoding_to_the_bit() {
        for layout in [
            SampleLayout::U8,
            SampleLayout::S16,
            SampleLayout::S24,
            SampleLayout::S32,
            SampleLayout::F32,
        ] {
            for channels in [1, 2, 3, 6] {
                let bytes = wav(layout, channels, 5_000);
                let (direct, took_direct) = read(bytes.clone(), true);
                let (decoded, took_symphonia) = read(bytes, false);
                assert!(took_direct && !took_symphonia, "{layout:?}");
                assert_eq!(direct.len(), 5_000, "{layout:?} x{channels}");
                let direct: Vec<u32> = direct.iter().map(|v| v.to_bits()).collect();
                let decoded: Vec<u32> = decoded.iter().map(|v| v.to_bits()).collect();
                assert_eq!(direct, decoded, "{layout:?} x{channels}");
            }
        }
    }

    /// A NaN in a float WAV is the same error, naming the same frame, on
    /// both paths.
    #[test]
    fn a_bad_float_sample_is_the_same_error_on_both_paths() {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8_000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut bytes = std::io::Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut bytes, spec).unwrap();
        for frame in 0..3_000 {
            let value = if frame == 2_500 { f32::NAN } else { 0.25 };
            writer.write_sample(value).unwrap();
            writer.write_sample(0.5f32).unwrap();
        }
        writer.finalize().unwrap();
        for allow_direct in [true, false] {
            let source = Box::new(OddListFix::new(std::io::Cursor::new(
                bytes.get_ref().clone(),
            )));
            let mut reader = AudioReader::open_source(source, allow_direct).unwrap();
            let error = reader.read_all().unwrap_err();
            assert!(
                matches!(error, AudioError::NonFinite { frame: 2_500 }),
                "{allow_direct}: {error}"
            );
        }
    }
}
