//! Synthetic microphone with latency marks, and the detector that reads them back.
//!
//! [`ToneSource`] plays a quiet 440 Hz bed and, at every wall-clock multiple of 500 ms, a
//! 60 ms 1 kHz burst followed by a 60 ms *code* tone whose pitch says which of 24 slots the
//! burst is in (slot = the multiple's index mod 24, pitch = 1.5 kHz + 100 Hz × slot). Every
//! tone is a function of absolute time, so the sender needs no state and the receiver knows
//! when each burst was captured without a side channel: latency = onset playout time − the
//! latest multiple of 500 ms in that slot. The marks repeat every 12 s, so a delay of 520 ms
//! reads as 520 ms, not 20.

use std::collections::VecDeque;
use std::f64::consts::TAU;

use super::{AudioFrame, AudioSource, FRAME_SAMPLES, SAMPLE_RATE};

/// Bursts start at every multiple of this many microseconds of wall-clock time.
pub const BURST_PERIOD_US: u64 = 500_000;
/// Length of each burst.
pub const BURST_LEN_US: u64 = 60_000;
const BURST_HZ: f64 = 1000.0;
/// Bursts are numbered modulo this; the marks are unambiguous for this many periods (12 s).
pub const MARK_SLOTS: u64 = 24;
const CODE_BASE_HZ: f64 = 1500.0;
const CODE_STEP_HZ: f64 = 100.0;
const CODE_AMPLITUDE: f64 = 8_000.0;
const BED_HZ: f64 = 440.0;
const BURST_AMPLITUDE: f64 = 12_000.0;
const BED_AMPLITUDE: f64 = 800.0;
const US_PER_SAMPLE: f64 = 1e6 / SAMPLE_RATE as f64;

/// Synthetic microphone: quiet 440 Hz bed plus a 60 ms 1 kHz burst and a 60 ms code tone
/// every 500 ms of wall time.
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
            let into = abs_us % BURST_PERIOD_US;
            if into < BURST_LEN_US {
                x += BURST_AMPLITUDE * (TAU * BURST_HZ * t).sin();
            } else if into < 2 * BURST_LEN_US {
                let slot = abs_us / BURST_PERIOD_US % MARK_SLOTS;
                x += CODE_AMPLITUDE * (TAU * code_hz(slot) * t).sin();
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

/// The code tone's pitch for a slot (a whole number of cycles per second, like the others).
fn code_hz(slot: u64) -> f64 {
    CODE_BASE_HZ + CODE_STEP_HZ * slot as f64
}

/// Goertzel window: 5 ms (five 1 kHz cycles, 2.8 bins away from the bed).
const WINDOW: usize = 240;
/// Hop between windows: 1 ms onset resolution.
const HOP: usize = 48;
/// Windows to wait after the first detection before locating the onset (burst fully in).
const SETTLE_WINDOWS: u64 = 12;
/// Lowest 1 kHz amplitude that counts as a burst whatever the bed (silence, DTX).
const MIN_BURST_AMPLITUDE: f64 = 1500.0;
/// Where the code tone is read, after the burst's onset (it sounds from 60 to 120 ms).
const CODE_FROM_US: f64 = 65_000.0;
const CODE_TO_US: f64 = 115_000.0;
/// A playout time this far from where the previous frame ended still counts as contiguous.
const MAX_WOBBLE_US: f64 = 30_000.0;
/// Decoded samples kept behind the current window, so the code can be read after its burst.
const KEEP: usize = SAMPLE_RATE as usize * 3 / 10;

#[derive(Debug, Clone, Copy)]
enum State {
    Idle,
    Pending {
        first: u64,
    },
    /// Onset found; waiting for the code tone to have been played.
    Coding {
        onset_us: f64,
    },
    Refractory {
        until_us: f64,
    },
}

/// A Hann-windowed Goertzel filter: the amplitude of one frequency in a block.
struct Tone {
    coeff: f64,
    hann: Vec<f64>,
    hann_sum: f64,
}

impl Tone {
    fn new(hz: f64, len: usize) -> Self {
        let hann: Vec<f64> = (0..len)
            .map(|n| 0.5 - 0.5 * (TAU * n as f64 / (len - 1) as f64).cos())
            .collect();
        Self {
            coeff: 2.0 * (TAU * hz / f64::from(SAMPLE_RATE)).cos(),
            hann_sum: hann.iter().sum(),
            hann,
        }
    }

    fn amplitude<'a>(&self, samples: impl Iterator<Item = &'a f64>) -> f64 {
        let (mut s1, mut s2) = (0.0, 0.0);
        for (x, w) in samples.zip(&self.hann) {
            let s = x * w + self.coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = s1 * s1 + s2 * s2 - self.coeff * s1 * s2;
        2.0 * power.max(0.0).sqrt() / self.hann_sum
    }
}

/// Finds the bursts of [`ToneSource`] in decoded audio and reports their latency.
pub struct BurstDetector {
    burst: Tone,
    /// One filter per slot's code pitch.
    codes: Vec<Tone>,
    /// Mono samples: up to [`KEEP`] already analysed, then the ones still to come.
    mono: VecDeque<f64>,
    /// Playout time of `mono[0]`.
    start_us: f64,
    /// Where in `mono` the next window starts.
    pos: usize,
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
        let code_len = ((CODE_TO_US - CODE_FROM_US) / US_PER_SAMPLE) as usize;
        Self {
            burst: Tone::new(BURST_HZ, WINDOW),
            codes: (0..MARK_SLOTS)
                .map(|slot| Tone::new(code_hz(slot), code_len))
                .collect(),
            mono: VecDeque::new(),
            start_us: 0.0,
            pos: 0,
            next_us: None,
            history: VecDeque::new(),
            index: 0,
            floor: 0.0,
            state: State::Idle,
        }
    }

    /// Feed decoded audio in playout order; `playout_us` is the wall time at which samples[0]
    /// is played. Returns, for each burst whose onset and code were heard, its latency in ms
    /// = onset playout time − the capture time the code names (−50 ms up to 12 s).
    pub fn push(&mut self, samples: &[i16], channels: u16, playout_us: u64) -> Vec<f64> {
        let ch = usize::from(channels.max(1));
        let playout = playout_us as f64;
        // The player's clock wobbles by a few ms between frames although the samples follow
        // on: keep them, and move the time base. A real gap or overlap starts afresh.
        let jump = self.next_us.map(|n| playout - n);
        if let Some(j) = jump.filter(|j| j.abs() <= MAX_WOBBLE_US) {
            self.start_us += j;
            for h in &mut self.history {
                h.1 += j;
            }
            if let State::Coding { onset_us } | State::Refractory { until_us: onset_us } =
                &mut self.state
            {
                *onset_us += j;
            }
        } else {
            self.mono.clear();
            self.pos = 0;
            self.history.clear();
            self.start_us = playout;
            if let State::Pending { .. } | State::Coding { .. } = self.state {
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
        while self.mono.len() - self.pos >= WINDOW {
            let amplitude = self.burst.amplitude(self.mono.range(self.pos..));
            let end_us = self.start_us + (self.pos + WINDOW) as f64 * US_PER_SAMPLE;
            if let Some(latency) = self.step(end_us, amplitude) {
                latencies.push(latency);
            }
            self.pos += HOP;
        }
        if self.pos > KEEP {
            let old = self.pos - KEEP;
            self.mono.drain(..old);
            self.pos = KEEP;
            self.start_us += old as f64 * US_PER_SAMPLE;
        }
        latencies
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
                let onset_us = self.locate_onset(first)?;
                self.state = State::Coding { onset_us };
                None
            }
            State::Coding { onset_us } if end_us >= onset_us + CODE_TO_US => {
                self.state = State::Refractory {
                    until_us: onset_us + 300_000.0,
                };
                let slot = self.read_code(onset_us)?;
                Some(latency_ms(onset_us, slot))
            }
            State::Pending { .. } | State::Coding { .. } => None,
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

    /// The slot the code tone after the burst at `onset_us` names: the loudest pitch, if it
    /// clearly stands out.
    fn read_code(&self, onset_us: f64) -> Option<u64> {
        let from = (onset_us + CODE_FROM_US - self.start_us) / US_PER_SAMPLE;
        if from < 0.0 {
            return None;
        }
        let from = from as usize;
        let mut levels: Vec<(f64, u64)> = (0..MARK_SLOTS)
            .map(|slot| {
                let tone = &self.codes[slot as usize];
                (tone.amplitude(self.mono.range(from..)), slot)
            })
            .collect();
        levels.sort_by(|a, b| b.0.total_cmp(&a.0));
        let ((best, slot), (second, _)) = (levels[0], levels[1]);
        (best > MIN_BURST_AMPLITUDE && best > 3.0 * second).then_some(slot)
    }
}

/// Onset time minus the latest burst capture time in `slot` that is not more than 50 ms after
/// the onset.
fn latency_ms(onset_us: f64, slot: u64) -> f64 {
    let period = BURST_PERIOD_US as f64;
    let k_onset = ((onset_us + 50_000.0) / period).floor() as u64;
    let back = (k_onset % MARK_SLOTS + MARK_SLOTS - slot) % MARK_SLOTS;
    let capture_us = (k_onset - back) as f64 * period;
    (onset_us - capture_us) / 1000.0
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
    fn short_and_long_delays_read_as_they_are() {
        // Up to 12 s: 520 ms used to read as 20 ms before the bursts carried their number.
        for offset in [0, 5_000, 449_000, 520_000, 999_000, 3_700_000, 11_900_000] {
            let mut detector = BurstDetector::new();
            let latencies = run(&mut detector, 1_000_000_000_000, 100, offset);
            assert!(latencies.len() >= 3, "{offset}: {latencies:?}");
            for l in latencies {
                assert!((l - offset as f64 / 1000.0).abs() <= 2.0, "{offset}: {l}");
            }
        }
    }

    #[test]
    fn a_wobbling_playout_clock_still_measures() {
        // The player stamps each 20 ms frame a few ms early or late (a thread woken late):
        // the samples still follow on, so every burst is still measured, to within the wobble.
        let mut detector = BurstDetector::new();
        let mut source = ToneSource::new(1);
        let start = 1_000_000_000_000;
        let mut got = Vec::new();
        for k in 0..150u64 {
            let capture = start + k * 20_000;
            let frame = source.next_frame(capture).expect("tone");
            let wobble = [0, 4_000, 9_000, 2_000][k as usize % 4];
            got.extend(detector.push(&frame.samples, 1, capture + 80_000 + wobble));
        }
        assert!(got.len() >= 5, "{got:?}");
        for l in got {
            assert!((78.0..=90.0).contains(&l), "{l}");
        }
    }

    #[test]
    fn a_burst_without_its_code_is_not_measured() {
        // Playout stops right after a burst: no code, so no guess.
        let mut detector = BurstDetector::new();
        let mut source = ToneSource::new(1);
        let start = 1_000_000_000_000;
        let mut got = Vec::new();
        for k in 0..29 {
            let capture = start + k * 20_000;
            let frame = source.next_frame(capture).expect("tone");
            // Frames 26.. (520 ms onwards, the second code tone) are never played.
            if k < 26 {
                got.extend(detector.push(&frame.samples, 1, capture + 7_000));
            }
        }
        assert!(got.is_empty(), "{got:?}");
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
