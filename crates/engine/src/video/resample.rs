//! Bilinear upscaling of 8-bit planes one output row at a time: the two source rows are
//! blended first (a straight, vectorisable pass over the narrow source row), then each output
//! pixel reads two neighbours of that line. Callers that only need some pixels of a row (a
//! composite behind an opaque person) pay only for those.

/// Where each output column and row falls in the source, kept while the sizes stay.
#[derive(Default)]
pub struct Resample {
    sizes: (usize, usize, usize, usize),
    cols: Vec<Tap>,
    rows: Vec<Tap>,
}

/// Two neighbouring source indices and the weight of the second, 0..=256.
#[derive(Clone, Copy)]
struct Tap {
    lo: u32,
    hi: u32,
    frac: u16,
}

fn taps(n: usize, len: usize) -> Vec<Tap> {
    (0..n)
        .map(|o| {
            let pos = ((o as f32 + 0.5) * len as f32 / n as f32 - 0.5).max(0.0);
            let lo = (pos as usize).min(len - 1);
            Tap {
                lo: lo as u32,
                hi: (lo + 1).min(len - 1) as u32,
                frac: ((pos - lo as f32) * 256.0) as u16,
            }
        })
        .collect()
}

impl Resample {
    /// Prepares for a `sw`×`sh` source and a `dw`×`dh` output.
    pub fn set_sizes(&mut self, (sw, sh): (usize, usize), (dw, dh): (usize, usize)) {
        if self.sizes != (sw, sh, dw, dh) {
            self.sizes = (sw, sh, dw, dh);
            self.cols = taps(dw, sw);
            self.rows = taps(dh, sh);
        }
    }

    pub fn source_width(&self) -> usize {
        self.sizes.0
    }

    /// Source row blend for output row `y`, in 1/256ths, into `line` (the source's width).
    pub fn line(&self, src: &[u8], y: usize, line: &mut [u16]) {
        let sw = self.sizes.0;
        let t = self.rows[y];
        let (a, b) = (
            &src[t.lo as usize * sw..][..sw],
            &src[t.hi as usize * sw..][..sw],
        );
        let (wa, wb) = (256 - t.frac, t.frac);
        for ((o, &p), &q) in line.iter_mut().zip(a).zip(b) {
            *o = u16::from(p) * wa + u16::from(q) * wb;
        }
    }

    /// Output pixel `x` from a [`line`](Self::line).
    pub fn pixel(&self, line: &[u16], x: usize) -> u8 {
        let t = self.cols[x];
        let (p, q) = (
            u32::from(line[t.lo as usize]),
            u32::from(line[t.hi as usize]),
        );
        let f = u32::from(t.frac);
        ((p * (256 - f) + q * f + (1 << 15)) >> 16) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upscaling_interpolates_between_and_keeps_flat_areas() {
        // 2×2 → 8×8: corners keep their value, the middle is the mean.
        let src = [0u8, 200, 100, 40];
        let mut rs = Resample::default();
        rs.set_sizes((2, 2), (8, 8));
        let mut line = vec![0u16; 2];
        let mut out = [[0u8; 8]; 8];
        for (y, row) in out.iter_mut().enumerate() {
            rs.line(&src, y, &mut line);
            for (x, px) in row.iter_mut().enumerate() {
                *px = rs.pixel(&line, x);
            }
        }
        assert_eq!(
            (out[0][0], out[0][7], out[7][0], out[7][7]),
            (0, 200, 100, 40)
        );
        assert!(out[0].windows(2).all(|p| p[0] <= p[1]), "{:?}", out[0]);
        let centre = [out[3][3], out[3][4], out[4][3], out[4][4]];
        let mid = centre.iter().map(|&v| u32::from(v)).sum::<u32>() / 4;
        assert!(mid.abs_diff(85) <= 3, "centre {mid}");
        // Same size: an exact copy.
        rs.set_sizes((2, 2), (2, 2));
        rs.line(&src, 1, &mut line);
        assert_eq!((rs.pixel(&line, 0), rs.pixel(&line, 1)), (100, 40));
    }
}
