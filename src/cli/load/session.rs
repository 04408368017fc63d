//! One session of the load: connect, log in, and run the scenario's steps
//! until the run ends, reconnecting after a failure.

use super::stats::{error_label, timed, Stats};
use super::*;

/// The local address session `index` connects from, to stay under the
/// server's per-address limit against a loopback server.
pub(super) fn local_address(server: SocketAddr, index: usize) -> Option<IpAddr> {
    match server.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => {
            let offset = u32::try_from(index / SESSIONS_PER_LOCAL_ADDRESS).ok()?;
            let base = u32::from(Ipv4Addr::new(127, 0, 0, 2));
            let local = Ipv4Addr::from(base.checked_add(offset)?);
            local.is_loopback().then_some(IpAddr::V4(local))
        }
        _ => None,
    }
}

/// Connects session `index` (TCP from its local address, handshake, the
/// run's pinned fingerprint).
pub(super) async fn open(shared: &Shared, index: usize) -> Result<Client, ClientError> {
    let options = ConnectOptions {
        pinned_fingerprint: Some(shared.fingerprint.clone()),
        ..ConnectOptions::default()
    };
    let socket = if shared.server.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(local) = local_address(shared.server, index) {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    let stream = tokio::time::timeout(options.timeout, socket.connect(shared.server))
        .await
        .map_err(|_| ClientError::Timeout)??;
    stream.set_nodelay(true)?;
    Client::over_stream(stream, options).await
}

/// Connects and records the handshake's latency (TCP connect included).
pub(super) async fn open_timed(shared: &Shared, stats: &mut Stats, index: usize) -> Option<Client> {
    let started = Instant::now();
    match open(shared, index).await {
        Ok(client) => {
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            stats.record("handshake", micros);
            stats.handshakes += 1;
            Some(client)
        }
        Err(err) => {
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            shared.live.errors.fetch_add(1, Ordering::Relaxed);
            stats.error("handshake", error_label(&err), micros);
            None
        }
    }
}

/// Logs a session in: signup once per account, then the password for the
/// account's first session and `resume` with the freshest token after it.
pub(super) async fn log_in(
    shared: &Shared,
    stats: &mut Stats,
    client: &Client,
    account: &Account,
) -> Result<(), ClientError> {
    let mut state = account.state.lock().await;
    if !state.signed_up {
        // From the local address of its signup slot, not the session's.
        let slot = account.index / SIGNUPS_PER_LOCAL_ADDRESS * SESSIONS_PER_LOCAL_ADDRESS;
        let signer = open(shared, slot).await?;
        let signed = timed(
            shared,
            stats,
            "signup",
            signer.signup(&account.username, PASSWORD),
        )
        .await;
        signer.close().await;
        match signed {
            Ok(()) => {}
            Err(err) if err.is_code(ErrorCode::UsernameTaken) => {}
            Err(err) => return Err(err),
        }
        state.signed_up = true;
    }
    // Resume with the account's token; when there is none, or it was spent
    // meanwhile, log in with the password.
    let resumed = match state.token.take() {
        Some(token) => match timed(shared, stats, "resume", client.resume(&token)).await {
            Ok(result) => Some(result),
            Err(err) if err.is_code(ErrorCode::InvalidCredentials) => None,
            Err(err) => return Err(err),
        },
        None => None,
    };
    let result = match resumed {
        Some(result) => result,
        None => {
            timed(
                shared,
                stats,
                "login",
                client.login(&account.username, PASSWORD),
            )
            .await?
        }
    };
    state.token = Some(result.resume_token);
    if shared.scenario.needs_template() && !state.template_saved {
        let template = AudioSource::Bytes(shared.template.clone());
        timed(
            shared,
            stats,
            "sound.save",
            client.sound_save(TEMPLATE_NAME, template, true),
        )
        .await?;
        state.template_saved = true;
    }
    Ok(())
}

/// The step an iteration of the loop takes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Step {
    Login,
    Count,
    Stream,
    Ping,
    List,
    Idle,
}

/// The blend of `mixed`, one step per iteration.
pub(super) const MIXED: [Step; 10] = [
    Step::Ping,
    Step::List,
    Step::Count,
    Step::Ping,
    Step::Stream,
    Step::List,
    Step::Count,
    Step::Ping,
    Step::Count,
    Step::Stream,
];

pub(super) fn step(scenario: Scenario, iteration: usize) -> Step {
    match scenario {
        Scenario::Login => Step::Login,
        Scenario::Count => Step::Count,
        Scenario::Stream => Step::Stream,
        Scenario::Idle => Step::Idle,
        Scenario::Mixed | Scenario::Handshake => MIXED[iteration % MIXED.len()],
    }
}

/// Runs one step; `Err` only when the connection is gone.
pub(super) async fn run_step(
    shared: &Shared,
    stats: &mut Stats,
    client: &Client,
    account: &Account,
    step: Step,
) -> Result<(), ClientError> {
    let outcome = match step {
        Step::Ping => timed(shared, stats, "ping", client.ping()).await.map(drop),
        Step::List => timed(shared, stats, "sound.list", client.sound_list())
            .await
            .map(drop),
        Step::Login => {
            let login = timed(
                shared,
                stats,
                "login",
                client.login(&account.username, PASSWORD),
            )
            .await;
            match login {
                Ok(_) => timed(shared, stats, "logout", client.logout()).await,
                Err(err) => Err(err),
            }
        }
        Step::Count => {
            let template = TemplateSource::Sound(TEMPLATE_NAME.to_owned());
            let recording = AudioSource::Bytes(shared.recording.clone());
            let counted = timed(
                shared,
                stats,
                "count",
                client.count(&template, recording, &shared.options, |_, _| {}),
            )
            .await;
            counted.map(|result| {
                if shared
                    .expected_count
                    .is_some_and(|expected| expected != result.count)
                {
                    stats.wrong_counts += 1;
                }
            })
        }
        Step::Stream => stream(shared, stats, client).await,
        Step::Idle => {
            let wake = (Instant::now() + shared.ping_interval).min(shared.deadline);
            tokio::time::sleep_until(wake.into()).await;
            if Instant::now() >= shared.deadline {
                return Ok(());
            }
            timed(shared, stats, "ping", client.ping()).await.map(drop)
        }
    };
    match outcome {
        Err(err @ (ClientError::Closed { .. } | ClientError::Io(_))) => Err(err),
        Err(err) if err.is_code(ErrorCode::Busy) || err.is_code(ErrorCode::RateLimited) => {
            back_off(stats).await;
            Ok(())
        }
        _ => {
            stats.busy_streak = 0;
            Ok(())
        }
    }
}

/// Waits after a `busy`: exponential backoff with jitter.
pub(super) async fn back_off(stats: &mut Stats) {
    let doubled = BACKOFF.saturating_mul(1 << stats.busy_streak.min(5));
    let jitter = Duration::from_millis((stats.requests.wrapping_mul(7919)) % 100);
    stats.busy_streak = stats.busy_streak.saturating_add(1);
    tokio::time::sleep(doubled.min(MAX_BACKOFF) + jitter).await;
}

/// `stream.open`, the recording in 100 ms `stream.data`, `stream.close`.
pub(super) async fn stream(
    shared: &Shared,
    stats: &mut Stats,
    client: &Client,
) -> Result<(), ClientError> {
    let template = TemplateSource::Sound(TEMPLATE_NAME.to_owned());
    let stream_id = timed(
        shared,
        stats,
        "stream.open",
        client.stream_open(&template, &shared.pcm_format, &shared.options),
    )
    .await?;
    let chunk_len = shared.pcm_format.frame_bytes()
        * ((f64::from(shared.pcm_format.sample_rate) * STREAM_CHUNK_S) as usize).max(1);
    let mut offset = 0;
    while offset < shared.pcm.len() {
        let end = (offset + chunk_len).min(shared.pcm.len());
        let chunk = shared.pcm.slice(offset..end);
        timed(
            shared,
            stats,
            "stream.data",
            client.stream_data(&stream_id, chunk),
        )
        .await?;
        offset = end;
    }
    let closed = timed(
        shared,
        stats,
        "stream.close",
        client.stream_close(&stream_id),
    )
    .await?;
    if shared
        .expected_count
        .is_some_and(|expected| expected != closed.total)
    {
        stats.wrong_counts += 1;
    }
    Ok(())
}

/// One session: connect, log in, loop on the scenario until the deadline;
/// reconnect when the connection is lost.
pub(super) async fn session(shared: &Shared, index: usize, stats: &mut Stats) {
    let account = &shared.accounts[index % shared.accounts.len()];
    let mut iteration = index;
    while Instant::now() < shared.deadline {
        let Some(client) = open_timed(shared, stats, index).await else {
            tokio::time::sleep(RECONNECT_DELAY).await;
            continue;
        };
        if shared.scenario == Scenario::Handshake {
            let _ = timed(shared, stats, "ping", client.ping()).await;
            client.close().await;
            continue;
        }
        let connected = shared.live.connected.fetch_add(1, Ordering::Relaxed) + 1;
        shared
            .live
            .peak_connected
            .fetch_max(connected, Ordering::Relaxed);
        let mut logged_in = log_in(shared, stats, &client, account).await;
        if let Err(err) = &logged_in {
            if err.is_code(ErrorCode::Busy) || err.is_code(ErrorCode::RateLimited) {
                back_off(stats).await;
                logged_in = log_in(shared, stats, &client, account).await;
            }
        }
        if logged_in.is_ok() {
            while Instant::now() < shared.deadline {
                let this = step(shared.scenario, iteration);
                iteration += 1;
                if run_step(shared, stats, &client, account, this)
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
        shared.live.connected.fetch_sub(1, Ordering::Relaxed);
        if Instant::now() < shared.deadline && !client.is_closed() && logged_in.is_err() {
            tokio::time::sleep(RECONNECT_DELAY).await;
        }
        drop(client);
    }
}
