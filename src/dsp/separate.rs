//! Is a peak next to a higher one a second occurrence, or only the first
//! one's side lobe?
//!
//! A double click's template, with its first click on a real second click,
//! scores half as well as the true match next to it: a side lobe, which the
//! peak picker drops. But in rapid repeats a true occurrence can start
//! exactly there, and its score, lowered by the sounds overlapping it, is
//! no higher than the side lobe's. Scores alone cannot tell the two apart;
//! the audio can. Two models of the frames the pair covers are compared:
//! the template at the higher peak alone, and the template at both peaks
//! (overlapping sounds combined by their louder band, as log energies
//! nearly do). If the second model fits the recording clearly better (in
//! Pearson correlation), the audio holds two occurrences. A peak that
//! stands clear of the side lobes is asked less: two occurrences must fit
//! at least as well as one ([`NEIGHBOUR_MARGIN`]), which still drops a
//! partial match that a varied repeat lifts above the side lobe.
//!
//! The same comparison finds occurrences buried in rapid repeats: one that
//! starts while the sounds before and after it still ring scores too low
//! for the threshold, however plainly it is there ([`Separation::buried`]).
//! There, the onsets (rises) are compared too: a reverberant tail adds
//! level where the one-occurrence model has none, but no new onset.

use std::collections::VecDeque;

use super::correlate::standardise;
use super::features::{OnsetChannels, BANDS};

/// How much better (in Pearson correlation over the pair's frames) two
/// occurrences must explain the audio than one, for the lower peak to
/// count. Chosen on the accuracy corpus (docs/BENCHMARKS.md).
pub const SEPARATION_MARGIN: f32 = 0.05;
/// The same for a peak clear of a higher neighbour's side lobes: two
/// occurrences must explain the pair's frames at least as well as the
/// neighbour alone. Any margin above 0 cost true rapid repeats; at 0, it
/// still drops partial matches of a double click that rise above the
/// template's own side lobe (docs/BENCHMARKS.md).
pub const NEIGHBOUR_MARGIN: f32 = 0.0;
/// The same for an occurrence buried between two higher ones, on the mean
/// of the level and onset gains: higher, because a buried candidate has
/// not even passed the threshold (at 0.05, noise at 0 dB SNR let seven
/// more false events through).
pub const BURIED_MARGIN: f32 = 0.08;

/// Keeps the recent features and compares the models.
pub struct Separation {
    /// The template's level features (not standardised), `frames × BANDS`.
    template: Vec<f32>,
    /// The template's onset strengths, the same way.
    template_onsets: Vec<f32>,
    frames: usize,
    /// Level features from frame `start` on, frame-major.
    recent: VecDeque<f32>,
    /// Onset strengths of the same frames.
    recent_onsets: VecDeque<f32>,
    start: u64,
}

impl Separation {
    /// A test for `template`: its level features, `frames × BANDS`, on the
    /// same scale as the recording's.
    pub fn new(template: Vec<f32>) -> Separation {
        let frames = template.len() / BANDS;
        let mut template_onsets = Vec::with_capacity(template.len());
        OnsetChannels::default().extend(&template, &mut template_onsets);
        Separation {
            template,
            template_onsets,
            frames,
            recent: VecDeque::new(),
            recent_onsets: VecDeque::new(),
            start: 0,
        }
    }

    /// Adds level features and their onset strengths (as
    /// [`OnsetChannels`] makes them), `BANDS` per frame each, in frame
    /// order.
    pub fn push(&mut self, features: &[f32], onsets: &[f32]) {
        self.recent.extend(features.iter().copied());
        self.recent_onsets.extend(onsets.iter().copied());
    }

    /// Drops frames before `frame`: no pair starting earlier will be asked
    /// about again.
    pub fn forget_before(&mut self, frame: u64) {
        while self.start < frame && self.recent.len() >= BANDS {
            self.recent.drain(..BANDS);
            self.recent_onsets.drain(..BANDS);
            self.start += 1;
        }
    }

    /// Whether occurrences at both `candidate` and `rival` explain the
    /// recording better by `margin` ([`SEPARATION_MARGIN`] or
    /// [`NEIGHBOUR_MARGIN`]) than one at `rival` alone. `None` if the
    /// frames are gone or not in yet.
    pub fn both(&self, candidate: u64, rival: u64, margin: f32) -> Option<bool> {
        let gain = self.gain(&self.recent, &self.template, candidate, rival)?;
        Some(gain > margin)
    }

    /// Whether an occurrence at `candidate`, between higher peaks at
    /// `before` and `after`, explains the recording better (by
    /// [`BURIED_MARGIN`], on the mean of levels and onsets) than either
    /// neighbour alone does. `None` if the frames are gone or not in yet.
    pub fn buried(&self, candidate: u64, before: u64, after: u64) -> Option<bool> {
        let clear = |neighbour| {
            let level = self.gain(&self.recent, &self.template, candidate, neighbour)?;
            let onset = self.gain(
                &self.recent_onsets,
                &self.template_onsets,
                candidate,
                neighbour,
            )?;
            Some(0.5 * (level + onset) > BURIED_MARGIN)
        };
        Some(clear(before)? && clear(after)?)
    }

    /// How much better the template at `candidate` and `rival` fits
    /// `recent` than at `rival` alone (Pearson over the frames they cover).
    fn gain(
        &self,
        recent: &VecDeque<f32>,
        template: &[f32],
        candidate: u64,
        rival: u64,
    ) -> Option<f32> {
        let first = candidate.min(rival);
        let offset = first.checked_sub(self.start)? as usize;
        let span = (candidate.max(rival) - first) as usize + self.frames;
        if (offset + span) * BANDS > recent.len() {
            return None;
        }
        let observed: Vec<f32> = recent
            .range(offset * BANDS..(offset + span) * BANDS)
            .copied()
            .collect();
        let mut one = vec![0.0f32; span * BANDS];
        place(template, &mut one, (rival - first) as usize);
        let mut two = one.clone();
        place(template, &mut two, (candidate - first) as usize);
        // Pearson of each model with the audio, the audio standardised
        // once for both; flat audio favours neither model.
        let Some(observed) = standardise(&observed) else {
            return Some(0.0);
        };
        let fit = |model: &[f32]| {
            standardise(model).map_or(0.0, |m| observed.iter().zip(&m).map(|(a, b)| a * b).sum())
        };
        Some(fit(&two) - fit(&one))
    }
}

/// Lays `template` into `model` from frame `at`, keeping the louder value
/// where something is there already.
fn place(template: &[f32], model: &mut [f32], at: usize) {
    for (m, &t) in model[at * BANDS..].iter_mut().zip(template) {
        *m = m.max(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A template of two "clicks" (frames 0 and 3) on band 5.
    fn double_click() -> Vec<f32> {
        let mut t = vec![0.0f32; 5 * BANDS];
        t[5] = 6.0;
        t[3 * BANDS + 5] = 4.0;
        t
    }

    /// A separation for [`double_click`] fed a recording of `frames`
    /// frames with occurrences at `onsets`, and their onset strengths, as
    /// the counter feeds it.
    fn over(onsets: &[usize], frames: usize) -> Separation {
        let template = double_click();
        let mut recording = vec![0.0f32; frames * BANDS];
        for &at in onsets {
            place(&template, &mut recording, at);
        }
        let mut strengths = Vec::new();
        OnsetChannels::default().extend(&recording, &mut strengths);
        let mut separation = Separation::new(template);
        separation.push(&recording, &strengths);
        separation
    }

    #[test]
    fn a_side_lobe_is_not_a_second_occurrence() {
        // One double click at frame 2: the template at frame 5 puts its
        // first click on the real second click, a side lobe.
        let separation = over(&[2], 12);
        assert_eq!(separation.both(5, 2, SEPARATION_MARGIN), Some(false));
    }

    #[test]
    fn a_repeat_at_the_side_lobe_lag_is() {
        // Double clicks at frames 2 and 5: the second starts on the
        // first's second click, and brings a click at frame 8 too.
        let separation = over(&[2, 5], 12);
        assert_eq!(separation.both(5, 2, SEPARATION_MARGIN), Some(true));
    }

    #[test]
    fn a_partial_match_away_from_the_side_lobe_makes_the_fit_worse() {
        // One double click at frame 2; a peak one frame later, where no
        // side lobe is, but the same sound partly matched: a second
        // template there only adds what the audio does not hold.
        let separation = over(&[2], 12);
        assert_eq!(separation.both(3, 2, NEIGHBOUR_MARGIN), Some(false));
        // A true repeat there does make the fit better.
        let separation = over(&[2, 3], 12);
        assert_eq!(separation.both(3, 2, NEIGHBOUR_MARGIN), Some(true));
    }

    #[test]
    fn an_occurrence_between_two_others_is_found_and_a_gap_is_not() {
        // Double clicks at frames 2, 5 and 8: the one at 5 shares its
        // clicks with both neighbours, yet only three occurrences explain
        // all the clicks. Frame 4 holds no occurrence of its own.
        let separation = over(&[2, 5, 8], 16);
        assert_eq!(separation.buried(5, 2, 8), Some(true));
        let separation = over(&[2, 8], 16);
        assert_eq!(separation.buried(4, 2, 8), Some(false));
    }

    #[test]
    fn frames_gone_or_not_in_give_no_answer() {
        let mut separation = over(&[2], 8);
        assert_eq!(
            separation.both(5, 2, SEPARATION_MARGIN),
            None,
            "frame 9 is not in yet"
        );
        separation.forget_before(3);
        assert_eq!(
            separation.both(4, 2, SEPARATION_MARGIN),
            None,
            "frame 2 is gone"
        );
    }
}
