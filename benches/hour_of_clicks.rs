//! An hour of fast typing counted end to end: 30,000 key clicks, one every
//! 0.12 s, in a 16 kHz recording of faint noise, counted over TCP by an
//! in-process server (default settings, 127.0.0.1:0) and the typed client
//! that `harmonic count` uses (upload, `count`, every event gathered from
//! the `progress` pushes since the answer lists none past 10,000).
//!
//! `cargo bench --bench hour_of_clicks -- [--keep DIR]`
//!
//! Prints the count, the events the client gathered, the time of the
//! upload and of the count, and the process's resident memory (client and
//! server together) after it. With `--keep DIR`, writes `click.wav` and
//! `hour.wav` there, for the CLI:
//! `harmonic serve` in one terminal, then
//! `harmonic --server 127.0.0.1:2525 count --template DIR/click.wav DIR/hour.wav`.

use std::path::PathBuf;
use std::time::Instant;

use harmonic::actors::metrics::resident_memory_bytes;
use harmonic::actors::ServerThread;
use harmonic::audio::SampleLayout;
use harmonic::client::{AudioSource, Client};
use harmonic::config::Settings;
use harmonic::synth;

const RATE: u32 = 16_000;
const CLICKS: usize = 30_000;
/// One click every 0.12 s: 30,000 in an hour.
const SPACING_S: f64 = 0.12;

fn main() {
    let keep = std::env::args()
        .skip_while(|a| a != "--keep")
        .nth(1)
        .map(PathBuf::from);
    let dir = tempfile::tempdir().expect("temp dir");
    let files = keep.unwrap_or_else(|| dir.path().to_owned());
    std::fs::create_dir_all(&files).expect("output directory");

    let click = synth::sound(synth::SoundKind::KeyClick, RATE, &mut synth::rng(7));
    assert!(
        (click.len() as f64 / f64::from(RATE)) < SPACING_S,
        "the click is shorter than the spacing"
    );
    let seconds = 3600.0;
    let mut hour: Vec<f32> =
        synth::white((seconds * f64::from(RATE)) as usize, &mut synth::rng(11))
            .into_iter()
            .map(|s| s * 0.003)
            .collect();
    for i in 0..CLICKS {
        let start = ((0.05 + i as f64 * SPACING_S) * f64::from(RATE)) as usize;
        for (out, s) in hour[start..].iter_mut().zip(&click) {
            *out += s;
        }
    }
    let click_path = files.join("click.wav");
    let hour_path = files.join("hour.wav");
    std::fs::write(
        &click_path,
        synth::wav_bytes(&click, RATE, 1, SampleLayout::S16),
    )
    .expect("write click.wav");
    std::fs::write(
        &hour_path,
        synth::wav_bytes(&hour, RATE, 1, SampleLayout::S16),
    )
    .expect("write hour.wav");
    drop(hour);

    let data = tempfile::tempdir().expect("data dir");
    let settings = Settings {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: data.path().to_owned(),
        ..Settings::default()
    };
    let server = ServerThread::spawn(settings).expect("server starts");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = Client::connect(server.local_addr(), Default::default())
            .await
            .expect("connect");
        client
            .signup("typist", "correct horse")
            .await
            .expect("signup");
        client
            .login("typist", "correct horse")
            .await
            .expect("login");
        let template = client
            .upload(AudioSource::File(click_path), |_, _| {})
            .await
            .expect("template upload");
        let started = Instant::now();
        let recording = client
            .upload(AudioSource::File(hour_path.clone()), |_, _| {})
            .await
            .expect("recording upload");
        let uploaded = started.elapsed();
        let started = Instant::now();
        let header = serde_json::json!({
            "type": "count",
            "template_upload": template.upload_id,
            "recording_upload": recording.upload_id,
        });
        let pending = client
            .send(header, bytes::Bytes::new())
            .await
            .expect("count sent");
        let reply = pending.answer().await.expect("count answered");
        let counted = started.elapsed();
        let truncated = reply.fields.get("events_truncated").cloned();
        let result = reply.count_result().expect("every event gathered");
        let found_near = result
            .events
            .iter()
            .filter(|e| {
                let k = ((e.start_s - 0.05) / SPACING_S).round();
                (e.start_s - (0.05 + k * SPACING_S)).abs() < 0.02
            })
            .count();
        println!("| what | value |\n|---|---:|");
        println!("| clicks in the hour | {CLICKS} |");
        println!("| `count` | {} |", result.count);
        println!(
            "| events gathered by the client | {} |",
            result.events.len()
        );
        println!("| of them within 20 ms of a click | {found_near} |");
        println!("| `events_truncated` in the answer | {truncated:?} |");
        println!(
            "| upload of the {:.0} MB recording | {:.2} s |",
            std::fs::metadata(&hour_path).map_or(0.0, |m| m.len() as f64 / 1e6),
            uploaded.as_secs_f64()
        );
        println!(
            "| count (server analysis + pushes + answer) | {:.2} s |",
            counted.as_secs_f64()
        );
        println!(
            "| resident memory after (client and server) | {:.0} MiB |",
            resident_memory_bytes().unwrap_or(0) as f64 / 1048576.0
        );
        client.close().await;
    });
}
