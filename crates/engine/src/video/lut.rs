//! Colour filters (TRTC `setFilter` + `setFilterStrength`): a 3D LUT read from a standard PNG
//! LUT image, applied to I420 frames.
//!
//! Formats read: the square "lookup" layout (e.g. 512×512: 8×8 tiles of 64×64, blue picks the
//! tile, red runs across a tile, green down it; any n³ = side² size) and the strip layout
//! (n²×n: n tiles of n×n side by side, e.g. 1024×32).
//!
//! Applying a LUT per pixel in RGB (convert, 8 taps, convert back) costs tens of ns a pixel.
//! Instead the LUT, with the strength already blended in, is baked once into a table indexed
//! by studio-range YUV: full 8-bit luma × chroma in steps of 4 (64×64), 3 MB. A frame then
//! costs one lookup per pixel; chroma is the mean of the four pixels sharing a chroma sample.

use rayon::prelude::*;

use super::VideoProcessor;
use crate::media::VideoFrame;

/// Chroma step of the baked table (256 / 64).
const UV_SHIFT: u32 = 2;
const UV_CELLS: usize = 256 >> UV_SHIFT;

#[derive(Debug, thiserror::Error)]
pub enum LutError {
    #[error("cannot read the filter image {0}: {1}")]
    Io(String, std::io::Error),
    #[error("the filter image is not a PNG we can read: {0}")]
    Png(String),
    #[error(
        "a {0}×{1} image is not a LUT: use a square lookup image (e.g. 512×512, 8×8 tiles of 64) or an n²×n strip (e.g. 1024×32)"
    )]
    Layout(u32, u32),
}

/// An RGB 3D LUT: `size`³ entries, red fastest, then green, then blue.
#[derive(Debug, Clone, PartialEq)]
pub struct Lut3d {
    size: usize,
    rgb: Vec<[f32; 3]>,
}

impl Lut3d {
    /// The identity LUT with `size` points per axis.
    pub fn identity(size: usize) -> Self {
        Self::from_fn(size, |r, g, b| [r, g, b])
    }

    /// A LUT sampling `f` (RGB in 0..1 to RGB in 0..1).
    pub fn from_fn(size: usize, f: impl Fn(f32, f32, f32) -> [f32; 3]) -> Self {
        let step = 1.0 / (size - 1) as f32;
        let mut rgb = Vec::with_capacity(size * size * size);
        for b in 0..size {
            for g in 0..size {
                for r in 0..size {
                    rgb.push(f(r as f32 * step, g as f32 * step, b as f32 * step));
                }
            }
        }
        Self { size, rgb }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn from_png_file(path: &std::path::Path) -> Result<Self, LutError> {
        let bytes = std::fs::read(path).map_err(|e| LutError::Io(path.display().to_string(), e))?;
        Self::from_png(&bytes)
    }

    pub fn from_png(bytes: &[u8]) -> Result<Self, LutError> {
        let (w, h, rgb) = decode_rgb(bytes).map_err(LutError::Png)?;
        let (wu, hu) = (w as usize, h as usize);
        let at = |x: usize, y: usize| {
            let i = (y * wu + x) * 3;
            [rgb[i], rgb[i + 1], rgb[i + 2]].map(|c| f32::from(c) / 255.0)
        };
        if w == h {
            // side = n * tiles with n = tiles².
            let tiles = (1..=16)
                .find(|t| t * t * t == wu)
                .ok_or(LutError::Layout(w, h))?;
            let n = tiles * tiles;
            Ok(Self::from_sampler(n, |r, g, b| {
                at((b % tiles) * n + r, (b / tiles) * n + g)
            }))
        } else if wu == hu * hu && hu >= 2 {
            let n = hu;
            Ok(Self::from_sampler(n, |r, g, b| at(b * n + r, g)))
        } else {
            Err(LutError::Layout(w, h))
        }
    }

    fn from_sampler(n: usize, at: impl Fn(usize, usize, usize) -> [f32; 3]) -> Self {
        let mut rgb = Vec::with_capacity(n * n * n);
        for b in 0..n {
            for g in 0..n {
                for r in 0..n {
                    rgb.push(at(r, g, b));
                }
            }
        }
        Self { size: n, rgb }
    }

    /// Trilinear lookup of an RGB colour in 0..1.
    pub fn sample(&self, c: [f32; 3]) -> [f32; 3] {
        let n = self.size;
        let scale = (n - 1) as f32;
        let mut i0 = [0usize; 3];
        let mut t = [0f32; 3];
        for k in 0..3 {
            let p = c[k].clamp(0.0, 1.0) * scale;
            i0[k] = (p as usize).min(n - 2);
            t[k] = p - i0[k] as f32;
        }
        let idx = |r: usize, g: usize, b: usize| self.rgb[(b * n + g) * n + r];
        let mut out = [0f32; 3];
        for (db, wb) in [(0, 1.0 - t[2]), (1, t[2])] {
            for (dg, wg) in [(0, 1.0 - t[1]), (1, t[1])] {
                for (dr, wr) in [(0, 1.0 - t[0]), (1, t[0])] {
                    let v = idx(i0[0] + dr, i0[1] + dg, i0[2] + db);
                    let w = wr * wg * wb;
                    for k in 0..3 {
                        out[k] += w * v[k];
                    }
                }
            }
        }
        out
    }
}

/// Decodes any 8-bit PNG (grey, RGB, palette, with or without alpha) to packed RGB.
pub(crate) fn decode_rgb(bytes: &[u8]) -> Result<(u32, u32, Vec<u8>), String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or("image too large")?];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    let (w, h) = (info.width, info.height);
    let px = (w * h) as usize;
    let rgb = match info.color_type {
        png::ColorType::Rgb => buf[..px * 3].to_vec(),
        png::ColorType::Rgba => buf[..px * 4]
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        png::ColorType::Grayscale => buf[..px].iter().flat_map(|&g| [g, g, g]).collect(),
        png::ColorType::GrayscaleAlpha => buf[..px * 2]
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0]])
            .collect(),
        png::ColorType::Indexed => return Err("palette was not expanded".into()),
    };
    Ok((w, h, rgb))
}

/// BT.601 studio range, as the rest of the engine.
pub(crate) fn yuv_to_rgb(y: f32, u: f32, v: f32) -> [f32; 3] {
    let (c, d, e) = (y - 16.0, u - 128.0, v - 128.0);
    [
        1.164 * c + 1.596 * e,
        1.164 * c - 0.392 * d - 0.813 * e,
        1.164 * c + 2.017 * d,
    ]
    .map(|x| (x / 255.0).clamp(0.0, 1.0))
}

pub(crate) fn rgb_to_yuv([r, g, b]: [f32; 3]) -> [f32; 3] {
    let (r, g, b) = (r * 255.0, g * 255.0, b * 255.0);
    [
        16.0 + 0.257 * r + 0.504 * g + 0.098 * b,
        128.0 - 0.148 * r - 0.291 * g + 0.439 * b,
        128.0 + 0.439 * r - 0.368 * g - 0.071 * b,
    ]
}

/// The colour filter processor: a LUT baked for I420 at a strength.
pub struct ColorFilter {
    /// What the filter adds to Y, U and V, per (U cell, V cell, Y).
    table: Vec<[i16; 3]>,
}

impl ColorFilter {
    /// Bakes `lut` blended with the original at `strength` (0..1).
    pub fn new(lut: &Lut3d, strength: f32) -> Self {
        let s = strength.clamp(0.0, 1.0);
        let mut table = vec![[0i16; 3]; UV_CELLS * UV_CELLS * 256];
        table
            .par_chunks_mut(256)
            .enumerate()
            .for_each(|(cell, row)| {
                let half = (1u32 << UV_SHIFT) as f32 / 2.0;
                let u = ((cell / UV_CELLS) << UV_SHIFT) as f32 + half;
                let v = ((cell % UV_CELLS) << UV_SHIFT) as f32 + half;
                for (y, out) in row.iter_mut().enumerate() {
                    // Deltas, not values, and taken in RGB: strength 0 or an identity LUT
                    // leaves the frame as it was, although the table's chroma is quantised
                    // and YUV at edges is often outside the RGB cube.
                    let rgb = yuv_to_rgb(y as f32, u, v);
                    let mapped = lut.sample(rgb);
                    let d = rgb_to_yuv(std::array::from_fn(|k| mapped[k] - rgb[k]));
                    let offset = [16.0, 128.0, 128.0];
                    *out = std::array::from_fn(|k| (s * (d[k] - offset[k])).round() as i16);
                }
            });
        Self { table }
    }
}

impl VideoProcessor for ColorFilter {
    fn process(&mut self, f: &mut VideoFrame) {
        let w = f.width as usize;
        let cw = w / 2;
        let table = &self.table;
        f.y.par_chunks_mut(2 * w)
            .zip(f.u.par_chunks_mut(cw).zip(f.v.par_chunks_mut(cw)))
            .for_each(|(rows, (us, vs))| {
                let (r0, r1) = rows.split_at_mut(w);
                let blocks = r0.chunks_exact_mut(2).zip(r1.chunks_exact_mut(2));
                for ((a, b), (u, v)) in blocks.zip(us.iter_mut().zip(vs.iter_mut())) {
                    let cell =
                        ((*u as usize >> UV_SHIFT) * UV_CELLS + (*v as usize >> UV_SHIFT)) * 256;
                    // One cell is 256 entries, so indexing it by a luma byte needs no check.
                    let t: &[[i16; 3]; 256] = table[cell..cell + 256].try_into().expect("a cell");
                    let (mut du, mut dv) = (0i32, 0i32);
                    for p in a.iter_mut().chain(b.iter_mut()) {
                        let e = t[usize::from(*p)];
                        *p = (i32::from(*p) + i32::from(e[0])).clamp(0, 255) as u8;
                        du += i32::from(e[1]);
                        dv += i32::from(e[2]);
                    }
                    *u = (i32::from(*u) + (du + 2).div_euclid(4)).clamp(0, 255) as u8;
                    *v = (i32::from(*v) + (dv + 2).div_euclid(4)).clamp(0, 255) as u8;
                }
            });
    }
}
