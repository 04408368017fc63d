//! A second look at each candidate event: does the window's spectrum, with
//! the recording's noise taken out, have the template's shape?
//!
//! The correlation works on the time–band patch, where the envelope
//! (silence, burst, silence) carries most of the variance: two different
//! short bursts, a slap and a key click, correlate at 0.85–0.9 there. Their
//! spectra differ: summed over the sound, with the noise floor subtracted in
//! linear power (so noise adds no shape of its own on average), the band
//! profiles of a click and a slap correlate far less than two clicks do.
//! The check runs only on the few frames the peak picker proposes. Bands
//! the background just before the window explains, and another sound's
//! excess in the bands the template has almost nothing in, say nothing
//! about the candidate's own sound and are taken out of the comparison.
//!
//! The same frames tell how loud a candidate is on the template's own
//! terms ([`SpectralCheck::loudness`]): the threshold compares that with
//! the events already found ([`threshold`](super::threshold)).

use std::collections::VecDeque;
use std::ops::Range;

use super::features::{Resolution, BANDS};

/// The floor is the minimum of smoothed power; the noise's mean sits about
/// this many times higher, and that is what is subtracted.
const NOISE_BIAS: f32 = 2.0;
/// A band's power with the noise taken out (never below 0): what the
/// sound itself put there, on average.
#[inline]
pub fn noise_free(power: f32, floor: f32) -> f32 {
    (power - NOISE_BIAS * floor).max(0.0)
}

/// Seconds before a window that tell how loud the background is.
pub const CONTEXT_S: f64 = 0.3;
/// How hard a mismatched spectrum counts against a candidate: its score is
/// multiplied by `similarity^(SHAPE_WEIGHT × reliability)`.
const SHAPE_WEIGHT: f32 = 3.0;
/// Local SNR (dB) below which the window's spectrum is mostly noise and the
/// check has no say; it has its full say from [`RELIABLE_SNR_DB`] up.
const UNRELIABLE_SNR_DB: f32 = 10.0;
/// See [`UNRELIABLE_SNR_DB`].
const RELIABLE_SNR_DB: f32 = 20.0;

/// How far (in bands, either way) a window's profile may sit from the
/// template's: a repeat a few percent faster or higher moves its spectrum
/// up or down the bands. A quarter band, chosen on the accuracy corpus: at
/// half a band, key clicks passed for slaps (docs/BENCHMARKS.md).
pub const PITCH_TOLERANCE_BANDS: f32 = 0.25;

/// `sums` moved `by` bands up (positive) or down, by linear interpolation
/// between neighbouring bands; the edge bands repeat where nothing moves
/// in.
fn shifted(sums: &[f32; BANDS], by: f32) -> [f32; BANDS] {
    let last = (BANDS - 1) as f32;
    std::array::from_fn(|b| {
        let from = (b as f32 - by).clamp(0.0, last);
        let low = from.floor() as usize;
        let high = (low + 1).min(BANDS - 1);
        let weight = from - low as f32;
        sums[low] * (1.0 - weight) + sums[high] * weight
    })
}

/// Which percentile of a band's power over the frames before a window
/// stands for what the background can put there: babble and music rise
/// and fall, so their typical level is not enough, and their loudest
/// frame may be the previous occurrence's tail.
const BACKGROUND_BAND_QUANTILE: f32 = 0.9;

/// Bands where the template's power is under this share of its loudest
/// band say little about how the window's sound relates to it.
const TEMPLATE_BAND_RANGE: f32 = 1e-2;

/// Each band's power summed over `frames` (`BANDS` values each): a
/// stretch's band profile in linear power.
fn band_sums<'a>(frames: impl IntoIterator<Item = &'a [f32]>) -> [f32; BANDS] {
    let mut sums = [0.0f32; BANDS];
    for frame in frames {
        for (sum, power) in sums.iter_mut().zip(frame) {
            *sum += power;
        }
    }
    sums
}

/// How far (in power) a window may exceed the template's shape, in the
/// bands the template has (almost) nothing in, before the excess stops
/// counting against it (`SpectralCheck::cap_foreign_bands`): 10 dB.
/// Chosen on the accuracy corpus: 5 (7 dB) let distractors through, 20
/// (13 dB) and more kept fewer of the ten-minute recordings' true matches
/// (docs/BENCHMARKS.md).
pub const FOREIGN_BAND_EXCESS: f32 = 10.0;

/// Bands more than 30 dB below a profile's loudest band are "nothing": the
/// profile is floored there so empty bands do not dominate its log shape.
const PROFILE_RANGE: f32 = 1e-3;

/// A profile made comparable: log, floored, zero-mean and unit-norm across
/// bands; `None` when it is flat or empty.
pub fn standard_profile(sums: &[f32; BANDS]) -> Option<[f32; BANDS]> {
    let peak = sums.iter().copied().fold(0.0f32, f32::max);
    if peak.is_nan() || peak <= 0.0 {
        return None;
    }
    let mut logs = [0.0f32; BANDS];
    for (l, &s) in logs.iter_mut().zip(sums) {
        *l = (s + PROFILE_RANGE * peak).ln();
    }
    let mean = logs.iter().sum::<f32>() / BANDS as f32;
    logs.iter_mut().for_each(|l| *l -= mean);
    let norm = logs.iter().map(|l| l * l).sum::<f32>().sqrt();
    if norm < 1e-6 {
        return None;
    }
    logs.iter_mut().for_each(|l| *l /= norm);
    Some(logs)
}

/// Keeps the recent frames' noise-free band powers and compares the
/// template's profile with a window's.
pub struct SpectralCheck {
    template: [f32; BANDS],
    /// The template's noise-free band powers over its active frames,
    /// `active.len() × BANDS`.
    template_power: Vec<f32>,
    /// The same summed over the frames: the template's band profile in
    /// linear power.
    template_sums: [f32; BANDS],
    /// Template band sums at or under this are bands the template has
    /// (almost) nothing in ([`TEMPLATE_BAND_RANGE`] of its loudest band).
    empty_band_level: f32,
    /// Frames of the template patch that hold the sound.
    active: Range<usize>,
    frames: VecDeque<[f32; BANDS]>,
    /// Per frame: the total power, for the local SNR.
    power: VecDeque<f32>,
    /// Absolute index of `frames[0]`.
    start: u64,
    /// Frames in [`CONTEXT_S`].
    context_frames: usize,
}

impl SpectralCheck {
    /// A check against `template` (a [`standard_profile`]) summed over the
    /// patch frames `active`, for frames of `resolution`; `template_power`
    /// holds the noise-free band powers of those frames (`active.len() ×
    /// BANDS`), for [`SpectralCheck::loudness`].
    pub fn new(
        template: [f32; BANDS],
        template_power: Vec<f32>,
        active: Range<usize>,
        resolution: Resolution,
    ) -> SpectralCheck {
        let template_sums = band_sums(template_power.chunks_exact(BANDS));
        let loudest = template_sums.iter().copied().fold(0.0f32, f32::max);
        SpectralCheck {
            template,
            template_power,
            template_sums,
            empty_band_level: TEMPLATE_BAND_RANGE * loudest,
            active,
            frames: VecDeque::new(),
            power: VecDeque::new(),
            start: 0,
            context_frames: resolution.frames(CONTEXT_S),
        }
    }

    /// Frames before a window that its check looks at: frames older than
    /// that before the first undecided window can be forgotten.
    pub fn context_frames(&self) -> usize {
        self.context_frames
    }

    /// Adds frames: `BANDS` powers and `BANDS` floors each.
    pub fn push(&mut self, powers: &[f32], floors: &[f32]) {
        for (p, f) in powers.chunks_exact(BANDS).zip(floors.chunks_exact(BANDS)) {
            let mut clean = [0.0f32; BANDS];
            for ((c, &p), &f) in clean.iter_mut().zip(p).zip(f) {
                *c = noise_free(p, f);
            }
            self.frames.push_back(clean);
            self.power.push_back(p.iter().sum::<f32>());
        }
    }

    /// Where the sound of a candidate starting at `frame` lies in the
    /// kept frames (the template's active frames from there), as
    /// `(first, end)`; `None` if those frames are gone or not in yet.
    fn window(&self, frame: u64) -> Option<(usize, usize)> {
        let first = (frame + self.active.start as u64).checked_sub(self.start)? as usize;
        let last = (frame + self.active.end as u64).checked_sub(self.start)? as usize;
        (last <= self.frames.len()).then_some((first, last))
    }

    /// The factor, in 0..=1, that a candidate starting at `frame` keeps
    /// of its score: the Pearson correlation across bands of the
    /// template's profile and the window's, raised to a power that grows
    /// with the window's local SNR (in noise a true match's spectrum is
    /// mostly the noise's, so the check has no say there). `None` if those
    /// frames are gone or not in yet.
    pub fn factor(&self, frame: u64) -> Option<f32> {
        let (first, last) = self.window(frame)?;
        let mut sums = band_sums(self.frames.range(first..last).map(|f| &f[..]));
        // The window's level against the template's, over the template's
        // own bands: what the template's shape predicts in each band.
        if let Some(scale) = self.level_against_template(&sums) {
            self.discount_background(&mut sums, first, last, scale);
            self.cap_foreign_bands(&mut sums, scale);
        }
        // The best of the window's profile as it is and moved a little up
        // and down the bands: a repeat played a few percent faster or
        // higher puts its resonances part of a band away.
        let similarity = [0.0, -PITCH_TOLERANCE_BANDS, PITCH_TOLERANCE_BANDS]
            .into_iter()
            .map(|by| self.similarity(&shifted(&sums, by)))
            .fold(0.0f32, f32::max);
        // Local SNR: the window's mean power against the median power of
        // the frames just before it (a median, so one other sound there
        // does not count as background).
        let window: f32 = self.power.range(first..last).sum::<f32>() / (last - first).max(1) as f32;
        let context = first.saturating_sub(self.context_frames)..first;
        let reliability = match super::median(self.power.range(context).copied()) {
            Some(background) => {
                let snr_db = 10.0 * (window / background.max(1e-30)).max(1e-10).log10();
                ((snr_db - UNRELIABLE_SNR_DB) / (RELIABLE_SNR_DB - UNRELIABLE_SNR_DB))
                    .clamp(0.0, 1.0)
            }
            // Nothing before the window: the recording starts with it.
            None => 1.0,
        };
        Some(similarity.powf(SHAPE_WEIGHT * reliability))
    }

    /// Takes the bands the background explains out of the comparison: a
    /// band where the window `first..last` (whose band sums are `sums`)
    /// holds no more than the background's loud frames just before it do
    /// ([`BACKGROUND_BAND_QUANTILE`]) says nothing about the window's own
    /// sound, and is given the template's value, scaled to the window.
    /// Babble 20 dB under a slap fills the low bands the slap leaves
    /// nearly empty; compared there, true slaps lost their score (the
    /// corpus's ten-minute recordings missed 26 of their 14,164
    /// occurrences, 16 since). In a quiet room no band is
    /// explained, so a different sound (a key click for a slap) still
    /// shows its own spectrum.
    fn discount_background(&self, sums: &mut [f32; BANDS], first: usize, last: usize, scale: f32) {
        let context = first.saturating_sub(self.context_frames)..first;
        if context.is_empty() {
            return;
        }
        let frames = (last - first) as f32;
        let rank = ((context.len() - 1) as f32 * BACKGROUND_BAND_QUANTILE) as usize;
        // The test is `sum <= frames × background`, with the background the
        // band's value of rank `rank` in the context. Noise-free powers
        // and their sums are never NaN, and the test only grows truer as
        // the background rises, so it holds exactly when at most `rank`
        // context values fail it (`sum > frames × value`): counting those
        // gives the same answer as selecting the quantile, without
        // sorting.
        let mut failing = [0usize; BANDS];
        for frame in self.frames.range(context) {
            for ((count, &sum), &value) in failing.iter_mut().zip(sums.iter()).zip(frame) {
                *count += usize::from(sum > frames * value);
            }
        }
        for ((sum, &count), &template) in sums.iter_mut().zip(&failing).zip(&self.template_sums) {
            if count <= rank {
                *sum = scale * template;
            }
        }
    }

    /// A window's level (band sums `sums`) against the template's: the
    /// median ratio over the bands the template has its sound in. `None`
    /// when it has none.
    fn level_against_template(&self, sums: &[f32; BANDS]) -> Option<f32> {
        super::median(
            self.template_sums
                .iter()
                .zip(sums)
                .filter(|(t, _)| **t > self.empty_band_level)
                .map(|(t, w)| w / t),
        )
    }

    /// Caps the window's power in the bands the template has (almost)
    /// nothing in at [`FOREIGN_BAND_EXCESS`] times what the template's
    /// shape puts there, scaled to the window (`scale`). More than that
    /// says another sound is there at the same time, nothing more: a key
    /// click on a bass note's onset, a slap on a syllable of babble. Those
    /// came 10-25 dB over the template in its empty low bands and cost a
    /// true match its score (the corpus's ten-minute recordings in music
    /// or babble missed 1-13 of their 400-700 occurrences). A different
    /// sound in a quiet room keeps up to 10 dB of its own spectrum there,
    /// and its shape elsewhere.
    fn cap_foreign_bands(&self, sums: &mut [f32; BANDS], scale: f32) {
        for (sum, &template) in sums.iter_mut().zip(&self.template_sums) {
            if template <= self.empty_band_level {
                *sum = sum.min(FOREIGN_BAND_EXCESS * scale * template);
            }
        }
    }

    /// How loud a candidate starting at `frame` is, on the template's own
    /// terms: the window's noise-free band powers, frame by frame, dotted
    /// with the template's. Occurrences of one sound in one recording
    /// score alike here (a few dB apart), while a quiet sound that only
    /// looks like the template (music's note onsets under it) scores
    /// orders of magnitude lower: its power falls outside the template's
    /// bands and frames. Comparable only between candidates of one
    /// counter. `None` if those frames are gone or not in yet.
    pub fn loudness(&self, frame: u64) -> Option<f32> {
        let (first, last) = self.window(frame)?;
        Some(
            self.frames
                .range(first..last)
                .zip(self.template_power.chunks_exact(BANDS))
                .map(|(window, template)| {
                    window.iter().zip(template).map(|(w, t)| w * t).sum::<f32>()
                })
                .sum(),
        )
    }

    /// Pearson correlation (at least 0) of the template's profile and the
    /// profile of `sums`; 0 when `sums` has no shape.
    fn similarity(&self, sums: &[f32; BANDS]) -> f32 {
        standard_profile(sums).map_or(0.0, |profile| {
            profile
                .iter()
                .zip(&self.template)
                .map(|(a, b)| a * b)
                .sum::<f32>()
                .max(0.0)
        })
    }

    /// Drops frames before `frame`: no window starting earlier will be
    /// asked about again.
    pub fn forget_before(&mut self, frame: u64) {
        while self.start < frame && !self.frames.is_empty() {
            self.frames.pop_front();
            self.power.pop_front();
            self.start += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile that falls across the bands from `top` down.
    fn slope(top: usize) -> [f32; BANDS] {
        let mut p = [0.0f32; BANDS];
        for (b, v) in p.iter_mut().enumerate() {
            *v = 10f32.powf(-((b as f32 - top as f32).abs()) / 8.0);
        }
        p
    }

    /// A check for a 3-frame sound whose every frame is `slope(30)`.
    fn slope_check() -> SpectralCheck {
        SpectralCheck::new(
            standard_profile(&slope(30)).unwrap(),
            slope(30).repeat(3),
            0..3,
            Resolution::STANDARD,
        )
    }

    /// A check on a 3-frame sound, fed `quiet` frames of background at
    /// `background` power per band and then 3 frames of `sound`.
    fn check_after(quiet: usize, background: f32, sound: [f32; BANDS]) -> f32 {
        let mut check = slope_check();
        let floors = vec![0.0f32; BANDS];
        for _ in 0..quiet {
            check.push(&[background; BANDS], &floors);
        }
        for _ in 0..3 {
            check.push(&sound, &floors);
        }
        check.factor(quiet as u64).unwrap()
    }

    #[test]
    fn the_same_spectrum_keeps_its_score_and_another_loses_it() {
        assert!(check_after(30, 1e-6, slope(30)) > 0.99);
        assert!(check_after(30, 1e-6, slope(5)) < 0.2);
    }

    #[test]
    fn a_spectrum_a_little_higher_keeps_more_of_its_score_than_unshifted() {
        // A resonance a quarter band up, as a repeat a few percent higher
        // puts it: the check looks for it there too.
        let narrow = |centre: f32| -> [f32; BANDS] {
            std::array::from_fn(|b| 10f32.powf(-((b as f32 - centre).powi(2)) / 4.0))
        };
        let template = standard_profile(&narrow(20.0)).unwrap();
        let mut check =
            SpectralCheck::new(template, narrow(20.0).to_vec(), 0..1, Resolution::STANDARD);
        check.push(&narrow(20.25), &[0.0; BANDS]);
        let moved = check.factor(0).unwrap();
        let direct = standard_profile(&narrow(20.25))
            .unwrap()
            .iter()
            .zip(&template)
            .map(|(a, b)| a * b)
            .sum::<f32>()
            .powf(SHAPE_WEIGHT);
        assert!(moved > direct + 0.003, "{moved} vs {direct}");
    }

    #[test]
    fn shifting_moves_a_profile_between_bands() {
        let mut sums = [0.0f32; BANDS];
        sums[10] = 1.0;
        let up = shifted(&sums, 0.25);
        assert!((up[10] - 0.75).abs() < 1e-6 && (up[11] - 0.25).abs() < 1e-6);
        let down = shifted(&sums, -0.25);
        assert!((down[10] - 0.75).abs() < 1e-6 && (down[9] - 0.25).abs() < 1e-6);
        assert_eq!(shifted(&sums, 0.0), sums);
    }

    #[test]
    fn in_loud_noise_the_spectrum_has_no_say() {
        // The window is barely above its background: its spectrum is the
        // noise's, so a mismatch must not count.
        let sound = slope(5).map(|v| v + 1.0);
        assert_eq!(check_after(30, 1.0, sound), 1.0);
    }

    #[test]
    fn bands_the_background_fills_say_nothing_about_the_sound() {
        // Babble-like: the bottom bands, which the sound leaves nearly
        // empty, filled before and during it, rising and falling.
        let babble = |level: f32| -> [f32; BANDS] {
            std::array::from_fn(|b| if b < 12 { level } else { 0.0 })
        };
        let over_babble: [f32; BANDS] =
            std::array::from_fn(|b| 10.0 * slope(30)[b] + babble(0.1)[b]);
        let mut check = slope_check();
        let floors = [0.0f32; BANDS];
        for i in 0..30 {
            check.push(&babble([0.05, 0.1, 0.15][i % 3]), &floors);
        }
        for _ in 0..3 {
            check.push(&over_babble, &floors);
        }
        let explained = check.factor(30).unwrap();
        // After silence the same bottom bands are the window's own sound,
        // and it is not the template's.
        let unexplained = check_after(30, 0.0, over_babble);
        assert!(explained > 0.99, "{explained}");
        assert!(unexplained < 0.95, "{unexplained}");
    }

    #[test]
    fn another_sound_starting_with_the_window_in_the_templates_empty_bands_costs_little() {
        // A bass note's onset under a click: 20-28 dB over the template's
        // shape in the bottom bands it has (almost) nothing in, after a
        // quiet stretch that explains none of it.
        let on_a_bass_note: [f32; BANDS] =
            std::array::from_fn(|b| 10.0 * slope(30)[b] + if b < 6 { 1.0 } else { 0.0 });
        let kept = check_after(30, 1e-6, on_a_bass_note);
        assert!(kept > 0.8, "{kept}");
        // A sound of another shape loses its score all the same.
        assert!(check_after(30, 1e-6, slope(5)) < 0.2);
    }

    #[test]
    fn frames_before_the_context_are_forgotten() {
        let mut check = slope_check();
        let floors = vec![0.0f32; 10 * BANDS];
        check.push(&vec![1.0f32; 10 * BANDS], &floors);
        check.forget_before(4);
        assert!(check.factor(3).is_none());
        assert!(check.factor(4).is_some());
        assert!(check.factor(8).is_none(), "frame 10 is not in yet");
        assert!(check.loudness(3).is_none());
        assert!(check.loudness(8).is_none(), "frame 10 is not in yet");
    }

    #[test]
    fn loudness_follows_the_sound_in_the_templates_bands_and_little_else() {
        let mut check = slope_check();
        let floors = [0.0f32; BANDS];
        let scaled = |by: f32| slope(30).map(|v| v * by);
        // Frames 0-2: the sound; 3-5: 10 dB louder; 6-8: as loud, but in
        // the bottom bands (another sound).
        for frame in [scaled(1.0), scaled(10.0), slope(0)] {
            for _ in 0..3 {
                check.push(&frame, &floors);
            }
        }
        let (sound, louder, other) = (
            check.loudness(0).unwrap(),
            check.loudness(3).unwrap(),
            check.loudness(6).unwrap(),
        );
        assert!((louder / sound - 10.0).abs() < 1e-3, "{louder} vs {sound}");
        assert!(other < 0.05 * sound, "{other} vs {sound}");
    }
}
