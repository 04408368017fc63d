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
//! Pearson correlation), the audio holds two occurrences; before saying
//! so, each model is taken at the best of the speeds a repeat may take,
//! so that a varied repeat's drift is not a second copy; the lower peak's
//! copy may also be heard through a telephone's band, which a repeat off
//! a phone call has lost the template's lowest and highest bands to. A
//! peak that stands clear of the side lobes is asked less: two
//! occurrences must fit at least as well as one ([`NEIGHBOUR_MARGIN`]),
//! which still drops a partial match that a varied repeat lifts above
//! the side lobe. There
//! the onsets (rises) are asked too ([`Separation::beside`]): a second
//! copy on the later frames of a sustained or ringing repeat (a piano
//! note held longer than the template's, a sound with a pulse repeated
//! inside it) explains some level that one copy leaves, but brings an
//! attack the audio does not hold.
//!
//! The same comparison finds occurrences buried in rapid repeats: one that
//! starts while the sounds before and after it still ring scores too low
//! for the threshold, however plainly it is there ([`Separation::buried`]).
//! There, the onsets (rises) are compared too: a reverberant tail adds
//! level where the one-occurrence model has none, but no new onset.
//!
//! Some occurrences in rapid repeats leave no score peak at all: their
//! sound is half covered by the ones around them. [`Separation::hidden`]
//! looks for them between two accepted occurrences with a joint model of
//! the stretch: band powers add, so the stretch should be a sum of copies
//! of the template, one per occurrence, each with its own gain. Fitted to
//! the known occurrences (non-negative least squares), the model leaves a
//! residual; where one more copy takes away a good share of it, at a gain
//! like its neighbours', the audio holds one more occurrence.

use std::cell::OnceCell;
use std::collections::VecDeque;

use super::correlate::{standardise, BandCorrelation};
use super::features::{OnsetChannels, BANDS};
use super::median;

/// How much better (in Pearson correlation over the pair's frames) two
/// occurrences must explain the audio than one, for the lower peak to
/// count. On the synthetic accuracy corpus (20 cases per tier) margins of
/// 0 to 0.1 all took rapid repeats' misses from 208 to 94-103 (0.05: 96),
/// and 0.03 and 0.08 were within one case of 0.05. Swept on the
/// real-sound corpus (30 cases per tier; held-out then tuning, found /
/// false events): 0 gave 3,846 / 58 and 3,270 / 89, 0.02
/// 3,846 / 52 and 3,270 / 87, 0.05 and 0.08 3,846 / 43 and 3,270 / 86,
/// 0.12 3,843 / 42 and 3,268 / 81: a lower margin lets a side lobe's
/// copy count and finds no repeat more. Swept again with the template's
/// ringing in the models: the tuning sources gave 3,269 / 85 at 0.03,
/// 0.05 and 0.08 alike (held-out 3,845 / 43, 40 and 39), so it stays.
/// Asking the onsets here too, as [`Separation::beside`] does, lost
/// rapid repeats whose attack lands on the last one's decay: held-out
/// 3,858 / 40 to 3,851 / 38 (rapid F1 0.925 to 0.920), tuning
/// 3,296 / 87 to 3,295 / 75; not done.
///
/// Swept again once the lower peak's copy may be heard through a
/// telephone's band (30 cases per tier, found / false / missed and exact
/// count, tuning then held-out): 0.03 3,282 / 80 / 81 (84.4 %) and
/// 3,842 / 43 / 110 (88.6 %); **0.05** 3,282 / 80 / 81 (84.4 %, F1
/// 0.976) and 3,842 / 37 / 110 (89.3 %); 0.08 the same on the tuning
/// sources and 3,842 / 35 / 110 held-out; 0.12 3,282 / 73 / 81 (84.7 %,
/// F1 0.977) and 3,840 / 35 / 112 (89.6 %); 0.15 3,280 / 68 / 83
/// (84.7 %) and 3,837 / 35 / 115 (89.6 %); 0.20 3,279 / 68 / 84 and
/// 3,830 / 34 / 122 (89.0 %). The tuning sources gain from 0.12 on
/// (side lobes of onsets in noise at 0 dB), but there a double click
/// repeated at its side lobe's lag is one occurrence
/// (`a_repeat_at_the_side_lobe_lag_is`), as is a ringing sound's repeat
/// (`a_sound_ringing_on_past_the_template_is_one_occurrence`), and the
/// synthetic corpus loses 3 rapid repeats: it stays.
pub const SEPARATION_MARGIN: f32 = 0.05;
/// The same for a peak clear of a higher neighbour's side lobes: two
/// occurrences must explain the pair's frames at least as well as the
/// neighbour alone. At 0 it still drops partial matches of a double click
/// that rise above the template's own side lobe; any margin above 0 cost
/// true rapid repeats (synthetic accuracy corpus, 20 cases per tier: 0 /
/// 0.02 / 0.05 gave 86.5 / 85.9 / 85.9 % exact, 87.0 / 85.9 / 85.9 % held
/// out). Under 0 (-0.02, -0.05) the real-sound corpus's held-out sources
/// found no repeat more and had 2-3 more false events (30 cases per
/// tier). With the template's ringing in the models, -0.02 found 2 more
/// tuning repeats and 1 more held-out false event; 0.02 left the tuning
/// sources as they were and lost 2 held-out repeats (1 false event
/// fewer).
///
/// The same margin holds for the mean of the level and onset gains
/// ([`Separation::beside`]). On the real-sound corpus (30 cases per tier,
/// found / false events) that took the held-out sources from 3,859 / 44
/// to 3,858 / 40 (exact count 81.5 to 82.5 %: a piano note's double
/// count 90 ms in, a chattering sound's pulse counted again 135 ms in, a
/// wall hit's ringing in white noise), the tuning sources from
/// 3,298 / 87 to 3,296 / 87 (exact count unchanged, 80.2 %), and left
/// the synthetic corpus's cases 0-19 as they were (on cases 20-39 one
/// key click of 184 in a rapid run fewer). The mean alone, without the
/// levels' own margin, also let music's note onsets lift a copy whose
/// levels fit worse (synthetic snr0 3 more false events; real held-out
/// 3,859 / 41, tuning 3,300 / 87); requiring each gain over the margin
/// lost 53 held-out repeats in rapid runs, where a copy's attack lands
/// on the last one's and shows little rise of its own. Swept again so:
/// -0.02 gave tuning 3,300 / 87 (80.8 %) and held-out 3,859 / 41
/// (82.1 %), 0.02 gave 3,296 / 87 (80.2 %) and 3,855 / 40 (82.5 %, F1
/// 0.976): the held-out sources keep 0.
pub const NEIGHBOUR_MARGIN: f32 = 0.0;
/// The same for an occurrence buried between two higher ones, on the mean
/// of the level and onset gains: higher, because a buried candidate has
/// not even passed the threshold (at 0.05, noise at 0 dB SNR let seven
/// more false events through). Swept again on the real-sound corpus (30
/// cases per tier, found / false / missed, tuning then held-out): 0.05
/// gave 3,271 / 87 / 92 and 3,822 / 38 / 130, **0.08** 3,271 / 85 / 92
/// and 3,820 / 38 / 132, 0.12 3,270 / 83 / 93 (exact count 81.5 to
/// 81.8 %) and 3,814 / 35 / 138 (86.7 to 86.4 %): the tuning sources'
/// F1 is 0.973-0.974 throughout and their exact count moves by one case,
/// so it stays.
pub const BURIED_MARGIN: f32 = 0.08;

/// How far apart (in template lengths) two accepted occurrences may be
/// for [`Separation::hidden`] to search the stretch between them.
pub const HIDDEN_SPAN: f64 = 4.0;
/// The search runs inside a run of repeats only: the interval before the
/// stretch must be at most this many template lengths, or
/// [`HIDDEN_RUN_S`]. Music's note onsets, matched now and then at 0 dB
/// SNR, are no such run. On the synthetic accuracy corpus (20 cases per
/// tier), without this rule a few stretches between them were "explained"
/// by more copies (snr0 false events 27 to 33; 88.6 % exact against 89.2 %
/// on the tuning and held-out cases alike), and at 1 template length the
/// first gap of every run went unsearched (held out 88.1 %).
pub const HIDDEN_RUN: f64 = 2.0;
/// The same rule in seconds, for short sounds: key clicks and slaps of
/// 30-60 ms typed or struck five times a second are a run too, though
/// their repeats lie three or four template lengths apart. With two
/// template lengths alone, a click hidden in such a run was never looked
/// for: on the synthetic accuracy corpus (100 cases per tier) 0.2 s took
/// rapid from 57 to 64 % exact on cases 100–199 and from 62 to 63 % on
/// cases 0–99, no other tier moving; 0.15 and 0.3 s gave the same counts.
///
/// On the real-sound corpus (30 cases per tier, found / false events),
/// the search pays for itself on both splits: without it, tuning
/// 3,261 / 77 and held-out 3,836 / 32, against 3,269 / 85 and
/// 3,845 / 40 with it.
///
/// Each hidden occurrence is then held to the fine check's floor, as
/// every candidate is ([`Tuning::fine_min`](super::decide::Tuning::fine_min)):
/// the joint model fits band powers, and a copy that takes a share of a
/// stretch's residual may be another sound. On the real-sound corpus
/// (found / false / missed and exact count, tuning then held-out), 30
/// cases per tier: 3,282 / 80 / 81 (84.4 %) to 3,282 / 76 / 81 (85.7 %,
/// F1 0.977) and 3,842 / 37 / 110 (89.3 %) to 3,840 / 35 / 112 (89.6 %,
/// F1 0.981 either way); 60 cases per tier: 85.4 to 86.5 % (157 false
/// events to 150) and 88.1 to 88.9 % (7,536 / 92 / 203 to
/// 7,533 / 85 / 206). The synthetic corpus finds 2 repeats fewer in
/// cases 0-19 (89.2 to 88.6 % exact) and 1 fewer in 20-39 (89.2 %
/// either way). Scored without the earlier occurrence's cells where
/// that helps, as a candidate is, rather than with the next one's
/// left out alone: the real sounds count the same, the synthetic ones
/// 1 and 2 repeats more.
/// Measured before the separation heard the telephone's band, the
/// held-out sources did not tell it better.
pub const HIDDEN_RUN_S: f64 = 0.2;
/// The share of the known occurrences' residual one more copy must take
/// away to count. Swept with [`HIDDEN_GAIN`] on the synthetic accuracy
/// corpus (20 cases per tier): 5, 10 and 20 % against gains of 0.3, 0.5
/// and 0.7 gave 87.0–88.6 % exact, best at 20 % and 0.3. Swept again on
/// the real-sound corpus once hidden occurrences were held to the fine
/// floor (30 cases per tier, found / false / missed, against tuning
/// 3,283 / 76 / 80 and held-out 3,843 / 36 / 109): 10 % gave
/// 3,284 / 77 / 79 (85.4 % exact against 85.7 %) and 3,848 / 37 / 104
/// (89.6 % against 89.9 %, F1 0.982 against 0.981); 30 % gave
/// 3,282 / 75 / 81 on the tuning sources. The gains 0.2 and 0.45, a run
/// of 3 template lengths ([`HIDDEN_RUN`]) and stretches of 6
/// ([`HIDDEN_SPAN`]) moved the tuning sources by at most one event.
/// Few repeats on the real sounds hide without a peak of their own.
pub const HIDDEN_IMPROVEMENT: f32 = 0.2;
/// A hidden occurrence's gain must be at least this share of the median
/// gain of the known ones in its stretch: rapid repeats vary by a few dB,
/// a partial fit to a neighbour's tail is far weaker.
pub const HIDDEN_GAIN: f32 = 0.3;
/// Most hidden occurrences one stretch may hold (repeats a third of the
/// template apart fill four template lengths with eleven).
const MAX_HIDDEN: usize = 11;
/// The search for one more copy takes each frame's dot product directly
/// while the frames to try times the template's frames stay within this
/// many times a transform's length times its log (the butterflies per
/// band of one FFT, roughly): short templates between close repeats (a
/// key click every 0.12 s: some 40 frames of 19) need far fewer products
/// than the 41 transforms of the FFT search, long ones far more. At 1 the
/// rule is the plain count of multiplications either way; the dense hour
/// (a 19-frame click, stretches of some 50 frames) searches directly, a
/// 1 s template in rapid repeats by FFT.
const DIRECT_SEARCH_SHARE: usize = 1;
/// Coordinate-descent sweeps of the least-squares fit: a handful of
/// columns that overlap in part converge in far fewer.
const FIT_SWEEPS: usize = 40;

/// Keeps the recent features and compares the models.
pub struct Separation {
    /// The template's level features (not standardised), `frames × BANDS`,
    /// followed by the capture's ringing after it (up to as many frames
    /// again; [`Separation::new`]): first at its own speed, then at each
    /// other speed a repeat may take
    /// ([`SPEEDS`](super::fine::SPEEDS)). A repeat a few percent faster or
    /// slower than the template is still one occurrence. Compared at the
    /// template's own speed only, a varied repeat's misfit was explained by
    /// a second copy a few frames later, and counted twice.
    template_speeds: Vec<Vec<f32>>,
    /// The template's level features with its ringing, at its own speed,
    /// heard through a telephone's band
    /// ([`phone_band_gain`](super::fine::phone_band_gain) at each band's
    /// centre): the lower peak's copy may take it in the two-occurrence
    /// model. A repeat heard through a phone call has
    /// lost the bands outside 300-3400 Hz, where the template's full copy
    /// puts level the audio lacks, and a repeat quieter than the last
    /// one's tail there was taken for its side lobe.
    ///
    /// On the real-sound corpus (30 cases per tier, found / false /
    /// missed, tuning then held-out): 3,275 / 80 / 88 (83.1 %) to
    /// 3,282 / 80 / 81 (84.4 %, F1 0.976) and 3,833 / 36 / 119 (88.3 %)
    /// to 3,840 / 37 / 112 (89.0 %, F1 0.981; rapid exact count 40.0 to
    /// 46.7 %, F1 0.936 to 0.940); with 12 cases per tier tuning 82.9 to
    /// 86.2 % and held-out 89.4 % either way (3 repeats more). The
    /// synthetic corpus counted a ring in music at 0 dB once too often
    /// (cases 0-19, 6,310 / 20 / 38 to 6,310 / 21 / 38; cases 20-39
    /// unchanged). The higher peak's copy stays whole: letting it (and
    /// the one-occurrence model) take the band as well gave
    /// 3,281 / 80 / 82 (84.1 %) and 3,838 / 38 / 114 (88.6 %).
    band_template: Vec<f32>,
    /// The template's onset strengths, the same way.
    template_onsets: Vec<f32>,
    /// The onset strengths of `band_template`'s template frames: the
    /// lower peak's copy may take them in the two-occurrence model of the onsets
    /// as it does in the levels'. On the real-sound corpus (30 cases per
    /// tier) that found 2 held-out repeats more (3,840 / 37 / 112 to
    /// 3,842 / 37 / 110, exact count 89.0 to 89.3 %, rapid F1 0.940 to
    /// 0.941; 12 cases: 1 more) and left the tuning sources and the
    /// synthetic corpus as they were.
    band_onsets: Vec<f32>,
    /// The template's band powers over the floor, for the joint model
    /// ([`linear`] of its level features).
    template_power: Vec<f32>,
    /// The squared norm of `template_power`: a whole copy's, in the joint
    /// model.
    template_norm: f32,
    /// The squared norms of the template's first frames, by how many
    /// (filled as asked for): a copy that runs past a stretch's end, as
    /// most copies the search for one more tries do.
    head_norms: Vec<OnceCell<f32>>,
    frames: usize,
    /// The searches for one more copy made so far, one per transform
    /// length: planning one and transforming the template's 40 bands cost
    /// more than a search, and a recording's stretches need only a few
    /// lengths (from the shortest stretch to four template lengths and
    /// more: three powers of two at most).
    searches: Vec<CopySearch>,
    /// Level features from frame `start` on, frame-major.
    recent: VecDeque<f32>,
    /// Onset strengths of the same frames.
    recent_onsets: VecDeque<f32>,
    start: u64,
}

impl Separation {
    /// A test for `template`: its level features, `frames × BANDS`, on the
    /// same scale as the recording's, and what the capture shows after it
    /// as the sound rings on (`ringing`, frames of the same features; may
    /// be empty). Each copy in the models is followed by the ringing, as
    /// an occurrence in a recording is.
    pub fn new(template: Vec<f32>, ringing: &[f32], centres_hz: &[f32]) -> Separation {
        let frames = template.len() / BANDS;
        let with_ringing: Vec<f32> = template.iter().chain(ringing).copied().collect();
        let band_gains: Vec<f32> = (0..BANDS)
            .map(|b| {
                centres_hz
                    .get(b)
                    .map_or(1.0, |&hz| super::fine::phone_band_gain(hz))
            })
            .collect();
        let band_template = with_ringing
            .chunks_exact(BANDS)
            .flat_map(|frame| {
                frame
                    .iter()
                    .zip(&band_gains)
                    .map(|(&level, &gain)| (gain * linear(level)).ln_1p())
            })
            .collect::<Vec<f32>>();
        let mut band_onsets = Vec::with_capacity(template.len());
        OnsetChannels::default().extend(&band_template[..template.len()], &mut band_onsets);
        let mut template_onsets = Vec::with_capacity(template.len());
        OnsetChannels::default().extend(&template, &mut template_onsets);
        let template_power: Vec<f32> = template.iter().map(|&v| linear(v)).collect();
        let others = super::fine::SPEEDS.iter().filter(|&&speed| speed != 1.0);
        let template_speeds = others
            .map(|&speed| stretched(&with_ringing, speed))
            .collect::<Vec<_>>();
        Separation {
            template_speeds: std::iter::once(with_ringing)
                .chain(template_speeds)
                .collect(),
            band_onsets,
            band_template,
            template_onsets,
            template_norm: sum_of_squares(&template_power),
            head_norms: vec![OnceCell::new(); frames + 1],
            template_power,
            frames,
            searches: Vec::new(),
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

    /// Whether occurrences at both `candidate` and `rival`, a higher peak
    /// whose side lobe `candidate` may be, explain the recording's levels
    /// better by [`SEPARATION_MARGIN`] than one at `rival` alone. `None`
    /// if the frames are gone or not in yet.
    pub fn both(&self, candidate: u64, rival: u64) -> Option<bool> {
        Some(self.level_gain(candidate, rival, SEPARATION_MARGIN)? > SEPARATION_MARGIN)
    }

    /// Whether an occurrence at `candidate`, beside a higher peak at
    /// `higher` but clear of its side lobes, explains the recording at
    /// least as well ([`NEIGHBOUR_MARGIN`]) as `higher` alone: in its
    /// levels, and on the mean of its levels and onsets. A new occurrence
    /// brings its own onset; the later frames of a sustained or ringing
    /// sound that one copy explains too little of (a varied repeat's
    /// longer decay, a room's tail) add level but no onset, and a copy
    /// placed on them fits the onsets worse than the one occurrence
    /// alone. `None` if the frames are gone or not in yet.
    ///
    /// A room's tail can still pass on the mean: a 0.1 s chirp
    /// (lbreakout2/expand) heard in a room counted again 55 ms on, its
    /// level gain 0.26-0.39 outweighing an onset gain of -0.14 to -0.19.
    /// Asking the onset's gain on its own as well (over 0 or over -0.1)
    /// lost true repeats whose attack lands on the last one's decay: on
    /// the real-sound corpus (30 cases per tier, found / false / missed,
    /// against tuning 3,283 / 76 / 80 and held-out 3,843 / 36 / 109),
    /// over 0 gave 3,233 / 73 / 130 and 3,786 / 28 / 166, over -0.1
    /// 3,272 / 75 / 91 (84.4 % exact against 85.7 %) and 3,834 / 34 / 118
    /// (89.6 % against 89.9 %). Nor is the template heard in a room
    /// ([`ROOM_RT60_S`](super::fine::ROOM_RT60_S), as the fine check
    /// hears it) one more variant of the models: in every model,
    /// 3,273 / 74 / 90 and 3,826 / 29 / 126; here only, 3,275 / 74 / 88
    /// and 3,836 / 33 / 116 (a room's tail explains a close repeat's
    /// level as well as a room's own).
    pub fn beside(&self, candidate: u64, higher: u64) -> Option<bool> {
        let onset = self.onset_gain(candidate, higher)?;
        let level = self.level_gain(
            candidate,
            higher,
            NEIGHBOUR_MARGIN.max(2.0 * NEIGHBOUR_MARGIN - onset),
        )?;
        Some(level > NEIGHBOUR_MARGIN && 0.5 * (level + onset) > NEIGHBOUR_MARGIN)
    }

    /// Whether an occurrence at `candidate`, between higher peaks at
    /// `before` and `after`, explains the recording better (by
    /// [`BURIED_MARGIN`], on the mean of levels and onsets) than either
    /// neighbour alone does. `None` if the frames are gone or not in yet.
    ///
    /// Any candidate the peak picker proposes may be asked (it proposes
    /// from the adaptive threshold's floor,
    /// [`MIN_THRESHOLD`](super::threshold::MIN_THRESHOLD)): the floor of
    /// its own it had, 0.25 (the threshold's floor when it was tuned),
    /// kept out buried repeats that rapid runs press under it. On the
    /// real-sound corpus (30 cases per tier, found / false / missed),
    /// without it: held-out 3,817 / 36 / 135 to 3,820 / 38 / 132 (exact
    /// count 86.4 to 86.7 %, rapid F1 0.927 to 0.928), tuning
    /// 3,266 / 84 / 97 to 3,271 / 85 / 92 (81.5 % either way, F1 0.973
    /// to 0.974); the synthetic corpus one repeat more in cases 0-19 and
    /// in 20-39. At 0.22, held-out 3,819 / 38 and tuning 3,268 / 85.
    pub fn buried(&self, candidate: u64, before: u64, after: u64) -> Option<bool> {
        let clear = |neighbour| {
            let onset = self.onset_gain(candidate, neighbour)?;
            let level = self.level_gain(candidate, neighbour, 2.0 * BURIED_MARGIN - onset)?;
            Some(0.5 * (level + onset) > BURIED_MARGIN)
        };
        Some(clear(before)? && clear(after)?)
    }

    /// How much better the template's onset strengths at `candidate` and
    /// `neighbour` fit the recording's than at `neighbour` alone (the
    /// candidate's copy also through a telephone's band).
    fn onset_gain(&self, candidate: u64, neighbour: u64) -> Option<f32> {
        self.gain(
            &self.recent_onsets,
            std::slice::from_ref(&self.template_onsets),
            &self.band_onsets,
            candidate,
            neighbour,
        )
    }

    /// How much better the template's levels at `candidate` and `rival`
    /// fit the recording than at `rival` alone, at the best of the speeds a
    /// repeat may take. Where the template's own speed shows no more than
    /// `more_than`, that is the answer: the other speeds are asked only to
    /// confirm two occurrences (they cost a fit each, and the dense hour's
    /// clicks ask for thousands a minute).
    fn level_gain(&self, candidate: u64, rival: u64, more_than: f32) -> Option<f32> {
        let band = &self.band_template;
        let own = self.gain(
            &self.recent,
            &self.template_speeds[..1],
            band,
            candidate,
            rival,
        )?;
        if own <= more_than {
            return Some(own);
        }
        self.gain(&self.recent, &self.template_speeds, band, candidate, rival)
    }

    /// How much better the template at `candidate` and `rival` fits
    /// `recent` than at `rival` alone (Pearson over the frames they cover),
    /// each model at the best of the template's `variants`, and the
    /// two-occurrence model also with `band`, the template through a
    /// telephone's band, at `candidate` (beside the first variant at
    /// `rival`). Both copies
    /// stand at the template's own level: letting the candidate's copy
    /// take the best of -6 to +6 dB (real repeats vary that much) gave
    /// the real-sound corpus's held-out sources 1 repeat more and 11
    /// false events more (30 cases per tier), since a side lobe's copy
    /// at a lower level fits a little too. Nor at its measured loudness
    /// against the higher peak's ([`Loudness::of`](super::loudness::Loudness::of),
    /// at most 1, in [`Separation::beside`]), which is no fit: a key
    /// press 8 dB under the next one fits the levels worse as loud as it
    /// (level gain -0.05, onset gain 0.41). The tuning sources (30 cases
    /// per tier) found 4 more repeats with no false event more
    /// (3,271 / 85 / 92 to 3,275 / 85 / 88, exact count 81.5 to 82.1 %),
    /// but the held-out ones 2 more repeats for 2 more false events (a
    /// wall hit in white noise, whose copies before a louder one bring
    /// onset gains of 0.01-0.02), their exact count 86.7 to 86.4 % (12
    /// cases: 86.2 to 85.4 %; 60 cases: 85.7 to 85.5 %, F1 0.977 either
    /// way), the synthetic corpus unchanged.
    fn gain(
        &self,
        recent: &VecDeque<f32>,
        variants: &[Vec<f32>],
        band: &[f32],
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
        // Pearson of each model with the audio, the audio standardised
        // once for both; flat audio favours neither model.
        let Some(observed) = standardise(&observed) else {
            return Some(0.0);
        };
        let fit = |model: &[f32]| {
            standardise(model).map_or(0.0, |m| observed.iter().zip(&m).map(|(a, b)| a * b).sum())
        };
        let (mut one_fit, mut two_fit) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
        for (i, template) in variants.iter().enumerate() {
            let mut one = vec![0.0f32; span * BANDS];
            place(template, &mut one, (rival - first) as usize);
            if i == 0 {
                // The rival's own copy, with the candidate's through the band.
                let mut banded = one.clone();
                place(band, &mut banded, (candidate - first) as usize);
                two_fit = two_fit.max(fit(&banded));
            }
            let mut two = one.clone();
            place(template, &mut two, (candidate - first) as usize);
            one_fit = one_fit.max(fit(&one));
            two_fit = two_fit.max(fit(&two));
        }
        Some(two_fit - one_fit)
    }
}

impl Separation {
    /// The correlation score an exact repeat reaches at its own onset
    /// while the copy of an occurrence begun `lag` frames before it (with
    /// the capture's ringing) still sounds over it, both at the
    /// template's level and combined by the louder band, as the models of
    /// [`Separation::both`] combine them: the share of a score of 1 that
    /// the overlap alone leaves. 1 where the earlier copy has ended.
    pub fn score_under_earlier(&self, lag: u64) -> f32 {
        let span = self.frames * BANDS;
        let with_ringing = &self.template_speeds[0];
        let Some(tail) = with_ringing
            .get(lag as usize * BANDS..)
            .filter(|t| !t.is_empty())
        else {
            return 1.0;
        };
        let mut model = vec![0.0f32; span];
        for (m, &t) in model.iter_mut().zip(tail) {
            *m = t;
        }
        place(&with_ringing[..span], &mut model, 0);
        let (Some(template), Some(model)) =
            (standardise(&with_ringing[..span]), standardise(&model))
        else {
            return 1.0;
        };
        let score: f32 = template.iter().zip(&model).map(|(a, b)| a * b).sum();
        score.clamp(0.0, 1.0)
    }

    /// Occurrences hidden between accepted ones at frames `after` and
    /// `before` (`after < before`): frames where one more copy of the
    /// template explains the stretch's band powers clearly better
    /// ([`HIDDEN_IMPROVEMENT`], [`HIDDEN_GAIN`]) than the `known`
    /// occurrences (every accepted one near the stretch, `before`
    /// included) do, found one at a time, best first, at least `gap`
    /// frames from any other. In frame order; empty when there is none,
    /// or when the frames are gone or not in yet (the counter keeps
    /// them, so that does not happen there).
    ///
    /// The best copy is looked for over every frame between `after` and
    /// `before`, and where it lands within `gap` of a known occurrence
    /// the search ends: what is left is that occurrence's misfit. A
    /// sustained note (lomiri/Rhodes, sound-icons/cembalo-11) played a
    /// little longer than the template leaves level on its later frames,
    /// and with the search held `gap` away from the known copies, one
    /// more copy was placed right at that edge, 50-70 ms after a found
    /// note, and counted. On the real-sound corpus (30 cases per tier,
    /// found / false / missed): held-out 3,818 / 40 / 134 to 3,817 / 36 /
    /// 135 (exact count 86.0 to 86.4 %, rapid F1 0.925 to 0.927), tuning
    /// 3,267 / 86 / 96 to 3,266 / 84 / 97 (81.8 to 81.5 %); the
    /// synthetic corpus's cases 0-19 and 20-39 one repeat fewer each
    /// (and one false event fewer in 20-39).
    ///
    /// The stretch runs from `after` to `gap` frames past `before`: far
    /// enough to see `before`'s onset, not so far that an occurrence
    /// after it, not known yet, spoils the fit.
    pub fn hidden(&mut self, known: &[u64], after: u64, before: u64, gap: u64) -> Vec<u64> {
        let gap = gap.max(1);
        let end = before + gap;
        let Some(offset) = after.checked_sub(self.start) else {
            return Vec::new();
        };
        let (offset, span) = (offset as usize, (end - after) as usize);
        if (offset + span) * BANDS > self.recent.len() {
            return Vec::new();
        }
        let observed: Vec<f32> = self
            .recent
            .range(offset * BANDS..(offset + span) * BANDS)
            .map(|&v| linear(v))
            .collect();
        let model = JointModel {
            template: &self.template_power,
            template_norm: self.template_norm,
            head_norms: &self.head_norms,
            frames: self.frames as i64,
            span: span as i64,
        };
        // Each occurrence as the frame its copy starts at, from the
        // stretch's first frame (negative: begun before it).
        let relative = |frame: u64| frame as i64 - after as i64;
        let mut occurrences: Vec<i64> = known
            .iter()
            .map(|&k| relative(k))
            .filter(|&k| k + model.frames > 0 && k < model.span)
            .collect();
        let fft_len = CopySearch::fft_len_for(self.frames, span);
        let mut found = Vec::new();
        // The fit of the occurrences so far; each one found brings its own.
        let (mut gains, mut residual) = model.fit(&occurrences, &observed);
        while found.len() < MAX_HIDDEN {
            let unexplained = sum_of_squares(&residual);
            if unexplained <= 0.0 {
                break;
            }
            // The frame where one more copy takes away the most residual:
            // each frame's dot product directly where there are few frames
            // to try and the template is short, else all at once by FFT.
            let tries: Vec<i64> = (after + 1..before)
                .map(relative)
                .filter(|&x| !occurrences.contains(&x))
                .collect();
            let direct = tries.len() * self.frames
                <= DIRECT_SEARCH_SHARE * fft_len * fft_len.ilog2() as usize;
            let along_all = (!direct).then(|| {
                CopySearch::of_length(&mut self.searches, &self.template_power, fft_len)
                    .along(&residual, span)
            });
            let best = tries
                .into_iter()
                .filter_map(|x| {
                    let along = match &along_all {
                        Some(along) => along[x as usize],
                        None => model.dot(x, &residual),
                    };
                    let norm = model.norm(x);
                    (along > 0.0 && norm > 0.0).then(|| (x, along * along / norm))
                })
                .max_by(|a, b| a.1.total_cmp(&b.1));
            let Some((x, _)) = best else { break };
            // Where the residual is best explained by a copy closer to a
            // known occurrence than two occurrences may be, it is that
            // occurrence's misfit (a note held longer than the template,
            // a varied repeat's decay), not one more: the search ends.
            if occurrences.iter().any(|&k| k.abs_diff(x) < gap) {
                break;
            }
            occurrences.push(x);
            // From the fit so far, the new copy at no gain: the known
            // copies' gains move little, and the fit needs fewer sweeps.
            let mut start = gains.clone();
            start.push(0.0);
            let (with_gains, with_residual) = model.fit_from(&occurrences, start, residual.clone());
            let improvement = (unexplained - sum_of_squares(&with_residual)) / unexplained;
            let gain = with_gains.last().copied().unwrap_or(0.0);
            if improvement <= HIDDEN_IMPROVEMENT
                || gain < HIDDEN_GAIN * median(gains).unwrap_or(0.0)
            {
                break;
            }
            found.push(after + x as u64);
            (gains, residual) = (with_gains, with_residual);
        }
        found.sort_unstable();
        found
    }
}

/// The band powers of a stretch of frames as a sum of gained copies of
/// the template, each starting at its own frame (relative to the
/// stretch; copies are clipped to it).
struct JointModel<'a> {
    /// Template band powers, `frames × BANDS`.
    template: &'a [f32],
    /// Their squared norm.
    template_norm: f32,
    /// The squared norms of the template's first frames, by how many
    /// ([`Separation`]'s, filled as asked for).
    head_norms: &'a [OnceCell<f32>],
    frames: i64,
    /// Frames in the stretch.
    span: i64,
}

impl JointModel<'_> {
    /// The template frames of a copy at `at` that fall in the stretch, as
    /// (template frame, stretch frame) ranges.
    fn overlap(&self, at: i64) -> (std::ops::Range<usize>, usize) {
        let first = (-at).clamp(0, self.frames);
        let last = (self.span - at).clamp(first, self.frames);
        (
            (first as usize..last as usize),
            (at + first).max(0) as usize,
        )
    }

    /// The copy at `at` (gain 1) dotted with `signal`, the stretch's size.
    fn dot(&self, at: i64, signal: &[f32]) -> f32 {
        let (frames, into) = self.overlap(at);
        let len = frames.len() * BANDS;
        lane_dot(
            &self.template[frames.start * BANDS..][..len],
            &signal[into * BANDS..][..len],
        )
    }

    /// The copy at `at`'s squared norm within the stretch.
    fn norm(&self, at: i64) -> f32 {
        let (frames, _) = self.overlap(at);
        if frames.len() == self.frames as usize {
            return self.template_norm;
        }
        let squares = || sum_of_squares(&self.template[frames.start * BANDS..frames.end * BANDS]);
        if frames.start == 0 {
            *self.head_norms[frames.end].get_or_init(squares)
        } else {
            squares()
        }
    }

    /// Takes `gain` times the copy at `at` away from `signal`.
    fn subtract(&self, at: i64, gain: f32, signal: &mut [f32]) {
        let (frames, into) = self.overlap(at);
        let len = frames.len() * BANDS;
        for (s, t) in signal[into * BANDS..][..len]
            .iter_mut()
            .zip(&self.template[frames.start * BANDS..][..len])
        {
            *s -= gain * t;
        }
    }

    /// Non-negative gains of copies at `occurrences` that best explain
    /// `observed` (least squares, by coordinate descent), and the
    /// residual they leave.
    fn fit(&self, occurrences: &[i64], observed: &[f32]) -> (Vec<f32>, Vec<f32>) {
        self.fit_from(
            occurrences,
            vec![0.0f32; occurrences.len()],
            observed.to_vec(),
        )
    }

    /// [`JointModel::fit`] from `gains` (one per occurrence, not
    /// negative) and the `residual` they leave.
    fn fit_from(
        &self,
        occurrences: &[i64],
        mut gains: Vec<f32>,
        mut residual: Vec<f32>,
    ) -> (Vec<f32>, Vec<f32>) {
        let norms: Vec<f32> = occurrences.iter().map(|&at| self.norm(at)).collect();
        // The sweeps run on the copies' dot products with the residual
        // and with one another, a few numbers per copy: a gain that moves
        // by `delta` takes `delta` times its copy's product with each copy
        // from that copy's dot with the residual. The residual itself is
        // brought up to date once, at the end.
        let count = occurrences.len();
        let mut along: Vec<f32> = occurrences
            .iter()
            .map(|&at| self.dot(at, &residual))
            .collect();
        let mut products = vec![0.0f32; count * count];
        for i in 0..count {
            products[i * count + i] = norms[i];
            for j in 0..i {
                let product = self.cross(occurrences[i], occurrences[j]);
                products[i * count + j] = product;
                products[j * count + i] = product;
            }
        }
        let start = gains.clone();
        for _ in 0..FIT_SWEEPS {
            let mut moved = false;
            for i in 0..count {
                if norms[i] <= 0.0 {
                    continue;
                }
                let new = (gains[i] + along[i] / norms[i]).max(0.0);
                if new != gains[i] {
                    let delta = new - gains[i];
                    for (a, &product) in along.iter_mut().zip(&products[i * count..][..count]) {
                        *a -= delta * product;
                    }
                    gains[i] = new;
                    moved = true;
                }
            }
            // A sweep that moved no gain left every dot as it was, so
            // every later sweep would repeat it exactly: the fit is done.
            if !moved {
                break;
            }
        }
        for ((&at, &gain), &before) in occurrences.iter().zip(&gains).zip(&start) {
            if gain != before {
                self.subtract(at, gain - before, &mut residual);
            }
        }
        (gains, residual)
    }

    /// The copies at `a` and `b` (gain 1) dotted with each other within
    /// the stretch.
    fn cross(&self, a: i64, b: i64) -> f32 {
        let first = a.max(b).max(0);
        let end = (a.min(b) + self.frames).min(self.span);
        if end <= first {
            return 0.0;
        }
        let len = (end - first) as usize * BANDS;
        lane_dot(
            &self.template[(first - a) as usize * BANDS..][..len],
            &self.template[(first - b) as usize * BANDS..][..len],
        )
    }
}

/// How well a copy of the template at each frame of a stretch lines up
/// with a residual (their dot product), for every frame at once: one
/// [`BandCorrelation`]. Direct dot products cost the template's length per
/// frame, which for a long template over a stretch four times its length
/// is millions of products per search (for a short one, fewer than the
/// transforms: [`DIRECT_SEARCH_SHARE`]).
struct CopySearch {
    correlation: BandCorrelation,
}

impl CopySearch {
    /// The transform length a search over stretches of `span` frames for
    /// a template of `frames` frames needs: long enough that no product
    /// wraps round (copies start in the stretch and the residual is zero
    /// past it).
    fn fft_len_for(frames: usize, span: usize) -> usize {
        (span + frames).next_power_of_two()
    }

    /// A search for copies of `template` (band powers, `frames × BANDS`)
    /// with transforms of `fft_len` ([`CopySearch::fft_len_for`]).
    fn new(template: &[f32], fft_len: usize) -> CopySearch {
        CopySearch {
            correlation: BandCorrelation::new(template, fft_len),
        }
    }

    /// The search in `searches` with transforms of `fft_len`, made and
    /// kept there if none has it yet.
    fn of_length<'s>(
        searches: &'s mut Vec<CopySearch>,
        template: &[f32],
        fft_len: usize,
    ) -> &'s mut CopySearch {
        match searches.iter().position(|s| s.fft_len() == fft_len) {
            Some(i) => &mut searches[i],
            None => {
                searches.push(CopySearch::new(template, fft_len));
                let last = searches.len() - 1;
                &mut searches[last]
            }
        }
    }

    /// Its transform length ([`CopySearch::fft_len_for`]).
    fn fft_len(&self) -> usize {
        self.correlation.fft_len()
    }

    /// For each frame `x` of a stretch of `span` frames, the dot product
    /// of a copy starting there (clipped to the stretch) with `residual`
    /// (`span × BANDS`).
    fn along(&mut self, residual: &[f32], span: usize) -> Vec<f32> {
        let scale = 1.0 / self.correlation.fft_len() as f32;
        self.correlation.correlate(residual)[..span]
            .iter()
            .map(|v| v * scale)
            .collect()
    }
}

/// A band's power over its floor from its level feature (the inverse of
/// [`feature`](super::features::feature), up to the floor's margin):
/// where powers add, as the joint model needs, log levels do not.
fn linear(level: f32) -> f32 {
    level.exp() - 1.0
}

/// Partial sums [`lane_dot`] keeps side by side: as many as two AVX
/// registers hold, so that the additions overlap rather than wait on one
/// another. A fit computes thousands of dot products a second of dense
/// repeats, and one running sum made it a fifth of the engine's time.
const DOT_LANES: usize = 16;

/// `a · b` (of equal lengths), summed in [`DOT_LANES`] interleaved partial
/// sums, which are then added in order: the compiler turns the lanes into
/// vector registers. The result differs from a running sum in its last
/// bits only.
fn lane_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; DOT_LANES];
    let (whole_a, whole_b) = (a.chunks_exact(DOT_LANES), b.chunks_exact(DOT_LANES));
    let tail: f32 = whole_a
        .remainder()
        .iter()
        .zip(whole_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in whole_a.zip(whole_b) {
        for ((lane, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += x * y;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn sum_of_squares(values: &[f32]) -> f32 {
    values.iter().map(|v| v * v).sum()
}

/// `template` (frames × [`BANDS`]) played `speed` times as fast: its
/// frames read at `speed` times the pace, between two frames by linear
/// interpolation.
fn stretched(template: &[f32], speed: f32) -> Vec<f32> {
    let frames = template.len() / BANDS;
    if frames == 0 {
        return Vec::new();
    }
    let len = ((frames as f32 / speed).round() as usize).max(1);
    let mut out = Vec::with_capacity(len * BANDS);
    for j in 0..len {
        let at = (j as f32 * speed).min((frames - 1) as f32);
        let (i, w) = (at.floor() as usize, at.fract());
        let next = (i + 1).min(frames - 1);
        let (a, b) = (
            &template[i * BANDS..(i + 1) * BANDS],
            &template[next * BANDS..(next + 1) * BANDS],
        );
        out.extend(a.iter().zip(b).map(|(&x, &y)| x + (y - x) * w));
    }
    out
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

    /// A separation for `template` (followed by `ringing`) fed
    /// `recording`'s level features and their onset strengths, as the
    /// counter feeds it.
    fn fed(template: Vec<f32>, ringing: &[f32], recording: &[f32]) -> Separation {
        let mut strengths = Vec::new();
        OnsetChannels::default().extend(recording, &mut strengths);
        let mut separation = Separation::new(template, ringing, &[]);
        separation.push(recording, &strengths);
        separation
    }

    /// A separation for [`double_click`] fed a recording of `frames`
    /// frames with occurrences at `onsets`.
    fn over(onsets: &[usize], frames: usize) -> Separation {
        let template = double_click();
        let mut recording = vec![0.0f32; frames * BANDS];
        for &at in onsets {
            place(&template, &mut recording, at);
        }
        fed(template, &[], &recording)
    }

    #[test]
    fn a_repeat_a_few_percent_slow_is_one_occurrence() {
        // A sweep: one band after another, a frame each, over 40 frames.
        // A repeat 4 % slower drifts off the template by two frames at its
        // end, and the template once more a frame or two later covers
        // what it misses; at the repeat's own speed one copy explains it.
        let frames = 40;
        let mut sweep = vec![0.0f32; frames * BANDS];
        for i in 0..frames {
            sweep[i * BANDS + i] = 5.0;
        }
        let slow = stretched(&sweep, 0.96);
        let mut recording = vec![0.0f32; 60 * BANDS];
        place(&slow, &mut recording, 2);
        let separation = fed(sweep, &[], &recording);
        for later in [3, 4] {
            assert_eq!(
                separation.beside(later, 2),
                Some(false),
                "a second copy {} frames later",
                later - 2
            );
        }
    }

    #[test]
    fn an_earlier_copy_sounding_over_a_repeat_lowers_what_it_can_score() {
        let separation = over(&[], 12);
        // The copy begun a frame before puts its second click at frame 2
        // of the repeat's window, where the template has none.
        let overlapped = separation.score_under_earlier(1);
        assert!((0.3..0.95).contains(&overlapped), "{overlapped}");
        // Begun three frames before, its second click lands under the
        // repeat's louder first one: nothing changes.
        assert!(separation.score_under_earlier(3) > 0.9999);
        // A copy that has ended leaves the score whole, unless the sound
        // rings on past the template.
        assert_eq!(separation.score_under_earlier(5), 1.0);
        let mut ringing = vec![0.0f32; 3 * BANDS];
        ringing[BANDS + 9] = 3.0;
        let ringing_on = Separation::new(double_click(), &ringing, &[]);
        assert!(ringing_on.score_under_earlier(5) < 0.95);
    }

    #[test]
    fn a_repeat_heard_through_a_phone_call_explains_the_levels_with_its_band() {
        // A chord on a low, a middle and a high band, decaying over four
        // frames; band centres from 100 Hz up, 190 Hz apart.
        let centres: Vec<f32> = (0..BANDS).map(|b| 100.0 + 190.0 * b as f32).collect();
        let mut chord = vec![0.0f32; 4 * BANDS];
        for (i, level) in [6.0, 5.0, 4.0, 3.0].into_iter().enumerate() {
            for band in [0, 10, BANDS - 1] {
                chord[i * BANDS + band] = level;
            }
        }
        // One occurrence at frame 2, and a repeat at frame 4 heard through
        // a phone call: its low and high bands are gone.
        let mut recording = vec![0.0f32; 12 * BANDS];
        place(&chord, &mut recording, 2);
        let through_phone: Vec<f32> = chord
            .chunks_exact(BANDS)
            .flat_map(|frame| {
                frame.iter().enumerate().map(|(band, &level)| {
                    (super::super::fine::phone_band_gain(centres[band]) * linear(level)).ln_1p()
                })
            })
            .collect();
        place(&through_phone, &mut recording, 4);
        let mut strengths = Vec::new();
        OnsetChannels::default().extend(&recording, &mut strengths);
        let mut full_band_only = Separation::new(chord.clone(), &[], &[]);
        full_band_only.push(&recording, &strengths);
        let mut separation = Separation::new(chord, &[], &centres);
        separation.push(&recording, &strengths);
        // The template's full copy there puts level in the low and high
        // bands the audio lacks, and explains it worse than one
        // occurrence; the copy through the phone's band explains it
        // better.
        let full = full_band_only.level_gain(4, 2, NEIGHBOUR_MARGIN).unwrap();
        let banded = separation.level_gain(4, 2, NEIGHBOUR_MARGIN).unwrap();
        assert!(full < NEIGHBOUR_MARGIN, "{full}");
        assert!(banded > NEIGHBOUR_MARGIN, "{banded}");
        // Its onsets too: the rise it brings is in the middle band only.
        let full = full_band_only.onset_gain(4, 2).unwrap();
        let banded = separation.onset_gain(4, 2).unwrap();
        assert!(banded > full, "{banded} against {full}");
    }

    #[test]
    fn a_side_lobe_is_not_a_second_occurrence() {
        // One double click at frame 2: the template at frame 5 puts its
        // first click on the real second click, a side lobe.
        let separation = over(&[2], 12);
        assert_eq!(separation.both(5, 2), Some(false));
    }

    #[test]
    fn a_repeat_at_the_side_lobe_lag_is() {
        // Double clicks at frames 2 and 5: the second starts on the
        // first's second click, and brings a click at frame 8 too.
        let separation = over(&[2, 5], 12);
        assert_eq!(separation.both(5, 2), Some(true));
    }

    #[test]
    fn a_partial_match_away_from_the_side_lobe_makes_the_fit_worse() {
        // One double click at frame 2; a peak a frame or two later, where
        // no side lobe is, but the same sound partly matched: a second
        // template there only adds what the audio does not hold.
        for later in [3, 4] {
            let separation = over(&[2], 12);
            assert_eq!(separation.beside(later, 2), Some(false));
        }
        // A true repeat two frames later, with clicks of its own, makes
        // the fit better. (One frame later, each of its one-frame clicks
        // would continue the first's at the same level: no onset of its
        // own, the audio of one click held twice as long.)
        let separation = over(&[2, 4], 12);
        assert_eq!(separation.beside(4, 2), Some(true));
    }

    #[test]
    fn a_sustained_sound_held_longer_is_one_occurrence() {
        // A note: an attack in two bands, then a sustain in one, over 6
        // frames. The recording holds it once at frame 2, held 4 frames
        // longer (a slower or ringing repeat): a second copy 4 frames on
        // explains the longer sustain's level, but its attack is not
        // there.
        let mut note = vec![0.0f32; 6 * BANDS];
        note[5] = 6.0;
        note[8] = 6.0;
        for frame in 0..6 {
            note[frame * BANDS + 5] = 6.0;
        }
        let mut recording = vec![0.0f32; 16 * BANDS];
        place(&note, &mut recording, 2);
        for frame in 8..12 {
            recording[frame * BANDS + 5] = 6.0;
        }
        let separation = fed(note.clone(), &[], &recording);
        assert!(
            separation
                .level_gain(6, 2, 0.0)
                .is_some_and(|gain| gain > 0.0),
            "the longer sustain fits two copies' levels better"
        );
        assert_eq!(separation.beside(6, 2), Some(false));
        // Played again there, the attack comes with it.
        place(&note, &mut recording, 6);
        assert_eq!(fed(note, &[], &recording).beside(6, 2), Some(true));
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
    fn a_sound_ringing_on_past_the_template_is_one_occurrence() {
        // A chime: the template is cut where it has fallen far under its
        // peak, but the sound rings on for as long again, and the
        // recording holds the whole of it once, at frame 2.
        let chime = |levels: &[f32]| {
            let mut frames = vec![0.0f32; levels.len() * BANDS];
            for (frame, &level) in levels.iter().enumerate() {
                frames[frame * BANDS + 5] = level;
                frames[frame * BANDS + 9] = 0.5 * level;
            }
            frames
        };
        let template = chime(&[6.0, 5.5, 5.0, 4.5]);
        let ringing = chime(&[4.0, 3.5, 3.0, 2.5]);
        let mut recording = vec![0.0f32; 14 * BANDS];
        place(
            &chime(&[6.0, 5.5, 5.0, 4.5, 4.0, 3.5, 3.0, 2.5]),
            &mut recording,
            2,
        );
        let separation = |ringing: &[f32]| fed(template.clone(), ringing, &recording);
        // Modelled as the capture showed it, the ringing leaves nothing
        // for a second copy to explain.
        assert_eq!(separation(&ringing).both(4, 2), Some(false));
        // A model that ends with the template leaves the ringing to a
        // second copy two frames later.
        assert_eq!(separation(&[]).both(4, 2), Some(true));
    }

    /// A separation fed a recording whose band powers are the sum of a
    /// 6-frame template's at `onsets` (levels as the features hold them).
    fn summed(onsets: &[usize], frames: usize) -> Separation {
        let mut template = vec![0.0f32; 6 * BANDS];
        for (frame, power) in [8.0f32, 5.0, 3.0, 2.0, 1.0, 0.5].into_iter().enumerate() {
            template[frame * BANDS + 7] = power.ln_1p();
            template[frame * BANDS + 8] = (0.5 * power).ln_1p();
        }
        let mut powers = vec![0.0f32; frames * BANDS];
        for &at in onsets {
            for (p, &t) in powers[at * BANDS..].iter_mut().zip(&template) {
                *p += linear(t);
            }
        }
        let levels: Vec<f32> = powers.iter().map(|p| p.ln_1p()).collect();
        let mut separation = Separation::new(template, &[], &[]);
        separation.push(&levels, &vec![0.0; levels.len()]);
        separation
    }

    #[test]
    fn an_occurrence_without_a_peak_is_found_between_two() {
        // Repeats every 2 frames: the one at frame 6 is hidden in the
        // tails of those at 2 and 4, and the next at 8 and 10.
        let mut separation = summed(&[2, 4, 6, 8, 10], 24);
        assert_eq!(separation.hidden(&[2, 4, 8, 10], 4, 8, 1), vec![6]);
        // Two hidden ones in one stretch.
        assert_eq!(separation.hidden(&[2, 8, 10], 2, 8, 1), vec![4, 6]);
    }

    #[test]
    fn a_misfit_beside_a_known_occurrence_is_no_hidden_one() {
        // The sound at 2 rings on in a second copy of itself two frames
        // later (an echo, a note held longer than the template): the
        // residual is best explained within the gap (3) of 2, which two
        // occurrences cannot be. With the search held 3 frames from the
        // known copies, one more was placed at the edge, at 5.
        let mut echoed = summed(&[2, 14], 24);
        for (i, power) in [8.0f32, 5.0, 3.0, 2.0, 1.0, 0.5].into_iter().enumerate() {
            for (band, share) in [(7, 1.0f32), (8, 0.5)] {
                let cell = (4 + i) * BANDS + band;
                let raised = linear(echoed.recent[cell]) + 0.8 * share * power;
                echoed.recent[cell] = raised.ln_1p();
            }
        }
        assert_eq!(echoed.hidden(&[2, 14], 2, 14, 3), Vec::<u64>::new());
        // Three frames on, as far as the gap, it is one more occurrence.
        let mut repeated = summed(&[2, 5, 14], 24);
        assert_eq!(repeated.hidden(&[2, 14], 2, 14, 3), vec![5]);
    }

    #[test]
    fn a_stretch_the_known_occurrences_explain_holds_none() {
        let mut separation = summed(&[2, 4, 8, 10], 24);
        assert_eq!(
            separation.hidden(&[2, 4, 8, 10], 4, 8, 1),
            Vec::<u64>::new()
        );
        // A far weaker sound between them is not an occurrence either.
        let mut weak = summed(&[2, 4, 8, 10], 24);
        let frame = 6 * BANDS + 7;
        weak.recent[frame] = (linear(weak.recent[frame]) + 0.3).ln_1p();
        assert_eq!(weak.hidden(&[2, 4, 8, 10], 4, 8, 1), Vec::<u64>::new());
    }

    #[test]
    fn the_fft_search_gives_the_direct_dot_products() {
        let template: Vec<f32> = (0..7 * BANDS)
            .map(|i| ((i * 37) % 11) as f32 * 0.1)
            .collect();
        let span = 30;
        let residual: Vec<f32> = (0..span * BANDS)
            .map(|i| ((i * 53) % 17) as f32 * 0.1 - 0.8)
            .collect();
        let model = JointModel {
            template: &template,
            template_norm: sum_of_squares(&template),
            head_norms: &vec![OnceCell::new(); 8],
            frames: 7,
            span: span as i64,
        };
        let along =
            CopySearch::new(&template, CopySearch::fft_len_for(7, span)).along(&residual, span);
        assert_eq!(along.len(), span);
        for (x, value) in along.iter().enumerate() {
            let direct = model.dot(x as i64, &residual);
            assert!(
                (value - direct).abs() <= 1e-3 * direct.abs().max(1.0),
                "frame {x}: {value} against {direct}"
            );
        }
    }

    /// Two clipped copies' product is the dot product of the copies laid
    /// into the stretch, wherever they start.
    #[test]
    fn copies_products_are_those_of_the_laid_copies() {
        let template: Vec<f32> = (0..7 * BANDS)
            .map(|i| ((i * 37) % 11) as f32 * 0.1)
            .collect();
        let span = 12;
        let head_norms = vec![OnceCell::new(); 8];
        let model = JointModel {
            template: &template,
            template_norm: sum_of_squares(&template),
            head_norms: &head_norms,
            frames: 7,
            span,
        };
        let laid = |at: i64| {
            let mut copy = vec![0.0f32; span as usize * BANDS];
            model.subtract(at, -1.0, &mut copy);
            copy
        };
        for (a, b) in [(0, 0), (0, 3), (-4, 2), (-2, -5), (8, 10), (1, 9), (11, -6)] {
            let direct: f32 = laid(a).iter().zip(laid(b)).map(|(x, y)| x * y).sum();
            let product = model.cross(a, b);
            assert!(
                (product - direct).abs() <= 1e-4 * direct.abs().max(1.0),
                "{a}, {b}: {product} against {direct}"
            );
        }
    }

    #[test]
    fn frames_gone_or_not_in_give_no_answer() {
        let mut separation = over(&[2], 8);
        assert_eq!(separation.both(5, 2), None, "frame 9 is not in yet");
        separation.forget_before(3);
        assert_eq!(separation.both(4, 2), None, "frame 2 is gone");
    }
}
