//! A fast regression subset of the real-sound corpus (src/synth/real.rs,
//! `cargo bench --bench real` for the whole of it): a handful of short
//! cases, each built from its seed out of the installed Debian sounds,
//! that the engine counts exactly, every event at a true onset. They
//! cover a clean case, noise, varied repeats, similar sounds as
//! distractors and a recording with none of the template in it.
//!
//! The sounds are never copied into the repository: where the set-up
//! script (scripts/install-real-sounds.sh) has not run, the test says so
//! and passes without checking anything. A change to how real.rs builds
//! its cases may change these cases too; pick others the engine counts
//! exactly then (`cargo bench --bench real -- --misses` lists those it
//! does not).

use harmonic::dsp::decide::Tuning;
use harmonic::dsp::Options;
use harmonic::synth::corpus::Tier;
use harmonic::synth::evaluate::{match_events, run_case};
use harmonic::synth::real::{self, Library, Split};

/// The cases: (split of the source sounds, tier, index).
const CASES: [(Split, Tier, u64); 7] = [
    (Split::HeldOut, Tier::Clean, 0),
    (Split::HeldOut, Tier::Snr10, 0),
    (Split::HeldOut, Tier::Snr5, 0),
    (Split::HeldOut, Tier::Varied, 0),
    (Split::HeldOut, Tier::Distractors, 5),
    // A distractor case with no repeat of the template: the count is 0.
    (Split::HeldOut, Tier::Distractors, 11),
    (Split::Tuning, Tier::Clean, 5),
];

#[test]
fn short_real_sound_cases_count_exactly() {
    let library = match Library::load(&real::default_dir()) {
        Ok(library) => library,
        Err(e) => {
            eprintln!("skipping the real-sound regression subset: {e}");
            return;
        }
    };
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let mut wrong = Vec::new();
    for (split, tier, index) in CASES {
        let case = real::case(&library, split, tier, index).expect("the split has sources");
        let run = run_case(
            &case,
            &Options::default(),
            &Tuning::default(),
            scratch.path(),
            false,
        )
        .expect("the case is analysed");
        let found: Vec<f64> = run.events.iter().map(|e| e.start_s).collect();
        let outcome = match_events(&case.truth, &found, case.tolerance_s());
        if outcome.false_positives + outcome.false_negatives > 0 {
            wrong.push(format!(
                "{} {} ({}): {} true, {} found: {outcome:?}",
                split.name(),
                case.name,
                case.sound,
                case.truth.len(),
                found.len()
            ));
        }
    }
    assert!(wrong.is_empty(), "miscounted:\n{}", wrong.join("\n"));
}
