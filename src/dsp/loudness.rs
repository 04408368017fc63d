//! How loud a candidate is on the template's own terms: the window's band
//! powers, with the recording's noise taken out, dotted frame by frame
//! with the template's. The threshold compares that with the events
//! already found ([`threshold`](super::threshold)): occurrences of one
//! sound in one recording come within a few dB of each other there,
//! while a quiet sound that only looks like the template (music's note
//! onsets under it) is orders of magnitude quieter, its power outside the
//! template's bands and frames.
//!
//! Whether a candidate is the template's sound at all is the fine
//! check's to say ([`fine`](super::fine)), not its broad spectrum's: a
//! repeat heard through a phone, another microphone or an equaliser has
//! the template's detail but not its balance of low and high bands.

use std::collections::VecDeque;
use std::ops::Range;

use super::features::BANDS;

/// The floor is the minimum of smoothed power; the noise's mean sits about
/// this many times higher, and that is what is subtracted.
const NOISE_BIAS: f32 = 2.0;

/// A band's power with the noise taken out (never below 0): what the
/// sound itself put there, on average.
#[inline]
pub fn noise_free(power: f32, floor: f32) -> f32 {
    (power - NOISE_BIAS * floor).max(0.0)
}

/// Keeps the recent frames' noise-free band powers and measures a
/// window's loudness against the template's.
pub struct Loudness {
    /// The template's noise-free band powers over its active frames,
    /// `active.len() × BANDS`.
    template_power: Vec<f32>,
    /// Frames of the template patch that hold the sound.
    active: Range<usize>,
    frames: VecDeque<[f32; BANDS]>,
    /// Absolute index of `frames[0]`.
    start: u64,
    /// Per band: whether a telephone's band passes it
    /// ([`Loudness::with_phone_band`]).
    in_band: [bool; BANDS],
    /// What the template's own loudness over every band is to its
    /// loudness over those a telephone passes.
    band_ratio: f32,
}

impl Loudness {
    /// A measure against the template whose noise-free band powers over
    /// the patch frames `active` are `template_power` (`active.len() ×
    /// BANDS`).
    pub fn new(template_power: Vec<f32>, active: Range<usize>) -> Loudness {
        Loudness {
            template_power,
            active,
            frames: VecDeque::new(),
            start: 0,
            in_band: [true; BANDS],
            band_ratio: 1.0,
        }
    }

    /// The same measure, told which bands (`in_band`) a telephone's band
    /// passes, for [`Loudness::through_phone_band`].
    pub fn with_phone_band(mut self, in_band: [bool; BANDS]) -> Loudness {
        // The template's own loudness: its powers dotted with themselves.
        let own = |counted: &[bool; BANDS]| -> f32 {
            self.template_power
                .chunks_exact(BANDS)
                .flat_map(|frame| frame.iter().zip(counted))
                .filter(|&(_, &counts)| counts)
                .map(|(t, _)| t * t)
                .sum()
        };
        let (all, passed) = (own(&[true; BANDS]), own(&in_band));
        self.band_ratio = if passed > 0.0 { all / passed } else { 1.0 };
        self.in_band = in_band;
        self
    }

    /// How loud a candidate starting at `frame` heard through a
    /// telephone's band is, on the terms of [`Loudness::of`]: the dot
    /// product over the bands the telephone passes only, scaled by what
    /// the template's own loudness over every band is to its loudness
    /// over those. A repeat through the band has lost the bands outside
    /// it (the template's loudest, for a bright chime or a low thump);
    /// measured over all of them it is 20 dB and more under its peers
    /// and failed the loudness rule though its fine structure was the
    /// template's. Within the band it is as loud as it sounds, and a
    /// quieter sound of the template's shape stays as much quieter there.
    /// `None` if those frames are gone or not in yet.
    pub fn through_phone_band(&self, frame: u64) -> Option<f32> {
        Some(self.dot(frame, &self.in_band)? * self.band_ratio)
    }

    /// The window's noise-free band powers from `frame` dotted with the
    /// template's, frame by frame, over the bands `counted`.
    fn dot(&self, frame: u64, counted: &[bool; BANDS]) -> Option<f32> {
        let (first, last) = self.window(frame)?;
        Some(
            self.frames
                .range(first..last)
                .zip(self.template_power.chunks_exact(BANDS))
                .map(|(window, template)| {
                    window
                        .iter()
                        .zip(template)
                        .zip(counted)
                        .filter(|&(_, &counts)| counts)
                        .map(|((w, t), _)| w * t)
                        .sum::<f32>()
                })
                .sum(),
        )
    }

    /// Adds frames: `BANDS` powers and `BANDS` floors each.
    pub fn push(&mut self, powers: &[f32], floors: &[f32]) {
        for (p, f) in powers.chunks_exact(BANDS).zip(floors.chunks_exact(BANDS)) {
            let mut clean = [0.0f32; BANDS];
            for ((c, &p), &f) in clean.iter_mut().zip(p).zip(f) {
                *c = noise_free(p, f);
            }
            self.frames.push_back(clean);
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

    /// How loud a candidate starting at `frame` is: the window's
    /// noise-free band powers, frame by frame, dotted with the
    /// template's. Comparable only between candidates of one counter.
    /// `None` if those frames are gone or not in yet.
    pub fn of(&self, frame: u64) -> Option<f32> {
        self.dot(frame, &[true; BANDS])
    }

    /// Drops frames before `frame`: no window starting earlier will be
    /// asked about again.
    pub fn forget_before(&mut self, frame: u64) {
        while self.start < frame && !self.frames.is_empty() {
            self.frames.pop_front();
            self.start += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spectrum that falls across the bands from `top` down.
    fn slope(top: usize) -> [f32; BANDS] {
        let mut p = [0.0f32; BANDS];
        for (b, v) in p.iter_mut().enumerate() {
            *v = 10f32.powf(-((b as f32 - top as f32).abs()) / 8.0);
        }
        p
    }

    /// A measure for a 3-frame sound whose every frame is `slope(30)`.
    fn slope_loudness() -> Loudness {
        Loudness::new(slope(30).repeat(3), 0..3)
    }

    #[test]
    fn a_repeat_through_a_telephone_band_is_as_loud_within_the_band() {
        let in_band: [bool; BANDS] = std::array::from_fn(|b| (8..28).contains(&b));
        let mut loudness = slope_loudness().with_phone_band(in_band);
        // A repeat 6 dB up, with the bands outside the telephone's 30 dB
        // down, then the same repeat heard whole.
        let mut powers = Vec::new();
        for _ in 0..3 {
            powers.extend(slope(30).iter().enumerate().map(|(b, &p)| {
                let outside = if in_band[b] { 1.0 } else { 1e-3 };
                4.0 * p * outside
            }));
        }
        for _ in 0..3 {
            powers.extend(slope(30).iter().map(|&p| 4.0 * p));
        }
        loudness.push(&powers, &vec![0.0f32; powers.len()]);
        let whole = loudness.of(3).unwrap();
        let cut = loudness.of(0).unwrap();
        let within = loudness.through_phone_band(0).unwrap();
        assert!(cut < 0.5 * whole, "cut {cut}, whole {whole}");
        assert!(
            (within / whole - 1.0).abs() < 1e-3,
            "within {within}, whole {whole}"
        );
    }

    #[test]
    fn frames_before_the_window_are_forgotten() {
        let mut loudness = slope_loudness();
        let floors = vec![0.0f32; 10 * BANDS];
        loudness.push(&vec![1.0f32; 10 * BANDS], &floors);
        loudness.forget_before(4);
        assert!(loudness.of(3).is_none());
        assert!(loudness.of(4).is_some());
        assert!(loudness.of(8).is_none(), "frame 10 is not in yet");
    }

    #[test]
    fn loudness_follows_the_sound_in_the_templates_bands_and_little_else() {
        let mut loudness = slope_loudness();
        let floors = [0.0f32; BANDS];
        let scaled = |by: f32| slope(30).map(|v| v * by);
        // Frames 0-2: the sound; 3-5: 10 dB louder; 6-8: as loud, but in
        // the bottom bands (another sound).
        for frame in [scaled(1.0), scaled(10.0), slope(0)] {
            for _ in 0..3 {
                loudness.push(&frame, &floors);
            }
        }
        let (sound, louder, other) = (
            loudness.of(0).unwrap(),
            loudness.of(3).unwrap(),
            loudness.of(6).unwrap(),
        );
        assert!((louder / sound - 10.0).abs() < 1e-3, "{louder} vs {sound}");
        assert!(other < 0.05 * sound, "{other} vs {sound}");
    }

    #[test]
    fn the_noise_floor_is_taken_out() {
        let mut loudness = slope_loudness();
        // Frames 0-2: the sound over a floor; 3-5: the floor alone.
        for frame in [slope(30).map(|v| v + 0.5), [0.5; BANDS]] {
            for _ in 0..3 {
                loudness.push(&frame, &[0.25; BANDS]);
            }
        }
        let mut quiet = slope_loudness();
        for _ in 0..3 {
            quiet.push(&slope(30), &[0.0; BANDS]);
        }
        assert!((loudness.of(0).unwrap() - quiet.of(0).unwrap()).abs() < 1e-4);
        assert_eq!(loudness.of(3), Some(0.0));
    }
}
