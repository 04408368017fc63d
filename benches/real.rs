//! Accuracy of the counting engine on real recorded sounds
//! (src/synth/real.rs; install them first with
//! `sudo scripts/install-real-sounds.sh`).
//!
//! `cargo bench --bench real -- [--split held-out|tuning|both] [--cases N]
//! [--first K] [--tiers clean,snr0,...] [--misses] [--timing]`
//! `cargo bench --bench real -- --explain held-out/TIER/INDEX` prints each
//! true onset with the best score near it, and each false event.
//! `cargo bench --bench real -- --dump held-out/TIER/INDEX` writes one case
//! as WAV files.
//!
//! Prints, per split of the source sounds (held-out first: the one a
//! change is judged by) and per tier, the exact-count rate and event F1
//! (one-to-one matching of onsets within max(0.1 s, 25 % of the
//! template's sound)), how many zero-count cases counted 0, and how many
//! candidates each rule rejected, and how far the reported onsets of
//! matched events lie from the true ones (`--timing`: per tier).
//! `--misses` names every inexact case, each repeat it missed and how that
//! repeat was varied, and tallies the missed repeats by kind of variation
//! (plain, a room, a telephone's band, both). `--tune`
//! sets parameters of the decision ([`Tuning`]); `--candidates` prints
//! the spread of the fine and correlation scores of candidates at a true
//! onset and elsewhere; `--candidates-csv FILE` writes every candidate's
//! measurements, verdict, whether it lies at a true onset and whether at
//! one no event found (a candidate that would mend a miss), one line
//! each, for analysis outside the bench.

use std::sync::Mutex;
use std::time::Instant;

use harmonic::dsp::decide::{Reason, Tuning, VerdictCounts};
use harmonic::dsp::Options;
use harmonic::synth::corpus::{Case, Tier};
use harmonic::synth::evaluate::{
    explain_heading, explain_timeline, job_threads, match_events, missed_onsets, print_timeline,
    run_case, run_jobs, write_case, BenchArgs, OnsetTiming, Outcome, Report,
};
use harmonic::synth::real::{self, Library, Split};

/// Per case: its split, the case, the outcome, the verdicts, the onset
/// timing and which true onsets were missed (indices in its truth).
type CaseResult = (Split, Case, Outcome, VerdictCounts, OnsetTiming, Vec<usize>);

fn main() {
    let args = BenchArgs::from_env();
    let dir = real::default_dir();
    let library = match Library::load(&dir) {
        Ok(library) => library,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let tuning = match args.tuning() {
        Ok(tuning) => tuning,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let candidates = args.switch("--candidates");
    let candidates_csv = args.value("--candidates-csv");
    if let Some(name) = args.value("--explain") {
        explain(&library, &name, &tuning);
        return;
    }
    if let Some(name) = args.value("--dump") {
        let case = named_case(&library, &name);
        write_case(&case, ".".as_ref()).expect("write the case");
        println!(
            "wrote template.wav and recording.wav ({}); true onsets: {:?}",
            case.sound, case.truth
        );
        return;
    }
    let cases: u64 = args.number("--cases", 12);
    let first: u64 = args.number("--first", 0);
    let splits: Vec<Split> = match args.value("--split").as_deref() {
        Some("tuning") => vec![Split::Tuning],
        Some("held-out") => vec![Split::HeldOut],
        _ => Split::ALL.to_vec(),
    };
    let tiers = args.tiers(&Tier::REAL);
    let started = Instant::now();
    let jobs: Vec<(Split, Tier, u64)> = splits
        .iter()
        .flat_map(|&split| {
            tiers.iter().flat_map(move |&tier| {
                // Five-minute cases are costly: a quarter as many.
                let n = if tier == Tier::Long {
                    cases.div_ceil(4)
                } else {
                    cases
                };
                (first..first + n).map(move |i| (split, tier, i))
            })
        })
        .collect();
    let results = Mutex::new(Vec::<CaseResult>::new());
    // (at a true onset, fine score, score) of every candidate.
    let measured = Mutex::new(Vec::<(bool, f32, f32)>::new());
    // One CSV line per candidate for `--candidates-csv`.
    let rows = Mutex::new(Vec::<String>::new());
    let failed = Mutex::new(Vec::<String>::new());
    run_jobs(&jobs, scratch_dir, |scratch, &(split, tier, index)| {
        let Some(case) = real::case(&library, split, tier, index) else {
            return;
        };
        let run = run_case(
            &case,
            &Options::default(),
            &tuning,
            scratch.path(),
            candidates || candidates_csv.is_some(),
        );
        let (detected, verdicts, trace) = match run {
            Ok(run) => {
                let onsets = run.events.iter().map(|e| e.start_s).collect();
                (onsets, run.verdicts, run.trace)
            }
            Err(e) => {
                eprintln!("{}: {e}", case.name);
                failed.lock().unwrap().push(case.name.clone());
                (Vec::new(), VerdictCounts::default(), None)
            }
        };
        let outcome = match_events(&case.truth, &detected, case.tolerance_s());
        let missed = missed_onsets(&case.truth, &detected, case.tolerance_s());
        if let Some(trace) = &trace {
            let within = |t: f64, c: f64| (c - t).abs() <= case.tolerance_s();
            let mut measured = measured.lock().unwrap();
            let mut rows = rows.lock().unwrap();
            for (c, verdict) in &trace.candidates {
                let near = case.truth.iter().any(|&t| within(t, c.start_s));
                let at_missed = missed.iter().any(|&i| within(case.truth[i], c.start_s));
                let on_other = case
                    .distractors
                    .iter()
                    .find(|d| d.sounds_at(c.start_s, case.tolerance_s()))
                    .map_or("", |d| d.sound.as_str());
                measured.push((near, c.fine, c.score));
                rows.push(format!(
                    "{},{},{},{},{},{},{:.4},{:.4},{:.4},{:.4},{:e},{:?},{},{:.4},{:?},{},{},{}",
                    split.name(),
                    case.tier.name(),
                    case.name,
                    case.sound,
                    case.noise.unwrap_or("none"),
                    case.truth.len(),
                    c.start_s,
                    c.score,
                    c.fine,
                    c.fine_steadiness,
                    c.loudness.unwrap_or(f32::NAN),
                    c.separate,
                    c.buried,
                    c.score_under_earlier,
                    verdict,
                    near,
                    at_missed,
                    on_other
                ));
            }
        }
        let mut timing = OnsetTiming::default();
        timing.add(&case.truth, &detected, case.tolerance_s());
        results
            .lock()
            .unwrap()
            .push((split, case, outcome, verdicts, timing, missed));
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| (a.0, a.1.tier, &a.1.name).cmp(&(b.0, b.1.tier, &b.1.name)));
    for split in &splits {
        let mut report = Report::default();
        let (mut zero_cases, mut zero_right) = (0, 0);
        let mut verdicts = VerdictCounts::default();
        let mut timings = std::collections::BTreeMap::<Tier, OnsetTiming>::new();
        let mut overall_timing = OnsetTiming::default();
        for (_, case, outcome, counts, timing, _) in results.iter().filter(|r| r.0 == *split) {
            verdicts.merge(counts);
            timings.entry(case.tier).or_default().merge(timing);
            overall_timing.merge(timing);
            report.add(case, *outcome);
            if case.truth.is_empty() {
                zero_cases += 1;
                zero_right += usize::from(outcome.false_positives == 0);
            }
        }
        println!(
            "\n{} sources ({} of {}):",
            split.name(),
            library.split(*split).count(),
            library.sources.len()
        );
        print!("{}", report.markdown());
        println!("zero-count cases counted 0: {zero_right} of {zero_cases}");
        println!("{}", overall_timing.line());
        if args.switch("--timing") {
            println!(
                "| tier | mean onset error | median size | 90th percentile |\n|---|---:|---:|---:|"
            );
            for (tier, timing) in &timings {
                if let Some((mean, median, p90)) = timing.summary_ms() {
                    println!(
                        "| {} | {mean:+.1} ms | {median:.1} ms | {p90:.1} ms |",
                        tier.name()
                    );
                }
            }
        }
        let rejected: Vec<String> = Reason::ALL
            .iter()
            .zip(&verdicts.rejected)
            .map(|(r, n)| format!("{} {n}", r.name()))
            .collect();
        println!(
            "candidates: {} events; rejected: {}",
            verdicts.events,
            rejected.join(", ")
        );
        if args.switch("--misses") {
            for (name, outcome) in &report.misses {
                let result = results.iter().find(|r| &r.1.name == name);
                let case = result.map(|r| &r.1);
                let sound = case.map_or("?", |c| c.sound.as_str());
                let noise = case.and_then(|c| c.noise).unwrap_or("no noise");
                println!("  miss {name} ({sound}, {noise}): {outcome:?}");
                if let Some(r) = result {
                    for &i in &r.5 {
                        let how = r.1.variations.get(i).map(|v| v.to_string());
                        println!(
                            "    missed {:.3} s: {}",
                            r.1.truth[i],
                            how.as_deref().unwrap_or("?")
                        );
                    }
                }
            }
            print_missed_by_variation(results.iter().filter(|r| r.0 == *split));
        }
    }
    if let Some(path) = &candidates_csv {
        let mut rows = rows.into_inner().unwrap();
        rows.sort();
        let header = "split,tier,case,sound,noise,truths,start_s,score,fine,steadiness,loudness,separate,buried,score_under_earlier,verdict,at_true_onset,at_missed_onset,on_other";
        let text = std::iter::once(header.to_string())
            .chain(rows)
            .collect::<Vec<_>>()
            .join("\n");
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("{path}: {e}");
        }
    }
    if candidates {
        let mut measured = measured.into_inner().unwrap();
        for near in [true, false] {
            for (what, pick) in [
                (
                    "fine",
                    (|m: &(bool, f32, f32)| m.1) as fn(&(bool, f32, f32)) -> f32,
                ),
                ("score", |m| m.2),
            ] {
                let mut values: Vec<f32> =
                    measured.iter().filter(|m| m.0 == near).map(pick).collect();
                values.sort_by(f32::total_cmp);
                let q = |p: f64| {
                    values
                        .get(((values.len().max(1) - 1) as f64 * p) as usize)
                        .copied()
                        .unwrap_or(f32::NAN)
                };
                println!(
                    "{} candidates {}: {what} p1 {:.2} p5 {:.2} p10 {:.2} p50 {:.2} p90 {:.2} p95 {:.2} p99 {:.2}",
                    if near { "at a true onset" } else { "elsewhere" },
                    values.len(),
                    q(0.01), q(0.05), q(0.1), q(0.5), q(0.9), q(0.95), q(0.99)
                );
            }
        }
        measured.clear();
    }
    let mut failed = failed.into_inner().unwrap();
    if !failed.is_empty() {
        failed.sort();
        println!(
            "\n{} cases FAILED with an error (scored as no events): {}",
            failed.len(),
            failed.join(", ")
        );
    }
    println!(
        "\n{} cases ({cases} per tier and split from {first}, a quarter as many long ones) from {}, generated and scored in {:.1} s on {} threads",
        results.len(),
        dir.display(),
        started.elapsed().as_secs_f64(),
        job_threads()
    );
}

/// The case named `split/tier/index`.
/// How many repeats of each kind of variation
/// ([`Variation::kind`](harmonic::synth::corpus::Variation::kind)) the
/// cases hold and how many were missed: which changes a repeat goes
/// through the engine is weakest against.
fn print_missed_by_variation<'a>(results: impl Iterator<Item = &'a CaseResult>) {
    let mut tally = std::collections::BTreeMap::<&str, (usize, usize)>::new();
    for (_, case, _, _, _, missed) in results {
        for (i, variation) in case.variations.iter().enumerate() {
            let entry = tally.entry(variation.kind()).or_default();
            entry.0 += 1;
            entry.1 += usize::from(missed.contains(&i));
        }
    }
    let line: Vec<String> = tally
        .iter()
        .map(|(kind, (all, missed))| format!("{kind} {missed} of {all}"))
        .collect();
    println!("missed repeats by variation: {}", line.join(", "));
}

fn named_case(library: &Library, name: &str) -> Case {
    let mut parts = name.split('/');
    let (Some(split), Some(tier), Some(index)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("a case is named SPLIT/TIER/INDEX, as in held-out/varied/3");
    };
    let split = Split::ALL
        .into_iter()
        .find(|s| s.name() == split)
        .expect("split is held-out or tuning");
    let tier = Tier::REAL
        .into_iter()
        .find(|t| t.name() == tier)
        .expect("a known tier");
    real::case(library, split, tier, index.parse().expect("a case number"))
        .expect("the split has sources")
}

/// Prints, for one case, every true onset with the best score near it and
/// every detection with its score, in time order.
fn explain(library: &Library, name: &str, tuning: &Tuning) {
    let case = named_case(library, name);
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let run =
        run_case(&case, &Options::default(), tuning, scratch.path(), true).expect("a valid case");
    let (events, trace) = (run.events, run.trace.expect("a trace"));
    println!("{}", explain_heading(name, &case));
    let mut lines = explain_timeline(&case, &events, &trace);
    for (c, verdict) in &trace.candidates {
        lines.push((
            c.start_s,
            format!(
                "    candidate {:8.3}  score {:.3} fine {:.3} loudness {:.2e} -> {verdict:?}",
                c.start_s,
                c.score,
                c.fine,
                c.loudness.unwrap_or(f32::NAN)
            ),
        ));
    }
    print_timeline(lines);
}

/// Each worker thread's scratch directory (cases go through WAV files).
fn scratch_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a scratch directory")
}
