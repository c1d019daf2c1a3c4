//! AI noise suppression: RNNoise (through `nnnoiseless`), a small recurrent network that
//! also removes non-stationary noise (keyboard, coughs, traffic) the classic suppressor
//! leaves. It works on exactly our 10 ms frame at 48 kHz.

use nnnoiseless::DenoiseState;

use super::FRAME_10MS;

const _: () = assert!(DenoiseState::FRAME_SIZE == FRAME_10MS);

/// RNNoise works on the 16-bit scale.
const SCALE: f32 = 32768.0;

pub struct Denoiser {
    state: Box<DenoiseState<'static>>,
    input: Vec<f32>,
    output: Vec<f32>,
}

impl Default for Denoiser {
    fn default() -> Self {
        Self {
            state: DenoiseState::new(),
            input: vec![0.0; FRAME_10MS],
            output: vec![0.0; FRAME_10MS],
        }
    }
}

impl Denoiser {
    /// Denoises a 10 ms frame in place; a frame of another length passes untouched.
    pub fn process(&mut self, frame: &mut [f32]) {
        if frame.len() != FRAME_10MS {
            return;
        }
        for (i, &s) in self.input.iter_mut().zip(frame.iter()) {
            *i = s * SCALE;
        }
        self.state.process_frame(&mut self.output, &self.input);
        for (o, &s) in frame.iter_mut().zip(&self.output) {
            *o = (s / SCALE).clamp(-1.0, 1.0);
        }
    }
}
