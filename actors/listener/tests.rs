use super::{least_loaded, Refusal, UnwelcomeCounts};

#[test]
fn refusals_and_failed_handshakes_are_summed_up_once() {
    let counts = UnwelcomeCounts::default();
    assert_eq!(counts.take_summary(), None);
    for _ in 0..3 {
        counts.refused(Refusal::PreLogin);
    }
    counts.refused(Refusal::Full);
    counts
        .handshakes_failed
        .fetch_add(2, std::sync::atomic::Ordering::Relaxed);
    let line = counts.take_summary().unwrap();
    assert!(line.starts_with("refused 4 connection(s)"), "{line}");
    assert!(line.contains("pre-login limit: 3") && line.contains("2 handshake(s) failed"));
    assert_eq!(counts.take_summary(), None, "counting starts again");
}

#[test]
fn connections_go_to_the_least_loaded_thread_ties_in_turn() {
    assert_eq!(least_loaded(&[], 0), None);
    assert_eq!(least_loaded(&[5], 3), Some(0));
    assert_eq!(least_loaded(&[2, 0, 1], 0), Some(1));
    assert_eq!(least_loaded(&[2, 0, 1], 2), Some(1));
    // Equal loads: the first from `start`, so an idle server goes round.
    assert_eq!(least_loaded(&[1, 1, 1], 0), Some(0));
    assert_eq!(least_loaded(&[1, 1, 1], 1), Some(1));
    assert_eq!(least_loaded(&[1, 1, 1], 5), Some(2));
    assert_eq!(least_loaded(&[0, 3, 0], 1), Some(2));
}
