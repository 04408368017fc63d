//! Accuracy of the counting engine on the project's seeded corpus.
//!
//! `cargo bench --bench accuracy -- [--cases N] [--first K] [--tiers clean,snr0,...] [--sweep] [--misses]
//! [--tune name=value,...]` (`--tune` sets parameters of `dsp::decide::Tuning`, as in the real-sound bench)
//! `cargo bench --bench accuracy -- --dump TIER/INDEX` writes one case as WAV files.
//! `cargo bench --bench accuracy -- --explain TIER/INDEX` prints each true onset
//! with the best score near it, and each false event.
//!
//! Prints, per tier, the exact-count rate and event F1 (one-to-one matching
//! of onsets within max(0.1 s, 25 % of the template's sound)), as a Markdown
//! table for docs/BENCHMARKS.md. `--sweep` repeats the run over thresholds.

use std::sync::Mutex;
use std::time::Instant;

use harmonic::dsp::Options;
use harmonic::synth::corpus::{case, Tier};
use harmonic::synth::evaluate::{
    explain_heading, explain_timeline, job_threads, match_events, print_timeline, run_case,
    run_jobs, write_case, BenchArgs, OnsetTiming, Report,
};

fn main() {
    let args = BenchArgs::from_env();
    let cases: u64 = args.number("--cases", 20);
    // Cases `first..first + cases` of each tier: a later range is a held-out
    // set for checking that tuning on the first one did not overfit.
    let first: u64 = args.number("--first", 0);
    let tiers = args.tiers(&Tier::ALL);
    let tuning = match args.tuning() {
        Ok(tuning) => tuning,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let thresholds: Vec<Option<f32>> = if args.switch("--sweep") {
        [0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65]
            .into_iter()
            .map(Some)
            .collect()
    } else {
        vec![args.value("--threshold").and_then(|v| v.parse().ok())]
    };

    if let Some(name) = args.value("--dump") {
        // Write one case as WAV files to look at (`harmonic analyze --plot`).
        let (tier, index) = name.split_once('/').expect("--dump TIER/INDEX");
        let tier = Tier::ALL
            .into_iter()
            .find(|t| t.name() == tier)
            .expect("a known tier");
        let case = case(tier, index.parse().expect("a case number"));
        write_case(&case, ".".as_ref()).unwrap();
        println!(
            "wrote template.wav and recording.wav ({}); true onsets: {:?}",
            case.sound, case.truth
        );
        return;
    }
    if let Some(name) = args.value("--explain") {
        explain(&name);
        return;
    }
    let started = Instant::now();
    let jobs: Vec<(Tier, u64)> = tiers
        .iter()
        .flat_map(|&tier| {
            // Ten-minute cases are costly: a quarter as many.
            let n = if tier == Tier::Long {
                cases.div_ceil(4)
            } else {
                cases
            };
            (first..first + n).map(move |i| (tier, i))
        })
        .collect();
    // Generate once, score at every threshold.
    let generated = Mutex::new(Vec::new());
    let timing = Mutex::new(OnsetTiming::default());
    // Cases the engine refused with an error: scored as no events, and
    // named after the tables, as they point at a bug rather than a miss.
    let failed = Mutex::new(Vec::<String>::new());
    run_jobs(&jobs, scratch_dir, |scratch, &(tier, index)| {
        let case = case(tier, index);
        let detections: Vec<_> = thresholds
            .iter()
            .map(|&threshold| {
                let options = Options {
                    threshold,
                    min_gap_s: None,
                };
                run_case(&case, &options, &tuning, scratch.path(), false)
                    .map(|run| run.events.iter().map(|e| e.start_s).collect())
                    .unwrap_or_else(|e| {
                        eprintln!("{}: {e}", case.name);
                        failed.lock().unwrap().push(case.name.clone());
                        Vec::new()
                    })
            })
            .collect();
        let outcomes: Vec<_> = detections
            .iter()
            .map(|d| match_events(&case.truth, d, case.tolerance_s()))
            .collect();
        // Timing of the events matched at the first threshold.
        if let Some(first) = detections.first() {
            timing
                .lock()
                .unwrap()
                .add(&case.truth, first, case.tolerance_s());
        }
        generated.lock().unwrap().push((case, outcomes));
    });
    let mut generated = generated.into_inner().unwrap();
    generated.sort_by(|a, b| (a.0.tier, &a.0.name).cmp(&(b.0.tier, &b.0.name)));

    for (k, threshold) in thresholds.iter().enumerate() {
        let mut report = Report::default();
        for (case, outcomes) in &generated {
            report.add(case, outcomes[k]);
        }
        match threshold {
            Some(t) => println!("\nthreshold {t}:"),
            None => println!(
                "\ndefault threshold ({}):",
                harmonic::dsp::DEFAULT_THRESHOLD
            ),
        }
        print!("{}", report.markdown());
        if args.switch("--misses") {
            for (name, outcome) in &report.misses {
                let case = generated.iter().find(|(c, _)| &c.name == name);
                let kind = case.map_or("?", |(c, _)| c.sound.as_str());
                let noise = case.and_then(|(c, _)| c.noise).unwrap_or("no noise");
                println!("  miss {name} ({kind}, {noise}): {outcome:?}");
            }
        }
    }
    println!("\n{}", timing.into_inner().unwrap().line());
    let mut failed = failed.into_inner().unwrap();
    if !failed.is_empty() {
        failed.sort();
        failed.dedup();
        println!(
            "\n{} cases FAILED with an error (scored as no events): {}",
            failed.len(),
            failed.join(", ")
        );
    }
    println!(
        "\n{} cases, {} per tier ({} for long), generated and scored in {:.1} s on {} threads",
        generated.len(),
        cases,
        cases.div_ceil(4),
        started.elapsed().as_secs_f64(),
        job_threads()
    );
}

/// Prints, for one case, every true onset with the best score near it and
/// every detection with its score, in time order: where a miss comes from.
fn explain(name: &str) {
    let (tier, index) = name.split_once('/').expect("--explain TIER/INDEX");
    let tier = Tier::ALL
        .into_iter()
        .find(|t| t.name() == tier)
        .expect("a known tier");
    let case = case(tier, index.parse().expect("a case number"));
    // The same path as the measurement (cases that test decoding go
    // through their WAV files).
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let run = run_case(
        &case,
        &Options::default(),
        &Default::default(),
        scratch.path(),
        true,
    )
    .expect("a valid case");
    let (events, trace) = (run.events, run.trace.expect("a trace"));
    println!("{}", explain_heading(name, &case));
    let mut sorted = trace.scores.clone();
    sorted.sort_by(f32::total_cmp);
    let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p) as usize];
    println!(
        "  scores: median {:.3}, p90 {:.3}, p99 {:.3}, max {:.3}",
        q(0.5),
        q(0.9),
        q(0.99),
        q(1.0)
    );
    print_timeline(explain_timeline(&case, &events, &trace));
}

/// Each worker thread's scratch directory (cases that test decoding go
/// through WAV files).
fn scratch_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a scratch directory")
}
