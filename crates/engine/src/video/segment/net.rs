//! Runs a [`Graph`] on the CPU: NHWC float32, every activation buffer allocated once, filters
//! re-laid out at load so the innermost loop runs over contiguous output channels (which the
//! compiler vectorises), output rows split across the cores.

use rayon::prelude::*;

use super::ModelError;
use super::tflite::{Act, Conv, Graph, OpKind};

struct Shape {
    h: usize,
    w: usize,
    c: usize,
}

/// One operator, with what it needs at run time.
struct Step {
    kind: OpKind,
    inputs: Vec<usize>,
    output: usize,
    /// Convolution filters as `[kh][kw][in][out]` (depthwise: `[kh][kw][c]`).
    filter: Vec<f32>,
    kernel: (usize, usize),
}

pub struct Net {
    steps: Vec<Step>,
    shapes: Vec<Shape>,
    /// Activations by tensor index (constants hold their values).
    values: Vec<Vec<f32>>,
    input: usize,
    output: usize,
}

impl Net {
    pub fn new(graph: Graph) -> Result<Self, ModelError> {
        let shapes = graph
            .tensors
            .iter()
            .map(|t| match t.shape.as_slice() {
                [1, h, w, c] => Shape {
                    h: *h,
                    w: *w,
                    c: *c,
                },
                [c] => Shape { h: 1, w: 1, c: *c },
                _ => Shape {
                    h: 1,
                    w: 1,
                    c: t.len(),
                },
            })
            .collect::<Vec<_>>();
        let steps = graph
            .ops
            .into_iter()
            .map(|op| {
                let (filter, kernel) = match op.kind {
                    OpKind::Conv2d(_) | OpKind::TransposeConvBias(_) | OpKind::Depthwise(_) => {
                        let f = &graph.tensors[op.inputs[1]];
                        let [o, kh, kw, i] = f.shape[..] else {
                            unreachable!("checked rank 4")
                        };
                        let data = f.data.as_deref().unwrap_or_default();
                        let filter = if matches!(op.kind, OpKind::Depthwise(_)) {
                            data.to_vec()
                        } else {
                            let mut t = vec![0.0; data.len()];
                            for (n, &v) in data.iter().enumerate() {
                                let (oc, rest) = (n / (kh * kw * i), n % (kh * kw * i));
                                t[rest * o + oc] = v;
                            }
                            t
                        };
                        (filter, (kh, kw))
                    }
                    _ => (Vec::new(), (0, 0)),
                };
                Step {
                    kind: op.kind,
                    inputs: op.inputs,
                    output: op.output,
                    filter,
                    kernel,
                }
            })
            .collect();
        let values = graph
            .tensors
            .into_iter()
            .map(|t| {
                let n = t.len();
                t.data.unwrap_or_else(|| vec![0.0; n])
            })
            .collect();
        let net = Self {
            steps,
            shapes,
            values,
            input: graph.input,
            output: graph.output,
        };
        let input = &net.shapes[net.input];
        if input.c != 3 {
            return Err(ModelError::Unsupported(format!(
                "{} input channels",
                input.c
            )));
        }
        Ok(net)
    }

    /// Input height and width.
    pub fn input_size(&self) -> (usize, usize) {
        let s = &self.shapes[self.input];
        (s.h, s.w)
    }

    pub fn output_size(&self) -> (usize, usize) {
        let s = &self.shapes[self.output];
        (s.h, s.w)
    }

    /// The input tensor, HWC, to fill before [`run`](Self::run).
    pub fn input_mut(&mut self) -> &mut [f32] {
        &mut self.values[self.input]
    }

    /// Runs every operator; returns the output tensor.
    pub fn run(&mut self) -> &[f32] {
        for s in 0..self.steps.len() {
            let step = &self.steps[s];
            let mut out = std::mem::take(&mut self.values[step.output]);
            let shape = &self.shapes[step.output];
            let x = &self.values[step.inputs[0]];
            let xs = &self.shapes[step.inputs[0]];
            let arg = |i: usize| self.values[step.inputs[i]].as_slice();
            match &step.kind {
                OpKind::Conv2d(c) => {
                    conv(x, xs, &step.filter, arg(2), step.kernel, c, &mut out, shape)
                }
                OpKind::Depthwise(c) => {
                    depthwise(x, xs, &step.filter, arg(2), step.kernel, c, &mut out, shape)
                }
                OpKind::TransposeConvBias(c) => {
                    transpose_conv(x, xs, &step.filter, arg(2), step.kernel, c, &mut out, shape)
                }
                OpKind::Add(a) => binary(x, arg(1), &mut out, *a, |p, q| p + q),
                OpKind::Mul(a) => binary(x, arg(1), &mut out, *a, |p, q| p * q),
                OpKind::Relu => unary(x, &mut out, |v| v.max(0.0)),
                OpKind::HardSwish => unary(x, &mut out, |v| v * (v + 3.0).clamp(0.0, 6.0) / 6.0),
                OpKind::Logistic => unary(x, &mut out, |v| 1.0 / (1.0 + (-v).exp())),
                OpKind::MeanHw => mean_hw(x, xs, &mut out),
                OpKind::ResizeBilinear {
                    half_pixel,
                    align_corners,
                } => resize_bilinear(x, xs, &mut out, shape, *half_pixel, *align_corners),
            }
            self.values[step.output] = out;
        }
        &self.values[self.output]
    }
}

fn activate(v: f32, a: Act) -> f32 {
    match a {
        Act::None => v,
        Act::Relu => v.max(0.0),
        Act::Relu6 => v.clamp(0.0, 6.0),
    }
}

/// TensorFlow's padding before the first row/column for one axis.
fn pad_before(input: usize, output: usize, k: usize, stride: usize, same: bool) -> usize {
    if !same {
        return 0;
    }
    ((output - 1) * stride + k).saturating_sub(input) / 2
}

/// A sliding-window operator: for each output pixel, `bias`, then `tap(acc, input pixel,
/// kernel position)` for every kernel position inside the input, then the activation.
#[allow(clippy::too_many_arguments)]
fn window(
    x: &[f32],
    xs: &Shape,
    bias: &[f32],
    (kh, kw): (usize, usize),
    c: &Conv,
    out: &mut [f32],
    os: &Shape,
    tap: impl Fn(&mut [f32], &[f32], usize) + Sync,
) {
    let (py, px) = (
        pad_before(xs.h, os.h, kh, c.stride.0, c.same),
        pad_before(xs.w, os.w, kw, c.stride.1, c.same),
    );
    let inside = |o: usize, k: usize, s: usize, pad: usize, n: usize| {
        (o * s + k).checked_sub(pad).filter(|&i| i < n)
    };
    out.par_chunks_mut(os.w * os.c)
        .enumerate()
        .for_each(|(oy, row)| {
            for (ox, acc) in row.chunks_exact_mut(os.c).enumerate() {
                acc.copy_from_slice(bias);
                for ky in 0..kh {
                    let Some(iy) = inside(oy, ky, c.stride.0, py, xs.h) else {
                        continue;
                    };
                    for kx in 0..kw {
                        let Some(ix) = inside(ox, kx, c.stride.1, px, xs.w) else {
                            continue;
                        };
                        tap(acc, &x[(iy * xs.w + ix) * xs.c..][..xs.c], ky * kw + kx);
                    }
                }
                acc.iter_mut().for_each(|a| *a = activate(*a, c.act));
            }
        });
}

/// `acc += Σ pixel[i] · taps[i][..]`, taps `[in][out]`. Eight outputs at a time are kept in
/// registers across the whole input (each weight is loaded once, the sums never go back to
/// memory in between); the order of the additions, and so the result, is the plain loop's.
fn dot_rows(acc: &mut [f32], pixel: &[f32], taps: &[f32]) {
    const LANES: usize = 8;
    let n = acc.len();
    let blocks = n / LANES * LANES;
    for o in (0..blocks).step_by(LANES) {
        let mut r: [f32; LANES] = acc[o..o + LANES].try_into().expect("eight");
        for (&v, w) in pixel.iter().zip(taps.chunks_exact(n)) {
            let w: &[f32; LANES] = w[o..o + LANES].try_into().expect("eight");
            for (r, &w) in r.iter_mut().zip(w) {
                *r += v * w;
            }
        }
        acc[o..o + LANES].copy_from_slice(&r);
    }
    if blocks < n {
        for (&v, w) in pixel.iter().zip(taps.chunks_exact(n)) {
            for (a, &w) in acc[blocks..].iter_mut().zip(&w[blocks..]) {
                *a += v * w;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn conv(
    x: &[f32],
    xs: &Shape,
    filter: &[f32],
    bias: &[f32],
    kernel: (usize, usize),
    c: &Conv,
    out: &mut [f32],
    os: &Shape,
) {
    let per_tap = xs.c * os.c;
    window(x, xs, bias, kernel, c, out, os, |acc, pixel, k| {
        dot_rows(acc, pixel, &filter[k * per_tap..][..per_tap]);
    });
}

#[allow(clippy::too_many_arguments)]
fn depthwise(
    x: &[f32],
    xs: &Shape,
    filter: &[f32],
    bias: &[f32],
    kernel: (usize, usize),
    c: &Conv,
    out: &mut [f32],
    os: &Shape,
) {
    let ch = xs.c;
    window(x, xs, bias, kernel, c, out, os, |acc, pixel, k| {
        for ((a, &v), &w) in acc.iter_mut().zip(pixel).zip(&filter[k * ch..][..ch]) {
            *a += v * w;
        }
    });
}

/// Each input pixel spreads over a `kh × kw` block of the output, `stride` apart.
#[allow(clippy::too_many_arguments)]
fn transpose_conv(
    x: &[f32],
    xs: &Shape,
    filter: &[f32],
    bias: &[f32],
    (kh, kw): (usize, usize),
    c: &Conv,
    out: &mut [f32],
    os: &Shape,
) {
    let pad = |input: usize, output: usize, k: usize, s: usize| {
        if c.same {
            ((input - 1) * s + k).saturating_sub(output) / 2
        } else {
            0
        }
    };
    let (py, px) = (
        pad(xs.h, os.h, kh, c.stride.0),
        pad(xs.w, os.w, kw, c.stride.1),
    );
    let (ci, co) = (xs.c, os.c);
    for px_out in out.chunks_exact_mut(co) {
        px_out.copy_from_slice(bias);
    }
    for iy in 0..xs.h {
        for ix in 0..xs.w {
            let pixel = &x[(iy * xs.w + ix) * ci..][..ci];
            for ky in 0..kh {
                let Some(oy) = (iy * c.stride.0 + ky).checked_sub(py).filter(|&y| y < os.h) else {
                    continue;
                };
                for kx in 0..kw {
                    let Some(ox) = (ix * c.stride.1 + kx).checked_sub(px).filter(|&v| v < os.w)
                    else {
                        continue;
                    };
                    let acc = &mut out[(oy * os.w + ox) * co..][..co];
                    dot_rows(acc, pixel, &filter[(ky * kw + kx) * ci * co..][..ci * co]);
                }
            }
        }
    }
}

/// `a op b` where `b` has `a`'s shape or one value per channel.
fn binary(a: &[f32], b: &[f32], out: &mut [f32], act: Act, f: impl Fn(f32, f32) -> f32) {
    if a.len() == b.len() {
        for ((o, &p), &q) in out.iter_mut().zip(a).zip(b) {
            *o = activate(f(p, q), act);
        }
    } else {
        for (o, p) in out.chunks_exact_mut(b.len()).zip(a.chunks_exact(b.len())) {
            for ((o, &p), &q) in o.iter_mut().zip(p).zip(b) {
                *o = activate(f(p, q), act);
            }
        }
    }
}

fn unary(x: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = f(v);
    }
}

fn mean_hw(x: &[f32], xs: &Shape, out: &mut [f32]) {
    out.fill(0.0);
    for pixel in x.chunks_exact(xs.c) {
        for (o, &v) in out.iter_mut().zip(pixel) {
            *o += v;
        }
    }
    let n = (xs.h * xs.w) as f32;
    out.iter_mut().for_each(|o| *o /= n);
}

/// Source position and weight along one axis, as TFLite computes them.
fn source(
    o: usize,
    input: usize,
    output: usize,
    half_pixel: bool,
    align: bool,
) -> (usize, usize, f32) {
    let scale = if align && output > 1 {
        (input - 1) as f32 / (output - 1) as f32
    } else {
        input as f32 / output as f32
    };
    let pos = if half_pixel {
        ((o as f32 + 0.5) * scale - 0.5).max(0.0)
    } else {
        o as f32 * scale
    };
    let lo = (pos.floor() as usize).min(input - 1);
    let hi = (lo + 1).min(input - 1);
    (lo, hi, pos - pos.floor())
}

fn resize_bilinear(x: &[f32], xs: &Shape, out: &mut [f32], os: &Shape, half: bool, align: bool) {
    let c = xs.c;
    let cols: Vec<_> = (0..os.w)
        .map(|o| source(o, xs.w, os.w, half, align))
        .collect();
    for (oy, row) in out.chunks_exact_mut(os.w * c).enumerate() {
        let (y0, y1, fy) = source(oy, xs.h, os.h, half, align);
        for (o, &(x0, x1, fx)) in row.chunks_exact_mut(c).zip(&cols) {
            let p00 = &x[(y0 * xs.w + x0) * c..][..c];
            let p01 = &x[(y0 * xs.w + x1) * c..][..c];
            let p10 = &x[(y1 * xs.w + x0) * c..][..c];
            let p11 = &x[(y1 * xs.w + x1) * c..][..c];
            for i in 0..c {
                let top = p00[i] + (p01[i] - p00[i]) * fx;
                let bottom = p10[i] + (p11[i] - p10[i]) * fx;
                o[i] = top + (bottom - top) * fy;
            }
        }
    }
}
