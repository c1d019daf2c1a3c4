//! Video processing cost per 1280×720 frame: beauty, colour filter, person segmentation and
//! background blur, the whole chain, and the chain with the H.264 encoder. Writes the "Video processing" section of
//! docs/BENCHMARKS.md. Run: `cargo bench -p roomcast-engine --features testsig --bench video`.

use std::time::Instant;

use roomcast_engine::codec::{EncoderConfig, H264Encoder};
use roomcast_engine::media::VideoFrame;
use roomcast_engine::percentile;
use roomcast_engine::video::scene::person_scene;
use roomcast_engine::video::segment::Segmenter;
use roomcast_engine::video::testsig::portrait;
use roomcast_engine::video::{Background, BeautyStyle, VideoChain, VideoEffects};

const MARK: &str = "<!-- written by cargo bench -p roomcast-engine --bench video -->";
const FRAMES: usize = 150;

fn time(mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..10 {
        f();
    }
    let mut ms = Vec::with_capacity(FRAMES);
    for _ in 0..FRAMES {
        let t = Instant::now();
        f();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    (mean, percentile(&ms, 95.0).unwrap_or(0.0))
}

/// The chain's cost on `src`, restored before every frame.
fn time_chain(chain: &mut VideoChain, src: &VideoFrame) -> (f64, f64) {
    let mut frame = src.clone();
    time(|| {
        frame.y.copy_from_slice(&src.y);
        frame.u.copy_from_slice(&src.u);
        frame.v.copy_from_slice(&src.v);
        chain.process(&mut frame);
    })
}

fn main() {
    let p = portrait(1280, 720);
    let person = person_scene(1280, 720).expect("sample images (scripts/install-test-deps)");
    let beauty = VideoEffects {
        beauty_style: BeautyStyle::Smooth,
        smoothness: 6,
        whiteness: 4,
        ruddiness: 3,
        sharpen: true,
        ..VideoEffects::default()
    };
    let lut = VideoEffects {
        filter: Some("vivid".into()),
        filter_strength: 0.8,
        ..VideoEffects::default()
    };
    let blur = VideoEffects {
        background: Background::Blur { level: 5 },
        ..VideoEffects::default()
    };
    let all = VideoEffects {
        filter: lut.filter.clone(),
        mirror_encoded: true,
        background: blur.background.clone(),
        ..beauty.clone()
    };
    let mut rows = Vec::new();
    for (name, effects, target) in [
        (
            "beauty (smooth 6, whiten 4, ruddy 3, sharpen)",
            beauty,
            "≤ 6 ms",
        ),
        ("colour filter (vivid, 0.8)", lut, "≤ 2 ms"),
    ] {
        let mut chain = VideoChain::new(effects).expect("effects");
        let (mean, p95) = time_chain(&mut chain, &p.frame);
        eprintln!("{name}: {mean:.2} ms (p95 {p95:.2})");
        rows.push(format!("| {name} | {mean:.2} | {p95:.2} | {target} |"));
    }
    let mut seg = Segmenter::bundled().expect("the bundled model");
    seg.set_every(1);
    let (mean, p95) = time(|| {
        seg.segment(&person.frame);
    });
    eprintln!("segmentation model: {mean:.2} ms (p95 {p95:.2})");
    rows.push(format!(
        "| person segmentation, one model run (256×144 input) | {mean:.2} | {p95:.2} | |"
    ));
    for (name, effects, target) in [
        (
            "background blur 5 (model every other frame + blur + blend)",
            blur,
            "≤ 15 ms",
        ),
        (
            "whole chain (beauty + blur + filter + mirror)",
            all.clone(),
            "",
        ),
    ] {
        let mut chain = VideoChain::new(effects).expect("effects");
        let (mean, p95) = time_chain(&mut chain, &person.frame);
        eprintln!("{name}: {mean:.2} ms (p95 {p95:.2})");
        rows.push(format!("| {name} | {mean:.2} | {p95:.2} | {target} |"));
    }
    let mut chain = VideoChain::new(all).expect("effects");
    let mut enc = H264Encoder::new(EncoderConfig {
        width: 1280,
        height: 720,
        fps: 30,
        bitrate_bps: 1_500_000,
    })
    .expect("encoder");
    let mut frame = person.frame.clone();
    let mut n = 0;
    let (mean, p95) = time(|| {
        frame.y.copy_from_slice(&person.frame.y);
        frame.u.copy_from_slice(&person.frame.u);
        frame.v.copy_from_slice(&person.frame.v);
        chain.process(&mut frame);
        enc.encode(&frame, n == 0).expect("encode");
        n += 1;
    });
    eprintln!("chain + encode: {mean:.2} ms (p95 {p95:.2})");
    rows.push(format!(
        "| whole chain + H.264 encode (1.5 Mbit/s) | {mean:.2} | {p95:.2} | ≤ 33 ms (30 fps) |"
    ));

    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let section = format!(
        "{MARK}\n## Video processing (1280×720, {cores} cores, rayon)\n\n\
         Per frame, {FRAMES} frames after 10 warm-up frames, release build. Beauty and the \
         filter run on the synthetic portrait; segmentation, blur and the whole chain on the \
         person scene (scikit-image's astronaut over its brick wall, see \
         `video::scene`).\n\n\
         | stage | mean ms | p95 ms | target |\n|---|---|---|---|\n{}\n",
        rows.join("\n")
    );
    roomcast_engine::write_bench_section(MARK, &section);
    println!("{section}");
}
