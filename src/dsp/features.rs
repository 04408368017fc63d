//! The representation the engine matches on: mel-band energies relative to
//! each band's noise floor, on a log scale.
//!
//! Raw waveforms stop matching when an instance is a few percent faster or
//! higher, reverberant or noisy; short-time band energies on a mel scale do
//! not. Bands stop at the bandwidth both signals share, so a template recorded
//! at 44.1 kHz still matches a recording made at 8 kHz.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex;

use crate::audio::ANALYSIS_RATE;

/// The features' time–frequency resolution: how many 16 kHz samples each
/// analysis window spans and how many lie between frames.
///
/// One resolution cannot serve every sound. Repeats a third of a 45 ms key
/// click apart are 15 ms apart: 10 ms frames of 32 ms windows blur them into
/// one, while a 300 ms sound a few percent faster than its template drifts
/// by several 2.5 ms frames, which breaks its correlation. So the frame
/// follows the template's length ([`Resolution::for_sound_s`]): the sound
/// always spans enough frames to separate close repeats, and few enough that
/// a ±4 % change of speed shifts its end by about a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    /// Samples per analysis window (a power of two).
    pub window: usize,
    /// Samples between frames: the time resolution before sub-frame
    /// refinement.
    pub hop: usize,
}

impl Resolution {
    /// 32 ms windows every 10 ms: for sounds of 100 ms and more.
    pub const STANDARD: Resolution = Resolution {
        window: 512,
        hop: 160,
    };
    /// 16 ms windows every 2.5 ms: for sounds under [`FINE_BELOW_S`].
    /// 5 ms frames for sounds of 100–250 ms lost on the synthetic accuracy
    /// corpus (20 cases per tier: 78.9 % exact against 82.7 %; rapid
    /// thumps gained, chirps and double clicks lost more), and for
    /// 100–300 ms too (83.8 % against 86.5 %).
    pub const FINE: Resolution = Resolution {
        window: 256,
        hop: 40,
    };

    /// The resolution for a sound that lasts `seconds` (its active frames
    /// at the standard resolution, see [`Resolution`]).
    pub fn for_sound_s(seconds: f64) -> Resolution {
        if seconds < FINE_BELOW_S {
            Resolution::FINE
        } else {
            Resolution::STANDARD
        }
    }

    /// Seconds per frame.
    pub fn frame_seconds(self) -> f64 {
        self.hop as f64 / f64::from(ANALYSIS_RATE)
    }

    /// Whole frames in `seconds` (rounded, at least one).
    pub fn frames(self, seconds: f64) -> usize {
        ((seconds / self.frame_seconds()).round() as usize).max(1)
    }
}

/// Sounds shorter than this get [`Resolution::FINE`]: key clicks and
/// slaps, whose repeats can come 15 ms apart. On the real-sound corpus
/// (30 cases per tier, found / false / missed, against held-out
/// 3,843 / 36 / 109, 89.9 % exact) 0.07 s gave 3,839 / 38 / 113 and
/// 0.15 s 3,847 / 41 / 105 (89.6 % either way); the tuning sources
/// counted the same at both.
pub const FINE_BELOW_S: f64 = 0.1;

/// Mel bands per frame.
pub const BANDS: usize = 40;
/// Lowest band edge (Hz): below it there is mostly hum and handling noise.
const MIN_FREQUENCY: f32 = 60.0;
/// Highest band edge (Hz) at the analysis rate.
pub const MAX_FREQUENCY_HZ: f32 = 7_600.0;
/// Power added before compression so digital silence stays finite: far below
/// the quietest recording, -100 dB relative to a full-scale sine per band.
const POWER_FLOOR: f32 = 1e-10;

/// The mel filterbank for one bandwidth: which FFT bins feed each band.
#[derive(Debug, Clone)]
pub struct BandLayout {
    resolution: Resolution,
    bands: Vec<(usize, Vec<f32>)>,
    /// Each band's centre frequency (Hz).
    centres: Vec<f32>,
}

impl BandLayout {
    /// Bands from 60 Hz up to the highest frequency both signals carry:
    /// 45 % of the lower of the two original rates (90 % of its Nyquist),
    /// capped at 7.6 kHz, for frames of `resolution`.
    pub fn for_rates(rate_a: u32, rate_b: u32, resolution: Resolution) -> BandLayout {
        BandLayout::new(
            MIN_FREQUENCY,
            BandLayout::top_hz(rate_a, rate_b),
            resolution,
        )
    }

    /// The highest frequency signals at `rate_a` and `rate_b` both carry:
    /// 45 % of the lower rate (90 % of its Nyquist), at most 7.6 kHz.
    pub fn top_hz(rate_a: u32, rate_b: u32) -> f32 {
        (0.45 * rate_a.min(rate_b) as f32).min(MAX_FREQUENCY_HZ)
    }

    /// The resolution of the frames these bands are made from.
    pub fn resolution(&self) -> Resolution {
        self.resolution
    }

    /// Each band's centre frequency (Hz), lowest first.
    pub fn centres_hz(&self) -> &[f32] {
        &self.centres
    }

    fn new(low: f32, high: f32, resolution: Resolution) -> BandLayout {
        let window = resolution.window;
        let mel = |f: f32| 2595.0 * (1.0 + f / 700.0).log10();
        let hz = |m: f32| 700.0 * (10f32.powf(m / 2595.0) - 1.0);
        let (mel_low, mel_high) = (mel(low), mel(high));
        let edges: Vec<f32> = (0..BANDS + 2)
            .map(|i| hz(mel_low + (mel_high - mel_low) * i as f32 / (BANDS + 1) as f32))
            .collect();
        let bin_hz = ANALYSIS_RATE as f32 / window as f32;
        let bands = (0..BANDS)
            .map(|b| {
                let (left, centre, right) = (edges[b], edges[b + 1], edges[b + 2]);
                let first = (left / bin_hz).floor() as usize;
                let last = ((right / bin_hz).ceil() as usize).min(window / 2);
                let mut weights: Vec<f32> = (first..=last)
                    .map(|bin| {
                        let f = bin as f32 * bin_hz;
                        if f <= centre {
                            (f - left) / (centre - left)
                        } else {
                            (right - f) / (right - centre)
                        }
                        .max(0.0)
                    })
                    .collect();
                // Narrow low bands may fall between bins: give them the
                // nearest bin so no band is always empty.
                if weights.iter().all(|&w| w == 0.0) {
                    let nearest = (centre / bin_hz).round() as usize;
                    return (nearest, vec![1.0]);
                }
                let total: f32 = weights.iter().sum();
                weights.iter_mut().for_each(|w| *w /= total);
                (first, weights)
            })
            .collect();
        let centres = edges[1..=BANDS].to_vec();
        BandLayout {
            resolution,
            bands,
            centres,
        }
    }
}

/// Turns 16 kHz samples, pushed in pieces of any size, into feature frames.
///
/// Frame `i` covers samples `i·hop .. i·hop + window` of its layout's
/// [`Resolution`]; only whole frames
/// are emitted, and output never depends on how the samples were cut.
pub struct FeatureExtractor {
    layout: BandLayout,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    samples: Vec<f32>,
    /// Absolute index of `samples[0]`.
    samples_start: u64,
    frames_emitted: u64,
    total_samples: u64,
    fft_in: Vec<f32>,
    fft_out: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    /// The power spectra of up to [`FRAME_LANES`] frames, bin by bin (the
    /// frames of one bin side by side).
    power: Vec<f32>,
}

/// Frames whose band energies are summed side by side: each band's sum
/// runs over its bins in the same order for every frame, so the frames
/// fill vector lanes where one frame alone would wait on each addition.
/// Eight fill two SSE registers (or one AVX one); the spectra of eight
/// 512-point frames (2 kB each) stay in the first-level cache.
const FRAME_LANES: usize = 8;

impl FeatureExtractor {
    /// An extractor with the given band layout.
    pub fn new(layout: BandLayout) -> FeatureExtractor {
        let size = layout.resolution.window;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(size);
        let window = (0..size)
            .map(|i| {
                let phase = 2.0 * std::f32::consts::PI * i as f32 / size as f32;
                0.5 - 0.5 * phase.cos()
            })
            .collect();
        FeatureExtractor {
            layout,
            fft_in: fft.make_input_vec(),
            fft_out: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            window,
            samples: Vec::new(),
            samples_start: 0,
            frames_emitted: 0,
            total_samples: 0,
            power: vec![0.0; (size / 2 + 1) * FRAME_LANES],
        }
    }

    /// Frames emitted so far.
    pub fn frames_emitted(&self) -> u64 {
        self.frames_emitted
    }

    /// Adds samples; appends `BANDS` linear band powers per completed frame
    /// to `out` (see [`RunningFloor`] and [`FixedFloor`] for the features).
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        self.total_samples += input.len() as u64;
        self.samples.extend_from_slice(input);
        self.emit_ready(out);
    }

    /// Ends the signal. Only whole frames are ever emitted: padding the last
    /// ones with silence would make every recording end in a fade, which
    /// correlates with the decay of any sound (a false event just before the
    /// end). Every whole frame was already emitted by [`push`](Self::push),
    /// so nothing is left to do but drop the partial remainder.
    pub fn finish(&mut self, _out: &mut Vec<f32>) {
        self.samples.clear();
    }

    fn emit_ready(&mut self, out: &mut Vec<f32>) {
        let Resolution { window, hop } = self.layout.resolution;
        let mut offset = (self.frames_emitted * hop as u64 - self.samples_start) as usize;
        while offset + window <= self.samples.len() {
            let frames = ((self.samples.len() - offset - window) / hop + 1).min(FRAME_LANES);
            for lane in 0..frames {
                self.spectrum(offset + lane * hop, lane);
            }
            self.bands(frames, out);
            self.frames_emitted += frames as u64;
            offset += frames * hop;
        }
        self.samples.drain(..offset);
        self.samples_start += offset as u64;
    }

    /// The power spectrum of the frame at `offset` into lane `lane` of
    /// `power`.
    fn spectrum(&mut self, offset: usize, lane: usize) {
        let frame = &self.samples[offset..offset + self.layout.resolution.window];
        for ((dst, &s), &w) in self.fft_in.iter_mut().zip(frame).zip(&self.window) {
            *dst = s * w;
        }
        // Lengths are fixed by construction, so the FFT cannot fail.
        let _ =
            self.fft
                .process_with_scratch(&mut self.fft_in, &mut self.fft_out, &mut self.scratch);
        for (bin, c) in self.power.chunks_exact_mut(FRAME_LANES).zip(&self.fft_out) {
            bin[lane] = c.norm_sqr();
        }
    }

    /// Appends the band energies of the first `frames` lanes of `power`,
    /// frame by frame. Each band sums its bins in order, from the lowest.
    fn bands(&self, frames: usize, out: &mut Vec<f32>) {
        let start = out.len();
        out.resize(start + frames * BANDS, 0.0);
        for (b, (first, weights)) in self.layout.bands.iter().enumerate() {
            let mut energy = [0.0f32; FRAME_LANES];
            for (&w, bin) in weights
                .iter()
                .zip(self.power[first * FRAME_LANES..].chunks_exact(FRAME_LANES))
            {
                for (e, &p) in energy.iter_mut().zip(bin) {
                    *e += w * p;
                }
            }
            for (lane, &e) in energy[..frames].iter().enumerate() {
                out[start + lane * BANDS + b] = e;
            }
        }
    }
}

/// Seconds over which the recording's noise floor is tracked. Dense
/// repeats of a decaying sound never fall back to the noise in between:
/// over a 2 s window the floor climbed onto the repeats themselves and
/// flattened them (rapid-repeat F1 0.88 → 0.92 with 10 s).
pub const FLOOR_WINDOW_S: f64 = 10.0;
/// Seconds past the template's length over which the floor is first
/// measured at a recording's start, before any frame is scored there. A
/// causal floor starts at the first frame's power, so a sound that opens
/// the recording (a user who starts recording and presses the key at
/// once, or a template counted in its own file) stood at its own floor
/// and counted nothing. The floor there is the quietest the recording
/// shows over the template's length and this much more: the sound, and
/// what follows it. Counted in their own files, the 300 installed real
/// sounds that then made a template counted once 294 times at 0 and
/// 0.25 s, 293 at 1 s and 291 at 3 s (a longer stretch reaches quieter
/// audio, and a floor under the background lets a second swell count); 0.25 s
/// leaves room for a little background after a sound cut tight. A
/// stream's first decisions wait that long (its first events wait
/// [`PROBATION_S`](super::probation::PROBATION_S) anyway).
pub const START_FLOOR_S: f64 = 0.25;
/// Seconds of power averaged before the floor's minimum is taken, so that
/// one unusually quiet frame does not pull the floor down.
const FLOOR_SMOOTHING_S: f64 = 0.03;
/// How fast (dB per second) the floor may rise: it follows a falling
/// minimum at once, a rising one at most this fast. In dense repeats the
/// window's minimum jumps by 20-30 dB in one frame when the silence before
/// the first repeat leaves the window, every feature drops at once, and
/// the repeat there was judged on features that step in its middle (rapid
/// rings lost one occurrence each 10 s after their first). 3 dB/s spreads
/// such a jump over about the window's length; stationary noise, present
/// from the start, never meets the limit. Swept on the synthetic accuracy
/// corpus (cases 0–99): rapid was 53 % exact with no limit, 63 / 63 / 62 /
/// 59 % at 1 / 2 / 3 / 10 dB/s, the other tiers unchanged at 3; 3 is the
/// slowest of these that absorbs a 30 dB jump within the 10 s window.
pub const FLOOR_RISE_DB_PER_S: f64 = 3.0;
/// The floor is this multiple of the minimum (≈3 dB, the usual bias
/// correction of minimum statistics), so most of the noise's own
/// fluctuation falls below it. On the synthetic accuracy corpus, with a
/// 2 s floor window, 2 did worse than 1 (F1 at the best threshold 0.933
/// against 0.937, 6 cases per tier); with the 10 s window and onset
/// channels it did better (F1 0.966 against 0.965, snr0 0.83 against
/// 0.81; 20 cases per tier).
const FLOOR_MARGIN: f32 = 2.0;

/// Turns a band power into a feature against that band's noise floor:
/// `ln(power / floor)` where the band stands above its floor, 0 elsewhere.
///
/// A gain change scales power and floor alike, so features do not depend on
/// loudness; stationary noise sits at its floor, so it adds nothing.
///
/// The log is taken only where the ratio exceeds 1: elsewhere it is at
/// most 0 and the feature is 0 (as `ln().max(0.0)` gives, NaN included),
/// and most bands of most frames sit at their floor, so this skips most
/// of the recording's logs without changing a value.
#[inline]
pub fn feature(power: f32, floor: f32) -> f32 {
    ratio_feature(floor_ratio(power, floor))
}

/// A band's power over its floor, the ratio [`feature`] takes the log of.
#[inline]
fn floor_ratio(power: f32, floor: f32) -> f32 {
    (power + POWER_FLOOR) / (FLOOR_MARGIN * floor + POWER_FLOOR)
}

/// [`feature`] of a [`floor_ratio`].
#[inline]
fn ratio_feature(ratio: f32) -> f32 {
    if ratio > 1.0 {
        ratio.ln()
    } else {
        0.0
    }
}

/// Per band, the average of the last `frames` frames' powers (fewer at
/// the start): what the floor's minimum is taken of.
struct MovingAverage {
    recent: std::collections::VecDeque<[f32; BANDS]>,
    /// Per band: the sum of `recent`, kept in f64 so that adding and
    /// taking away values leaves no error that matters.
    sums: [f64; BANDS],
    frames: usize,
}

impl MovingAverage {
    fn new(frames: usize) -> MovingAverage {
        MovingAverage {
            recent: std::collections::VecDeque::with_capacity(frames),
            sums: [0.0; BANDS],
            frames,
        }
    }

    /// Adds a frame's powers; returns the average with it.
    fn push(&mut self, powers: [f32; BANDS]) -> [f32; BANDS] {
        if self.recent.len() == self.frames {
            if let Some(oldest) = self.recent.pop_front() {
                for (sum, &p) in self.sums.iter_mut().zip(&oldest) {
                    *sum -= f64::from(p);
                }
            }
        }
        for (sum, &p) in self.sums.iter_mut().zip(&powers) {
            *sum += f64::from(p);
        }
        self.recent.push_back(powers);
        let n = self.recent.len() as f64;
        std::array::from_fn(|b| (self.sums[b] / n).max(0.0) as f32)
    }
}

/// The recording's noise floor per band, tracked causally: the minimum of
/// smoothed power over the last [`FLOOR_WINDOW_S`] (minimum statistics),
/// rising no faster than [`FLOOR_RISE_DB_PER_S`]. Causal and
/// frame-by-frame, so a stream and a whole file get the same features.
///
/// The window's minimum is taken block-wise (van Herk / Gil-Werman): the
/// frames are cut into blocks of the window's length, and a window ending
/// in one block is the tail of the block before it and the head of its
/// own, so its minimum is that of the tail's minimum (kept for each
/// position when the block before was complete) and the head's (kept as
/// the block arrives). Three comparisons a frame, band for band with no
/// branch, and exactly the minimum a queue of candidates would give.
pub struct RunningFloor {
    /// The average of the last frames' powers, whose minimum is taken.
    smoothing: MovingAverage,
    /// Frames in the minimum's window, and in each block.
    window_frames: usize,
    /// The current block's smoothed powers so far.
    block: Vec<[f32; BANDS]>,
    /// Per band: the minimum of the current block so far.
    head: [f32; BANDS],
    /// For each position of the previous block: per band, the minimum of
    /// the block from that position to its end (empty before the first
    /// block is complete).
    tails: Vec<[f32; BANDS]>,
    frame: u64,
    /// Per band: the floor given for the previous frame.
    last: [f32; BANDS],
    /// The most the floor may grow from one frame to the next, as a factor.
    rise_per_frame: f32,
    /// Per band: the floor at the first frame, when measured ahead
    /// ([`RunningFloor::start_from`]).
    start: Option<[f32; BANDS]>,
    /// Frames still to come of the silence before the recording
    /// ([`RunningFloor::lead_silence`]).
    silence_frames: usize,
}

impl RunningFloor {
    /// A floor tracker for frames of `resolution`.
    pub fn new(resolution: Resolution) -> RunningFloor {
        let smoothing_frames = resolution.frames(FLOOR_SMOOTHING_S);
        let window_frames = resolution.frames(FLOOR_WINDOW_S);
        RunningFloor {
            smoothing: MovingAverage::new(smoothing_frames),
            window_frames,
            block: Vec::with_capacity(window_frames),
            head: [0.0; BANDS],
            tails: Vec::with_capacity(window_frames),
            frame: 0,
            last: [0.0; BANDS],
            rise_per_frame: 10f64.powf(FLOOR_RISE_DB_PER_S * resolution.frame_seconds() / 10.0)
                as f32,
            start: None,
            silence_frames: 0,
        }
    }

    /// Takes the next `frames` frames as the silence laid before the
    /// recording, not as part of it: they are measured against the floor
    /// at the start ([`RunningFloor::start_from`]) and leave the floor's
    /// window alone (their power is no background the recording has).
    pub fn lead_silence(&mut self, frames: usize) {
        self.silence_frames = frames;
    }

    /// Sets the floor at the first frame to the quietest smoothed power,
    /// per band, of `frames` (band powers, `BANDS` per frame), the
    /// recording's first ones ([`START_FLOOR_S`]); from there it follows
    /// the window's minimum as usual, rising no faster than
    /// [`FLOOR_RISE_DB_PER_S`]. Without it, the first frame's power is
    /// the first floor. Call it before [`RunningFloor::apply`].
    pub fn start_from(&mut self, frames: &[f32]) {
        let mut smoothing = MovingAverage::new(self.smoothing.frames);
        let mut quietest = [f32::INFINITY; BANDS];
        for frame in frames.chunks_exact(BANDS) {
            let smoothed = smoothing.push(std::array::from_fn(|b| frame[b]));
            for (q, &p) in quietest.iter_mut().zip(&smoothed) {
                *q = q.min(p);
            }
        }
        self.start = quietest.iter().all(|q| q.is_finite()).then_some(quietest);
    }

    /// Per band: the minimum of `smoothed` over the window of frames that
    /// ends with this one (all frames so far while there are fewer).
    fn window_minimum(&mut self, smoothed: [f32; BANDS]) -> [f32; BANDS] {
        if self.block.len() == self.window_frames {
            // The block is complete: its tails' minima, from the end.
            self.tails.clear();
            self.tails.extend_from_slice(&self.block);
            for i in (0..self.window_frames.saturating_sub(1)).rev() {
                let (tail, after) = self.tails.split_at_mut(i + 1);
                for (t, &a) in tail[i].iter_mut().zip(&after[0]) {
                    *t = t.min(a);
                }
            }
            self.block.clear();
        }
        if self.block.is_empty() {
            self.head = smoothed;
        } else {
            for (h, &s) in self.head.iter_mut().zip(&smoothed) {
                *h = h.min(s);
            }
        }
        self.block.push(smoothed);
        // The window's frames in the previous block: from the position
        // after this one's to its end.
        match self.tails.get(self.block.len()) {
            Some(tail) => std::array::from_fn(|b| tail[b].min(self.head[b])),
            None => self.head,
        }
    }

    /// Converts band powers (`BANDS` per frame) into features, in place,
    /// and appends each frame's floors to `floors`.
    pub fn apply(&mut self, frames: &mut [f32], floors: &mut Vec<f32>) {
        for frame in frames.chunks_exact_mut(BANDS) {
            if self.silence_frames > 0 {
                self.silence_frames -= 1;
                let start = self.start.unwrap_or([0.0; BANDS]);
                floors.extend_from_slice(&start);
                for (value, &floor) in frame.iter_mut().zip(&start) {
                    *value = ratio_feature(floor_ratio(*value, floor));
                }
                continue;
            }
            let smoothed = self.smoothing.push(std::array::from_fn(|b| frame[b]));
            let minima = self.window_minimum(smoothed);
            if self.frame == 0 {
                self.last = match self.start {
                    Some(start) => std::array::from_fn(|b| start[b].min(minima[b])),
                    None => minima,
                };
            } else {
                for (last, &minimum) in self.last.iter_mut().zip(&minima) {
                    *last = minimum.min(*last * self.rise_per_frame);
                }
            }
            floors.extend_from_slice(&self.last);
            let ratios: [f32; BANDS] = std::array::from_fn(|b| floor_ratio(frame[b], self.last[b]));
            for (value, ratio) in frame.iter_mut().zip(ratios) {
                *value = ratio_feature(ratio);
            }
            self.frame += 1;
        }
    }
}

/// A fixed noise floor per band, for a template: it is short and whole, so
/// its floor is simply a low percentile of each band over the capture.
pub struct FixedFloor {
    floors: [f32; BANDS],
}

impl FixedFloor {
    /// The 10th percentile of each band's power over `frames`.
    pub fn from_powers(frames: &[f32]) -> FixedFloor {
        let mut floors = [0.0f32; BANDS];
        for (b, floor) in floors.iter_mut().enumerate() {
            let mut band: Vec<f32> = frames.chunks_exact(BANDS).map(|f| f[b]).collect();
            band.sort_by(f32::total_cmp);
            *floor = band.get(band.len() / 10).copied().unwrap_or(0.0);
        }
        FixedFloor { floors }
    }

    /// Each band's floor.
    pub fn floors(&self) -> &[f32; BANDS] {
        &self.floors
    }

    /// Converts band powers into features, in place.
    pub fn apply(&self, frames: &mut [f32]) {
        for frame in frames.chunks_exact_mut(BANDS) {
            for (value, &floor) in frame.iter_mut().zip(&self.floors) {
                *value = feature(*value, floor);
            }
        }
    }
}

/// Adds to each frame of features its onset strength per band: how much the
/// band rose since the previous frame (rises only). Level alone changes
/// slowly along a decaying sound, so repeats closer than the sound's length
/// blur into one broad correlation peak; rises mark each onset sharply.
/// Causal, one frame of memory: chunk-invariant.
pub struct OnsetChannels {
    previous: [f32; BANDS],
}

impl Default for OnsetChannels {
    fn default() -> Self {
        OnsetChannels {
            previous: [0.0; BANDS],
        }
    }
}

impl OnsetChannels {
    /// Appends the `BANDS` onset strengths of every frame of `features`
    /// to `out`.
    pub fn extend(&mut self, features: &[f32], out: &mut Vec<f32>) {
        for frame in features.chunks_exact(BANDS) {
            for (value, previous) in frame.iter().zip(self.previous.iter_mut()) {
                out.push((value - *previous).max(0.0));
                *previous = *value;
            }
        }
    }
}

/// Total power of a frame of band powers (for trimming and plots).
pub fn frame_energy(powers: &[f32]) -> f32 {
    powers.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(layout: &BandLayout, signal: &[f32], piece: usize) -> Vec<f32> {
        let mut extractor = FeatureExtractor::new(layout.clone());
        let mut out = Vec::new();
        for chunk in signal.chunks(piece) {
            extractor.push(chunk, &mut out);
        }
        extractor.finish(&mut out);
        out
    }

    const ALL: [Resolution; 2] = [Resolution::STANDARD, Resolution::FINE];

    #[test]
    fn frames_cover_the_signal_whatever_the_chunking() {
        for resolution in ALL {
            let layout = BandLayout::for_rates(44_100, 44_100, resolution);
            let signal: Vec<f32> = (0..16_037)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
                .collect();
            let whole = extract(&layout, &signal, signal.len());
            let Resolution { window, hop } = resolution;
            assert_eq!(whole.len(), ((16_037 - window) / hop + 1) * BANDS);
            for piece in [1, 159, 160, 161, 4096] {
                assert_eq!(extract(&layout, &signal, piece), whole, "piece {piece}");
            }
        }
    }

    #[test]
    fn a_tone_lights_the_band_that_holds_it() {
        for resolution in ALL {
            let layout = BandLayout::for_rates(16_000, 16_000, resolution);
            let signal: Vec<f32> = (0..8_000)
                .map(|i| (2.0 * std::f32::consts::PI * 1_000.0 * i as f32 / 16_000.0).sin())
                .collect();
            let features = extract(&layout, &signal, 8_000);
            let frame = &features[10 * BANDS..11 * BANDS];
            let loudest = (0..BANDS)
                .max_by(|&a, &b| frame[a].total_cmp(&frame[b]))
                .unwrap();
            let (first, weights) = &layout.bands[loudest];
            let bin = 1_000.0 / (16_000.0 / resolution.window as f32);
            assert!((*first as f32..(*first + weights.len()) as f32).contains(&bin));
        }
    }

    #[test]
    fn bands_stop_at_the_shared_bandwidth() {
        for resolution in ALL {
            let narrow = BandLayout::for_rates(8_000, 48_000, resolution);
            let (first, weights) = narrow.bands.last().unwrap();
            let top_hz = (first + weights.len()) as f32 * 16_000.0 / resolution.window as f32;
            assert!(top_hz <= 3_700.0, "top band reaches {top_hz} Hz");
        }
    }

    #[test]
    fn shorter_sounds_get_finer_frames() {
        assert_eq!(Resolution::for_sound_s(0.05), Resolution::FINE);
        assert_eq!(Resolution::for_sound_s(0.15), Resolution::STANDARD);
        assert_eq!(Resolution::FINE.frames(FLOOR_WINDOW_S), 4_000);
        assert_eq!(Resolution::STANDARD.frames(0.001), 1, "never zero frames");
    }

    /// The block-wise minimum is the plain minimum over the window, for
    /// every frame, whatever the window's length.
    #[test]
    fn the_window_minimum_is_the_minimum_of_the_window() {
        for window in [1, 2, 3, 7, 50] {
            let mut floor = RunningFloor::new(Resolution::STANDARD);
            floor.window_frames = window;
            let values: Vec<[f32; BANDS]> = (0..400u32)
                .map(|i| std::array::from_fn(|b| ((i * 7919 + b as u32 * 104_729) % 997) as f32))
                .collect();
            for (t, &smoothed) in values.iter().enumerate() {
                let got = floor.window_minimum(smoothed);
                let first = (t + 1).saturating_sub(window);
                let want: [f32; BANDS] = std::array::from_fn(|b| {
                    values[first..=t]
                        .iter()
                        .map(|v| v[b])
                        .fold(f32::INFINITY, f32::min)
                });
                assert_eq!(got, want, "window {window}, frame {t}");
            }
        }
    }

    #[test]
    fn the_floor_falls_at_once_but_rises_no_faster_than_its_limit() {
        let resolution = Resolution::STANDARD;
        let per_second = resolution.frames(1.0);
        // 2 s of quiet, then 20 s of a steady sound 60 dB louder, then
        // quiet again.
        let mut powers = vec![1e-6f32; 2 * per_second * BANDS];
        powers.extend(vec![1.0f32; 20 * per_second * BANDS]);
        powers.extend(vec![1e-6f32; per_second * BANDS]);
        let mut floor = RunningFloor::new(resolution);
        let mut floors = Vec::new();
        floor.apply(&mut powers, &mut floors);
        let band_0 = |second: f64| floors[(second * per_second as f64) as usize * BANDS];
        // The quiet leaves the 10 s window at 12 s: the minimum jumps by
        // 60 dB, the floor climbs 3 dB a second from there.
        assert!((band_0(11.5) / 1e-6 - 1.0).abs() < 0.01, "{}", band_0(11.5));
        let after = |seconds: f64| 1e-6 * 10f64.powf(FLOOR_RISE_DB_PER_S * seconds / 10.0);
        for seconds in [1.0, 5.0, 9.0] {
            let ratio = f64::from(band_0(12.0 + seconds)) / after(seconds);
            assert!((0.9..1.1).contains(&ratio), "{seconds} s: {ratio}");
        }
        // Back to quiet: the smoothed minimum falls within 30 ms.
        assert!(band_0(22.5) < 2e-6, "{}", band_0(22.5));
    }

    #[test]
    fn a_floor_measured_ahead_starts_under_a_sound_that_opens_the_recording() {
        let resolution = Resolution::STANDARD;
        let per_second = resolution.frames(1.0);
        // Half a second of a sound 60 dB over the quiet that follows it,
        // after two frames of the silence laid before the recording.
        let mut powers = vec![0.0f32; 2 * BANDS];
        powers.extend(vec![1.0f32; per_second / 2 * BANDS]);
        powers.extend(vec![1e-6f32; per_second * BANDS]);
        let measure = |ahead: bool| {
            let mut floor = RunningFloor::new(resolution);
            floor.lead_silence(2);
            if ahead {
                floor.start_from(&powers[2 * BANDS..]);
            }
            let (mut features, mut floors) = (powers.clone(), Vec::new());
            floor.apply(&mut features, &mut floors);
            (features, floors)
        };
        // Causally, the sound is its own floor and stands at 0; measured
        // ahead, the floor starts at the quiet's (and rises 3 dB a second), and
        // the sound stands some 57 dB over it from its first frame.
        let (causal, _) = measure(false);
        assert_eq!(causal[2 * BANDS], 0.0);
        let (ahead, floors) = measure(true);
        let first = ahead[2 * BANDS];
        assert!(
            (first - (1.0f32 / (FLOOR_MARGIN * 1e-6)).ln()).abs() < 0.1,
            "{first}"
        );
        // The silence before is measured against that floor and leaves
        // the tracking alone: it stands at 0, its floor is the quiet's.
        assert_eq!(&ahead[..2 * BANDS], &[0.0; 2 * BANDS][..]);
        assert!((floors[0] / 1e-6 - 1.0).abs() < 0.01, "{}", floors[0]);
    }
}
