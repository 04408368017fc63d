//! Speed and memory of the counting engine on a 60-minute recording with a
//! 1-second template, on one core.
//!
//! `cargo bench --bench speed -- [--minutes N] [--only sparse,click,rapid,dense,floor]`
//!
//! Prints, in one run: the engine's x-realtime and peak RSS (and its
//! x-realtime with a short key-click template, matched on finer frames, and
//! on ten minutes of the 1 s template repeated every 0.33-1 s, where the
//! joint model searches every stretch between repeats); the dense hour, a
//! key click every 0.12 s (30,000 in an hour: a long typing or
//! rope-skipping session, where every candidate is a true one and the
//! fine check runs 30,000 times), with found and true counts; the same
//! normalised correlation computed directly (time domain) over the feature
//! frames, and a direct waveform correlation at 16 kHz (what the Python
//! original did), both timed on a slice and extrapolated; and the FFT floor:
//! the bare forward and inverse FFTs the method needs for the whole hour.
//! The engine is timed by wall clock and by its thread's CPU time, the
//! comparisons by CPU time: on a machine shared with other jobs the wall
//! clock counts their time as well.

use harmonic::actors::timing::thread_cpu_time;
use std::path::Path;
use std::time::Instant;

use harmonic::audio::{SampleLayout, ANALYSIS_RATE};
use harmonic::dsp::features::{Resolution, BANDS};
use harmonic::dsp::{analyze_file, Options, TemplateAudio};
use harmonic::synth::evaluate::BenchArgs;
use harmonic::synth::{self, SoundKind};
use rand::Rng;
use realfft::RealFftPlanner;

/// A 1 s template is matched at the standard resolution.
const WINDOW: usize = Resolution::STANDARD.window;
/// See [`WINDOW`].
const HOP: usize = Resolution::STANDARD.hop;

const RATE: u32 = 44_100;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU seconds this thread has used ([`thread_cpu_time`]): on a machine
/// shared with other jobs the wall clock counts their time too, the
/// thread's CPU time does not. NaN where the platform does not say.
fn thread_cpu_s() -> f64 {
    thread_cpu_time().map_or(f64::NAN, |cpu| cpu.as_secs_f64())
}

/// Times `run` by wall clock and by this thread's CPU time.
fn timed<T>(run: impl FnOnce() -> T) -> (T, f64, f64) {
    let (started, cpu) = (Instant::now(), thread_cpu_s());
    let result = run();
    (
        result,
        started.elapsed().as_secs_f64(),
        thread_cpu_s() - cpu,
    )
}

/// "wall W s (Nx realtime), CPU C s (Mx realtime)" for `seconds` of audio.
fn speed(seconds: f64, wall: f64, cpu: f64) -> String {
    format!(
        "wall {wall:.3} s ({:.0}x realtime), CPU {cpu:.3} s ({:.0}x realtime)",
        seconds / wall,
        seconds / cpu
    )
}

/// A 1-second template: a thump followed by a ring.
fn template() -> Vec<f32> {
    let mut rng = synth::rng(2024);
    let mut t = synth::sound(SoundKind::Thump, RATE, &mut rng);
    t.extend(synth::sound(SoundKind::Ring, RATE, &mut rng));
    t.resize(RATE as usize, 0.0);
    t
}

/// A 16-bit mono WAV writer at [`RATE`] for a recording written block by
/// block, so that an hour never sits in memory.
fn block_writer(path: &Path) -> hound::WavWriter<std::io::BufWriter<std::fs::File>> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    hound::WavWriter::create(path, spec).expect("create the recording")
}

/// Appends one block of samples to a [`block_writer`]'s recording.
fn write_block(writer: &mut hound::WavWriter<std::io::BufWriter<std::fs::File>>, block: &[f32]) {
    let mut samples = writer.get_i16_writer(block.len() as u32);
    for &s in block {
        samples.write_sample((s.clamp(-1.0, 1.0) * 32_767.0) as i16);
    }
    samples.flush().expect("write the recording");
}

/// Writes the recording block by block (memory stays small): room noise
/// with the template every ~10 s.
fn write_recording(path: &Path, minutes: u32, template: &[f32]) -> usize {
    let mut writer = block_writer(path);
    let mut rng = synth::rng(99);
    let mut count = 0;
    for _ in 0..minutes * 6 {
        let mut block = synth::pink(RATE as usize * 10, &mut rng);
        block.iter_mut().for_each(|s| *s *= 0.01);
        for (b, t) in block[RATE as usize * 3..].iter_mut().zip(template) {
            *b += t;
        }
        count += 1;
        write_block(&mut writer, &block);
    }
    writer.finalize().expect("finish the recording");
    count
}

/// Writes `minutes` of rapid repeats: the template every 0.33-1 s
/// (overlapping), over the same room noise. Returns the count.
fn write_rapid_recording(path: &Path, minutes: u32, template: &[f32]) -> usize {
    let total = RATE as usize * 60 * minutes as usize;
    let mut rng = synth::rng(5);
    let mut signal = synth::pink(total, &mut rng);
    signal.iter_mut().for_each(|s| *s *= 0.01);
    let mut at = RATE as usize / 2;
    let mut count = 0;
    while at + template.len() < total {
        for (s, t) in signal[at..].iter_mut().zip(template) {
            *s += 0.5 * t;
        }
        count += 1;
        at += (f64::from(RATE) * rng.random_range(0.33..1.0)) as usize;
    }
    synth::write_wav(path, &signal, RATE, 1, SampleLayout::S16).expect("write the recording");
    count
}

/// Seconds between two clicks of the dense hour: 30,000 in an hour.
const DENSE_SPACING_S: f64 = 0.12;
/// Where the first click of each dense block starts (seconds).
const DENSE_FIRST_S: f64 = 0.05;
/// Clicks per block of the dense hour (12 s, written one at a time so
/// memory stays small).
const DENSE_BLOCK_CLICKS: usize = 100;

/// Writes `minutes` of dense repeats: `click` every [`DENSE_SPACING_S`]
/// over faint room noise. Returns the onsets (seconds).
fn write_dense_recording(path: &Path, minutes: u32, click: &[f32]) -> Vec<f64> {
    let mut writer = block_writer(path);
    let mut rng = synth::rng(11);
    let block_s = DENSE_BLOCK_CLICKS as f64 * DENSE_SPACING_S;
    let blocks = (f64::from(minutes) * 60.0 / block_s).round() as usize;
    let mut onsets = Vec::new();
    for b in 0..blocks {
        let mut block = synth::pink((block_s * f64::from(RATE)).round() as usize, &mut rng);
        block.iter_mut().for_each(|s| *s *= 0.003);
        for i in 0..DENSE_BLOCK_CLICKS {
            let at = DENSE_FIRST_S + i as f64 * DENSE_SPACING_S;
            let start = (at * f64::from(RATE)) as usize;
            for (s, c) in block[start..].iter_mut().zip(click) {
                *s += c;
            }
            onsets.push(b as f64 * block_s + start as f64 / f64::from(RATE));
        }
        write_block(&mut writer, &block);
    }
    writer.finalize().expect("finish the recording");
    onsets
}

/// How many of `found` lie within 20 ms of one of `onsets` (sorted), each
/// onset matched at most once.
fn matched(found: &[f64], onsets: &[f64]) -> usize {
    let mut used = vec![false; onsets.len()];
    found
        .iter()
        .filter(|&&t| {
            let i = onsets.partition_point(|&o| o < t - 0.02);
            let hit = (i..onsets.len())
                .take_while(|&j| onsets[j] <= t + 0.02)
                .find(|&j| !used[j]);
            hit.map(|j| used[j] = true).is_some()
        })
        .count()
}

/// Feature correlations the engine runs per frame: band levels and onset
/// strengths (src/dsp/mod.rs).
const CORRELATIONS: usize = 2;

fn main() {
    let args = BenchArgs::from_env();
    let minutes: u32 = args.number("--minutes", 60);
    let only: Option<Vec<String>> = args
        .value("--only")
        .map(|list| list.split(',').map(str::to_owned).collect());
    let runs = |name: &str| {
        only.as_ref()
            .is_none_or(|list| list.iter().any(|n| n == name))
    };
    let seconds = f64::from(minutes) * 60.0;
    let dir = tempfile::tempdir().expect("a scratch directory");
    let path = dir.path().join("hour.wav");
    let template_samples = template();
    let template = TemplateAudio {
        samples: template_samples.clone(),
        sample_rate: RATE,
    };
    let mut rng = synth::rng(7);
    let click = TemplateAudio {
        samples: synth::sound(SoundKind::KeyClick, RATE, &mut rng),
        sample_rate: RATE,
    };
    let planted = (runs("sparse") || runs("click"))
        .then(|| write_recording(&path, minutes, &template_samples));
    let mut engine_s = None;

    if let (true, Some(planted)) = (runs("sparse"), planted) {
        // The engine, whole file, one thread.
        let rss_before = peak_rss_mb();
        let (analysis, wall, cpu) = timed(|| {
            analyze_file(&template, &path, &Options::default(), false, &mut |_| true)
                .expect("analysis")
                .0
        });
        engine_s = Some(cpu);
        let rss_after = peak_rss_mb();
        println!("recording: {minutes} min at {RATE} Hz 16-bit mono, template 1.0 s, {planted} planted occurrences");
        println!(
            "engine: {} on one core; found {} events",
            speed(seconds, wall, cpu),
            analysis.count()
        );
        println!("peak RSS: {rss_after:.1} MB (before the analysis: {rss_before:.1} MB)");
    }

    if planted.is_some() && runs("click") {
        // A short template (a key click) is matched on frames four times as
        // dense: the same hour, timed again.
        let (_, wall, cpu) = timed(|| {
            analyze_file(&click, &path, &Options::default(), false, &mut |_| true)
                .expect("analysis")
        });
        println!(
            "engine, {:.0} ms key-click template (16 ms windows every 2.5 ms): {} on one core",
            click.duration_s() * 1000.0,
            speed(seconds, wall, cpu)
        );
    }
    if planted.is_some() {
        std::fs::remove_file(&path).expect("remove the recording");
    }

    if runs("rapid") {
        // Rapid repeats of the long template: the joint model's worst case
        // (every stretch between two repeats is searched, over 100-frame
        // copies).
        let rapid_minutes = 10.min(minutes);
        let rapid_path = dir.path().join("rapid.wav");
        let rapid_planted = write_rapid_recording(&rapid_path, rapid_minutes, &template_samples);
        let (rapid, wall, cpu) = timed(|| {
            analyze_file(
                &template,
                &rapid_path,
                &Options::default(),
                false,
                &mut |_| true,
            )
            .expect("analysis")
            .0
        });
        println!(
            "engine, {rapid_minutes} min of the 1 s template every 0.33-1 s ({rapid_planted} planted, {} found): {} on one core",
            rapid.count(),
            speed(f64::from(rapid_minutes) * 60.0, wall, cpu)
        );
        std::fs::remove_file(&rapid_path).expect("remove the recording");
    }

    if runs("dense") {
        // The dense hour: a key click every 0.12 s, every one of them a
        // candidate that the fine check scores.
        let dense_path = dir.path().join("dense.wav");
        let onsets = write_dense_recording(&dense_path, minutes, &click.samples);
        let rss_before = peak_rss_mb();
        let (dense, wall, cpu) = timed(|| {
            analyze_file(&click, &dense_path, &Options::default(), false, &mut |_| {
                true
            })
            .expect("analysis")
            .0
        });
        let rss_after = peak_rss_mb();
        let found: Vec<f64> = dense.events.iter().map(|e| e.start_s).collect();
        println!(
            "engine, {minutes} min of a {:.0} ms key click every {DENSE_SPACING_S} s ({} true, {} found, {} within 20 ms of a true one): {} on one core; peak RSS {rss_after:.1} MB (before: {rss_before:.1} MB)",
            click.duration_s() * 1000.0,
            onsets.len(),
            found.len(),
            matched(&found, &onsets),
            speed(seconds, wall, cpu)
        );
        std::fs::remove_file(&dense_path).expect("remove the recording");
    }

    if !runs("floor") {
        return;
    }
    // Feature frames of the hour, and of the template, for the comparisons.
    let frames = (seconds * f64::from(ANALYSIS_RATE) / HOP as f64) as usize;
    let template_frames = 100;

    // Direct normalised correlation over feature frames, on a slice; the
    // engine correlates two patches (band levels and onset strengths).
    let slice_frames = 6_000.min(frames);
    let x: Vec<f32> = (0..(slice_frames + template_frames) * BANDS)
        .map(|i| ((i * 7919) % 1013) as f32 / 1013.0)
        .collect();
    let patches: Vec<Vec<f32>> = (0..CORRELATIONS)
        .map(|k| {
            (0..template_frames * BANDS)
                .map(|i| (((i + k) * 104_729) % 997) as f32 / 997.0 - 0.5)
                .collect()
        })
        .collect();
    let started = thread_cpu_s();
    let mut checksum = 0.0f64;
    for y in &patches {
        for t in 0..slice_frames {
            let window = &x[t * BANDS..(t + template_frames) * BANDS];
            let dot: f32 = window.iter().zip(y).map(|(a, b)| a * b).sum();
            let (s1, s2) = window.iter().fold((0.0f64, 0.0f64), |(a, b), &v| {
                (a + f64::from(v), b + f64::from(v) * f64::from(v))
            });
            checksum += f64::from(dot) / (s2 - s1 * s1 / window.len() as f64).max(1e-9).sqrt();
        }
    }
    let direct_features_s = (thread_cpu_s() - started) * frames as f64 / slice_frames as f64;
    println!(
        "direct feature correlation (same score, no FFT): {:.3} s for the hour (extrapolated from {} frames) -> {:.0}x realtime [checksum {checksum:.1}]",
        direct_features_s, slice_frames, seconds / direct_features_s
    );

    // Direct waveform correlation at 16 kHz (the Python original's method), on a slice.
    let rate = ANALYSIS_RATE as usize;
    let slice_samples = rate / 2;
    let wave: Vec<f32> = (0..slice_samples + rate)
        .map(|i| ((i * 7919) % 1013) as f32 / 1013.0)
        .collect();
    let kernel: Vec<f32> = (0..rate)
        .map(|i| ((i * 104_729) % 997) as f32 / 997.0 - 0.5)
        .collect();
    let started = thread_cpu_s();
    let mut checksum = 0.0f32;
    for t in 0..slice_samples {
        checksum += wave[t..t + rate]
            .iter()
            .zip(&kernel)
            .map(|(a, b)| a * b)
            .sum::<f32>();
    }
    let direct_wave_s = (thread_cpu_s() - started) * (seconds * rate as f64) / slice_samples as f64;
    println!(
        "direct waveform correlation at 16 kHz: {:.0} s for the hour (extrapolated from {:.1} s of audio) -> {:.2}x realtime [checksum {checksum:.1}]",
        direct_wave_s, slice_samples as f64 / rate as f64, seconds / direct_wave_s
    );

    // The FFT floor: the STFT's forward FFTs and the correlation's forward
    // (one per band) and inverse (one) FFTs per block, nothing else.
    let mut planner = RealFftPlanner::<f32>::new();
    let stft = planner.plan_fft_forward(WINDOW);
    let (mut input, mut output, mut scratch) = (
        stft.make_input_vec(),
        stft.make_output_vec(),
        stft.make_scratch_vec(),
    );
    input
        .iter_mut()
        .enumerate()
        .for_each(|(i, v)| *v = (i as f32).sin());
    let started = thread_cpu_s();
    for _ in 0..frames {
        let _ = stft.process_with_scratch(&mut input, &mut output, &mut scratch);
    }
    let stft_s = thread_cpu_s() - started;
    let fft_len = (2 * template_frames).next_power_of_two();
    let blocks = frames.div_ceil(fft_len - template_frames + 1);
    let forward = planner.plan_fft_forward(fft_len);
    let inverse = planner.plan_fft_inverse(fft_len);
    let (mut a, mut spectrum, mut back) = (
        forward.make_input_vec(),
        forward.make_output_vec(),
        inverse.make_output_vec(),
    );
    let mut scratch =
        vec![Default::default(); forward.get_scratch_len().max(inverse.get_scratch_len())];
    let started = thread_cpu_s();
    for _ in 0..blocks * CORRELATIONS {
        for _ in 0..BANDS {
            let _ = forward.process_with_scratch(&mut a, &mut spectrum, &mut scratch);
        }
        spectrum[0].im = 0.0;
        let last = spectrum.len() - 1;
        spectrum[last].im = 0.0;
        let _ = inverse.process_with_scratch(&mut spectrum, &mut back, &mut scratch);
    }
    let correlation_s = thread_cpu_s() - started;
    let floor = stft_s + correlation_s;
    println!(
        "FFT floor: {:.3} s ({} STFT FFTs of {WINDOW}: {:.3} s; {} blocks x {} correlations x {} FFTs of {fft_len}: {:.3} s); engine is {:.1}x the floor",
        floor,
        frames,
        stft_s,
        blocks,
        CORRELATIONS,
        BANDS + 1,
        correlation_s,
        engine_s.map_or(f64::NAN, |engine_s| engine_s / floor)
    );
    if let Some(engine_s) = engine_s {
        println!(
            "engine vs direct feature correlation: {:.1}x faster; vs direct waveform: {:.0}x faster",
            direct_features_s / engine_s,
            direct_wave_s / engine_s
        );
    }
}
