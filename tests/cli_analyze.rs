//! `harmonic analyze` as a user runs it: the JSON contract, and one clear
//! error line with a non-zero exit for every kind of bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

use harmonic::audio::SampleLayout;
use harmonic::synth::{self, SoundKind};

fn harmonic(args: &[&Path]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_harmonic"))
        .arg("analyze")
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A template (one key click, 44.1 kHz mono 16-bit) and a recording with it
/// three times (48 kHz stereo float).
fn files(dir: &Path) -> (PathBuf, PathBuf) {
    let mut rng = synth::rng(7);
    let click = synth::sound(SoundKind::KeyClick, 44_100, &mut rng);
    let template = dir.join("click.wav");
    synth::write_wav(&template, &click, 44_100, 1, SampleLayout::S16).unwrap();
    // The same click (same seed) made at the recording's own rate.
    let click_48k = synth::sound(SoundKind::KeyClick, 48_000, &mut synth::rng(7));
    let mut recording = vec![0.0f32; 48_000 * 3];
    for at in [0.5, 1.3, 2.2] {
        let start = (at * 48_000.0) as usize;
        for (r, c) in recording[start..].iter_mut().zip(&click_48k) {
            *r += c;
        }
    }
    let path = dir.join("session.wav");
    synth::write_wav(&path, &recording, 48_000, 2, SampleLayout::F32).unwrap();
    (template, path)
}

#[test]
fn json_is_exactly_the_documented_object() {
    let dir = tempfile::tempdir().unwrap();
    let (template, recording) = files(dir.path());
    let (code, stdout, stderr) = harmonic(&[&template, &recording, Path::new("--json")]);
    assert_eq!(code, 0, "{stderr}");
    let value: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["count", "duration_s", "elapsed_ms", "events"],
        "and nothing else"
    );
    assert!(
        stdout.starts_with("{\"count\":"),
        "documented key order: {stdout}"
    );
    assert_eq!(value["count"], 3);
    let events = value["events"].as_array().unwrap();
    for (event, truth) in events.iter().zip([0.5, 1.3, 2.2]) {
        assert_eq!(event.as_object().unwrap().len(), 2);
        assert!(
            (event["start_s"].as_f64().unwrap() - truth).abs() < 0.05,
            "{event}"
        );
        assert!((0.0..=1.0).contains(&event["score"].as_f64().unwrap()));
    }
    assert_eq!(stdout.lines().count(), 1);
}

#[test]
fn plots_are_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let (template, recording) = files(dir.path());
    for name in ["plot.svg", "plot.png"] {
        let plot = dir.path().join(name);
        let (code, _, stderr) = harmonic(&[&template, &recording, Path::new("--plot"), &plot]);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            std::fs::metadata(&plot).unwrap().len() > 1_000,
            "{name} has content"
        );
    }
}

fn assert_one_clear_error(args: &[&Path], expected: &str) {
    let (code, stdout, stderr) = harmonic(args);
    assert_ne!(code, 0, "must fail: {args:?}");
    assert!(stdout.is_empty(), "nothing on stdout: {stdout}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected '{expected}' in: {stderr}"
    );
}

#[test]
fn every_bad_input_gets_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (template, recording) = files(d);
    let write = |name: &str, bytes: &[u8]| {
        let path = d.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };

    assert_one_clear_error(&[&d.join("missing.wav"), &recording], "missing.wav");
    let text = write("notes.wav", b"these are my notes, not audio");
    assert_one_clear_error(&[&template, &text], "notes.wav: not an audio file");
    assert_one_clear_error(
        &[&write("empty.wav", b""), &recording],
        "empty.wav: not an audio file",
    );

    let full = std::fs::read(&recording).unwrap();
    let truncated = write("truncated.wav", &full[..full.len() / 2]);
    assert_one_clear_error(&[&template, &truncated], "truncated");
    assert_one_clear_error(
        &[&template, &write("header-only.wav", &full[..30])],
        "header-only.wav: truncated",
    );

    let zero = d.join("zero.wav");
    synth::write_wav(&zero, &[], 44_100, 1, SampleLayout::S16).unwrap();
    assert_one_clear_error(&[&template, &zero], "no samples");

    let silent = d.join("silent.wav");
    synth::write_wav(&silent, &vec![0.0; 22_050], 44_100, 1, SampleLayout::S16).unwrap();
    assert_one_clear_error(&[&silent, &recording], "silent");

    let tone = d.join("tone.wav");
    let hum: Vec<f32> = (0..44_100)
        .map(|i| 0.3 * (std::f32::consts::TAU * 220.0 * i as f32 / 44_100.0).sin())
        .collect();
    synth::write_wav(&tone, &hum, 44_100, 1, SampleLayout::S16).unwrap();
    assert_one_clear_error(&[&tone, &recording], "no distinct sound");

    assert_one_clear_error(&[&recording, &template], "longer than the recording");

    let absurd = d.join("absurd.wav");
    synth::write_wav(&absurd, &[0.1; 100], 1_000, 1, SampleLayout::S16).unwrap();
    assert_one_clear_error(&[&template, &absurd], "outside the supported range");

    let nan = d.join("nan.wav");
    let mut samples = vec![0.1f32; 44_100];
    samples[1_000] = f32::NAN;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 44_100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(&nan, spec).unwrap();
    samples
        .iter()
        .for_each(|&s| writer.write_sample(s).unwrap());
    writer.finalize().unwrap();
    assert_one_clear_error(&[&template, &nan], "non-finite sample");
}

#[test]
fn a_closed_pipe_is_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (template, recording) = files(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_harmonic"))
        .arg("analyze")
        .args([&template, &recording])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away, like `| head -0`
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
}

#[test]
fn bad_options_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (template, recording) = files(dir.path());
    for args in [
        ["--threshold", "1.5"],
        ["--threshold", "abc"],
        ["--min-gap", "-1"],
        ["--min-gap", "NaN"],
    ] {
        let (code, _, stderr) = harmonic(&[
            &template,
            &recording,
            Path::new(args[0]),
            Path::new(args[1]),
        ]);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains("error"), "{stderr}");
    }
}
