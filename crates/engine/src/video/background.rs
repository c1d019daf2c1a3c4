//! Background blur and virtual background: the person mask from [`Segmenter`] decides, per
//! pixel, between the camera and a background — the camera blurred (at a quarter of its size,
//! where a wide blur is cheap and looks the same) or a picture scaled to cover the frame.

use rayon::prelude::*;

use super::boxfilter::{box_mean, scratch_len};
use super::lut::{decode_rgb, rgb_to_yuv};
use super::resample::Resample;
use super::scale::scale_into;
use super::segment::Segmenter;
use super::{Background, VideoError, to_u8};
use crate::media::VideoFrame;

/// The blurred copy is this many times smaller than the frame.
const BLUR_SCALE: u32 = 4;

pub struct BackgroundFx {
    mode: Background,
    segmenter: Option<Segmenter>,
    /// The chosen picture as I420 at its own size.
    picture: Option<VideoFrame>,
    /// What goes behind the person: the picture at the frame's size, or the small blurred copy.
    behind: VideoFrame,
    /// The person's opacity at the frame's size, 0..255, and the mask version and frame size
    /// it was made from (the model runs on every other frame, so half the time it still holds).
    alpha: Vec<u8>,
    alpha_of: Option<(u64, u32, u32)>,
    mask8: Vec<u8>,
    /// Upscaling of the mask, the background's luma and its chroma, and the mask to the
    /// blurred copy's luma and chroma.
    scale: [Resample; 5],
    /// One blended source row per output row, for the upscaling passes.
    lines: Vec<u16>,
    blur: BlurScratch,
}

#[derive(Default)]
struct BlurScratch {
    /// How much each pixel of the small copy is wall (not person).
    weight: Vec<f32>,
    den: Vec<f32>,
    plane: Vec<f32>,
    out: Vec<f32>,
    tmp: Vec<f32>,
    acc: Vec<f32>,
}

impl Default for BackgroundFx {
    fn default() -> Self {
        Self {
            mode: Background::None,
            segmenter: None,
            picture: None,
            behind: VideoFrame::black(2, 2),
            alpha: Vec::new(),
            alpha_of: None,
            mask8: Vec::new(),
            scale: Default::default(),
            lines: Vec::new(),
            blur: BlurScratch::default(),
        }
    }
}

impl BackgroundFx {
    /// Takes a new setting; on error (no model, unreadable picture) nothing changes.
    pub fn set(&mut self, mode: &Background) -> Result<(), VideoError> {
        if *mode == self.mode {
            return Ok(());
        }
        let picture = match mode {
            Background::Image { path } => Some(load_picture(path)?),
            _ => None,
        };
        if *mode != Background::None && self.segmenter.is_none() {
            self.segmenter = Some(Segmenter::bundled()?);
        }
        if let Some(level) = match mode {
            Background::Blur { level } => Some(*level),
            _ => None,
        } && !(1..=9).contains(&level)
        {
            return Err(VideoError::BlurLevel(level));
        }
        self.picture = picture;
        self.behind = VideoFrame::black(2, 2);
        self.mode = mode.clone();
        Ok(())
    }

    pub fn process(&mut self, frame: &mut VideoFrame) {
        let Some(seg) = self.segmenter.as_mut() else {
            return;
        };
        let blur_level = match &self.mode {
            Background::None => return,
            Background::Blur { level } => Some(*level),
            Background::Image { .. } => None,
        };
        let (mw, mh) = seg.mask_size();
        seg.segment(frame);
        let of = Some((seg.mask_version(), frame.width, frame.height));
        if self.alpha_of != of {
            self.alpha_of = of;
            narrow_edge(seg.mask(), &mut self.mask8);
            let (w, h) = (frame.width as usize, frame.height as usize);
            self.scale[0].set_sizes((mw, mh), (w, h));
            self.alpha.resize(w * h, 0);
            upscale(
                &self.mask8,
                &self.scale[0],
                &mut self.alpha,
                w,
                &mut self.lines,
            );
        }
        match (blur_level, &self.picture) {
            (Some(level), _) => {
                let (w, h) = (
                    (frame.width / BLUR_SCALE) & !1,
                    (frame.height / BLUR_SCALE) & !1,
                );
                if self.behind.width != w || self.behind.height != h {
                    self.behind = VideoFrame::black(w.max(2), h.max(2));
                }
                scale_into(frame, &mut self.behind);
                let radius = usize::from(level) + 1;
                let b = &mut self.behind;
                let (w, h) = (b.width as usize, b.height as usize);
                let (luma, chroma) = self.scale[3..].split_at_mut(1);
                let s = &mut self.blur;
                let scratch = (&mut s.weight, &mut self.lines);
                wall_weights(&self.mask8, (mw, mh), (w, h), &mut luma[0], scratch);
                blur_plane(&mut b.y, w, h, radius, s);
                let (cw, ch) = (w / 2, h / 2);
                let scratch = (&mut s.weight, &mut self.lines);
                wall_weights(&self.mask8, (mw, mh), (cw, ch), &mut chroma[0], scratch);
                blur_plane(&mut b.u, cw, ch, radius.div_ceil(2), s);
                blur_plane(&mut b.v, cw, ch, radius.div_ceil(2), s);
            }
            (None, Some(picture)) => {
                if self.behind.width != frame.width || self.behind.height != frame.height {
                    self.behind = cover(picture, frame.width, frame.height);
                }
            }
            (None, None) => return,
        }
        let (scale, lines) = (&mut self.scale[1..3], &mut self.lines);
        composite(frame, &self.behind, &self.alpha, scale, lines);
    }
}

fn load_picture(path: &str) -> Result<VideoFrame, VideoError> {
    let bad = |why: String| VideoError::Picture {
        path: path.to_owned(),
        why,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let (w, h, rgb) = decode_picture(&bytes).map_err(bad)?;
    if w < 2 || h < 2 {
        return Err(bad("smaller than 2×2".into()));
    }
    Ok(rgb_to_i420(
        w as usize & !1,
        h as usize & !1,
        w as usize,
        &rgb,
    ))
}

/// A PNG or JPEG picture as packed RGB.
pub fn decode_picture(bytes: &[u8]) -> Result<(u32, u32, Vec<u8>), String> {
    use zune_jpeg::zune_core::{
        bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions,
    };
    if bytes.starts_with(&[0xff, 0xd8]) {
        let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
        let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
        let rgb = decoder
            .decode()
            .map_err(|e| format!("not a readable JPEG: {e}"))?;
        let info = decoder.info().ok_or("not a readable JPEG")?;
        let (w, h) = (u32::from(info.width), u32::from(info.height));
        if rgb.len() != (w * h * 3) as usize {
            return Err("not a readable JPEG (unexpected pixel data)".into());
        }
        return Ok((w, h, rgb));
    }
    if bytes.starts_with(b"\x89PNG") {
        return decode_rgb(bytes).map_err(|e| format!("not a readable PNG: {e}"));
    }
    Err("not a PNG or JPEG picture".into())
}

/// Packed RGB (`stride` pixels a row) to I420 of `w`×`h`, chroma from each 2×2 block's first
/// pixel.
pub(crate) fn rgb_to_i420(w: usize, h: usize, stride: usize, rgb: &[u8]) -> VideoFrame {
    let mut f = VideoFrame::black(w as u32, h as u32);
    let px = |x: usize, y: usize| {
        let p = &rgb[(y * stride + x) * 3..][..3];
        rgb_to_yuv([p[0], p[1], p[2]].map(|c| f32::from(c) / 255.0))
    };
    for y in 0..h {
        for x in 0..w {
            let [l, u, v] = px(x, y);
            f.y[y * w + x] = l.round().clamp(0.0, 255.0) as u8;
            if x % 2 == 0 && y % 2 == 0 {
                let c = (y / 2) * (w / 2) + x / 2;
                f.u[c] = u.round().clamp(0.0, 255.0) as u8;
                f.v[c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    f
}

/// The picture scaled to fill `w`×`h`, its centre kept and the overflow cut.
fn cover(p: &VideoFrame, w: u32, h: u32) -> VideoFrame {
    let (pw, ph) = (u64::from(p.width), u64::from(p.height));
    // The largest crop of the picture with the frame's aspect.
    let (cw, ch) = if pw * u64::from(h) > ph * u64::from(w) {
        (ph * u64::from(w) / u64::from(h), ph)
    } else {
        (pw, pw * u64::from(h) / u64::from(w))
    };
    let (cw, ch) = ((cw as usize & !1).max(2), (ch as usize & !1).max(2));
    let (x0, y0) = (
        (p.width as usize - cw) / 4 * 2,
        (p.height as usize - ch) / 4 * 2,
    );
    let mut crop = VideoFrame::black(cw as u32, ch as u32);
    let pw = p.width as usize;
    for y in 0..ch {
        crop.y[y * cw..][..cw].copy_from_slice(&p.y[(y0 + y) * pw + x0..][..cw]);
    }
    for y in 0..ch / 2 {
        let src = (y0 / 2 + y) * (pw / 2) + x0 / 2;
        crop.u[y * cw / 2..][..cw / 2].copy_from_slice(&p.u[src..][..cw / 2]);
        crop.v[y * cw / 2..][..cw / 2].copy_from_slice(&p.v[src..][..cw / 2]);
    }
    let mut out = VideoFrame::black(w, h);
    scale_into(&crop, &mut out);
    out
}

/// Per pixel of a `w`×`h` plane, how much it is wall: nearly 0 on the person, 1 elsewhere.
fn wall_weights(
    mask8: &[u8],
    mask_size: (usize, usize),
    (w, h): (usize, usize),
    rs: &mut Resample,
    (out, line): (&mut Vec<f32>, &mut Vec<u16>),
) {
    rs.set_sizes(mask_size, (w, h));
    out.resize(w * h, 0.0);
    line.resize(mask_size.0, 0);
    for (y, row) in out.chunks_exact_mut(w).enumerate() {
        rs.line(mask8, y, line);
        for (x, v) in row.iter_mut().enumerate() {
            // A little weight everywhere, so a pixel deep inside the person still has a
            // (hidden) value.
            *v = 1.0 - 0.98 * f32::from(rs.pixel(line, x)) / 255.0;
        }
    }
}

/// A box blur run twice (close to a Gaussian) on one plane, weighted by `s.weight`: the
/// person's pixels hardly count, so the wall beside her does not take on her colours.
fn blur_plane(plane: &mut [u8], w: usize, h: usize, r: usize, s: &mut BlurScratch) {
    let n = w * h;
    s.plane.clear();
    s.plane
        .extend(plane.iter().zip(&s.weight).map(|(&v, &k)| f32::from(v) * k));
    s.out.resize(n, 0.0);
    s.tmp.resize(n, 0.0);
    s.acc.resize(scratch_len(w, h), 0.0);
    s.den.clear();
    s.den.extend_from_slice(&s.weight);
    for src in [&mut s.plane, &mut s.den] {
        box_mean(src, &mut s.out, (&mut s.tmp, &mut s.acc), w, h, r);
        box_mean(&s.out, src, (&mut s.tmp, &mut s.acc), w, h, r);
    }
    for ((p, &v), &k) in plane.iter_mut().zip(&s.plane).zip(&s.den) {
        *p = to_u8(v / k);
    }
}

/// The mask as 0..255 with its soft edge narrowed, so the person does not fade into the
/// background.
fn narrow_edge(mask: &[f32], out: &mut Vec<u8>) {
    out.clear();
    out.extend(mask.iter().map(|&m| to_u8((m - 0.25) * 2.0 * 255.0)));
}

/// `src` upscaled through `rs` into `dst` (`w` wide).
fn upscale(src: &[u8], rs: &Resample, dst: &mut [u8], w: usize, lines: &mut Vec<u16>) {
    let sw = rs.source_width();
    lines.resize(dst.len() / w * sw, 0);
    dst.par_chunks_mut(w)
        .zip(lines.par_chunks_mut(sw))
        .enumerate()
        .for_each(|(y, (row, line))| {
            rs.line(src, y, line);
            for (x, px) in row.iter_mut().enumerate() {
                *px = rs.pixel(line, x);
            }
        });
}

/// `frame = alpha·frame + (1 − alpha)·behind`, `behind` stretched to the frame's size (and
/// not even read where the person is opaque).
fn composite(
    frame: &mut VideoFrame,
    behind: &VideoFrame,
    alpha: &[u8],
    rs: &mut [Resample],
    lines: &mut Vec<u16>,
) {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let (bw, bh) = (behind.width as usize, behind.height as usize);
    let blend = |fg: &mut u8, bg: u8, a: u8| {
        let (f, b, a) = (u32::from(*fg), u32::from(bg), u32::from(a));
        *fg = ((f * a + b * (255 - a) + 127) / 255) as u8;
    };
    rs[0].set_sizes((bw, bh), (w, h));
    rs[1].set_sizes((bw / 2, bh / 2), (w / 2, h / 2));
    let planes = [
        (&mut frame.y, &behind.y, &rs[0], 1),
        (&mut frame.u, &behind.u, &rs[1], 2),
        (&mut frame.v, &behind.v, &rs[1], 2),
    ];
    lines.resize(h * bw, 0);
    for (plane, bplane, rs, step) in planes {
        let (pw, sw) = (w / step, bw / step);
        plane
            .par_chunks_mut(pw)
            .zip(lines.par_chunks_mut(sw))
            .enumerate()
            .for_each(|(y, (row, line))| {
                let arow = &alpha[y * step * w..][..w];
                let mut read = false;
                for (x, p) in row.iter_mut().enumerate() {
                    let a = arow[x * step];
                    if a == 255 {
                        continue;
                    }
                    if !read {
                        rs.line(bplane, y, line);
                        read = true;
                    }
                    blend(p, rs.pixel(line, x), a);
                }
            });
    }
}
