//! Any bytes offered as a WAV file (an upload, a saved sound, a file on
//! disk) decode to samples or to an `AudioError`: never a panic, and never
//! an allocation the file's header asks for but its bytes do not hold.

#![no_main]

use libfuzzer_sys::fuzz_target;

use harmonic::audio::WavSource;

fuzz_target!(|data: &[u8]| {
    let Ok(mut source) = WavSource::from_reader(std::io::Cursor::new(data)) else {
        return;
    };
    let info = source.info();
    assert!(info.frames > 0 && info.channels > 0);
    // Blocks of an odd size, as a long recording is read, then the rest
    // whole, as a template is.
    let mut block = Vec::new();
    if source.read_block(1_000, &mut block).is_err() {
        return;
    }
    if let Ok(rest) = source.read_all() {
        assert!(block.iter().chain(&rest).all(|s| s.is_finite()));
    }
});
