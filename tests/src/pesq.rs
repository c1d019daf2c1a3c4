//! PESQ (ITU-T P.862.2 wide-band) of received or processed speech, through the `pesq`
//! package in the venv that scripts/install-test-deps makes. Skipped locally without it;
//! under CI a missing package fails the test.

use std::process::Command;

/// The venv's python with `pesq`, if there is one.
pub fn python() -> Option<String> {
    let candidates = [
        std::env::var("ROOMCAST_PYTHON").ok(),
        Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/pyvenv/bin/python").to_string()),
    ];
    let found = candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .args(["-c", "import pesq, numpy"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    assert!(
        found.is_some() || std::env::var("CI").is_err(),
        "pesq missing under CI: scripts/install-test-deps must install it"
    );
    found
}

/// 48 kHz → 16 kHz: windowed-sinc low-pass at 7.2 kHz, then every third sample.
pub fn to_16k(x: &[f32]) -> Vec<f32> {
    const TAPS: usize = 97;
    let cutoff = 7_200.0 / 48_000.0;
    let h: Vec<f32> = (0..TAPS)
        .map(|i| {
            let n = i as f64 - (TAPS / 2) as f64;
            let sinc = if n == 0.0 {
                2.0 * cutoff
            } else {
                (std::f64::consts::TAU * cutoff * n).sin() / (std::f64::consts::PI * n)
            };
            let w = 0.54 - 0.46 * (std::f64::consts::TAU * i as f64 / (TAPS - 1) as f64).cos();
            (sinc * w) as f32
        })
        .collect();
    (0..x.len() / 3)
        .map(|k| {
            let c = 3 * k;
            h.iter()
                .enumerate()
                .map(|(i, &g)| {
                    let j = c as isize + i as isize - (TAPS / 2) as isize;
                    if j >= 0 && (j as usize) < x.len() {
                        g * x[j as usize]
                    } else {
                        0.0
                    }
                })
                .sum()
        })
        .collect()
}

/// PESQ-WB MOS-LQO of `degraded` against `reference` (both 48 kHz mono, time-aligned).
/// None when the tool is not installed (local runs only); 1.0 (the bottom of the scale)
/// when PESQ finds no speech in `degraded` to score.
pub fn pesq_wb(reference: &[f32], degraded: &[f32]) -> Option<f64> {
    let py = python()?;
    let dir = std::env::temp_dir().join(format!(
        "roomcast-pesq-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let write = |name: &str, x: &[f32]| {
        let x = to_16k(x);
        let mut pcm = vec![0i16; x.len()];
        roomcast_engine::audio::to_i16(&x, &mut pcm);
        let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write pcm");
        path
    };
    let (r, d) = (write("ref.s16", reference), write("deg.s16", degraded));
    let code = format!(
        "import numpy, pesq\nr = numpy.fromfile('{}', dtype='<i2').astype(numpy.float32)\nd = numpy.fromfile('{}', dtype='<i2').astype(numpy.float32)\ntry:\n    print(pesq.pesq(16000, r, d, 'wb'))\nexcept ValueError:\n    print('nan')",
        r.display(),
        d.display()
    );
    let out = Command::new(&py)
        .args(["-c", &code])
        .output()
        .expect("python runs");
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "pesq failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let score: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("pesq prints a number");
    // PESQ finds no speech to compare in silence (a call whose audio never came) and gives
    // up: that is the bottom of its scale.
    Some(if score.is_nan() { 1.0 } else { score })
}

/// How many samples `degraded` lags `reference` by (0..`max_lag`), from where their
/// envelopes (1 ms means of magnitude) correlate best, refined sample by sample.
pub fn lag(reference: &[f32], degraded: &[f32], max_lag: usize) -> usize {
    const STEP: usize = 48;
    let envelope = |x: &[f32]| -> Vec<f32> {
        x.chunks(STEP)
            .map(|c| c.iter().map(|s| s.abs()).sum::<f32>() / c.len() as f32)
            .collect()
    };
    let (r, d) = (envelope(reference), envelope(degraded));
    let score = |a: &[f32], b: &[f32], lag: usize| -> f64 {
        a.iter()
            .zip(b.iter().skip(lag))
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    };
    let coarse = (0..max_lag / STEP)
        .max_by(|&a, &b| score(&r, &d, a).total_cmp(&score(&r, &d, b)))
        .unwrap_or(0)
        * STEP;
    (coarse.saturating_sub(STEP)..coarse + STEP)
        .max_by(|&a, &b| score(reference, degraded, a).total_cmp(&score(reference, degraded, b)))
        .unwrap_or(coarse)
}

/// Where `degraded` lines up with `reference`: the offsets into each at which the same sound
/// starts, searched up to `max` samples either way. A recording lags its source when it
/// started before the source reached it, and leads it when the source had been playing for a
/// while before the first frame was heard (a slow call setup): [`lag`] alone sees only the
/// first.
pub fn align(reference: &[f32], degraded: &[f32], max: usize) -> (usize, usize) {
    let late = lag(reference, degraded, max);
    let early = lag(degraded, reference, max);
    let similarity = |r: &[f32], d: &[f32]| -> f64 {
        let (mut rd, mut rr, mut dd) = (0.0, 0.0, 0.0);
        for (x, y) in r.iter().zip(d) {
            let (x, y) = (f64::from(*x), f64::from(*y));
            (rd, rr, dd) = (rd + x * y, rr + x * x, dd + y * y);
        }
        rd / (rr * dd).sqrt().max(f64::MIN_POSITIVE)
    };
    fn tail(x: &[f32], from: usize) -> &[f32] {
        x.get(from..).unwrap_or(&[])
    }
    if similarity(reference, tail(degraded, late)) >= similarity(tail(reference, early), degraded) {
        (0, late)
    } else {
        (early, 0)
    }
}

/// Speech for `seconds` (espeak-ng's voice reading a text, again and again; 48 kHz through
/// sox, peak 0.5), or None where either tool is missing (under CI that fails:
/// scripts/install-test-deps installs both).
pub fn speech(seconds: f64) -> Option<Vec<f32>> {
    const TEXT: &str = "The quick brown fox jumps over the lazy dog. Roomcast carries your \
        voice across a weak network, and every word should arrive. Seven slim swans sail \
        softly south while the orchestra tunes its violins.";
    let dir = std::env::temp_dir().join(format!("roomcast-speech-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let (raw, wav) = (dir.join("raw.wav"), dir.join("48k.wav"));
    let ran = |cmd: &mut Command| cmd.output().is_ok_and(|o| o.status.success());
    let made = ran(Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "160", "-w"])
        .arg(&raw)
        .arg(TEXT))
        && ran(Command::new("sox")
            .arg(&raw)
            .args(["-r", "48000", "-c", "1", "-b", "16"])
            .arg(&wav));
    assert!(
        made || std::env::var("CI").is_err(),
        "espeak-ng or sox missing under CI: scripts/install-test-deps must install them"
    );
    let once = made
        .then(|| roomcast_engine::media::read_wav_mono(&wav).ok())
        .flatten();
    std::fs::remove_dir_all(&dir).ok();
    let once = once?;
    let peak = once
        .iter()
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap_or(1)
        .max(1);
    let gain = 0.5 / f32::from(peak);
    let n = (seconds * 48_000.0) as usize;
    Some(
        once.iter()
            .cycle()
            .take(n)
            .map(|&s| f32::from(s) * gain)
            .collect(),
    )
}

/// `speech` through Opus alone (encoded and decoded in 20 ms frames at `bitrate_bps`, no
/// network): what the codec leaves of it.
pub fn opus_alone(speech: &[f32], bitrate_bps: u32) -> Vec<f32> {
    use roomcast_engine::audio::{to_f32, to_i16};
    use roomcast_engine::codec::{AudioProfile, OpusDecoder, OpusEncoder};
    let mut enc = OpusEncoder::new(1, AudioProfile::Default).expect("an Opus encoder");
    enc.set_bitrate(bitrate_bps).expect("a bitrate");
    let mut dec = OpusDecoder::new(1).expect("an Opus decoder");
    let mut out = Vec::with_capacity(speech.len());
    let mut pcm = vec![0i16; 960];
    for c in speech.chunks_exact(960) {
        to_i16(c, &mut pcm);
        let packet = enc.encode(&pcm).expect("Opus encodes");
        let decoded = dec.decode(&packet).expect("Opus decodes");
        let mut heard = vec![0.0; decoded.len()];
        to_f32(&decoded, &mut heard);
        out.extend(heard);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_finds_a_recording_that_lags_or_leads_its_source() {
        // Bursts of noise of different lengths, like words.
        let mut rng = 7u32;
        let source: Vec<f32> = (0..48_000 * 3)
            .map(|i| {
                rng = rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (rng >> 16) as f32 / 65_536.0 - 0.5;
                if (i / 4_000) % 3 == 0 || i % 11_000 < 2_500 {
                    noise
                } else {
                    0.0
                }
            })
            .collect();
        let late: Vec<f32> = vec![0.0; 5_000].into_iter().chain(source.clone()).collect();
        let early = source[7_000..].to_vec();
        assert_eq!(align(&source, &late, 24_000), (0, 5_000));
        assert_eq!(align(&source, &early, 24_000), (7_000, 0));
    }
}
