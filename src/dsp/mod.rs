//! The counting engine: how many times, and when, a template sound occurs in
//! a recording.
//!
//! One streaming pipeline serves every use: samples at the recording's rate
//! go through [`Resampler`] to 16 kHz, become compressed mel-band frames
//! and onset strengths ([`features`]), are correlated with the prepared
//! template ([`correlate`]), and the scores become candidates ([`peaks`]);
//! one in the shadow of a higher one must show that the audio holds two
//! occurrences ([`separate`]); all must pass a comparison of their fine
//! spectrogram with the template's ([`fine`]) and a threshold that adapts
//! to the recording and to how loud the events found are ([`threshold`],
//! [`loudness`]); the
//! first events wait until later ones can overrule them ([`probation`]).
//! A candidate is decided once the audio its fine comparison reads has
//! arrived (a few tens of milliseconds after the template's length).
//! Each candidate is measured into a [`decide::Candidate`] and judged by
//! one function ([`decide::decide`]), whose verdict names the rule that
//! rejected it; its parameters live in one [`decide::Tuning`]. A whole
//! file is that pipeline fed block by block ([`analyze_file`]); a live
//! stream is the same pipeline fed as data arrives ([`Counter`]). Every
//! stage is chunk-invariant, so both give the same events for the same
//! audio, to the bit.

mod analyze;
pub mod correlate;
pub mod decide;
pub mod features;
pub mod fine;
pub mod loudness;
pub mod peaks;
pub mod probation;
pub mod separate;
mod template;
pub mod threshold;

pub use analyze::{
    analyze_file, analyze_file_with, load_template, read_template, Analysis, Progress, Trace,
};
pub use template::{PreparedTemplate, TemplateAudio};

use crate::audio::{AudioError, Resampler, ANALYSIS_RATE};
use correlate::Scorer;
use decide::{Candidate, Tuning, Verdict, VerdictCounts};
use features::{FeatureExtractor, Resolution, RunningFloor};
use peaks::{Peak, PeakPicker};

/// When the caller sets no threshold, a score this high always counts; the
/// default adapts below it, down to [`threshold::MIN_THRESHOLD`], where the
/// recording's background scores low ([`threshold`]). A higher cap keeps
/// more of music's note onsets out but loses dense repeats: on the
/// synthetic accuracy corpus (cases 0–19 and 20–39) 0.45 / 0.5 / 0.6 gave
/// 87.0 / 85.4 / 75.7 % and 88.1 / 85.9 / 81.1 % exact against 89.2 % on
/// both at 0.4.
pub const DEFAULT_THRESHOLD: f32 = 0.4;
/// Minimum gap between events, as a fraction of the (trimmed) template's
/// length, when the caller sets none. Repeats as close as a third of the
/// template apart must still count, so it stays below 1/3. On the
/// real-sound corpus (30 cases per tier, found / false / missed, against
/// tuning 3,283 / 76 / 80, 85.7 % exact, and held-out 3,843 / 36 / 109,
/// 89.9 %): 0.2 gave 3,285 / 83 / 78 (84.7 %) and 3,851 / 66 / 101
/// (89.0 %); 0.275 one tuning false event fewer and 3,835 / 28 / 117
/// held-out (89.0 %); 0.3 3,280 / 65 / 83 (86.4 %, F1 0.978)
/// and 3,833 / 23 / 119 (89.0 %, F1 0.982). A wider gap drops a sound's
/// inner repeats and its room's tail with true repeats of rapid runs;
/// the held-out sources' exact count is best at 0.25.
pub const DEFAULT_GAP_FRACTION: f64 = 0.25;
/// Longest template the engine takes (PROTOCOL.md §5: `too_large` beyond).
pub const MAX_TEMPLATE_SECONDS: f64 = 60.0;
/// Largest `min_gap_s`: four hours, the longest recording the protocol
/// takes (§7). A longer gap means "at most one event", as this one does;
/// the bound keeps the gap in frames (and twice it) far from overflowing.
pub const MAX_MIN_GAP_S: f64 = 4.0 * 3600.0;

/// Why a count could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DspError {
    /// The template or recording could not be decoded.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// The template holds no sound (silence, or a constant signal).
    #[error("the template is silent: there is no sound in it to look for")]
    SilentTemplate,
    /// The template is audible but nothing in it stands out from the rest
    /// of it: a steady tone, hum or noise from end to end has no onset or
    /// shape to find again.
    #[error("the template holds no distinct sound: nothing in it rises above its own steady level (a tone, hum or noise throughout); record the sound with a little quiet before and after it")]
    NoDistinctSound,
    /// The template's sound is shorter than the engine can match (30 ms).
    #[error("the template's sound is too short to match (under 30 ms after trimming silence)")]
    TemplateTooShort,
    /// The template is longer than [`MAX_TEMPLATE_SECONDS`].
    #[error("the template lasts {0:.1} s; templates may last at most 60 s")]
    TemplateTooLong(f64),
    /// The template lasts longer than the recording it should be found in.
    #[error("the template ({template_s:.2} s) is longer than the recording ({recording_s:.2} s)")]
    TemplateLongerThanRecording {
        /// Template length in seconds.
        template_s: f64,
        /// Recording length in seconds.
        recording_s: f64,
    },
    /// An option out of range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The caller asked to stop.
    #[error("the analysis was cancelled")]
    Cancelled,
}

/// The median of `values` (the upper one of an even count); `None` if
/// there are none. Peer rules compare a candidate with the median of the
/// events or copies around it.
fn median(values: impl IntoIterator<Item = f32>) -> Option<f32> {
    let mut values: Vec<f32> = values.into_iter().collect();
    let middle = values.len() / 2;
    (!values.is_empty()).then(|| *values.select_nth_unstable_by(middle, f32::total_cmp).1)
}

/// One occurrence of the template in the recording.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Event {
    /// Seconds from the start of the recording to the sound's onset.
    pub start_s: f64,
    /// How closely it matched, 0..1: the fine check's score
    /// ([`fine`]), about 1 for an exact copy, found or hidden in rapid
    /// repeats alike.
    pub score: f32,
}

/// Caller's overrides of the engine's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Options {
    /// Score an occurrence must reach (0..1); by default it adapts to the
    /// recording's background between [`threshold::MIN_THRESHOLD`] and
    /// [`DEFAULT_THRESHOLD`].
    pub threshold: Option<f32>,
    /// Seconds that must separate two events; default a quarter of the
    /// template's length.
    pub min_gap_s: Option<f64>,
}

impl Options {
    /// Checks the ranges: threshold in 0..=1, gap in 0..=[`MAX_MIN_GAP_S`].
    pub fn validate(&self) -> Result<(), DspError> {
        if let Some(t) = self.threshold {
            if !(0.0..=1.0).contains(&t) {
                return Err(DspError::InvalidOption(format!(
                    "threshold {t} is outside 0..1"
                )));
            }
        }
        if let Some(g) = self.min_gap_s {
            if !(0.0..=MAX_MIN_GAP_S).contains(&g) {
                return Err(DspError::InvalidOption(format!(
                    "min_gap_s {g} must be in 0..{MAX_MIN_GAP_S}"
                )));
            }
        }
        Ok(())
    }
}

/// The engine in streaming form: push samples, get events as they become
/// certain.
pub struct Counter {
    resampler: Resampler,
    features: FeatureExtractor,
    floor: RunningFloor,
    loudness: loudness::Loudness,
    separation: separate::Separation,
    threshold: threshold::Threshold,
    raw: Vec<f32>,
    floors: Vec<f32>,
    scorer: Scorer,
    picker: PeakPicker,
    onset_offset_s: f64,
    /// Seconds from a sound's lead-in to its onset as matched
    /// ([`PreparedTemplate`]'s): taken off every reported start.
    lead_s: f64,
    frame_seconds: f64,
    recording_rate: u32,
    samples_in: u64,
    events: Vec<Event>,
    trace: Option<Trace>,
    // Buffers reused between pushes.
    resampled: Vec<f32>,
    frames: Vec<f32>,
    scores: Vec<f32>,
    peaks: Vec<Peak>,
    /// Peaks picked whose fine window has not all arrived yet, in frame
    /// order: each is measured and decided once it has (or the recording
    /// ends), so its fine score reads the whole of it however the audio
    /// arrives.
    pending: std::collections::VecDeque<Peak>,
    /// Recent occurrences (frames), found or hidden, for the joint model.
    accepted: std::collections::VecDeque<u64>,
    gap_frames: u64,
    template_frames: u64,
    /// The first events, held until later ones can overrule them.
    probation: probation::Probation<Event>,
    /// The fine check of every candidate.
    fine: fine::FineCheck,
    resolution: Resolution,
    tuning: Tuning,
    verdicts: VerdictCounts,
    /// The recording's first frames (band powers), held until the floor
    /// at its start is measured ([`features::START_FLOOR_S`]); `None`
    /// once it is.
    start_frames: Option<Vec<f32>>,
    /// How many frames that takes.
    start_floor_frames: usize,
    /// Frames of silence laid before the recording: a frame window's
    /// worth, in whole frames (`Counter::with_lead_silence`).
    lead_frames: usize,
}

impl Counter {
    /// A counter for `template` in a recording at `recording_rate`.
    pub fn new(
        template: &TemplateAudio,
        recording_rate: u32,
        options: &Options,
    ) -> Result<Counter, DspError> {
        options.validate()?;
        crate::audio::check_sample_rate(recording_rate)?;
        crate::audio::check_sample_rate(template.sample_rate)?;
        if template.duration_s() > MAX_TEMPLATE_SECONDS {
            return Err(DspError::TemplateTooLong(template.duration_s()));
        }
        let prepared = PreparedTemplate::new(template, recording_rate)?;
        let gap_s = options
            .min_gap_s
            .unwrap_or(prepared.duration_s() * DEFAULT_GAP_FRACTION);
        let resolution = prepared.layout.resolution();
        let frame_seconds = resolution.frame_seconds();
        let gap_frames = (gap_s / frame_seconds).round() as usize;
        let threshold = threshold::Threshold::new(options.threshold, resolution, prepared.frames);
        let lowest_threshold = threshold.lowest();
        Ok(Counter {
            resampler: Resampler::new(recording_rate, ANALYSIS_RATE)?,
            features: FeatureExtractor::new(prepared.layout.clone()),
            floor: RunningFloor::new(resolution),
            loudness: loudness::Loudness::new(prepared.power.clone(), prepared.active.clone())
                .with_phone_band(std::array::from_fn(|b| {
                    prepared
                        .layout
                        .centres_hz()
                        .get(b)
                        .is_some_and(|hz| (fine::PHONE_LOW_HZ..=fine::PHONE_HIGH_HZ).contains(hz))
                })),
            separation: separate::Separation::new(
                prepared.shape.clone(),
                &prepared.ringing,
                prepared.layout.centres_hz(),
            ),
            threshold,
            raw: Vec::new(),
            floors: Vec::new(),
            scorer: Scorer::new(&prepared.level, &prepared.onset),
            picker: PeakPicker::new(
                lowest_threshold,
                gap_frames,
                prepared.side_lobes.len().saturating_sub(1),
            )
            .with_side_lobes(prepared.side_lobes.clone())
            .with_alternates(
                (fine::onset_search_s() / frame_seconds).floor() as usize + 1,
                prepared.frames,
            ),
            onset_offset_s: prepared.onset_offset_s,
            lead_s: prepared.lead_s,
            frame_seconds,
            recording_rate,
            samples_in: 0,
            events: Vec::new(),
            trace: None,
            resampled: Vec::new(),
            frames: Vec::new(),
            scores: Vec::new(),
            peaks: Vec::new(),
            pending: std::collections::VecDeque::new(),
            accepted: std::collections::VecDeque::new(),
            gap_frames: gap_frames.max(1) as u64,
            template_frames: prepared.frames as u64,
            probation: probation::Probation::new(
                (probation::PROBATION_S / frame_seconds).round() as u64,
                options.threshold.is_none(),
            ),
            fine: fine::FineCheck::new(
                fine::FineTemplate::new(&prepared.sound, prepared.top_hz)
                    .ok_or(DspError::SilentTemplate)?,
            ),
            resolution,
            tuning: Tuning::default(),
            verdicts: VerdictCounts::default(),
            start_frames: Some(Vec::new()),
            start_floor_frames: prepared.frames
                + (features::START_FLOOR_S / frame_seconds).ceil() as usize,
            lead_frames: resolution.window.div_ceil(resolution.hop),
        }
        .with_lead_silence())
    }

    /// Lays a frame window's worth of silence (in whole frames) before
    /// the recording, as the template has before its sound
    /// ([`PreparedTemplate`]): a recording that opens on the sound (a
    /// template counted in its own file, a key pressed as recording
    /// starts) then shows its onset as the template does, where it
    /// otherwise had no frame before the sound to rise from and matched
    /// nothing. Reported times leave the silence out.
    fn with_lead_silence(mut self) -> Counter {
        let silence = vec![0.0f32; self.lead_frames * self.resolution.hop];
        self.fine.push(&silence);
        self.features.push(&silence, &mut self.frames);
        self.floor.lead_silence(self.lead_frames);
        self
    }

    /// Also records the per-frame energy and score, for plots.
    pub fn with_trace(mut self) -> Counter {
        self.trace = Some(Trace::new(self.frame_seconds));
        self
    }

    /// Adds mono samples at the recording's rate; returns the events that
    /// became certain with them.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<Event>, DspError> {
        self.samples_in += samples.len() as u64;
        self.resampled.clear();
        self.resampler.push(samples, &mut self.resampled)?;
        self.fine.push(&self.resampled);
        self.features.push(&self.resampled, &mut self.frames);
        Ok(self.advance(false))
    }

    /// Ends the recording; returns the events that became certain at its
    /// end. [`Counter::events`] then holds them all.
    ///
    /// A window is scored only where the whole template fits, so an
    /// occurrence the recording stops in the middle of (a user ends a
    /// session right after the last key press, before its ring has died
    /// away) would never be looked at. The recording is followed by a
    /// template's length of silence, as the template itself is (silence
    /// around a sound is true to it): on the real-sound corpus (30 cases
    /// per tier) this found 5 more repeats on the held-out sources and 10
    /// on the tuning ones, with no more false events.
    pub fn finish(&mut self) -> Result<Vec<Event>, DspError> {
        self.resampled.clear();
        self.resampler.finish(&mut self.resampled)?;
        let silence = self.template_frames as usize * self.resolution.hop;
        self.resampled.extend(std::iter::repeat_n(0.0f32, silence));
        self.fine.push(&self.resampled);
        self.features.push(&self.resampled, &mut self.frames);
        self.features.finish(&mut self.frames);
        let events = self.advance(true);
        // The plot shows the recording, not the silence before and after
        // it.
        let frames = (self.processed_s() / self.frame_seconds).ceil() as usize;
        if let Some(trace) = self.trace.as_mut() {
            trace.drop_first(self.lead_frames);
            trace.truncate(frames);
        }
        Ok(events)
    }

    fn advance(&mut self, end: bool) -> Vec<Event> {
        // The recording's first frames wait until the floor at its start
        // is known: measured over the first `start_floor_frames`, or over
        // the whole recording where it is shorter (not the silence that
        // `finish` appends).
        if let Some(mut held) = self.start_frames.take() {
            held.append(&mut self.frames);
            let have = held.len() / features::BANDS;
            if have < self.lead_frames + self.start_floor_frames && !end {
                self.start_frames = Some(held);
                return Vec::new();
            }
            // Frames wholly within the recording, after the silence laid
            // before it.
            let samples = (self.processed_s() * f64::from(ANALYSIS_RATE)) as usize;
            let Resolution { window, hop } = self.resolution;
            let recording = samples.checked_sub(window).map_or(0, |s| s / hop + 1);
            let first = self.lead_frames.min(have);
            let last = (first + self.start_floor_frames.min(recording)).min(have);
            self.floor
                .start_from(&held[first * features::BANDS..last * features::BANDS]);
            self.frames = held;
        }
        if let Some(trace) = self.trace.as_mut() {
            trace.add_frames(&self.frames);
        }
        self.raw.clear();
        self.raw.extend_from_slice(&self.frames);
        self.floors.clear();
        self.floor.apply(&mut self.frames, &mut self.floors);
        self.loudness.push(&self.raw, &self.floors);
        self.scores.clear();
        self.scorer.push(&self.frames, &mut self.scores);
        self.separation.push(&self.frames, self.scorer.onsets());
        self.frames.clear();
        if end {
            self.scorer.finish(&mut self.scores);
        }
        if let Some(trace) = self.trace.as_mut() {
            trace.scores.extend_from_slice(&self.scores);
        }
        self.threshold.push(&self.scores);
        self.peaks.clear();
        self.picker.push(&self.scores, &mut self.peaks);
        if end {
            self.picker.finish(&mut self.peaks);
        }
        self.pending.extend(self.peaks.drain(..));
        let mut new = Vec::new();
        while let Some(&p) = self.pending.front() {
            let Some(limit) = self.fine_limit(&p, end) else {
                break;
            };
            self.pending.pop_front();
            let p = &p;
            // Every frame before this peak, and before its alternate, is
            // decided.
            let first = p.alternate.map_or(p.frame, |a| a.frame.min(p.frame));
            if self.probation.ends_by(first) {
                self.close_probation(&mut new);
            }
            let (chosen, candidate, yielded) = self.measure_or_alternate(p, limit);
            let p = &chosen;
            // The peak itself, where its alternate did not take its place.
            if self.probation.ends_by(p.frame) {
                self.close_probation(&mut new);
            }
            // The peak that yielded to its alternate is a candidate the
            // fine check rejected: counted and traced as one.
            if let Some(yielded) = yielded {
                let verdict = decide::decide(&yielded, &self.threshold, &self.tuning);
                self.verdicts.add(verdict);
                if let Some(trace) = self.trace.as_mut() {
                    trace.candidates.push((yielded, verdict));
                }
            }
            let verdict = decide::decide(&candidate, &self.threshold, &self.tuning);
            self.verdicts.add(verdict);
            if let Some(trace) = self.trace.as_mut() {
                trace.candidates.push((candidate, verdict));
            }
            let Verdict::Event { peer } = verdict else {
                continue;
            };
            if peer {
                self.threshold
                    .remember(candidate.frame, candidate.score, candidate.loudness);
            }
            if self.threshold.is_adaptive() {
                // A hidden occurrence is fine-checked as any candidate
                // is: the occurrence before it may still sound over it,
                // the new one's cells are left out of its window, and it
                // reports its fine score (its correlation score, 0-0.45
                // between the copies around it, says little of how alike
                // it is). It is held to the same fine floor
                // ([`Tuning::fine_min`](decide::Tuning::fine_min)): the
                // joint model fits band powers, and a copy that takes a
                // share of a stretch's residual may be another sound (a
                // sibling chime between two repeats, whose own peak the
                // fine check had rejected). Only those that pass join
                // the recent occurrences.
                let rate = f64::from(ANALYSIS_RATE);
                let next = self.onset_s(p.position()) * rate;
                let floor = self.fine_floor();
                for frame in self.hidden_before(p.frame) {
                    let onset = self.onset_s(frame as f64) * rate;
                    let earlier = self
                        .earlier_occurrence(frame)
                        .map(|f| self.onset_s(f as f64) * rate);
                    let fine = self
                        .fine
                        .score_after(onset, limit, (earlier, Some(next)), floor);
                    if fine < floor {
                        continue;
                    }
                    self.accepted.push_back(frame);
                    let hidden = Event {
                        start_s: self.start_s(frame as f64),
                        score: fine.clamp(0.0, 1.0),
                    };
                    new.extend(self.probation.hold(frame, None, hidden));
                }
            }
            self.accepted.push_back(p.frame);
            // The score a user sees is the fine one: about 1 for an exact
            // copy, whatever the coarse frames' alignment.
            let event = Event {
                start_s: candidate.start_s,
                score: candidate.fine.clamp(0.0, 1.0),
            };
            new.extend(self.probation.hold(p.frame, candidate.loudness, event));
        }
        if end || self.probation.ends_by(self.undecided()) {
            self.close_probation(&mut new);
        }
        let undecided = self.undecided();
        if let Some(trace) = self.trace.as_mut() {
            // The threshold at a frame depends on the events before it, so
            // it is drawn once they are all decided, and none of them is
            // still on probation.
            let decided = if end {
                trace.scores.len() as u64
            } else {
                undecided.min(trace.scores.len() as u64)
            };
            let decided = self.probation.final_before(decided);
            let first = trace.thresholds.len() as u64;
            trace
                .thresholds
                .extend((first..decided.max(first)).map(|f| self.threshold.at(f)));
        }
        // The trace still draws the threshold from the first held event on.
        self.threshold
            .forget_before(self.probation.final_before(undecided));
        // The joint model looks back over the stretch before a new
        // occurrence and the copies that reach into it.
        let look_back = undecided.saturating_sub(
            self.picker.reach() as u64 + self.hidden_look_back() + self.template_frames,
        );
        self.separation.forget_before(look_back);
        while self.accepted.front().is_some_and(|&f| f < look_back) {
            self.accepted.pop_front();
        }
        // An alternate may lie this far before its peak.
        let alternate_reach = self.picker.alternate_reach();
        self.loudness
            .forget_before(undecided.saturating_sub(alternate_reach));
        // A candidate's onset lies at least a window before its frame.
        // Inside a run, an occurrence hidden after the last one found is
        // scored too, once the next one is: its audio stays from there
        // (and while the probation may still drop that last one, from
        // the first event it holds).
        let fine_from = self
            .probation
            .final_before(self.run_end().map_or(undecided, |last| last.min(undecided)))
            .saturating_sub(alternate_reach);
        self.fine.forget_before(
            (fine_from * self.resolution.hop as u64)
                .saturating_sub(fine::FineCheck::look_back() + self.resolution.window as u64),
        );
        self.events.extend_from_slice(&new);
        new
    }

    /// The first frame not decided yet: the first peak still waiting for
    /// its fine window, or the picker's first undecided frame.
    fn undecided(&self) -> u64 {
        let picked = self.picker.undecided();
        self.pending.front().map_or(picked, |p| p.frame.min(picked))
    }

    /// Where the fine check of peak `p` stops reading (a sample index),
    /// once its whole window has arrived or the recording has ended
    /// (`end`): `None` while it must wait. The limit is the window's end
    /// or the recording's, whichever comes first, so it depends on the
    /// recording alone, never on how its audio arrived.
    fn fine_limit(&self, p: &Peak, end: bool) -> Option<u64> {
        let last = p
            .alternate
            .map_or(p.position(), |a| p.position().max(a.position()));
        let onset = self.onset_s(last) * f64::from(ANALYSIS_RATE);
        let window_end = self.fine.window_end(onset);
        let received = self.fine.received();
        (end || received >= window_end).then(|| window_end.min(received))
    }

    /// Measures a peak into a [`Candidate`], or its
    /// [`Alternate`](peaks::Alternate) where the peak's onset fails the
    /// fine check and the alternate's passes: the occurrence in a bump
    /// is where the audio shows it, whichever maximum the correlation
    /// scored higher. Returns the peak measured with its candidate, and
    /// the peak's own candidate where its alternate took its place.
    ///
    /// An alternate lies within the gap, and is measured only where no
    /// occurrence already found and no next peak lies within the gap of
    /// it: the gap's promise of one occurrence per stretch holds. It
    /// stands for the bump alone, so it asks no separation question of
    /// the rejected peak beside it (`rival`, `higher` and `buried` none)
    /// and faces the fine floor, the threshold and the peer rules as any
    /// candidate does. Where it fails the fine check too, the peak's
    /// candidate stands alone. A peak the separation rejects (a side
    /// lobe, or no second occurrence beside a higher one) yields to no
    /// alternate: its bump belongs to its neighbour, and measuring its
    /// alternate too found no repeat more on the real-sound corpus for
    /// 10 more held-out false events and 14 more tuning ones (30 cases
    /// per tier).
    fn measure_or_alternate(
        &mut self,
        p: &Peak,
        limit: u64,
    ) -> (Peak, Candidate, Option<Candidate>) {
        let candidate = self.measure(p, limit);
        let gap = self.gap_frames;
        let alternate = p.alternate.filter(|a| {
            decide::rejected_before_fine(&candidate).is_none()
                && candidate.fine < self.fine_floor()
                && !self.accepted.iter().any(|&f| f.abs_diff(a.frame) < gap)
                && p.next.is_none_or(|n| n.abs_diff(a.frame) >= gap)
        });
        let Some(alternate) = alternate else {
            return (*p, candidate, None);
        };
        let peak = alternate.as_peak(p.next);
        let measured = self.measure(&peak, limit);
        if measured.fine >= self.fine_floor() {
            (peak, measured, Some(candidate))
        } else {
            (*p, candidate, None)
        }
    }

    /// Measures a peak into a [`Candidate`]: everything [`decide::decide`]
    /// needs to know about it.
    fn measure(&mut self, p: &Peak, limit: u64) -> Candidate {
        // A peak beside a higher one counts only if the audio holds
        // two occurrences: clearly so where it could be the higher
        // one's side lobe, at least as plainly as one otherwise. The
        // separation keeps every frame a neighbour within reach needs,
        // so `None` would be a bug: then the peak is dropped, as a
        // side lobe was before separation existed.
        let separate = match (p.rival, p.higher) {
            (Some(rival), _) => Some(self.separation.both(p.frame, rival) == Some(true)),
            (None, Some(higher)) => Some(self.separation.beside(p.frame, higher) == Some(true)),
            (None, None) => None,
        };
        // An occurrence buried between two stronger ones scores low
        // (they overlap it); the audio must show it, and the caller's
        // threshold, when set, stands alone.
        let buried = self.threshold.is_adaptive()
            && match (p.higher_before, p.higher_after) {
                (Some(before), Some(after)) => {
                    self.separation.buried(p.frame, before, after) == Some(true)
                }
                _ => false,
            };
        let onset_s = self.onset_s(p.position());
        let mut candidate = Candidate {
            frame: p.frame,
            start_s: self.start_s(p.position()),
            score: p.score,
            fine: f32::NAN,
            fine_steadiness: self.fine.steadiness(),
            // The measure keeps the frames of every undecided window, so
            // the loudness is always known; the threshold copes without
            // it.
            loudness: self.loudness.of(p.frame),
            separate,
            buried,
            score_under_earlier: 1.0,
        };
        // A candidate rejected whatever its fine score needs none (a
        // trace shows every candidate's).
        if self.trace.is_some() || decide::rejected_before_fine(&candidate).is_none() {
            let rate = f64::from(ANALYSIS_RATE);
            let next = p.next.map(|u| self.onset_s(u as f64) * rate);
            let earlier_frame = self.earlier_occurrence(p.frame);
            if let Some(earlier) = earlier_frame {
                candidate.score_under_earlier =
                    self.separation.score_under_earlier(p.frame - earlier);
            }
            let earlier = earlier_frame.map(|f| self.onset_s(f as f64) * rate);
            candidate.fine =
                self.fine
                    .score_after(onset_s * rate, limit, (earlier, next), self.fine_floor());
            // The overlap's allowance is for a repeat's own sound: where
            // the earlier copy alone, in silence, scores as well at this
            // onset (a template that repeats within itself, a digger's
            // strokes), the candidate may be only that copy's later part.
            // Asked only where the allowance can apply (the fine score
            // vouches): it is a fine check of its own.
            if let Some(earlier) = earlier.filter(|_| {
                candidate.score_under_earlier < 1.0
                    && candidate.fine >= self.tuning.fine_vouch * candidate.fine_steadiness
            }) {
                let alone = self
                    .fine
                    .score_of_earlier_alone(onset_s * rate, earlier, next);
                if alone >= candidate.fine {
                    candidate.score_under_earlier = 1.0;
                }
            }
            // A candidate whose fine structure is the template's heard
            // through a telephone's band is as loud as it is in that band.
            // The band's look is taken only where the others fall short, so
            // a candidate too quiet for its peers is asked again: a
            // repeat that lost only a low murmur or a high shimmer to the
            // band keeps a dry score that passes, and the band explains
            // it at least as well (on the real-sound corpus, 30 cases per
            // tier: held-out 4 more repeats found for 1 more false event,
            // tuning 1 more).
            // (A candidate under the fine floor is rejected whatever its
            // loudness: it is not asked.)
            let fine_passes = candidate.fine >= self.fine_floor();
            let through_band = self.fine.heard_through_phone_band()
                || (fine_passes
                    && self
                        .threshold
                        .is_quieter_than_peers(candidate.loudness, &self.tuning)
                    && self
                        .fine
                        .score_through_phone_band(onset_s * rate, limit, next)
                        >= candidate.fine);
            if through_band {
                candidate.loudness = self.loudness.through_phone_band(p.frame);
            }
        }
        candidate
    }

    /// Seconds from the start of the audio the engine reads (the silence
    /// laid before the recording included: the fine check's samples
    /// count from there too) to the onset of an occurrence whose
    /// correlation peaks at `frame` (fractional where a peak's position
    /// is interpolated).
    fn onset_s(&self, frame: f64) -> f64 {
        frame * self.frame_seconds + self.onset_offset_s
    }

    /// Seconds from the recording's start to where the occurrence peaking
    /// at `frame` is reported from: its lead-in, 0 for a sound cut by the
    /// recording's start.
    fn start_s(&self, frame: f64) -> f64 {
        let silence_s = self.lead_frames as f64 * self.frame_seconds;
        (self.onset_s(frame) - self.lead_s - silence_s).max(0.0)
    }

    /// Every candidate's verdict so far, counted by reason.
    pub fn verdicts(&self) -> &VerdictCounts {
        &self.verdicts
    }

    /// Uses `tuning` for the decisions instead of [`Tuning::default`]
    /// (benches sweep it).
    pub fn with_tuning(mut self, tuning: Tuning) -> Counter {
        self.tuning = tuning;
        self
    }

    /// Ends the probation: the held events that stand join `new`, and
    /// those dropped are forgotten as peers and as occurrences.
    fn close_probation(&mut self, new: &mut Vec<Event>) {
        let (kept, dropped) = self.probation.close();
        new.extend(kept);
        self.threshold.withdraw(&dropped);
        self.accepted.retain(|frame| !dropped.contains(frame));
    }

    /// The fine score under which a candidate, or an occurrence the joint
    /// model finds hidden, is not the template's sound
    /// ([`Tuning::fine_min`](decide::Tuning::fine_min) of the template's
    /// steadiness).
    fn fine_floor(&self) -> f32 {
        self.tuning.fine_min * self.fine.steadiness()
    }

    /// The last occurrence found that began within a template length
    /// before `frame`: its sound may still be heard over one there.
    fn earlier_occurrence(&self, frame: u64) -> Option<u64> {
        self.accepted
            .iter()
            .copied()
            .filter(|&f| f < frame && frame - f <= self.template_frames)
            .max()
    }

    /// How far back (frames) from a new occurrence the stretch searched
    /// for hidden ones may start.
    fn hidden_look_back(&self) -> u64 {
        (separate::HIDDEN_SPAN * self.template_frames as f64).ceil() as u64
    }

    /// The last occurrence found, where it and the one before it lie
    /// close enough to be a run of repeats ([`separate::HIDDEN_RUN`],
    /// [`separate::HIDDEN_RUN_S`]): where the next stretch searched for
    /// hidden occurrences would start.
    fn run_end(&self) -> Option<u64> {
        let mut last_two = self.accepted.iter().rev();
        let (Some(&after), Some(&earlier)) = (last_two.next(), last_two.next()) else {
            return None;
        };
        let template = self.template_frames as f64;
        let run =
            (separate::HIDDEN_RUN * template).max(separate::HIDDEN_RUN_S / self.frame_seconds);
        ((after - earlier) as f64 <= run).then_some(after)
    }

    /// Occurrences hidden between the last one found and a new one at
    /// `frame` ([`separate::Separation::hidden`]), searched inside a run
    /// of repeats only ([`separate::HIDDEN_RUN`], [`separate::HIDDEN_RUN_S`]);
    /// the caller fine-checks them.
    fn hidden_before(&mut self, frame: u64) -> Vec<u64> {
        let Some(after) = self.run_end() else {
            return Vec::new();
        };
        let close = frame - after <= self.hidden_look_back();
        if !close || frame - after < 2 * self.gap_frames {
            return Vec::new();
        }
        let mut known: Vec<u64> = self.accepted.iter().copied().collect();
        known.push(frame);
        self.separation
            .hidden(&known, after, frame, self.gap_frames)
    }

    /// Every event so far, in time order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Seconds of recording pushed so far.
    pub fn processed_s(&self) -> f64 {
        self.samples_in as f64 / f64::from(self.recording_rate)
    }

    /// The trace, when [`Counter::with_trace`] asked for one.
    pub fn take_trace(&mut self) -> Option<Trace> {
        self.trace.take()
    }
}

#[cfg(test)]
mod tests;
