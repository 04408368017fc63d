//! The accuracy corpus: seeded cases with known truth, in tiers that each
//! stress one thing real repetitions do.

use rand::Rng;

use super::{
    babble, music, normalise_rms, pink, reverb, rms, sound, speed, tilt, white, SoundKind, SynthRng,
};
use crate::audio::{Resampler, SampleLayout};

/// Rate at which sounds are first synthesised, before conversion to the
/// template's and the recording's own rates.
const SOURCE_RATE: u32 = 48_000;

/// What a tier of the corpus tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Exact copies over a quiet room.
    Clean,
    /// Each instance varies: ±6 dB, ±4 % speed and pitch, EQ, some reverb.
    Varied,
    /// Noise (white, pink, music-like, babble-like in turn) at 20 dB SNR.
    Snr20,
    /// The same at 10 dB SNR.
    Snr10,
    /// The same at 5 dB SNR.
    Snr5,
    /// The same at 0 dB SNR: noise as loud as the sound.
    Snr0,
    /// Other sounds, as loud, between the instances: they must not count.
    Distractors,
    /// Repeats from a third of the template's length to one length apart.
    Rapid,
    /// Template and recording at different rates, bit depths and channel
    /// counts, through real WAV files.
    Formats,
    /// Ten-minute recordings (five in the real-sound corpus).
    Long,
    /// A template captured as a phone does: room noise, a handling thump
    /// before the sound and chatter around it (real-sound corpus only).
    Phone,
}

impl Tier {
    /// Every tier of the synthetic corpus, in table order: those of the
    /// real-sound corpus but `Phone`, which it cannot make.
    pub const ALL: [Tier; 10] = Tier::all_but_phone();

    /// Every tier of the real-sound corpus ([`super::real`]), in table order.
    pub const REAL: [Tier; 11] = [
        Tier::Clean,
        Tier::Varied,
        Tier::Snr20,
        Tier::Snr10,
        Tier::Snr5,
        Tier::Snr0,
        Tier::Distractors,
        Tier::Rapid,
        Tier::Formats,
        Tier::Phone,
        Tier::Long,
    ];

    /// [`Tier::REAL`] without `Phone`, in its order (a `Phone` missing
    /// from it fails the build).
    const fn all_but_phone() -> [Tier; 10] {
        let mut tiers = [Tier::Clean; 10];
        let (mut from, mut to) = (0, 0);
        while from < Tier::REAL.len() {
            if !matches!(Tier::REAL[from], Tier::Phone) {
                tiers[to] = Tier::REAL[from];
                to += 1;
            }
            from += 1;
        }
        tiers
    }

    /// The tier's name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Clean => "clean",
            Tier::Varied => "varied",
            Tier::Snr20 => "snr20",
            Tier::Snr10 => "snr10",
            Tier::Snr5 => "snr5",
            Tier::Snr0 => "snr0",
            Tier::Distractors => "distractors",
            Tier::Rapid => "rapid",
            Tier::Formats => "formats",
            Tier::Long => "long",
            Tier::Phone => "phone",
        }
    }

    pub(crate) fn snr_db(self) -> Option<f32> {
        match self {
            Tier::Snr20 => Some(20.0),
            Tier::Snr10 => Some(10.0),
            Tier::Snr5 => Some(5.0),
            Tier::Snr0 => Some(0.0),
            _ => None,
        }
    }
}

/// How a signal is stored when a case goes through WAV files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFormat {
    /// Frames per second.
    pub rate: u32,
    /// Channels (the signal is copied to each).
    pub channels: u16,
    /// Sample layout.
    pub layout: SampleLayout,
}

/// One corpus case: a template, a recording, and where the template occurs.
#[derive(Debug, Clone)]
pub struct Case {
    /// The tier it belongs to.
    pub tier: Tier,
    /// A name that says how to regenerate it (`tier/seed`).
    pub name: String,
    /// The sound sought: a [`SoundKind`]'s name, or a real source's
    /// `family/name`.
    pub sound: String,
    /// The template capture, mono, at `template_format.rate`.
    pub template: Vec<f32>,
    /// The template's file format.
    pub template_format: FileFormat,
    /// The recording, mono, at `recording_format.rate`.
    pub recording: Vec<f32>,
    /// The recording's file format.
    pub recording_format: FileFormat,
    /// Onset of every true occurrence, seconds from the recording's start.
    pub truth: Vec<f64>,
    /// Length of the template's sound (without the capture's padding).
    pub sound_s: f64,
    /// The tier's background noise (`white`, `pink`, `music`, `babble`),
    /// when it has one besides the quiet room.
    pub noise: Option<&'static str>,
    /// How each true occurrence differs from the template, one per
    /// `truth` where the corpus records it (empty otherwise): the bench
    /// tells which kinds of repeat are missed.
    pub variations: Vec<Variation>,
    /// Every other sound laid in between the repeats, where the corpus
    /// records it (empty otherwise): where a false event is a sibling
    /// of the template's (`--explain`, `--candidates-csv`).
    pub distractors: Vec<Distractor>,
}

/// A sound laid into a case's recording that is not the template's: a
/// sibling of its family, or a short sound of another.
#[derive(Debug, Clone, PartialEq)]
pub struct Distractor {
    /// Seconds from the recording's start to its onset.
    pub start_s: f64,
    /// How long it sounds, in seconds (as laid in, varied).
    pub length_s: f64,
    /// Its source's `family/name`.
    pub sound: String,
}

impl Distractor {
    /// Whether it sounds at `at` (seconds), give or take `tolerance`.
    pub fn sounds_at(&self, at: f64, tolerance: f64) -> bool {
        at >= self.start_s - tolerance && at <= self.start_s + self.length_s
    }
}

/// How one repeat differs from the template.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Variation {
    /// Playback speed (1.04 is 4 % faster and higher).
    pub speed: f32,
    /// The EQ tilt ([`tilt`]'s amount, -1 duller..1 brighter).
    pub tilt: f32,
    /// Whether it went through a telephone's band.
    pub telephone: bool,
    /// The RT60 (seconds) of the room it was heard in, if any.
    pub room_rt60_s: Option<f32>,
    /// Its gain against the template (dB).
    pub gain_db: f32,
}

impl Variation {
    /// The kind of change that matters most to the fine check, for
    /// tallies: `telephone and room`, `telephone`, `room` or `plain`.
    pub fn kind(&self) -> &'static str {
        match (self.telephone, self.room_rt60_s.is_some()) {
            (true, true) => "telephone and room",
            (true, false) => "telephone",
            (false, true) => "room",
            (false, false) => "plain",
        }
    }
}

impl std::fmt::Display for Variation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "speed {:.3}, tilt {:+.2}, gain {:+.1} dB",
            self.speed, self.tilt, self.gain_db
        )?;
        if self.telephone {
            write!(f, ", telephone band")?;
        }
        if let Some(rt60) = self.room_rt60_s {
            write!(f, ", room RT60 {rt60:.2} s")?;
        }
        Ok(())
    }
}

impl Case {
    /// Whether the case goes through WAV files to test decoding (the
    /// `Formats` tier).
    pub fn through_files(&self) -> bool {
        self.tier == Tier::Formats
    }

    /// The matching tolerance of the evaluation: max(0.1 s, 25 % of the
    /// template's sound).
    pub fn tolerance_s(&self) -> f64 {
        (0.25 * self.sound_s).max(0.1)
    }
}

/// Builds case number `index` of `tier` (the same arguments, the same case).
pub fn case(tier: Tier, index: u64) -> Case {
    let seed = 0x4841_524d_0000_0000 ^ ((tier as u64) << 32) ^ index;
    let mut rng = super::rng(seed);
    let kind = SoundKind::ALL[rng.random_range(0..SoundKind::ALL.len())];
    let base = sound(kind, SOURCE_RATE, &mut rng);
    let sound_s = base.len() as f64 / f64::from(SOURCE_RATE);

    let (template_format, recording_format) = if tier == Tier::Formats {
        (
            random_format(&mut rng, true),
            random_format(&mut rng, false),
        )
    } else {
        let mono16 = |rate| FileFormat {
            rate,
            channels: 1,
            layout: SampleLayout::S16,
        };
        (mono16(44_100), mono16(44_100))
    };

    // The template as a phone captures it: a little silence or room noise
    // before and after the sound.
    let lead = rng.random_range(0.05..0.4);
    let tail = rng.random_range(0.05..0.4);
    let mut capture = silence(lead);
    capture.extend_from_slice(&base);
    capture.extend(silence(tail));
    let floor = 0.5 * rms(&base) * 10f32.powf(-45.0 / 20.0);
    let capture_noise = white(capture.len(), &mut rng);
    for (c, n) in capture.iter_mut().zip(capture_noise) {
        *c += n * floor;
    }
    let template = convert(&capture, template_format.rate);

    let duration_s: f64 = match tier {
        Tier::Long => 600.0,
        _ => rng.random_range(8.0..20.0),
    };
    let total = (duration_s * f64::from(SOURCE_RATE)) as usize;
    let mut recording = vec![0.0f32; total];
    let base_rms = rms(&base);

    // Place the instances.
    let mut truth = Vec::new();
    let mut t = rng.random_range(0.2..1.0);
    while t + sound_s * 1.2 + 0.3 < duration_s {
        let instance = vary(&base, tier, &mut rng);
        add_at(&mut recording, &instance, t);
        truth.push(t);
        t += match tier {
            Tier::Rapid => rng.random_range(sound_s / 3.0..sound_s.max(0.15)),
            Tier::Distractors => sound_s * 2.5 + rng.random_range(0.4..1.5),
            _ => sound_s * 1.2 + rng.random_range(0.1..1.5),
        };
    }

    if tier == Tier::Distractors {
        // Between consecutive instances, another kind of sound as loud.
        let others: Vec<SoundKind> = SoundKind::ALL
            .into_iter()
            .filter(|&k| k != kind && !is_click_pair(k, kind))
            .collect();
        for pair in truth.clone().windows(2) {
            let other = others[rng.random_range(0..others.len())];
            let mut distractor = sound(other, SOURCE_RATE, &mut rng);
            normalise_rms(&mut distractor, base_rms * rng.random_range(0.7..1.4));
            let room = pair[1] - pair[0] - sound_s;
            let len_s = distractor.len() as f64 / f64::from(SOURCE_RATE);
            if room > len_s + 0.1 {
                add_at(
                    &mut recording,
                    &distractor,
                    pair[0] + sound_s + (room - len_s) * 0.5,
                );
            }
        }
    }

    let noise = add_background(
        &mut recording,
        tier,
        base_rms,
        &mut rng,
        |_| {
            tier.snr_db()
                .or(if tier == Tier::Long { Some(20.0) } else { None })
        },
        |rng| music(total, SOURCE_RATE, rng),
        |rng| babble(total, SOURCE_RATE, rng),
    );
    let recording = convert(&recording, recording_format.rate);

    Case {
        tier,
        name: format!("{}/{index}", tier.name()),
        sound: kind.name().to_string(),
        template,
        template_format,
        recording,
        recording_format,
        truth,
        sound_s,
        variations: Vec::new(),
        distractors: Vec::new(),
        noise,
    }
}

/// Adds the background every case has to `recording`: a quiet room
/// everywhere (pink noise 60 dB under the sound in the clean tier, 50 dB in
/// the others) and, where `snr_db` gives a ratio, white, pink, music or
/// babble noise at that ratio. Returns the noise's name. The random
/// draws keep their order (room, ratio, kind, noise), so a seed makes the
/// same case.
pub(crate) fn add_background(
    recording: &mut [f32],
    tier: Tier,
    base_rms: f32,
    rng: &mut SynthRng,
    snr_db: impl FnOnce(&mut SynthRng) -> Option<f32>,
    music: impl FnOnce(&mut SynthRng) -> Vec<f32>,
    babble: impl FnOnce(&mut SynthRng) -> Vec<f32>,
) -> Option<&'static str> {
    let total = recording.len();
    let room_db = if tier == Tier::Clean { -60.0 } else { -50.0 };
    let mut room = pink(total, rng);
    normalise_rms(&mut room, base_rms * 10f32.powf(room_db / 20.0));
    let noise = snr_db(rng).map(|snr_db| {
        let (name, mut noise) = match rng.random_range(0..4) {
            0 => ("white", white(total, rng)),
            1 => ("pink", pink(total, rng)),
            2 => ("music", music(rng)),
            _ => ("babble", babble(rng)),
        };
        normalise_rms(&mut noise, base_rms * 10f32.powf(-snr_db / 20.0));
        (name, noise)
    });
    for (i, r) in recording.iter_mut().enumerate() {
        *r += room[i] + noise.as_ref().map_or(0.0, |(_, n)| n[i]);
    }
    noise.map(|(name, _)| name)
}

/// A single click and a double click share their first half: a fair
/// distractor test keeps them apart.
fn is_click_pair(a: SoundKind, b: SoundKind) -> bool {
    matches!(
        (a, b),
        (SoundKind::KeyClick, SoundKind::DoubleClick)
            | (SoundKind::DoubleClick, SoundKind::KeyClick)
    )
}

/// How one instance of the sound differs from the template in each tier.
fn vary(base: &[f32], tier: Tier, rng: &mut SynthRng) -> Vec<f32> {
    let (gain_db, speed_range) = match tier {
        Tier::Clean => (0.0, 0.0),
        Tier::Varied | Tier::Formats => (6.0, 0.04),
        _ => (3.0, 0.02),
    };
    let mut instance = if speed_range > 0.0 {
        speed(base, 1.0 + rng.random_range(-speed_range..=speed_range))
    } else {
        base.to_vec()
    };
    if tier == Tier::Varied {
        tilt(&mut instance, rng.random_range(-0.5..0.5), SOURCE_RATE);
        if rng.random_bool(0.5) {
            instance = reverb(&instance, rng.random_range(0.2..0.5), 0.3, SOURCE_RATE, rng);
        }
    }
    let gain = if gain_db > 0.0 {
        10f32.powf(rng.random_range(-gain_db..=gain_db) / 20.0)
    } else {
        1.0
    };
    instance.iter_mut().for_each(|s| *s *= gain);
    instance
}

pub(crate) fn random_format(rng: &mut SynthRng, template: bool) -> FileFormat {
    let rates: &[u32] = if template {
        &[8_000, 16_000, 22_050, 44_100, 48_000]
    } else {
        &[8_000, 11_025, 16_000, 44_100, 48_000, 96_000]
    };
    let layouts = [
        SampleLayout::U8,
        SampleLayout::S16,
        SampleLayout::S24,
        SampleLayout::S32,
        SampleLayout::F32,
    ];
    FileFormat {
        rate: rates[rng.random_range(0..rates.len())],
        channels: rng.random_range(1..=2),
        layout: layouts[rng.random_range(0..layouts.len())],
    }
}

fn silence(seconds: f64) -> Vec<f32> {
    vec![0.0; (seconds * f64::from(SOURCE_RATE)) as usize]
}

fn add_at(target: &mut [f32], signal: &[f32], at_s: f64) {
    add_at_rate(target, signal, at_s, SOURCE_RATE);
}

/// Adds `signal` into `target` (both at `rate`) from `at_s` seconds on.
pub(crate) fn add_at_rate(target: &mut [f32], signal: &[f32], at_s: f64, rate: u32) {
    let start = ((at_s * f64::from(rate)) as usize).min(target.len());
    for (t, s) in target[start..].iter_mut().zip(signal) {
        *t += s;
    }
}

/// Converts from the synthesis rate with the project's own resampler.
fn convert(signal: &[f32], rate: u32) -> Vec<f32> {
    resample(signal, SOURCE_RATE, rate)
}

/// Converts `signal` from rate `from` to rate `to` with the project's own
/// resampler (both rates in its range).
pub(crate) fn resample(signal: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to {
        return signal.to_vec();
    }
    let mut out = Vec::with_capacity(signal.len() * to as usize / from as usize + 1);
    // Both rates are in range, so building the resampler cannot fail.
    if let Ok(mut resampler) = Resampler::new(from, to) {
        let _ = resampler.push(signal, &mut out);
        let _ = resampler.finish(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_distractor_sounds_from_its_onset_to_its_end() {
        let d = Distractor {
            start_s: 2.0,
            length_s: 0.5,
            sound: "family/other".to_string(),
        };
        assert!(d.sounds_at(2.3, 0.1));
        assert!(
            d.sounds_at(1.95, 0.1),
            "within the tolerance before its onset"
        );
        assert!(!d.sounds_at(1.85, 0.1));
        assert!(!d.sounds_at(2.6, 0.1), "after its end");
    }
}
