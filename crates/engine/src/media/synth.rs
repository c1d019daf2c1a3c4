//! Synthetic microphone with latency marks, and the detector that reads them back.
//!
//! [`ToneSource`] plays a quiet 440 Hz bed and, at every wall-clock multiple of 500 ms, a
//! 60 ms 1 kHz burst. Both tones are functions of absolute time, so the sender needs no
//! state and the receiver knows when each burst was captured without any side channel:
//! latency = onset playout time − the 500 ms multiple.

use std::collections::VecDeque;
use std::f64::consts::TAU;

use super::{AudioFrame, AudioSource, FRAME_SAMPLES, SAMPLE_RATE};

/// Bursts start at every multiple of this many microseconds of wall-clock time.
pub const BURST_PERIOD_US: u64 = 500_000;
/// Length of each burst.
pub const BURST_LEN_US: u64 = 60_000;
const BURST_HZ: f64 = 1000.0;
const BED_HZ: f64 = 440.0;
const BURST_AMPLITUDE: f64 = 12_000.0;
const BED_AMPLITUDE: f64 = 800.0;
const US_PER_SAMPLE: f64 = 1e6 / SAMPLE_RATE as f64;

/// Synthetic microphone: quiet 440 Hz bed plus a 60 ms 1 kHz burst every 500 ms of wall time.
pub struct ToneSource {
    channels: u16,
}

impl ToneSource {
    pub fn new(channels: u16) -> Self {
        Self {
            channels: channels.max(1),
        }
    }
}

impl AudioSource for ToneSource {
    fn channels(&self) -> u16 {
        self.channels
    }

    fn next_frame(&mut self, capture_us: u64) -> Option<AudioFrame> {
        let ch = usize::from(self.channels);
        let mut samples = Vec::with_capacity(FRAME_SAMPLES * ch);
        // Both tones have a whole number of cycles per second, so the phase only needs the
        // time within the current second; this keeps f64 exact for any epoch time.
        let second_start = capture_us - capture_us % 1_000_000;
        for i in 0..FRAME_SAMPLES {
            let t_us = (capture_us - second_start) as f64 + i as f64 * US_PER_SAMPLE;
            let t = t_us / 1e6;
            let mut x = BED_AMPLITUDE * (TAU * BED_HZ * t).sin();
            let abs_us = second_start + t_us as u64;
            if abs_us % BURST_PERIOD_US < BURST_LEN_US {
                x += BURST_AMPLITUDE * (TAU * BURST_HZ * t).sin();
            }
            let s = x.round().clamp(-32768.0, 32767.0) as i16;
            samples.extend(std::iter::repeat_n(s, ch));
        }
        Some(AudioFrame {
            samples,
            channels: self.channels,
            sample_rate: SAMPLE_RATE,
            capture_us,
        })
    }
}

/// Goertzel window: 5 ms (five 1 kHz cycles, 2.8 bins away from the bed).
const WINDOW: usize = 240;
/// Hop between windows: 1 ms onset resolution.
const HOP: usize = 48;
/// Windows to wait after the first detection before locating the onset (burst fully in).
const SETTLE_WINDOWS: u64 = 12;
/// Lowest 1 kHz amplitude that counts as a burst whatever the bed (silence, DTX).
const MIN_BURST_AMPLITUDE: f64 = 1500.0;

#[derive(Debug, Clone, Copy)]
enum State {
    Idle,
    Pending { first: u64 },
    Refractory { until_us: f64 },
}

/// Finds the bursts of [`ToneSource`] in decoded audio and reports their latency.
pub struct BurstDetector {
    coeff: f64,
    hann: Vec<f64>,
    hann_sum: f64,
    mono: VecDeque<f64>,
    /// Playout time of `mono[0]`.
    start_us: f64,
    /// Expected `playout_us` of the next push if it is contiguous.
    next_us: Option<f64>,
    /// (index, end time, 1 kHz amplitude) of recent windows.
    history: VecDeque<(u64, f64, f64)>,
    index: u64,
    floor: f64,
    state: State,
}

impl Default for BurstDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl BurstDetector {
    pub fn new() -> Self {
        let hann: Vec<f64> = (0..WINDOW)
            .map(|n| 0.5 - 0.5 * (TAU * n as f64 / (WINDOW - 1) as f64).cos())
            .collect();
        let hann_sum = hann.iter().sum();
        Self {
            coeff: 2.0 * (TAU * BURST_HZ / f64::from(SAMPLE_RATE)).cos(),
            hann,
            hann_sum,
            mono: VecDeque::new(),
            start_us: 0.0,
            next_us: None,
            history: VecDeque::new(),
            index: 0,
            floor: 0.0,
            state: State::Idle,
        }
    }

    /// Feed decoded audio in playout order; `playout_us` is the wall time at which samples[0]
    /// is played. Returns, for each burst onset detected, its latency in ms = onset playout
    /// time − the 500 ms wall-clock multiple it belongs to (−50..450 ms).
    pub fn push(&mut self, samples: &[i16], channels: u16, playout_us: u64) -> Vec<f64> {
        let ch = usize::from(channels.max(1));
        let playout = playout_us as f64;
        // A gap or overlap in playout time: the old samples are not adjacent to the new ones.
        if self.next_us.is_none_or(|n| (n - playout).abs() > 1000.0) {
            self.mono.clear();
            self.history.clear();
            self.start_us = playout;
            if let State::Pending { .. } = self.state {
                self.state = State::Idle;
            }
        }
        let frames = samples.len() / ch;
        self.next_us = Some(playout + frames as f64 * US_PER_SAMPLE);
        for frame in samples.chunks_exact(ch) {
            let sum: f64 = frame.iter().map(|&s| f64::from(s)).sum();
            self.mono.push_back(sum / ch as f64);
        }

        let mut latencies = Vec::new();
        while self.mono.len() >= WINDOW {
            let amplitude = self.goertzel();
            let end_us = self.start_us + WINDOW as f64 * US_PER_SAMPLE;
            if let Some(latency) = self.step(end_us, amplitude) {
                latencies.push(latency);
            }
            self.mono.drain(..HOP);
            self.start_us += HOP as f64 * US_PER_SAMPLE;
        }
        latencies
    }

    /// Amplitude of the 1 kHz component in the current window.
    fn goertzel(&self) -> f64 {
        let (mut s1, mut s2) = (0.0, 0.0);
        for (x, w) in self.mono.iter().zip(&self.hann) {
            let s = x * w + self.coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = s1 * s1 + s2 * s2 - self.coeff * s1 * s2;
        2.0 * power.max(0.0).sqrt() / self.hann_sum
    }

    fn step(&mut self, end_us: f64, amplitude: f64) -> Option<f64> {
        let index = self.index;
        self.index += 1;
        self.history.push_back((index, end_us, amplitude));
        while self.history.len() > 64 {
            self.history.pop_front();
        }
        let threshold = (self.floor * 6.0).max(MIN_BURST_AMPLITUDE);
        match self.state {
            State::Idle if amplitude > threshold => {
                self.state = State::Pending { first: index };
                None
            }
            State::Idle => {
                self.floor = 0.95 * self.floor + 0.05 * amplitude;
                None
            }
            State::Pending { first } if index >= first + SETTLE_WINDOWS => {
                let onset = self.locate_onset(first)?;
                self.state = State::Refractory {
                    until_us: onset + 300_000.0,
                };
                let period = BURST_PERIOD_US as f64;
                let shifted = (onset + 50_000.0).rem_euclid(period);
                Some((shifted - 50_000.0) / 1000.0)
            }
            State::Pending { .. } => None,
            State::Refractory { until_us } => {
                if end_us > until_us && amplitude < threshold {
                    self.state = State::Idle;
                }
                None
            }
        }
    }

    /// With a symmetric window the 1 kHz amplitude reaches half the burst level when the
    /// burst fills half the window, so the onset is half a window before the (interpolated)
    /// end of the window where that happens. A burst already under way when the stream
    /// starts has no observed onset and is ignored.
    fn locate_onset(&mut self, first: u64) -> Option<f64> {
        let windows: Vec<(u64, f64, f64)> = self
            .history
            .iter()
            .copied()
            .filter(|&(i, _, _)| i + 1 >= first)
            .collect();
        let peak = windows.iter().map(|&(_, _, a)| a).fold(0.0, f64::max);
        let half = peak / 2.0;
        // The window before `first` must have been seen, or the onset was not observed.
        let observed = windows.first().is_some_and(|&(i, _, _)| i + 1 == first);
        let crossing = windows
            .windows(2)
            .find(|pair| pair[0].2 < half && pair[1].2 >= half)
            .filter(|_| observed);
        let Some(&[(_, e0, a0), (_, e1, a1)]) = crossing else {
            self.state = State::Idle;
            return None;
        };
        let end_us = e0 + (half - a0) / (a1 - a0).max(f64::EPSILON) * (e1 - e0);
        Some(end_us - WINDOW as f64 / 2.0 * US_PER_SAMPLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(detector: &mut BurstDetector, start_us: u64, frames: u64, offset_us: u64) -> Vec<f64> {
        let mut source = ToneSource::new(1);
        let mut out = Vec::new();
        for k in 0..frames {
            let capture = start_us + k * 20_000;
            let frame = source.next_frame(capture).expect("tone never ends");
            out.extend(detector.push(&frame.samples, 1, capture + offset_us));
        }
        out
    }

    #[test]
    fn raw_tone_bursts_measure_playout_offset() {
        let mut detector = BurstDetector::new();
        let start = 1_700_000_000_000_000;
        let latencies = run(&mut detector, start, 150, 123_000);
        // The burst at the very start has no observed onset; the other five count.
        assert_eq!(latencies.len(), 5, "{latencies:?}");
        for l in latencies {
            assert!((l - 123.0).abs() <= 2.0, "{l}");
        }
    }

    #[test]
    fn zero_and_long_latency_are_measurable() {
        for offset in [0, 5_000, 449_000] {
            let mut detector = BurstDetector::new();
            let latencies = run(&mut detector, 1_000_000_000_000, 100, offset);
            assert!(latencies.len() >= 3, "{offset}: {latencies:?}");
            for l in latencies {
                assert!((l - offset as f64 / 1000.0).abs() <= 2.0, "{offset}: {l}");
            }
        }
    }

    #[test]
    fn silence_and_bed_have_no_bursts() {
        let mut detector = BurstDetector::new();
        assert!(detector.push(&vec![0; 48_000], 1, 0).is_empty());
        let bed: Vec<i16> = (0..48_000)
            .map(|i| (800.0 * (TAU * 440.0 * i as f64 / 48_000.0).sin()) as i16)
            .collect();
        assert!(detector.push(&bed, 1, 1_000_000).is_empty());
    }
}
