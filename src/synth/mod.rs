//! Synthetic audio with known truth: sounds, the ways real repetitions vary,
//! and backgrounds. The accuracy corpus, the benchmarks, the tests and the
//! load generator make their audio here, from a seed, so nothing is
//! downloaded and every figure can be regenerated.

pub mod corpus;
pub mod evaluate;
pub mod real;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The seeded generator every synthetic signal comes from.
pub type SynthRng = ChaCha8Rng;

/// A generator seeded with `seed`: the same seed, the same audio.
pub fn rng(seed: u64) -> SynthRng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// The families of short sounds users count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoundKind {
    /// A key press: a bright, sharp click with a small resonance.
    KeyClick,
    /// A key press and its release, a short time apart.
    DoubleClick,
    /// A punch on a bag: a low thump with a noisy attack.
    Thump,
    /// A skipping rope hitting the floor: a dry slap.
    Slap,
    /// A bell or ring: harmonic partials that decay.
    Ring,
    /// A whoosh: band-passed noise that swells and fades.
    Whoosh,
    /// A beep that glides in pitch.
    Chirp,
}

impl SoundKind {
    /// Every kind, for drawing one at random.
    pub const ALL: [SoundKind; 7] = [
        SoundKind::KeyClick,
        SoundKind::DoubleClick,
        SoundKind::Thump,
        SoundKind::Slap,
        SoundKind::Ring,
        SoundKind::Whoosh,
        SoundKind::Chirp,
    ];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            SoundKind::KeyClick => "key-click",
            SoundKind::DoubleClick => "double-click",
            SoundKind::Thump => "thump",
            SoundKind::Slap => "slap",
            SoundKind::Ring => "ring",
            SoundKind::Whoosh => "whoosh",
            SoundKind::Chirp => "chirp",
        }
    }
}

/// Makes one sound of `kind` at `rate`, with its character drawn from `rng`
/// (two calls give two different key clicks). Peak level about 0.5.
pub fn sound(kind: SoundKind, rate: u32, rng: &mut SynthRng) -> Vec<f32> {
    let r = rate as f32;
    let seconds = |s: f32| (s * r) as usize;
    let mut out = match kind {
        SoundKind::KeyClick => {
            let len = seconds(rng.random_range(0.04..0.09));
            let res = rng.random_range(1_800.0..4_500.0);
            let decay = rng.random_range(60.0..120.0);
            let mut noise = white(len, rng);
            one_pole_highpass(&mut noise, 800.0, r);
            (0..len)
                .map(|i| {
                    let t = i as f32 / r;
                    (noise[i] * 0.6 + (tau() * res * t).sin() * 0.5) * (-t * decay).exp()
                })
                .collect()
        }
        SoundKind::DoubleClick => {
            let mut first = sound(SoundKind::KeyClick, rate, rng);
            let second = sound(SoundKind::KeyClick, rate, rng);
            let gap = seconds(rng.random_range(0.08..0.16));
            first.resize(gap + second.len(), 0.0);
            for (i, s) in second.iter().enumerate() {
                first[gap + i] += s * 0.7;
            }
            first
        }
        SoundKind::Thump => {
            let len = seconds(rng.random_range(0.15..0.3));
            let (f0, f1) = (rng.random_range(120.0..200.0), rng.random_range(45.0..80.0));
            let noise = white(len, rng);
            let mut phase = 0.0f32;
            (0..len)
                .map(|i| {
                    let t = i as f32 / r;
                    let f = f1 + (f0 - f1) * (-t * 25.0).exp();
                    phase += tau() * f / r;
                    phase.sin() * (-t * 14.0).exp() + noise[i] * 0.5 * (-t * 80.0).exp()
                })
                .collect()
        }
        SoundKind::Slap => {
            let len = seconds(rng.random_range(0.03..0.06));
            let mut noise = white(len, rng);
            one_pole_highpass(&mut noise, rng.random_range(1_500.0..3_000.0), r);
            let decay = rng.random_range(90.0..160.0);
            noise
                .iter()
                .enumerate()
                .map(|(i, n)| n * (-(i as f32 / r) * decay).exp())
                .collect()
        }
        SoundKind::Ring => {
            let len = seconds(rng.random_range(0.35..0.8));
            let f = rng.random_range(600.0..1_400.0);
            let partials = [(1.0, 1.0), (2.76, 0.5), (5.4, 0.25), (8.9, 0.12)];
            (0..len)
                .map(|i| {
                    let t = i as f32 / r;
                    let attack = (t * 400.0).min(1.0);
                    partials
                        .iter()
                        .filter(|(m, _)| f * m < 0.45 * r)
                        .map(|(m, a)| a * (tau() * f * m * t).sin() * (-t * 5.0 * m.sqrt()).exp())
                        .sum::<f32>()
                        * attack
                })
                .collect()
        }
        SoundKind::Whoosh => {
            let len = seconds(rng.random_range(0.3..0.6));
            let centre = rng.random_range(800.0..2_500.0);
            let mut noise = white(len, rng);
            band_pass(&mut noise, centre, 1.5, r);
            noise
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    n * (std::f32::consts::PI * i as f32 / len as f32).sin().powi(2) * 3.0
                })
                .collect()
        }
        SoundKind::Chirp => {
            let len = seconds(rng.random_range(0.12..0.3));
            let (f0, f1) = (
                rng.random_range(500.0..1_500.0),
                rng.random_range(1_500.0..3_000.0),
            );
            let mut phase = 0.0f32;
            (0..len)
                .map(|i| {
                    let x = i as f32 / len as f32;
                    phase += tau() * (f0 + (f1 - f0) * x) / r;
                    phase.sin() * (std::f32::consts::PI * x).sin().sqrt()
                })
                .collect()
        }
    };
    fade_out(&mut out, rate);
    normalise_peak(&mut out, 0.5);
    out
}

/// Real sounds decay; a synthetic one cut off while still audible ends in a
/// broadband click that no real key or punch makes. The last 10 ms fade out.
fn fade_out(signal: &mut [f32], rate: u32) {
    let len = (rate as usize / 100).min(signal.len());
    let start = signal.len() - len;
    for (i, s) in signal[start..].iter_mut().enumerate() {
        *s *= 0.5 + 0.5 * (std::f32::consts::PI * i as f32 / len as f32).cos();
    }
}

fn tau() -> f32 {
    std::f32::consts::TAU
}

/// Gaussian white noise, unit variance.
pub fn white(len: usize, rng: &mut SynthRng) -> Vec<f32> {
    (0..len).map(|_| StandardNormal.sample(rng)).collect()
}

/// Pink (1/f) noise, unit variance, by Paul Kellet's filter of white noise.
pub fn pink(len: usize, rng: &mut SynthRng) -> Vec<f32> {
    let mut b = [0.0f32; 7];
    let mut out: Vec<f32> = white(len, rng)
        .into_iter()
        .map(|w| {
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.153_852;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let p = b.iter().sum::<f32>() + w * 0.5362;
            b[6] = w * 0.115926;
            p
        })
        .collect();
    normalise_rms(&mut out, 1.0);
    out
}

/// Music-like background: chords of harmonic notes that change every few
/// hundred milliseconds, with a soft pulse. Unit RMS.
pub fn music(len: usize, rate: u32, rng: &mut SynthRng) -> Vec<f32> {
    let r = rate as f32;
    let mut out = vec![0.0f32; len];
    let mut start = 0;
    while start < len {
        let note_len = (rng.random_range(0.2..0.6) * r) as usize;
        let root = 110.0 * 2f32.powf(rng.random_range(0..24) as f32 / 12.0);
        let chord = [1.0, 1.26, 1.5];
        for (i, o) in out[start..(start + note_len).min(len)]
            .iter_mut()
            .enumerate()
        {
            let t = i as f32 / r;
            let env = (t * 30.0).min(1.0) * (-t * 2.0).exp();
            *o += chord
                .iter()
                .flat_map(|c| (1..5).map(move |h| (c, h)))
                .map(|(c, h)| (tau() * root * c * h as f32 * t).sin() / h as f32)
                .sum::<f32>()
                * env;
        }
        start += note_len;
    }
    normalise_rms(&mut out, 1.0);
    out
}

/// Babble-like background: several voiced "speakers" whose pitch drifts,
/// shaped by moving formants and syllable-rate envelopes. Unit RMS.
pub fn babble(len: usize, rate: u32, rng: &mut SynthRng) -> Vec<f32> {
    let r = rate as f32;
    let mut out = vec![0.0f32; len];
    for _ in 0..4 {
        let pitch = rng.random_range(90.0..240.0);
        let syllable_hz = rng.random_range(3.0..6.0);
        let formant = rng.random_range(500.0..1_800.0);
        let phase0 = rng.random_range(0.0..std::f32::consts::TAU);
        let mut voice = vec![0.0f32; len];
        let mut phase = 0.0f32;
        for (i, v) in voice.iter_mut().enumerate() {
            let t = i as f32 / r;
            let f = pitch * (1.0 + 0.1 * (tau() * 0.7 * t + phase0).sin());
            phase += tau() * f / r;
            // A glottal-like pulse train: rich in harmonics.
            let pulse = (phase.sin()).max(0.0).powi(6);
            let envelope = (0.5 + 0.5 * (tau() * syllable_hz * t + phase0).sin()).powi(2);
            *v = pulse * envelope;
        }
        band_pass(&mut voice, formant, 0.8, r);
        for (o, v) in out.iter_mut().zip(&voice) {
            *o += v;
        }
    }
    normalise_rms(&mut out, 1.0);
    out
}

/// Resamples by linear interpolation: `factor` 1.04 plays 4 % faster and
/// higher (the way a repetition differs from the one before).
pub fn speed(signal: &[f32], factor: f32) -> Vec<f32> {
    let len = (signal.len() as f32 / factor) as usize;
    (0..len)
        .map(|i| {
            let x = i as f32 * factor;
            let j = x as usize;
            let frac = x - j as f32;
            let a = signal.get(j).copied().unwrap_or(0.0);
            let b = signal.get(j + 1).copied().unwrap_or(0.0);
            a + (b - a) * frac
        })
        .collect()
}

/// Tilts the spectrum: a one-pole low-pass mixed back with the signal,
/// `amount` -1 (duller) .. 1 (brighter).
pub fn tilt(signal: &mut [f32], amount: f32, rate: u32) {
    let mut low = signal.to_vec();
    one_pole_lowpass(&mut low, 1_000.0, rate as f32);
    for (s, l) in signal.iter_mut().zip(&low) {
        let high = *s - l;
        *s = l * (1.0 - amount * 0.5) + high * (1.0 + amount * 0.5);
    }
}

/// Limits a signal to a telephone's band, about 300-3,400 Hz (two one-pole
/// high-passes and two low-passes): a repeat heard through a phone or a
/// small loudspeaker.
pub fn phone_band(signal: &mut [f32], rate: u32) {
    let r = rate as f32;
    for _ in 0..2 {
        one_pole_highpass(signal, 300.0, r);
        one_pole_lowpass(signal, 3_400.0, r);
    }
}

/// Adds a room: convolution with exponentially decaying noise of the given
/// RT60, mixed `wet` into the dry signal (which keeps its length plus tail).
pub fn reverb(signal: &[f32], rt60_s: f32, wet: f32, rate: u32, rng: &mut SynthRng) -> Vec<f32> {
    let len = (rt60_s * rate as f32) as usize;
    let decay = 6.9 / (rt60_s * rate as f32);
    let mut ir: Vec<f32> = white(len, rng)
        .into_iter()
        .enumerate()
        .map(|(i, n)| n * (-(i as f32) * decay).exp())
        .collect();
    normalise_rms(&mut ir, 1.0 / (len as f32).sqrt());
    ir.iter_mut().for_each(|h| *h *= wet * 4.0);
    ir[0] += 1.0;
    convolve(signal, &ir)
}

/// Linear convolution by FFT (the output has `a.len() + b.len() - 1` samples).
pub fn convolve(a: &[f32], b: &[f32]) -> Vec<f32> {
    let out_len = a.len() + b.len() - 1;
    let n = out_len.next_power_of_two();
    let mut planner = realfft::RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(n);
    let inverse = planner.plan_fft_inverse(n);
    let spectrum = |x: &[f32]| {
        let mut input = vec![0.0f32; n];
        input[..x.len()].copy_from_slice(x);
        let mut output = forward.make_output_vec();
        // Sizes come from the plan, so the transform cannot fail.
        let _ = forward.process(&mut input, &mut output);
        output
    };
    let mut product: Vec<_> = spectrum(a)
        .iter()
        .zip(spectrum(b))
        .map(|(x, y)| x * y)
        .collect();
    let mut out = vec![0.0f32; n];
    let _ = inverse.process(&mut product, &mut out);
    out.truncate(out_len);
    out.iter_mut().for_each(|v| *v /= n as f32);
    out
}

/// RMS of a signal.
pub fn rms(signal: &[f32]) -> f32 {
    (signal.iter().map(|s| s * s).sum::<f32>() / signal.len().max(1) as f32).sqrt()
}

/// Scales a signal to the given RMS.
pub fn normalise_rms(signal: &mut [f32], target: f32) {
    let level = rms(signal);
    if level > 0.0 {
        signal.iter_mut().for_each(|s| *s *= target / level);
    }
}

/// Scales a signal to the given peak.
pub fn normalise_peak(signal: &mut [f32], target: f32) {
    let peak = signal.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak > 0.0 {
        signal.iter_mut().for_each(|s| *s *= target / peak);
    }
}

/// Adds `template` into `signal` at each of `at` (seconds at `rate`); what
/// would run past the end is cut off.
pub fn plant(signal: &mut [f32], template: &[f32], rate: u32, at: &[f64]) {
    for &t in at {
        let start = (t * f64::from(rate)) as usize;
        for (out, s) in signal.iter_mut().skip(start).zip(template) {
            *out += s;
        }
    }
}

/// A recording with a known count: `seconds` of faint white noise (a
/// recording is never digital silence) with `template` at each of `at`.
/// The one the server tests, the soak and the load generator send.
pub fn planted_recording(template: &[f32], rate: u32, seconds: f64, at: &[f64]) -> Vec<f32> {
    let len = (seconds * f64::from(rate)) as usize;
    let mut signal: Vec<f32> = white(len, &mut rng(11))
        .into_iter()
        .map(|s| s * 0.003)
        .collect();
    plant(&mut signal, template, rate, at);
    signal
}

fn one_pole_lowpass(signal: &mut [f32], cutoff: f32, rate: f32) {
    let a = (-tau() * cutoff / rate).exp();
    let mut state = 0.0;
    for s in signal.iter_mut() {
        state = (1.0 - a) * *s + a * state;
        *s = state;
    }
}

fn one_pole_highpass(signal: &mut [f32], cutoff: f32, rate: f32) {
    let mut low = signal.to_vec();
    one_pole_lowpass(&mut low, cutoff, rate);
    for (s, l) in signal.iter_mut().zip(&low) {
        *s -= l;
    }
}

/// A biquad band-pass (RBJ cookbook, constant peak gain).
fn band_pass(signal: &mut [f32], centre: f32, q: f32, rate: f32) {
    let w = tau() * centre / rate;
    let alpha = w.sin() / (2.0 * q);
    let a0 = 1.0 + alpha;
    let (b0, b2) = (alpha / a0, -alpha / a0);
    let (a1, a2) = (-2.0 * w.cos() / a0, (1.0 - alpha) / a0);
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    for s in signal.iter_mut() {
        let x = *s;
        let y = b0 * x + b2 * x2 - a1 * y1 - a2 * y2;
        x2 = x1;
        x1 = x;
        y2 = y1;
        y1 = y;
        *s = y;
    }
}

/// Writes mono samples as a WAV file with the given layout and channel
/// count (the signal is copied to every channel).
pub fn write_wav(
    path: &std::path::Path,
    samples: &[f32],
    rate: u32,
    channels: u16,
    layout: crate::audio::SampleLayout,
) -> Result<(), hound::Error> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    write_wav_to(file, samples, rate, channels, layout)
}

/// Mono samples as the bytes of a WAV file, as [`write_wav`] writes it:
/// the one WAV writer of the tests, tools and benchmarks.
pub fn wav_bytes(
    samples: &[f32],
    rate: u32,
    channels: u16,
    layout: crate::audio::SampleLayout,
) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    // Writing to memory fails only on a sample count past the 4 GiB a
    // WAV header can hold.
    write_wav_to(&mut bytes, samples, rate, channels, layout)
        .unwrap_or_else(|err| panic!("cannot write {} samples as WAV: {err}", samples.len()));
    bytes.into_inner()
}

/// hound's description of a WAV file of `channels` channels at `rate`
/// stored as `layout`: what every WAV the crate writes starts from.
pub fn wav_spec(rate: u32, channels: u16, layout: crate::audio::SampleLayout) -> hound::WavSpec {
    use crate::audio::SampleLayout;
    let (bits_per_sample, sample_format) = match layout {
        SampleLayout::U8 => (8, hound::SampleFormat::Int),
        SampleLayout::S16 => (16, hound::SampleFormat::Int),
        SampleLayout::S24 => (24, hound::SampleFormat::Int),
        SampleLayout::S32 => (32, hound::SampleFormat::Int),
        SampleLayout::F32 => (32, hound::SampleFormat::Float),
    };
    hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample,
        sample_format,
    }
}

/// Writes a WAV file into `out` with hound.
fn write_wav_to<W: std::io::Write + std::io::Seek>(
    out: W,
    samples: &[f32],
    rate: u32,
    channels: u16,
    layout: crate::audio::SampleLayout,
) -> Result<(), hound::Error> {
    use crate::audio::SampleLayout;
    let mut writer = hound::WavWriter::new(out, wav_spec(rate, channels, layout))?;
    for &s in samples {
        let s = s.clamp(-1.0, 1.0);
        for _ in 0..channels {
            match layout {
                SampleLayout::U8 => writer.write_sample((s * 127.0).round() as i8)?,
                SampleLayout::S16 => writer.write_sample((s * 32_767.0).round() as i16)?,
                SampleLayout::S24 => writer.write_sample((s * 8_388_607.0).round() as i32)?,
                SampleLayout::S32 => {
                    writer.write_sample((f64::from(s) * 2_147_483_647.0).round() as i32)?
                }
                SampleLayout::F32 => writer.write_sample(s)?,
            }
        }
    }
    writer.finalize()
}
