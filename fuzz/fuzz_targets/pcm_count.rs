//! Any live stream (any PCM encoding, rate, channel count and bytes, NaN
//! and infinite floats included, cut into any chunks) runs through the
//! counting engine to events or an error: never a panic.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

use harmonic::audio::{PcmDecoder, PcmEncoding, PcmFormat};
use harmonic::dsp::{Counter, Options, TemplateAudio};

/// A decaying 2 kHz click at 16 kHz with quiet around it: a template the
/// engine accepts.
fn template() -> &'static TemplateAudio {
    static TEMPLATE: OnceLock<TemplateAudio> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let rate = 16_000u32;
        let mut samples = vec![0.0f32; 1_600];
        samples.extend((0..1_600).map(|i| {
            let t = i as f32 / rate as f32;
            (std::f32::consts::TAU * 2_000.0 * t).sin() * (-t * 60.0).exp()
        }));
        samples.extend(vec![0.0f32; 1_600]);
        TemplateAudio {
            samples,
            sample_rate: rate,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&[choice, rate_choice, chunk_choice], audio)) = data.split_first_chunk::<3>() else {
        return;
    };
    let encoding = match choice % 3 {
        0 => PcmEncoding::U8,
        1 => PcmEncoding::S16Le,
        _ => PcmEncoding::F32Le,
    };
    let rates = [8_000, 11_025, 16_000, 44_100, 48_000, 192_000, 7_999, 0];
    let format = PcmFormat {
        encoding,
        sample_rate: rates[usize::from(rate_choice) % rates.len()],
        channels: u16::from(choice / 3 % 4),
    };
    let Ok(mut decoder) = PcmDecoder::new(format) else {
        return;
    };
    let Ok(mut counter) = Counter::new(template(), format.sample_rate, &Options::default()) else {
        return;
    };
    let chunk = usize::from(chunk_choice).max(1) * 7;
    let mut samples = Vec::new();
    for piece in audio.chunks(chunk) {
        samples.clear();
        if decoder.push(piece, &mut samples).is_err() || counter.push(&samples).is_err() {
            return;
        }
    }
    if counter.finish().is_ok() {
        for event in counter.events() {
            assert!(event.start_s.is_finite() && (0.0..=1.0).contains(&event.score));
        }
    }
});
