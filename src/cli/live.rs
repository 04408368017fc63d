//! `harmonic live (--sound NAME | --template FILE) (FILE | -)`: live
//! counting. Streams an audio file (WAV, AIFF, FLAC, MP3, Ogg Vorbis,
//! AAC in M4A/MP4), or raw PCM (`--raw`), from a file or stdin
//! in chunks of about 100 ms, in real time (paced by the audio's clock) or
//! `--fast`; prints each new event and the running count as they change,
//! and the total at the end.
//!
//! An audio file is decoded here (any format the engine reads, mixed to
//! mono) and sent as mono `f32le` at its own rate; raw PCM is sent as it is.

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;
use tokio::sync::mpsc;

use super::client::{connect, finish, log_in, runtime, ConnectArgs, Failure};
use super::count::TemplateArgs;
use crate::audio::{AudioReader, PcmEncoding, PcmFormat};

/// Seconds of audio per `stream.data`.
const CHUNK_S: f64 = 0.1;

/// Chunks read ahead of the network.
const READ_AHEAD: usize = 8;

/// Encodings of `--encoding`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum EncodingArg {
    /// 8-bit unsigned.
    U8,
    /// 16-bit signed little-endian.
    S16le,
    /// 32-bit float little-endian.
    F32le,
}

impl From<EncodingArg> for PcmEncoding {
    fn from(encoding: EncodingArg) -> Self {
        match encoding {
            EncodingArg::U8 => PcmEncoding::U8,
            EncodingArg::S16le => PcmEncoding::S16Le,
            EncodingArg::F32le => PcmEncoding::F32Le,
        }
    }
}

/// Arguments of `harmonic live`.
#[derive(Debug, clap::Args)]
pub struct LiveArgs {
    /// Set from the global options (before or after the subcommand).
    #[arg(skip)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    template: TemplateArgs,
    /// The audio: a file, or `-` for stdin.
    input: String,
    /// The input is raw PCM (give --rate, --channels, --encoding), not an audio file.
    #[arg(long, requires = "rate")]
    raw: bool,
    /// Frames per second of raw PCM.
    #[arg(long, value_name = "HZ", requires = "raw")]
    rate: Option<u32>,
    /// Channels of raw PCM (interleaved).
    #[arg(long, default_value_t = 1, requires = "raw")]
    channels: u16,
    /// Sample encoding of raw PCM.
    #[arg(long, value_enum, default_value = "s16le", requires = "raw")]
    encoding: EncodingArg,
    /// Send as fast as possible instead of in real time.
    #[arg(long)]
    fast: bool,
    #[command(flatten)]
    engine: super::EngineArgs,
}

/// A piece of audio and how many seconds it holds.
type Chunk = Result<(Bytes, f64), String>;

/// Opens the input and starts a thread that reads it in chunks.
fn start_reader(args: &LiveArgs) -> Result<(PcmFormat, mpsc::Receiver<Chunk>), String> {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    let format = if args.raw {
        let input: Box<dyn Read + Send> = if args.input == "-" {
            Box::new(std::io::stdin())
        } else {
            let path = PathBuf::from(&args.input);
            Box::new(
                std::fs::File::open(&path)
                    .map_err(|err| format!("cannot open {}: {err}", path.display()))?,
            )
        };
        let format = PcmFormat {
            encoding: args.encoding.into(),
            sample_rate: args.rate.unwrap_or_default(),
            channels: args.channels,
        };
        format.validate().map_err(|err| err.to_string())?;
        let chunk_bytes = format.frame_bytes() * frames_per_chunk(format.sample_rate);
        let seconds_per_byte = 1.0 / (format.frame_bytes() as f64 * f64::from(format.sample_rate));
        std::thread::spawn(move || read_raw(input, chunk_bytes, seconds_per_byte, tx));
        format
    } else {
        let source = if args.input == "-" {
            AudioReader::from_stream(std::io::stdin())
        } else {
            AudioReader::open(std::path::Path::new(&args.input))
        }
        .map_err(|err| format!("{}: {err}", args.input))?;
        let rate = source.info().sample_rate;
        let name = args.input.clone();
        std::thread::spawn(move || read_audio(source, &name, tx));
        PcmFormat {
            encoding: PcmEncoding::F32Le,
            sample_rate: rate,
            channels: 1,
        }
    };
    Ok((format, rx))
}

fn frames_per_chunk(rate: u32) -> usize {
    ((f64::from(rate) * CHUNK_S).round() as usize).max(1)
}

fn read_raw(
    mut input: Box<dyn Read + Send>,
    chunk_bytes: usize,
    seconds_per_byte: f64,
    tx: mpsc::Sender<Chunk>,
) {
    loop {
        let mut chunk = vec![0u8; chunk_bytes];
        let mut filled = 0;
        while filled < chunk_bytes {
            match input.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => {
                    let _ = tx.blocking_send(Err(format!("cannot read the input: {err}")));
                    return;
                }
            }
        }
        if filled == 0 {
            return;
        }
        chunk.truncate(filled);
        let seconds = filled as f64 * seconds_per_byte;
        if tx.blocking_send(Ok((Bytes::from(chunk), seconds))).is_err() || filled < chunk_bytes {
            return;
        }
    }
}

fn read_audio(mut source: AudioReader, name: &str, tx: mpsc::Sender<Chunk>) {
    let rate = source.info().sample_rate;
    let frames = frames_per_chunk(rate);
    let mut samples = Vec::with_capacity(frames);
    loop {
        samples.clear();
        match source.read_block(frames, &mut samples) {
            Ok(0) => return,
            Ok(n) => {
                let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
                let seconds = n as f64 / f64::from(rate);
                if tx.blocking_send(Ok((Bytes::from(bytes), seconds))).is_err() {
                    return;
                }
            }
            Err(err) => {
                let _ = tx.blocking_send(Err(format!("{name}: {err}")));
                return;
            }
        }
    }
}

/// Runs `harmonic live`.
pub fn run(args: LiveArgs) -> Result<(), String> {
    let outcome = runtime()?.block_on(live(&args));
    finish(args.connect.json, outcome)
}

async fn live(args: &LiveArgs) -> Result<(String, serde_json::Value), Failure> {
    let (format, mut chunks) = start_reader(args)?;
    let client = connect(&args.connect).await?;
    log_in(&client, &args.connect, args.input != "-").await?;
    let template = args.template.resolve(&client).await?;
    let options = args.engine.request();
    let stream_id = client.stream_open(&template, &format, &options).await?;
    let started = Instant::now();
    let mut sent_s = 0.0;
    let mut total = 0;
    // Every event as it came: past 10,000 `stream.close` lists none (1.2).
    let mut events = Vec::new();
    while let Some(chunk) = chunks.recv().await {
        let (pcm, seconds) = chunk?;
        sent_s += seconds;
        if !args.fast {
            // The chunk's audio "exists" once its last sample was recorded.
            tokio::time::sleep_until((started + Duration::from_secs_f64(sent_s)).into()).await;
        }
        let progress = client.stream_data(&stream_id, pcm).await?;
        events.extend_from_slice(&progress.new_events);
        if !args.connect.json {
            let mut lines = String::new();
            for event in &progress.new_events {
                total += 1;
                lines.push_str(&format!(
                    "{total:>5}  {:>10.3} s  score {:.2}\n",
                    event.start_s, event.score
                ));
            }
            if progress.total != total {
                total = progress.total;
            }
            if !progress.new_events.is_empty() {
                lines.push_str(&format!("count: {}\n", progress.total));
                super::print_stdout(&lines)?;
            }
        }
    }
    let mut closed = client.stream_close(&stream_id).await?;
    client.close().await;
    if closed.events_truncated {
        closed.events = events;
    }
    let text = format!(
        "total: {} occurrence{} in {:.2} s of audio\n",
        closed.total,
        if closed.total == 1 { "" } else { "s" },
        closed.duration_s
    );
    let value = json!({
        "total": closed.total,
        "events": closed.events,
        "duration_s": closed.duration_s,
    });
    Ok((text, value))
}
