//! What every audio-container target does: any bytes, and a valid file of
//! the target's container edited by the input, decode to samples or to an
//! `AudioError`: never a panic, never an allocation the header asks for but
//! the bytes do not hold, never a non-finite sample.
//!
//! The edits make the container's own parser the one under test: random
//! bytes alone rarely get past a format's magic number, and a seed of
//! each container (the test files of tests/audio/, or one written here)
//! takes the fuzzer straight into its chunks, boxes, frames and pages.

// Each target uses part of this module (the seeds written in code use
// `click_pcm`, the ones read from tests/audio/ do not).
#![allow(dead_code)]

use harmonic::audio::AudioReader;

/// Runs both inputs: `data` as a whole file, and `seed` edited by `data`.
pub fn exercise(seed: &[u8], data: &[u8]) {
    decode(data.to_vec());
    decode(edited(seed, data));
}

/// `seed` with the edits `data` describes, four bytes each: a position
/// (two bytes, scaled to the file), an operation, a byte.
fn edited(seed: &[u8], data: &[u8]) -> Vec<u8> {
    let mut file = seed.to_vec();
    for edit in data.chunks_exact(4) {
        if file.is_empty() {
            break;
        }
        let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) * file.len() / 65_536;
        match edit[2] % 5 {
            0 => file[at] = edit[3],
            1 => file[at] ^= 1 << (edit[3] % 8),
            2 => file.insert(at, edit[3]),
            3 => {
                file.remove(at);
            }
            _ => file.truncate(at),
        }
    }
    file
}

fn decode(bytes: Vec<u8>) {
    let Ok(mut reader) = AudioReader::from_bytes(bytes) else {
        return;
    };
    let info = reader.info();
    assert!(info.sample_rate >= 8_000 && info.sample_rate <= 192_000);
    assert!(info.channels > 0);
    // Blocks of an odd size, as a long recording is read, then the rest
    // whole, as a template is.
    let mut block = Vec::new();
    if reader.read_block(1_000, &mut block).is_err() {
        return;
    }
    if let Ok(rest) = reader.read_all() {
        assert!(block.iter().chain(&rest).all(|s| s.is_finite()));
    }
}

/// A small 16-bit PCM body: a decaying click.
pub fn click_pcm() -> Vec<i16> {
    (0..800)
        .map(|i| {
            let decay = (-(i as f32) / 80.0).exp();
            ((i as f32 * 0.8).sin() * decay * 20_000.0) as i16
        })
        .collect()
}
