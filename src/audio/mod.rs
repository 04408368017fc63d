//! Audio input: WAV and raw PCM decoding, mixing to mono, resampling.
