//! End-to-end test of a slow `admin.tail` subscriber, over real TCP against
//! an in-process server: an admin opens a `debug` tail and does not read its
//! socket while another client floods the log with pings (each `ping` logs
//! one `debug` line under the `connection` target), and a third client's
//! `ping` must still come back.
//!
//! Each test runs in a process of its own (`in_own_process`):
//! the log hub is one per process and every test server of a process feeds
//! it. The assertions stay robust to other records anyway (only the flooder's
//! lines are checked for order, and the accounting uses `>=`).
//!
//! Where the backpressure is. The hub gives each tail a bounded queue of
//! [`TAIL_QUEUE_LEN`] records and drops (and counts) what does not fit, never
//! waiting. The session drains that queue through a stream handler that
//! writes each record into its `actix::io::FramedWrite`, whose buffer is
//! unbounded; actix pauses the session (its high-water mark) only when the
//! socket's write reports `WouldBlock`. The queue can only fill, and records
//! only be dropped, if the session stops draining it while its peer does not
//! read. The kernel socket buffers come first: loopback can hold a few MiB
//! (the send buffer grows up to `tcp_wmem`'s maximum, 4 MiB by default; the
//! receive buffer stays near its default while the client does not read), so
//! the flood is [`FLOOD_FACTOR`] times the queue bound, about 23 MiB of `log`
//! frames, far beyond both.
//!
//! What this test found first: tokio's socket never reports `WouldBlock` to
//! actix (its `poll_write` returns `Pending` instead), so the session never
//! paused, kept draining the queue and buffered every frame in user space
//! without limit: nothing was dropped and the server's memory grew with the
//! backlog. The session now measures its own backlog (bytes encoded but not
//! yet taken by the socket) and drops, and counts, `log` records while it
//! exceeds `TAIL_BACKLOG_LIMIT`; [`a_slow_tail_is_bounded_and_drops`] checks
//! that bound, [`a_slow_tail_never_slows_the_server`] everything else.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::server_support::*;
use harmonic::logging::TAIL_QUEUE_LEN;
use harmonic::protocol::{Push, ServerMessage};
use serde_json::json;

const PASSWORD: &str = ADMIN_PASSWORD;

/// The flood is this many times the tail's queue bound.
const FLOOD_FACTOR: usize = 100;

/// Pings the flooder keeps in flight (the server's outstanding limit is 32).
const PIPELINE: usize = 32;

/// A generous limit for the third client's `ping` (it takes well under a
/// millisecond; this only catches a server that stalls).
const PROBE_LIMIT: Duration = Duration::from_secs(5);

/// One `log` push as the slow admin received it.
struct LogLine {
    ts: String,
    level: String,
    target: String,
    message: String,
}

/// What the slow admin saw once it read its socket.
struct SlowTailOutcome {
    flood: usize,
    lines: Vec<LogLine>,
    dropped: u64,
    /// `peer=<flooder's address>`, as the flooder's log lines carry it.
    flooder_peer: String,
}

/// A `ping` from `prober`, which must come back within [`PROBE_LIMIT`].
async fn probe(prober: &mut TestClient, when: &str) {
    let started = Instant::now();
    let answer = tokio::time::timeout(PROBE_LIMIT, prober.call("ping", json!({}), &[])).await;
    match answer {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => panic!("ping {when} failed: {err:?}"),
        Err(_) => panic!("ping {when} took over {PROBE_LIMIT:?}"),
    }
    eprintln!("ping {when}: {:?}", started.elapsed());
}

/// Runs the scenario: a `debug` tail left unread during a flood of
/// `flood` pings, a probe during and after the flood, then the admin sends
/// `cancel`, reads everything up to the tail's final `ok`, and pings on the
/// same session.
async fn slow_tail_during_a_flood() -> SlowTailOutcome {
    // The server's logger feeds the hub; nothing is written to stderr.
    install_tail_logger();
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path());
    let server = start(settings(dir.path()));
    let addr: SocketAddr = server.local_addr();
    let started = Instant::now();

    let mut admin = TestClient::connect(addr).await;
    admin
        .ok(
            "login",
            json!({"username": "root", "password": PASSWORD}),
            &[],
        )
        .await;
    let tail_id = admin.id();
    admin
        .send(
            &request("admin.tail", tail_id, json!({"level": "debug"})),
            &[],
        )
        .await;
    // From here on the admin does not read until the flood is over.

    let mut flooder = TestClient::connect(addr).await;
    let flooder_peer = format!("peer={}", flooder.writer.local_addr().unwrap());
    let mut prober = TestClient::connect(addr).await;
    let flood = FLOOD_FACTOR * TAIL_QUEUE_LEN;
    let mut sent = 0;
    while sent < flood {
        let ids: Vec<u32> = (0..PIPELINE).map(|_| flooder.id()).collect();
        for &id in &ids {
            flooder.send(&request("ping", id, json!({})), &[]).await;
        }
        for &id in &ids {
            flooder.answer(id).await.unwrap();
        }
        sent += PIPELINE;
        if sent == flood / 2 {
            probe(&mut prober, "during the flood").await;
        }
    }
    eprintln!("{sent} pings flooded by {:?}", started.elapsed());
    probe(&mut prober, "after the flood, tail still unread").await;

    // The slow admin finally cancels and reads.
    let cancel_id = admin.id();
    admin
        .send(
            &request("cancel", cancel_id, json!({"target": tail_id})),
            &[],
        )
        .await;
    let mut lines = Vec::new();
    let mut cancel_answered = false;
    let dropped = loop {
        match admin.recv().await.expect("the admin's session stays open") {
            ServerMessage::Push(Push::Log {
                id,
                ts,
                level,
                target,
                message,
            }) => {
                assert_eq!(id, tail_id, "a log push carries the tail's id");
                lines.push(LogLine {
                    ts,
                    level: level.as_str().to_owned(),
                    target,
                    message,
                });
            }
            ServerMessage::Ok { id, fields, .. } if id == cancel_id => {
                assert!(fields.is_empty(), "cancel answers {{}}: {fields:?}");
                cancel_answered = true;
            }
            ServerMessage::Ok { id, fields, .. } if id == tail_id => {
                break fields["dropped"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("the tail's ok has dropped: {fields:?}"));
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    if !cancel_answered {
        admin.answer(cancel_id).await.unwrap();
    }
    eprintln!(
        "{} log pushes read, dropped {dropped}, by {:?}",
        lines.len(),
        started.elapsed()
    );

    // The slow admin's session is still usable, and nothing carries the
    // tail's id after its answer.
    admin.pushes.clear();
    admin.ok("ping", json!({}), &[]).await;
    assert!(
        admin.pushes.iter().all(|p| p.request_id() != Some(tail_id)),
        "{:?}",
        admin.pushes
    );
    SlowTailOutcome {
        flood,
        lines,
        dropped,
        flooder_peer,
    }
}

/// Checks that the pushes are well formed and in order, and that nothing
/// was lost without being counted.
fn check_lines(outcome: &SlowTailOutcome) {
    let first = outcome.lines.first().expect("some records arrive");
    assert!(
        first.target == "admin" && first.message.contains("tails the log"),
        "a tail's first record is its own start: {}: {}",
        first.target,
        first.message
    );
    let mut previous_ts = String::new();
    let mut previous_ping = 0u64;
    let mut flooder_lines = 0usize;
    for line in &outcome.lines {
        // `2026-11-21T05:00:00.123Z`: fixed width, so the text orders as the time.
        assert_eq!(line.ts.len(), 24, "ts {}", line.ts);
        assert!(line.ts.ends_with('Z') && line.ts.as_bytes()[10] == b'T');
        assert!(line.ts >= previous_ts, "{} after {}", line.ts, previous_ts);
        previous_ts.clone_from(&line.ts);
        assert!(
            ["error", "warn", "info", "debug"].contains(&line.level.as_str()),
            "a debug tail gets no {}",
            line.level
        );
        assert!(!line.target.is_empty() && !line.message.is_empty());
        assert!(!line.message.contains(PASSWORD), "no password in the log");
        // The flooder's lines: `session=N peer=A: request <id> ping -> ok in …`,
        // its request ids strictly increasing (dropped ones leave gaps).
        let Some(rest) = line
            .message
            .split_once(&format!("{}: request ", outcome.flooder_peer))
        else {
            continue;
        };
        let (id, rest) = rest.1.split_once(' ').unwrap();
        let id: u64 = id.parse().unwrap();
        assert!(rest.starts_with("ping -> ok in "), "{}", line.message);
        assert_eq!(
            (line.target.as_str(), line.level.as_str()),
            ("connection", "debug")
        );
        assert!(id > previous_ping, "ping {id} after {previous_ping}");
        previous_ping = id;
        flooder_lines += 1;
    }
    // Every record the tail took was either delivered or counted as dropped.
    assert!(
        outcome.lines.len() as u64 + outcome.dropped >= outcome.flood as u64,
        "{} delivered + {} dropped < {} flooded",
        outcome.lines.len(),
        outcome.dropped,
        outcome.flood
    );
    assert!(flooder_lines > 0, "some of the flood arrives");
}

#[tokio::test]
async fn a_slow_tail_never_slows_the_server() {
    if !in_own_process("server_tail_slow::a_slow_tail_never_slows_the_server") {
        return;
    }
    let outcome = slow_tail_during_a_flood().await;
    check_lines(&outcome);
}

/// The tail's queue bound must show: far more records were flooded than the
/// queue and the socket buffers can hold, so most are dropped and counted.
#[tokio::test]
async fn a_slow_tail_is_bounded_and_drops() {
    if !in_own_process("server_tail_slow::a_slow_tail_is_bounded_and_drops") {
        return;
    }
    let outcome = slow_tail_during_a_flood().await;
    check_lines(&outcome);
    assert!(
        outcome.dropped > 0,
        "a tail left unread during {} records drops some ({} delivered)",
        outcome.flood,
        outcome.lines.len()
    );
    assert!(
        outcome.lines.len() < outcome.flood / 2,
        "{} of {} records delivered: the backlog was buffered, not bounded",
        outcome.lines.len(),
        outcome.flood
    );
}
