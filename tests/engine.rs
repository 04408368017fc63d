//! The counting engine end to end, without a server: streaming equals whole
//! file, a fast accuracy guard on the corpus, and the real recordings.

use std::path::PathBuf;

use harmonic::dsp::{analyze_file, load_template, Counter, Options, TemplateAudio};
use harmonic::synth::corpus::{case, Tier};
use harmonic::synth::evaluate::{detect, match_events, Outcome, Report};
use proptest::prelude::*;

/// The events of `case`'s recording pushed in pieces of `cuts` samples
/// (cycled), and the threshold the trace drew at every frame.
fn counter_events(
    case: &harmonic::synth::corpus::Case,
    cuts: &[usize],
) -> (Vec<harmonic::dsp::Event>, Vec<f32>) {
    let template = TemplateAudio {
        samples: case.template.clone(),
        sample_rate: case.template_format.rate,
    };
    let mut counter = Counter::new(&template, case.recording_format.rate, &Options::default())
        .unwrap()
        .with_trace();
    let mut streamed = Vec::new();
    let mut rest: &[f32] = &case.recording;
    for &cut in cuts.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(cut.min(rest.len()));
        streamed.extend(counter.push(piece).unwrap());
        rest = tail;
    }
    streamed.extend(counter.finish().unwrap());
    assert_eq!(
        streamed,
        counter.events(),
        "events reported as they came are all the events"
    );
    let trace = counter.take_trace().unwrap();
    assert_eq!(trace.thresholds.len(), trace.scores.len());
    (streamed, trace.thresholds)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Any chunking of the recording gives exactly the events of the whole
    /// (and the same threshold to plot), at both resolutions: varied cases 0-2 are a double click and two
    /// chirps (standard frames), varied case 8 a key click (fine frames);
    /// rapid case 4, double clicks, holds occurrences only the joint model
    /// finds.
    #[test]
    fn streaming_equals_whole_file(
        cuts in prop::collection::vec(1usize..40_000, 1..8),
        (tier, index) in prop::sample::select(vec![
            (Tier::Varied, 0u64),
            (Tier::Varied, 1),
            (Tier::Varied, 2),
            (Tier::Varied, 8),
            (Tier::Rapid, 4),
        ]),
    ) {
        let case = case(tier, index);
        let whole = counter_events(&case, &[usize::MAX]);
        prop_assert_eq!(counter_events(&case, &cuts), whole);
    }
}

#[test]
fn events_are_reported_as_soon_as_certain() {
    let case = case(Tier::Clean, 1);
    let template = TemplateAudio {
        samples: case.template.clone(),
        sample_rate: case.template_format.rate,
    };
    let mut counter = Counter::new(&template, case.recording_format.rate, &Options::default())
        .unwrap()
        .with_trace();
    let second = case.recording_format.rate as usize;
    let mut before_end = 0;
    for piece in case.recording.chunks(second / 10) {
        before_end += counter.push(piece).unwrap().len();
    }
    counter.finish().unwrap();
    let total = counter.events().len();
    assert!(total > 3);
    assert!(
        before_end + 2 >= total,
        "only the last events may wait for the end: {before_end} of {total}"
    );
}

/// A fast subset of the accuracy corpus: a regression guard, not the
/// benchmark (`cargo bench --bench accuracy` is the measurement).
#[test]
fn accuracy_guard_on_a_corpus_subset() {
    let scratch = tempfile::tempdir().unwrap();
    let mut report = Report::default();
    for tier in Tier::ALL.into_iter().filter(|&t| t != Tier::Long) {
        for index in 0..2 {
            let case = case(tier, index);
            let detected = detect(&case, &Options::default(), scratch.path()).unwrap();
            report.add(
                &case,
                match_events(&case.truth, &detected, case.tolerance_s()),
            );
        }
    }
    println!("{}", report.markdown());
    assert!(
        report.overall.f1() >= 0.9,
        "overall F1 fell to {:.3}",
        report.overall.f1()
    );
    for (tier, score) in &report.tiers {
        assert!(
            score.f1() >= 0.75,
            "{} F1 fell to {:.3}",
            tier.name(),
            score.f1()
        );
    }
}

/// How many occurrences corpus case `index` of `tier` holds, and how the
/// engine's events with the defaults match them.
fn counted(tier: Tier, index: u64) -> (usize, Outcome) {
    let scratch = tempfile::tempdir().unwrap();
    let case = case(tier, index);
    let detected = detect(&case, &Options::default(), scratch.path()).unwrap();
    let outcome = match_events(&case.truth, &detected, case.tolerance_s());
    (case.truth.len(), outcome)
}

/// Asserts that case `index` of `tier` has `occurrences` true onsets and
/// that every one is found, with no false event.
fn assert_all_found_and_nothing_else(tier: Tier, index: u64, occurrences: usize) {
    let (truth, outcome) = counted(tier, index);
    assert_eq!(truth, occurrences, "{}/{index}", tier.name());
    assert_eq!(
        (outcome.false_positives, outcome.false_negatives),
        (0, 0),
        "{}/{index}: {outcome:?}",
        tier.name()
    );
}

/// Double clicks 63-190 ms apart (`rapid/9`): 15 of the 144 left no score
/// peak of their own, or one too low, and were missed until the joint
/// model of the stretches between repeats found them. 2 are missed now:
/// one more was found once a candidate buried between two stronger ones
/// could score as low as any candidate the picker proposes (0.2; it had
/// to reach 0.25 before).
#[test]
fn the_joint_model_finds_repeats_that_make_no_peak() {
    let (truth, outcome) = counted(Tier::Rapid, 9);
    assert_eq!(truth, 144);
    assert!(
        outcome.false_negatives <= 2 && outcome.false_positives == 0,
        "{outcome:?}"
    );
}

/// Key clicks of 69 ms struck 23-150 ms apart (`rapid/65`): the joint
/// model searched only where the repeats before lay at most two template
/// lengths apart, so one click whose sound merged with its neighbour's was
/// missed. For short sounds, a run is now also repeats up to 0.2 s apart.
#[test]
fn a_click_hidden_in_a_run_of_short_sounds_is_found() {
    assert_all_found_and_nothing_else(Tier::Rapid, 65, 135);
}

/// Double clicks 68-203 ms apart (`rapid/2`): a peak where the template's
/// first click lies on a real second click fits the audio as well as a
/// true repeat there would. Three such partial matches counted and one
/// true repeat was missed, until candidates beside a higher peak had to
/// come within 10 dB of the events found, as true repeats do. One of the
/// 121, overlapped by its neighbour, fell under the fine check's floor
/// until such a repeat was scored without the cells its neighbour's copy
/// is louder in; the partial matches fit those cells too, and stay out
/// because the neighbours alone fit them as well (`FineCheck::score_after`).
/// One repeat the joint model finds hidden at 12.19 s scores 0.756 of the
/// template's steadiness there, under the fine floor (0.77) that hidden
/// occurrences are held to as every candidate is, and is missed.
#[test]
fn a_double_clicks_partial_match_beside_it_is_not_a_repeat() {
    let (truth, outcome) = counted(Tier::Rapid, 2);
    assert_eq!(truth, 121);
    assert!(
        outcome.false_positives == 0 && outcome.false_negatives <= 1,
        "{outcome:?}"
    );
}

/// A key click over babble (`snr20/29`) and a slap over music
/// (`snr20/179`), each on the onset of a syllable or a bass note: the other
/// sound fills the bottom bands the template has almost nothing in, 10-25
/// dB over its shape there, and the match must still count as the
/// template's sound.
#[test]
fn a_match_on_another_sounds_onset_keeps_its_score() {
    assert_all_found_and_nothing_else(Tier::Snr20, 29, 21);
    assert_all_found_and_nothing_else(Tier::Snr20, 179, 18);
}

/// Thumps in music at 5 dB SNR (`snr5/226`): the thumps are alike in
/// loudness (within 6 dB), and five of music's note onsets, 12-14 dB under
/// their median, pass the 15 dB peer rule; the fine check rejects them
/// (without it they count).
#[test]
fn note_onsets_far_under_events_alike_in_loudness_do_not_count() {
    assert_all_found_and_nothing_else(Tier::Snr5, 226, 15);
}

/// Key clicks in white noise at 0 dB SNR (`snr0/8`) score 0.15-0.4 while
/// the noise stays under 0.1: with the adaptive threshold's floor at 0.25,
/// 11 of the 26 were missed; at 0.2, 3 were. In noise this deep most of a
/// click's cells are the noise's, and its fine score over every cell
/// falls under the fine floor (21 missed); over the cells audible over
/// the background, 6 or 7 are.
#[test]
fn faint_matches_in_quiet_scoring_noise_count() {
    let (truth, outcome) = counted(Tier::Snr0, 8);
    assert_eq!(truth, 26);
    assert!(
        outcome.false_negatives <= 10 && outcome.false_positives == 0,
        "{outcome:?}"
    );
}

fn shared_audio() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/audio");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: ../shared/audio not found beside the checkout (real recordings are not in the repo)");
        None
    }
}

/// The original clients' recordings decode and analyse without error, each
/// as template and as recording (no accuracy claims: nobody knows their truth).
#[test]
fn real_recordings_decode_and_analyse() {
    let Some(dir) = shared_audio() else { return };
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    assert!(
        files.len() >= 6,
        "expected the six recordings of shared/audio"
    );
    for template_path in &files {
        let template = match load_template(template_path) {
            Ok(t) => t,
            Err(e) => panic!("{}: {e}", template_path.display()),
        };
        for recording in &files {
            match analyze_file(
                &template,
                recording,
                &Options::default(),
                false,
                &mut |_| true,
            ) {
                Ok((analysis, _)) => assert!(analysis.duration_s > 0.0),
                Err(harmonic::dsp::DspError::TemplateLongerThanRecording { .. })
                | Err(harmonic::dsp::DspError::NoDistinctSound) => {}
                Err(e) => panic!(
                    "{} in {}: {e}",
                    template_path.display(),
                    recording.display()
                ),
            }
        }
    }
    // The demo pair: the template occurs in the recording at least once.
    let template = load_template(&dir.join("harmonic_demo_sound.wav")).unwrap();
    let (analysis, _) = analyze_file(
        &template,
        &dir.join("harmonic_demo_record.wav"),
        &Options::default(),
        false,
        &mut |_| true,
    )
    .unwrap();
    println!(
        "demo pair: {} events {:?}",
        analysis.count(),
        analysis.events
    );
}

/// Noise alone holds no occurrence, and the end of a recording is not one
/// either (the last frames once faded into padding, which looked like the
/// decay of a sound).
#[test]
fn noise_alone_gives_no_events() {
    use harmonic::synth::{self, SoundKind};
    for (kind, seconds) in [
        (SoundKind::KeyClick, 1.0),
        (SoundKind::KeyClick, 2.0),
        (SoundKind::Thump, 7.3),
        (SoundKind::Ring, 100.0),
    ] {
        let rate = 16_000;
        let template = TemplateAudio {
            samples: synth::sound(kind, rate, &mut synth::rng(3)),
            sample_rate: rate,
        };
        let mut noise = synth::white((seconds * rate as f64) as usize, &mut synth::rng(4));
        noise.iter_mut().for_each(|s| *s *= 0.001);
        let mut counter = Counter::new(&template, rate, &Options::default()).unwrap();
        counter.push(&noise).unwrap();
        counter.finish().unwrap();
        assert!(
            counter.events().is_empty(),
            "{} in {seconds} s of noise: {:?}",
            kind.name(),
            counter.events()
        );
    }
}

/// Music 10 dB under key clicks (`snr10/49`): four note onsets in the
/// first 1.5 s scored over the threshold around the first click and
/// became the peers that later candidates were judged against, so all
/// four stayed false events. Held on probation, they are outvoted by the far louder
/// clicks that follow.
#[test]
fn the_first_events_are_judged_against_the_ones_after_them() {
    let (truth, outcome) = counted(Tier::Snr10, 49);
    assert_eq!(truth, 16);
    assert_eq!(
        (outcome.false_positives, outcome.false_negatives),
        (0, 0),
        "{outcome:?}"
    );
}

/// A punch heard through a telephone's band now and then among punches
/// heard whole: the band takes 10-30 dB off its low end, where most of
/// its power lies, so it is far quieter than the others on the
/// template's terms, and its fine structure is the template's heard
/// through the band. It counts, measured within the band.
#[test]
fn a_repeat_through_a_telephone_band_counts_among_whole_ones() {
    use harmonic::synth::{self, SoundKind};
    let rate = 16_000;
    let punch = synth::sound(SoundKind::Thump, rate, &mut synth::rng(7));
    let template = TemplateAudio {
        samples: punch.clone(),
        sample_rate: rate,
    };
    let mut recording = synth::white(12 * rate as usize, &mut synth::rng(9));
    recording.iter_mut().for_each(|s| *s *= 1e-4);
    let onsets = [0.5, 2.0, 3.5, 5.0, 6.5, 8.0, 9.5];
    for (i, onset) in onsets.iter().enumerate() {
        let mut repeat = punch.clone();
        if i == 3 || i == 5 {
            synth::phone_band(&mut repeat, rate);
        }
        let at = (onset * f64::from(rate)) as usize;
        for (r, s) in recording[at..].iter_mut().zip(&repeat) {
            *r += s;
        }
    }
    let mut counter = Counter::new(&template, rate, &Options::default()).unwrap();
    counter.push(&recording).unwrap();
    counter.finish().unwrap();
    let found: Vec<f64> = counter.events().iter().map(|e| e.start_s).collect();
    assert_eq!(found.len(), onsets.len(), "found at {found:?}");
    for (found, onset) in found.iter().zip(onsets) {
        assert!((found - onset).abs() < 0.03, "{found} for {onset}");
    }
}

/// Every event reports its fine score, about 1 for an exact copy, and so
/// do the occurrences the joint model finds hidden in a run (`rapid/65`,
/// key clicks 23-150 ms apart): their correlation score, lowered by the
/// copies around them, said 0-0.45 of sounds as alike as the others.
#[test]
fn an_occurrence_hidden_in_a_run_scores_like_the_others() {
    let case = case(Tier::Rapid, 65);
    let (events, _) = counter_events(&case, &[usize::MAX]);
    let mut scores: Vec<f32> = events.iter().map(|e| e.score).collect();
    scores.sort_by(f32::total_cmp);
    assert!(scores[0] >= 0.6, "lowest scores {:?}", &scores[..5]);
}
