//! Beauty (TRTC `TXBeautyManager`): edge-preserving smoothing restricted to skin, whitening as
//! a tone curve, ruddiness in the skin's chroma, and sharpening.
//!
//! - Skin is found from chroma (the classic Cb/Cr skin box, with soft edges) and gated on luma
//!   so that dark hair and eyebrows, whose chroma is often "skin", stay out. The mask lives at
//!   chroma resolution and is slightly blurred so its border does not show.
//! - Smoothing is a *fast guided filter* (He & Sun 2015) of the luma guided by itself: the
//!   linear coefficients `a`, `b` are found at chroma resolution and applied to every
//!   full-resolution pixel. Where the local variance is small next to `eps` (pores, blemishes)
//!   the output is the local mean; where it is large (eyes, lips, the jaw line) `a` ≈ 1 and the
//!   edge stays. `eps` grows with the level.
//! - Whitening lifts mid-tones with a log curve, weighted by the mask; ruddiness adds red
//!   (Cr) and takes a little blue (Cb) in the mask.
//! - Sharpening is an unsharp mask on luma over the whole picture.
//!
//! Every pass is split into row bands across the cores (rayon); buffers are kept between
//! frames and only reallocated when the frame size changes.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::boxfilter::{box_mean, scratch_len};
use super::{VideoProcessor, to_u8};
use crate::media::VideoFrame;

/// TRTC's beauty styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BeautyStyle {
    /// Strong smoothing ("光滑").
    #[default]
    Smooth,
    /// Keeps more skin texture ("自然").
    Natural,
}

impl std::str::FromStr for BeautyStyle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "smooth" => Ok(Self::Smooth),
            "natural" => Ok(Self::Natural),
            other => Err(format!("beauty style {other:?}: use smooth or natural")),
        }
    }
}

/// Levels 0..=9 each (0 = off), as TRTC's `setBeautyLevel` / `setWhitenessLevel` /
/// `setRuddyLevel`; values above 9 are taken as 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BeautyParams {
    pub style: BeautyStyle,
    pub smoothness: u8,
    pub whiteness: u8,
    pub ruddiness: u8,
    pub sharpen: bool,
}

impl BeautyParams {
    pub fn is_off(&self) -> bool {
        self.smoothness == 0 && self.whiteness == 0 && self.ruddiness == 0 && !self.sharpen
    }
}

/// The beauty processor; see the module docs.
#[derive(Default)]
pub struct Beauty {
    params: BeautyParams,
    /// Whitening tone curve for the current level.
    curve: Vec<f32>,
    size: (usize, usize),
    // Chroma-resolution planes.
    lo: Vec<f32>,
    sq: Vec<f32>,
    mean: Vec<f32>,
    mean_sq: Vec<f32>,
    tmp: Vec<f32>,
    /// The box filter's running sums (one row per band).
    acc: Vec<f32>,
    mask: Vec<f32>,
    // Full-resolution luma copy for sharpening.
    luma: Vec<u8>,
}

impl Beauty {
    pub fn new(params: BeautyParams) -> Self {
        let mut b = Self::default();
        b.set_params(params);
        b
    }

    pub fn params(&self) -> BeautyParams {
        self.params
    }

    pub fn set_params(&mut self, p: BeautyParams) {
        let clamp = |v: u8| v.min(9);
        self.params = BeautyParams {
            smoothness: clamp(p.smoothness),
            whiteness: clamp(p.whiteness),
            ruddiness: clamp(p.ruddiness),
            ..p
        };
        let beta = 1.0 + 0.55 * f32::from(self.params.whiteness);
        self.curve = (0..256)
            .map(|y| {
                if self.params.whiteness == 0 {
                    return y as f32;
                }
                let t = (y as f32 - 16.0).max(0.0) / 219.0;
                16.0 + 219.0 * (1.0 + (beta - 1.0) * t).ln() / beta.ln()
            })
            .collect();
    }

    fn ensure(&mut self, cw: usize, ch: usize, luma: usize) {
        if self.size == (cw, ch) {
            return;
        }
        self.size = (cw, ch);
        for plane in [
            &mut self.lo,
            &mut self.sq,
            &mut self.mean,
            &mut self.mean_sq,
            &mut self.tmp,
            &mut self.mask,
        ] {
            *plane = vec![0.0; cw * ch];
        }
        self.luma = vec![0; luma];
        self.acc = vec![0.0; scratch_len(cw, ch)];
    }

    /// Luma averaged to chroma resolution, and the skin mask (0..1) from it and the chroma.
    fn skin_mask(&mut self, f: &VideoFrame, cw: usize) {
        let w = f.width as usize;
        self.lo
            .par_chunks_mut(cw)
            .zip(self.tmp.par_chunks_mut(cw))
            .enumerate()
            .for_each(|(j, (lo, m))| {
                let row = |y: usize| &f.y[y * w..y * w + 2 * cw];
                let pairs = row(2 * j)
                    .chunks_exact(2)
                    .zip(row(2 * j + 1).chunks_exact(2));
                let chroma = f.u[j * cw..(j + 1) * cw]
                    .iter()
                    .zip(&f.v[j * cw..(j + 1) * cw]);
                for (((lo, m), (r0, r1)), (&u, &v)) in
                    lo.iter_mut().zip(m.iter_mut()).zip(pairs).zip(chroma)
                {
                    let sum =
                        u16::from(r0[0]) + u16::from(r0[1]) + u16::from(r1[0]) + u16::from(r1[1]);
                    *lo = f32::from(sum) * 0.25;
                    *m = skin(u, v, *lo);
                }
            });
        let (cw_, ch) = self.size;
        box_mean(
            &self.tmp,
            &mut self.mask,
            (&mut self.sq, &mut self.acc),
            cw_,
            ch,
            1,
        );
    }

    /// Fast guided filter coefficients: `a` in `mean`, `b` in `mean_sq` (both box-smoothed).
    fn guided_coefficients(&mut self, eps: f32, r: usize) {
        let (cw, ch) = self.size;
        self.sq
            .par_iter_mut()
            .zip(self.lo.par_iter())
            .for_each(|(s, l)| *s = l * l);
        box_mean(
            &self.lo,
            &mut self.mean,
            (&mut self.tmp, &mut self.acc),
            cw,
            ch,
            r,
        );
        // `lo` is free from here on: it takes the box of squares.
        box_mean(
            &self.sq,
            &mut self.lo,
            (&mut self.tmp, &mut self.acc),
            cw,
            ch,
            r,
        );
        self.mean
            .par_iter_mut()
            .zip(self.lo.par_iter_mut())
            .for_each(|(m, m2)| {
                let var = (*m2 - *m * *m).max(0.0);
                let a = var / (var + eps);
                *m2 = *m * (1.0 - a);
                *m = a;
            });
        box_mean(
            &self.mean,
            &mut self.sq,
            (&mut self.tmp, &mut self.acc),
            cw,
            ch,
            r,
        );
        std::mem::swap(&mut self.mean, &mut self.sq);
        box_mean(
            &self.lo,
            &mut self.mean_sq,
            (&mut self.tmp, &mut self.acc),
            cw,
            ch,
            r,
        );
    }
}

/// How much a chroma sample (with its local luma) looks like skin, 0..1.
fn skin(u: u8, v: u8, luma: f32) -> f32 {
    let ramp = |d: f32| ((d + 4.0) / 8.0).clamp(0.0, 1.0);
    let (u, v) = (f32::from(u), f32::from(v));
    ramp(u - 77.0)
        * ramp(127.0 - u)
        * ramp(v - 133.0)
        * ramp(173.0 - v)
        * ((luma - 55.0) / 25.0).clamp(0.0, 1.0)
}

impl VideoProcessor for Beauty {
    fn process(&mut self, f: &mut VideoFrame) {
        let p = self.params;
        if p.is_off() {
            return;
        }
        let (w, h) = (f.width as usize, f.height as usize);
        let (cw, ch) = (w / 2, h / 2);
        self.ensure(cw, ch, w * h);
        self.skin_mask(f, cw);
        let natural = p.style == BeautyStyle::Natural;
        let smooth = f32::from(p.smoothness);
        if p.smoothness > 0 {
            let sigma = 2.0 + 2.2 * smooth;
            let eps = sigma * sigma * if natural { 0.5 } else { 1.0 };
            let r = ((ch as f32 / 120.0).round() as usize).max(1);
            self.guided_coefficients(eps, r);
        }
        let alpha = if p.smoothness == 0 {
            0.0
        } else {
            (smooth / 9.0).sqrt() * if natural { 0.65 } else { 1.0 }
        };
        let (a, b, mask, curve) = (&self.mean, &self.mean_sq, &self.mask, &self.curve);
        let whiten = p.whiteness > 0;
        // Per chroma sample the smoothing is `y + alpha·m·(a·y + b − y)` = `gain·y + offset`,
        // shared by the 2×2 luma pixels under it.
        f.y.par_chunks_mut(2 * w).enumerate().for_each(|(j, rows)| {
            let c = j * cw..(j + 1) * cw;
            let (a, b, mask) = (&a[c.clone()], &b[c.clone()], &mask[c]);
            for row in rows.chunks_exact_mut(w) {
                for (i, pair) in row.chunks_exact_mut(2).enumerate() {
                    let m = mask[i];
                    if m <= 0.0 {
                        continue;
                    }
                    let k = alpha * m;
                    let (gain, offset) = (1.0 + k * (a[i] - 1.0), k * b[i]);
                    for px in pair {
                        let mut y = gain * f32::from(*px) + offset;
                        if whiten {
                            y += m * (curve[y.clamp(0.0, 255.0) as usize] - y);
                        }
                        *px = to_u8(y);
                    }
                }
            }
        });
        if p.ruddiness > 0 {
            let r = f32::from(p.ruddiness);
            f.u.par_iter_mut()
                .zip(f.v.par_iter_mut())
                .zip(mask.par_iter())
                .for_each(|((u, v), m)| {
                    *v = to_u8(f32::from(*v) + m * r * 1.6);
                    *u = to_u8(f32::from(*u) - m * r * 0.6);
                });
        }
        if p.sharpen {
            self.luma.copy_from_slice(&f.y);
            sharpen(&self.luma, &mut f.y, w, h);
        }
    }
}

/// Unsharp mask with a 4-neighbour Laplacian; the border rows and columns are left alone.
fn sharpen(src: &[u8], dst: &mut [u8], w: usize, h: usize) {
    const AMOUNT: i32 = 3; // in quarters: y + 0.75 * (y - mean of the 4 neighbours)
    dst.par_chunks_mut(w)
        .enumerate()
        .filter(|(y, _)| *y > 0 && *y + 1 < h)
        .for_each(|(y, row)| {
            let line = |y: usize| &src[y * w..(y + 1) * w];
            let (up, mid, down) = (line(y - 1), line(y), line(y + 1));
            let inner = row[1..w - 1]
                .iter_mut()
                .zip(mid.windows(3))
                .zip(up[1..].iter().zip(&down[1..]));
            for ((out, m), (&u, &d)) in inner {
                let c = i32::from(m[1]);
                let lap = 4 * c - i32::from(m[0]) - i32::from(m[2]) - i32::from(u) - i32::from(d);
                *out = (c + AMOUNT * lap / 16).clamp(0, 255) as u8;
            }
        });
}
