//! Separable box mean on `f32` planes (borders average only the pixels that exist), split
//! into row bands across the cores. O(1) per pixel whatever the radius.

use rayon::prelude::*;

/// Rows per parallel job: big enough that splitting costs little next to the work.
const BAND_ROWS: usize = 32;
/// Rows the horizontal pass runs side by side.
const LANES: usize = 4;

/// `dst` = mean of `src` over a (2r+1)² window; `tmp` is scratch of the same size and `acc`
/// of [`scratch_len`].
pub fn box_mean(
    src: &[f32],
    dst: &mut [f32],
    (tmp, acc): (&mut [f32], &mut [f32]),
    w: usize,
    h: usize,
    r: usize,
) {
    debug_assert!(src.len() == w * h && dst.len() == w * h && tmp.len() == w * h);
    debug_assert!(acc.len() >= scratch_len(w, h));
    tmp.par_chunks_mut(w * LANES)
        .zip(src.par_chunks(w * LANES))
        .for_each(|(out, rows)| {
            if rows.len() == w * LANES {
                horizontal::<LANES>(rows, out, w, r);
            } else {
                for (row, out) in rows.chunks_exact(w).zip(out.chunks_exact_mut(w)) {
                    horizontal::<1>(row, out, w, r);
                }
            }
        });
    let tmp = &*tmp;
    dst.par_chunks_mut(w * BAND_ROWS)
        .zip(acc.par_chunks_mut(w))
        .enumerate()
        .for_each(|(band, (out, acc))| vertical(tmp, out, acc, w, h, r, band * BAND_ROWS));
}

/// Horizontal running means of `N` rows side by side: their sums are independent, so the
/// processor overlaps them instead of waiting on one add chain, and the window's reciprocal
/// is shared.
fn horizontal<const N: usize>(rows: &[f32], out: &mut [f32], w: usize, r: usize) {
    let mut sum = [0.0f32; N];
    for (k, s) in sum.iter_mut().enumerate() {
        *s = rows[k * w..k * w + (r + 1).min(w)].iter().sum();
    }
    let full = 1.0 / (2 * r + 1) as f32;
    for x in 0..w {
        let inv = if x >= r && x + r < w {
            full
        } else {
            1.0 / ((x + r).min(w - 1) - x.saturating_sub(r) + 1) as f32
        };
        let add = x + r + 1 < w;
        for (k, s) in sum.iter_mut().enumerate() {
            let row = &rows[k * w..(k + 1) * w];
            out[k * w + x] = *s * inv;
            if add {
                *s += row[x + r + 1];
            }
            if x >= r {
                *s -= row[x - r];
            }
        }
    }
}

/// Rows `y0..` of the vertical mean of `src` into `out` (a band of whole rows), with `acc`
/// (one row) for the running column sums.
fn vertical(
    src: &[f32],
    out: &mut [f32],
    acc: &mut [f32],
    w: usize,
    h: usize,
    r: usize,
    y0: usize,
) {
    let rows = out.len() / w;
    let row = |y: usize| &src[y * w..(y + 1) * w];
    acc.fill(0.0);
    for y in y0.saturating_sub(r)..(y0 + r + 1).min(h) {
        add_row(acc, row(y), 1.0);
    }
    for (k, line) in out.chunks_exact_mut(w).enumerate().take(rows) {
        let y = y0 + k;
        let inv = 1.0 / ((y + r).min(h - 1) - y.saturating_sub(r) + 1) as f32;
        for (o, a) in line.iter_mut().zip(acc.iter()) {
            *o = a * inv;
        }
        if y + r + 1 < h {
            add_row(acc, row(y + r + 1), 1.0);
        }
        if y >= r {
            add_row(acc, row(y - r), -1.0);
        }
    }
}

/// Scratch rows [`box_mean`] needs for a `w`×`h` plane (one per band), kept by the caller so
/// nothing is allocated per frame.
pub fn scratch_len(w: usize, h: usize) -> usize {
    h.div_ceil(BAND_ROWS) * w
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
            let mut acc = vec![0.0; scratch_len(w, h)];
            box_mean(&src, &mut dst, (&mut tmp, &mut acc), w, h, r);
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
