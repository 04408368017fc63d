//! A look at each candidate at fine resolution: does the window's
//! spectrogram, 512-point frames every 5 ms on the 16 kHz audio, have the
//! template's fine structure?
//!
//! The correlation score works on 40 mel bands in 10 ms frames (2.5 ms
//! for short sounds), where the envelope carries most of the variance:
//! sounds of one family (the 'log in' chime and the 'log out' one, two
//! spoken digits, two impacts) share their envelope and broad spectrum and
//! score 0.5-0.85 there. Their partials, formants and resonances differ in
//! 31 Hz bins. The fine score is the Pearson correlation of log power
//! between the template's spectrogram and the window's, over the cells
//! where the template has its sound (within [`CELL_RANGE_DB`] of its
//! loudest), the best over the speeds a repeat may take (±4 %, which moves
//! time and frequency alike, [`SPEEDS`]) and a few 5 ms shifts of the
//! onset. Log power and a correlation leave gain and most of a room's or
//! an EQ's colour aside; what is left is whether the sound's detail is
//! there.
//!
//! A room is not left aside that way: its reverberation fills the dips
//! between a sound's notes and syllables and lengthens its decays, and a
//! repeat heard across a room scores as low as a different sound. Where
//! the template as recorded scores under [`ROOM_LOOK_BELOW`] of its
//! steadiness, the check also compares the template heard in a typical
//! room ([`ROOM_RT60_S`], [`ROOM_DRR_DB`]) and keeps the better score.
//!
//! Nor is a telephone's band: a repeat heard through a phone call keeps
//! the template's detail within 300-3400 Hz and has its cells above and
//! below 10-30 dB down, a slope across the bins that a correlation of log
//! power takes for another sound's balance (true repeats that way scored
//! 0.65-0.72 of the steadiness). Where the room's look falls short too,
//! the check compares the template heard through such a band
//! ([`PHONE_LOW_HZ`], [`PHONE_HIGH_HZ`], [`PHONE_ORDER`]). On the
//! real-sound corpus (30 cases per tier) the tuning sources' missed
//! repeats through a telephone's band went from 52 to 38 of 512 and the
//! held-out ones' from 69 to 62 of 556; all in all, tuning 3,269 found /
//! 85 false / 131 missed to 3,284 / 87 / 116 (exact count 77.3 to
//! 78.2 %), held-out 3,845 / 40 / 158 to 3,852 / 43 / 151 (80.5 to
//! 80.8 %); the synthetic corpus did not change. Looking for the band
//! in the look against the background as well (below; the band's
//! variants with a level and audible cells of their own) found 4
//! held-out repeats more for 2 more false events (3,843 / 36 / 109 to
//! 3,847 / 38 / 105, exact count 89.9 to 89.6 %, 30 cases per tier) and
//! left the tuning sources as they were, and is not done: the telephone
//! repeats it is for, in loud music (held-out/long/4), stay under the
//! floor either way.
//! Nor is the band's look taken of the template in a room as well (a
//! call from across a room): with those variants beside the band's own,
//! the held-out sources went from 3,849 / 36 / 103 to 3,852 / 40 / 100
//! (exact count 90.6 to 90.3 %, 30 cases per tier; repeats both through
//! the band and in a room missed 15 to 12 of 251) and the tuning ones
//! from 3,285 / 77 / 78 to 3,286 / 79 / 77 (85.7 to 86.4 %): the
//! held-out sources lose, so it is not done.
//! A candidate found through the band has lost the bands outside it, and
//! the loudness rule measures it within the band
//! ([`FineCheck::heard_through_phone_band`]): that found 13 more tuning
//! repeats and 3 more held-out ones, with no false event more (tuning
//! 79.9 % exact, held-out 81.5 %).
//!
//! Nor is a repeat that the next one cuts short: in rapid repeats the
//! next onset falls inside the window, and a fresh attack where the
//! template decays looks like another sound. Where another peak follows
//! within reach, the cells its copy would be louder in are left out
//! ([`FineCheck::score_before`]).
//!
//! Nor is a repeat deep in noise: where the background is as loud as the
//! template's quieter cells, those cells hold the background's detail
//! whatever sound is there, and a true repeat scores like a foreign one.
//! Where the score over every cell falls under
//! [`BACKGROUND_LOOK_BELOW`] of the steadiness, the check measures the
//! background per bin just before the window and scores again: the
//! window's power over that background against what a repeat at the
//! window's level would add to it, over the cells such a repeat would
//! stand over the background in, plus those where the window holds far
//! more than the background (a foreign sound there is evidence against);
//! it keeps the better score. Measured against the background, a part of
//! the template that a repeat at that level would make plain but the
//! window lacks counts against the candidate, as it should: measured
//! against the window's own loudest cell, such a part and the silence in
//! its place both sat at the floor and agreed.
//!
//! The score is the Pearson correlation over the cells compared, every
//! one of the window read: a candidate is decided once its whole window
//! has arrived (`Counter`), and a window cut short by the recording's end
//! correlates over the cells it has.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex;

use crate::audio::ANALYSIS_RATE;

/// Samples per fine frame (32 ms at 16 kHz: 31 Hz bins, enough to tell
/// partials and formants apart).
pub const FINE_WINDOW: usize = 512;
/// Samples between fine frames (5 ms): onsets of clicks and syllables
/// fall within a frame.
pub const FINE_HOP: usize = 80;
/// Cells of the template's spectrogram more than this far under its
/// loudest cell (dB) hold no sound of its own; the comparison leaves them
/// out, and floors both spectrograms there, so noise and silence add no
/// shape of their own. On the real-sound corpus (30 cases per tier,
/// found / false events, against 3,859 / 44 held-out and 3,298 / 87
/// tuning at 40 dB): 30 dB gave 3,845 / 43 and 3,289 / 96 (a template's
/// quieter detail left out, siblings pass), 50 dB 3,865 / 51 and
/// 3,289 / 90 with zero-count cases counted (held-out 6 of 7, tuning 4
/// of 7: cells that deep hold the capture's own noise).
pub const CELL_RANGE_DB: f32 = 40.0;
/// The speeds a repeat may take against the template: ±4 % in 2 % steps
/// (a faster repeat is shorter and higher alike). A 2 % step leaves at
/// most 1 % of misfit, a bin at 3 kHz. In 1 % steps (nine speeds, with
/// [`SELF_SPEED`] at 1.005, half a step), the real-sound corpus (30 cases
/// per tier) went from 3,858 found / 40 false events to 3,852 / 34
/// held-out (exact count 82.5 to 82.8 %, F1 0.977 either way, rapid
/// 0.925 to 0.924) and from 3,296 / 87 to 3,288 / 80 on the tuning
/// sources (80.2 to 81.5 %, F1 0.972 either way): no better F1 for
/// nearly twice the fine check's work, which the dense hour of clicks
/// cannot spare (docs/BENCHMARKS.md, speed). Measured again with the
/// decision as it is now: tuning 3,283 / 76 / 80 (85.7 %) to
/// 3,275 / 69 / 88 (87.0 %), held-out 3,843 / 36 / 109 (89.9 %) to
/// 3,816 / 29 / 136 (87.7 %). The steadiness at half the finer step
/// rises for tones rich in partials (a harpsichord's), and the floor
/// that scales with it loses the held-out sources' varied repeats. With
/// the steadiness kept at this grid's half step (the floor as it is, the
/// scores from nine speeds): tuning 3,285 / 77 / 78 (85.4 %), held-out
/// 3,845 / 40 / 107 (89.3 %); siblings gain as much as repeats.
pub const SPEEDS: [f32; 5] = [0.96, 0.98, 1.0, 1.02, 1.04];
/// How far (fine frames either way) the onset may lie from where the
/// correlation put it: the coarse frames are up to 10 ms wide and a
/// varied repeat's peak may sit a frame off. Six frames (±30 ms), for
/// rapid repeats whose coarse peak lands farther off, found 3 more
/// held-out repeats for 6 more false events on the real-sound corpus
/// (30 cases per tier) and 7 more false events on the tuning sources. A
/// second search around an onset as far before the peak as the
/// template's strongest rise in power lies after its onset (for
/// templates where that is past this search: a typewriter's hiss opens
/// its template 35 ms before the strike, and in rapid runs the strike is
/// matched) found 1 more tuning repeat for 10 more false events, and 6
/// more held-out ones for 15 (30 cases per tier). What a wider search
/// was after is done where the correlation points: a peak whose onset
/// fails is measured again at its bump's other maximum beyond this search
/// ([`Peak::alternate`](super::peaks::Peak::alternate)).
pub const ONSET_SEARCH_FRAMES: usize = 4;
/// How far (seconds) either way of a candidate's onset the fine check
/// searches ([`ONSET_SEARCH_FRAMES`]): another onset within it needs no
/// check of its own.
pub fn onset_search_s() -> f64 {
    (ONSET_SEARCH_FRAMES * FINE_HOP) as f64 / f64::from(ANALYSIS_RATE)
}
/// Reverberation time (seconds for a 60 dB decay) of the room the
/// template is also heard in: a living room or an office (0.3-0.6 s).
/// Variations of the room barely matter (on the real-sound corpus's
/// tuning sources, 30 cases per tier, F1 0.939 for 0.25, 0.4 and 0.6 s);
/// what matters is that some room is tried.
pub const ROOM_RT60_S: f32 = 0.4;
/// Direct-to-reverberant ratio (dB) of that room: as much energy in the
/// reverberation as in the direct sound, a phone a metre or two from the
/// source. +4 dB and -3 dB score alike (tuning F1 0.939).
pub const ROOM_DRR_DB: f32 = 0.0;
/// The lower edge (Hz) of the telephone's band the template is also
/// heard through: the narrowband telephone's 300-3400 Hz, what a phone
/// call or a narrowband codec passes.
pub const PHONE_LOW_HZ: f32 = 300.0;
/// The upper edge (Hz) of that band.
pub const PHONE_HIGH_HZ: f32 = 3_400.0;
/// How steep the band's edges are: the order of the filter each side
/// (2: 12 dB an octave). What matters is that some band is tried, not
/// its exact edges: on the real-sound corpus (30 cases per tier, found /
/// false events), orders 1, 2 and 4 gave tuning 3,283 / 87, 3,284 / 87
/// and 3,281 / 87 and held-out 3,850 / 43, 3,852 / 43 and 3,851 / 45.
/// The template in a room heard through the band as well, in the same
/// look (with the loudness within the band): tuning 1 more repeat for 2
/// more false events, held-out 6 more for 5 more; not used. Comparing
/// the band's look over the cells inside the band only (what a repeat
/// through it holds outside is not the template's, and music fills it):
/// held-out 2 more repeats for 3 more false events, tuning 2 fewer for
/// 15 more (the cells outside, quiet in a true repeat, tell siblings
/// apart); not used.
pub const PHONE_ORDER: i32 = 2;
/// Under this share of the template's steadiness, the fine score as
/// recorded gets a second look with the template in a room (and, where
/// that stays under it too, a third through a telephone's band). Above it the
/// dry template already finds the sound (true repeats heard dry score
/// at the steadiness or above; the decision's highest rule, the vouch,
/// asks 0.80), so the room could change no verdict, and a recording of
/// dense clean repeats pays nothing for it.
pub const ROOM_LOOK_BELOW: f32 = 0.9;
/// The fine check looks at no more than this much of a long template
/// (seconds): past it the mel correlation has detail enough, and memory
/// and time stay bounded whatever the template's length.
pub const MAX_FINE_S: f64 = 1.5;

/// The share of the template's cells that must stay uncovered by the
/// next copy for the check to compare what is left alone; under it, the
/// whole template is compared. A quarter of a template's cells still
/// hold hundreds of them, its onset and the detail that tells it from
/// its siblings; on the real-sound corpus's tuning sources (30 cases per
/// tier) a half and a quarter score alike (F1 0.953).
pub const MIN_UNCOVERED_SHARE: f32 = 0.25;

/// Frames of audio just before a candidate's window from which the check
/// measures the background, per bin (`FineCheck::measure_background`):
/// their median power, over ln 2, stands for the background's mean (a
/// bin's power in noise is exponential). Nine frames hold a click or two
/// of a rapid run and still give the background's level; five frames
/// over the same span scored alike (tuning F1 0.962 against 0.963, with
/// an earlier form of the look that compared the window's own log
/// power).
pub const BACKGROUND_FRAMES: usize = 9;
/// Samples between those frames (16 ms, half a window): nine of them
/// span 160 ms before the window.
pub const BACKGROUND_HOP: usize = 256;
/// A template cell counts in the background look only where a repeat at
/// the candidate's level would stand at least this far (dB) over the
/// background there: under it, the cell holds the background's detail
/// whatever sound is there. Swept on the real-sound corpus's tuning
/// sources (30 cases per tier, F1, with the audible cells as the score
/// itself and the fine floor at 0.72): -3 dB 0.962, 0 dB 0.961, +3 dB
/// 0.958, +6 dB 0.958.
pub const AUDIBLE_MARGIN_DB: f32 = 0.0;
/// A cell where the template is not audible over the background still
/// counts where the window is this far (dB) over the background's mean
/// there: something else sounds in it, which a repeat would not explain,
/// and leaving it out let note onsets in music and syllables in babble
/// pass (tuning false events 142 without it, 112 with it, with the
/// audible cells as the score and the floor at 0.72). A bin of noise
/// exceeds its mean by 10 dB once in 22,000. Swept the same way (tuning
/// F1): 6 dB 0.961, 10 dB 0.961, 15 dB 0.959.
pub const FOREIGN_OVER_BACKGROUND_DB: f32 = 10.0;
/// Under this share of the template's steadiness, the fine score over
/// every cell gets a second look over the cells audible over the
/// background (as [`ROOM_LOOK_BELOW`]: above it, no verdict could
/// change, and dense clean repeats pay nothing for the look).
pub const BACKGROUND_LOOK_BELOW: f32 = 0.9;
/// Under this share of the template's cells audible over the background,
/// the look is not taken: too few cells are left to say anything. On
/// the tuning sources (30 cases per tier, with an earlier form of the
/// look that compared the window's own log power) a tenth scored F1
/// 0.963 and a quarter 0.962, and on the synthetic corpus the clicks of snr0/8 were
/// found 20 times of 26 against 5. Swept again with the look as it is (30
/// cases per tier, found / false / missed, against tuning 3,283 / 76 / 80
/// and held-out 3,843 / 36 / 109): 0.05 the same but one tuning false
/// event more; 0.15 3,283 / 72 / 80 (85.4 % exact against 85.7 %) and
/// 3,841 / 36 / 111; 0.2 3,283 / 69 / 80 (86.0 %, F1 0.978) and
/// 3,836 / 36 / 116 (89.3 % against 89.9 %). The tuning sources' false
/// events in noise fall, but the held-out sources lose repeats at 0 dB,
/// so it stays.
pub const MIN_AUDIBLE_SHARE: f32 = 0.1;

/// A Hann window of `len` samples.
fn hann(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / len as f32).cos())
        .collect()
}

/// Power spectra of 512-sample frames centred every [`FINE_HOP`] samples,
/// `bins` bins each.
struct Spectrogram {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    input: Vec<f32>,
    output: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    bins: usize,
}

impl Spectrogram {
    fn new(bins: usize) -> Spectrogram {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FINE_WINDOW);
        Spectrogram {
            window: hann(FINE_WINDOW),
            input: fft.make_input_vec(),
            output: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            bins,
        }
    }

    /// Appends the power spectrum of the frame centred on sample `centre`
    /// of a signal whose sample `i` is `sample(i)`.
    fn frame(&mut self, centre: i64, sample: impl Fn(i64) -> f32, out: &mut Vec<f32>) {
        let first = centre - (FINE_WINDOW / 2) as i64;
        for (i, (x, w)) in self.input.iter_mut().zip(&self.window).enumerate() {
            *x = sample(first + i as i64) * w;
        }
        self.transform(out);
    }

    /// Appends the power spectrum of `samples` ([`FINE_WINDOW`] of them).
    fn frame_of(&mut self, samples: &[f32], out: &mut Vec<f32>) {
        for ((x, w), &sample) in self.input.iter_mut().zip(&self.window).zip(samples) {
            *x = sample * w;
        }
        self.transform(out);
    }

    /// Appends the power spectrum of the windowed frame in `input`.
    fn transform(&mut self, out: &mut Vec<f32>) {
        // Buffers come from the plan itself, so this cannot fail.
        let _ = self
            .fft
            .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch);
        out.extend(self.output[..self.bins].iter().map(|c| c.norm_sqr()));
    }
}

/// `powers` (`bins` per frame) as log power floored [`CELL_RANGE_DB`]
/// under their loudest cell, and measured from that floor: a cell at
/// the floor is 0. A window of digital silence is then all zeros, with
/// no spread to correlate, rather than a level of ln(1e-20) whose
/// spread is rounding error (it scored up to 60).
fn floored_log(powers: &mut [f32]) {
    let floor = log_floor(powers);
    let zero = floor.ln();
    powers
        .iter_mut()
        .for_each(|p| *p = (*p + floor).ln() - zero);
}

/// The power against the loudest cell, as a natural log, of a cell whose
/// [`floored_log`] is `value` (which is ln(1 + power / floor), the floor
/// [`CELL_RANGE_DB`] under the loudest cell).
fn level_of_floored(value: f32) -> f32 {
    (value.exp() - 1.0).max(1e-3).ln() - CELL_RANGE_DB / 10.0 * std::f32::consts::LN_10
}

/// What [`floored_log`] adds to every power of `powers` before its log.
fn log_floor(powers: &[f32]) -> f32 {
    let peak = powers.iter().copied().fold(0.0f32, f32::max);
    peak * 10f32.powf(-CELL_RANGE_DB / 10.0) + 1e-20
}

/// The template at one speed: its cells (frame, bin) with a sound, and
/// their standardised log power (zero mean, unit norm).
#[derive(Debug, Clone)]
struct Variant {
    /// The speed of [`SPEEDS`] it stands for.
    speed: f32,
    frames: usize,
    cells: Vec<(u32, u32)>,
    values: Vec<f32>,
    /// Per cell: its power against the template's loudest cell, as a
    /// natural log (0 at the loudest, -9.2 at [`CELL_RANGE_DB`] under
    /// it): where a repeat at a given level stands above the background
    /// ([`Audibility::measure`]).
    levels: Vec<f32>,
    /// The sums over every cell's value: the correlation of a window
    /// read whole needs them for every candidate.
    own: OwnSums,
}

/// Sums over the template's cells a correlation reads: of their values,
/// of their squares, and how many.
#[derive(Debug, Clone, Copy, Default)]
struct OwnSums {
    sum: f32,
    squares: f32,
    count: usize,
}

impl OwnSums {
    #[inline(always)]
    fn add(&mut self, value: f32) {
        self.sum += value;
        self.squares += value * value;
        self.count += 1;
    }

    /// The sums over `values`, in order.
    #[inline(always)]
    fn of(values: &[f32]) -> OwnSums {
        let mut own = OwnSums::default();
        for &value in values {
            own.add(value);
        }
        own
    }

    /// The Pearson correlation of these cells' values with a window's
    /// values there, given the window's sums over the same cells: `dot`
    /// (with the cells' values), `sum` and `squares`. `None` where either
    /// side has no spread.
    #[inline(always)]
    fn correlation(&self, dot: f32, sum: f32, squares: f32) -> Option<f32> {
        let n = self.count as f32;
        let spread = squares - sum * sum / n;
        let own_spread = self.squares - self.sum * self.sum / n;
        if self.count < 2 || spread <= 1e-9 || own_spread <= 1e-9 {
            return None;
        }
        Some((dot - self.sum * sum / n) / (spread * own_spread).sqrt())
    }
}

impl Variant {
    /// A variant of `cells` with `values` and `levels` (as the fields).
    fn new(
        speed: f32,
        frames: usize,
        cells: Vec<(u32, u32)>,
        values: Vec<f32>,
        levels: Vec<f32>,
    ) -> Variant {
        Variant {
            speed,
            frames,
            cells,
            own: OwnSums::of(&values),
            values,
            levels,
        }
    }

    /// This variant as the background look compares it: the cells
    /// `audibility` counts, each valued as a repeat at `gain` would
    /// stand over `background` (power per bin, no lower than `floor`)
    /// there ([`over_background`]).
    fn heard_over(
        &self,
        audibility: &Audibility,
        background: &[f32],
        floor: f32,
        gain: f32,
        (columns, frames): (&[f32], usize),
    ) -> Variant {
        let (mut cells, mut values, mut levels) = (Vec::new(), Vec::new(), Vec::new());
        for (index, (&(j, k), &level)) in self.cells.iter().zip(&self.levels).enumerate() {
            if audibility.counts(self, index, columns, frames) {
                cells.push((j, k));
                values.push(over_background(
                    gain * level.exp(),
                    background[k as usize].max(floor),
                ));
                levels.push(level);
            }
        }
        Variant::new(self.speed, self.frames, cells, values, levels)
    }
}

/// The template's fine spectrogram at every speed of [`SPEEDS`].
#[derive(Debug, Clone)]
pub struct FineTemplate {
    variants: Vec<Variant>,
    /// The template heard in a room ([`ROOM_RT60_S`]), at every speed.
    room_variants: Vec<Variant>,
    /// The template heard through a telephone's band, at every speed.
    band_variants: Vec<Variant>,
    bins: usize,
    /// Per bin: how many of a candidate's frames, from the first onset
    /// shift's, any variant reads there at any shift (0 where no variant
    /// has a cell). A candidate's spectrogram needs no log power past
    /// them: a short sound's upper bins hold its onset only.
    read_frames: Vec<usize>,
    /// What the template scores against itself played [`SELF_SPEED`]
    /// faster ([`FineTemplate::steadiness`]).
    steadiness: f32,
    /// The dry template's log power ([`floored_log`]), frames × `bins`:
    /// which of two overlapping copies is louder in a cell.
    logs: Vec<f32>,
    /// The 16 kHz sound it was made from (up to [`MAX_FINE_S`]): what a
    /// copy begun earlier leaves in a window on its own
    /// ([`FineCheck::score_after`]).
    sound: Arc<[f32]>,
}

/// The speed at which the template is compared with itself to tell how
/// steady its fine structure is: half way between two of [`SPEEDS`], the
/// worst misfit a true repeat meets.
pub const SELF_SPEED: f32 = 1.01;

impl FineTemplate {
    /// The fine template of `sound` (16 kHz samples from the onset on),
    /// compared up to `top_hz` (the bandwidth template and recording
    /// share). `None` if the sound is silent.
    pub fn new(sound: &[f32], top_hz: f32) -> Option<FineTemplate> {
        let bin_hz = ANALYSIS_RATE as f32 / FINE_WINDOW as f32;
        let bins = ((top_hz / bin_hz) as usize + 1).min(FINE_WINDOW / 2 + 1);
        let length = sound
            .len()
            .min((MAX_FINE_S * f64::from(ANALYSIS_RATE)) as usize);
        let sound = &sound[..length];
        let frames = length.div_ceil(FINE_HOP).max(1);
        let mut spectrogram = Spectrogram::new(bins);
        let mut powers = Vec::with_capacity(frames * bins);
        for j in 0..frames {
            spectrogram.frame(
                (j * FINE_HOP) as i64,
                |i| {
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| sound.get(i))
                        .copied()
                        .unwrap_or(0.0)
                },
                &mut powers,
            );
        }
        let peak = powers.iter().copied().fold(0.0f32, f32::max);
        if peak <= 0.0 || !peak.is_finite() {
            return None;
        }
        let variants = speed_variants(&powers, frames, bins);
        if variants.is_empty() {
            return None;
        }
        let room_variants = speed_variants(
            &in_room(&powers, bins, ROOM_RT60_S, ROOM_DRR_DB),
            frames,
            bins,
        );
        let band_variants = speed_variants(&through_phone(&powers, bins), frames, bins);
        let mut logs = powers;
        floored_log(&mut logs);
        let mut read_frames = vec![0; bins];
        for variant in variants.iter().chain(&room_variants).chain(&band_variants) {
            for &(j, k) in &variant.cells {
                let read = &mut read_frames[k as usize];
                *read = (*read).max(j as usize + SHIFTS);
            }
        }
        // Steadiness is what a repeat heard as the template was keeps of
        // the template as recorded: the room's look is left out of it (a
        // burst of noise, smoothed by the room, matches itself better
        // and would raise the floor its own dry repeats must reach).
        let mut template = FineTemplate {
            variants,
            room_variants: Vec::new(),
            band_variants: Vec::new(),
            bins,
            read_frames,
            steadiness: 1.0,
            logs,
            sound: Arc::from(sound),
        };
        let faster = crate::synth::speed(sound, SELF_SPEED);
        let mut check = FineCheck::new(template.clone());
        check.push(&faster);
        template.steadiness = check.score(0.0, faster.len() as u64).clamp(0.0, 1.0);
        template.room_variants = room_variants;
        template.band_variants = band_variants;
        Some(template)
    }

    /// How much of the template's fine structure survives a repeat's
    /// change of speed: its fine score against itself played
    /// [`SELF_SPEED`] faster, 0..1. Tones, chimes and voices keep their
    /// partials and formants (0.9 and more); a burst of noise (a slap, a
    /// whoosh) has a fine structure of its own in every repeat, and
    /// scores far lower. The fine check's floor scales with it.
    pub fn steadiness(&self) -> f32 {
        self.steadiness
    }

    /// The template without the cells that a copy of it starting
    /// `offset` fine frames after its onset covers: where that copy, as
    /// recorded, is louder than the template. `None` where the copy
    /// covers no cell, or so many that what is left says too little
    /// ([`MIN_UNCOVERED_SHARE`]). Where only the telephone band's look
    /// says too little, that look is left out rather than the mask.
    fn uncovered(&self, offset: f32) -> Option<FineTemplate> {
        self.uncovered_by(&[offset])
    }

    /// [`FineTemplate::uncovered`] by copies at each of `offsets` (fine
    /// frames after the onset, negative for a copy begun before it): the
    /// cells any of them is louder in left out.
    fn uncovered_by(&self, offsets: &[f32]) -> Option<FineTemplate> {
        let frames = self.logs.len() / self.bins;
        let log_at = |t: f32, k: usize| {
            let j = t.round();
            (j >= 0.0 && (j as usize) < frames).then(|| self.logs[j as usize * self.bins + k])
        };
        let mut covers_any = false;
        let mut without_covered = |variants: &[Variant]| -> Option<Vec<Variant>> {
            variants
                .iter()
                .map(|variant| {
                    let (mut cells, mut values, mut levels) = (Vec::new(), Vec::new(), Vec::new());
                    for ((&(j, k), &value), &level) in variant
                        .cells
                        .iter()
                        .zip(&variant.values)
                        .zip(&variant.levels)
                    {
                        // The cell in the template's own frames and bins;
                        // the next copy, at the same speed, is `offset`
                        // window frames later.
                        let t = j as f32 * variant.speed;
                        let f = ((k as f32 / variant.speed).round() as usize).min(self.bins - 1);
                        let covered = offsets.iter().any(|&offset| {
                            match (log_at(t, f), log_at(t - offset * variant.speed, f)) {
                                (Some(own), Some(copy)) => copy > own,
                                _ => false,
                            }
                        });
                        covers_any |= covered;
                        if !covered {
                            cells.push((j, k));
                            values.push(value);
                            levels.push(level);
                        }
                    }
                    if (cells.len() as f32) < MIN_UNCOVERED_SHARE * variant.cells.len() as f32 {
                        return None;
                    }
                    Some(Variant::new(
                        variant.speed,
                        variant.frames,
                        cells,
                        super::correlate::standardise(&values)?,
                        levels,
                    ))
                })
                .collect()
        };
        let variants = without_covered(&self.variants)?;
        let room_variants = without_covered(&self.room_variants)?;
        let band_variants = without_covered(&self.band_variants).unwrap_or_default();
        covers_any.then(|| FineTemplate {
            variants,
            room_variants,
            band_variants,
            bins: self.bins,
            read_frames: self.read_frames.clone(),
            steadiness: self.steadiness,
            logs: Vec::new(),
            sound: Arc::clone(&self.sound),
        })
    }

    /// Fine frames of the longest variant.
    pub fn max_frames(&self) -> usize {
        self.variants
            .iter()
            .chain(&self.room_variants)
            .chain(&self.band_variants)
            .map(|v| v.frames)
            .max()
            .unwrap_or(0)
    }
}

/// The share of a sound's power at `hz` that a telephone's band passes
/// ([`PHONE_LOW_HZ`]-[`PHONE_HIGH_HZ`], [`PHONE_ORDER`]).
pub fn phone_band_gain(hz: f32) -> f32 {
    let high = (hz / PHONE_LOW_HZ).powi(2) / (1.0 + (hz / PHONE_LOW_HZ).powi(2));
    let low = 1.0 / (1.0 + (hz / PHONE_HIGH_HZ).powi(2));
    (high * low).powi(PHONE_ORDER)
}

/// `powers` (frames × `bins`) heard through a telephone's band
/// ([`PHONE_LOW_HZ`]-[`PHONE_HIGH_HZ`], [`PHONE_ORDER`]).
fn through_phone(powers: &[f32], bins: usize) -> Vec<f32> {
    let bin_hz = ANALYSIS_RATE as f32 / FINE_WINDOW as f32;
    let response: Vec<f32> = (0..bins)
        .map(|k| phone_band_gain(k as f32 * bin_hz))
        .collect();
    powers
        .chunks_exact(bins)
        .flat_map(|frame| frame.iter().zip(&response).map(|(p, r)| p * r))
        .collect()
}

/// `powers` (frames × `bins`) heard in a room: each bin's power plus
/// the exponentially decaying sum of its past, `rt60_s` for 60 dB and
/// `drr_db` under the direct sound in all (late reverberation, whose
/// fine detail is noise, as a smooth tail per bin).
fn in_room(powers: &[f32], bins: usize, rt60_s: f32, drr_db: f32) -> Vec<f32> {
    let hop_s = FINE_HOP as f32 / ANALYSIS_RATE as f32;
    // Power kept from one frame to the next.
    let decay = 10f32.powf(-6.0 * hop_s / rt60_s);
    // Scales the tail, decay + decay² + ... of each frame's power, to
    // `drr_db` under it.
    let gain = 10f32.powf(-drr_db / 10.0) * (1.0 - decay) / decay;
    let mut out = powers.to_vec();
    let mut tail = vec![0.0f32; bins];
    for (previous, frame) in powers
        .chunks_exact(bins)
        .zip(out.chunks_exact_mut(bins).skip(1))
    {
        for ((t, &p), o) in tail.iter_mut().zip(previous).zip(frame) {
            *t = decay * (*t + p);
            *o += gain * *t;
        }
    }
    out
}

/// The variants at every speed of [`SPEEDS`] of a template whose power
/// spectrogram (frames × `bins`) is `powers`: cells within
/// [`CELL_RANGE_DB`] of its loudest, standardised log power.
fn speed_variants(powers: &[f32], frames: usize, bins: usize) -> Vec<Variant> {
    let peak = powers.iter().copied().fold(0.0f32, f32::max);
    let gate = peak * 10f32.powf(-CELL_RANGE_DB / 10.0);
    let loud: Vec<bool> = powers.iter().map(|&p| p > gate).collect();
    let mut logs = powers.to_vec();
    floored_log(&mut logs);
    SPEEDS
        .iter()
        .filter_map(|&speed| {
            // A repeat `speed` times faster: frame j of it is frame
            // j·speed of the template, bin k its bin k/speed.
            let n = ((frames as f32 / speed).round() as usize).max(1);
            let mut cells = Vec::new();
            let mut values = Vec::new();
            let mut levels = Vec::new();
            for j in 0..n {
                let t = j as f32 * speed;
                for k in 0..bins {
                    let f = k as f32 / speed;
                    let Some((value, on)) = bilinear(&logs, &loud, frames, bins, t, f) else {
                        continue;
                    };
                    if on {
                        cells.push((j as u32, k as u32));
                        values.push(value);
                        levels.push(level_of_floored(value));
                    }
                }
            }
            let values = super::correlate::standardise(&values)?;
            Some(Variant::new(speed, n, cells, values, levels))
        })
        .collect()
}

/// `values` (`frames × bins`) at fractional (t, f) by bilinear
/// interpolation, with whether the nearest cell is loud; `None` outside.
fn bilinear(
    values: &[f32],
    loud: &[bool],
    frames: usize,
    bins: usize,
    t: f32,
    f: f32,
) -> Option<(f32, bool)> {
    if t > (frames - 1) as f32 || f > (bins - 1) as f32 {
        return None;
    }
    let (t0, f0) = (t.floor() as usize, f.floor() as usize);
    let (t1, f1) = ((t0 + 1).min(frames - 1), (f0 + 1).min(bins - 1));
    let (wt, wf) = (t - t0 as f32, f - f0 as f32);
    let at = |a: usize, b: usize| values[a * bins + b];
    let value = (1.0 - wt) * ((1.0 - wf) * at(t0, f0) + wf * at(t0, f1))
        + wt * ((1.0 - wf) * at(t1, f0) + wf * at(t1, f1));
    let nearest = (t.round() as usize).min(frames - 1) * bins + (f.round() as usize).min(bins - 1);
    Some((value, loud[nearest]))
}

/// Onsets the check tries per candidate: [`ONSET_SEARCH_FRAMES`] either
/// way and the one the correlation gave.
const SHIFTS: usize = 2 * ONSET_SEARCH_FRAMES + 1;

/// Keeps the recent 16 kHz audio and scores candidates against the fine
/// template.
pub struct FineCheck {
    template: Arc<FineTemplate>,
    /// The widest SIMD instruction set of this CPU, detected once: the
    /// inner sums run compiled for it.
    arch: pulp::Arch,
    spectrogram: Spectrogram,
    samples: std::collections::VecDeque<f32>,
    /// Absolute index of `samples[0]`.
    start: u64,
    /// Reused: the samples a candidate's frames read, in one piece.
    span: Vec<f32>,
    /// Reused: the window's power spectra, frame by frame.
    powers: Vec<f32>,
    /// Reused: the background's power per bin before the window.
    background: Vec<f32>,
    /// Reused: the background's median power per bin, before smoothing.
    medians: Vec<f32>,
    /// Reused: which cells the background look compares.
    audible: Audibility,
    /// Reused: the window's power over the background
    /// ([`over_background`]), laid out as `columns`.
    excess: Vec<f32>,
    /// Reused: the window's log power, bin by bin (the frames of one bin
    /// side by side, so that every onset shift of a cell reads
    /// neighbouring values).
    columns: Vec<f32>,
    /// Whether the last score came from the template heard through a
    /// telephone's band.
    through_band: bool,
    /// The template heard through a telephone's band as its only look
    /// ([`FineCheck::score_through_phone_band`]).
    band_template: Arc<FineTemplate>,
    /// A check of its own that scores an earlier copy of the template
    /// alone ([`FineCheck::score_after`]); made when first needed.
    alone: Option<Box<FineCheck>>,
}

impl FineCheck {
    /// A check against `template`.
    pub fn new(template: FineTemplate) -> FineCheck {
        let band_template = Arc::new(FineTemplate {
            variants: template.band_variants.clone(),
            room_variants: Vec::new(),
            band_variants: Vec::new(),
            bins: template.bins,
            read_frames: template.read_frames.clone(),
            steadiness: template.steadiness,
            logs: template.logs.clone(),
            sound: Arc::clone(&template.sound),
        });
        FineCheck::sharing(Arc::new(template), band_template)
    }

    /// A check of its own against templates another check holds.
    fn sharing(template: Arc<FineTemplate>, band_template: Arc<FineTemplate>) -> FineCheck {
        FineCheck {
            band_template,
            arch: pulp::Arch::new(),
            spectrogram: Spectrogram::new(template.bins),
            template,
            samples: std::collections::VecDeque::new(),
            start: 0,
            span: Vec::new(),
            powers: Vec::new(),
            background: Vec::new(),
            medians: Vec::new(),
            audible: Audibility::default(),
            excess: Vec::new(),
            columns: Vec::new(),
            through_band: false,
            alone: None,
        }
    }

    /// Adds 16 kHz samples.
    pub fn push(&mut self, samples: &[f32]) {
        self.samples.extend(samples.iter().copied());
    }

    /// Samples before the window of an onset at `sample` that the check
    /// reads.
    pub fn look_back() -> u64 {
        (ONSET_SEARCH_FRAMES * FINE_HOP
            + FINE_WINDOW
            + (BACKGROUND_FRAMES - 1) * BACKGROUND_HOP
            + FINE_WINDOW) as u64
    }

    /// Measures the background's power per bin into `background`: the
    /// median over [`BACKGROUND_FRAMES`] frames ending where the first
    /// frame of a window centred at `first_centre` begins, scaled to the
    /// mean (a bin's power in noise is exponential: its median is ln 2 of
    /// its mean), then smoothed over 5 bins.
    fn measure_background(&mut self, first_centre: i64) {
        let bins = self.template.bins;
        let span = (BACKGROUND_FRAMES - 1) * BACKGROUND_HOP + FINE_WINDOW;
        let first = first_centre - (FINE_WINDOW / 2) as i64 - span as i64;
        self.gather(first, span);
        self.background.clear();
        for i in 0..BACKGROUND_FRAMES {
            let samples = &self.span[i * BACKGROUND_HOP..i * BACKGROUND_HOP + FINE_WINDOW];
            self.spectrogram.frame_of(samples, &mut self.background);
        }
        self.medians.clear();
        for k in 0..bins {
            let column = (0..BACKGROUND_FRAMES).map(|i| self.background[i * bins + k]);
            let median = super::median(column).unwrap_or(0.0);
            self.medians.push(median / std::f32::consts::LN_2);
        }
        self.background.clear();
        let medians = &self.medians;
        self.background.extend((0..bins).map(|k| {
            let near = &medians[k.saturating_sub(2)..(k + 3).min(bins)];
            near.iter().sum::<f32>() / near.len() as f32
        }));
    }

    /// The template's [`FineTemplate::steadiness`].
    pub fn steadiness(&self) -> f32 {
        self.template.steadiness
    }

    /// One past the last sample the score of an onset at sample `onset`
    /// reads: the window of its last frame at the latest onset shift
    /// and the slowest speed.
    pub fn window_end(&self, onset: f64) -> u64 {
        let frames = self.template.max_frames() + 2 * ONSET_SEARCH_FRAMES;
        let first_centre = onset.round() as i64 - (ONSET_SEARCH_FRAMES * FINE_HOP) as i64;
        let last_centre = first_centre + (frames.saturating_sub(1) * FINE_HOP) as i64;
        (last_centre + (FINE_WINDOW / 2) as i64).max(0) as u64
    }

    /// Whether the last score was the template's heard through a
    /// telephone's band: the dry and room looks scored lower. Such a
    /// repeat has lost the bands the telephone does not pass, and its
    /// loudness is measured within the band
    /// ([`Loudness::through_phone_band`](super::loudness::Loudness::through_phone_band)).
    pub fn heard_through_phone_band(&self) -> bool {
        self.through_band
    }

    /// One past the last sample pushed so far.
    pub fn received(&self) -> u64 {
        self.start + self.samples.len() as u64
    }

    /// Forgets the samples before `sample`.
    pub fn forget_before(&mut self, sample: u64) {
        let forget = sample
            .saturating_sub(self.start)
            .min(self.samples.len() as u64);
        self.samples.drain(..forget as usize);
        self.start += forget;
    }

    /// Copies samples `first..first + len` (absolute indices) into
    /// `span`: silence before the recording, past what has arrived and
    /// where forgotten.
    fn gather(&mut self, first: i64, len: usize) {
        self.span.clear();
        self.span.resize(len, 0.0);
        let start = self.start as i64;
        let from = first.max(start);
        let to = (first + len as i64).min(start + self.samples.len() as i64);
        if from < to {
            let kept = (from - start) as usize..(to - start) as usize;
            let at = (from - first) as usize;
            for (out, &sample) in self.span[at..].iter_mut().zip(self.samples.range(kept)) {
                *out = sample;
            }
        }
    }

    /// The fine score, in -1..=1, of a candidate whose sound starts at
    /// sample `onset`, reading no sample at or after `limit` (samples a
    /// stream may not have yet: beyond it the template's cells are left
    /// out, so the answer never depends on how the audio arrived).
    /// Samples before the recording's start are silence; samples already
    /// forgotten too (the caller keeps [`FineCheck::look_back`]).
    pub fn score(&mut self, onset: f64, limit: u64) -> f32 {
        self.score_with(None, onset, limit)
    }

    /// [`FineCheck::score`] of a candidate that another may follow
    /// before it ends, at sample `next`: the cells where that one's
    /// onset is louder than the template are left out. A true repeat
    /// overlapped by the next one keeps its own cells' detail, while a
    /// fresh attack in the cells after it looks like nothing the template
    /// holds and would drag its score down like a foreign sound's. (The
    /// cells that an earlier occurrence's copy covers stay in here; only
    /// [`FineCheck::score_after`] leaves them out, and only where the
    /// occurrences around the candidate alone would not explain what is
    /// left as well: leaving them out for every candidate let a ringing
    /// tail pass for a new occurrence. On the real-sound corpus, 30 cases
    /// per tier, found / false / missed against 3,271 / 85 / 92 tuning
    /// and 3,820 / 38 / 132 held-out, leaving them out without that test
    /// gave 3,276 / 96 / 87 and 3,829 / 41 / 123 (a boom's tail passed 9
    /// times in tuning/rapid/19). Measured earlier, against 3,269 / 85
    /// tuning and 3,845 / 40 held-out (found / false): with each copy at
    /// its measured loudness, 3,274 / 90 and 3,856 / 46; only where that
    /// copy's power rises 6 dB within 10 ms (a fresh attack inside it,
    /// such as a typewriter's second strike), 3,270 / 86 and 3,847 / 40.
    /// Leaving out the cells of every later peak in the window, not only
    /// the next: 3,272 / 85 and 3,848 / 42; the tuning sources' exact
    /// count fell by one or two cases, so it is not used. Nor is a
    /// test of the earlier copy's rest: scoring the window against the
    /// template's cells as a copy begun at the higher peak before would
    /// still sound in them, and rejecting the candidate where that
    /// scores at least as well as the template. Against 3,298 / 87
    /// tuning and 3,859 / 44 held-out, it gave 3,296 / 79 and
    /// 3,854 / 44: a pulse repeated inside a sound, in white noise,
    /// scores 0.80-0.87 either way. Scored over the rest's own cells, it
    /// lost 25 held-out repeats of sustained notes in rapid runs, whose
    /// rest matches their own later frames.)
    pub fn score_before(&mut self, onset: f64, limit: u64, next: Option<f64>) -> f32 {
        let uncovered = next.and_then(|next| {
            self.template
                .uncovered(((next - onset) / FINE_HOP as f64) as f32)
        });
        self.score_with(uncovered.as_ref(), onset, limit)
    }

    /// [`FineCheck::score_before`] of a candidate that an earlier
    /// occurrence, begun at sample `earlier`, may still sound over: where
    /// that score falls under `floor`, the candidate is scored again with
    /// the cells that the earlier one's copy is louder in left out too,
    /// as [`FineCheck::score_before`] leaves out the next one's, and the
    /// better score counts. A repeat begun a third of its length after
    /// the last keeps its own detail where it is the louder; where the
    /// last one's copy is, its rest looks to the template like another
    /// sound's.
    ///
    /// Leaving cells out lets the cells left agree more easily, so the
    /// second score counts only where it explains the window better than
    /// the occurrences around the candidate do alone: the earlier copy
    /// and the next one, with nothing between them, in silence, scored
    /// the same way at the candidate's onset. A template that repeats
    /// within itself (a double click, a digger's strokes) matches its
    /// neighbours' copies a stroke off once the cells they are louder in
    /// are gone, and a boom's rest matches its own decay; both score as
    /// well alone.
    ///
    /// On the real-sound corpus (30 cases per tier, found / false /
    /// missed) this took the held-out sources from 3,820 / 38 / 132 to
    /// 3,828 / 39 / 124 (exact count 86.7 to 87.3 %, rapid F1 0.928 to
    /// 0.933) and the tuning ones from 3,271 / 85 / 92 to 3,275 / 86 / 88
    /// (81.5 % either way); the synthetic corpus found 1 repeat more in
    /// each half. Without the neighbours' test, a boom's rest passed 9
    /// times on the tuning sources and the synthetic double clicks'
    /// partial matches counted again; with the earlier copy alone as the
    /// test, the double clicks' still did (the next copy holds the other
    /// half of the match). Such a candidate's correlation score is pulled
    /// down by the same overlap; letting it pass the threshold and the
    /// peer-score rule where this score reaches the vouch level found 5
    /// more held-out repeats for no false event, but 1 more tuning repeat
    /// for 4 false events (3,276 / 90 / 87, exact count 80.8 %): the
    /// neighbours' test hears the template's exact copies, and inside a
    /// varied "yipee" a syllable passed it. Asked only of candidates under
    /// the threshold (not of those under the peer scores), 3,833 / 39 /
    /// 119 and 3,276 / 89 / 87; with the neighbours' copies at each speed
    /// of [`SPEEDS`] in the test as well, the same. It is not used: the
    /// correlation score is measured instead against what an exact repeat
    /// keeps of it under the overlap
    /// ([`OVERLAP_SCORE_FLOOR`](super::decide::OVERLAP_SCORE_FLOOR)).
    pub fn score_after(
        &mut self,
        onset: f64,
        limit: u64,
        (earlier, next): (Option<f64>, Option<f64>),
        floor: f32,
    ) -> f32 {
        let alone = self.score_before(onset, limit, next);
        let Some(earlier) = earlier.filter(|&at| alone < floor && at < onset) else {
            return alone;
        };
        let offsets: Vec<f32> = std::iter::once(earlier)
            .chain(next)
            .map(|at| ((at - onset) / FINE_HOP as f64) as f32)
            .collect();
        let Some(uncovered) = self.template.uncovered_by(&offsets) else {
            return alone;
        };
        let through_band = self.through_band;
        let without_earlier = self.score_with(Some(&uncovered), onset, limit);
        if without_earlier <= alone
            || self.neighbours_alone(
                &uncovered,
                (onset - earlier).round() as usize,
                next.map(|next| (next - onset).round().max(0.0) as usize),
            ) >= without_earlier
        {
            self.through_band = through_band;
            return alone;
        }
        without_earlier
    }

    /// What the copy of an occurrence begun at sample `earlier` scores
    /// at `onset` on its own, in silence, as [`FineCheck::score_before`]
    /// scores a candidate there (the cells of the copy at `next` left
    /// out, and that copy laid in too): how much of a candidate's fine
    /// score the earlier occurrence explains alone. A template that
    /// repeats within itself (a digger's strokes) scores high a stroke
    /// after its own onset.
    pub fn score_of_earlier_alone(&mut self, onset: f64, earlier: f64, next: Option<f64>) -> f32 {
        if earlier >= onset {
            return f32::NEG_INFINITY;
        }
        let template = Arc::clone(&self.template);
        let uncovered =
            next.and_then(|next| template.uncovered(((next - onset) / FINE_HOP as f64) as f32));
        self.neighbours_alone(
            uncovered.as_ref().unwrap_or(&template),
            (onset - earlier).round() as usize,
            next.map(|next| (next - onset).round().max(0.0) as usize),
        )
    }

    /// The score against `masked` of an onset `lag` samples after a copy
    /// of the template, with another copy `next` samples after the onset
    /// where given, in silence: what the occurrences around a candidate
    /// score there with nothing new between them.
    fn neighbours_alone(&mut self, masked: &FineTemplate, lag: usize, next: Option<usize>) -> f32 {
        let (template, band) = (&self.template, &self.band_template);
        let check = self.alone.get_or_insert_with(|| {
            Box::new(FineCheck::sharing(Arc::clone(template), Arc::clone(band)))
        });
        check.samples.clear();
        check.start = 0;
        let onset = lag as f64;
        let limit = check.window_end(onset);
        // Only what the window reads: the next copy may begin past it.
        let mut copies = vec![0.0f32; limit as usize];
        for at in std::iter::once(0).chain(next.map(|next| lag + next)) {
            if let Some(rest) = copies.get_mut(at..) {
                for (c, s) in rest.iter_mut().zip(template.sound.iter()) {
                    *c += s;
                }
            }
        }
        check.push(&copies);
        check.score_with(Some(masked), onset, limit)
    }

    /// [`FineCheck::score_before`] against the template heard through a
    /// telephone's band alone, whatever the other looks score: whether
    /// the band explains a candidate at least as well as the template as
    /// recorded does, for a candidate whose dry look already passed.
    /// Leaves [`FineCheck::heard_through_phone_band`] as it was.
    pub fn score_through_phone_band(&mut self, onset: f64, limit: u64, next: Option<f64>) -> f32 {
        let band = Arc::clone(&self.band_template);
        let uncovered =
            next.and_then(|next| band.uncovered(((next - onset) / FINE_HOP as f64) as f32));
        let through_band = self.through_band;
        let score = self.score_with(Some(uncovered.as_ref().unwrap_or(&band)), onset, limit);
        self.through_band = through_band;
        score
    }

    /// The fine score against `masked` in place of the template when
    /// given.
    fn score_with(&mut self, masked: Option<&FineTemplate>, onset: f64, limit: u64) -> f32 {
        let search = ONSET_SEARCH_FRAMES as i64;
        let frames = self.template.max_frames() + 2 * ONSET_SEARCH_FRAMES;
        let first_centre = onset.round() as i64 - search * FINE_HOP as i64;
        let bins = self.template.bins;
        // Frames whose window reads no sample at or past `limit`.
        let usable = (0..frames)
            .take_while(|&j| first_centre + (j * FINE_HOP + FINE_WINDOW / 2) as i64 <= limit as i64)
            .count();
        let span = usable
            .checked_sub(1)
            .map_or(0, |last| last * FINE_HOP + FINE_WINDOW);
        self.gather(first_centre - (FINE_WINDOW / 2) as i64, span);
        self.powers.clear();
        for j in 0..usable {
            let samples = &self.span[j * FINE_HOP..j * FINE_HOP + FINE_WINDOW];
            self.spectrogram.frame_of(samples, &mut self.powers);
        }
        // Log power floored under the window's loudest cell (as
        // [`floored_log`]), in the cells the template reads only
        // (the template's `read_frames`); frames past `limit` hold 0, so
        // that every shift reads every cell, and add nothing where they
        // fall.
        let floor = log_floor(&self.powers);
        let zero = floor.ln();
        self.columns.clear();
        self.columns.resize(bins * frames, 0.0);
        for (k, column) in self.columns.chunks_exact_mut(frames).enumerate() {
            let read = usable.min(self.template.read_frames[k]);
            for (j, value) in column[..read].iter_mut().enumerate() {
                *value = (self.powers[j * bins + k] + floor).ln() - zero;
            }
        }
        // Compiled for the CPU's widest vectors (AVX2 where there is one:
        // nine shifts fill one register and a lane, not two and a lane);
        // the same operations in the same order, so the same bits.
        let template = masked.unwrap_or(&self.template);
        let (every_cell, through_band) = self.arch.dispatch(Alignment {
            dry: &template.variants,
            room: &template.room_variants,
            band: &template.band_variants,
            steadiness: template.steadiness,
            columns: &self.columns,
            frames,
            usable,
        });
        self.through_band = through_band;
        if every_cell >= BACKGROUND_LOOK_BELOW * template.steadiness {
            return every_cell;
        }
        self.measure_background(first_centre);
        // Borrowed again: measuring the background needed the check
        // whole.
        let template = masked.unwrap_or(&self.template);
        let Some(gain) = self.audible.measure(
            template,
            &self.powers,
            &self.background,
            usable,
            (&self.columns, frames, floor),
        ) else {
            return every_cell;
        };
        self.excess.clear();
        self.excess.resize(bins * frames, 0.0);
        for (k, column) in self.excess.chunks_exact_mut(frames).enumerate() {
            let background = self.background[k].max(floor);
            let read = usable.min(template.read_frames[k]);
            for (j, value) in column[..read].iter_mut().enumerate() {
                *value = over_background(self.powers[j * bins + k], background);
            }
        }
        let heard = |variants: &[Variant]| -> Vec<Variant> {
            variants
                .iter()
                .map(|variant| {
                    variant.heard_over(
                        &self.audible,
                        &self.background,
                        floor,
                        gain,
                        (&self.columns, frames),
                    )
                })
                .collect()
        };
        let (dry, room) = (heard(&template.variants), heard(&template.room_variants));
        // The telephone's band is not looked for here: with the band's
        // variants too, at a level and audible cells of their own, the
        // held-out sources found 4 repeats more for 2 false events more
        // and lost exact count (the module's doc).
        let (look, _) = self.arch.dispatch(Alignment {
            dry: &dry,
            room: &room,
            band: &[],
            steadiness: template.steadiness,
            columns: &self.excess,
            frames,
            usable,
        });
        if look > every_cell {
            self.through_band = false;
        }
        every_cell.max(look)
    }
}

/// A bin's power over the background's mean power there, as a natural
/// log: `ln(1 + power / background)`, 0 where nothing sounds over the
/// background and the log of the ratio where something does. The
/// background look compares the window's this way with a repeat's
/// ([`Variant::heard_over`]), each as the background would leave it
/// audible.
#[inline]
fn over_background(power: f32, background: f32) -> f32 {
    (1.0 + power / background).ln()
}

/// The fine score of a window's log power `columns` (bin by bin,
/// `frames` each, the first `usable` of them read) against a template:
/// the dry template's best alignment, the room's where that falls short,
/// and the telephone band's where both do; with whether the band's gave
/// the score.
struct Alignment<'a> {
    /// The template's variants as recorded.
    dry: &'a [Variant],
    /// The same heard in a room.
    room: &'a [Variant],
    /// The same heard through a telephone's band.
    band: &'a [Variant],
    /// The template's [`FineTemplate::steadiness`].
    steadiness: f32,
    columns: &'a [f32],
    frames: usize,
    usable: usize,
}

impl pulp::WithSimd for Alignment<'_> {
    type Output = (f32, bool);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> (f32, bool) {
        let Alignment {
            dry,
            room,
            band,
            steadiness,
            columns,
            frames,
            usable,
        } = self;
        let dry = best_alignment(dry, columns, frames, usable);
        if dry >= ROOM_LOOK_BELOW * steadiness {
            return (dry, false);
        }
        let best = dry.max(best_alignment(room, columns, frames, usable));
        if band.is_empty() || best >= ROOM_LOOK_BELOW * steadiness {
            return (best, false);
        }
        let through_band = best_alignment(band, columns, frames, usable);
        (best.max(through_band), through_band > best)
    }
}

/// The best correlation of any of `variants` at any onset shift with a
/// window's `columns` (bin by bin, `frames` each, the first `usable` of
/// them read). Inlined into its caller's SIMD dispatch.
#[inline(always)]
fn best_alignment(variants: &[Variant], columns: &[f32], frames: usize, usable: usize) -> f32 {
    let mut best = -1.0f32;
    for variant in variants {
        // Each onset shift sums over the cells in the same order: the
        // shifts run side by side, cell by cell, rather than one after
        // the other.
        let (mut dot, mut sum, mut squares) =
            ([0.0f32; SHIFTS], [0.0f32; SHIFTS], [0.0f32; SHIFTS]);
        for (&(j, k), &a) in variant.cells.iter().zip(&variant.values) {
            let at = k as usize * frames + j as usize;
            let b = &columns[at..at + SHIFTS];
            for s in 0..SHIFTS {
                dot[s] += a * b[s];
                sum[s] += b[s];
                squares[s] += b[s] * b[s];
            }
        }
        // The cells each shift reads before `limit` (cells come in
        // frame order); past it the window holds 0, which adds nothing
        // to its sums.
        let read: [usize; SHIFTS] = std::array::from_fn(|s| {
            variant
                .cells
                .partition_point(|&(j, _)| (j as usize) + s < usable)
        });
        for s in 0..SHIFTS {
            // Too few cells left to say anything: a candidate at the
            // very end of a recording.
            if read[s] < variant.cells.len() / 2 {
                continue;
            }
            let own = if read[s] == variant.cells.len() {
                variant.own
            } else {
                OwnSums::of(&variant.values[..read[s]])
            };
            if let Some(score) = own.correlation(dot[s], sum[s], squares[s]) {
                best = best.max(score);
            }
        }
    }
    best
}

/// Which of a template's cells the background look compares: those a
/// repeat at the window's level stands [`AUDIBLE_MARGIN_DB`] over the
/// background in, and those where the window stands
/// [`FOREIGN_OVER_BACKGROUND_DB`] over it.
#[derive(Debug, Default)]
struct Audibility {
    /// Per bin: the lowest template level ([`Variant::levels`]) a repeat
    /// at the window's level is audible at.
    lowest: Vec<f32>,
    /// Per bin: the window's log power (as the check's columns) from
    /// which a cell holds something foreign.
    foreign: Vec<f32>,
}

impl Audibility {
    /// Whether cell `index` of `variant` is compared, given the window's
    /// log power `columns` (bin by bin, `frames` each).
    fn counts(&self, variant: &Variant, index: usize, columns: &[f32], frames: usize) -> bool {
        let (j, k) = variant.cells[index];
        let k = k as usize;
        variant.levels[index] >= self.lowest[k]
            || columns[k * frames + j as usize + ONSET_SEARCH_FRAMES] >= self.foreign[k]
    }

    /// Measures which cells to compare, and returns the window's level:
    /// the gain on the template that explains the window's power over
    /// `background` (power per bin), in the template's cells at speed 1
    /// and the correlation's onset. `None` (compare every cell as it
    /// is) where the background is silent, where the window holds
    /// nothing over it, or where under [`MIN_AUDIBLE_SHARE`] of the
    /// cells would be compared.
    fn measure(
        &mut self,
        template: &FineTemplate,
        powers: &[f32],
        background: &[f32],
        usable: usize,
        (columns, frames, floor): (&[f32], usize, f32),
    ) -> Option<f32> {
        let bins = template.bins;
        if background.iter().all(|&b| b <= 0.0) {
            return None;
        }
        let nominal = template.variants.iter().find(|v| v.speed == 1.0)?;
        let (mut over, mut own) = (0.0f32, 0.0f32);
        for (&(j, k), &level) in nominal.cells.iter().zip(&nominal.levels) {
            let frame = j as usize + ONSET_SEARCH_FRAMES;
            if frame < usable {
                over += powers[frame * bins + k as usize] - background[k as usize];
                own += level.exp();
            }
        }
        if over <= 0.0 || own <= 0.0 {
            return None;
        }
        let gain = over / own;
        let margin = 10f32.powf(AUDIBLE_MARGIN_DB / 10.0);
        self.lowest.clear();
        self.lowest.extend(
            background
                .iter()
                .map(|&b| (margin * b / gain).max(1e-30).ln()),
        );
        let loud = 10f32.powf(FOREIGN_OVER_BACKGROUND_DB / 10.0);
        let zero = floor.ln();
        self.foreign.clear();
        self.foreign
            .extend(background.iter().map(|&b| (loud * b + floor).ln() - zero));
        let audible = (0..nominal.cells.len())
            .filter(|&index| self.counts(nominal, index, columns, frames))
            .count();
        (audible as f32 >= MIN_AUDIBLE_SHARE * nominal.cells.len() as f32).then_some(gain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freqs: &[f32], seconds: f32) -> Vec<f32> {
        let n = (seconds * ANALYSIS_RATE as f32) as usize;
        (0..n)
            .map(|i| {
                let t = i as f32 / ANALYSIS_RATE as f32;
                let envelope = (-t * 8.0).exp() * (t * 400.0).min(1.0);
                freqs
                    .iter()
                    .map(|f| (std::f32::consts::TAU * f * t).sin())
                    .sum::<f32>()
                    * envelope
                    * 0.2
            })
            .collect()
    }

    fn scored(template: &[f32], recording: &[f32], onset: usize) -> f32 {
        let mut check = FineCheck::new(FineTemplate::new(template, 7_600.0).unwrap());
        check.push(recording);
        check.score(onset as f64, recording.len() as u64)
    }

    /// The fine score as defined, one variant and onset shift at a
    /// time over a spectrogram of every bin: [`FineCheck::score`] must
    /// give it to the bit.
    fn plain_score(check: &mut FineCheck, onset: f64, limit: u64) -> f32 {
        let template = check.template.clone();
        plain_score_against(check, &template, onset, limit)
    }

    /// [`plain_score`] against `template` in place of the check's own.
    fn plain_score_against(
        check: &mut FineCheck,
        template: &FineTemplate,
        onset: f64,
        limit: u64,
    ) -> f32 {
        let frames = template.max_frames() + 2 * ONSET_SEARCH_FRAMES;
        let first_centre = onset.round() as i64 - (ONSET_SEARCH_FRAMES * FINE_HOP) as i64;
        let usable = (0..frames)
            .take_while(|&j| first_centre + (j * FINE_HOP + FINE_WINDOW / 2) as i64 <= limit as i64)
            .count();
        let mut spectrogram = Spectrogram::new(template.bins);
        let mut raw = Vec::new();
        for j in 0..usable {
            spectrogram.frame(
                first_centre + (j * FINE_HOP) as i64,
                |i| {
                    usize::try_from(i - check.start as i64)
                        .ok()
                        .and_then(|i| check.samples.get(i))
                        .copied()
                        .unwrap_or(0.0)
                },
                &mut raw,
            );
        }
        let mut powers = raw.clone();
        floored_log(&mut powers);
        let bins = template.bins;
        let dry = plain_best(&template.variants, &powers, bins, usable);
        let every_cell = if dry >= ROOM_LOOK_BELOW * template.steadiness {
            dry
        } else {
            let best = dry.max(plain_best(&template.room_variants, &powers, bins, usable));
            if best >= ROOM_LOOK_BELOW * template.steadiness {
                best
            } else {
                best.max(plain_best(&template.band_variants, &powers, bins, usable))
            }
        };
        if every_cell >= BACKGROUND_LOOK_BELOW * template.steadiness {
            return every_cell;
        }
        // The cells audible over the background, by the check's own
        // measure of it and the same thresholds.
        check.measure_background(first_centre);
        let mut columns = vec![0.0f32; bins * frames];
        for k in 0..bins {
            for j in 0..usable.min(template.read_frames[k]) {
                columns[k * frames + j] = powers[j * bins + k];
            }
        }
        let mut audibility = Audibility::default();
        let floor = log_floor(&raw);
        let Some(gain) = audibility.measure(
            template,
            &raw,
            &check.background,
            usable,
            (&columns, frames, floor),
        ) else {
            return every_cell;
        };
        // The window's excess over the background against a repeat's at
        // the window's level, over the cells that count.
        let plain_look = |variants: &[Variant]| {
            let mut best = -1.0f32;
            for variant in variants {
                let counted: Vec<usize> = (0..variant.cells.len())
                    .filter(|&index| audibility.counts(variant, index, &columns, frames))
                    .collect();
                for shift in 0..SHIFTS {
                    let (mut dot, mut sum, mut squares) = (0.0f32, 0.0f32, 0.0f32);
                    let (mut own, mut n) = (OwnSums::default(), 0);
                    for &index in &counted {
                        let (j, k) = variant.cells[index];
                        let frame = shift + j as usize;
                        if frame >= usable {
                            continue;
                        }
                        n += 1;
                        let background = check.background[k as usize].max(floor);
                        let a = over_background(gain * variant.levels[index].exp(), background);
                        let b = over_background(raw[frame * bins + k as usize], background);
                        dot += a * b;
                        sum += b;
                        squares += b * b;
                        own.add(a);
                    }
                    if n < counted.len() / 2 {
                        continue;
                    }
                    if let Some(score) = own.correlation(dot, sum, squares) {
                        best = best.max(score);
                    }
                }
            }
            best
        };
        let dry = plain_look(&template.variants);
        let look = if dry >= ROOM_LOOK_BELOW * template.steadiness {
            dry
        } else {
            dry.max(plain_look(&template.room_variants))
        };
        every_cell.max(look)
    }

    /// The best of `variants` at every onset shift over a spectrogram's
    /// log power (`bins` per frame, `usable` frames), over the cells that
    /// count by `audible` (thresholds and the window bin by bin) if given.
    fn plain_best(variants: &[Variant], powers: &[f32], bins: usize, usable: usize) -> f32 {
        let mut best = -1.0f32;
        for variant in variants {
            for shift in 0..SHIFTS {
                let (mut dot, mut sum, mut squares) = (0.0f32, 0.0f32, 0.0f32);
                let (mut own, mut n) = (OwnSums::default(), 0);
                for (&(j, k), &a) in variant.cells.iter().zip(&variant.values) {
                    let frame = shift + j as usize;
                    if frame >= usable {
                        continue;
                    }
                    n += 1;
                    let b = powers[frame * bins + k as usize];
                    dot += a * b;
                    sum += b;
                    squares += b * b;
                    own.add(a);
                }
                if n < variant.cells.len() / 2 {
                    continue;
                }
                if let Some(score) = own.correlation(dot, sum, squares) {
                    best = best.max(score);
                }
            }
        }
        best
    }

    #[test]
    fn the_score_is_the_plain_definition_to_the_bit() {
        let login = tone(&[660.0, 880.0, 1_320.0], 0.4);
        let mut rng = crate::synth::rng(3);
        let mut recording: Vec<f32> = crate::synth::pink(40_000, &mut rng)
            .into_iter()
            .map(|s| s * 0.05)
            .collect();
        for (r, t) in recording[9_000..]
            .iter_mut()
            .zip(&crate::synth::speed(&login, 0.97))
        {
            *r += t;
        }
        let mut check = FineCheck::new(FineTemplate::new(&login, 7_600.0).unwrap());
        check.push(&recording);
        check.forget_before(2_000);
        // Onsets before the recording, across forgotten samples, on the
        // sound, and near the end; limits that cut frames off or none.
        for onset in [
            -300.0, 1_000.4, 8_950.0, 9_000.0, 9_037.6, 20_000.0, 39_000.0,
        ] {
            for limit in [0, 9_500, 12_000, 15_000, 40_000, 60_000] {
                let fast = check.score(onset, limit);
                let plain = plain_score(&mut check, onset, limit);
                assert_eq!(
                    fast.to_bits(),
                    plain.to_bits(),
                    "onset {onset}, limit {limit}"
                );
                // With the cells of a copy 0.1 s later left out.
                let masked = check.template.uncovered(20.0).unwrap();
                let fast = check.score_before(onset, limit, Some(onset + 1_600.0));
                let plain = plain_score_against(&mut check, &masked, onset, limit);
                assert_eq!(
                    fast.to_bits(),
                    plain.to_bits(),
                    "onset {onset}, limit {limit}, before the next"
                );
            }
        }
    }

    #[test]
    fn an_exact_copy_scores_one_and_a_sibling_far_less() {
        let login = tone(&[660.0, 880.0, 1_320.0], 0.4);
        let logout = tone(&[620.0, 930.0, 1_240.0], 0.4);
        let mut recording = vec![0.0f32; 4_000];
        recording.extend(&login);
        recording.extend(vec![0.0f32; 4_000]);
        assert!(scored(&login, &recording, 4_000) > 0.99);
        let mut other = vec![0.0f32; 4_000];
        other.extend(&logout);
        other.extend(vec![0.0f32; 4_000]);
        let sibling = scored(&login, &other, 4_000);
        assert!(sibling < 0.8, "{sibling}");
    }

    /// Digital silence, and a window of one steady level, hold no shape:
    /// a correlation with them is rounding error, and must be no score.
    #[test]
    fn silence_and_a_flat_window_score_nothing() {
        let login = tone(&[660.0, 880.0, 1_320.0], 0.4);
        for level in [0.0f32, 1e-3] {
            let flat = vec![level; 16_000];
            let score = scored(&login, &flat, 4_000);
            assert!(score <= 0.0, "level {level}: {score}");
        }
    }

    #[test]
    fn a_repeat_three_percent_faster_still_scores_high() {
        let login = tone(&[660.0, 880.0, 1_320.0], 0.4);
        let faster = crate::synth::speed(&login, 1.03);
        let mut recording = vec![0.0f32; 4_000];
        recording.extend(&faster);
        recording.extend(vec![0.0f32; 4_000]);
        let score = scored(&login, &recording, 4_000);
        assert!(score > 0.9, "{score}");
    }

    #[test]
    fn a_repeat_cut_short_by_the_next_keeps_its_score_and_a_sibling_does_not_gain() {
        let login = tone(&[660.0, 880.0, 1_320.0], 0.4);
        let logout = tone(&[620.0, 930.0, 1_240.0], 0.4);
        // `first` at 4,000 samples, and a louder login 0.15 s later,
        // while the first still sounds.
        let overlapped = |first: &[f32]| {
            let mut recording = vec![0.0f32; 16_000];
            for (r, s) in recording[4_000..].iter_mut().zip(first) {
                *r += s;
            }
            for (r, s) in recording[6_400..].iter_mut().zip(&login) {
                *r += 2.0 * s;
            }
            recording
        };
        let scores = |recording: &[f32]| {
            let mut check = FineCheck::new(FineTemplate::new(&login, 7_600.0).unwrap());
            check.push(recording);
            let limit = recording.len() as u64;
            (
                check.score(4_000.0, limit),
                check.score_before(4_000.0, limit, Some(6_400.0)),
            )
        };
        let (whole, before_next) = scores(&overlapped(&login));
        assert!(
            before_next > 0.95 && before_next > whole + 0.05,
            "whole {whole}, before the next {before_next}"
        );
        let (_, sibling) = scores(&overlapped(&logout));
        assert!(sibling < 0.8, "{sibling}");
    }

    /// Noise, seeded, in 0.1 s at a tenth of its level and then 0.2 s
    /// whole, fading: a sound whose later part is the louder (a hiss and
    /// then a strike), so that a copy begun before a repeat covers its
    /// beginning.
    fn hiss_then_strike(seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..4_800)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                let level = if i < 1_600 {
                    0.1
                } else {
                    1.0 - (i - 1_600) as f32 / 3_400.0
                };
                noise * level
            })
            .collect()
    }

    #[test]
    fn a_repeat_under_the_last_ones_copy_keeps_its_score_and_the_copys_rest_does_not_gain() {
        let sound = hiss_then_strike(1);
        let other = hiss_then_strike(2);
        // `sound` at 4,000 samples, and `second` 0.1 s later, its hiss
        // under the first one's strike.
        let overlapped = |second: &[f32]| {
            let mut recording = vec![0.0f32; 16_000];
            for (r, s) in recording[4_000..].iter_mut().zip(&sound) {
                *r += s;
            }
            for (r, s) in recording[5_600..].iter_mut().zip(second) {
                *r += s;
            }
            recording
        };
        let scores = |recording: &[f32], floor: f32| {
            let mut check = FineCheck::new(FineTemplate::new(&sound, 7_600.0).unwrap());
            check.push(recording);
            let limit = recording.len() as u64;
            let before = check.score_before(5_600.0, limit, None);
            let after = check.score_after(5_600.0, limit, (Some(4_000.0), None), floor);
            (before, after)
        };
        let (before, after) = scores(&overlapped(&sound), 2.0);
        assert!(after > before + 0.05, "before {before}, after {after}");
        let (_, another) = scores(&overlapped(&other), 2.0);
        assert!(another < after - 0.3, "{another} against {after}");
        // The first copy's rest alone, with nothing new: the cells left
        // out do not lift it.
        let (before, rest) = scores(&overlapped(&[]), 2.0);
        assert_eq!(rest, before);
        // Over the floor, no cell is left out.
        let (before, after) = scores(&overlapped(&sound), -1.0);
        assert_eq!(after, before);
    }

    /// The score of an onset 4,000 samples into `recording` against
    /// `template` with `variants` as its only look.
    fn score_alone(template: &FineTemplate, variants: &[Variant], recording: &[f32]) -> f32 {
        let mut only = template.clone();
        only.variants = variants.to_vec();
        only.room_variants.clear();
        only.band_variants.clear();
        let mut check = FineCheck::new(only);
        check.push(recording);
        check.score(4_000.0, recording.len() as u64)
    }

    #[test]
    fn the_template_in_a_room_finds_a_repeat_heard_across_one() {
        // Short notes with gaps: the room fills the gaps and the decays.
        let mut chime = Vec::new();
        for note in [660.0, 990.0, 784.0, 1_320.0, 880.0] {
            chime.extend(tone(&[note, 2.0 * note], 0.06));
            chime.extend(vec![0.0f32; 640]);
        }
        let mut rng = crate::synth::rng(5);
        let far = crate::synth::reverb(&chime, 0.5, 0.3, ANALYSIS_RATE, &mut rng);
        let mut recording = vec![0.0f32; 4_000];
        recording.extend(&far);
        recording.extend(vec![0.0f32; 4_000]);
        let template = FineTemplate::new(&chime, 7_600.0).unwrap();
        let score_with = |variants: &[Variant]| score_alone(&template, variants, &recording);
        let dry = score_with(&template.variants);
        let in_room = score_with(&template.room_variants);
        assert!(in_room > dry + 0.05, "dry {dry}, in a room {in_room}");
    }

    #[test]
    fn the_template_through_a_telephone_band_finds_a_repeat_heard_through_one() {
        // A punch on a bag: most of its power lies under 300 Hz, where
        // the band takes 10-30 dB off, and a telephone keeps its
        // attack's detail.
        let punch = |seed| {
            crate::synth::sound(
                crate::synth::SoundKind::Thump,
                ANALYSIS_RATE,
                &mut crate::synth::rng(seed),
            )
        };
        let in_recording = |sound: &[f32]| {
            let mut heard = sound.to_vec();
            crate::synth::phone_band(&mut heard, ANALYSIS_RATE);
            let mut recording = vec![0.0f32; 4_000];
            recording.extend(&heard);
            recording.extend(vec![0.0f32; 4_000]);
            recording
        };
        let recording = in_recording(&punch(7));
        let template = FineTemplate::new(&punch(7), 7_600.0).unwrap();
        let score_with = |variants: &[Variant]| score_alone(&template, variants, &recording);
        let dry = score_with(&template.variants);
        let through_band = score_with(&template.band_variants);
        assert!(
            through_band > dry + 0.05,
            "dry {dry}, through the band {through_band}"
        );
        let mut check = FineCheck::new(template.clone());
        check.push(&recording);
        let whole = check.score(4_000.0, recording.len() as u64);
        assert!(whole >= through_band, "{whole} against {through_band}");
        // Another punch, through the same band, gains nothing like it.
        let sibling = in_recording(&punch(8));
        let mut check = FineCheck::new(template);
        check.push(&sibling);
        let other = check.score(4_000.0, sibling.len() as u64);
        assert!(other < whole - 0.2, "sibling {other}, repeat {whole}");
    }
}
