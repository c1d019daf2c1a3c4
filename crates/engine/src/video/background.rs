//! Background blur and virtual background: the person mask from [`Segmenter`] decides, per
//! pixel, between the camera and a background — the camera blurred (at a quarter of its size,
//! where a wide blur is cheap and looks the same) or a picture scaled to cover the frame.

use rayon::prelude::*;

use super::boxfilter::{box_mean, scratch_len};
use super::lut::{decode_rgb, rgb_to_yuv};
use super::scale::scale_into;
use super::segment::Segmenter;
use super::{Background, VideoError};
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
    alpha: Vec<u8>,
    blur: BlurScratch,
}

#[derive(Default)]
struct BlurScratch {
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
        let mask = seg.segment(frame);
        upsample_alpha(
            mask,
            mw,
            mh,
            frame.width as usize,
            frame.height as usize,
            &mut self.alpha,
        );
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
                blur_plane(&mut b.y, w, h, radius, &mut self.blur);
                blur_plane(&mut b.u, w / 2, h / 2, radius.div_ceil(2), &mut self.blur);
                blur_plane(&mut b.v, w / 2, h / 2, radius.div_ceil(2), &mut self.blur);
            }
            (None, Some(picture)) => {
                if self.behind.width != frame.width || self.behind.height != frame.height {
                    self.behind = cover(picture, frame.width, frame.height);
                }
            }
            (None, None) => return,
        }
        composite(frame, &self.behind, &self.alpha);
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

/// A box blur run twice (close to a Gaussian) on one plane.
fn blur_plane(plane: &mut [u8], w: usize, h: usize, r: usize, s: &mut BlurScratch) {
    let n = w * h;
    s.plane.clear();
    s.plane.extend(plane.iter().map(|&v| f32::from(v)));
    s.out.resize(n, 0.0);
    s.tmp.resize(n, 0.0);
    s.acc.resize(scratch_len(w, h), 0.0);
    box_mean(&s.plane, &mut s.out, (&mut s.tmp, &mut s.acc), w, h, r);
    box_mean(&s.out, &mut s.plane, (&mut s.tmp, &mut s.acc), w, h, r);
    for (p, &v) in plane.iter_mut().zip(&s.plane) {
        *p = v.round() as u8;
    }
}

/// Where output pixel `o` of `n` falls in a line of `len`: two neighbours and a weight (0..256).
fn axis(n: usize, len: usize) -> Vec<(u32, u32, u32)> {
    (0..n)
        .map(|o| {
            let pos = ((o as f32 + 0.5) * len as f32 / n as f32 - 0.5).max(0.0);
            let lo = (pos as usize).min(len - 1);
            let hi = (lo + 1).min(len - 1);
            (lo as u32, hi as u32, ((pos - lo as f32) * 256.0) as u32)
        })
        .collect()
}

/// Bilinear sample through two axis tables; `weights` in 0..256.
fn sample(
    src: &[u8],
    stride: usize,
    (y0, y1, fy): (u32, u32, u32),
    (x0, x1, fx): (u32, u32, u32),
) -> u8 {
    let at = |y: u32, x: u32| u32::from(src[y as usize * stride + x as usize]);
    let top = at(y0, x0) * (256 - fx) + at(y0, x1) * fx;
    let bottom = at(y1, x0) * (256 - fx) + at(y1, x1) * fx;
    ((top * (256 - fy) + bottom * fy + (1 << 15)) >> 16) as u8
}

/// The mask at the frame's size as 0..255, its soft edge narrowed so the person does not
/// fade into the background.
fn upsample_alpha(mask: &[f32], mw: usize, mh: usize, w: usize, h: usize, alpha: &mut Vec<u8>) {
    let mask8: Vec<u8> = mask
        .iter()
        .map(|&m| (((m - 0.25) * 2.0).clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    alpha.resize(w * h, 0);
    let (cols, rows) = (axis(w, mw), axis(h, mh));
    alpha.par_chunks_mut(w).zip(&rows).for_each(|(row, &ry)| {
        for (a, &cx) in row.iter_mut().zip(&cols) {
            *a = sample(&mask8, mw, ry, cx);
        }
    });
}

/// `frame = alpha·frame + (1 − alpha)·behind`, `behind` stretched to the frame's size (and
/// not even read where the person is opaque).
fn composite(frame: &mut VideoFrame, behind: &VideoFrame, alpha: &[u8]) {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let (bw, bh) = (behind.width as usize, behind.height as usize);
    let blend = |fg: &mut u8, bg: u8, a: u8| {
        let (f, b, a) = (u32::from(*fg), u32::from(bg), u32::from(a));
        *fg = ((f * a + b * (255 - a) + 127) / 255) as u8;
    };
    let (cols, rows) = (axis(w, bw), axis(h, bh));
    frame.y.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let arow = &alpha[y * w..][..w];
        for ((p, &a), &cx) in row.iter_mut().zip(arow).zip(&cols) {
            if a != 255 {
                blend(p, sample(&behind.y, bw, rows[y], cx), a);
            }
        }
    });
    let (cw, ch) = (w / 2, h / 2);
    let (ccols, crows) = (axis(cw, bw / 2), axis(ch, bh / 2));
    for (plane, bplane) in [(&mut frame.u, &behind.u), (&mut frame.v, &behind.v)] {
        plane.par_chunks_mut(cw).enumerate().for_each(|(y, row)| {
            for (x, (p, &cx)) in row.iter_mut().zip(&ccols).enumerate() {
                let a = alpha[2 * y * w + 2 * x];
                if a != 255 {
                    blend(p, sample(bplane, bw / 2, crows[y], cx), a);
                }
            }
        });
    }
}
