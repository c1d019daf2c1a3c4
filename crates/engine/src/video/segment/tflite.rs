//! Reads a TFLite flatbuffer (float32 weights, or float16 weights behind DEQUANTIZE) into a
//! [`Graph`] of the few operators a MobileNetV3-style segmentation network uses. Anything else
//! is refused with the operator's name, at load time.
//!
//! Field numbers follow TensorFlow Lite's `schema.fbs`.

use super::ModelError;
use super::flatbuf::{Table, Vector};

/// Fused activation after an operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    None,
    Relu,
    Relu6,
}

/// Convolution geometry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conv {
    pub stride: (usize, usize),
    /// TensorFlow's SAME padding (else VALID).
    pub same: bool,
    pub act: Act,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OpKind {
    /// Filter `[out, kh, kw, in]`.
    Conv2d(Conv),
    /// Filter `[1, kh, kw, channels]` (depth multiplier 1).
    Depthwise(Conv),
    /// MediaPipe's `Convolution2DTransposeBias`: filter `[out, kh, kw, in]`, bias `[out]`.
    TransposeConvBias(Conv),
    Add(Act),
    Mul(Act),
    Relu,
    HardSwish,
    Logistic,
    /// Mean over height and width, keeping the dimensions.
    MeanHw,
    ResizeBilinear {
        half_pixel: bool,
        align_corners: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub kind: OpKind,
    pub inputs: Vec<usize>,
    pub output: usize,
}

/// A tensor's shape and, for weights, its values.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Option<Vec<f32>>,
    /// Integer constants (axes, sizes).
    pub ints: Option<Vec<i32>>,
}

impl Tensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

#[derive(Debug, Clone)]
pub struct Graph {
    pub tensors: Vec<Tensor>,
    pub ops: Vec<Op>,
    pub input: usize,
    pub output: usize,
}

const FLOAT32: u8 = 0;
const FLOAT16: u8 = 1;
const INT32: u8 = 2;

const ADD: i32 = 0;
const CONV_2D: i32 = 3;
const DEPTHWISE_CONV_2D: i32 = 4;
const DEQUANTIZE: i32 = 6;
const LOGISTIC: i32 = 14;
const MUL: i32 = 18;
const RELU: i32 = 19;
const RESIZE_BILINEAR: i32 = 23;
const CUSTOM: i32 = 32;
const MEAN: i32 = 40;
const HARD_SWISH: i32 = 117;

fn need<T>(v: Option<T>, what: &'static str) -> Result<T, ModelError> {
    v.ok_or(ModelError::Corrupt(what))
}

fn index(i: i32, n: usize) -> Result<usize, ModelError> {
    usize::try_from(i)
        .ok()
        .filter(|&i| i < n)
        .ok_or(ModelError::Corrupt("tensor index out of range"))
}

fn act(code: u8) -> Result<Act, ModelError> {
    match code {
        0 => Ok(Act::None),
        1 => Ok(Act::Relu),
        3 => Ok(Act::Relu6),
        _ => Err(ModelError::Unsupported(format!("fused activation {code}"))),
    }
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if frac == 0 => sign,
        0 => {
            // Subnormal: normalise.
            let shift = frac.leading_zeros() - 21;
            sign | ((113 - shift) << 23) | ((frac << (shift + 1)) & 0x3ff) << 13
        }
        0x1f => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 112) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

/// A tensor's raw bytes as typed values.
enum Raw {
    F32(Vec<f32>),
    F16(Vec<f32>),
    I32(Vec<i32>),
    Other,
}

fn raw(kind: u8, bytes: &[u8]) -> Raw {
    let words4 = || bytes.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]);
    match kind {
        FLOAT32 => Raw::F32(words4().map(f32::from_le_bytes).collect()),
        INT32 => Raw::I32(words4().map(i32::from_le_bytes).collect()),
        FLOAT16 => Raw::F16(
            bytes
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
        ),
        _ => Raw::Other,
    }
}

impl Graph {
    pub fn parse(buf: &[u8]) -> Result<Self, ModelError> {
        let model = Table::root(buf)?;
        let codes = need(model.vector(1)?, "no operator codes")?;
        let subgraphs = need(model.vector(2)?, "no subgraphs")?;
        let buffers = need(model.vector(4)?, "no buffers")?;
        if subgraphs.len() != 1 {
            return Err(ModelError::Unsupported(format!(
                "{} subgraphs",
                subgraphs.len()
            )));
        }
        let g = subgraphs.table(0)?;
        let tensors_fb = need(g.vector(0)?, "no tensors")?;
        let mut tensors = Vec::with_capacity(tensors_fb.len());
        let mut f16_consts = vec![None; tensors_fb.len()];
        for (i, f16_const) in f16_consts.iter_mut().enumerate() {
            let t = tensors_fb.table(i)?;
            let shape = match t.vector(0)? {
                Some(v) => v
                    .i32s()?
                    .into_iter()
                    .map(|d| usize::try_from(d).map_err(|_| ModelError::Corrupt("negative dim")))
                    .collect::<Result<Vec<_>, _>>()?,
                None => Vec::new(),
            };
            let kind = t.u8(1, FLOAT32)?;
            let buffer = t.i32(2, 0)?;
            let bytes = match buffer {
                0 => None,
                b => buffers
                    .table(index(b, buffers.len())?)?
                    .vector(0)?
                    .map(|v| v.bytes(1))
                    .transpose()?
                    .filter(|b| !b.is_empty()),
            };
            let mut tensor = Tensor {
                shape,
                data: None,
                ints: None,
            };
            if let Some(bytes) = bytes {
                match raw(kind, bytes) {
                    Raw::F32(v) => tensor.data = Some(v),
                    Raw::I32(v) => tensor.ints = Some(v),
                    Raw::F16(v) => *f16_const = Some(v),
                    Raw::Other => {
                        return Err(ModelError::Unsupported(format!("tensor type {kind}")));
                    }
                }
            } else if kind != FLOAT32 {
                return Err(ModelError::Unsupported(format!(
                    "non-float activations (type {kind})"
                )));
            }
            if tensor
                .data
                .as_ref()
                .is_some_and(|d| d.len() != tensor.len())
            {
                return Err(ModelError::Corrupt("weights do not match their shape"));
            }
            tensors.push(tensor);
        }
        let n = tensors.len();
        let one = |v: Option<Vector<'_>>, what: &'static str| -> Result<usize, ModelError> {
            let v = need(v, what)?.i32s()?;
            match v.as_slice() {
                [i] => index(*i, n),
                _ => Err(ModelError::Unsupported(format!("{} {what}", v.len()))),
            }
        };
        let input = one(g.vector(1)?, "inputs")?;
        let output = one(g.vector(2)?, "outputs")?;
        let ops_fb = need(g.vector(3)?, "no operators")?;
        let mut ops = Vec::with_capacity(ops_fb.len());
        for i in 0..ops_fb.len() {
            let op = ops_fb.table(i)?;
            let code_index = op.i32(0, 0)?;
            let code = codes.table(index(code_index, codes.len())?)?;
            let builtin = (code.u8(0, 0)? as i32).max(code.i32(3, 0)?);
            let inputs = need(op.vector(1)?, "operator without inputs")?
                .i32s()?
                .into_iter()
                .map(|i| index(i, n))
                .collect::<Result<Vec<_>, _>>()?;
            let output = one(op.vector(2)?, "operator outputs")?;
            let options = op.table(4)?;
            let kind = match builtin {
                DEQUANTIZE => {
                    let values = f16_consts[inputs[0]]
                        .take()
                        .ok_or(ModelError::Unsupported("DEQUANTIZE of activations".into()))?;
                    if values.len() != tensors[output].len() {
                        return Err(ModelError::Corrupt("weights do not match their shape"));
                    }
                    tensors[output].data = Some(values);
                    continue;
                }
                CONV_2D | DEPTHWISE_CONV_2D => {
                    let o = need(options, "convolution without options")?;
                    let (act_field, dil_fields) = if builtin == CONV_2D {
                        (3, [4, 5])
                    } else {
                        if o.i32(3, 1)? != 1 {
                            return Err(ModelError::Unsupported("depth multiplier".into()));
                        }
                        (4, [5, 6])
                    };
                    if o.i32(dil_fields[0], 1)? != 1 || o.i32(dil_fields[1], 1)? != 1 {
                        return Err(ModelError::Unsupported("dilated convolution".into()));
                    }
                    let conv = Conv {
                        same: o.u8(0, 0)? == 0,
                        stride: (stride(o.i32(2, 1)?)?, stride(o.i32(1, 1)?)?),
                        act: act(o.u8(act_field, 0)?)?,
                    };
                    if builtin == CONV_2D {
                        OpKind::Conv2d(conv)
                    } else {
                        OpKind::Depthwise(conv)
                    }
                }
                ADD | MUL => {
                    let a = act(options.map(|o| o.u8(0, 0)).transpose()?.unwrap_or(0))?;
                    if builtin == ADD {
                        OpKind::Add(a)
                    } else {
                        OpKind::Mul(a)
                    }
                }
                RELU => OpKind::Relu,
                HARD_SWISH => OpKind::HardSwish,
                LOGISTIC => OpKind::Logistic,
                MEAN => {
                    let keep = options.map(|o| o.u8(0, 0)).transpose()?.unwrap_or(0) != 0;
                    let axes = inputs.get(1).and_then(|&a| tensors[a].ints.clone());
                    if !keep || axes.as_deref() != Some(&[1, 2]) {
                        return Err(ModelError::Unsupported("MEAN other than over H, W".into()));
                    }
                    OpKind::MeanHw
                }
                RESIZE_BILINEAR => {
                    let o = options;
                    OpKind::ResizeBilinear {
                        align_corners: o.map(|o| o.u8(2, 0)).transpose()?.unwrap_or(0) != 0,
                        half_pixel: o.map(|o| o.u8(3, 0)).transpose()?.unwrap_or(0) != 0,
                    }
                }
                CUSTOM => match code.string(1)? {
                    Some("Convolution2DTransposeBias") => {
                        OpKind::TransposeConvBias(transpose_params(op.vector(5)?)?)
                    }
                    other => {
                        return Err(ModelError::Unsupported(format!(
                            "custom operator {}",
                            other.unwrap_or("?")
                        )));
                    }
                },
                other => {
                    return Err(ModelError::Unsupported(format!("builtin operator {other}")));
                }
            };
            ops.push(Op {
                kind,
                inputs,
                output,
            });
        }
        let graph = Self {
            tensors,
            ops,
            input,
            output,
        };
        graph.check()?;
        Ok(graph)
    }

    /// Shapes every kernel relies on, checked once, so a damaged file is an error here rather
    /// than an out-of-bounds access later.
    fn check(&self) -> Result<(), ModelError> {
        for op in &self.ops {
            let bad = |why: &str| ModelError::Unsupported(format!("{:?}: {why}", op.kind));
            let hwc = |t: usize| match self.tensors[t].shape[..] {
                [1, h, w, c] if h * w * c > 0 => Ok((h, w, c)),
                _ => Err(bad("not a 1×H×W×C tensor")),
            };
            let (input, output) = (hwc(op.inputs[0])?, hwc(op.output)?);
            if self.tensors[op.output].data.is_some() {
                return Err(bad("writes a constant"));
            }
            let arg = |i: usize| op.inputs.get(i).map(|&t| &self.tensors[t]);
            match op.kind {
                OpKind::Conv2d(c) | OpKind::Depthwise(c) | OpKind::TransposeConvBias(c) => {
                    let (Some(f), Some(b)) = (arg(1), arg(2)) else {
                        return Err(bad("needs a filter and a bias"));
                    };
                    let [fo, kh, kw, fi] = f.shape[..] else {
                        return Err(bad("filter is not 4-D"));
                    };
                    let depthwise = matches!(op.kind, OpKind::Depthwise(_));
                    let (want_in, want_out) = if depthwise { (fi, fi) } else { (fi, fo) };
                    let out_len = |n: usize, k: usize, s: usize| match op.kind {
                        OpKind::TransposeConvBias(_) if c.same => n * s,
                        OpKind::TransposeConvBias(_) => (n - 1) * s + k,
                        _ if c.same => n.div_ceil(s),
                        _ => n.saturating_sub(k) / s + 1,
                    };
                    if f.data.is_none()
                        || b.data.as_ref().map(Vec::len) != Some(want_out)
                        || (depthwise && fo != 1)
                        || input.2 != want_in
                        || output.2 != want_out
                        || kh * kw == 0
                        || output.0 != out_len(input.0, kh, c.stride.0)
                        || output.1 != out_len(input.1, kw, c.stride.1)
                    {
                        return Err(bad("filter, bias and sizes do not agree"));
                    }
                }
                OpKind::Add(_) | OpKind::Mul(_) => {
                    let Some(b) = arg(1) else {
                        return Err(bad("needs two inputs"));
                    };
                    let o = &self.tensors[op.output].shape;
                    let per_channel = b.len() == output.2 && b.shape.last() == Some(&output.2);
                    if self.tensors[op.inputs[0]].shape != *o || !(b.shape == *o || per_channel) {
                        return Err(bad("broadcast other than per channel"));
                    }
                }
                OpKind::Relu | OpKind::HardSwish | OpKind::Logistic if input != output => {
                    return Err(bad("output size differs from input"));
                }
                OpKind::MeanHw if output != (1, 1, input.2) => {
                    return Err(bad("output is not 1×1 per channel"));
                }
                OpKind::ResizeBilinear { .. } if output.2 != input.2 => {
                    return Err(bad("channel count changes"));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn stride(s: i32) -> Result<usize, ModelError> {
    usize::try_from(s)
        .ok()
        .filter(|&s| s > 0)
        .ok_or(ModelError::Corrupt("stride"))
}

/// `TfLiteTransposeConvParams` as raw bytes: padding (1 same, 2 valid), stride w, stride h.
fn transpose_params(v: Option<Vector>) -> Result<Conv, ModelError> {
    let v = need(v, "transpose convolution without options")?.bytes(1)?;
    let word = |i: usize| {
        v.get(4 * i..4 * i + 4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .ok_or(ModelError::Corrupt("transpose convolution options"))
    };
    Ok(Conv {
        same: word(0)? == 1,
        stride: (stride(word(2)?)?, stride(word(1)?)?),
        act: Act::None,
    })
}

#[cfg(test)]
mod tests {
    use super::f16_to_f32;

    #[test]
    fn half_floats_convert_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
    }
}
