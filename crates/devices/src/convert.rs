//! Pixel conversions into the engine's I420 (BT.601, studio range, even dimensions) and
//! box-filter downscaling. Pure functions: devices hand over bytes, these hand back frames.

use roomcast_engine::media::VideoFrame;

/// An RGB picture in memory: `stride` bytes per row, 4 bytes per pixel, `order` says where
/// red, green and blue sit in each pixel.
#[derive(Debug, Clone, Copy)]
pub struct Rgb4<'a> {
    pub data: &'a [u8],
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub order: ChannelOrder,
}

/// Byte positions of red, green and blue in a 4-byte pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelOrder {
    /// X11 ZPixmap on little-endian machines, most PipeWire screen streams. (xcap hands out
    /// RGBA on Windows and macOS, so only Linux builds it.)
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Bgra,
    Rgba,
}

impl ChannelOrder {
    fn offsets(self) -> (usize, usize, usize) {
        match self {
            Self::Bgra => (2, 1, 0),
            Self::Rgba => (0, 1, 2),
        }
    }
}

/// The largest even size no bigger than `max_w`x`max_h` with the aspect ratio of
/// `width`x`height`; never upscales, never below 2x2.
pub fn fit(width: u32, height: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    let (w, h) = (u64::from(width.max(1)), u64::from(height.max(1)));
    let (mw, mh) = (u64::from(max_w.max(2)), u64::from(max_h.max(2)));
    let (w, h) = if w <= mw && h <= mh {
        (w, h)
    } else if w * mh > h * mw {
        (mw, (h * mw / w).max(1))
    } else {
        ((w * mh / h).max(1), mh)
    };
    let even = |v: u64| (v as u32 & !1).max(2);
    (even(w), even(h))
}

fn luma(r: i32, g: i32, b: i32) -> u8 {
    (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16).clamp(0, 255) as u8
}

fn chroma(r: i32, g: i32, b: i32) -> (u8, u8) {
    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    (u.clamp(0, 255) as u8, v.clamp(0, 255) as u8)
}

/// I420 from any picture given as a pixel lookup; `width`/`height` must be even.
fn i420_from(width: u32, height: u32, pixel: impl Fn(usize, usize) -> [i32; 3]) -> VideoFrame {
    let (w, h) = (width as usize, height as usize);
    let mut frame = VideoFrame::black(width, height);
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = pixel(x, y);
            frame.y[y * w + x] = luma(r, g, b);
        }
    }
    for cy in 0..h / 2 {
        for cx in 0..w / 2 {
            let mut sum = [0; 3];
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let p = pixel(cx * 2 + dx, cy * 2 + dy);
                for k in 0..3 {
                    sum[k] += p[k];
                }
            }
            let (u, v) = chroma(sum[0] / 4, sum[1] / 4, sum[2] / 4);
            frame.u[cy * (w / 2) + cx] = u;
            frame.v[cy * (w / 2) + cx] = v;
        }
    }
    frame
}

/// Box-filter resampling of a `sw`x`sh` picture with `channels` values per pixel (read
/// through `value(x, y, channel)`) to `dw`x`dh`: each output value averages the source pixels
/// it covers, which keeps thin text legible when downscaling (nearest-neighbour upscaling).
pub fn box_scale(
    (sw, sh): (usize, usize),
    (dw, dh): (usize, usize),
    channels: usize,
    value: impl Fn(usize, usize, usize) -> u8,
) -> Vec<u8> {
    let (dw, dh) = (dw.max(1), dh.max(1));
    let mut out = Vec::with_capacity(dw * dh * channels);
    let mut sum = vec![0u32; channels];
    for dy in 0..dh {
        let y0 = dy * sh / dh;
        let y1 = ((dy + 1) * sh / dh).max(y0 + 1).min(sh.max(1));
        for dx in 0..dw {
            let x0 = dx * sw / dw;
            let x1 = ((dx + 1) * sw / dw).max(x0 + 1).min(sw.max(1));
            sum.iter_mut().for_each(|s| *s = 0);
            for y in y0..y1 {
                for x in x0..x1 {
                    for (c, s) in sum.iter_mut().enumerate() {
                        *s += u32::from(value(x, y, c));
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)).max(1) as u32;
            out.extend(sum.iter().map(|s| (s / n) as u8));
        }
    }
    out
}

/// Box-filter downscale of a 4-byte-per-pixel picture to `dw`x`dh`, as packed RGB.
pub fn scale_to_rgb(src: &Rgb4<'_>, dw: u32, dh: u32) -> Vec<u8> {
    let (ro, go, bo) = src.order.offsets();
    let offsets = [ro, go, bo];
    box_scale(
        (src.width as usize, src.height as usize),
        (dw as usize, dh as usize),
        3,
        |x, y, c| src.data[y * src.stride + x * 4 + offsets[c]],
    )
}

/// Packed RGB (3 bytes per pixel) to I420; odd dimensions lose their last row/column.
pub fn rgb_to_i420(rgb: &[u8], width: u32, height: u32) -> VideoFrame {
    let stride = width as usize * 3;
    i420_from(width & !1, height & !1, |x, y| {
        let p = &rgb[y * stride + x * 3..];
        [i32::from(p[0]), i32::from(p[1]), i32::from(p[2])]
    })
}

/// A 4-byte-per-pixel picture scaled to fit `max_w`x`max_h` (aspect kept) as I420.
pub fn rgb4_to_i420_fit(src: &Rgb4<'_>, max_w: u32, max_h: u32) -> VideoFrame {
    let (dw, dh) = fit(src.width, src.height, max_w, max_h);
    if (dw, dh) == (src.width, src.height) {
        let (ro, go, bo) = src.order.offsets();
        return i420_from(dw, dh, |x, y| {
            let p = &src.data[y * src.stride + x * 4..];
            [i32::from(p[ro]), i32::from(p[go]), i32::from(p[bo])]
        });
    }
    rgb_to_i420(&scale_to_rgb(src, dw, dh), dw, dh)
}

/// YUYV 4:2:2 (Y0 U Y1 V) to I420: chroma of each row pair averaged.
pub fn yuyv_to_i420(data: &[u8], width: u32, height: u32) -> VideoFrame {
    let (w, h) = ((width & !1) as usize, (height & !1) as usize);
    let stride = width as usize * 2;
    let mut frame = VideoFrame::black(w as u32, h as u32);
    for y in 0..h {
        for x in 0..w {
            frame.y[y * w + x] = data[y * stride + x * 2];
        }
    }
    for cy in 0..h / 2 {
        for cx in 0..w / 2 {
            let top = (cy * 2) * stride + cx * 4;
            let bottom = top + stride;
            let avg = |o: usize| {
                (u16::from(data[top + o]) + u16::from(data[bottom + o])).div_ceil(2) as u8
            };
            frame.u[cy * (w / 2) + cx] = avg(1);
            frame.v[cy * (w / 2) + cx] = avg(3);
        }
    }
    frame
}

/// NV12 (Y plane, then interleaved UV at half resolution) to I420.
pub fn nv12_to_i420(data: &[u8], width: u32, height: u32) -> VideoFrame {
    let (sw, sh) = (width as usize, height as usize);
    let (w, h) = (sw & !1, sh & !1);
    let mut frame = VideoFrame::black(w as u32, h as u32);
    for y in 0..h {
        frame.y[y * w..(y + 1) * w].copy_from_slice(&data[y * sw..y * sw + w]);
    }
    let uv = &data[sw * sh..];
    let uv_stride = sw.div_ceil(2) * 2;
    for cy in 0..h / 2 {
        for cx in 0..w / 2 {
            frame.u[cy * (w / 2) + cx] = uv[cy * uv_stride + cx * 2];
            frame.v[cy * (w / 2) + cx] = uv[cy * uv_stride + cx * 2 + 1];
        }
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BT.601 studio-range values of pure colours.
    const RED: (u8, u8, u8) = (82, 90, 240);
    const GREEN: (u8, u8, u8) = (145, 54, 34);
    const WHITE: (u8, u8, u8) = (235, 128, 128);

    fn assert_solid(frame: &VideoFrame, (y, u, v): (u8, u8, u8)) {
        frame.validate().expect("valid I420");
        let near = |a: u8, b: u8| a.abs_diff(b) <= 2;
        assert!(
            frame.y.iter().all(|&p| near(p, y)),
            "Y {:?} != {y}",
            &frame.y[..4]
        );
        assert!(
            frame.u.iter().all(|&p| near(p, u)),
            "U {:?} != {u}",
            &frame.u[..2]
        );
        assert!(
            frame.v.iter().all(|&p| near(p, v)),
            "V {:?} != {v}",
            &frame.v[..2]
        );
    }

    fn solid4(w: u32, h: u32, px: [u8; 4]) -> Vec<u8> {
        px.repeat((w * h) as usize)
    }

    fn picture(
        data: &[u8],
        width: u32,
        height: u32,
        stride: usize,
        order: ChannelOrder,
    ) -> Rgb4<'_> {
        Rgb4 {
            data,
            width,
            height,
            stride,
            order,
        }
    }

    #[test]
    fn bgra_and_rgba_known_colours() {
        let red_bgra = solid4(8, 6, [0, 0, 255, 255]);
        let src = picture(&red_bgra, 8, 6, 32, ChannelOrder::Bgra);
        assert_solid(&rgb4_to_i420_fit(&src, 1920, 1080), RED);
        let green_rgba = solid4(8, 6, [0, 255, 0, 255]);
        let src = picture(&green_rgba, 8, 6, 32, ChannelOrder::Rgba);
        assert_solid(&rgb4_to_i420_fit(&src, 1920, 1080), GREEN);
    }

    #[test]
    fn scaling_keeps_aspect_colour_and_even_size() {
        assert_eq!(fit(2560, 1440, 1920, 1080), (1920, 1080));
        assert_eq!(fit(3000, 1000, 1920, 1080), (1920, 640));
        assert_eq!(fit(1001, 3001, 1920, 1080), (360, 1080));
        assert_eq!(fit(641, 481, 1920, 1080), (640, 480));
        assert_eq!(fit(1, 1, 1920, 1080), (2, 2));
        let white = solid4(101, 51, [255, 255, 255, 0]);
        let src = picture(&white, 101, 51, 404, ChannelOrder::Bgra);
        let frame = rgb4_to_i420_fit(&src, 50, 50);
        assert_eq!((frame.width, frame.height), (50, 24));
        assert_solid(&frame, WHITE);
    }

    #[test]
    fn stride_padding_is_skipped() {
        let mut data = Vec::new();
        for _ in 0..4 {
            data.extend(solid4(4, 1, [0, 0, 255, 0]));
            data.extend([9; 8]); // padding to a 24-byte stride
        }
        let src = picture(&data, 4, 4, 24, ChannelOrder::Bgra);
        assert_solid(&rgb4_to_i420_fit(&src, 1920, 1080), RED);
    }

    #[test]
    fn yuyv_known_colour_and_odd_size() {
        let (y, u, v) = RED;
        let data = [y, u, y, v].repeat(3 * 5); // 6x5
        let frame = yuyv_to_i420(&data, 6, 5);
        assert_eq!((frame.width, frame.height), (6, 4));
        assert_solid(&frame, RED);
    }

    #[test]
    fn nv12_known_colour() {
        let (y, u, v) = GREEN;
        let mut data = vec![y; 8 * 4];
        data.extend([u, v].repeat(4 * 2));
        assert_solid(&nv12_to_i420(&data, 8, 4), GREEN);
    }

    #[test]
    fn rgb_known_colour() {
        let data = [255, 255, 255].repeat(4 * 4);
        assert_solid(&rgb_to_i420(&data, 4, 4), WHITE);
    }
}
