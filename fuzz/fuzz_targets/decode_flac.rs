//! FLAC: any bytes, and the project's own template.flac test file edited by the
//! input (common/decode.rs).

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/decode.rs"]
mod decode;

/// tests/audio/template.flac: a key click (see tests/audio/README.md).
const SEED: &[u8] = include_bytes!("../../tests/audio/template.flac");

fuzz_target!(|data: &[u8]| decode::exercise(SEED, data));
