//! What phones and PCs record: every format decodes by its content, WAV in
//! every valid RIFF layout, and the same sound in WAV and in each
//! compressed format counts the same, locally and through the server.
//!
//! The compressed files are in tests/audio/ (made by ffmpeg from audio this
//! test writes, see tests/audio/README.md); the lossless FLAC is the
//! reference that the WAV and AIFF versions are written from here.

use std::path::{Path, PathBuf};

use harmonic::audio::{AudioError, AudioReader, SampleLayout};
use harmonic::dsp::{analyze_file, load_template, DspError, Event, Options};
use harmonic::synth;

/// Where the template occurs in the fixture recording (seconds).
const TRUTH: [f64; 4] = [0.4, 1.1, 1.5, 2.3];
/// Rate of the fixture sources.
const SOURCE_RATE: u32 = 16_000;
/// How far apart the same event may start in two encodings of one
/// recording: AAC and MP3 smear a click over a few milliseconds, and the
/// engine's frames are 2.5 ms apart for short sounds.
const SAME_EVENT_S: f64 = 0.012;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/audio")
        .join(name)
}

/// The fixture sources: a key click, and 3 s of faint noise with the click
/// at each of [`TRUTH`].
fn sources() -> (Vec<f32>, Vec<f32>) {
    let click = synth::sound(synth::SoundKind::KeyClick, SOURCE_RATE, &mut synth::rng(7));
    let mut recording: Vec<f32> = synth::white(3 * SOURCE_RATE as usize, &mut synth::rng(11))
        .into_iter()
        .map(|s| s * 0.002)
        .collect();
    for t in TRUTH {
        let start = (t * f64::from(SOURCE_RATE)) as usize;
        for (out, s) in recording[start..].iter_mut().zip(&click) {
            *out += s;
        }
    }
    (click, recording)
}

/// Writes the WAV sources the files of tests/audio/ are encoded from
/// (tests/audio/make.sh runs it).
#[test]
#[ignore = "writes the sources of tests/audio/; run by tests/audio/make.sh"]
fn write_fixture_sources() {
    let out = PathBuf::from(std::env::var("HARMONIC_FIXTURE_OUT").expect("HARMONIC_FIXTURE_OUT"));
    let (click, recording) = sources();
    synth::write_wav(
        &out.join("template.wav"),
        &click,
        SOURCE_RATE,
        1,
        SampleLayout::S16,
    )
    .unwrap();
    synth::write_wav(
        &out.join("recording.wav"),
        &recording,
        SOURCE_RATE,
        1,
        SampleLayout::S16,
    )
    .unwrap();
}

fn decode(path: &Path) -> (u32, Vec<f32>) {
    let mut reader = AudioReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rate = reader.info().sample_rate;
    (rate, reader.read_all().unwrap())
}

/// The lossless reference written as WAV (16-bit, as the FLAC holds).
fn reference_wav(dir: &Path, name: &str) -> PathBuf {
    let (rate, samples) = decode(&fixture(&format!("{name}.flac")));
    let path = dir.join(format!("{name}.wav"));
    synth::write_wav(&path, &samples, rate, 1, SampleLayout::S16).unwrap();
    path
}

fn count(template: &Path, recording: &Path) -> Vec<Event> {
    let template =
        load_template(template).unwrap_or_else(|e| panic!("{}: {e}", template.display()));
    analyze_file(
        &template,
        recording,
        &Options::default(),
        false,
        &mut |_| true,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", recording.display()))
    .0
    .events
}

/// How much later an event may come in an M4A: symphonia 0.5 does not
/// apply the MP4 edit list that tells a decoder to drop AAC's 1024
/// priming samples (23 ms at 44.1 kHz), so everything in an M4A comes that
/// much late (docs/PROTOCOL.md, "Audio inputs").
const AAC_PRIMING_S: f64 = 1024.0 / 44_100.0;

fn assert_same_events(expected: &[Event], got: &[Event], what: &str) {
    // A late recording finds every event late; a late template finds them
    // early by up to the priming (the engine trims the silence around a
    // template, some of which the priming is).
    let (early, late) = match (what.contains("m4a"), what.starts_with("template")) {
        (false, _) => (0.0, 0.0),
        (true, false) => (0.0, AAC_PRIMING_S),
        (true, true) => (AAC_PRIMING_S, 0.0),
    };
    assert_eq!(
        expected.len(),
        got.len(),
        "{what}: {} events in WAV, {} here: {got:?}",
        expected.len(),
        got.len()
    );
    for (a, b) in expected.iter().zip(got) {
        assert!(
            b.start_s >= a.start_s - early - SAME_EVENT_S
                && b.start_s <= a.start_s + late + SAME_EVENT_S,
            "{what}: an event at {:.4} s in WAV is at {:.4} s here",
            a.start_s,
            b.start_s
        );
    }
}

const COMPRESSED: [&str; 4] = ["flac", "mp3", "m4a", "ogg"];

#[test]
fn every_format_counts_like_the_same_sound_in_wav() {
    let dir = tempfile::tempdir().unwrap();
    let template = reference_wav(dir.path(), "template");
    let recording = reference_wav(dir.path(), "recording");
    let wav_events = count(&template, &recording);
    let found: Vec<f64> = wav_events.iter().map(|e| e.start_s).collect();
    let outcome = synth::evaluate::match_events(&TRUTH, &found, 0.05);
    assert_eq!(
        (outcome.false_negatives, outcome.false_positives),
        (0, 0),
        "the WAV reference counts right: {found:?}"
    );
    let aiff = dir.path().join("recording.aiff");
    write_aiff(&aiff, &decode(&recording).1, SOURCE_RATE);
    assert_same_events(&wav_events, &count(&template, &aiff), "recording.aiff");
    for ext in COMPRESSED {
        let name = format!("recording.{ext}");
        assert_same_events(&wav_events, &count(&template, &fixture(&name)), &name);
        let name = format!("template.{ext}");
        assert_same_events(&wav_events, &count(&fixture(&name), &recording), &name);
    }
}

/// The format comes from the bytes, never from the name.
#[test]
fn formats_are_recognised_by_content_not_name() {
    let dir = tempfile::tempdir().unwrap();
    for ext in COMPRESSED {
        for disguise in ["looks-like.wav", "no-extension"] {
            let path = dir.path().join(disguise);
            std::fs::copy(fixture(&format!("recording.{ext}")), &path).unwrap();
            let (rate, samples) = decode(&path);
            let seconds = samples.len() as f64 / f64::from(rate);
            assert!(
                (seconds - 3.0).abs() < 0.05,
                "{ext} as {disguise}: {seconds} s"
            );
        }
        let bytes = std::fs::read(fixture(&format!("recording.{ext}"))).unwrap();
        let mut from_memory = AudioReader::from_bytes(bytes.clone()).unwrap();
        let mut from_stream = AudioReader::from_stream(std::io::Cursor::new(bytes)).unwrap();
        let in_memory = from_memory.read_all().unwrap();
        let streamed = from_stream.read_all().unwrap();
        // Unseekable, an Ogg's end trim (from its last page) is unknown
        // until the end: at most one packet more.
        assert!(
            in_memory.len().abs_diff(streamed.len()) <= 2_048,
            "{ext}: {} frames seekable, {} not",
            in_memory.len(),
            streamed.len()
        );
    }
}

/// A RIFF file as recorders and taggers write it: extra chunks before and
/// after `fmt`, odd sizes followed by their pad byte.
fn riff_with_extra_chunks(samples: &[i16], rate: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
        out.extend_from_slice(id);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        if body.len() % 2 == 1 {
            out.push(0); // the pad byte, not counted in the size
        }
    }
    let mut body = b"WAVE".to_vec();
    chunk(&mut body, b"JUNK", &[0; 27]);
    chunk(&mut body, b"bext", &[b'x'; 603]);
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&1u16.to_le_bytes()); // PCM
    fmt.extend_from_slice(&1u16.to_le_bytes()); // mono
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * 2).to_le_bytes());
    fmt.extend_from_slice(&2u16.to_le_bytes());
    fmt.extend_from_slice(&16u16.to_le_bytes());
    chunk(&mut body, b"fmt ", &fmt);
    chunk(&mut body, b"fact", &(samples.len() as u32).to_le_bytes());
    // An INFO list whose odd-sized string is padded inside the list, and a
    // list of another form whose own size is odd.
    let mut list = b"INFO".to_vec();
    list.extend_from_slice(b"INAM");
    list.extend_from_slice(&5u32.to_le_bytes());
    list.extend_from_slice(b"click\0");
    chunk(&mut body, b"LIST", &list);
    chunk(&mut body, b"LIST", b"adtlx");
    chunk(&mut body, b"junk", &[1, 2, 3]);
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    chunk(&mut body, b"data", &data);
    chunk(&mut body, b"LIST", b"INFOICMT\x03\0\0\0hi\0");
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend_from_slice(&body);
    file
}

#[test]
fn wav_in_every_valid_riff_layout() {
    let samples: Vec<i16> = (0..4_001)
        .map(|i| ((i * 37) % 2_000 - 1_000) as i16)
        .collect();
    let bytes = riff_with_extra_chunks(&samples, 22_050);
    let mut reader = AudioReader::from_bytes(bytes).unwrap();
    assert_eq!(reader.info().sample_rate, 22_050);
    assert_eq!(reader.info().frames, Some(4_001));
    let decoded = reader.read_all().unwrap();
    let expected: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32_768.0).collect();
    assert_eq!(decoded, expected);

    // WAVE_FORMAT_EXTENSIBLE (hound writes it for 24 bits and for more
    // than two channels) and every sample width, the same signal each time.
    let signal: Vec<f32> = (0..1_000).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
    let dir = tempfile::tempdir().unwrap();
    for (layout, channels) in [
        (SampleLayout::U8, 1),
        (SampleLayout::S16, 2),
        (SampleLayout::S24, 1),
        (SampleLayout::S24, 6),
        (SampleLayout::S32, 3),
        (SampleLayout::F32, 2),
    ] {
        let path = dir.path().join("x.wav");
        synth::write_wav(&path, &signal, 22_050, channels, layout).unwrap();
        let (rate, decoded) = decode(&path);
        assert_eq!(
            (rate, decoded.len()),
            (22_050, 1_000),
            "{layout:?} x{channels}"
        );
        let tolerance = if layout == SampleLayout::U8 {
            0.02
        } else {
            1e-4
        };
        for (a, b) in decoded.iter().zip(&signal) {
            assert!(
                (a - b).abs() < tolerance,
                "{layout:?} x{channels}: {a} vs {b}"
            );
        }
    }
}

/// A real recorder's file: 48 kHz with an odd-sized LIST chunk before
/// `data` (hound refused it).
#[test]
fn the_odd_list_chunk_recording_decodes() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/audio/ring_48k_list_chunk.wav");
    if !path.is_file() {
        eprintln!(
            "skipping: {} not found beside the checkout (real recordings are not in the repo)",
            path.display()
        );
        return;
    }
    let (rate, samples) = decode(&path);
    assert_eq!(rate, 48_000);
    assert!(samples.len() > 9_000, "{} frames", samples.len());
    assert!(samples.iter().any(|s| s.abs() > 0.01), "not silence");
}

#[test]
fn damaged_files_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let open = |path: &Path| -> AudioError {
        match AudioReader::open(path).and_then(|mut r| r.read_all()) {
            Ok(samples) => panic!("{}: decoded {} samples", path.display(), samples.len()),
            Err(err) => err,
        }
    };
    assert!(matches!(
        open(&write("text", b"these are notes, not audio")),
        AudioError::NotAudio
    ));
    assert!(matches!(open(&write("empty", b"")), AudioError::NotAudio));
    let flac = std::fs::read(fixture("recording.flac")).unwrap();
    let err = open(&write("cut.flac", &flac[..flac.len() / 2]));
    assert!(matches!(err, AudioError::Truncated { .. }), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
    let err = open(&write("header.flac", &flac[..20]));
    assert!(matches!(err, AudioError::HeaderTruncated), "{err}");
    let opus = open(&fixture("tone.opus"));
    assert!(matches!(opus, AudioError::Unsupported(_)), "{opus}");
    assert!(opus.to_string().contains("codec"), "{opus}");
    let video = open(&fixture("no-audio.mp4"));
    assert!(
        matches!(video, AudioError::NoAudioTrack | AudioError::NotAudio),
        "{video}"
    );
    // Inputs on which symphonia 0.5 panics (found by fuzzing) are damaged
    // files, not a crash: bytes that look like a raw ADTS AAC header with
    // a zero frame length, and an AIFF whose sample rate is 0.
    let adts = [
        122, 4, 0, 0, 0, 39, 0, 0, 39, 255, 0, 0, 39, 0, 0, 39, 255, 241, 0, 78, 205, 0, 0, 236, 0,
        255, 255, 255, 255, 255, 0, 123, 123,
    ];
    let err = open(&write("adts-like", &adts));
    assert!(
        matches!(
            err,
            AudioError::NotAudio | AudioError::HeaderTruncated | AudioError::Malformed(_)
        ),
        "{err}"
    );
    let aiff = dir.path().join("rate.aiff");
    write_aiff(&aiff, &[0.1; 800], 8_000);
    let mut zero_rate = std::fs::read(&aiff).unwrap();
    // FORM, size, AIFF, COMM, size, channels, frames, bits: the rate's 10 bytes.
    zero_rate[28..38].fill(0);
    let err = open(&write("zero-rate.aiff", &zero_rate));
    let said = err.to_string();
    assert!(
        said.contains("damaged") || said.contains("sample rate"),
        "{said}"
    );
    // A template too long is refused before it is decoded whole.
    let long = dir.path().join("long.wav");
    synth::write_wav(&long, &vec![0.1; 8_000 * 61], 8_000, 1, SampleLayout::S16).unwrap();
    assert!(matches!(
        load_template(&long),
        Err(DspError::TemplateTooLong(_))
    ));
}

/// Writes 16-bit big-endian AIFF (FORM/COMM/SSND), as macOS tools do.
fn write_aiff(path: &Path, samples: &[f32], rate: u32) {
    let mut comm = Vec::new();
    comm.extend_from_slice(&1u16.to_be_bytes());
    comm.extend_from_slice(&(samples.len() as u32).to_be_bytes());
    comm.extend_from_slice(&16u16.to_be_bytes());
    comm.extend_from_slice(&extended(f64::from(rate)));
    let mut ssnd = vec![0u8; 8]; // offset, block size
    for s in samples {
        let v = (s * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16;
        ssnd.extend_from_slice(&v.to_be_bytes());
    }
    let mut body = b"AIFF".to_vec();
    for (id, chunk) in [(b"COMM", comm), (b"SSND", ssnd)] {
        body.extend_from_slice(id);
        body.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        body.extend_from_slice(&chunk);
    }
    let mut file = b"FORM".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_be_bytes());
    file.extend_from_slice(&body);
    std::fs::write(path, file).unwrap();
}

/// An integer sample rate as the 80-bit IEEE extended float AIFF stores.
fn extended(value: f64) -> [u8; 10] {
    let int = value as u64;
    let shift = int.leading_zeros();
    let exponent = 16_383 + 63 - shift as u16;
    let mantissa = int << shift;
    let mut out = [0u8; 10];
    out[..2].copy_from_slice(&exponent.to_be_bytes());
    out[2..].copy_from_slice(&mantissa.to_be_bytes());
    out
}

/// Through the server: a phone's M4A saved as the sound, a PC's MP3 and
/// the others counted against it, and the same in WAV.
#[tokio::test]
async fn every_format_counts_the_same_through_the_server() {
    use crate::server_support::{settings, start, typed_client};
    use harmonic::protocol::{CountOptions, TemplateSource};
    let dir = tempfile::tempdir().unwrap();
    let server = start(settings(dir.path()));
    let client = typed_client(server.local_addr(), "pat").await;
    let wav_dir = tempfile::tempdir().unwrap();
    let template_wav = reference_wav(wav_dir.path(), "template");
    let recording_wav = reference_wav(wav_dir.path(), "recording");
    let saved = client
        .sound_save("click", fixture("template.m4a").as_path(), false)
        .await
        .unwrap();
    assert_eq!((saved.sample_rate, saved.channels), (44_100, 2));
    client
        .sound_save("click-wav", template_wav.as_path(), false)
        .await
        .unwrap();
    let options = CountOptions::default();
    let counted = |sound: &'static str, recording: PathBuf| {
        let client = &client;
        let options = &options;
        async move {
            client
                .count(
                    &TemplateSource::Sound(sound.into()),
                    recording.as_path(),
                    options,
                    |_, _| {},
                )
                .await
                .unwrap_or_else(|e| panic!("{sound} in {}: {e}", recording.display()))
                .events
        }
    };
    let wav_events = counted("click-wav", recording_wav.clone()).await;
    assert_eq!(wav_events.len(), TRUTH.len());
    let as_events = |events: Vec<harmonic::protocol::response::EventInfo>| -> Vec<Event> {
        events
            .into_iter()
            .map(|e| Event {
                start_s: e.start_s,
                score: e.score as f32,
            })
            .collect()
    };
    let wav_events = as_events(wav_events);
    for ext in COMPRESSED {
        let name = format!("recording.{ext}");
        let events = as_events(counted("click-wav", fixture(&name)).await);
        assert_same_events(&wav_events, &events, &name);
    }
    let events = as_events(counted("click", recording_wav).await);
    assert_same_events(&wav_events, &events, "template.m4a saved on the server");
    // A file that is not audio is `unsupported_audio`, naming what it was.
    let err = client
        .sound_save("notes", b"these are notes, not audio".to_vec(), false)
        .await
        .unwrap_err();
    match err {
        harmonic::client::ClientError::Server { code, message, .. } => {
            assert_eq!(code.as_str(), "unsupported_audio");
            assert!(
                message.starts_with("the sound: not an audio file"),
                "{message}"
            );
        }
        other => panic!("not an error answer: {other}"),
    }
}
