//! Person segmentation and the background effects on a scene whose mask is known.

use super::scene::{Scene, person_scene};
use super::segment::Segmenter;
use super::testsig::{Region, hf_energy, mean_luma};
use super::*;

const W: u32 = 1280;
const H: u32 = 720;

fn scene() -> Scene {
    person_scene(W, H).expect("the sample images")
}

fn with_background(background: Background) -> VideoChain {
    VideoChain::new(VideoEffects {
        background,
        ..VideoEffects::default()
    })
    .expect("the bundled segmentation model")
}

#[test]
fn segmentation_finds_the_person() {
    let s = scene();
    let mut seg = Segmenter::bundled().expect("the bundled model");
    let (mw, mh) = seg.mask_size();
    assert_eq!((mw, mh), (256, 144));
    let mask = seg.segment(&s.frame).to_vec();
    let (w, h) = (W as usize, H as usize);
    let (mut both, mut either) = (0usize, 0usize);
    for y in 0..h {
        for x in 0..w {
            let m = mask[(y * mh / h) * mw + x * mw / w] > 0.5;
            let p = s.person[y * w + x];
            both += usize::from(m && p);
            either += usize::from(m || p);
        }
    }
    let iou = both as f64 / either as f64;
    println!("IoU {iou:.3}");
    assert!(iou >= 0.85, "IoU {iou:.3}");
}

#[test]
fn blur_softens_the_background_and_keeps_the_person_sharp() {
    let s = scene();
    let mut chain = with_background(Background::Blur { level: 5 });
    let mut f = s.frame.clone();
    chain.process(&mut f);
    let ratio = |r| hf_energy(&f, &s.regions, r) / hf_energy(&s.frame, &s.regions, r);
    let (person, outside) = (ratio(Region::Person), ratio(Region::Outside));
    println!("high-frequency energy kept: person {person:.3}, background {outside:.3}");
    assert!(person >= 0.9, "person kept {person:.3}");
    assert!(outside <= 0.1, "background kept {outside:.3}");

    // A stronger level blurs more.
    let mut nine = with_background(Background::Blur { level: 9 });
    let mut g = s.frame.clone();
    nine.process(&mut g);
    let outside9 = hf_energy(&g, &s.regions, Region::Outside)
        / hf_energy(&s.frame, &s.regions, Region::Outside);
    assert!(
        outside9 < outside,
        "level 9 {outside9:.4} vs 5 {outside:.4}"
    );
}

/// The wall around her, up to `reach` pixels from her outline.
fn wall_near_her(s: &Scene, reach: usize) -> Vec<bool> {
    let (w, h) = (W as usize, H as usize);
    let person: Vec<f32> = s.person.iter().map(|&p| f32::from(u8::from(p))).collect();
    let (mut near, mut tmp) = (vec![0.0; w * h], vec![0.0; w * h]);
    let mut acc = vec![0.0; super::boxfilter::scratch_len(w, h)];
    super::boxfilter::box_mean(&person, &mut near, (&mut tmp, &mut acc), w, h, reach);
    near.iter()
        .zip(&s.person)
        .map(|(&n, &p)| !p && n > 0.0)
        .collect()
}

#[test]
fn the_blurred_wall_does_not_glow_with_her_colours() {
    // Her white suit must not bleed into the blurred wall beside her: the wall keeps its own
    // brightness within 40 px of her outline (the blur reaches about as far).
    let s = scene();
    let band = wall_near_her(&s, 40);
    let mean = |f: &VideoFrame| {
        let (sum, n) =
            f.y.iter()
                .zip(&band)
                .filter(|&(_, &b)| b)
                .fold((0.0, 0.0), |(s, n), (&y, _)| (s + f64::from(y), n + 1.0));
        sum / n
    };
    let mut chain = with_background(Background::Blur { level: 9 });
    let mut f = s.frame.clone();
    chain.process(&mut f);
    let (before, after) = (mean(&s.frame), mean(&f));
    println!("wall beside her: mean luma {before:.1} → {after:.1}");
    assert!((after - before).abs() <= 3.0, "{before:.1} → {after:.1}");
}

#[test]
fn a_picture_replaces_the_background() {
    let dir = std::env::temp_dir().join(format!("roomcast-bg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sea.png");
    // A 64×36 picture: blue with a white top row band (it must cover the frame, not tile).
    let (pw, ph) = (64u32, 36u32);
    let mut rgb = Vec::new();
    for y in 0..ph {
        for _ in 0..pw {
            rgb.extend_from_slice(if y < 2 {
                &[255, 255, 255]
            } else {
                &[20, 60, 200]
            });
        }
    }
    let mut png = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png, pw, ph);
        enc.set_color(png::ColorType::Rgb);
        enc.write_header().unwrap().write_image_data(&rgb).unwrap();
    }
    std::fs::write(&path, png).unwrap();

    let s = scene();
    let mut chain = with_background(Background::Image {
        path: path.to_string_lossy().into(),
    });
    let mut f = s.frame.clone();
    chain.process(&mut f);
    let blue = lut::rgb_to_yuv([20.0 / 255.0, 60.0 / 255.0, 200.0 / 255.0]);
    let (w, h) = (W as usize, H as usize);
    // Background well below the top band: the picture's blue.
    let (mut near, mut total) = (0, 0);
    for y in h / 10..h {
        for x in 0..w {
            if s.regions[y * w + x] == Region::Outside {
                total += 1;
                let c = (y / 2) * (w / 2) + x / 2;
                let d = (f32::from(f.y[y * w + x]) - blue[0]).abs()
                    + (f32::from(f.u[c]) - blue[1]).abs();
                near += usize::from(d < 8.0);
            }
        }
    }
    let share = near as f64 / total as f64;
    assert!(share > 0.95, "{share:.3} of the background is the picture");
    let person_before = mean_luma(&s.frame, &s.regions, Region::Person);
    let person_after = mean_luma(&f, &s.regions, Region::Person);
    assert!(
        (person_before - person_after).abs() < 3.0,
        "person luma {person_before:.1} → {person_after:.1}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_damaged_model_is_an_error_not_a_crash() {
    let model = segment::bundled_model().expect("the bundled model");
    assert!(Segmenter::from_tflite(b"not a model").is_err());
    assert!(Segmenter::from_tflite(&model[..model.len() / 2]).is_err());
    // Flip bytes all over the file: every result is Ok or a clear error, and whatever loads
    // runs without panicking.
    let frame = VideoFrame::black(64, 36);
    for i in 0..40usize {
        let mut bad = model.to_vec();
        let at = (i * 7919 * 31) % bad.len();
        bad[at] ^= 0x5a;
        if let Ok(mut seg) = Segmenter::from_tflite(&bad) {
            seg.segment(&frame);
        }
    }
}

#[test]
fn beauty_smooths_her_skin() {
    // The app e2e measures beauty on this scene's skin; here is what the chain alone does.
    let s = person_scene(640, 360).expect("the sample images");
    let mut chain = VideoChain::new(VideoEffects {
        smoothness: 9,
        ..VideoEffects::default()
    })
    .unwrap();
    let mut f = s.frame.clone();
    chain.process(&mut f);
    let ratio = |r| hf_energy(&f, &s.regions, r) / hf_energy(&s.frame, &s.regions, r);
    let (skin, wall) = (ratio(Region::Skin), ratio(Region::Outside));
    println!("texture kept: skin {skin:.3}, wall {wall:.3}");
    assert!(skin < 0.5, "skin kept {skin:.3}");
    assert!(wall > 0.8, "wall kept {wall:.3}");
}
