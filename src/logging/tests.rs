//! Tests of the logger, its filter and the tail hub.

use super::*;

fn record<'a>(level: Level, target: &'a str, args: std::fmt::Arguments<'a>) -> Record<'a> {
    Record::builder()
        .level(level)
        .target(target)
        .args(args)
        .build()
}

#[test]
fn targets_filter_and_line_format() {
    assert!(is_server_target("auth"));
    assert!(is_server_target("auth::throttle"));
    assert!(!is_server_target("actix_server"));
    assert_eq!(
        default_filter(false),
        "warn,connection=info,auth=info,library=info,analysis=info,admin=info"
    );
    assert!(default_filter(true).contains("connection=trace"));
    let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_500);
    assert_eq!(
        format_line(time, Level::Warn, "admin", "hello"),
        "1970-01-01T00:00:01.500Z WARN  admin: hello"
    );
}

#[test]
fn a_subscription_can_open_with_its_own_start_record() {
    let hub = Arc::new(TailHub::new());
    let start = |level| LogRecord {
        time: SystemTime::now(),
        level,
        target: "admin".to_owned(),
        message: "tails the log".to_owned(),
    };
    let mut tail = hub.subscribe_after(Level::Info, 4, Some(start(Level::Info)));
    hub.publish(&record(Level::Info, "connection", format_args!("later")));
    let first = tail.try_next().expect("the start record");
    assert_eq!(
        (first.target.as_str(), first.message.as_str()),
        ("admin", "tails the log")
    );
    assert_eq!(tail.try_next().map(|r| r.message), Some("later".to_owned()));
    // A tail at `error` does not get an `info` start record.
    let mut errors = hub.subscribe_after(Level::Error, 4, Some(start(Level::Info)));
    assert_eq!(errors.try_next(), None);
}

#[test]
fn subscribers_get_their_levels_and_a_full_queue_drops_and_counts() {
    let hub = Arc::new(TailHub::new());
    assert!(!hub.wants(Level::Error));
    let mut info = hub.subscribe(Level::Info, 2);
    let mut debug = hub.subscribe(Level::Debug, 16);
    assert!(hub.wants(Level::Debug) && !hub.wants(Level::Trace));
    for n in 0..3 {
        hub.publish(&record(Level::Info, "auth", format_args!("login {n}")));
    }
    hub.publish(&record(Level::Debug, "library", format_args!("detail")));
    hub.publish(&record(Level::Trace, "connection", format_args!("dump")));
    let got: Vec<_> = std::iter::from_fn(|| info.try_next())
        .map(|r| r.message)
        .collect();
    assert_eq!(got, ["login 0", "login 1"]);
    assert_eq!(info.dropped(), 1, "the third did not fit");
    let got: Vec<_> = std::iter::from_fn(|| debug.try_next())
        .map(|r| (r.level, r.target, r.message))
        .collect();
    assert_eq!(got.len(), 4);
    assert_eq!(
        got[3],
        (Level::Debug, "library".to_owned(), "detail".to_owned())
    );
    assert_eq!(debug.dropped(), 0);
    drop(debug);
    assert_eq!(hub.subscriber_count(), 1);
    assert!(!hub.wants(Level::Debug), "levels follow the subscribers");
    drop(info);
    assert_eq!(hub.subscriber_count(), 0);
}

#[test]
fn logger_writes_what_the_filter_passes_and_tails_the_server_targets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("harmonic.log");
    let hub = Arc::new(TailHub::new());
    let setup = LogSetup {
        default_filter: default_filter(false),
        rust_log: Some("auth=warn".into()),
        log_file: Some(path.clone()),
    };
    let (logger, handle) = ServerLogger::new(&setup, Arc::clone(&hub)).unwrap();
    let mut tail = hub.subscribe(Level::Debug, 64);
    logger.log(&record(
        Level::Info,
        "auth",
        format_args!("hidden by RUST_LOG"),
    ));
    logger.log(&record(Level::Info, "library", format_args!("saved")));
    logger.log(&record(Level::Debug, "analysis", format_args!("tail only")));
    logger.log(&record(Level::Debug, "mio::poll", format_args!("not ours")));
    logger.flush();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("hidden"), "{text}");
    assert!(text.contains(" INFO  library: saved\n"), "{text}");
    assert!(!text.contains("tail only"), "{text}");
    let tailed: Vec<_> = std::iter::from_fn(|| tail.try_next())
        .map(|r| r.message)
        .collect();
    assert_eq!(tailed, ["hidden by RUST_LOG", "saved", "tail only"]);
    assert!(logger.enabled(
        &Metadata::builder()
            .level(Level::Debug)
            .target("auth")
            .build()
    ));
    assert!(!logger.enabled(
        &Metadata::builder()
            .level(Level::Debug)
            .target("mio")
            .build()
    ));

    // logrotate: the file moves away, SIGHUP reopens the path.
    let rotated = dir.path().join("harmonic.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    logger.log(&record(Level::Warn, "admin", format_args!("before reopen")));
    handle.reopen().unwrap();
    logger.log(&record(Level::Warn, "admin", format_args!("after reopen")));
    logger.flush();
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&path).unwrap();
    assert!(old.contains("before reopen") && !old.contains("after reopen"));
    assert!(new.contains("after reopen") && !new.contains("before reopen"));
}
