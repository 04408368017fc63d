//! The counting engine: features, FFT cross-correlation and peak picking.
