//! What a user expects of the scores and counts in the plainest cases.

use super::{Counter, Options, TemplateAudio};
use crate::synth::{self, SoundKind};

const RATE: u32 = 44_100;

/// A capture as a user makes it: a little silence, the sound, a little
/// silence.
fn capture(kind: SoundKind, seed: u64) -> Vec<f32> {
    let mut samples = vec![0.0f32; RATE as usize / 5];
    samples.extend(synth::sound(kind, RATE, &mut synth::rng(seed)));
    samples.extend(vec![0.0f32; RATE as usize / 5]);
    samples
}

fn events(template: &[f32], recording: &[f32]) -> Vec<super::Event> {
    let template = TemplateAudio {
        samples: template.to_vec(),
        sample_rate: RATE,
    };
    let mut counter = Counter::new(&template, RATE, &Options::default()).unwrap();
    counter.push(recording).unwrap();
    counter.finish().unwrap();
    counter.events().to_vec()
}

#[test]
fn a_template_counted_in_its_own_file_counts_once() {
    for (kind, seed) in [
        (SoundKind::Ring, 1),
        (SoundKind::Chirp, 2),
        (SoundKind::Thump, 3),
        (SoundKind::KeyClick, 4),
    ] {
        let template = capture(kind, seed);
        let found = events(&template, &template);
        assert_eq!(found.len(), 1, "{}: {found:?}", kind.name());
    }
}

#[test]
fn an_exact_copy_in_silence_counts_once_and_scores_about_one() {
    for (kind, seed) in [
        (SoundKind::Ring, 1),
        (SoundKind::Chirp, 2),
        (SoundKind::Thump, 3),
        (SoundKind::KeyClick, 4),
        (SoundKind::Whoosh, 5),
    ] {
        let template = capture(kind, seed);
        for lead_s in [0.0, 1.0] {
            let mut recording = vec![0.0f32; (lead_s * f64::from(RATE)) as usize];
            recording.extend(&template);
            recording.extend(vec![0.0f32; 3 * RATE as usize]);
            let found = events(&template, &recording);
            assert_eq!(
                found.len(),
                1,
                "{} after {lead_s} s: {found:?}",
                kind.name()
            );
            // About 1: 0.93 for a 45 ms key click, whose onset falls
            // between two 5 ms fine frames.
            assert!(found[0].score > 0.9, "{}: {found:?}", kind.name());
            let onset = lead_s + 0.2;
            // A whoosh swells in: its onset is where it comes within 30 dB
            // of its peak, a few tens of milliseconds in.
            assert!((found[0].start_s - onset).abs() < 0.05, "{found:?}");
        }
    }
}

#[test]
fn a_long_chime_filling_its_capture_counts_once_in_its_own_file() {
    // Three seconds of a chime cycling through three notes, its last
    // cycle 6 dB louder, with 0.2 s of room noise either side: the whole
    // chime is the sound, found once, where it starts.
    let note_s = 0.25f32;
    let lead = RATE as usize / 5;
    let mut rng = synth::rng(6);
    let mut template: Vec<f32> = synth::white(2 * lead + 3 * RATE as usize, &mut rng)
        .into_iter()
        .map(|s| s * 1e-4)
        .collect();
    for i in 0..3 * RATE as usize {
        let t = i as f32 / RATE as f32;
        let note = [523.0f32, 659.0, 784.0][(t / note_s) as usize % 3];
        let within = t % note_s;
        let envelope = (within / 0.005).min(1.0) * (-within * 4.0).exp();
        let swell = if t > 2.25 { 2.0 } else { 1.0 };
        template[lead + i] += 0.2 * swell * envelope * (std::f32::consts::TAU * note * t).sin();
    }
    let found = events(&template, &template);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!((found[0].start_s - 0.2).abs() < 0.05, "{found:?}");
}

#[test]
fn chatter_running_on_into_a_click_does_not_move_its_onset() {
    // A phone's capture: chatter about 20 dB under a key click, in
    // syllables whose level swings by 12 dB, runs on into the click and
    // past it without a pause. The click is found where it starts, as
    // the same click captured in silence is.
    let click = synth::sound(SoundKind::KeyClick, RATE, &mut synth::rng(4));
    let click_rms = (click.iter().map(|s| s * s).sum::<f32>() / click.len() as f32).sqrt();
    let lead = (0.6 * f64::from(RATE)) as usize;
    let mut rng = synth::rng(12);
    let mut template = synth::pink(lead + click.len() + RATE as usize / 3, &mut rng);
    let syllable = (0.08 * f64::from(RATE)) as usize;
    for (k, chunk) in template.chunks_mut(syllable).enumerate() {
        let swing_db = [-8.0f32, 4.0, -2.0, 2.0, -6.0, 0.0][k % 6];
        let gain = click_rms * 10f32.powf((swing_db - 20.0) / 20.0);
        chunk.iter_mut().for_each(|s| *s *= gain);
    }
    for (sample, c) in template[lead..].iter_mut().zip(&click) {
        *sample += c;
    }
    let mut recording = vec![0.0f32; RATE as usize];
    recording.extend(capture(SoundKind::KeyClick, 4));
    recording.extend(vec![0.0f32; 3 * RATE as usize]);
    let alone = events(&capture(SoundKind::KeyClick, 4), &recording);
    let found = events(&template, &recording);
    assert_eq!((alone.len(), found.len()), (1, 1), "{alone:?} {found:?}");
    assert!(
        (found[0].start_s - alone[0].start_s).abs() < 0.01,
        "reported at {:.3} s, the click alone at {:.3} s",
        found[0].start_s,
        alone[0].start_s
    );
}

#[test]
fn a_sound_is_reported_from_its_quiet_lead_in() {
    // A spoken "six": 0.12 s of hiss 35 dB under the vowel that follows
    // it, in a quiet capture. The hiss is too quiet to match in a noisy
    // recording, but the word starts there, and so does every repeat
    // reported.
    let mut rng = synth::rng(13);
    let lead = RATE as usize / 2;
    let hiss_len = (0.12 * f64::from(RATE)) as usize;
    let vowel_len = RATE as usize / 4;
    let mut template = vec![0.0f32; lead];
    template.extend(synth::white(hiss_len, &mut rng).iter().map(|s| s * 0.01));
    template.extend((0..vowel_len).map(|i| {
        let t = i as f32 / RATE as f32;
        let fade = ((vowel_len - i) as f32 / 441.0).min(1.0);
        0.6 * fade * (std::f32::consts::TAU * 220.0 * t).sin()
    }));
    template.extend(vec![0.0f32; lead]);
    // The room: noise 80 dB under the vowel.
    let room = synth::white(template.len(), &mut rng);
    template
        .iter_mut()
        .zip(room)
        .for_each(|(s, r)| *s += 6e-5 * r);
    let mut recording = vec![0.0f32; RATE as usize];
    recording.extend(&template);
    recording.extend(vec![0.0f32; 3 * RATE as usize]);
    let found = events(&template, &recording);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        (found[0].start_s - 1.5).abs() < 0.01,
        "reported at {:.3} s, the hiss starts at 1.500 s",
        found[0].start_s
    );
}

#[test]
fn a_recording_that_stops_as_the_last_sound_dies_away_counts_it() {
    // The user stops recording right after the last occurrence: with no
    // silence after the sound, or halfway through a long ring. Its window
    // runs past the recording's end, and it counts all the same.
    for (kind, seed, kept) in [
        (SoundKind::KeyClick, 4, 1.0),
        (SoundKind::Ring, 1, 1.0),
        (SoundKind::Ring, 1, 0.6),
    ] {
        let sound = synth::sound(kind, RATE, &mut synth::rng(seed));
        let template = capture(kind, seed);
        let mut recording = vec![0.0f32; RATE as usize];
        recording.extend(&template);
        recording.extend(vec![0.0f32; RATE as usize]);
        let last_s = recording.len() as f64 / f64::from(RATE);
        recording.extend(&sound[..(sound.len() as f64 * kept) as usize]);
        let found = events(&template, &recording);
        assert_eq!(found.len(), 2, "{} kept {kept}: {found:?}", kind.name());
        assert!((found[1].start_s - last_s).abs() < 0.05, "{found:?}");
    }
}

#[test]
fn a_recording_that_opens_on_the_sound_counts_it() {
    // A capture cut tight to its sound, counted in its own file, and a
    // recording whose first sample is the sound's first (the key pressed
    // as recording starts): the sound has no frame before it to rise
    // from, as the template's own silence gives it.
    for (kind, seed) in [
        (SoundKind::Ring, 1),
        (SoundKind::Chirp, 2),
        (SoundKind::Thump, 3),
        (SoundKind::KeyClick, 4),
    ] {
        let tight = synth::sound(kind, RATE, &mut synth::rng(seed));
        let found = events(&tight, &tight);
        assert_eq!(found.len(), 1, "{} in itself: {found:?}", kind.name());
        assert!(found[0].start_s < 0.02, "{found:?}");
        assert!(found[0].score > 0.9, "{}: {found:?}", kind.name());

        let mut recording = tight.clone();
        recording.extend(vec![0.0f32; 2 * RATE as usize]);
        recording.extend(&tight);
        recording.extend(vec![0.0f32; RATE as usize]);
        let found = events(&capture(kind, seed), &recording);
        let starts: Vec<f64> = found.iter().map(|e| e.start_s).collect();
        let second = (tight.len() + 2 * RATE as usize) as f64 / f64::from(RATE);
        assert_eq!(starts.len(), 2, "{}: {found:?}", kind.name());
        assert!(starts[0] < 0.02, "{}: {found:?}", kind.name());
        assert!(
            (starts[1] - second).abs() < 0.02,
            "{}: {found:?}",
            kind.name()
        );
    }
}

#[test]
fn noise_that_starts_with_the_recording_is_no_onset() {
    // The silence laid before the recording makes noise that starts with
    // it rise from nothing; the floor at the start is the noise's own, so
    // the rise is no match.
    for (kind, seed) in [(SoundKind::Thump, 3), (SoundKind::KeyClick, 4)] {
        let noise: Vec<f32> = synth::white(5 * RATE as usize, &mut synth::rng(seed))
            .into_iter()
            .map(|s| 0.1 * s)
            .collect();
        let found = events(&capture(kind, seed), &noise);
        assert!(found.is_empty(), "{}: {found:?}", kind.name());
    }
}
