//! Voice changer presets matching TRTC's voice change types (child, uncle, robot, …).
//!
//! Every preset is one fixed chain — pitch shift, tone tilt, amplitude/ring modulation,
//! feedback comb, modulated delay (chorus/flanger/vibrato), echo, bit crush, soft clip — with
//! different settings, so adding or retuning a preset is a data change, not new DSP code.

use super::pitch::{DelayLine, PitchShifter};
use std::f32::consts::TAU;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VoiceChanger {
    #[default]
    Off,
    Child,
    LittleGirl,
    Uncle,
    HeavyMetal,
    Cold,
    Foreigner,
    TrappedBeast,
    Fatso,
    StrongCurrent,
    HeavyMachinery,
    Ethereal,
}

impl VoiceChanger {
    pub const ALL: [VoiceChanger; 12] = [
        Self::Off,
        Self::Child,
        Self::LittleGirl,
        Self::Uncle,
        Self::HeavyMetal,
        Self::Cold,
        Self::Foreigner,
        Self::TrappedBeast,
        Self::Fatso,
        Self::StrongCurrent,
        Self::HeavyMachinery,
        Self::Ethereal,
    ];

    /// Stable names for config files and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Child => "child",
            Self::LittleGirl => "little-girl",
            Self::Uncle => "uncle",
            Self::HeavyMetal => "heavy-metal",
            Self::Cold => "cold",
            Self::Foreigner => "foreigner",
            Self::TrappedBeast => "trapped-beast",
            Self::Fatso => "fatso",
            Self::StrongCurrent => "strong-current",
            Self::HeavyMachinery => "heavy-machinery",
            Self::Ethereal => "ethereal",
        }
    }

    #[rustfmt::skip]
    fn recipe(self) -> Recipe {
        let n = NEUTRAL;
        match self {
            Self::Off => n,
            // Formants move up with the pitch, which is what makes these sound young; the
            // treble lift adds the thinner timbre of a small vocal tract.
            Self::Child => Recipe { semitones: 8.0, tone: (2500.0, 0.6), ..n },
            Self::LittleGirl => Recipe { semitones: 7.0, tone: (1800.0, 1.2), gain: 0.9, ..n },
            Self::Uncle => Recipe { semitones: -3.0, tone: (3000.0, -0.3), ..n },
            Self::Fatso => Recipe { semitones: -5.0, tone: (900.0, -1.0), gain: 1.4, ..n },
            // A short resonant comb plus a touch of ring modulation gives the clangy timbre
            // while leaving the fundamental where it was.
            Self::HeavyMetal => Recipe { comb: (1.1, 0.75, 0.7), am: (600.0, 0.3), ..n },
            Self::Cold => Recipe {
                semitones: -1.0, tone: (3500.0, -0.4), sweep: (2.5, 1.5, 0.3, 0.6, 0.5), ..n
            },
            // Sinusoidal delay modulation is a vibrato: a peak delay swing of ~1.9 ms at 5 Hz
            // bends the pitch ±1 semitone, with no grains at all.
            Self::Foreigner => Recipe {
                sweep: (2.5, 1.9, 5.0, 0.0, 1.0), tone: (1500.0, 0.3), ..n
            },
            // Growl = saturation (harmonic grit that keeps the period) plus a shallow 40 Hz
            // flutter; deeper modulation blurs the lowered pitch into noise.
            Self::TrappedBeast => Recipe {
                semitones: -7.0, drive: 3.0, am: (40.0, 0.3), tone: (2500.0, -0.5), gain: 0.9, ..n
            },
            Self::StrongCurrent => Recipe { am: (70.0, 0.7), crush: (12.0, 3), ..n },
            // Full ring modulation makes the partials inharmonic (robotic); the comb tuned to
            // the carrier adds a steady 120 Hz buzz that masks the speaker's own intonation.
            Self::HeavyMachinery => Recipe {
                am: (120.0, 1.0), comb: (1000.0 / 120.0, 0.6, 0.6), gain: 1.3, ..n
            },
            Self::Ethereal => Recipe {
                semitones: 2.0, sweep: (15.0, 3.0, 0.8, 0.0, 0.4), echo: (180.0, 0.45, 0.35),
                gain: 0.8, ..n
            },
        }
    }
}

impl fmt::Display for VoiceChanger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for VoiceChanger {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        super::parse_named(s, &Self::ALL, Self::name, "voice changer")
    }
}

/// Settings of the shared effect chain; a zero amount or mix disables a stage.
#[derive(Clone, Copy)]
struct Recipe {
    semitones: f32,
    /// (corner Hz, amount): `y = x + amount * (x - lowpass(x))`; > 0 brightens, -1 muffles.
    tone: (f32, f32),
    /// tanh saturation amount, normalized so full scale still maps to full scale.
    drive: f32,
    /// (Hz, depth): `y = x * (1 - depth + depth * sin)`; depth 1 is ring modulation.
    am: (f32, f32),
    /// (delay ms, feedback, mix) of a short resonant feedback comb.
    comb: (f32, f32, f32),
    /// (delay ms, swing ms, rate Hz, feedback, mix) of a swept delay: chorus/flanger, or a
    /// vibrato at mix 1.0 (only the delayed path is heard, so its delay counts as latency).
    sweep: (f32, f32, f32, f32, f32),
    /// (delay ms, feedback, mix) of a long echo.
    echo: (f32, f32, f32),
    /// (quantizer levels, sample-and-hold length) of a bit crusher.
    crush: (f32, u32),
    gain: f32,
}

const NEUTRAL: Recipe = Recipe {
    semitones: 0.0,
    tone: (0.0, 0.0),
    drive: 0.0,
    am: (0.0, 0.0),
    comb: (0.0, 0.0, 0.0),
    sweep: (0.0, 0.0, 0.0, 0.0, 0.0),
    echo: (0.0, 0.0, 0.0),
    crush: (0.0, 1),
    gain: 1.0,
};

/// Buffer sizes cover the largest value any recipe uses, so switching never allocates.
const MAX_COMB_MS: f32 = 10.0;
const MAX_MOD_MS: f32 = 20.0;
const MAX_ECHO_MS: f32 = 200.0;
/// Presets are swapped while muted for this long each way, so a switch is a short dip
/// instead of a click from tearing down delay lines mid-signal.
const SWITCH_FADE_SECONDS: f32 = 0.005;

pub struct VoiceChangerProcessor {
    sr: f32,
    kind: VoiceChanger,
    pending: VoiceChanger,
    recipe: Recipe,
    fade: f32,
    fade_step: f32,
    shifter: PitchShifter,
    lp_coef: f32,
    lp: [f32; 2],
    am_phase: f32,
    comb: DelayLine,
    mod_line: DelayLine,
    mod_phase: f32,
    echo: DelayLine,
    held: f32,
    hold_count: u32,
}

impl VoiceChangerProcessor {
    pub fn new(sample_rate: u32) -> Self {
        let sr = sample_rate.max(1) as f32;
        let samples = |ms: f32| (ms * sr / 1000.0).ceil() as usize + 2;
        Self {
            sr,
            kind: VoiceChanger::Off,
            pending: VoiceChanger::Off,
            recipe: NEUTRAL,
            fade: 1.0,
            fade_step: 1.0 / (SWITCH_FADE_SECONDS * sr).max(1.0),
            shifter: PitchShifter::new(sample_rate),
            lp_coef: 0.0,
            lp: [0.0; 2],
            am_phase: 0.0,
            comb: DelayLine::new(samples(MAX_COMB_MS)),
            mod_line: DelayLine::new(samples(MAX_MOD_MS)),
            mod_phase: 0.0,
            echo: DelayLine::new(samples(MAX_ECHO_MS)),
            held: 0.0,
            hold_count: 0,
        }
    }

    pub fn set_type(&mut self, t: VoiceChanger) {
        self.pending = t;
    }

    pub fn voice_type(&self) -> VoiceChanger {
        self.pending
    }

    /// Delay added by the selected type (takes effect within a few ms of `set_type`).
    pub fn latency_samples(&self) -> usize {
        let r = self.pending.recipe();
        let shift = if r.semitones != 0.0 {
            self.shifter.shifting_latency_samples()
        } else {
            0
        };
        let vibrato = if r.sweep.4 >= 1.0 {
            (r.sweep.0 * self.sr / 1000.0).round() as usize
        } else {
            0
        };
        shift + vibrato
    }

    pub fn process(&mut self, frame: &mut [f32]) {
        let mut start = 0;
        while start < frame.len() {
            if self.pending != self.kind && self.fade <= 0.0 {
                self.apply_pending();
            }
            let n = super::until_switch(
                self.pending != self.kind,
                self.fade / self.fade_step,
                frame.len() - start,
            );
            self.process_chunk(&mut frame[start..start + n]);
            start += n;
        }
    }

    fn apply_pending(&mut self) {
        self.kind = self.pending;
        let r = self.kind.recipe();
        self.recipe = r;
        self.shifter.set_ratio(2f32.powf(r.semitones / 12.0));
        self.lp_coef = 1.0 - (-TAU * r.tone.0 / self.sr).exp();
        self.lp = [0.0; 2];
        self.am_phase = 0.0;
        self.mod_phase = 0.0;
        self.comb.clear();
        self.mod_line.clear();
        self.echo.clear();
        self.held = 0.0;
        self.hold_count = 0;
    }

    fn process_chunk(&mut self, chunk: &mut [f32]) {
        self.shifter.process(chunk);
        let target = if self.pending == self.kind { 1.0 } else { 0.0 };
        if self.kind == VoiceChanger::Off {
            if self.fade == 1.0 && target == 1.0 {
                return;
            }
            for s in chunk.iter_mut() {
                self.step_fade(target);
                *s *= self.fade;
            }
            return;
        }
        for s in chunk.iter_mut() {
            let y = self.effects(*s);
            self.step_fade(target);
            *s = soft_clip(y) * self.fade;
        }
    }

    fn step_fade(&mut self, target: f32) {
        self.fade = if target > self.fade {
            (self.fade + self.fade_step).min(target)
        } else {
            (self.fade - self.fade_step).max(target)
        };
    }

    fn effects(&mut self, mut x: f32) -> f32 {
        let r = self.recipe;
        let ms = self.sr / 1000.0;
        if r.tone.1 != 0.0 {
            self.lp[0] += self.lp_coef * (x - self.lp[0]);
            self.lp[1] += self.lp_coef * (self.lp[0] - self.lp[1]);
            x += r.tone.1 * (x - self.lp[1]);
        }
        if r.drive != 0.0 {
            x = (x * r.drive).tanh() / r.drive.tanh();
        }
        let (am_hz, depth) = r.am;
        if depth != 0.0 {
            x *= 1.0 - depth + depth * self.am_phase.sin();
            self.am_phase = (self.am_phase + TAU * am_hz / self.sr) % TAU;
        }
        let (delay_ms, fb, mix) = r.comb;
        if mix != 0.0 {
            let fed = x + fb * self.comb.read(delay_ms * ms - 1.0);
            self.comb.push(fed);
            // (1 - fb) brings the resonant peaks back to unity gain.
            x += mix * (fed * (1.0 - fb) - x);
        }
        let (delay_ms, swing_ms, rate_hz, fb, mix) = r.sweep;
        if mix != 0.0 {
            let delay = (delay_ms + swing_ms * self.mod_phase.sin()) * ms - 1.0;
            let tap = self.mod_line.read(delay.max(0.0));
            self.mod_line.push(x + fb * tap);
            self.mod_phase = (self.mod_phase + TAU * rate_hz / self.sr) % TAU;
            x += mix * (tap - x);
        }
        let (delay_ms, fb, mix) = r.echo;
        if mix != 0.0 {
            let tap = self.echo.read(delay_ms * ms - 1.0);
            self.echo.push(x + fb * tap);
            x += mix * tap;
        }
        let (levels, hold) = r.crush;
        if levels != 0.0 {
            if self.hold_count == 0 {
                self.held = (x * levels).round() / levels;
            }
            self.hold_count = (self.hold_count + 1) % hold.max(1);
            x = self.held;
        }
        x * r.gain
    }
}

/// Unity below 0.8 so normal speech is untouched; above, bends smoothly towards ±1.
fn soft_clip(x: f32) -> f32 {
    const KNEE: f32 = 0.8;
    let a = x.abs();
    if a <= KNEE {
        x
    } else {
        let bent = KNEE + (1.0 - KNEE) * ((a - KNEE) / (1.0 - KNEE)).tanh();
        bent.min(1.0).copysign(x)
    }
}

#[cfg(test)]
#[path = "tests/voice.rs"]
mod tests;
