//! Peak picking: one event per occurrence, never one per frame offset.
//!
//! A frame is an event when its score reaches the threshold, no frame within
//! `gap` frames scores higher (on a tie, the earlier frame wins), and it is
//! not dominated by a higher frame within `reach` frames (85 % of the
//! template's length). The last rule removes partial matches: a key
//! press-and-release template with its press on a real release scores 0.6–0.7
//! of the true match next to it. How much lower than its neighbour a peak
//! may be depends on their lag: the template's correlation with itself
//! ([`PeakPicker::with_side_lobes`]) says where a true match has side lobes
//! and how high, so true repeats at other lags stay however close they are
//! (without side lobes, one flat share, [`DOMINANCE`], applies). A peak
//! that fails this rule is still reported, with the higher peak as its
//! [`Peak::rival`]: a true repeat can start exactly at a side lobe's lag,
//! and only the audio can tell ([`separate`](super::separate)). A peak
//! that passes it still names its highest neighbour within reach
//! ([`Peak::higher`]): a varied repeat's partial match can rise above the
//! template's own side lobe, and the audio is asked about it too. Each
//! peak also names the highest other maximum within its gap
//! ([`Peak::alternate`]): where the peak's onset fails the fine check,
//! the occurrence may begin there instead.
//! Everything is decided as soon as the `reach` frames after it are known,
//! so a stream reports each event the moment it is certain, and decisions
//! depend on the scores alone, never on how they arrived.

use std::collections::VecDeque;

/// A detected peak, in feature frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    /// Frame of the maximum.
    pub frame: u64,
    /// Sub-frame refinement from a parabola through the neighbours, -0.5..0.5.
    pub offset: f64,
    /// The score at the maximum, 0..1.
    pub score: f32,
    /// A higher peak within reach that this one scores too little beside
    /// to count on its score alone (the highest such): this one may be
    /// that peak's side lobe, and only a closer look at the audio can say
    /// ([`separate`](super::separate)). `None` for a peak that stands on
    /// its own.
    pub rival: Option<u64>,
    /// The highest frame within reach before this peak, when it scores
    /// higher: with [`Peak::higher_after`], says whether the peak sits
    /// between two stronger matches, as an occurrence buried in rapid
    /// repeats does.
    pub higher_before: Option<u64>,
    /// The highest frame within reach after this peak, when it scores
    /// higher.
    pub higher_after: Option<u64>,
    /// The higher of [`Peak::higher_before`] and [`Peak::higher_after`]:
    /// even a peak clear of that one's side lobes shares frames with it,
    /// and counts only if two occurrences explain them at least as well
    /// as that one alone ([`separate`](super::separate)). A partial match
    /// of a varied or resampled repeat can rise above the template's own
    /// side lobe.
    pub higher: Option<u64>,
    /// The first frame within reach after this peak that is a peak by the
    /// threshold and the gap alone: where another occurrence may begin
    /// while this one still sounds, so the fine check leaves out the cells
    /// its onset covers
    /// ([`FineCheck::score_before`](super::fine::FineCheck::score_before)).
    /// However low it scores: in repeats that overlap, the next one's
    /// peak is cut down by this one's tail, and its fresh attack still
    /// sits in this one's window. Where it is only a side lobe, the cells
    /// left out are ones a side lobe's copy would be louder in, and the
    /// check compares what is left.
    pub next: Option<u64>,
    /// The highest other local maximum within the gap, outside the fine
    /// check's onset search: where the occurrence may begin instead when
    /// this peak's onset fails the fine check. Music's or babble's onset
    /// a few tens of milliseconds from a repeat's can outscore the repeat
    /// in the correlation and take the bump, and the gap then leaves the
    /// repeat's own maximum no peak of its own. `None` where the picker
    /// names no alternates ([`PeakPicker::with_alternates`]) or the bump
    /// has no other maximum.
    pub alternate: Option<Alternate>,
}

impl Peak {
    /// Where the maximum lies, in fractional frames.
    pub fn position(&self) -> f64 {
        self.frame as f64 + self.offset
    }
}

/// Another local maximum of the scores within a peak's gap
/// ([`Peak::alternate`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alternate {
    /// Frame of the maximum.
    pub frame: u64,
    /// Sub-frame refinement, as [`Peak::offset`].
    pub offset: f64,
    /// The score at the maximum.
    pub score: f32,
}

impl Alternate {
    /// Where the maximum lies, in fractional frames.
    pub fn position(&self) -> f64 {
        self.frame as f64 + self.offset
    }

    /// The peak this maximum stands for in place of the one that named
    /// it (followed by `next`, as that one was): the bump alone, with no
    /// neighbour to be asked about (the one it replaces was no
    /// occurrence) and no alternate of its own.
    pub fn as_peak(&self, next: Option<u64>) -> Peak {
        Peak {
            frame: self.frame,
            offset: self.offset,
            score: self.score,
            rival: None,
            higher_before: None,
            higher_after: None,
            higher: None,
            next,
            alternate: None,
        }
    }
}

/// A peak must score at least this share of every score within
/// [`DOMINANCE_REACH`] of it.
pub const DOMINANCE: f32 = 0.7;
/// How far above the template's own side lobe a peak must score, as a
/// share of the higher peak, to count as a match of its own: real side
/// lobes rise above the clean ones with noise and overlap. A peak under
/// it is not dropped but asked of the audio as a possible side lobe
/// ([`Peak::rival`]), so the margin only chooses which of the
/// separation's two questions a peak gets: on the real-sound corpus (30
/// cases per tier, found / false / missed, against tuning
/// 3,283 / 76 / 80 and held-out 3,843 / 36 / 109), 0.2 gave
/// 3,282 / 76 / 81 and 3,842 / 36 / 110, 0.4 gave the tuning sources'
/// counts and 3,842 / 38 / 110 held-out.
pub const SIDE_LOBE_MARGIN: f32 = 0.3;
/// With side lobes, a peak under this share of a higher one within reach
/// is always asked as a possible side lobe, however low the template's
/// own side lobe there. Measured on the real-sound corpus as above: 0.3
/// counts the same, 0.5 one held-out false event more.
pub const MIN_DOMINANCE: f32 = 0.4;

/// How far the dominance rule looks, as a share of the template's length:
/// far enough to cover a press-and-release pair's partial match (a double
/// click's second click can come 75 % of the way in; 0.7 missed those at
/// the fine resolution), while the side lobes leave true repeats at other
/// lags alone. On the real-sound corpus (30 cases per tier, found /
/// false / missed, against tuning 3,283 / 76 / 80 and held-out
/// 3,843 / 36 / 109): 0.75 gave 3,280 / 76 / 83 and 3,837 / 33 / 115,
/// 0.95 gave 3,283 / 77 / 80 and 3,842 / 36 / 110.
pub const DOMINANCE_REACH: f64 = 0.85;

/// Streaming peak picker.
#[derive(Debug)]
pub struct PeakPicker {
    threshold: f32,
    gap: usize,
    reach: usize,
    /// Scores from frame `window_start` on.
    window: VecDeque<f32>,
    window_start: u64,
    /// Per lag (frames, 0..=reach): how much of a true match's score the
    /// template's own side lobe reaches there; empty for the flat rule.
    side_lobes: Vec<f32>,
    /// The lags (frames, least and most) at which a peak names an
    /// [`Alternate`]; `None` names none.
    alternate_lags: Option<(u64, u64)>,
    /// Next frame to decide.
    next: u64,
    pushed: u64,
}

impl PeakPicker {
    /// A picker with a score threshold, a minimum gap (frames, at least 1)
    /// and the reach of the dominance rule (frames, at least the gap).
    pub fn new(threshold: f32, gap: usize, reach: usize) -> PeakPicker {
        let gap = gap.max(1);
        PeakPicker {
            threshold,
            gap,
            reach: reach.max(gap),
            window: VecDeque::new(),
            window_start: 0,
            side_lobes: Vec::new(),
            alternate_lags: None,
            next: 0,
            pushed: 0,
        }
    }

    /// Uses the template's own side lobes for the dominance rule: a peak at
    /// lag `L` from a higher one is a side lobe of it when it scores under
    /// `side_lobes[L] + SIDE_LOBE_MARGIN` of it (never under
    /// [`MIN_DOMINANCE`], never over 1). A press-and-release template has a
    /// strong side lobe at its release's lag and none elsewhere, so true
    /// repeats at other lags are kept however close.
    pub fn with_side_lobes(mut self, side_lobes: Vec<f32>) -> PeakPicker {
        self.side_lobes = side_lobes;
        self
    }

    /// How far (frames) from its peak an [`Alternate`] may lie: 0 where
    /// the picker names none.
    pub fn alternate_reach(&self) -> u64 {
        self.alternate_lags.map_or(0, |(_, most)| most)
    }

    /// Names each peak's [`Alternate`]: the highest other local maximum
    /// at least `min_lag` frames from it (nearer ones are onsets the fine
    /// check searches anyway) and within the gap and `max_lag` frames.
    pub fn with_alternates(mut self, min_lag: usize, max_lag: usize) -> PeakPicker {
        self.alternate_lags = Some((min_lag.max(1) as u64, max_lag.min(self.gap) as u64));
        self
    }

    /// The share of a higher peak's score at `lag` under which a peak is
    /// taken for its side lobe.
    fn dominance(&self, lag: u64) -> f32 {
        if self.side_lobes.is_empty() {
            return DOMINANCE;
        }
        let side = self.side_lobes.get(lag as usize).copied().unwrap_or(0.0);
        (side + SIDE_LOBE_MARGIN).clamp(MIN_DOMINANCE, 1.0)
    }

    /// Adds scores in frame order; appends the peaks now certain to `out`.
    pub fn push(&mut self, scores: &[f32], out: &mut Vec<Peak>) {
        for &score in scores {
            self.window.push_back(score);
            self.pushed += 1;
            while self.next + (self.reach as u64) < self.pushed {
                self.decide(out);
            }
        }
    }

    /// How far, in frames, a peak's rival can be from it.
    pub fn reach(&self) -> usize {
        self.reach
    }

    /// The first frame not decided yet: no peak before it can come.
    pub fn undecided(&self) -> u64 {
        self.next
    }

    /// No more scores: decides the frames still open.
    pub fn finish(&mut self, out: &mut Vec<Peak>) {
        while self.next < self.pushed {
            self.decide(out);
        }
    }

    fn score(&self, frame: u64) -> Option<f32> {
        frame
            .checked_sub(self.window_start)
            .and_then(|i| self.window.get(i as usize).copied())
    }

    fn decide(&mut self, out: &mut Vec<Peak>) {
        let t = self.next;
        self.next += 1;
        if let Some(peak) = self.peak_at(t) {
            out.push(peak);
        }
        // Keep `reach` frames of history behind the next frame to decide.
        while self.window_start + (self.reach as u64) < self.next {
            self.window.pop_front();
            self.window_start += 1;
        }
    }

    fn peak_at(&self, t: u64) -> Option<Peak> {
        let score = self.score(t)?;
        if !self.is_local_peak(t) {
            return None;
        }
        let reach = self.reach as u64;
        let rival = (t.saturating_sub(reach)..=t + reach)
            .filter_map(|u| self.score(u).map(|s| (u, s)))
            .filter(|&(u, s)| score < self.dominance(t.abs_diff(u)) * s)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(u, _)| u);
        let highest = |frames: std::ops::Range<u64>| {
            frames
                .filter_map(|u| self.score(u).map(|s| (u, s)))
                .filter(|&(_, s)| s > score)
                .max_by(|a, b| a.1.total_cmp(&b.1))
        };
        let before = highest(t.saturating_sub(reach)..t);
        let after = highest(t + 1..t + reach + 1);
        let higher = [before, after]
            .into_iter()
            .flatten()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(u, _)| u);
        let (higher_before, higher_after) = (before.map(|(u, _)| u), after.map(|(u, _)| u));
        let offset = self.offset_at(t, score);
        let next = (t + 1..t + reach + 1).find(|&u| self.is_local_peak(u));
        let alternate = self.alternate_lags.and_then(|(least, most)| {
            (t.saturating_sub(most)..=t + most)
                .filter(|&u| u.abs_diff(t) >= least)
                .filter_map(|u| {
                    let score = self.score(u)?;
                    let before = u.checked_sub(1).and_then(|v| self.score(v))?;
                    let after = self.score(u + 1)?;
                    (score >= self.threshold && score > before && score >= after)
                        .then_some((u, score))
                })
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(frame, score)| Alternate {
                    frame,
                    offset: self.offset_at(frame, score),
                    score,
                })
        });
        Some(Peak {
            frame: t,
            offset,
            score,
            rival,
            higher_before,
            higher_after,
            higher,
            next,
            alternate,
        })
    }

    /// Where between its neighbours the maximum at frame `t` lies: a
    /// parabola through the three scores, -0.5..0.5 frames.
    fn offset_at(&self, t: u64, score: f32) -> f64 {
        match (
            t.checked_sub(1).and_then(|u| self.score(u)),
            self.score(t + 1),
        ) {
            (Some(before), Some(after)) => {
                let curvature = f64::from(before) - 2.0 * f64::from(score) + f64::from(after);
                if curvature < 0.0 {
                    (0.5 * f64::from(before - after) / curvature).clamp(-0.5, 0.5)
                } else {
                    0.0
                }
            }
            _ => 0.0,
        }
    }

    /// Whether frame `u` reaches the threshold and no known frame within
    /// the gap scores higher (the earlier one winning a tie).
    fn is_local_peak(&self, u: u64) -> bool {
        let Some(score) = self.score(u) else {
            return false;
        };
        let gap = self.gap as u64;
        score >= self.threshold
            && !(u.saturating_sub(gap)..u).any(|v| self.score(v).is_some_and(|s| s >= score))
            && !(u + 1..=u + gap).any(|v| self.score(v).is_some_and(|s| s > score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(scores: &[f32], threshold: f32, gap: usize) -> Vec<u64> {
        let mut picker = PeakPicker::new(threshold, gap, gap);
        let mut out = Vec::new();
        picker.push(scores, &mut out);
        picker.finish(&mut out);
        frames(&out)
    }

    /// The frames of the peaks that stand on their own.
    fn frames(peaks: &[Peak]) -> Vec<u64> {
        peaks
            .iter()
            .filter(|p| p.rival.is_none())
            .map(|p| p.frame)
            .collect()
    }

    #[test]
    fn one_event_per_bump() {
        let scores = [0.0, 0.3, 0.7, 0.9, 0.7, 0.3, 0.0, 0.2, 0.8, 0.6, 0.1];
        assert_eq!(pick(&scores, 0.5, 2), vec![3, 8]);
    }

    #[test]
    fn plateaus_give_their_first_frame_and_gaps_suppress_neighbours() {
        assert_eq!(pick(&[0.0, 0.8, 0.8, 0.8, 0.0], 0.5, 2), vec![1]);
        assert_eq!(
            pick(&[0.6, 0.0, 0.9, 0.0, 0.0, 0.0, 0.6], 0.5, 2),
            vec![2, 6]
        );
        assert_eq!(pick(&[0.6, 0.0, 0.9, 0.0, 0.0, 0.0, 0.6], 0.5, 4), vec![2]);
    }

    #[test]
    fn partial_matches_next_to_a_true_one_are_dropped() {
        // A true match (0.9) with partial matches (0.45) a few frames away,
        // then a true repeat (0.85) close by: the repeat stays.
        let scores = [
            0.0, 0.45, 0.1, 0.0, 0.9, 0.1, 0.0, 0.45, 0.1, 0.85, 0.1, 0.0,
        ];
        let mut picker = PeakPicker::new(0.4, 1, 6);
        let mut out = Vec::new();
        picker.push(&scores, &mut out);
        picker.finish(&mut out);
        assert_eq!(frames(&out), vec![4, 9]);
        let rivals: Vec<_> = out.iter().filter_map(|p| p.rival).collect();
        assert_eq!(rivals, vec![4, 4], "both partial matches defer to frame 4");
    }

    #[test]
    fn a_peak_names_the_next_peak_within_reach() {
        // Peaks at 2 (0.7), 5 (0.5, lower), 7 (0.8) and 14 (0.9, out of
        // reach of 7); reach 6, gap 1.
        let scores = [
            0.0, 0.0, 0.7, 0.0, 0.0, 0.5, 0.0, 0.8, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0,
        ];
        let mut picker = PeakPicker::new(0.4, 1, 6);
        let mut out = Vec::new();
        picker.push(&scores, &mut out);
        picker.finish(&mut out);
        let next: Vec<_> = out.iter().map(|p| (p.frame, p.next)).collect();
        assert_eq!(
            next,
            vec![(2, Some(5)), (5, Some(7)), (7, None), (14, None)],
            "the lower peak at 5 is 2's next; 14 is out of 7's reach"
        );
    }

    #[test]
    fn side_lobes_drop_peaks_only_at_their_lags() {
        // A true match (0.9) and two lower peaks (0.6) 3 and 5 frames away;
        // the template has a side lobe of 0.5 at lag 3 only.
        let scores = [0.0, 0.0, 0.9, 0.0, 0.0, 0.6, 0.0, 0.6, 0.0, 0.0];
        let mut side_lobes = vec![0.0; 6];
        side_lobes[3] = 0.5;
        let mut picker = PeakPicker::new(0.4, 1, 5).with_side_lobes(side_lobes);
        let mut out = Vec::new();
        picker.push(&scores, &mut out);
        picker.finish(&mut out);
        // Lag 3: 0.6 < (0.5 + margin) x 0.9, a side lobe. Lag 5: kept.
        assert_eq!(frames(&out), vec![2, 7]);
        assert_eq!(out[1].rival, Some(2));
    }

    #[test]
    fn a_peak_knows_the_higher_peaks_on_either_side() {
        let scores = [0.0, 0.9, 0.0, 0.5, 0.0, 0.8, 0.0, 0.0, 0.0, 0.0];
        let mut picker = PeakPicker::new(0.4, 1, 2);
        let mut out = Vec::new();
        picker.push(&scores, &mut out);
        picker.finish(&mut out);
        let middle = out.iter().find(|p| p.frame == 3).expect("the middle peak");
        assert_eq!(
            (middle.higher_before, middle.higher_after),
            (Some(1), Some(5))
        );
        assert_eq!(middle.higher, Some(1), "0.9 before beats 0.8 after");
        let first = out.iter().find(|p| p.frame == 1).expect("the first peak");
        assert_eq!((first.higher_before, first.higher_after), (None, None));
        assert_eq!(first.higher, None);
        let last = out.iter().find(|p| p.frame == 5).expect("the last peak");
        assert_eq!(
            (last.higher_before, last.higher),
            (None, None),
            "frame 1 is out of reach"
        );
    }

    #[test]
    fn refinement_finds_the_true_maximum_of_a_parabola() {
        // Samples of 1 - (x - 3.3)^2 / 10 at integer x.
        let scores: Vec<f32> = (0..8)
            .map(|x| 1.0 - ((x as f32 - 3.3).powi(2)) / 10.0)
            .collect();
        let mut picker = PeakPicker::new(0.5, 2, 2);
        let mut out = Vec::new();
        picker.push(&scores, &mut out);
        picker.finish(&mut out);
        assert_eq!(out.len(), 1);
        assert!((out[0].frame as f64 + out[0].offset - 3.3).abs() < 1e-3);
    }

    #[test]
    fn decisions_wait_for_the_gap_and_no_longer() {
        let mut picker = PeakPicker::new(0.5, 3, 3);
        let mut out = Vec::new();
        picker.push(&[0.0, 0.9, 0.1, 0.1], &mut out);
        assert!(out.is_empty(), "frame 1 needs frames 2..=4");
        picker.push(&[0.1], &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn a_peak_names_the_highest_other_maximum_within_its_gap() {
        // One bump at frame 3, a lower maximum at 6 and a lesser one at 1,
        // both within the gap of 4; a maximum at 11 lies beyond it.
        let scores = [
            0.0, 0.5, 0.4, 0.9, 0.5, 0.6, 0.7, 0.3, 0.0, 0.0, 0.0, 0.8, 0.0, 0.0, 0.0, 0.0,
        ];
        let picked = |picker: PeakPicker| {
            let mut picker = picker;
            let mut out = Vec::new();
            picker.push(&scores, &mut out);
            picker.finish(&mut out);
            out
        };
        let out = picked(PeakPicker::new(0.3, 4, 4).with_alternates(2, 10));
        let first = out.iter().find(|p| p.frame == 3).expect("the bump's peak");
        let alternate = first.alternate.expect("frame 6 is another maximum");
        assert_eq!((alternate.frame, alternate.score), (6, 0.7));
        assert!(alternate.offset.abs() < 0.5);
        let last = out.iter().find(|p| p.frame == 11).expect("the far peak");
        assert_eq!(last.alternate, None, "frame 6 lies beyond the gap");

        // Maxima nearer than the least lag are the fine check's to search.
        let out = picked(PeakPicker::new(0.3, 4, 4).with_alternates(4, 10));
        assert_eq!(out[0].alternate, None);
        // Without alternates, a peak names none.
        let out = picked(PeakPicker::new(0.3, 4, 4));
        assert!(out.iter().all(|p| p.alternate.is_none()));
    }
}
