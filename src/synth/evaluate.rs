//! Scoring a counter against the truth: one-to-one matching of event times,
//! exact-count rate and event F1, per tier.

use std::collections::BTreeMap;

use super::corpus::{Case, Tier};
use crate::dsp::decide::{Tuning, VerdictCounts};
use crate::dsp::{Counter, DspError, Event, Options, TemplateAudio, Trace};

/// How one case went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Detected events matched to a true occurrence.
    pub true_positives: usize,
    /// Detected events with no true occurrence.
    pub false_positives: usize,
    /// True occurrences nobody detected.
    pub false_negatives: usize,
}

impl Outcome {
    /// Whether the count was exactly right (as many detections as truths).
    pub fn exact(&self) -> bool {
        self.false_positives == self.false_negatives
    }

    /// How far the count is off, as a share of the true count (0 for an
    /// exact count; a case with no true events counts its events).
    pub fn count_error(&self) -> f64 {
        let truth = self.true_positives + self.false_negatives;
        self.false_positives.abs_diff(self.false_negatives) as f64 / truth.max(1) as f64
    }
}

/// Matches detected onsets to true ones, each used once, within `tolerance`
/// seconds. Both lists must be sorted; with one tolerance for all, the
/// greedy sweep finds a maximum matching.
pub fn match_events(truth: &[f64], detected: &[f64], tolerance: f64) -> Outcome {
    let matched = matched_pairs(truth, detected, tolerance).len();
    Outcome {
        true_positives: matched,
        false_positives: detected.len() - matched,
        false_negatives: truth.len() - matched,
    }
}

/// The indices in `truth` of the onsets [`match_events`] leaves
/// unmatched: the repeats the engine missed.
pub fn missed_onsets(truth: &[f64], detected: &[f64], tolerance: f64) -> Vec<usize> {
    let mut matched = vec![false; truth.len()];
    for (i, _) in matched_pairs(truth, detected, tolerance) {
        matched[i] = true;
    }
    (0..truth.len()).filter(|&i| !matched[i]).collect()
}

/// The pairs (index in `truth`, index in `detected`) that
/// [`match_events`] matches.
fn matched_pairs(truth: &[f64], detected: &[f64], tolerance: f64) -> Vec<(usize, usize)> {
    let (mut i, mut j) = (0, 0);
    let mut pairs = Vec::new();
    while i < truth.len() && j < detected.len() {
        if (truth[i] - detected[j]).abs() <= tolerance {
            pairs.push((i, j));
            i += 1;
            j += 1;
        } else if detected[j] < truth[i] {
            j += 1;
        } else {
            i += 1;
        }
    }
    pairs
}

/// How far the reported onsets of matched events lie from the true ones:
/// the time of every occurrence is half of what a user is told, and the
/// matching tolerance alone hides an onset that is always late or early.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OnsetTiming {
    /// Detected minus true onset of each matched event (seconds).
    errors_s: Vec<f64>,
}

impl OnsetTiming {
    /// Adds the errors of the events [`match_events`] matches.
    pub fn add(&mut self, truth: &[f64], detected: &[f64], tolerance: f64) {
        self.errors_s.extend(
            matched_pairs(truth, detected, tolerance)
                .into_iter()
                .map(|(i, j)| detected[j] - truth[i]),
        );
    }

    /// Adds another set of errors to these.
    pub fn merge(&mut self, other: &OnsetTiming) {
        self.errors_s.extend_from_slice(&other.errors_s);
    }

    /// Mean error (bias: positive is late), median and 90th percentile of
    /// the error's size, in milliseconds; `None` without matched events.
    pub fn summary_ms(&self) -> Option<(f64, f64, f64)> {
        if self.errors_s.is_empty() {
            return None;
        }
        let mean = self.errors_s.iter().sum::<f64>() / self.errors_s.len() as f64;
        let mut sizes: Vec<f64> = self.errors_s.iter().map(|e| e.abs()).collect();
        sizes.sort_by(f64::total_cmp);
        let at = |q: f64| sizes[((sizes.len() - 1) as f64 * q).round() as usize];
        Some((mean * 1e3, at(0.5) * 1e3, at(0.9) * 1e3))
    }

    /// One line for a bench's report.
    pub fn line(&self) -> String {
        match self.summary_ms() {
            Some((mean, median, p90)) => format!(
                "onset timing of matched events: mean error {mean:+.1} ms, median |error| {median:.1} ms, 90th percentile {p90:.1} ms"
            ),
            None => "onset timing: no matched events".to_owned(),
        }
    }
}

/// Runs the engine on a case (through WAV files in `scratch` when the case
/// asks for it) and returns the detected onsets.
pub fn detect(
    case: &Case,
    options: &Options,
    scratch: &std::path::Path,
) -> Result<Vec<f64>, DspError> {
    let run = run_case(case, options, &Tuning::default(), scratch, false)?;
    Ok(run.events.iter().map(|e| e.start_s).collect())
}

/// What the engine made of one case.
#[derive(Debug, Clone)]
pub struct Run {
    /// Its events.
    pub events: Vec<Event>,
    /// The per-frame trace, when asked for.
    pub trace: Option<Trace>,
    /// How many candidates each verdict took.
    pub verdicts: VerdictCounts,
}

/// Runs the engine with `tuning` on a case as the measurement does
/// (through WAV files in `scratch` when the case tests decoding, whose
/// formats change what the engine sees), with the per-frame trace when
/// `trace` asks for it.
pub fn run_case(
    case: &Case,
    options: &Options,
    tuning: &Tuning,
    scratch: &std::path::Path,
    trace: bool,
) -> Result<Run, DspError> {
    if case.through_files() {
        let (template_path, recording_path) = write_case(case, scratch)?;
        let template = crate::dsp::load_template(&template_path)?;
        let (analysis, trace) = crate::dsp::analyze_file_with(
            &template,
            &recording_path,
            options,
            tuning,
            trace,
            &mut |_| true,
        )?;
        Ok(Run {
            events: analysis.events,
            trace,
            verdicts: analysis.verdicts,
        })
    } else {
        let template = TemplateAudio {
            samples: case.template.clone(),
            sample_rate: case.template_format.rate,
        };
        let mut counter =
            Counter::new(&template, case.recording_format.rate, options)?.with_tuning(*tuning);
        if trace {
            counter = counter.with_trace();
        }
        counter.push(&case.recording)?;
        counter.finish()?;
        Ok(Run {
            events: counter.events().to_vec(),
            trace: counter.take_trace(),
            verdicts: counter.verdicts().clone(),
        })
    }
}

/// Writes a case's template and recording as WAV files in `scratch`, in
/// the case's formats, and returns their paths: the files a case that
/// tests decoding is analysed from.
pub fn write_case(
    case: &Case,
    scratch: &std::path::Path,
) -> Result<(std::path::PathBuf, std::path::PathBuf), DspError> {
    let template_path = scratch.join("template.wav");
    let recording_path = scratch.join("recording.wav");
    for (path, samples, format) in [
        (&template_path, &case.template, case.template_format),
        (&recording_path, &case.recording, case.recording_format),
    ] {
        super::write_wav(path, samples, format.rate, format.channels, format.layout)
            .map_err(|e| DspError::InvalidOption(format!("cannot write the case's WAV: {e}")))?;
    }
    Ok((template_path, recording_path))
}

/// Totals of a tier (or of everything).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TierScore {
    /// Cases run.
    pub cases: usize,
    /// Cases whose count was exactly right.
    pub exact: usize,
    /// Summed outcome over the cases.
    pub totals: Outcome,
    /// The largest [`Outcome::count_error`] of a case: how wrong the
    /// worst count was, which the exact-count rate alone does not say.
    pub worst_count_error: f64,
}

impl TierScore {
    /// Adds one case's outcome.
    pub fn add(&mut self, outcome: Outcome) {
        self.cases += 1;
        if outcome.exact() {
            self.exact += 1;
        }
        self.worst_count_error = self.worst_count_error.max(outcome.count_error());
        self.totals.true_positives += outcome.true_positives;
        self.totals.false_positives += outcome.false_positives;
        self.totals.false_negatives += outcome.false_negatives;
    }

    /// Event F1 over every event of the tier.
    pub fn f1(&self) -> f64 {
        let tp = self.totals.true_positives as f64;
        let denominator =
            2.0 * tp + (self.totals.false_positives + self.totals.false_negatives) as f64;
        if denominator == 0.0 {
            1.0
        } else {
            2.0 * tp / denominator
        }
    }

    /// Share of cases counted exactly.
    pub fn exact_rate(&self) -> f64 {
        self.exact as f64 / self.cases.max(1) as f64
    }
}

/// Scores per tier, and over all.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One entry per tier run.
    pub tiers: BTreeMap<Tier, TierScore>,
    /// Every case together.
    pub overall: TierScore,
    /// Cases that did not match the truth, for investigation: (name, outcome).
    pub misses: Vec<(String, Outcome)>,
}

impl Report {
    /// Adds a case's outcome to its tier and the total.
    pub fn add(&mut self, case: &Case, outcome: Outcome) {
        self.tiers.entry(case.tier).or_default().add(outcome);
        self.overall.add(outcome);
        if outcome.false_positives + outcome.false_negatives > 0 {
            self.misses.push((case.name.clone(), outcome));
        }
    }

    /// A Markdown table of the report.
    pub fn markdown(&self) -> String {
        let mut out = String::from("| tier | cases | exact count | worst count off by | F1 | TP | FP | FN |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        let row = |name: &str, s: &TierScore| {
            format!(
                "| {name} | {} | {:.1} % | {:.1} % | {:.3} | {} | {} | {} |\n",
                s.cases,
                100.0 * s.exact_rate(),
                100.0 * s.worst_count_error,
                s.f1(),
                s.totals.true_positives,
                s.totals.false_positives,
                s.totals.false_negatives
            )
        };
        for (tier, score) in &self.tiers {
            out.push_str(&row(tier.name(), score));
        }
        out.push_str(&row("**overall**", &self.overall));
        out
    }
}

/// A benchmark's command line (`--flag value` pairs and switches), read
/// by hand: `cargo bench` passes flags of its own (`--bench`), which a
/// strict parser would refuse.
#[derive(Debug, Clone)]
pub struct BenchArgs(Vec<String>);

impl BenchArgs {
    /// The arguments the process was started with.
    pub fn from_env() -> BenchArgs {
        BenchArgs(std::env::args().collect())
    }

    /// The word after `flag`, where `flag` is given.
    pub fn value(&self, flag: &str) -> Option<String> {
        let at = self.0.iter().position(|a| a == flag)?;
        self.0.get(at + 1).cloned()
    }

    /// `flag`'s value read as a `T`, or `default` where it is absent or
    /// does not read.
    pub fn number<T: std::str::FromStr>(&self, flag: &str, default: T) -> T {
        self.value(flag)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// Whether the switch `flag` is given.
    pub fn switch(&self, flag: &str) -> bool {
        self.0.iter().any(|a| a == flag)
    }

    /// The decision's parameters: the defaults, with what `--tune
    /// name=value,...` sets (both accuracy benches sweep the same
    /// [`Tuning`] without editing code). An error names a bad setting.
    pub fn tuning(&self) -> Result<Tuning, String> {
        let mut tuning = Tuning::default();
        if let Some(settings) = self.value("--tune") {
            tuning
                .apply(&settings)
                .map_err(|e| format!("--tune: {e}"))?;
        }
        Ok(tuning)
    }

    /// The tiers of `from` that `--tiers a,b,...` names, in `from`'s order;
    /// all of `from` without `--tiers`.
    pub fn tiers(&self, from: &[Tier]) -> Vec<Tier> {
        match self.value("--tiers") {
            Some(list) => from
                .iter()
                .copied()
                .filter(|t| list.split(',').any(|n| n == t.name()))
                .collect(),
            None => from.to_vec(),
        }
    }
}

/// The threads [`run_jobs`] uses: one per core.
pub fn job_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work` on every job on as many threads as the machine has cores,
/// each thread with the state `per_thread` makes (a scratch directory for
/// the benches). Threads take the next job in order, one at a time, so long
/// cases spread over the threads.
pub fn run_jobs<J: Sync, S>(
    jobs: &[J],
    per_thread: impl Fn() -> S + Sync,
    work: impl Fn(&S, &J) + Sync,
) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..job_threads() {
            scope.spawn(|| {
                let state = per_thread();
                while let Some(job) =
                    jobs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    work(&state, job);
                }
            });
        }
    });
}

/// The start of a bench's `--explain` of one case: its name, sound,
/// tolerance and noise.
pub fn explain_heading(name: &str, case: &Case) -> String {
    format!(
        "{name} ({}), sound {:.3} s, tolerance {:.3} s, noise {}",
        case.sound,
        case.sound_s,
        case.tolerance_s(),
        case.noise.unwrap_or("none")
    )
}

/// The timeline of a bench's `--explain` of one case, as `(time, line)` to
/// sort once the caller has added its own: every true onset with the best
/// score near it, and every event, `event` near an onset or `FALSE`. An
/// event standing for two onsets, or an onset with no event of its own,
/// shows as two lines of one kind in a row.
pub fn explain_timeline(case: &Case, events: &[Event], trace: &Trace) -> Vec<(f64, String)> {
    let frame = |s: f64| (s / trace.frame_seconds).round().max(0.0) as usize;
    let best = |from: f64, to: f64| {
        (frame(from)..=frame(to).min(trace.scores.len().saturating_sub(1)))
            .map(|f| (f, trace.scores[f]))
            .fold((0, 0.0f32), |a, b| if b.1 > a.1 { b } else { a })
    };
    let tolerance = case.tolerance_s();
    let mut lines: Vec<(f64, String)> = case
        .truth
        .iter()
        .map(|&t| {
            let (f, s) = best(t - 0.06, t + 0.02);
            let at = f as f64 * trace.frame_seconds;
            let line = format!("  truth {t:8.3}                  best score {s:.3} at {at:8.3}");
            (t, line)
        })
        .collect();
    for e in events {
        let near = case
            .truth
            .iter()
            .any(|t| (e.start_s - t).abs() <= tolerance);
        let kind = if near { "event" } else { "FALSE" };
        let line = format!("  {kind}   {:8.3}  score {:.3}", e.start_s, e.score);
        lines.push((e.start_s, line));
    }
    for d in &case.distractors {
        let line = format!(
            "  other  {:8.3}  {} ({:.3} s)",
            d.start_s, d.sound, d.length_s
        );
        lines.push((d.start_s, line));
    }
    lines
}

/// Prints an `--explain` timeline in time order.
pub fn print_timeline(mut lines: Vec<(f64, String)>) {
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (_, line) in lines {
        println!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_count_error_is_kept_per_tier() {
        let mut tier = TierScore::default();
        let off = |true_positives, false_positives, false_negatives| Outcome {
            true_positives,
            false_positives,
            false_negatives,
        };
        tier.add(off(10, 0, 0));
        tier.add(off(18, 1, 2));
        tier.add(off(9, 1, 1));
        assert_eq!(tier.exact, 2, "a miss and a false event cancel out");
        assert!((tier.worst_count_error - 0.05).abs() < 1e-12, "1 of 20");
        assert_eq!(
            off(0, 3, 0).count_error(),
            3.0,
            "no true events: counts them"
        );
    }

    #[test]
    fn onset_timing_reads_the_matched_events_only() {
        let mut timing = OnsetTiming::default();
        timing.add(&[1.0, 2.0, 3.0], &[1.05, 1.08, 2.5, 3.02], 0.1);
        let (mean, median, p90) = timing.summary_ms().unwrap();
        assert!((mean - 35.0).abs() < 1e-6, "(+50 + 20) / 2 ms: {mean}");
        assert!((median - 50.0).abs() < 1e-6 && (p90 - 50.0).abs() < 1e-6);
        assert_eq!(OnsetTiming::default().summary_ms(), None);
    }

    #[test]
    fn matching_is_one_to_one_within_tolerance() {
        let outcome = match_events(&[1.0, 2.0, 3.0], &[1.05, 1.08, 2.5, 3.02], 0.1);
        assert_eq!(
            outcome,
            Outcome {
                true_positives: 2,
                false_positives: 2,
                false_negatives: 1
            }
        );
    }
}
