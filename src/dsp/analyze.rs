//! Whole-file analysis: the streaming engine fed from an audio file in
//! blocks, with progress reports and cancellation.

use std::path::Path;

use super::decide::Tuning;
use super::features::{frame_energy, BANDS};
use super::{Counter, DspError, Event, Options, MAX_TEMPLATE_SECONDS};
use crate::audio::{measure_duration, AudioReader, READ_ALL_RESERVE_FRAMES};

use super::TemplateAudio;

/// Frames read from the recording per block: about 1.5 s at 44.1 kHz,
/// a few hundred kilobytes whatever the file's length.
const BLOCK_FRAMES: usize = 1 << 16;

/// The result of counting a template in a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Every occurrence, in time order.
    pub events: Vec<Event>,
    /// Length of the recording in seconds.
    pub duration_s: f64,
    /// How many candidates each verdict took (which rule rejected what).
    pub verdicts: super::decide::VerdictCounts,
}

impl Analysis {
    /// How many occurrences.
    pub fn count(&self) -> usize {
        self.events.len()
    }
}

/// How far an analysis has got, for progress bars and `progress` pushes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress<'a> {
    /// Seconds of the recording analysed.
    pub done_s: f64,
    /// Length of the recording in seconds.
    pub total_s: f64,
    /// The occurrences that became certain since the last report, in time
    /// order, so that a caller can pass them on while the count runs; the
    /// last ones become certain only at the recording's end, after the
    /// last report. [`Analysis::events`] holds them all, in the same order.
    pub new_events: &'a [Event],
}

/// What the engine saw, frame by frame: for plots that show why it counted
/// what it counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Seconds between consecutive values: the template's frame
    /// ([`Resolution`](super::features::Resolution)).
    pub frame_seconds: f64,
    /// Energy of each feature frame, in dB (relative to an arbitrary 0).
    pub energy_db: Vec<f32>,
    /// Match score of the window starting at each frame, 0..1.
    pub scores: Vec<f32>,
    /// The threshold a peak at each frame had to reach (it adapts to the
    /// recording unless the caller set one).
    pub thresholds: Vec<f32>,
    /// Every candidate the engine measured, with its verdict.
    pub candidates: Vec<(super::decide::Candidate, super::decide::Verdict)>,
}

impl Trace {
    /// An empty trace of frames `frame_seconds` apart.
    pub(crate) fn new(frame_seconds: f64) -> Trace {
        Trace {
            frame_seconds,
            energy_db: Vec::new(),
            scores: Vec::new(),
            thresholds: Vec::new(),
            candidates: Vec::new(),
        }
    }

    pub(crate) fn add_frames(&mut self, frames: &[f32]) {
        self.energy_db.extend(
            frames
                .chunks_exact(BANDS)
                .map(|frame| 10.0 * frame_energy(frame).max(1e-12).log10()),
        );
    }

    /// Drops the first `frames` frames' values: the silence laid before
    /// the recording.
    pub(crate) fn drop_first(&mut self, frames: usize) {
        for values in [&mut self.energy_db, &mut self.scores, &mut self.thresholds] {
            values.drain(..frames.min(values.len()));
        }
    }

    /// Keeps the first `frames` frames' values: those of the recording.
    pub(crate) fn truncate(&mut self, frames: usize) {
        self.energy_db.truncate(frames);
        self.scores.truncate(frames);
        self.thresholds.truncate(frames);
    }
}

/// Reads a template file whole (templates are short: at most 60 s).
pub fn load_template(path: &Path) -> Result<TemplateAudio, DspError> {
    read_template(AudioReader::open(path)?)
}

/// Decodes a template whole. One longer than [`MAX_TEMPLATE_SECONDS`] is
/// refused from its header where it says, else as soon as decoding passes
/// the limit, so a hostile header cannot make it decode hours.
pub fn read_template(mut source: AudioReader) -> Result<TemplateAudio, DspError> {
    let info = source.info();
    let rate = f64::from(info.sample_rate);
    if let Some(duration_s) = info.duration_s() {
        if duration_s > MAX_TEMPLATE_SECONDS {
            return Err(DspError::TemplateTooLong(duration_s));
        }
    }
    let limit_frames = (MAX_TEMPLATE_SECONDS * rate).ceil() as usize;
    let mut samples = Vec::with_capacity(
        info.frames
            .unwrap_or(0)
            .min(READ_ALL_RESERVE_FRAMES)
            .min(limit_frames as u64) as usize,
    );
    while source.read_block(1 << 16, &mut samples)? > 0 {
        if samples.len() > limit_frames {
            return Err(DspError::TemplateTooLong(samples.len() as f64 / rate));
        }
    }
    Ok(TemplateAudio {
        samples,
        sample_rate: info.sample_rate,
    })
}

/// Counts `template` in the audio file at `recording`, reading it in blocks so
/// memory stays bounded. `progress` is called after every block; returning
/// `false` cancels. With `trace`, the returned [`Trace`] is filled.
pub fn analyze_file(
    template: &TemplateAudio,
    recording: &Path,
    options: &Options,
    trace: bool,
    progress: &mut dyn FnMut(Progress<'_>) -> bool,
) -> Result<(Analysis, Option<Trace>), DspError> {
    analyze_file_with(
        template,
        recording,
        options,
        &Tuning::default(),
        trace,
        progress,
    )
}

/// [`analyze_file`] with the decision's parameters set (benches sweep
/// them).
pub fn analyze_file_with(
    template: &TemplateAudio,
    recording: &Path,
    options: &Options,
    tuning: &Tuning,
    trace: bool,
    progress: &mut dyn FnMut(Progress<'_>) -> bool,
) -> Result<(Analysis, Option<Trace>), DspError> {
    let mut source = AudioReader::open(recording)?;
    let info = source.info();
    let total_s = match info.duration_s() {
        Some(total_s) => total_s,
        // A container that does not announce its length: a first pass
        // measures it (rare: files written live).
        None => measure_duration(recording, f64::INFINITY)?,
    };
    if template.duration_s() > total_s {
        return Err(DspError::TemplateLongerThanRecording {
            template_s: template.duration_s(),
            recording_s: total_s,
        });
    }
    let mut counter = Counter::new(template, info.sample_rate, options)?.with_tuning(*tuning);
    if trace {
        counter = counter.with_trace();
    }
    let mut block = Vec::with_capacity(BLOCK_FRAMES);
    loop {
        block.clear();
        if source.read_block(BLOCK_FRAMES, &mut block)? == 0 {
            break;
        }
        let new_events = counter.push(&block)?;
        let done_s = counter.processed_s();
        if !progress(Progress {
            done_s,
            total_s,
            new_events: &new_events,
        }) {
            return Err(DspError::Cancelled);
        }
    }
    counter.finish()?;
    let analysis = Analysis {
        events: counter.events().to_vec(),
        duration_s: source.frames_read() as f64 / f64::from(info.sample_rate),
        verdicts: counter.verdicts().clone(),
    };
    Ok((analysis, counter.take_trace()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{planted_recording, rng, sound, write_wav, SoundKind};

    /// The events the progress reports carry, followed by those decided
    /// at the end, are the analysis's events: a caller passing them on
    /// while the count runs sends each once, in order, and most of them
    /// before the end.
    #[test]
    fn progress_reports_carry_the_events_as_they_are_decided() {
        let rate = 16_000;
        let click = sound(SoundKind::KeyClick, rate, &mut rng(7));
        let at: Vec<f64> = (0..40).map(|i| 1.0 + f64::from(i) * 0.5).collect();
        let recording = planted_recording(&click, rate, 22.0, &at);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clicks.wav");
        write_wav(&path, &recording, rate, 1, crate::audio::SampleLayout::S16).unwrap();
        let template = TemplateAudio {
            samples: click,
            sample_rate: rate,
        };
        let mut reported = Vec::new();
        let mut reports_with_events = 0;
        let (analysis, _) = analyze_file(&template, &path, &Options::default(), false, &mut |p| {
            reported.extend_from_slice(p.new_events);
            reports_with_events += usize::from(!p.new_events.is_empty());
            true
        })
        .unwrap();
        assert_eq!(analysis.count(), at.len());
        assert!(
            reports_with_events >= 3,
            "events come while the count runs: {reports_with_events} reports carried some"
        );
        assert!(reported.len() > analysis.count() / 2);
        assert_eq!(reported[..], analysis.events[..reported.len()]);
    }
}
