//! AIFF: any bytes, and an AIFF file edited by the input (common/decode.rs).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "common/decode.rs"]
mod decode;

/// A mono 16-bit AIFF at 22.05 kHz: FORM, COMM, SSND.
fn seed() -> &'static [u8] {
    static SEED: OnceLock<Vec<u8>> = OnceLock::new();
    SEED.get_or_init(|| {
        let pcm = decode::click_pcm();
        let mut comm = Vec::new();
        comm.extend_from_slice(&1u16.to_be_bytes());
        comm.extend_from_slice(&(pcm.len() as u32).to_be_bytes());
        comm.extend_from_slice(&16u16.to_be_bytes());
        // 22050 as an 80-bit extended float.
        comm.extend_from_slice(&[0x40, 0x0D, 0xAC, 0x44, 0, 0, 0, 0, 0, 0]);
        let mut ssnd = vec![0u8; 8];
        ssnd.extend(pcm.iter().flat_map(|s| s.to_be_bytes()));
        let mut body = b"AIFF".to_vec();
        for (id, chunk) in [(b"COMM", comm), (b"SSND", ssnd)] {
            body.extend_from_slice(id);
            body.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
            body.extend_from_slice(&chunk);
        }
        let mut file = b"FORM".to_vec();
        file.extend_from_slice(&(body.len() as u32).to_be_bytes());
        file.extend_from_slice(&body);
        file
    })
}

fuzz_target!(|data: &[u8]| decode::exercise(seed(), data));
