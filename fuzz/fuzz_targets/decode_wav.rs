//! WAV (RIFF): any bytes, and a WAV with extra chunks of odd sizes edited
//! by the input (common/decode.rs).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "common/decode.rs"]
mod decode;

/// A stereo WAV with `LIST` (odd-sized, padded) and `fact` chunks.
fn seed() -> &'static [u8] {
    static SEED: OnceLock<Vec<u8>> = OnceLock::new();
    SEED.get_or_init(|| {
        fn chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
            out.extend_from_slice(id);
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(body);
            if body.len() % 2 == 1 {
                out.push(0);
            }
        }
        let pcm = decode::click_pcm();
        let mut body = b"WAVE".to_vec();
        let mut fmt = Vec::new();
        for field in [1u16, 2] {
            fmt.extend_from_slice(&field.to_le_bytes());
        }
        fmt.extend_from_slice(&44_100u32.to_le_bytes());
        fmt.extend_from_slice(&(44_100u32 * 4).to_le_bytes());
        for field in [4u16, 16] {
            fmt.extend_from_slice(&field.to_le_bytes());
        }
        chunk(&mut body, b"LIST", b"INFOINAM\x03\0\0\0ab\0");
        chunk(&mut body, b"fmt ", &fmt);
        chunk(&mut body, b"fact", &(pcm.len() as u32 / 2).to_le_bytes());
        let data: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
        chunk(&mut body, b"data", &data);
        let mut file = b"RIFF".to_vec();
        file.extend_from_slice(&(body.len() as u32).to_le_bytes());
        file.extend_from_slice(&body);
        file
    })
}

fuzz_target!(|data: &[u8]| decode::exercise(seed(), data));
