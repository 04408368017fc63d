//! `harmonic analyze TEMPLATE RECORDING`: the engine on two local files.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::dsp::{self, Event};

/// Arguments of `harmonic analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// The short sound to look for (WAV, AIFF, FLAC, MP3, Ogg Vorbis, M4A).
    template: PathBuf,
    /// The recording to count it in (any of the same formats).
    recording: PathBuf,
    /// Print exactly one JSON object on stdout and nothing else (the
    /// global `--json`).
    #[arg(skip)]
    pub(crate) json: bool,
    #[command(flatten)]
    engine: super::EngineArgs,
    /// Draw the envelope, score, threshold and events to FILE (.svg or .png).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

/// The `--json` output, in the documented key order.
#[derive(Serialize)]
struct JsonReport<'a> {
    count: usize,
    events: &'a [Event],
    duration_s: f64,
    elapsed_ms: f64,
}

/// Runs the analysis and prints the result.
pub fn run(args: AnalyzeArgs) -> Result<(), String> {
    let started = Instant::now();
    let options = args.engine.local();
    let template = dsp::load_template(&args.template)
        .map_err(|e| format!("template {}: {e}", args.template.display()))?;

    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} analysing [{bar:40}] {percent}% {msg} (eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    });
    let mut progress = |p: dsp::Progress| {
        if let Some(bar) = &bar {
            bar.set_length((p.total_s * 1000.0) as u64);
            bar.set_position((p.done_s * 1000.0) as u64);
            bar.set_message(format!("{:.0}/{:.0} s", p.done_s, p.total_s));
        }
        true
    };
    let result = dsp::analyze_file(
        &template,
        &args.recording,
        &options,
        args.plot.is_some(),
        &mut progress,
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let (analysis, trace) = result.map_err(|e| match e {
        dsp::DspError::Audio(audio) => format!("recording {}: {audio}", args.recording.display()),
        other => other.to_string(),
    })?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;

    if let (Some(path), Some(trace)) = (&args.plot, &trace) {
        super::draw_count_plot(
            path,
            &args
                .template
                .file_name()
                .unwrap_or_default()
                .to_string_lossy(),
            &args.recording,
            trace,
            &analysis.events,
        )?;
    }

    let out = if args.json {
        let report = JsonReport {
            count: analysis.count(),
            events: &analysis.events,
            duration_s: analysis.duration_s,
            elapsed_ms,
        };
        serde_json::to_string(&report).map_err(|e| e.to_string())? + "\n"
    } else {
        super::count_report(
            analysis.count(),
            &args.recording,
            analysis.duration_s,
            &format!("analysed in {elapsed_ms:.0} ms"),
            analysis
                .events
                .iter()
                .map(|e| (e.start_s, f64::from(e.score))),
            args.plot.as_deref(),
        )
    };
    super::print_stdout(&out)
}
