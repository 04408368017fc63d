//! `harmonic count (--sound NAME | --template FILE) RECORDING`: counts on
//! the server. The recording is uploaded in chunks (with a progress bar on a
//! terminal) unless it fits in one frame; the analysis reports its progress;
//! the count and the event times are printed as `analyze` prints them.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Map, Value};

use super::client::{connect, finish, log_in, runtime, ConnectArgs, Failure};
use crate::client::{AudioSource, Client, UPLOAD_CHUNK_LEN};
use crate::dsp;
use crate::protocol::response::CountResult;
use crate::protocol::{CountOptions, Push, TemplateSource};

/// Where the template comes from: exactly one of `--sound` and `--template`.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct TemplateArgs {
    /// A sound saved on the server (`harmonic sounds save`).
    #[arg(long, value_name = "NAME")]
    pub sound: Option<String>,
    /// A local audio file, uploaded for this command only.
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
}

impl TemplateArgs {
    /// The template as the server takes it (uploading a local file).
    pub(crate) async fn resolve(&self, client: &Client) -> Result<TemplateSource, Failure> {
        match (&self.sound, &self.template) {
            (Some(name), _) => Ok(TemplateSource::Sound(name.clone())),
            (None, Some(path)) => {
                if !path.is_file() {
                    return Err(format!("template {} is not a file", path.display()).into());
                }
                let upload = client.upload(path.as_path(), |_, _| {}).await?;
                Ok(TemplateSource::Upload(upload.upload_id))
            }
            (None, None) => Err("give --sound NAME or --template FILE".into()),
        }
    }
}

/// Arguments of `harmonic count`.
#[derive(Debug, clap::Args)]
pub struct CountArgs {
    /// Set from the global options (before or after the subcommand).
    #[arg(skip)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    template: TemplateArgs,
    /// The recording to count the sound in (WAV, AIFF, FLAC, MP3, Ogg Vorbis, M4A).
    recording: PathBuf,
    #[command(flatten)]
    engine: super::EngineArgs,
    /// Draw the envelope, score, threshold and events to FILE (.svg or .png).
    /// The server sends no score curve, so for the plot the engine also runs
    /// here, on the same files with the same options (the events drawn are
    /// the server's).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

/// A progress bar on stderr when it is a terminal.
pub(crate) fn bar(template: &str) -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    })
}

/// Runs `harmonic count`.
pub fn run(args: CountArgs) -> Result<(), String> {
    let outcome = runtime()?.block_on(count(&args));
    let outcome = outcome.and_then(|result| {
        if let Some(path) = &args.plot {
            plot(&args, path, &result)?;
        }
        Ok(result)
    });
    let outcome = outcome.map(|result| {
        let text = super::count_report(
            result.count as usize,
            &args.recording,
            result.duration_s,
            &format!("counted by the server in {} ms", result.elapsed_ms),
            result.events.iter().map(|e| (e.start_s, e.score)),
            args.plot.as_deref(),
        );
        let value = serde_json::to_value(&result).unwrap_or(Value::Null);
        (text, value)
    });
    finish(args.connect.json, outcome)
}

async fn count(args: &CountArgs) -> Result<CountResult, Failure> {
    let size = std::fs::metadata(&args.recording)
        .map_err(|err| format!("recording {}: {err}", args.recording.display()))?
        .len();
    let client = connect(&args.connect).await?;
    log_in(&client, &args.connect, true).await?;
    let template = args.template.resolve(&client).await?;
    let options = args.engine.request();
    let pending = if size < UPLOAD_CHUNK_LEN as u64 {
        client
            .start_count(&template, args.recording.as_path(), &options)
            .await?
    } else {
        let upload_bar =
            bar("uploading [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})");
        let upload = client
            .upload(AudioSource::File(args.recording.clone()), |sent, total| {
                if let Some(bar) = &upload_bar {
                    bar.set_length(total);
                    bar.set_position(sent);
                }
            })
            .await;
        if let Some(bar) = &upload_bar {
            bar.finish_and_clear();
        }
        let header = count_header(&template, &upload?.upload_id, &options);
        client.send(header, Bytes::new()).await?
    };
    let analysis_bar = bar("{spinner} analysing [{bar:40}] {percent}% {msg} (eta {eta})");
    let answer = pending
        .answer_with(|push| {
            if let (
                Push::Progress {
                    done_s, total_s, ..
                },
                Some(bar),
            ) = (push, &analysis_bar)
            {
                bar.set_length((total_s * 1000.0) as u64);
                bar.set_position((done_s * 1000.0) as u64);
                bar.set_message(format!("{done_s:.0}/{total_s:.0} s"));
            }
        })
        .await;
    if let Some(bar) = &analysis_bar {
        bar.finish_and_clear();
    }
    let result = answer?.count_result()?;
    client.close().await;
    Ok(result)
}

/// A `count` header for a finished upload of the recording.
fn count_header(
    template: &TemplateSource,
    recording_upload: &str,
    options: &CountOptions,
) -> Value {
    let mut header = Map::new();
    header.insert("type".into(), Value::from("count"));
    match template {
        TemplateSource::Sound(name) => header.insert("sound".into(), Value::from(name.as_str())),
        TemplateSource::Upload(id) => {
            header.insert("template_upload".into(), Value::from(id.as_str()))
        }
    };
    header.insert("recording_upload".into(), Value::from(recording_upload));
    let mut fields = Map::new();
    if let Some(threshold) = options.threshold {
        fields.insert("threshold".into(), json!(threshold));
    }
    if let Some(min_gap_s) = options.min_gap_s {
        fields.insert("min_gap_s".into(), json!(min_gap_s));
    }
    if !fields.is_empty() {
        header.insert("options".into(), Value::Object(fields));
    }
    Value::Object(header)
}

/// Draws the plot of `--plot`: the trace computed here, the server's events.
fn plot(args: &CountArgs, path: &Path, result: &CountResult) -> Result<(), Failure> {
    let template = match (&args.template.template, &args.template.sound) {
        (Some(file), _) => {
            dsp::load_template(file).map_err(|err| format!("template {}: {err}", file.display()))?
        }
        (None, Some(name)) => runtime()?.block_on(download_template(&args.connect, name))?,
        (None, None) => return Err("no template".into()),
    };
    let options = args.engine.local();
    let (_, trace) = dsp::analyze_file(&template, &args.recording, &options, true, &mut |_| true)
        .map_err(|err| format!("cannot compute the plot's trace: {err}"))?;
    let trace = trace.ok_or("the engine returned no trace")?;
    let events: Vec<dsp::Event> = result
        .events
        .iter()
        .map(|event| dsp::Event {
            start_s: event.start_s,
            score: event.score as f32,
        })
        .collect();
    let template_name = match (&args.template.sound, &args.template.template) {
        (Some(name), _) => name.clone(),
        (None, file) => file
            .as_deref()
            .and_then(Path::file_name)
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
    };
    super::draw_count_plot(path, &template_name, &args.recording, &trace, &events)
        .map_err(Failure::from)
}

/// A saved sound, downloaded and decoded (for the local plot).
async fn download_template(
    connect_args: &ConnectArgs,
    name: &str,
) -> Result<dsp::TemplateAudio, Failure> {
    let client = connect(connect_args).await?;
    log_in(&client, connect_args, true).await?;
    let mut bytes = Vec::new();
    client.sound_get(name, &mut bytes).await?;
    client.close().await;
    crate::audio::AudioReader::from_bytes(bytes)
        .map_err(dsp::DspError::from)
        .and_then(dsp::read_template)
        .map_err(|err| format!("sound {name}: {err}").into())
}
