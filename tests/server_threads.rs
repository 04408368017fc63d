//! Sessions run on several threads (actix arbiters), which stop with the
//! server: in a process of its own (`in_own_process`), so that no other
//! test's threads count.

use std::time::Duration;

use crate::server_support::*;
use serde_json::json;

/// Threads of this process whose name starts with `prefix` (Linux truncates
/// thread names to 15 bytes).
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
                .filter(|name| name.starts_with(prefix))
                .count()
        })
        .unwrap_or(0)
}

/// The name actix-rt gives an arbiter's thread, as Linux keeps it.
const ARBITER: &str = "actix-rt|system";

#[tokio::test]
async fn sessions_spread_over_threads_that_end_with_the_server() {
    if !in_own_process("server_threads::sessions_spread_over_threads_that_end_with_the_server") {
        return;
    }
    if !std::path::Path::new("/proc/self/task").exists() {
        return; // not Linux: nothing to count with
    }
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(threads_named(ARBITER), 0);
    let server = start(harmonic::config::Settings {
        session_threads: 3,
        ..settings(dir.path())
    });
    assert_eq!(threads_named(ARBITER), 3, "one thread per setting");
    let addr = server.local_addr();

    // More clients than threads; each is served, and the shutdown reaches all.
    let mut clients = Vec::new();
    for n in 0..5 {
        let mut client = TestClient::connect(addr).await;
        client.signup_login(&format!("user{n}")).await;
        clients.push(client);
    }
    for client in &mut clients {
        client.ok("ping", json!({}), &[]).await;
    }
    let stop = tokio::task::spawn_blocking(move || server.stop(Duration::ZERO));
    for client in &mut clients {
        assert_eq!(client.until_closed().await.as_deref(), Some("shutdown"));
    }
    stop.await.unwrap().unwrap();
    assert_eq!(threads_named(ARBITER), 0, "the session threads were joined");
}
