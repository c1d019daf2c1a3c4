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
/// None when the tool is not installed (local runs only).
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
        let bytes: Vec<u8> = to_16k(x)
            .iter()
            .flat_map(|&s| ((s * 32768.0).clamp(-32768.0, 32767.0) as i16).to_le_bytes())
            .collect();
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write pcm");
        path
    };
    let (r, d) = (write("ref.s16", reference), write("deg.s16", degraded));
    let code = format!(
        "import numpy, pesq\nr = numpy.fromfile('{}', dtype='<i2').astype(numpy.float32)\nd = numpy.fromfile('{}', dtype='<i2').astype(numpy.float32)\nprint(pesq.pesq(16000, r, d, 'wb'))",
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
    Some(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("pesq prints a number"),
    )
}
