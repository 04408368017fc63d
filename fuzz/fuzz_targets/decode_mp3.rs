//! MP3: any bytes, and the project's own template.mp3 test file edited by the
//! input (common/decode.rs).

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/decode.rs"]
mod decode;

/// tests/audio/template.mp3: a key click (see tests/audio/README.md).
const SEED: &[u8] = include_bytes!("../../tests/audio/template.mp3");

fuzz_target!(|data: &[u8]| decode::exercise(SEED, data));
