//! The audio a run sends: generated, or read from the files given.

use super::*;

/// A WAV file (16-bit mono) in memory.
pub(super) fn wav_bytes(samples: &[f32], rate: u32) -> Vec<u8> {
    synth::wav_bytes(samples, rate, 1, crate::audio::SampleLayout::S16)
}

/// A sample as 16-bit PCM, as [`wav_bytes`] writes it (live streams send raw PCM).
pub(super) fn s16(sample: f32) -> i16 {
    (sample.clamp(-1.0, 1.0) * 32_767.0).round() as i16
}

/// The generated template and a 10 s recording holding it at [`SYNTH_EVENTS`].
pub(crate) fn generated_audio() -> (Vec<f32>, Vec<f32>) {
    let template = synth::sound(synth::SoundKind::KeyClick, SYNTH_RATE, &mut synth::rng(7));
    let recording = synth::planted_recording(&template, SYNTH_RATE, SYNTH_SECONDS, &SYNTH_EVENTS);
    (template, recording)
}

/// The audio of the run: template WAV, recording WAV, recording as s16le
/// PCM with its format, and the expected count (known for generated audio).
pub(super) fn audio(
    args: &LoadArgs,
) -> Result<(Bytes, Bytes, Bytes, PcmFormat, Option<u64>), String> {
    let (generated_template, generated_recording) = generated_audio();
    let template = match &args.template {
        Some(path) => std::fs::read(path).map_err(|err| format!("{}: {err}", path.display()))?,
        None => wav_bytes(&generated_template, SYNTH_RATE),
    };
    let (recording, expected) = match &args.recording {
        Some(path) => (
            std::fs::read(path).map_err(|err| format!("{}: {err}", path.display()))?,
            None,
        ),
        None => (
            wav_bytes(&generated_recording, SYNTH_RATE),
            (args.template.is_none()).then_some(SYNTH_EVENTS.len() as u64),
        ),
    };
    let mut source = AudioReader::from_bytes(recording.clone())
        .map_err(|err| format!("the recording: {err}"))?;
    let rate = source.info().sample_rate;
    let samples = source
        .read_all()
        .map_err(|err| format!("the recording: {err}"))?;
    let pcm: Vec<u8> = samples.iter().flat_map(|s| s16(*s).to_le_bytes()).collect();
    let format = PcmFormat {
        encoding: PcmEncoding::S16Le,
        sample_rate: rate,
        channels: 1,
    };
    Ok((
        Bytes::from(template),
        Bytes::from(recording),
        Bytes::from(pcm),
        format,
        expected,
    ))
}
