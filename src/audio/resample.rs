//! Push-based resampling to [`ANALYSIS_RATE`](super::ANALYSIS_RATE) with rubato.
//!
//! rubato's synchronous FFT resampler works on fixed-size input chunks. This
//! wrapper buffers pushes of any size into those chunks, removes the
//! resampler's start-up delay, and flushes the tail at the end, so the output
//! depends only on the input samples, never on how they were pushed, and is
//! aligned in time with the input.

use rubato::{FftFixedIn, Resampler as _};

use super::AudioError;

/// Input frames rubato is given per call, in one piece (no sub-chunks):
/// 40 ms at 44.1 kHz, and four times 441, the input side of 44.1 kHz's
/// ratio to 16 kHz (441:160), so the FFT resampler's transforms are 3,528
/// and 1,280 points. Resampling an hour at 44.1 kHz took 0.83 s of CPU
/// so, against 1.10 s with 1,024 frames in two sub-chunks (transforms of
/// 1,764 and 640 points) and 0.87-1.21 s with 1,323 to 7,056 frames.
const CHUNK_FRAMES: usize = 1764;

/// Converts mono audio at one rate to mono audio at another.
pub struct Resampler {
    inner: Option<FftFixedIn<f32>>,
    input_rate: u32,
    output_rate: u32,
    pending: Vec<f32>,
    output: Vec<Vec<f32>>,
    /// Leading output frames still to drop (the resampler's delay).
    skip: usize,
    frames_in: u64,
    frames_out: u64,
}

impl Resampler {
    /// A resampler from `input_rate` to `output_rate` (a pass-through when equal).
    pub fn new(input_rate: u32, output_rate: u32) -> Result<Resampler, AudioError> {
        let inner = if input_rate == output_rate {
            None
        } else {
            let resampler = FftFixedIn::<f32>::new(
                input_rate as usize,
                output_rate as usize,
                CHUNK_FRAMES,
                1,
                1,
            )
            .map_err(|e| AudioError::Resample(e.to_string()))?;
            Some(resampler)
        };
        let skip = inner.as_ref().map_or(0, |r| r.output_delay());
        let output = inner
            .as_ref()
            .map_or_else(Vec::new, |r| r.output_buffer_allocate(true));
        Ok(Resampler {
            inner,
            input_rate,
            output_rate,
            pending: Vec::new(),
            output,
            skip,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Resamples `input`, appending every output frame that is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        self.frames_in += input.len() as u64;
        let Some(inner) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            self.frames_out += input.len() as u64;
            return Ok(());
        };
        self.pending.extend_from_slice(input);
        let mut start = 0;
        loop {
            let need = inner.input_frames_next();
            if self.pending.len() - start < need {
                break;
            }
            let (_, produced) = inner
                .process_into_buffer(
                    &[&self.pending[start..start + need]],
                    &mut self.output,
                    None,
                )
                .map_err(|e| AudioError::Resample(e.to_string()))?;
            start += need;
            Self::emit(
                &self.output[0][..produced],
                &mut self.skip,
                &mut self.frames_out,
                out,
            );
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Flushes what is buffered; the total output is then exactly
    /// `input frames × output rate / input rate` (rounded down).
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), AudioError> {
        let expected = self.frames_in * u64::from(self.output_rate) / u64::from(self.input_rate);
        if let Some(inner) = self.inner.as_mut() {
            // rubato takes an empty slice for an error, not for "no more
            // input": a recording that filled its last block exactly
            // (a multiple of the block's frames) has nothing pending.
            let mut input: Option<&[f32]> =
                (!self.pending.is_empty()).then_some(self.pending.as_slice());
            while self.frames_out < expected {
                let (_, produced) = match input.take() {
                    Some(rest) => {
                        inner.process_partial_into_buffer(Some(&[rest]), &mut self.output, None)
                    }
                    None => {
                        inner.process_partial_into_buffer(None::<&[&[f32]]>, &mut self.output, None)
                    }
                }
                .map_err(|e| AudioError::Resample(e.to_string()))?;
                let room = (expected - self.frames_out) as usize;
                let keep = produced.min(room + self.skip);
                Self::emit(
                    &self.output[0][..keep],
                    &mut self.skip,
                    &mut self.frames_out,
                    out,
                );
            }
            self.pending.clear();
        }
        Ok(())
    }

    /// Frames pushed so far, at the input rate.
    pub fn frames_in(&self) -> u64 {
        self.frames_in
    }

    fn emit(produced: &[f32], skip: &mut usize, frames_out: &mut u64, out: &mut Vec<f32>) {
        let dropped = (*skip).min(produced.len());
        *skip -= dropped;
        out.extend_from_slice(&produced[dropped..]);
        *frames_out += (produced.len() - dropped) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f32, seconds: f32) -> Vec<f32> {
        let n = (rate as f32 * seconds) as usize;
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn output_length_and_alignment_are_exact() {
        for rate in [8_000, 11_025, 22_050, 44_100, 48_000, 96_000, 192_000] {
            // A click at 0.5 s must come out at 0.5 s.
            let mut input = vec![0.0f32; rate as usize];
            input[rate as usize / 2] = 1.0;
            let mut resampler = Resampler::new(rate, 16_000).unwrap();
            let mut out = Vec::new();
            resampler.push(&input, &mut out).unwrap();
            resampler.finish(&mut out).unwrap();
            assert_eq!(out.len(), 16_000, "rate {rate}");
            let peak = out
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .unwrap()
                .0;
            assert!(
                (peak as i64 - 8_000).abs() <= 1,
                "rate {rate}: click at {peak}"
            );
        }
    }

    #[test]
    fn input_filling_its_last_block_exactly_still_finishes() {
        // 43 whole blocks at 44.1 kHz: nothing is pending at the end (a
        // stream pushed four blocks at a time is the same).
        let frames = 43 * CHUNK_FRAMES;
        let mut resampler = Resampler::new(44_100, 16_000).unwrap();
        let mut out = Vec::new();
        for block in tone(44_100, 440.0, 2.0)[..frames].chunks(4 * CHUNK_FRAMES) {
            resampler.push(block, &mut out).unwrap();
        }
        resampler.finish(&mut out).unwrap();
        assert_eq!(out.len(), frames * 16_000 / 44_100);
    }

    #[test]
    fn output_does_not_depend_on_push_sizes() {
        let input = tone(44_100, 440.0, 0.7);
        let mut whole = Vec::new();
        let mut resampler = Resampler::new(44_100, 16_000).unwrap();
        resampler.push(&input, &mut whole).unwrap();
        resampler.finish(&mut whole).unwrap();
        for size in [1, 333, 1024, 5000] {
            let mut resampler = Resampler::new(44_100, 16_000).unwrap();
            let mut pieces = Vec::new();
            for piece in input.chunks(size) {
                resampler.push(piece, &mut pieces).unwrap();
            }
            resampler.finish(&mut pieces).unwrap();
            assert_eq!(pieces, whole, "push size {size}");
        }
    }

    #[test]
    fn a_tone_keeps_its_level() {
        let mut out = Vec::new();
        let mut resampler = Resampler::new(48_000, 16_000).unwrap();
        resampler
            .push(&tone(48_000, 1_000.0, 1.0), &mut out)
            .unwrap();
        resampler.finish(&mut out).unwrap();
        let rms = (out[2000..14000].iter().map(|v| v * v).sum::<f32>() / 12_000.0).sqrt();
        assert!(
            (rms - std::f32::consts::FRAC_1_SQRT_2).abs() < 0.01,
            "rms {rms}"
        );
    }
}
