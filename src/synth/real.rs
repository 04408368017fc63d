//! The real-sound corpus: cases built from real recordings (key presses, a
//! recorded voice, UI chime families, game effects, music) that
//! `scripts/install-real-sounds.sh` installs from Debian packages and lays
//! out as WAV files. The cases follow the synthetic corpus's tiers
//! ([`Tier::REAL`]) and are scored by the same evaluation
//! ([`super::evaluate`]).
//!
//! Sources are split, not only cases: every source sound is either a
//! tuning source or a held-out one ([`Split::of`], a hash of its name), and
//! a case's template and the siblings that distract from it all come from
//! one split. Tune on [`Split::Tuning`]; a change stays only if
//! [`Split::HeldOut`] improves.
//!
//! Each repeat varies as real ones do (gain, ±4 % speed and pitch, EQ,
//! phone bandwidth, reverb by convolution with a room response), and every
//! tier has distractors: other sounds of the template's own family (the
//! 'log out' chime for 'log in', another spoken digit) between the
//! repeats.

use std::path::{Path, PathBuf};

use rand::Rng;

use super::corpus::{
    add_at_rate, add_background, random_format, resample, Case, Distractor, FileFormat, Tier,
    Variation,
};
use super::{normalise_rms, phone_band, pink, reverb, rms, speed, tilt, SynthRng};
use crate::audio::SampleLayout;

/// Rate every source is converted to before a case is mixed: above twice
/// the engine's 7.6 kHz analysis band, and half the work of 48 kHz.
pub const MIX_RATE: u32 = 32_000;

/// Where the set-up script puts the sounds unless `HARMONIC_REAL_SOUNDS`
/// says otherwise.
pub const DEFAULT_DIR: &str = "/var/cache/harmonic/real-sounds";

/// Families whose members are the same sound to a user: another key of
/// the same keyboard is a key press too, so it is never a distractor for
/// one; these get distractors from other families.
const INTERCHANGEABLE_FAMILIES: &[&str] = &["keys"];

/// The least share of a sound's energy that a file's rate must carry
/// for the formats tier to store the sound at it. Under it the file holds
/// a residue of the sound, not the sound a listener would hear there:
/// sound-icons/canary-long sings at 4-5 kHz, and a file at 8 kHz (nothing
/// above 4 kHz) keeps 0.01 % of its energy, 40 dB down (the engine still
/// found 4 of 6 repeats in that residue; held-out/formats/26). A tenth
/// (10 dB down) raises the rate of two draws in 60 cases per tier and
/// split: that one and frozen-bubble/menu_selected at 8 kHz (4.7 %;
/// tuning/formats/42, counted right either way). The next lowest,
/// lbreakout2/goldshower at 8 kHz, keeps 20 %: a duller sound, still the
/// sound.
const MIN_CARRIED_SHARE: f32 = 0.1;
/// Rates, lowest first, that a file is raised to where the rate drawn
/// cannot carry the sound ([`MIN_CARRIED_SHARE`]); the mixing rate
/// carries whatever the corpus holds.
const CARRYING_RATES: [u32; 3] = [16_000, 22_050, MIX_RATE];

/// Sources shorter than this after trimming are too short to be a
/// template (the engine's minimum is 30 ms).
const MIN_SOURCE_S: f64 = 0.04;
/// A source's sound ends where its level stays this far under its peak
/// (dB): the decay below is room noise in the recording.
const TRIM_BELOW_PEAK_DB: f32 = 45.0;

/// Which side of the source split a case's sounds come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    /// The sources a change may be tuned on.
    Tuning,
    /// Sources never tuned on: what a change is judged by.
    HeldOut,
}

impl Split {
    /// Both splits, held-out first (the one that decides).
    pub const ALL: [Split; 2] = [Split::HeldOut, Split::Tuning];

    /// The split of the source `family/name`: held out when the FNV-1a
    /// hash of that text is a multiple of 3 (a third of the sources,
    /// spread over every family, the same on every machine).
    pub fn of(family: &str, name: &str) -> Split {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in family.bytes().chain([b'/']).chain(name.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        if hash % 3 == 0 {
            Split::HeldOut
        } else {
            Split::Tuning
        }
    }

    /// The split's name in tables and case names.
    pub fn name(self) -> &'static str {
        match self {
            Split::Tuning => "tuning",
            Split::HeldOut => "held-out",
        }
    }
}

/// One short source sound, trimmed to its sound, at [`MIX_RATE`].
#[derive(Debug, Clone)]
pub struct Source {
    /// Its family (the folder it came from).
    pub family: String,
    /// Its file name without extension.
    pub name: String,
    /// Mono samples at [`MIX_RATE`], from its onset to its decay.
    pub samples: Vec<f32>,
    /// The rate of the recording it came from.
    pub original_rate: u32,
}

impl Source {
    /// `family/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.family, self.name)
    }

    fn split(&self) -> Split {
        Split::of(&self.family, &self.name)
    }
}

/// Why the real sounds could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The folder is missing: the set-up script has not been run.
    #[error("no real sounds in {0}: run scripts/install-real-sounds.sh as root (or set HARMONIC_REAL_SOUNDS)")]
    Missing(PathBuf),
    /// A file could not be read.
    #[error("cannot read {path}: {error}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: String,
    },
}

/// The installed real sounds: short sources by family, music beds and
/// voice clips for babble.
#[derive(Debug)]
pub struct Library {
    /// Every usable short source, sorted by family and name.
    pub sources: Vec<Source>,
    /// Music files (read in excerpts, per case).
    music: Vec<PathBuf>,
    /// Voice clips at [`MIX_RATE`], for babble.
    voice: Vec<Vec<f32>>,
}

/// The folder the set-up script filled: `HARMONIC_REAL_SOUNDS`, or
/// [`DEFAULT_DIR`].
pub fn default_dir() -> PathBuf {
    std::env::var_os("HARMONIC_REAL_SOUNDS")
        .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from)
}

/// Reads an audio file (any channel count) as mono samples and its rate.
fn read_wav(path: &Path) -> Result<(Vec<f32>, u32), LibraryError> {
    let unreadable = |e: crate::audio::AudioError| LibraryError::Unreadable {
        path: path.to_path_buf(),
        error: e.to_string(),
    };
    let mut source = crate::audio::AudioReader::open(path).map_err(unreadable)?;
    let rate = source.info().sample_rate;
    Ok((source.read_all().map_err(unreadable)?, rate))
}

/// The `.wav` files of `dir`, sorted.
fn wav_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    files.sort();
    files
}

/// `samples` cut to the sound: from the first to the last 5 ms block
/// within [`TRIM_BELOW_PEAK_DB`] of the loudest one.
fn trim(samples: &[f32], rate: u32) -> &[f32] {
    let block = (rate as usize / 200).max(1);
    let levels: Vec<f32> = samples.chunks(block).map(rms).collect();
    let peak = levels.iter().copied().fold(0.0f32, f32::max);
    let floor = peak * 10f32.powf(-TRIM_BELOW_PEAK_DB / 20.0);
    let first = levels.iter().position(|&l| l > floor).unwrap_or(0);
    let last = levels.iter().rposition(|&l| l > floor).unwrap_or(0);
    &samples[first * block..((last + 1) * block).min(samples.len())]
}

impl Library {
    /// Reads the library in `dir` (see [`default_dir`]).
    pub fn load(dir: &Path) -> Result<Library, LibraryError> {
        let sounds = dir.join("sounds");
        if !sounds.is_dir() {
            return Err(LibraryError::Missing(dir.to_path_buf()));
        }
        let mut families: Vec<PathBuf> = std::fs::read_dir(&sounds)
            .map_err(|e| LibraryError::Unreadable {
                path: sounds.clone(),
                error: e.to_string(),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        families.sort();
        let mut sources = Vec::new();
        for family in families {
            let family_name = family
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            for path in wav_files(&family) {
                let (samples, rate) = read_wav(&path)?;
                let sound = trim(&samples, rate);
                if (sound.len() as f64) < MIN_SOURCE_S * f64::from(rate) || rms(sound) < 1e-4 {
                    continue;
                }
                let mut samples = resample(sound, rate, MIX_RATE);
                super::normalise_peak(&mut samples, 0.5);
                // A package may ship one recording under several names
                // (lbreakout2's ghost.wav under ten, expand.wav as
                // shrink.wav): one sound, so one source, or the copies
                // would be one another's distractors and could sit on
                // both sides of the split.
                if sources
                    .iter()
                    .any(|s: &Source| s.family == family_name && s.samples == samples)
                {
                    continue;
                }
                sources.push(Source {
                    family: family_name.clone(),
                    name: path
                        .file_stem()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                    samples,
                    original_rate: rate,
                });
            }
        }
        let mut voice = Vec::new();
        for path in wav_files(&dir.join("voice")) {
            let (samples, rate) = read_wav(&path)?;
            let sound = trim(&samples, rate);
            if sound.len() > rate as usize / 10 {
                voice.push(resample(sound, rate, MIX_RATE));
            }
        }
        Ok(Library {
            sources,
            music: wav_files(&dir.join("music")),
            voice,
        })
    }

    /// The sources of `split`.
    pub fn split(&self, split: Split) -> impl Iterator<Item = &Source> {
        self.sources.iter().filter(move |s| s.split() == split)
    }

    /// `seconds` of music from a random bed at a random place (looped if
    /// the bed is shorter), unit RMS, at [`MIX_RATE`]; `None` without
    /// music.
    fn music(&self, seconds: f64, rng: &mut SynthRng) -> Option<Vec<f32>> {
        let path = self
            .music
            .get(rng.random_range(0..self.music.len().max(1)))?;
        let (samples, rate) = read_wav(path).ok()?;
        let want = (seconds * f64::from(rate)) as usize + 1;
        let start = rng.random_range(0..samples.len().saturating_sub(want).max(1));
        let excerpt: Vec<f32> = samples[start..]
            .iter()
            .chain(samples.iter().cycle())
            .take(want)
            .copied()
            .collect();
        let mut out = resample(&excerpt, rate, MIX_RATE);
        out.resize((seconds * f64::from(MIX_RATE)) as usize, 0.0);
        normalise_rms(&mut out, 1.0);
        Some(out)
    }

    /// `len` samples of babble: five talkers, each the recorded voice's
    /// words one after another with short pauses, at their own speed and
    /// pitch (0.85-1.2), so they sound like different people. Unit RMS.
    fn babble(&self, len: usize, rng: &mut SynthRng) -> Vec<f32> {
        let mut out = vec![0.0f32; len];
        if self.voice.is_empty() {
            return out;
        }
        for _ in 0..5 {
            let factor = rng.random_range(0.85..1.2);
            let mut at = rng.random_range(0..MIX_RATE as usize);
            while at < len {
                let word = &self.voice[rng.random_range(0..self.voice.len())];
                let word = speed(word, factor);
                let gain = 10f32.powf(rng.random_range(-6.0..0.0) / 20.0) / rms(&word).max(1e-6);
                for (o, w) in out[at..].iter_mut().zip(&word) {
                    *o += w * gain;
                }
                at += word.len() + rng.random_range(0..MIX_RATE as usize / 4);
            }
        }
        normalise_rms(&mut out, 1.0);
        out
    }
}

/// How one repeat differs from the template in each tier: exact copies in
/// the clean tier; ±3 dB and ±2 % speed with some EQ under noise; in
/// every other tier ±6 dB, ±4 % speed and pitch, EQ, and now and then a
/// phone's bandwidth or a room. Returns the repeat and how it varies.
fn vary(base: &[f32], tier: Tier, rng: &mut SynthRng) -> (Vec<f32>, Variation) {
    // An exact copy until a change below says otherwise.
    let mut variation = Variation {
        speed: 1.0,
        tilt: 0.0,
        telephone: false,
        room_rt60_s: None,
        gain_db: 0.0,
    };
    if tier == Tier::Clean {
        return (base.to_vec(), variation);
    }
    let mild = tier.snr_db().is_some();
    let (gain_db, speed_range) = if mild { (3.0, 0.02) } else { (6.0, 0.04) };
    variation.speed = 1.0 + rng.random_range(-speed_range..=speed_range);
    let mut out = speed(base, variation.speed);
    variation.tilt = rng.random_range(-0.5..0.5);
    tilt(&mut out, variation.tilt, MIX_RATE);
    if !mild {
        if rng.random_bool(0.2) {
            phone_band(&mut out, MIX_RATE);
            variation.telephone = true;
        }
        if rng.random_bool(0.4) {
            let rt60_s = rng.random_range(0.2..0.6);
            out = reverb(&out, rt60_s, 0.3, MIX_RATE, rng);
            variation.room_rt60_s = Some(rt60_s);
        }
    }
    variation.gain_db = rng.random_range(-gain_db..=gain_db);
    let gain = 10f32.powf(variation.gain_db / 20.0);
    out.iter_mut().for_each(|s| *s *= gain);
    (out, variation)
}

/// The share of `sound`'s energy (at [`MIX_RATE`]) that a file at `rate`
/// keeps, converted as the corpus converts it.
fn carried_share(sound: &[f32], rate: u32) -> f32 {
    let energy =
        |samples: &[f32], rate: u32| samples.iter().map(|v| v * v).sum::<f32>() / rate as f32;
    if rate >= MIX_RATE {
        return 1.0;
    }
    let total = energy(sound, MIX_RATE);
    if total <= 0.0 {
        return 1.0;
    }
    energy(&resample(sound, MIX_RATE, rate), rate) / total
}

/// `format`, at a higher rate ([`CARRYING_RATES`]) where its own cannot
/// carry `sound` ([`MIN_CARRIED_SHARE`]). No random draw is made, so the
/// draws after it, and every other case, stay as they are.
fn carrying(format: FileFormat, sound: &[f32]) -> FileFormat {
    let carries = |rate| carried_share(sound, rate) >= MIN_CARRIED_SHARE;
    if carries(format.rate) {
        return format;
    }
    let rate = CARRYING_RATES
        .into_iter()
        .filter(|&rate| rate > format.rate)
        .find(|&rate| carries(rate))
        .unwrap_or(MIX_RATE);
    FileFormat { rate, ..format }
}

/// Whether two names of one family are one sound: the same, or one a
/// prefix of the other ('Log-In', 'Log-In-Short' and 'Log-In-Long' are
/// one chime cut to three lengths; 'pisk-up' and 'pisk-up-cink' share
/// their start). Such a sibling is no distractor.
fn variants_of_one_sound(a: &str, b: &str) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Builds case `index` of `tier` for the sources of `split` (the same
/// arguments and library, the same case). `None` when the split has no
/// sources.
pub fn case(library: &Library, split: Split, tier: Tier, index: u64) -> Option<Case> {
    let seed = 0x5245_414c_0000_0000 ^ ((split as u64) << 40) ^ ((tier as u64) << 32) ^ index;
    let mut rng = super::rng(seed);
    let sources: Vec<&Source> = library.split(split).collect();
    // A family first, then a source in it, so that the family with the
    // most files (86 keys) does not make most of the cases.
    let mut families: Vec<&str> = sources.iter().map(|s| s.family.as_str()).collect();
    families.dedup();
    let family = *families.get(rng.random_range(0..families.len().max(1)))?;
    let members: Vec<&Source> = sources
        .iter()
        .copied()
        .filter(|s| s.family == family)
        .collect();
    let target = members[rng.random_range(0..members.len())];
    let interchangeable = INTERCHANGEABLE_FAMILIES.contains(&family);
    // Distractors: the template's siblings in its split; where a family's
    // members are one sound to a user, short sounds of other families.
    let distractors: Vec<&Source> = if interchangeable {
        sources
            .iter()
            .copied()
            .filter(|s| s.family != family && s.samples.len() < MIX_RATE as usize)
            .collect()
    } else {
        members
            .iter()
            .copied()
            .filter(|s| !variants_of_one_sound(&s.name, &target.name))
            .collect()
    };
    let base = &target.samples;
    let sound_s = base.len() as f64 / f64::from(MIX_RATE);
    let base_rms = rms(base);

    let (template_format, recording_format) = match tier {
        Tier::Formats => (
            carrying(random_format(&mut rng, true), base),
            carrying(random_format(&mut rng, false), base),
        ),
        _ => {
            let mono16 = |rate| FileFormat {
                rate,
                channels: 1,
                layout: SampleLayout::S16,
            };
            let template_rate = if tier == Tier::Phone { 16_000 } else { 44_100 };
            (mono16(template_rate), mono16(44_100))
        }
    };

    // The template capture: a little room noise before and after; a
    // phone's adds a handling thump before the sound and chatter.
    // A phone's capture starts with the tap on the record button, 0.4-0.8 s
    // before the sound.
    let thump_before = rng.random_range(0.4..0.8);
    let lead = rng.random_range(0.05..0.4)
        + if tier == Tier::Phone {
            thump_before
        } else {
            0.0
        };
    let tail = rng.random_range(0.05..0.4);
    let mut capture = vec![0.0f32; ((lead + sound_s + tail) * f64::from(MIX_RATE)) as usize];
    add_at_rate(&mut capture, base, lead, MIX_RATE);
    let room_db = if tier == Tier::Phone { -35.0 } else { -45.0 };
    let mut room = pink(capture.len(), &mut rng);
    normalise_rms(&mut room, base_rms * 10f32.powf(room_db / 20.0));
    capture.iter_mut().zip(&room).for_each(|(c, r)| *c += r);
    if tier == Tier::Phone {
        let mut thump = super::sound(super::SoundKind::Thump, MIX_RATE, &mut rng);
        normalise_rms(&mut thump, base_rms * rng.random_range(0.3..0.7));
        add_at_rate(&mut capture, &thump, lead - thump_before, MIX_RATE);
        let mut chatter = library.babble(capture.len(), &mut rng);
        normalise_rms(&mut chatter, base_rms * 10f32.powf(-20.0 / 20.0));
        capture.iter_mut().zip(&chatter).for_each(|(c, n)| *c += n);
    }
    let template = resample(&capture, MIX_RATE, template_format.rate);

    let duration_s: f64 = match tier {
        Tier::Long => 300.0,
        _ => rng.random_range(10.0..20.0),
    };
    let total = (duration_s * f64::from(MIX_RATE)) as usize;
    let mut recording = vec![0.0f32; total];
    // A quarter of the distractor tier's cases hold no repeat at all:
    // the count must be 0.
    let zero_count = tier == Tier::Distractors && index % 4 == 3;
    let distractor_share = match tier {
        Tier::Distractors => 1.0,
        Tier::Rapid => 0.15,
        _ => 0.35,
    };
    let mut truth = Vec::new();
    let mut variations = Vec::new();
    let mut distractors_laid = Vec::new();
    // Whether a repeat starting at `t` ends inside the recording, with a
    // fifth of its length and 0.3 s to spare (a varied repeat is up to 4 %
    // longer, and one with a room rings on).
    let repeat_fits = |t: f64| t + sound_s * 1.2 + 0.3 < duration_s;
    let mut t = rng.random_range(0.2..1.0);
    while repeat_fits(t) {
        // Before each repeat, now and then (always in the distractor
        // tier), a sibling sound as loud.
        if !distractors.is_empty() && rng.random_bool(distractor_share) {
            let other = distractors[rng.random_range(0..distractors.len())];
            let (mut sound, _) = vary(&other.samples, tier, &mut rng);
            normalise_rms(&mut sound, base_rms * rng.random_range(0.7..1.4));
            let len_s = sound.len() as f64 / f64::from(MIX_RATE);
            if !repeat_fits(t + len_s) {
                break;
            }
            add_at_rate(&mut recording, &sound, t, MIX_RATE);
            distractors_laid.push(Distractor {
                start_s: t,
                length_s: len_s,
                sound: other.id(),
            });
            t += len_s * 1.1 + rng.random_range(0.2..1.0);
        }
        // The gap after a distractor can leave less room than the loop
        // asks for: a repeat there would be cut off by the recording's
        // end, no whole occurrence to count. It is drawn all the same,
        // so that the draws after it (the background's) do not depend
        // on where the recording ends.
        if !zero_count {
            let (repeat, variation) = vary(base, tier, &mut rng);
            if repeat_fits(t) {
                add_at_rate(&mut recording, &repeat, t, MIX_RATE);
                truth.push(t);
                variations.push(variation);
            }
        }
        t += match tier {
            Tier::Rapid => rng.random_range(sound_s / 3.0..sound_s.max(0.15)),
            _ => sound_s * 1.2 + rng.random_range(0.1..1.5),
        };
    }

    let noise = add_background(
        &mut recording,
        tier,
        base_rms,
        &mut rng,
        |rng| {
            tier.snr_db().or(match tier {
                Tier::Long => Some(rng.random_range(10.0..20.0)),
                _ => None,
            })
        },
        |rng| {
            library
                .music(duration_s, rng)
                .unwrap_or_else(|| pink(total, rng))
        },
        |rng| library.babble(total, rng),
    );
    let recording = resample(&recording, MIX_RATE, recording_format.rate);
    Some(Case {
        tier,
        name: format!("{}/{}/{index}", split.name(), tier.name()),
        sound: target.id(),
        template,
        template_format,
        recording,
        recording_format,
        truth,
        sound_s,
        noise,
        variations,
        distractors: distractors_laid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_stored_at_a_rate_that_carries_its_sound() {
        let tone = |hz: f32| -> Vec<f32> {
            (0..MIX_RATE / 2)
                .map(|i| (std::f32::consts::TAU * hz * i as f32 / MIX_RATE as f32).sin())
                .collect()
        };
        let at_8k = FileFormat {
            rate: 8_000,
            channels: 2,
            layout: SampleLayout::S24,
        };
        // A whistle at 4.5 kHz is not in a file at 8 kHz at all: the file
        // is stored at 16 kHz, its other choices as drawn.
        let whistle = carrying(at_8k, &tone(4_500.0));
        assert_eq!(
            whistle,
            FileFormat {
                rate: 16_000,
                ..at_8k
            }
        );
        // A tone at 1 kHz keeps the rate drawn.
        assert_eq!(carrying(at_8k, &tone(1_000.0)), at_8k);
        assert!(carried_share(&tone(1_000.0), 8_000) > 0.9);
    }

    /// A fast regression subset: held-out clean cases, counted exactly.
    /// Skips, saying so, where scripts/install-real-sounds.sh has not run.
    #[test]
    fn held_out_clean_cases_count_exactly() {
        let dir = default_dir();
        let library = match Library::load(&dir) {
            Ok(library) => library,
            Err(e) => {
                eprintln!("skipped: {e}");
                return;
            }
        };
        let scratch = tempfile::tempdir().unwrap();
        for index in 0..3 {
            let case = case(&library, Split::HeldOut, Tier::Clean, index).unwrap();
            let detected =
                super::super::evaluate::detect(&case, &Default::default(), scratch.path()).unwrap();
            let outcome =
                super::super::evaluate::match_events(&case.truth, &detected, case.tolerance_s());
            assert_eq!(
                (outcome.false_positives, outcome.false_negatives),
                (0, 0),
                "{} ({}): {outcome:?}",
                case.name,
                case.sound
            );
        }
    }

    /// Every sibling laid into a distractor case is recorded, whole
    /// inside the recording and of the template's family: the bench's
    /// `--explain` and `--candidates-csv` name the sound a false event
    /// sits on. Skips where the sounds are not installed.
    #[test]
    fn a_case_records_the_siblings_laid_between_its_repeats() {
        let Ok(library) = Library::load(&default_dir()) else {
            eprintln!("skipped: the real sounds are not installed");
            return;
        };
        for index in 0..3 {
            let case = case(&library, Split::HeldOut, Tier::Distractors, index).unwrap();
            let duration_s = case.recording.len() as f64 / f64::from(case.recording_format.rate);
            let family = case.sound.split('/').next().unwrap();
            assert!(!case.distractors.is_empty(), "{}", case.name);
            for d in &case.distractors {
                assert!(
                    d.start_s >= 0.0 && d.start_s + d.length_s <= duration_s,
                    "{d:?}"
                );
                assert_ne!(d.sound, case.sound, "{}", case.name);
                if !INTERCHANGEABLE_FAMILIES.contains(&family) {
                    assert!(d.sound.starts_with(&format!("{family}/")), "{d:?}");
                }
            }
        }
    }

    #[test]
    fn variants_of_one_chime_are_no_distractors() {
        assert!(variants_of_one_sound("Log-In", "Log-In-Short"));
        assert!(!variants_of_one_sound("Log-In", "Log-Out"));
    }

    #[test]
    fn the_split_is_fixed_by_name_and_holds_out_about_a_third() {
        assert_eq!(Split::of("oxygen", "a"), Split::of("oxygen", "a"));
        let held = (0..300)
            .filter(|i| Split::of("family", &format!("sound-{i}")) == Split::HeldOut)
            .count();
        assert!((70..130).contains(&held), "{held} of 300");
    }

    #[test]
    fn trimming_keeps_the_sound_and_drops_the_silence_around_it() {
        let rate = 8_000;
        let mut signal = vec![0.0f32; 800];
        signal.extend((0..400).map(|i| (i as f32 * 0.3).sin() * 0.5));
        signal.extend(vec![0.0f32; 800]);
        let sound = trim(&signal, rate);
        assert!((400..=440).contains(&sound.len()), "{}", sound.len());
    }
}
