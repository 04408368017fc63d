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
//! Pearson correlation), the audio holds two occurrences.

use std::collections::VecDeque;

use super::features::BANDS;

/// How much better (in Pearson correlation over the pair's frames) two
/// occurrences must explain the audio than one, for the lower peak to
/// count. Chosen on the accuracy corpus (docs/BENCHMARKS.md).
pub const SEPARATION_MARGIN: f32 = 0.05;

/// Keeps the recent level features and compares the two models.
pub struct Separation {
    /// The template's level features (not standardised), `frames × BANDS`.
    template: Vec<f32>,
    frames: usize,
    /// Features from frame `start` on, frame-major.
    recent: VecDeque<f32>,
    start: u64,
}

impl Separation {
    /// A test for `template`: its level features, `frames × BANDS`, on the
    /// same scale as the recording's.
    pub fn new(template: Vec<f32>) -> Separation {
        let frames = template.len() / BANDS;
        Separation {
            template,
            frames,
            recent: VecDeque::new(),
            start: 0,
        }
    }

    /// Adds level features, `BANDS` per frame, in frame order.
    pub fn push(&mut self, features: &[f32]) {
        self.recent.extend(features.iter().copied());
    }

    /// Drops frames before `frame`: no pair starting earlier will be asked
    /// about again.
    pub fn forget_before(&mut self, frame: u64) {
        while self.start < frame && self.recent.len() >= BANDS {
            self.recent.drain(..BANDS);
            self.start += 1;
        }
    }

    /// Whether occurrences at both `candidate` and `rival` explain the
    /// recording better by [`SEPARATION_MARGIN`] than one at `rival` alone.
    /// `None` if the frames are gone or not in yet.
    pub fn both(&self, candidate: u64, rival: u64) -> Option<bool> {
        let first = candidate.min(rival);
        let offset = first.checked_sub(self.start)? as usize;
        let span = (candidate.max(rival) - first) as usize + self.frames;
        if (offset + span) * BANDS > self.recent.len() {
            return None;
        }
        let observed: Vec<f32> = self
            .recent
            .range(offset * BANDS..(offset + span) * BANDS)
            .copied()
            .collect();
        let mut one = vec![0.0f32; span * BANDS];
        self.place(&mut one, (rival - first) as usize);
        let mut two = one.clone();
        self.place(&mut two, (candidate - first) as usize);
        let fit = |model: &[f32]| pearson(&observed, model);
        Some(fit(&two) > fit(&one) + SEPARATION_MARGIN)
    }

    /// Lays the template into `model` from frame `at`, keeping the louder
    /// value where something is there already.
    fn place(&self, model: &mut [f32], at: usize) {
        for (m, &t) in model[at * BANDS..].iter_mut().zip(&self.template) {
            *m = m.max(t);
        }
    }
}

/// Pearson correlation of two equally long series (0 if either is flat).
fn pearson(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f64;
    let mean = |x: &[f32]| x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (ma, mb) = (mean(a), mean(b));
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa <= 0.0 || bb <= 0.0 {
        return 0.0;
    }
    (ab / (aa * bb).sqrt()) as f32
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

    fn recording(onsets: &[usize], frames: usize) -> Vec<f32> {
        let template = double_click();
        let mut r = vec![0.0f32; frames * BANDS];
        for &at in onsets {
            for (v, &t) in r[at * BANDS..].iter_mut().zip(&template) {
                *v = v.max(t);
            }
        }
        r
    }

    #[test]
    fn a_side_lobe_is_not_a_second_occurrence() {
        // One double click at frame 2: the template at frame 5 puts its
        // first click on the real second click, a side lobe.
        let mut separation = Separation::new(double_click());
        separation.push(&recording(&[2], 12));
        assert_eq!(separation.both(5, 2), Some(false));
    }

    #[test]
    fn a_repeat_at_the_side_lobe_lag_is() {
        // Double clicks at frames 2 and 5: the second starts on the
        // first's second click, and brings a click at frame 8 too.
        let mut separation = Separation::new(double_click());
        separation.push(&recording(&[2, 5], 12));
        assert_eq!(separation.both(5, 2), Some(true));
    }

    #[test]
    fn frames_gone_or_not_in_give_no_answer() {
        let mut separation = Separation::new(double_click());
        separation.push(&recording(&[2], 8));
        assert_eq!(separation.both(5, 2), None, "frame 9 is not in yet");
        separation.forget_before(3);
        assert_eq!(separation.both(4, 2), None, "frame 2 is gone");
    }
}
