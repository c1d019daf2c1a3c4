//! Reverb with TRTC's reverb types (KTV, small room, great hall, …).
//!
//! A mono Freeverb-style Schroeder/Moorer network: pre-delay, eight parallel comb filters
//! with a one-pole low-pass in their feedback (high frequencies die faster, like real air
//! and walls), then four series all-passes for diffusion. The dry signal is passed through
//! untouched and undelayed; only the wet path is added on top.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reverb {
    #[default]
    Off,
    Ktv,
    SmallRoom,
    GreatHall,
    Deep,
    Loud,
    Metallic,
    Magnetic,
}

impl Reverb {
    pub const ALL: [Reverb; 8] = [
        Self::Off,
        Self::Ktv,
        Self::SmallRoom,
        Self::GreatHall,
        Self::Deep,
        Self::Loud,
        Self::Metallic,
        Self::Magnetic,
    ];

    /// Stable names for config files and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Ktv => "ktv",
            Self::SmallRoom => "small-room",
            Self::GreatHall => "great-hall",
            Self::Deep => "deep",
            Self::Loud => "loud",
            Self::Metallic => "metallic",
            Self::Magnetic => "magnetic",
        }
    }

    fn params(self) -> Params {
        let p = |size, rt60, damping, wet, predelay_ms| Params {
            size,
            rt60,
            damping,
            wet,
            predelay_ms,
        };
        match self {
            Self::Off => p(1.0, 0.1, 0.5, 0.0, 0.0),
            // Karaoke: generous, slightly bright tail that flatters singing.
            Self::Ktv => p(0.9, 1.4, 0.3, 0.35, 15.0),
            Self::SmallRoom => p(0.45, 0.4, 0.45, 0.3, 4.0),
            // Large combs and a long pre-delay are what make a space sound big, not only RT60.
            Self::GreatHall => p(1.0, 2.8, 0.3, 0.35, 35.0),
            // Heavy damping leaves a dark, boomy tail.
            Self::Deep => p(1.0, 2.0, 0.75, 0.4, 20.0),
            Self::Loud => p(0.8, 1.1, 0.05, 0.5, 8.0),
            // Short combs with almost lossless feedback ring at audible pitches (~250-400 Hz),
            // like a metal tube or tank.
            Self::Metallic => p(0.12, 1.5, 0.0, 0.3, 0.0),
            // Close, warm and subtle: body for the voice more than an audible room.
            Self::Magnetic => p(0.6, 0.8, 0.6, 0.22, 10.0),
        }
    }
}

impl fmt::Display for Reverb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Reverb {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        super::parse_named(s, &Self::ALL, Self::name, "reverb")
    }
}

struct Params {
    /// Scale of the comb delay lengths (1.0 = Freeverb's room).
    size: f32,
    /// Seconds for the low-frequency tail to fall 60 dB; sets each comb's feedback.
    rt60: f32,
    /// 0..1, how much faster high frequencies decay than lows.
    damping: f32,
    wet: f32,
    predelay_ms: f32,
}

/// Freeverb's tunings at 44.1 kHz; mutually prime so the combs' echoes don't pile up.
const COMB_TUNING: [usize; 8] = [1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617];
const ALLPASS_TUNING: [usize; 4] = [556, 441, 341, 225];
const TUNING_RATE: f32 = 44_100.0;
const ALLPASS_FEEDBACK: f32 = 0.5;
/// Keeps the sum of eight resonant combs in a sensible range before the wet gain.
const INPUT_GAIN: f32 = 0.05;
const MAX_PREDELAY_MS: f32 = 50.0;
/// Wet fade used when switching types, so the old tail is not cut off with a click.
const SWITCH_FADE_SECONDS: f32 = 0.01;

struct Comb {
    buf: Vec<f32>,
    len: usize,
    pos: usize,
    feedback: f32,
    damping: f32,
    store: f32,
}

impl Comb {
    fn tick(&mut self, x: f32) -> f32 {
        let out = self.buf[self.pos];
        self.store = out * (1.0 - self.damping) + self.store * self.damping;
        self.buf[self.pos] = x + self.store * self.feedback;
        self.pos = (self.pos + 1) % self.len;
        out
    }
}

struct Allpass {
    buf: Vec<f32>,
    pos: usize,
}

impl Allpass {
    fn tick(&mut self, x: f32) -> f32 {
        let delayed = self.buf[self.pos];
        self.buf[self.pos] = x + delayed * ALLPASS_FEEDBACK;
        self.pos = (self.pos + 1) % self.buf.len();
        delayed - x
    }
}

pub struct ReverbProcessor {
    sr: f32,
    kind: Reverb,
    pending: Reverb,
    combs: [Comb; 8],
    allpasses: [Allpass; 4],
    predelay: Vec<f32>,
    predelay_len: usize,
    predelay_pos: usize,
    wet: f32,
    /// Fade applied to the wet path; 0 with `kind == Off` means fully bypassed and clean.
    fade: f32,
    fade_step: f32,
}

impl ReverbProcessor {
    pub fn new(sample_rate: u32) -> Self {
        let sr = sample_rate.max(1) as f32;
        let scale = |n: usize| ((n as f32 * sr / TUNING_RATE).round() as usize).max(1);
        let comb = |n| Comb {
            buf: vec![0.0; scale(n)],
            len: scale(n),
            pos: 0,
            feedback: 0.0,
            damping: 0.0,
            store: 0.0,
        };
        let allpass = |n| Allpass {
            buf: vec![0.0; scale(n)],
            pos: 0,
        };
        let mut r = Self {
            sr,
            kind: Reverb::Off,
            pending: Reverb::Off,
            combs: COMB_TUNING.map(comb),
            allpasses: ALLPASS_TUNING.map(allpass),
            predelay: vec![0.0; (MAX_PREDELAY_MS * sr / 1000.0) as usize + 1],
            predelay_len: 1,
            predelay_pos: 0,
            wet: 0.0,
            fade: 0.0,
            fade_step: 1.0 / (SWITCH_FADE_SECONDS * sr).max(1.0),
        };
        r.apply_pending();
        r
    }

    /// When nothing is ringing the new type starts at once; otherwise the old tail fades
    /// out over 10 ms first (the dry signal is never interrupted).
    pub fn set_type(&mut self, t: Reverb) {
        self.pending = t;
        if self.fade == 0.0 && self.kind == Reverb::Off {
            self.apply_pending();
        }
    }

    pub fn reverb_type(&self) -> Reverb {
        self.pending
    }

    pub fn process(&mut self, frame: &mut [f32]) {
        let mut start = 0;
        while start < frame.len() {
            if self.pending != self.kind && self.fade <= 0.0 {
                self.apply_pending();
            }
            if self.kind == Reverb::Off && self.fade <= 0.0 {
                return;
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

    /// Clears every tail and loads the new type's parameters. Only called while the wet
    /// path is silent, and never allocates (buffers are sized for the largest room).
    fn apply_pending(&mut self) {
        self.kind = self.pending;
        let p = self.kind.params();
        for comb in &mut self.combs {
            comb.buf.fill(0.0);
            comb.len = ((comb.buf.len() as f32 * p.size).round() as usize).clamp(1, comb.buf.len());
            comb.pos = 0;
            comb.store = 0.0;
            comb.damping = p.damping.clamp(0.0, 0.95);
            // A loop of `len` samples repeats rt60*sr/len times while falling 60 dB.
            comb.feedback = 10f32.powf(-3.0 * comb.len as f32 / (p.rt60 * self.sr));
        }
        for ap in &mut self.allpasses {
            ap.buf.fill(0.0);
            ap.pos = 0;
        }
        self.predelay.fill(0.0);
        self.predelay_len =
            ((p.predelay_ms * self.sr / 1000.0) as usize).clamp(1, self.predelay.len());
        self.predelay_pos = 0;
        self.wet = p.wet;
        self.fade = if self.kind == Reverb::Off { 0.0 } else { 1.0 };
    }

    fn process_chunk(&mut self, chunk: &mut [f32]) {
        let target = if self.pending == self.kind && self.kind != Reverb::Off {
            1.0
        } else {
            0.0
        };
        for s in chunk.iter_mut() {
            let dry = *s;
            let delayed = self.predelay[self.predelay_pos];
            self.predelay[self.predelay_pos] = dry * INPUT_GAIN;
            self.predelay_pos = (self.predelay_pos + 1) % self.predelay_len;
            let mut wet: f32 = self.combs.iter_mut().map(|c| c.tick(delayed)).sum();
            for ap in &mut self.allpasses {
                wet = ap.tick(wet);
            }
            self.fade = if target > self.fade {
                (self.fade + self.fade_step).min(target)
            } else {
                (self.fade - self.fade_step).max(target)
            };
            *s = soft_clip(dry + wet * self.wet * self.fade);
        }
    }
}

/// Unity below 0.8 so ordinary levels pass unchanged; above, bends smoothly towards ±1.
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
#[path = "tests/reverb.rs"]
mod tests;
