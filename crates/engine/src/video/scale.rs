//! Downscaling I420 frames by area averaging (the small simulcast layer), into a frame the
//! caller keeps between calls.

use rayon::prelude::*;

use crate::media::VideoFrame;

/// The size of the small layer for a `w`×`h` camera: `max_w` wide (or the camera's width if
/// smaller), the camera's aspect, even dimensions.
pub fn small_size(w: u32, h: u32, max_w: u32) -> (u32, u32) {
    if w <= max_w {
        return (w, h);
    }
    let sh = (u64::from(max_w) * u64::from(h) / u64::from(w.max(1))) as u32;
    (max_w & !1, (sh & !1).max(2))
}

/// Scales `src` into `dst` (whose width and height say the target size; its planes are
/// resized only when that size changed).
pub fn scale_into(src: &VideoFrame, dst: &mut VideoFrame) {
    let (dw, dh) = (dst.width as usize, dst.height as usize);
    if dst.y.len() != dw * dh {
        *dst = VideoFrame::black(dst.width, dst.height);
    }
    dst.capture_us = src.capture_us;
    let (sw, sh) = (src.width as usize, src.height as usize);
    plane(&src.y, sw, sh, &mut dst.y, dw, dh);
    plane(&src.u, sw / 2, sh / 2, &mut dst.u, dw / 2, dh / 2);
    plane(&src.v, sw / 2, sh / 2, &mut dst.v, dw / 2, dh / 2);
}

/// The source pixels `[lo, hi)` that target pixel `d` of `dn` covers in a line of `sn`.
fn span(d: usize, dn: usize, sn: usize) -> (usize, usize) {
    let lo = (d * sn / dn).min(sn - 1);
    (lo, ((d + 1) * sn / dn).max(lo + 1).min(sn))
}

fn plane(src: &[u8], sw: usize, sh: usize, dst: &mut [u8], dw: usize, dh: usize) {
    dst.par_chunks_mut(dw)
        .enumerate()
        .take(dh)
        .for_each(|(y, row)| {
            let (y0, y1) = span(y, dh, sh);
            for (x, out) in row.iter_mut().enumerate() {
                let (x0, x1) = span(x, dw, sw);
                let mut sum = 0u32;
                for line in src[y0 * sw..y1 * sw].chunks_exact(sw) {
                    sum += line[x0..x1].iter().map(|&v| u32::from(v)).sum::<u32>();
                }
                let n = ((y1 - y0) * (x1 - x0)) as u32;
                *out = ((sum + n / 2) / n) as u8;
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_size_averages_blocks_and_keeps_aspect() {
        assert_eq!(small_size(1280, 720, 320), (320, 180));
        assert_eq!(small_size(640, 480, 320), (320, 240));
        assert_eq!(small_size(320, 180, 320), (320, 180));
        let mut src = VideoFrame::black(8, 4);
        for (i, y) in src.y.iter_mut().enumerate() {
            *y = if (i % 8) < 4 { 20 } else { 200 };
        }
        let mut dst = VideoFrame::black(2, 2);
        scale_into(&src, &mut dst);
        assert_eq!(dst.y, vec![20, 200, 20, 200]);
        assert_eq!(dst.u, vec![128]);
    }
}
