//! A synthetic portrait with known regions, for the beauty tests and benchmarks: a face with
//! pore-like texture, two eyes, a hair cap with strands and a textured background. No photo
//! of a face ships in a package we can use, and a made one lets the tests know exactly which
//! pixel is skin.

use crate::media::VideoFrame;

/// What a pixel of [`portrait`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// Inside the face, away from the eyes and the face's outline.
    Skin,
    /// Around an eye's outline (an edge that must survive smoothing).
    EyeEdge,
    /// Background and hair, away from the face.
    Outside,
    /// Inside a person, away from the outline ([`super::scene`]).
    Person,
    /// Near an outline: not measured.
    Other,
}

pub struct Portrait {
    pub frame: VideoFrame,
    pub regions: Vec<Region>,
}

/// Deterministic per-pixel noise in -1..1.
fn noise(x: usize, y: usize, seed: u32) -> f32 {
    let mut h = (x as u32).wrapping_mul(0x9E37_79B1) ^ (y as u32).wrapping_mul(0x85EB_CA77) ^ seed;
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    (h & 0xFFFF) as f32 / 32767.5 - 1.0
}

/// The studio-range YUV of an sRGB colour (BT.601).
fn yuv(r: f32, g: f32, b: f32) -> [f32; 3] {
    super::lut::rgb_to_yuv([r / 255.0, g / 255.0, b / 255.0])
}

/// A `w`×`h` portrait (even sizes).
pub fn portrait(w: u32, h: u32) -> Portrait {
    let (wu, hu) = (w as usize, h as usize);
    let (wf, hf) = (w as f32, h as f32);
    // Face ellipse, eyes, hair cap (in pixels).
    let (fx, fy, frx, fry) = (wf * 0.5, hf * 0.55, hf * 0.26, hf * 0.36);
    let eyes = [
        (fx - frx * 0.4, fy - fry * 0.15),
        (fx + frx * 0.4, fy - fry * 0.15),
    ];
    let (erx, ery) = (frx * 0.2, fry * 0.08);
    let ell = |x: f32, y: f32, cx: f32, cy: f32, rx: f32, ry: f32| {
        ((x - cx) / rx).powi(2) + ((y - cy) / ry).powi(2)
    };
    let skin = yuv(224.0, 172.0, 140.0);
    let bg = [yuv(70.0, 110.0, 170.0), yuv(140.0, 170.0, 215.0)];
    let mut f = VideoFrame::black(w, h);
    let mut regions = vec![Region::Other; wu * hu];
    let mut chroma = vec![[0f32; 2]; wu * hu];
    for y in 0..hu {
        for x in 0..wu {
            let (xf, yf) = (x as f32 + 0.5, y as f32 + 0.5);
            let face = ell(xf, yf, fx, fy, frx, fry);
            let eye = eyes
                .iter()
                .map(|&(cx, cy)| ell(xf, yf, cx, cy, erx, ery))
                .fold(f32::MAX, f32::min);
            let hair =
                yf < fy - fry * 0.55 && ell(xf, yf, fx, fy - fry * 0.2, frx * 1.2, fry * 1.0) < 1.0;
            let (luma, c) = if hair {
                let strand = if (x / 2) % 2 == 0 { 28.0 } else { 62.0 };
                (strand, [128.0, 131.0])
            } else if face < 1.0 && eye < 1.0 {
                (38.0, [128.0, 128.0])
            } else if face < 1.0 {
                // Pores: fine noise plus a coarser blotch, about ±12 in luma.
                let t = 8.0 * noise(x, y, 1) + 5.0 * noise(x / 3, y / 3, 2);
                (skin[0] + t, [skin[1], skin[2]])
            } else {
                let check = ((x / 8) + (y / 8)) % 2;
                let c = bg[check];
                (c[0] + 3.0 * noise(x, y, 3), [c[1], c[2]])
            };
            f.y[y * wu + x] = luma.round().clamp(0.0, 255.0) as u8;
            chroma[y * wu + x] = c;
            regions[y * wu + x] = if hair {
                if face > 1.3 {
                    Region::Outside
                } else {
                    Region::Other
                }
            } else if (0.55..1.6).contains(&eye) {
                if !(0.75..=1.35).contains(&eye) {
                    Region::Other
                } else {
                    Region::EyeEdge
                }
            } else if face < 0.8 && eye >= 2.2 {
                Region::Skin
            } else if face > 1.3 {
                Region::Outside
            } else {
                Region::Other
            };
        }
    }
    let cw = wu / 2;
    for j in 0..hu / 2 {
        for i in 0..cw {
            let c = chroma[2 * j * wu + 2 * i];
            f.u[j * cw + i] = c[0].round() as u8;
            f.v[j * cw + i] = c[1].round() as u8;
        }
    }
    Portrait { frame: f, regions }
}

/// Σ of the squared 4-neighbour Laplacian of luma over `region` (high-frequency energy).
pub fn hf_energy(f: &VideoFrame, regions: &[Region], region: Region) -> f64 {
    measure(f, regions, region, |c, l, r, u, d| {
        let lap = 4.0 * c - l - r - u - d;
        lap * lap
    })
}

/// Σ of the squared luma gradient over `region` (edge energy).
pub fn edge_energy(f: &VideoFrame, regions: &[Region], region: Region) -> f64 {
    measure(f, regions, region, |c, l, _, u, _| {
        (c - l).powi(2) + (c - u).powi(2)
    })
}

/// Mean luma over `region`.
pub fn mean_luma(f: &VideoFrame, regions: &[Region], region: Region) -> f64 {
    let (sum, n) =
        f.y.iter()
            .zip(regions)
            .filter(|(_, r)| **r == region)
            .fold((0.0, 0usize), |(s, n), (y, _)| (s + f64::from(*y), n + 1));
    sum / n.max(1) as f64
}

fn measure(
    f: &VideoFrame,
    regions: &[Region],
    region: Region,
    at: impl Fn(f64, f64, f64, f64, f64) -> f64,
) -> f64 {
    let (w, h) = (f.width as usize, f.height as usize);
    let p = |x: usize, y: usize| f64::from(f.y[y * w + x]);
    let mut sum = 0.0;
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            if regions[y * w + x] == region {
                sum += at(p(x, y), p(x - 1, y), p(x + 1, y), p(x, y - 1), p(x, y + 1));
            }
        }
    }
    sum
}
