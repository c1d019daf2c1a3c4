//! Separable box mean on `f32` planes (borders average only the pixels that exist), split
//! into row bands across the cores. O(1) per pixel whatever the radius.

use rayon::prelude::*;

/// Rows per parallel job: big enough that splitting costs little next to the work.
const BAND_ROWS: usize = 32;

/// `dst` = mean of `src` over a (2r+1)² window; `tmp` is scratch of the same size.
pub fn box_mean(src: &[f32], dst: &mut [f32], tmp: &mut [f32], w: usize, h: usize, r: usize) {
    debug_assert!(src.len() == w * h && dst.len() == w * h && tmp.len() == w * h);
    tmp.par_chunks_mut(w)
        .zip(src.par_chunks(w))
        .for_each(|(out, row)| horizontal(row, out, r));
    dst.par_chunks_mut(w * BAND_ROWS)
        .enumerate()
        .for_each(|(band, out)| vertical(tmp, out, w, h, r, band * BAND_ROWS));
}

fn horizontal(row: &[f32], out: &mut [f32], r: usize) {
    let w = row.len();
    let mut sum: f32 = row[..(r + 1).min(w)].iter().sum();
    for (x, o) in out.iter_mut().enumerate() {
        let lo = x.saturating_sub(r);
        let hi = (x + r).min(w - 1);
        *o = sum / (hi - lo + 1) as f32;
        if x + r + 1 < w {
            sum += row[x + r + 1];
        }
        if x >= r {
            sum -= row[x - r];
        }
    }
}

/// Rows `y0..` of the vertical mean of `src` into `out` (a band of whole rows).
fn vertical(src: &[f32], out: &mut [f32], w: usize, h: usize, r: usize, y0: usize) {
    let rows = out.len() / w;
    let mut acc = vec![0f32; w];
    let first = y0.saturating_sub(r);
    for y in first..(y0 + r + 1).min(h) {
        add_row(&mut acc, &src[y * w..(y + 1) * w], 1.0);
    }
    for k in 0..rows {
        let y = y0 + k;
        let lo = y.saturating_sub(r);
        let hi = (y + r).min(h - 1);
        let inv = 1.0 / (hi - lo + 1) as f32;
        for (o, a) in out[k * w..(k + 1) * w].iter_mut().zip(&acc) {
            *o = a * inv;
        }
        if y + r + 1 < h {
            add_row(&mut acc, &src[(y + r + 1) * w..(y + r + 2) * w], 1.0);
        }
        if y >= r {
            add_row(&mut acc, &src[(y - r) * w..(y - r + 1) * w], -1.0);
        }
    }
}

fn add_row(acc: &mut [f32], row: &[f32], sign: f32) {
    for (a, v) in acc.iter_mut().zip(row) {
        *a += sign * v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(src: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
        let mut out = vec![0.0; w * h];
        for y in 0..h {
            for x in 0..w {
                let (mut s, mut n) = (0.0, 0.0);
                for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
                    for xx in x.saturating_sub(r)..=(x + r).min(w - 1) {
                        s += src[yy * w + xx];
                        n += 1.0;
                    }
                }
                out[y * w + x] = s / n;
            }
        }
        out
    }

    #[test]
    fn matches_the_naive_mean_including_borders_and_bands() {
        let (w, h) = (37, 71);
        let src: Vec<f32> = (0..w * h).map(|i| ((i * 7919) % 255) as f32).collect();
        for r in [0, 1, 3, 9] {
            let (mut dst, mut tmp) = (vec![0.0; w * h], vec![0.0; w * h]);
            box_mean(&src, &mut dst, &mut tmp, w, h, r);
            let want = naive(&src, w, h, r);
            let worst = dst
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(worst < 0.01, "radius {r}: off by {worst}");
        }
    }
}
