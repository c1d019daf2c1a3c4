//! Pixel tests of the processors on the synthetic portrait (see `testsig`).

use super::testsig::{Region, edge_energy, hf_energy, mean_luma, portrait};
use super::*;

const W: u32 = 640;
const H: u32 = 360;

fn beauty(style: BeautyStyle, smoothness: u8) -> Beauty {
    Beauty::new(BeautyParams {
        style,
        smoothness,
        ..BeautyParams::default()
    })
}

#[test]
fn smoothing_lowers_skin_texture_with_each_level_and_keeps_edges_outside_skin() {
    let p = portrait(W, H);
    let hf0 = hf_energy(&p.frame, &p.regions, Region::Skin);
    let eye0 = edge_energy(&p.frame, &p.regions, Region::EyeEdge);
    let out0 = edge_energy(&p.frame, &p.regions, Region::Outside);
    let mut last = 1.0;
    for level in 1..=9 {
        for style in [BeautyStyle::Smooth, BeautyStyle::Natural] {
            let mut f = p.frame.clone();
            beauty(style, level).process(&mut f);
            let hf = hf_energy(&f, &p.regions, Region::Skin) / hf0;
            let eye = edge_energy(&f, &p.regions, Region::EyeEdge) / eye0;
            let out = edge_energy(&f, &p.regions, Region::Outside) / out0;
            println!(
                "{style:?} {level}: skin HF {hf:.3}, eye edges {eye:.3}, outside edges {out:.3}"
            );
            assert!(eye >= 0.8, "{style:?} {level}: eye edges kept {eye:.3}");
            assert!(out >= 0.8, "{style:?} {level}: outside edges kept {out:.3}");
            if style == BeautyStyle::Smooth {
                assert!(
                    hf < last,
                    "level {level} smooths no more than the one below: {hf:.3}"
                );
                last = hf;
            }
        }
    }
    assert!(last < 0.2, "level 9 leaves {last:.3} of the skin texture");
}

#[test]
fn natural_keeps_more_texture_than_smooth() {
    let p = portrait(W, H);
    let hf = |style| {
        let mut f = p.frame.clone();
        beauty(style, 6).process(&mut f);
        hf_energy(&f, &p.regions, Region::Skin)
    };
    assert!(hf(BeautyStyle::Natural) > 1.3 * hf(BeautyStyle::Smooth));
}

#[test]
fn whitening_raises_skin_luma_monotonically_and_leaves_the_background() {
    let p = portrait(W, H);
    let mut last = mean_luma(&p.frame, &p.regions, Region::Skin);
    let bg0 = mean_luma(&p.frame, &p.regions, Region::Outside);
    for level in 1..=9 {
        let mut f = p.frame.clone();
        Beauty::new(BeautyParams {
            whiteness: level,
            ..BeautyParams::default()
        })
        .process(&mut f);
        let skin = mean_luma(&f, &p.regions, Region::Skin);
        assert!(
            skin > last + 0.5,
            "level {level}: skin luma {skin:.1} after {last:.1}"
        );
        last = skin;
        let bg = mean_luma(&f, &p.regions, Region::Outside);
        assert!(
            (bg - bg0).abs() < 0.5,
            "background moved from {bg0:.1} to {bg:.1}"
        );
    }
}

#[test]
fn ruddiness_reddens_skin_only_and_sharpen_adds_edge_energy() {
    let p = portrait(W, H);
    let mut f = p.frame.clone();
    Beauty::new(BeautyParams {
        ruddiness: 9,
        sharpen: true,
        ..BeautyParams::default()
    })
    .process(&mut f);
    let cw = (W / 2) as usize;
    let at = |x: usize, y: usize| (y / 2) * cw + x / 2;
    let face = at(W as usize / 2, (H as f32 * 0.7) as usize);
    let corner = at(4, 4);
    assert!(
        f.v[face] >= p.frame.v[face] + 10,
        "skin Cr {} → {}",
        p.frame.v[face],
        f.v[face]
    );
    assert_eq!(f.v[corner], p.frame.v[corner]);
    let before = edge_energy(&p.frame, &p.regions, Region::Outside);
    assert!(edge_energy(&f, &p.regions, Region::Outside) > 1.2 * before);
}

#[test]
fn nothing_on_changes_nothing() {
    let p = portrait(W, H);
    let mut f = p.frame.clone();
    VideoChain::new(VideoEffects::default())
        .expect("defaults")
        .process(&mut f);
    assert_eq!((f.y, f.u, f.v), (p.frame.y, p.frame.u, p.frame.v));
}

fn png_bytes(w: u32, h: u32, rgb: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = png::Encoder::new(&mut out, w, h);
    e.set_color(png::ColorType::Rgb);
    e.write_header()
        .and_then(|mut wr| wr.write_image_data(rgb))
        .expect("encode png");
    out
}

/// An `n`-point LUT image of `f` in the strip layout (n²×n).
fn strip(n: usize, f: impl Fn([u8; 3]) -> [u8; 3]) -> Vec<u8> {
    let v = |i: usize| (i * 255 / (n - 1)) as u8;
    let mut rgb = Vec::new();
    for g in 0..n {
        for b in 0..n {
            for r in 0..n {
                rgb.extend(f([v(r), v(g), v(b)]));
            }
        }
    }
    png_bytes((n * n) as u32, n as u32, &rgb)
}

#[test]
fn lut_images_in_both_layouts_read_as_the_same_lut() {
    let square =
        Lut3d::from_png(include_bytes!("../../../../assets/looks/warm.png")).expect("square");
    assert_eq!(square.size(), 64);
    let inv = Lut3d::from_png(&strip(16, |c| c.map(|x| 255 - x))).expect("strip");
    let out = inv.sample([0.2, 0.5, 0.9]);
    assert!(
        out.iter()
            .zip([0.8, 0.5, 0.1])
            .all(|(a, b)| (a - b).abs() < 0.01),
        "{out:?}"
    );
    let e = Lut3d::from_png(&png_bytes(100, 50, &vec![0; 100 * 50 * 3])).expect_err("100×50");
    assert!(e.to_string().contains("100×50"), "{e}");
    assert!(Lut3d::from_png(b"not a png").is_err());
}

#[test]
fn identity_or_zero_strength_leaves_the_frame_and_strength_blends() {
    let p = portrait(W, H);
    let mut f = p.frame.clone();
    ColorFilter::new(&Lut3d::identity(17), 1.0).process(&mut f);
    let worst = |a: &[u8], b: &[u8]| a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max();
    let (wy, wu) = (worst(&f.y, &p.frame.y), worst(&f.u, &p.frame.u));
    assert!(
        wy <= Some(2) && wu <= Some(2),
        "identity moved luma {wy:?}, chroma {wu:?}"
    );
    let mono = look_lut("mono").expect("bundled");
    let mut zero = p.frame.clone();
    ColorFilter::new(&mono, 0.0).process(&mut zero);
    assert_eq!(zero.u, p.frame.u);
    let grey = |s: f32| {
        let mut f = p.frame.clone();
        ColorFilter::new(&mono, s).process(&mut f);
        f.u.iter()
            .chain(&f.v)
            .map(|c| f64::from(c.abs_diff(128)))
            .sum::<f64>()
    };
    let (full, half, none) = (grey(1.0), grey(0.5), grey(0.0));
    assert!(full < 0.1 * none, "mono leaves colour: {full} of {none}");
    assert!(
        (half / none - 0.5).abs() < 0.05,
        "half strength: {}",
        half / none
    );
}

#[test]
fn encoder_mirror_flips_and_chain_errors_keep_the_old_settings() {
    let p = portrait(W, H);
    let mut chain = VideoChain::new(VideoEffects {
        mirror_encoded: true,
        ..VideoEffects::default()
    })
    .expect("mirror");
    let mut f = p.frame.clone();
    chain.process(&mut f);
    let w = W as usize;
    assert_eq!(f.y[5 * w + 3], p.frame.y[5 * w + w - 4]);
    let bad = VideoEffects {
        filter: Some("/missing/lut.png".into()),
        ..VideoEffects::default()
    };
    assert!(chain.set_effects(bad).is_err());
    assert!(
        chain.effects().mirror_encoded,
        "a failed change keeps the old settings"
    );
    let picture = VideoEffects {
        background: Background::Image {
            path: "/missing/beach.png".into(),
        },
        ..VideoEffects::default()
    };
    let err = chain.set_effects(picture).expect_err("missing picture");
    assert!(matches!(err, VideoError::Picture { .. }), "{err}");
    assert!(err.to_string().contains("/missing/beach.png"), "{err}");
    let blur = |level| VideoEffects {
        background: Background::Blur { level },
        ..VideoEffects::default()
    };
    assert!(matches!(
        chain.set_effects(blur(12)),
        Err(VideoError::BlurLevel(12))
    ));
    chain
        .set_effects(blur(5))
        .expect("blur with the bundled model");
}
