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
        }
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
