//! Template preparation: from a user's capture to the patch the engine seeks.
//!
//! A phone capture of one key press has silence or room noise before and
//! after the sound; matching that too would make every quiet stretch look
//! like a partial match. The template is cut to its active frames, then made
//! zero-mean and unit-norm so the correlation is a Pearson coefficient.

use super::features::{
    frame_energy, BandLayout, FeatureExtractor, FixedFloor, OnsetChannels, Resolution, BANDS,
    MAX_FREQUENCY_HZ,
};
use super::DspError;
use crate::audio::{Resampler, ANALYSIS_RATE};

/// Frames quieter than the loudest by more than this are not the sound
/// (dB, as heard: A-weighted). On the real-sound corpus (30 cases per
/// tier, found / false / missed, against tuning 3,283 / 76 / 80, 85.7 %
/// exact, and held-out 3,843 / 36 / 109, 89.9 %): 25 dB gave
/// 3,274 / 90 / 89 (85.7 %) and 3,850 / 42 / 102 (89.3 %), 40 dB
/// 3,264 / 82 / 99 (84.4 %) and 3,830 / 28 / 122 (88.6 %): a shorter
/// template matches more that is not the sound, a longer one carries
/// the capture's room.
const ACTIVE_BELOW_PEAK_DB: f32 = 30.0;
/// The longest stretch under the gate inside one sound (seconds): a
/// double click's two clicks and a spoken word's stop consonants (up to
/// about 100 ms) stay one sound; a handling thump or a word of chatter
/// further from the sound does not join it. On the real-sound corpus (30
/// cases per tier, found / false / missed, against tuning
/// 3,283 / 76 / 80, F1 0.977) 0.1 s gave 3,244 / 124 / 119 (F1 0.964)
/// and 0.2 s 3,266 / 92 / 97 (F1 0.972), with the held-out sources'
/// counts the same at both.
const MAX_DIP_S: f64 = 0.15;
/// The least of a capture's own quiet, outside its sound's core, that
/// tells the room's level (seconds). A system sound cut tight to its
/// file may keep only a moment of silence before it (oxygen's
/// three-second log-in chimes: 40 ms, then a chime within 20 dB of its
/// peak to the file's end); a hum or tone recorded throughout keeps
/// none, and the silence a template is padded with is left out of the
/// count (as is digital silence in the file: a room always has some
/// noise). 30 ms is three standard frames: one quiet frame could be a
/// dropout. Counted in their own files, the 309 installed real sounds
/// made 300 templates at a dip's length (0.15 s, the rule's first
/// bound), 294 of them counting once; 0.1 s the same; 0.06 s 302 and
/// 298; 0.03 s 304 and 301; 0.01 s 305 and 302. The benches' templates,
/// captured with room noise around, are the same at 0.03 s: both
/// corpora's figures did not move.
const MIN_ROOM_S: f64 = 0.03;
/// The energy a frame's level (dB) is taken of at the least: a frame at
/// it holds nothing at all (the silence a template is padded with, or
/// digital silence).
const NO_ENERGY: f32 = 1e-30;
/// Frames must stand this far above the capture's own noise floor, and
/// above the level the sound rose from (dB). Measured as above: 3 dB
/// gave 3,282 / 77 / 81 (85.1 %) and 3,833 / 46 / 119 (89.9 %), 10 dB
/// 3,247 / 104 / 116 (84.4 %) and 3,845 / 129 / 107 (89.6 %; templates
/// cut short of their quiet ends count other sounds' loud parts).
const ACTIVE_ABOVE_FLOOR_DB: f32 = 6.0;
/// The sound's core: the frames around the loudest within this much of it
/// (dB), a click's attack and a chime's first bloom. What comes right
/// before the core is the level the sound rose from. 20 dB keeps most of a
/// slow attack inside the core (so the frames before it are what preceded
/// the sound, not the attack's lower half) and leaves out chatter 20 dB or
/// more under the sound (the phone tier's is 20 dB under its RMS). Chosen
/// from those two cases; measured since on the real-sound corpus as
/// above: 15 dB gave 3,283 / 81 / 80 (85.1 %) and 3,845 / 37 / 107
/// (89.9 %), 25 dB 3,273 / 85 / 90 (85.7 %) and 3,824 / 54 / 128
/// (89.6 %). Asked by power as well as as heard ([`core`]), it changes
/// one template of the corpus's: with 60 cases per tier, held-out
/// 7,551 / 88 / 188 (89.8 %) to 7,559 / 81 / 180 (89.9 %; the phone tier
/// 98.3 to 100 %), tuning 6,202 / 151 / 168 either way; 12 and 30 cases
/// per tier, the synthetic corpus and the installed sounds counted in
/// their own files are unchanged.
const CORE_BELOW_PEAK_DB: f32 = 20.0;
/// How loud a part of the capture before the sound, beyond a dip, must
/// be to belong to it (dB under the loudest frame). A word's first
/// syllable or a double click's first click peaks 0-8 dB under the
/// loudest frame in the real-sound corpus's templates; a phone's chatter
/// crossing the gate just before the sound peaks 13-25 dB under it and,
/// joined, put the onset of every event up to 0.2 s early. 12 dB lies
/// between the two (12 and 15 measured the same on the tuning sources; 8
/// was worse, 20 let chatter in).
const JOIN_BELOW_PEAK_DB: f32 = 12.0;
/// Which share of the capture's frames outside the sound its background
/// stays under: what the background reaches, not its floor. A phone's
/// chatter runs 10 dB and more above its own floor in syllables, so a
/// gate over the floor lets the syllables just before a sound join its
/// start and puts its onset early; a quiet room's noise reaches a dB or
/// two above its floor, so there the gate barely moves. With the frames'
/// gate alone, 0.8, 0.9 and 0.95 measured alike on the tuning sources
/// (30 cases per tier, F1 0.966, 0.966, 0.965; phone tier 0.948 each,
/// against 0.940 over the floor). With the onset's envelope gated too
/// ([`envelope_reach`]) and the background taken a dip away from the
/// sound, the phone tier's onsets went from a median 22 ms off to 4-6 ms
/// on both splits, and the held-out sources' counts did not change.
const BACKGROUND_REACH_QUANTILE: f64 = 0.9;
/// How far under the main sound's loudest frame as heard (A-weighted)
/// its loudest frame by raw power may be heard and still be taken for
/// its peak. A phone's handling thump joined to the sound by chatter
/// between them is the stretch's loudest frame by power, heard 10.7 dB
/// under the sound (pingus/splash in the real-sound corpus's phone
/// tier): the span was set around the thump, the template held thump,
/// chatter and sound, and every occurrence was reported 0.56 s early.
/// Of the 659 templates of the real-sound corpus (30 cases per tier,
/// both splits), every other one's power peak is heard within 4.9 dB of
/// its heard peak (a word's syllables, a chime's partials); 6 dB (a
/// quarter of the power) lies between. Taking the heard peak always
/// moved spoken words' spans to another syllable (tuning F1 0.971 to
/// 0.963).
const POWER_PEAK_UNHEARD_DB: f32 = 6.0;
/// The quietest a sound's lead-in can be (dB under its loudest frame):
/// where a capture's room or converter noise lies at the quietest. A
/// lead-in ends where the background is reached, and this bound holds
/// only in digital silence, where the leakage of the resampler and of
/// the analysis window around a click (80-140 dB under it) would
/// otherwise pass for one. On the real sounds, whose captures hold room
/// noise, 40 and 45 dB or no bound measured alike (tuning sources, 90th
/// percentile of the onsets' error 14.0, 13.8 and 14.5 ms, with the
/// background measured right beside the sound).
const LEAD_BELOW_PEAK_DB: f32 = 60.0;
/// A template whose RMS is below this (−80 dBFS) is silence.
const SILENT_RMS: f32 = 1e-4;
/// Shortest template the engine accepts after trimming, in seconds.
const MIN_SOUND_S: f64 = 0.03;

/// A short sound as mono samples at its original rate: what a user saved.
#[derive(Debug, Clone)]
pub struct TemplateAudio {
    /// Mono samples in -1..1.
    pub samples: Vec<f32>,
    /// Frames per second of `samples`.
    pub sample_rate: u32,
}

impl TemplateAudio {
    /// Length in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}

/// A template ready to be sought in recordings of one sample rate.
#[derive(Debug, Clone)]
pub struct PreparedTemplate {
    /// The band layout shared with the recording.
    pub(crate) layout: BandLayout,
    /// Zero-mean, unit-norm level features, `frames × BANDS`, frame-major.
    pub(crate) level: Vec<f32>,
    /// The same for the onset strengths.
    pub(crate) onset: Vec<f32>,
    /// The level features as they are (not standardised): what an
    /// occurrence looks like in the recording's features, for
    /// [`Separation`](super::separate::Separation).
    pub(crate) shape: Vec<f32>,
    /// What the capture shows after the patch, as the sound dies away:
    /// level features on the scale of `shape`, up to as many frames as
    /// the patch ([`ringing`]). An occurrence in a recording rings on
    /// the same way, so [`Separation`](super::separate::Separation)
    /// lays it after each copy of the patch.
    pub(crate) ringing: Vec<f32>,
    /// The sound's band powers with the noise taken out, frame by frame
    /// over the active frames (`active.len() × BANDS`): what an
    /// occurrence's loudness is measured against
    /// ([`Loudness::of`](super::loudness::Loudness::of)).
    pub(crate) power: Vec<f32>,
    /// Frames of the patch that hold the sound.
    pub(crate) active: std::ops::Range<usize>,
    /// The template's score against itself alone at each lag, 0 up to the
    /// dominance rule's reach: where a true match has side lobes.
    pub(crate) side_lobes: Vec<f32>,
    /// Frames in `patch`.
    pub(crate) frames: usize,
    /// Seconds from the start of the trimmed patch to the sound's onset.
    pub(crate) onset_offset_s: f64,
    /// Seconds of the sound's lead-in before that onset: too quiet to
    /// match in a recording's noise, but where a listener hears the sound
    /// start, so an occurrence is reported from there.
    pub(crate) lead_s: f64,
    /// The sound at 16 kHz from its onset to the end of its last active
    /// frame, for the fine check ([`FineTemplate`](super::fine::FineTemplate)).
    pub(crate) sound: Vec<f32>,
    /// The highest frequency template and recording share (Hz).
    pub(crate) top_hz: f32,
}

impl PreparedTemplate {
    /// Trims, normalises and lays out `audio` for recordings at `recording_rate`.
    pub fn new(audio: &TemplateAudio, recording_rate: u32) -> Result<PreparedTemplate, DspError> {
        let rms = (audio.samples.iter().map(|s| s * s).sum::<f32>()
            / audio.samples.len().max(1) as f32)
            .sqrt();
        // NaN-safe: a NaN RMS is silence too.
        if rms.is_nan() || rms < SILENT_RMS {
            return Err(DspError::SilentTemplate);
        }
        let mut resampled = Vec::new();
        let mut resampler = Resampler::new(audio.sample_rate, ANALYSIS_RATE)?;
        resampler.push(&audio.samples, &mut resampled)?;
        resampler.finish(&mut resampled)?;
        // Measured at the standard resolution first; a short sound is then
        // prepared again at the finer one its length calls for.
        let layout =
            |resolution| BandLayout::for_rates(audio.sample_rate, recording_rate, resolution);
        let standard = PreparedTemplate::at(&resampled, layout(Resolution::STANDARD))?;
        let resolution = Resolution::for_sound_s(standard.sound_s());
        let mut prepared = if resolution == Resolution::STANDARD {
            standard
        } else {
            PreparedTemplate::at(&resampled, layout(resolution))?
        };
        prepared.top_hz = BandLayout::top_hz(audio.sample_rate, recording_rate);
        Ok(prepared)
    }

    /// The template in 16 kHz samples, prepared with `layout`.
    fn at(resampled: &[f32], layout: BandLayout) -> Result<PreparedTemplate, DspError> {
        let resolution = layout.resolution();
        // A template is one isolated sound: silence around it is true to it,
        // and lets a capture cut tight to the sound still fill whole frames.
        let pad = vec![0.0f32; resolution.window];
        let mut extractor = FeatureExtractor::new(layout.clone());
        let mut features = Vec::new();
        extractor.push(&pad, &mut features);
        extractor.push(resampled, &mut features);
        extractor.push(&pad, &mut features);
        extractor.finish(&mut features);

        // The capture was loud enough (checked above), so nothing above
        // its own level means it is steady throughout, not silent.
        let (lead_first, first, last) =
            active_span(&features, &layout, resolution).ok_or(DspError::NoDistinctSound)?;
        let floor = FixedFloor::from_powers(&features);
        let power: Vec<f32> = features[first * BANDS..(last + 1) * BANDS]
            .chunks_exact(BANDS)
            .flat_map(|frame| {
                frame
                    .iter()
                    .zip(floor.floors())
                    .map(|(&p, &f)| super::loudness::noise_free(p, f))
            })
            .collect();
        // Nothing over the capture's own floor: there is no sound to
        // measure an occurrence's loudness against.
        if !power.iter().any(|&p| p > 0.0) {
            return Err(DspError::SilentTemplate);
        }
        floor.apply(&mut features);
        let mut onsets = Vec::with_capacity(features.len());
        OnsetChannels::default().extend(&features, &mut onsets);
        // One frame of margin on each side keeps the onset's rise.
        let start = first.saturating_sub(1);
        let total = features.len() / BANDS;
        let min_frames = resolution.frames(MIN_SOUND_S);
        let mut end = (last + 2).min(total);
        while end - start < min_frames && end < total {
            end += 1;
        }
        if end - start < min_frames {
            return Err(DspError::TemplateTooShort);
        }
        let cut = start * BANDS..end * BANDS;
        let level = super::correlate::standardise(&features[cut.clone()])
            .ok_or(DspError::SilentTemplate)?;
        let onset =
            super::correlate::standardise(&onsets[cut.clone()]).ok_or(DspError::SilentTemplate)?;
        let reach = ((end - start) as f64 * super::peaks::DOMINANCE_REACH) as usize;
        let side_lobes = side_lobes(&level, &onset, &features[cut.clone()], reach);
        let peak = resampled.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        let above_background = (envelope_reach(resampled, lead_first..=last, resolution)
            * 10f32.powf(ACTIVE_ABOVE_FLOOR_DB / 20.0))
        .max(peak * 10f32.powf(-LEAD_BELOW_PEAK_DB / 20.0));
        let onset_gate = (peak * 10f32.powf(-ACTIVE_BELOW_PEAK_DB / 20.0)).max(above_background);
        let onset_padded = onset_sample(resampled, first, resolution, onset_gate);
        // The lead-in stands over the background alone.
        let lead_padded = if lead_first < first {
            onset_sample(resampled, lead_first, resolution, above_background).min(onset_padded)
        } else {
            onset_padded
        };
        let sound_start = onset_padded.saturating_sub(resolution.window);
        let sound_end = ((last + 1) * resolution.hop).min(resampled.len());
        let sound = resampled
            .get(sound_start..sound_end.max(sound_start))
            .unwrap_or_default()
            .to_vec();
        Ok(PreparedTemplate {
            sound,
            top_hz: MAX_FREQUENCY_HZ,
            layout,
            level,
            onset,
            ringing: ringing(&features, end, end - start),
            shape: features[cut].to_vec(),
            power,
            side_lobes,
            active: first - start..last + 1 - start,
            frames: end - start,
            onset_offset_s: (onset_padded as f64 - (start * resolution.hop) as f64)
                / f64::from(ANALYSIS_RATE),
            lead_s: (onset_padded - lead_padded) as f64 / f64::from(ANALYSIS_RATE),
        })
    }

    /// Length of the trimmed template in seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames as f64 * self.layout.resolution().frame_seconds()
    }

    /// Length of the sound itself (the active frames) in seconds.
    fn sound_s(&self) -> f64 {
        self.active.len() as f64 * self.layout.resolution().frame_seconds()
    }

    /// Length of the trimmed template in feature frames.
    pub fn frames(&self) -> usize {
        self.frames
    }
}

/// The combined score of the template against itself in silence, at lags
/// `0..=reach` frames (the larger of the two directions): what the engine
/// itself would score next to an isolated true match.
fn side_lobes(level: &[f32], onset: &[f32], features: &[f32], reach: usize) -> Vec<f32> {
    let silence = vec![0.0f32; reach * BANDS];
    let mut alone = Vec::with_capacity(features.len() + 2 * silence.len());
    alone.extend_from_slice(&silence);
    alone.extend_from_slice(features);
    alone.extend_from_slice(&silence);
    let mut scores = Vec::new();
    let mut scorer = super::correlate::Scorer::new(level, onset);
    scorer.push(&alone, &mut scores);
    scorer.finish(&mut scores);
    (0..=reach)
        .map(|lag| {
            let after = scores.get(reach + lag).copied().unwrap_or(0.0);
            let before = reach
                .checked_sub(lag)
                .and_then(|i| scores.get(i))
                .copied()
                .unwrap_or(0.0);
            after.max(before)
        })
        .collect()
}

/// Samples in the 1 ms envelope by which a sound's onset is placed.
const ENVELOPE: usize = (ANALYSIS_RATE / 1000) as usize;

/// Where the sound starts, in samples of the padded template (the
/// window's worth of silence in front included): the first sample whose
/// 1 ms envelope passes `gate`, looked for around the frame
/// `first_frame`. A frame turns active as soon as its window catches the
/// sound's start, so frame times alone would put every onset up to a
/// window early. The sound's own onset is gated within
/// [`ACTIVE_BELOW_PEAK_DB`] of the loudest sample and
/// [`ACTIVE_ABOVE_FLOOR_DB`] over what the background reaches
/// ([`envelope_reach`]); its lead-in's over the background alone.
fn onset_sample(resampled: &[f32], first_frame: usize, resolution: Resolution, gate: f32) -> usize {
    let Resolution { window, hop } = resolution;
    // Padded coordinates: sample i of `resampled` is window + i.
    let from = (first_frame.saturating_sub(1) * hop).saturating_sub(window);
    let to = ((first_frame * hop + window).saturating_sub(window)).min(resampled.len());
    resampled
        .get(from..to)
        .and_then(|span| {
            span.windows(ENVELOPE.min(span.len()).max(1))
                .position(|w| w.iter().fold(0.0f32, |m, s| m.max(s.abs())) > gate)
        })
        .map_or(first_frame * hop + window / 2, |i| window + from + i)
}

/// What the capture's background reaches outside the sound's frames
/// `span` and a [`bridge_frames`] either side of them: the 1 ms
/// envelope's peak that [`BACKGROUND_REACH_QUANTILE`] of its blocks stay
/// under (0 with fewer blocks outside than a frame's window holds). Chatter running on into a sound reaches within 30 dB of
/// its peak, and the first of its syllables in the sound's first frame
/// would otherwise be taken for the sound's start.
fn envelope_reach(
    resampled: &[f32],
    span: std::ops::RangeInclusive<usize>,
    resolution: Resolution,
) -> f32 {
    let Resolution { window, hop } = resolution;
    let bridge = bridge_frames(resolution);
    // Frame f covers samples f·hop − window up to f·hop of `resampled`.
    let before = (span.start().saturating_sub(bridge) * hop)
        .saturating_sub(window)
        .min(resampled.len());
    let after = ((span.end() + 1 + bridge) * hop)
        .min(resampled.len())
        .max(before);
    let peaks_db: Vec<f32> = resampled[..before]
        .chunks(ENVELOPE)
        .chain(resampled[after..].chunks(ENVELOPE))
        .map(|block| {
            20.0 * block
                .iter()
                .fold(0.0f32, |m, s| m.max(s.abs()))
                .max(1e-12)
                .log10()
        })
        .collect();
    if peaks_db.len() * ENVELOPE < window {
        return 0.0;
    }
    10f32.powf(level_quantile_db(&peaks_db, BACKGROUND_REACH_QUANTILE) / 20.0)
}

/// The level features after the patch that ends at frame `end`, for up
/// to `frames` frames: the ringing of a sound cut where it fell 30 dB
/// under its peak ([`ACTIVE_BELOW_PEAK_DB`]). A chime cut tight to its
/// file rings on past that for a second and more, another 40 dB down to
/// digital silence (lomiri's Blip and Positive). The same sound in a
/// recording is followed by the same ringing, and a model of one
/// occurrence that ends with the patch left it unexplained: a second copy
/// of the patch a few frames later "explained" it, and each of the two
/// sounds, padded with a second of silence, counted twice. Each band
/// only falls from the patch's last frame on: what rises again after the
/// cut (chatter, a handling thump) is not the sound's. `frames` (the
/// patch's length) covers any pair the separation compares, which lie
/// within the peak picker's reach of each other, under a patch apart.
/// The joint model's copies ([`Separation::hidden`]) end with the patch:
/// ringing on there too, they found the same repeats on the real-sound
/// corpus's held-out sources and one fewer on the tuning ones (30 cases
/// per tier).
///
/// [`Separation::hidden`]: super::separate::Separation::hidden
fn ringing(features: &[f32], end: usize, frames: usize) -> Vec<f32> {
    let total = features.len() / BANDS;
    let Some(last) = end.checked_sub(1).filter(|&last| last < total) else {
        return Vec::new();
    };
    let mut level: [f32; BANDS] = std::array::from_fn(|b| features[last * BANDS + b]);
    let after = &features[end * BANDS..(end + frames).min(total) * BANDS];
    let mut out = Vec::with_capacity(after.len());
    for frame in after.chunks_exact(BANDS) {
        for (l, &v) in level.iter_mut().zip(frame) {
            *l = l.min(v);
        }
        out.extend_from_slice(&level);
    }
    out
}

/// The first frame of the sound's lead-in, and the first and last frame
/// that belong to the sound, by level as heard
/// (A-weighted band powers; by power where the sound does not stand out
/// as heard): the frames above the gate around the loudest one, across dips
/// under it of at most [`MAX_DIP_S`] (before it, only to a part loud like
/// the sound, [`JOIN_BELOW_PEAK_DB`]). A phone capture holds more than the
/// sound: a handling thump when recording starts, a word of chatter, a
/// cough; separated from the sound by more than a dip, they are not part
/// of it.
fn active_span(
    features: &[f32],
    layout: &BandLayout,
    resolution: Resolution,
) -> Option<(usize, usize, usize)> {
    let energies_db: Vec<f32> = features
        .chunks_exact(BANDS)
        .map(|frame| 10.0 * frame_energy(frame).max(NO_ENERGY).log10())
        .collect();
    let weights: Vec<f32> = layout.centres_hz().iter().map(|&f| a_weight(f)).collect();
    let heard_db: Vec<f32> = features
        .chunks_exact(BANDS)
        .map(|frame| {
            let heard: f32 = frame.iter().zip(&weights).map(|(p, w)| p * w).sum();
            10.0 * heard.max(NO_ENERGY).log10()
        })
        .collect();
    let floor = floor_db(&energies_db);
    let bridge = bridge_frames(resolution);
    let loudest = main_sound_peak(&energies_db, &heard_db, floor, bridge)?;
    // Where the sound begins and ends is judged by what the ear hears of
    // each frame (A-weighted), where the sound stands out that way: a low
    // rumble's or thump's tail, loud in power, is barely heard, and a
    // handling thump or a hum is heard far less than measured. A sound
    // the ear hears little of over the room (a low note, a bass drum) is
    // judged by its power.
    let (levels_db, sound_core, (peak, gate)) =
        [&heard_db, &energies_db].into_iter().find_map(|levels| {
            let sound_core = core(levels, &energies_db, loudest);
            let gate = span_gate(
                levels,
                &sound_core,
                loudest,
                bridge,
                resolution.frames(MIN_ROOM_S),
            )?;
            Some((levels, sound_core, gate))
        })?;
    let active = |i: usize| levels_db[i] > gate;
    // Runs of frames above the gate join the loudest one across dips of
    // up to a bridge. After it, any run does: a sound's decay, echoes and
    // last consonant fall in and out of the gate. Before it, only a run as
    // loud as a sound's own part (a double click's first click, a word's
    // first syllable) does, with the quieter runs between: chatter or a
    // hum crossing the gate just before the sound would put its onset
    // early.
    let runs = runs_above(levels_db, gate, 1);
    let loud = |run: &std::ops::RangeInclusive<usize>| {
        run.clone()
            .any(|i| levels_db[i] > peak - JOIN_BELOW_PEAK_DB)
    };
    let core = runs.iter().position(|run| run.contains(&loudest))?;
    let mut first_run = core;
    while let Some(earlier) = (0..first_run)
        .rev()
        .take_while(|&r| runs[first_run].start() - runs[r].end() <= bridge)
        .find(|&r| loud(&runs[r]))
    {
        first_run = earlier;
    }
    let mut last_run = core;
    while runs
        .get(last_run + 1)
        .is_some_and(|next| next.start() - runs[last_run].end() <= bridge)
    {
        last_run += 1;
    }
    let mut first = *runs[first_run].start();
    let mut last = *runs[last_run].end();
    if last + 1 - first < resolution.frames(MIN_SOUND_S) {
        // The loudest frame is a spike on its own (a pop in a long capture):
        // it is no sound to trim around, so every frame above the gate is.
        first = (0..levels_db.len()).find(|&i| active(i))?;
        last = (0..levels_db.len()).rfind(|&i| active(i))?;
        return Some((first, first, last));
    }
    let (lead, first) =
        start_above_background(levels_db, first..=last, &sound_core, loudest, bridge);
    Some((lead, first, last))
}

/// The peak level of the sound whose loudest frame is `loudest` and
/// whose [`core`] is `core`, and the gate its frames must pass, on the
/// frame levels `levels_db`; `None` when the sound does not stand above
/// the gate.
fn span_gate(
    levels_db: &[f32],
    core: &std::ops::RangeInclusive<usize>,
    loudest: usize,
    bridge: usize,
    min_room_frames: usize,
) -> Option<(f32, f32)> {
    let floor = room_floor_db(levels_db, core, min_room_frames);
    let peak = levels_db[loudest];
    // The level the sound rose from: the floor of the frames just before
    // its core (a dip's length of them). Over a quiet room it is the
    // room's; a phone's chatter or a hum going on under the sound is not
    // the sound, however far above the capture's quietest frames it
    // stands. A gap between two notes of one sound, or a pause inside
    // chatter, is no floor: taken as a low quantile, not the minimum.
    let core_start = *core.start();
    let lead_floor = floor_db(&levels_db[core_start.saturating_sub(bridge)..core_start]);
    let gate = (peak - ACTIVE_BELOW_PEAK_DB)
        .max(floor + ACTIVE_ABOVE_FLOOR_DB)
        .max(lead_floor + ACTIVE_ABOVE_FLOOR_DB);
    (peak > gate).then_some((peak, gate))
}

/// Where the sound spanning `span` starts once what the capture's
/// background reaches is left out: the first frame, up to the sound's
/// [`core`] (`core`), that stands [`ACTIVE_ABOVE_FLOOR_DB`] over the
/// level the frames outside the span stay under
/// ([`BACKGROUND_REACH_QUANTILE`]),
/// leaving out a [`bridge_frames`] either side of it: a lead-in or a last
/// consonant there may be the sound's own. The span's gate is set over
/// the background's floor, and chatter running on into a sound without a
/// dip joins it: in the phone tier every onset was reported early
/// (median 22 ms, a 45 ms click in chatter 0.15 s). Only the start is
/// gated again: the same gate on the frames after the core gave the
/// held-out sources twice the false events (12 cases per tier: 11 to
/// 22).
///
/// Returns the lead-in's first frame too: the frames just before that
/// start that stand as far over the background, however far under the
/// sound's peak. A spoken word's first consonant or a chime's soft
/// attack lies 30-40 dB under the loudest frame, under the gate that
/// keeps the matched part to what stands out in a recording's noise,
/// yet a listener hears the sound start there, and its onset is
/// reported from there (without the lead-in, the 90th percentile of the
/// onsets' error on the real sounds was 28 ms; with it, 12 ms on the
/// tuning sources and 11 ms on the held-out ones, 30 cases per tier).
/// With fewer frames outside than a dip (`bridge`), nothing is measured
/// and the start stays, without a lead-in.
fn start_above_background(
    levels_db: &[f32],
    span: std::ops::RangeInclusive<usize>,
    core: &std::ops::RangeInclusive<usize>,
    loudest: usize,
    bridge: usize,
) -> (usize, usize) {
    let (first, last) = (*span.start(), *span.end());
    let outside: Vec<f32> = levels_db[..first.saturating_sub(bridge)]
        .iter()
        .chain(&levels_db[(last + 1 + bridge).min(levels_db.len())..])
        .copied()
        .collect();
    if outside.len() < bridge {
        return (first, first);
    }
    let gate = level_quantile_db(&outside, BACKGROUND_REACH_QUANTILE) + ACTIVE_ABOVE_FLOOR_DB;
    let lead_gate = gate.max(levels_db[loudest] - LEAD_BELOW_PEAK_DB);
    let core_start = (*core.start()).max(first);
    let first = (first..core_start)
        .find(|&i| levels_db[i] > gate)
        .unwrap_or(core_start);
    let lead = (0..first)
        .rev()
        .take_while(|&i| levels_db[i] > lead_gate)
        .last()
        .unwrap_or(first);
    (lead, first)
}

/// Frames in the longest dip inside one sound ([`MAX_DIP_S`]), and one
/// more: how far apart two parts of a sound may lie, and how far from a
/// sound's frames the capture is taken for its background.
fn bridge_frames(resolution: Resolution) -> usize {
    resolution.frames(MAX_DIP_S) + 1
}

/// The runs of frames above `gate`, in order, a run going on across
/// frames under it while the next frame above comes within `join` frames
/// of the last (1: consecutive frames only).
fn runs_above(levels_db: &[f32], gate: f32, join: usize) -> Vec<std::ops::RangeInclusive<usize>> {
    let mut runs: Vec<std::ops::RangeInclusive<usize>> = Vec::new();
    for (i, _) in levels_db.iter().enumerate().filter(|&(_, &db)| db > gate) {
        match runs.last_mut() {
            Some(run) if i - run.end() <= join => *run = *run.start()..=i,
            _ => runs.push(i..=i),
        }
    }
    runs
}

/// The A-weighting of a power at `hz` (IEC 61672, as a power ratio
/// against 1 kHz): how much of it the ear hears. About 0.01 at 100 Hz, 1
/// from 1 to 5 kHz.
fn a_weight(hz: f32) -> f32 {
    let f2 = hz * hz;
    let ra = 12194f32.powi(2) * f2 * f2
        / ((f2 + 20.6f32.powi(2))
            * ((f2 + 107.7f32.powi(2)) * (f2 + 737.9f32.powi(2))).sqrt()
            * (f2 + 12194f32.powi(2)));
    ra * ra * 10f32.powf(0.2)
}

/// The loudest frame of the capture's main sound. Of the sounds it holds
/// (stretches above the capture's gate, joined across dips of at most
/// `bridge` frames), the main one is the one heard loudest: `heard_db`
/// weighs the band powers by the ear's sensitivity ([`a_weight`]). A
/// phone's handling thump puts most of its power under 200 Hz, where
/// microphones hear far better than people, so by raw power it can be the
/// capture's loudest moment though the user hardly heard it; the sound
/// they meant to record is what they heard. The frame returned, from
/// which the gate is set, is the chosen sound's loudest by raw power,
/// unless the ear hears that frame [`POWER_PEAK_UNHEARD_DB`] under the
/// sound's loudest as heard: chatter can join a thump and the sound into
/// one stretch, and the thump is still not the sound.
fn main_sound_peak(
    energies_db: &[f32],
    heard_db: &[f32],
    floor: f32,
    bridge: usize,
) -> Option<usize> {
    let peak = energies_db
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    let gate = (peak - ACTIVE_BELOW_PEAK_DB).max(floor + ACTIVE_ABOVE_FLOOR_DB);
    // Each sound: the frames above the gate across dips of a bridge.
    let sounds = runs_above(energies_db, gate, bridge);
    let loudest = |sound: &std::ops::RangeInclusive<usize>, levels: &[f32]| {
        sound
            .clone()
            .max_by(|&a, &b| levels[a].total_cmp(&levels[b]))
    };
    let heard = |sound| loudest(sound, heard_db).map_or(f32::NEG_INFINITY, |i| heard_db[i]);
    let main = match sounds.iter().max_by(|a, b| heard(a).total_cmp(&heard(b))) {
        Some(main) => main.clone(),
        // Nothing stands above the gate: the caller finds the capture
        // steady from its loudest frame.
        None => 0..=energies_db.len().checked_sub(1)?,
    };
    let by_power = loudest(&main, energies_db)?;
    let heard_most = loudest(&main, heard_db)?;
    Some(
        if heard_db[by_power] < heard_db[heard_most] - POWER_PEAK_UNHEARD_DB {
            heard_most
        } else {
            by_power
        },
    )
}

/// The core of the sound whose loudest frame is `loudest`: the frames
/// around it, without a break, within [`CORE_BELOW_PEAK_DB`] of it on
/// the levels `levels_db` (as heard, or by power) and by power
/// (`power_db`). The ear weighs chatter's middle frequencies over a low
/// sound's: chatter running on into a digger's thud (the real-sound
/// corpus's held-out/phone/46) stayed within 11-16 dB of the thud's peak
/// as heard, joined its core, and every occurrence was reported 0.11 s
/// early; by power the frames where the chatter meets the thud lie 20-23
/// dB under the peak, and the core ends there. A sound's own attack and
/// bloom are near its peak both ways.
fn core(levels_db: &[f32], power_db: &[f32], loudest: usize) -> std::ops::RangeInclusive<usize> {
    let peak = levels_db[loudest];
    let power_peak = power_db[loudest];
    let near = |i: &usize| {
        levels_db[*i] > peak - CORE_BELOW_PEAK_DB && power_db[*i] > power_peak - CORE_BELOW_PEAK_DB
    };
    let start = (0..=loudest)
        .rev()
        .take_while(near)
        .last()
        .unwrap_or(loudest);
    let end = (loudest..levels_db.len())
        .take_while(near)
        .last()
        .unwrap_or(loudest);
    start..=end
}

/// The level of the room around a sound whose [`core`] is `core`: the
/// floor ([`floor_db`]) of the frames outside it (those around the
/// sound's loudest within [`CORE_BELOW_PEAK_DB`] of its peak), and
/// never above the whole capture's. A sound that fills most of its
/// capture (a three-second chime with a moment of room noise either
/// side) would otherwise set the floor itself, and only its loudest
/// swell would stand above the gate: the template would be that swell,
/// found once in every repeat at each of the chime's like-sounding
/// swells, and its reported onset seconds late. The frames of the
/// silence the capture is padded with (no energy at all) are no room:
/// with fewer frames of the capture's own outside than
/// [`MIN_ROOM_S`], there is no room to measure, and the whole capture's
/// floor stands: a steady tone filling its capture stands out from
/// nothing and is no distinct sound.
fn room_floor_db(
    levels_db: &[f32],
    core: &std::ops::RangeInclusive<usize>,
    min_room_frames: usize,
) -> f32 {
    let outside: Vec<f32> = levels_db[..*core.start()]
        .iter()
        .chain(&levels_db[core.end() + 1..])
        .copied()
        .filter(|&db| db > 10.0 * NO_ENERGY.log10())
        .collect();
    if outside.len() < min_room_frames {
        return floor_db(levels_db);
    }
    floor_db(&outside).min(floor_db(levels_db))
}

/// The noise floor of a stretch of frame energies (dB): the level a fifth
/// of them stay under, so that a few quiet frames (a pause, a gap between
/// notes) do not pass for the floor, and the sound itself, loud in the rest,
/// does not raise it. Minus infinity for no frames.
fn floor_db(energies_db: &[f32]) -> f32 {
    level_quantile_db(energies_db, 0.2)
}

/// The level (dB) that the share `quantile` of `levels_db` stays under;
/// minus infinity for no levels.
fn level_quantile_db(levels_db: &[f32], quantile: f64) -> f32 {
    let mut sorted = levels_db.to_vec();
    sorted.sort_by(f32::total_cmp);
    let at = (sorted.len() as f64 * quantile) as usize;
    sorted
        .get(at.min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f32::NEG_INFINITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ringing_only_falls_and_stops_after_a_patch_length() {
        // Band 3 of a 2-frame patch (frames 1-2) falls after it, then a
        // sound that is not the patch's rises at frame 5.
        let levels = [0.0f32, 6.0, 5.0, 4.0, 3.0, 7.0, 2.0, 1.0];
        let mut features = vec![0.0f32; levels.len() * BANDS];
        for (frame, &level) in levels.iter().enumerate() {
            features[frame * BANDS + 3] = level;
        }
        let band_3: Vec<f32> = ringing(&features, 3, 2)
            .chunks_exact(BANDS)
            .map(|frame| frame[3])
            .collect();
        assert_eq!(band_3, [4.0, 3.0]);
        let band_3: Vec<f32> = ringing(&features, 3, 4)
            .chunks_exact(BANDS)
            .map(|frame| frame[3])
            .collect();
        assert_eq!(band_3, [4.0, 3.0, 3.0, 2.0], "the rise is not followed");
        assert!(ringing(&features, levels.len(), 4).is_empty());
    }

    fn burst(rate: u32, lead_s: f32, burst_s: f32, tail_s: f32) -> TemplateAudio {
        let lead = (lead_s * rate as f32) as usize;
        let body = (burst_s * rate as f32) as usize;
        let tail = (tail_s * rate as f32) as usize;
        // A capture's faint room noise (-60 dBFS), deterministic.
        let mut state = 0x2545_f491_u32;
        let mut samples: Vec<f32> = (0..lead + body + tail)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state as f32 / u32::MAX as f32 - 0.5) * 2e-3
            })
            .collect();
        // A decaying tone that fades out over its last 10 ms, as real
        // sounds do: a cut-off tail would be a click of its own.
        let fade = (0.01 * rate as f32) as usize;
        for i in 0..body {
            let t = i as f32 / rate as f32;
            let taper = ((body - i) as f32 / fade as f32).min(1.0);
            samples[lead + i] +=
                (2.0 * std::f32::consts::PI * 900.0 * t).sin() * (-t * 20.0).exp() * taper;
        }
        TemplateAudio {
            samples,
            sample_rate: rate,
        }
    }

    #[test]
    fn silence_around_the_sound_is_trimmed() {
        let template = PreparedTemplate::new(&burst(44_100, 0.5, 0.2, 0.7), 44_100).unwrap();
        assert!(
            template.duration_s() < 0.3,
            "kept {} s",
            template.duration_s()
        );
        let norm: f32 = template.level.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-3);
    }

    #[test]
    fn a_sound_filling_most_of_its_capture_is_kept_whole() {
        // A three-second chime swelling by 6 dB at its end, with 0.2 s of
        // room noise before and after: the chime is the sound, not only
        // its swell.
        let rate = 16_000;
        let mut capture = burst(rate, 0.2, 0.0, 3.2);
        let start = (0.2 * rate as f32) as usize;
        for i in 0..3 * rate as usize {
            let t = i as f32 / rate as f32;
            let swell = if t > 2.5 { 2.0 } else { 1.0 };
            let fade = (t / 0.01).min((3.0 - t) / 0.01).min(1.0);
            capture.samples[start + i] += 0.1
                * swell
                * fade
                * [523.0f32, 659.0, 784.0]
                    .iter()
                    .map(|f| (std::f32::consts::TAU * f * t).sin())
                    .sum::<f32>();
        }
        let template = PreparedTemplate::new(&capture, rate).unwrap();
        assert!(
            template.duration_s() > 2.8,
            "kept {} s",
            template.duration_s()
        );
    }

    #[test]
    fn chatter_going_on_under_the_sound_is_not_the_sound() {
        // A phone's capture: a word of chatter (noise 25 dB under the
        // sound's peak, for a second) starts before the sound and goes on
        // after it; the template is the sound alone.
        let rate = 16_000;
        let mut capture = burst(rate, 0.8, 0.1, 0.7);
        let mut state = 0x9e37_79b9_u32;
        for sample in &mut capture.samples[(0.3 * rate as f32) as usize..] {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            *sample += (state as f32 / u32::MAX as f32 - 0.5) * 0.1;
        }
        let template = PreparedTemplate::new(&capture, rate).unwrap();
        assert!(
            template.duration_s() < 0.2,
            "kept {} s",
            template.duration_s()
        );
    }

    #[test]
    fn words_of_chatter_just_before_the_sound_do_not_move_its_onset() {
        // A phone's capture: three 40 ms words of chatter, about 16 dB
        // under the sound, end 60 ms before a 0.2 s tone at 0.8 s. They
        // cross the gate within a dip's reach of the tone, but are not
        // loud like it: the sound starts at the tone.
        let rate = 16_000;
        let mut capture = burst(rate, 0.8, 0.2, 0.5);
        let mut rng = crate::synth::rng(11);
        let word_len = (0.04 * rate as f32) as usize;
        for word_s in [0.5f32, 0.6, 0.7] {
            let start = (word_s * rate as f32) as usize;
            let word = crate::synth::white(word_len, &mut rng);
            for (sample, noise) in capture.samples[start..start + word_len]
                .iter_mut()
                .zip(word)
            {
                *sample += 0.11 * noise;
            }
        }
        let template = PreparedTemplate::new(&capture, rate).unwrap();
        let sound = template.sound.len() as f32 / rate as f32;
        assert!(sound < 0.25, "the sound is {sound} s: chatter joined it");
        assert!(sound > 0.1, "the tone is {sound} s");
    }

    /// A phone's capture: a 70 Hz thump at 0.3 s, three times the
    /// amplitude of a 900 Hz tone at 0.8 s (about 10 dB more power), yet
    /// 25 dB under it as the ear hears.
    fn tone_after_thump(rate: u32) -> TemplateAudio {
        let mut capture = burst(rate, 0.8, 0.2, 0.5);
        let start = (0.3 * rate as f32) as usize;
        for i in 0..(0.15 * rate as f32) as usize {
            let t = i as f32 / rate as f32;
            capture.samples[start + i] +=
                3.0 * (2.0 * std::f32::consts::PI * 70.0 * t).sin() * (-t * 20.0).exp();
        }
        capture
    }

    #[test]
    fn a_handling_thump_louder_in_power_than_the_sound_is_not_the_sound() {
        // The template is the tone: about 0.2 s from 0.8 s on, not the
        // thump at 0.3 s.
        let rate = 16_000;
        let capture = tone_after_thump(rate);
        let template = PreparedTemplate::new(&capture, rate).unwrap();
        assert!(
            template.duration_s() < 0.3,
            "kept {} s",
            template.duration_s()
        );
        let sound = template.sound.len() as f32 / rate as f32;
        assert!(sound > 0.1, "the tone is {sound} s");
        let peak = template.sound.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak < 1.5, "the thump is in the template (peak {peak})");
    }

    #[test]
    fn chatter_joining_a_thump_to_the_sound_does_not_make_the_thump_its_peak() {
        // Chatter 20 dB under the tone runs from 0.25 s to the end in
        // syllables, joining the thump and the tone into one stretch. The
        // template starts at the tone (the chatter after it may stay in
        // its tail), not at the thump or the chatter.
        let rate = 16_000;
        let mut capture = tone_after_thump(rate);
        let mut rng = crate::synth::rng(5);
        let chatter_start = (0.25 * rate as f32) as usize;
        let chatter = crate::synth::white(capture.samples.len() - chatter_start, &mut rng);
        // Syllables of 80 ms with 40 ms pauses, as chatter has.
        let syllable = (0.12 * rate as f32) as usize;
        let pause = (0.04 * rate as f32) as usize;
        for (i, (sample, noise)) in capture.samples[chatter_start..]
            .iter_mut()
            .zip(chatter)
            .enumerate()
        {
            if i % syllable < syllable - pause {
                *sample += 0.1 * noise;
            }
        }
        let template = PreparedTemplate::new(&capture, rate).unwrap();
        let peak = template.sound.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak < 1.5, "the thump is in the template (peak {peak})");
        assert!(template.lead_s < 0.05, "lead-in of {} s", template.lead_s);
    }

    #[test]
    fn chatter_heard_near_a_low_thud_but_far_under_it_in_power_is_not_its_start() {
        // A phone's capture of a low thud (250 Hz, which the ear hears
        // about 9 dB under its power) at 0.8 s, with chatter before it in
        // syllables, the last running on into the thud without a pause.
        // The chatter is 22 dB under the thud's power but only about 15
        // dB under it as heard: the sound starts at the thud.
        let rate = 16_000;
        let mut capture = burst(rate, 0.8, 0.0, 0.6);
        let thud_start = (0.8 * rate as f32) as usize;
        let thud_len = (0.3 * rate as f32) as usize;
        for i in 0..thud_len {
            let t = i as f32 / rate as f32;
            let fade = ((thud_len - i) as f32 / (0.01 * rate as f32)).min(1.0);
            capture.samples[thud_start + i] +=
                (std::f32::consts::TAU * 250.0 * t).sin() * (-t * 10.0).exp() * fade;
        }
        let mut rng = crate::synth::rng(7);
        let chatter_start = (0.36 * rate as f32) as usize;
        let chatter = crate::synth::white(thud_start - chatter_start, &mut rng);
        let syllable = (0.12 * rate as f32) as usize;
        let pause = (0.04 * rate as f32) as usize;
        for (i, (sample, noise)) in capture.samples[chatter_start..thud_start]
            .iter_mut()
            .zip(chatter)
            .enumerate()
        {
            if i % syllable < syllable - pause {
                *sample += 0.056 * noise;
            }
        }
        let template = PreparedTemplate::new(&capture, rate).unwrap();
        let sound = template.sound.len() as f32 / rate as f32;
        assert!(sound < 0.36, "the sound is {sound} s: chatter joined it");
        assert!(sound > 0.15, "the thud is {sound} s");
    }

    #[test]
    fn a_press_and_release_has_a_side_lobe_at_its_release_and_a_burst_none() {
        let rate = 16_000;
        let single = burst(rate, 0.2, 0.05, 0.2);
        let mut double = burst(rate, 0.2, 0.05, 0.35);
        let lag = (0.12 * rate as f32) as usize;
        let press = (0.2 * rate as f32) as usize;
        for i in 0..(0.05 * rate as f32) as usize {
            double.samples[press + lag + i] += 0.7 * single.samples[press + i];
        }
        let single = PreparedTemplate::new(&single, rate).unwrap();
        let double = PreparedTemplate::new(&double, rate).unwrap();
        let release = double.layout.resolution().frames(0.12);
        assert!(double.side_lobes[release] > 0.4, "{:?}", double.side_lobes);
        assert!(single.side_lobes[0] > 0.99);
        // Shifted by 10 ms or more, a lone burst no longer matches itself
        // anywhere near as well as a release does.
        let shifted = single.layout.resolution().frames(0.01);
        assert!(
            single.side_lobes[shifted..].iter().all(|&s| s < 0.4),
            "{:?}",
            single.side_lobes
        );
    }

    #[test]
    fn a_steady_tone_is_not_called_silent() {
        // Two seconds of a steady 440 Hz tone: loud, but nothing in it
        // stands out from the rest of it.
        let rate = 16_000;
        let tone = TemplateAudio {
            samples: (0..2 * rate)
                .map(|i| 0.5 * (std::f32::consts::TAU * 440.0 * i as f32 / rate as f32).sin())
                .collect(),
            sample_rate: rate,
        };
        let err = PreparedTemplate::new(&tone, rate).err();
        assert!(matches!(err, Some(DspError::NoDistinctSound)), "{err:?}");
        assert!(err.is_some_and(|e| e.to_string().contains("no distinct sound")));
    }

    #[test]
    fn a_chime_cut_tight_after_a_moment_of_quiet_is_a_sound() {
        // 50 ms of a quiet room, then a tone that holds to the file's
        // end: the quiet is the room it stands out from. The same tone
        // after 10 ms of quiet, a frame, has no room to measure.
        let rate = 16_000;
        let mut rng = crate::synth::rng(7);
        let mut capture = |quiet_s: f32| {
            let quiet = (quiet_s * rate as f32) as usize;
            let noise = crate::synth::white(quiet + 2 * rate as usize, &mut rng);
            let samples = noise
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    let tone = if i < quiet {
                        0.0
                    } else {
                        0.5 * (std::f32::consts::TAU * 440.0 * i as f32 / rate as f32).sin()
                    };
                    tone + 1e-4 * n
                })
                .collect();
            TemplateAudio {
                samples,
                sample_rate: rate,
            }
        };
        let prepared = PreparedTemplate::new(&capture(0.05), rate);
        assert!(prepared.is_ok(), "{:?}", prepared.err());
        let err = PreparedTemplate::new(&capture(0.01), rate).err();
        assert!(matches!(err, Some(DspError::NoDistinctSound)), "{err:?}");
    }

    #[test]
    fn silent_templates_are_refused() {
        let silent = TemplateAudio {
            samples: vec![0.0; 8_000],
            sample_rate: 8_000,
        };
        assert!(matches!(
            PreparedTemplate::new(&silent, 8_000),
            Err(DspError::SilentTemplate)
        ));
        let empty = TemplateAudio {
            samples: vec![],
            sample_rate: 8_000,
        };
        assert!(matches!(
            PreparedTemplate::new(&empty, 8_000),
            Err(DspError::SilentTemplate)
        ));
    }
}
