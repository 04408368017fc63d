//! Tests of the load generator's pure parts.

use super::audio::*;
use super::session::*;
use super::stats::*;
use super::*;

#[test]
fn loopback_sessions_spread_over_local_addresses() {
    let server: SocketAddr = "127.0.0.1:2525".parse().unwrap();
    assert_eq!(local_address(server, 0), Some("127.0.0.2".parse().unwrap()));
    assert_eq!(
        local_address(server, 19),
        Some("127.0.0.2".parse().unwrap())
    );
    assert_eq!(
        local_address(server, 20),
        Some("127.0.0.3".parse().unwrap())
    );
    assert_eq!(
        local_address(server, 10_000),
        Some("127.0.1.246".parse().unwrap())
    );
    let remote: SocketAddr = "192.0.2.1:2525".parse().unwrap();
    assert_eq!(local_address(remote, 5000), None);
}

#[test]
fn generated_wav_decodes_to_the_recording() {
    let (_, recording) = generated_audio();
    let wav = wav_bytes(&recording, SYNTH_RATE);
    let mut source = AudioReader::from_bytes(wav).unwrap();
    assert_eq!(source.info().sample_rate, SYNTH_RATE);
    let decoded = source.read_all().unwrap();
    assert_eq!(decoded.len(), recording.len());
    assert!((decoded[16_000] - recording[16_000]).abs() < 1e-4);
}

#[test]
fn stats_merge_and_report_percentiles() {
    let mut a = Stats::default();
    for ms in 1..=100 {
        a.record("ping", ms * 1000);
    }
    a.requests = 100;
    let mut b = Stats::default();
    b.error("count", "busy".into(), 500);
    b.requests = 1;
    a.merge(b);
    let p = percentiles(&a.latency["ping"]);
    assert_eq!(p["n"], 100);
    assert!((p["p50"].as_f64().unwrap() - 50.0).abs() < 0.1, "{p}");
    assert!((p["max"].as_f64().unwrap() - 100.0).abs() < 0.1, "{p}");
    assert_eq!(a.errors["busy"], 1);
    assert_eq!(a.requests, 101);
}
