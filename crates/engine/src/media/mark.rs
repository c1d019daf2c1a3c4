//! Synthetic camera with a machine-readable mark, and the reader for it.
//!
//! # How the mark is encoded
//!
//! The top band of the picture holds a grid of [`COLS`] × [`ROWS`] square luma cells, one
//! bit each, row-major, most significant bit first: black (Y=16) is 0, white (Y=235) is 1.
//! The 96 bits are
//!
//! | bits  | content                                                   |
//! |-------|-----------------------------------------------------------|
//! | 32    | frame counter (u32, from 0)                               |
//! | 48    | capture time in ms since the UNIX epoch, modulo 2^48      |
//! | 16    | CRC-16/CCITT-FALSE of the 10 bytes above, XOR `0x5A5A`    |
//!
//! The cell size is `min(width / 24, height / 8)`, rounded down to a multiple of 8 pixels
//! (to a multiple of 2 below 8 pixels) so cells line up with H.264 transform blocks; the
//! grid is centred horizontally and the rest of the band is mid grey. The band's chroma is
//! neutral. A reader recomputes the same layout from the frame size, averages the inner
//! half of each cell and thresholds at 128, so blur, ringing and quantisation from a
//! low-bitrate encoder leave the bits intact; the CRC rejects frames without a mark.
//!
//! Below the band the picture moves (a scrolling diagonal gradient, moving chroma and a
//! bouncing box) so the encoder does real work.

use super::{VideoFrame, VideoSource};

/// Cells per row of the mark grid.
pub const COLS: u32 = 24;
/// Rows of the mark grid.
pub const ROWS: u32 = 4;
const BITS: usize = (COLS * ROWS) as usize;
const CRC_XOR: u16 = 0x5A5A;
const BLACK: u8 = 16;
const WHITE: u8 = 235;
const GREY: u8 = 128;

/// What [`PatternSource`] draws into each picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoMark {
    pub counter: u32,
    /// Capture time in ms since the UNIX epoch (the mark carries it modulo 2^48).
    pub capture_ms: u64,
}

/// Synthetic camera: moving content plus a [`VideoMark`] in a band at the top.
pub struct PatternSource {
    width: u32,
    height: u32,
    fps: u32,
    counter: u32,
}

impl PatternSource {
    /// Odd sizes are rounded down to even (I420); sizes below 16x16 are raised to it.
    pub fn new(width: u32, height: u32, fps: u32) -> Self {
        Self {
            width: (width & !1).max(16),
            height: (height & !1).max(16),
            fps: fps.max(1),
            counter: 0,
        }
    }
}

impl VideoSource for PatternSource {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn fps(&self) -> u32 {
        self.fps
    }

    fn next_frame(&mut self, capture_us: u64) -> Option<VideoFrame> {
        let mut frame = VideoFrame::black(self.width, self.height);
        frame.capture_us = capture_us;
        draw_scene(&mut frame, self.counter);
        let mark = VideoMark {
            counter: self.counter,
            capture_ms: capture_us / 1000,
        };
        draw_mark(&mut frame, mark);
        self.counter = self.counter.wrapping_add(1);
        Some(frame)
    }
}

/// Cell size and band geometry for a frame size: (cell, left offset, band height).
fn layout(width: u32, height: u32) -> Option<(usize, usize, usize)> {
    let raw = (width / COLS).min(height / (2 * ROWS));
    let cell = if raw >= 8 { raw / 8 * 8 } else { raw / 2 * 2 };
    if cell < 4 {
        return None;
    }
    let left = (width - cell * COLS) / 2;
    Some((cell as usize, left as usize, (cell * ROWS) as usize))
}

fn draw_scene(frame: &mut VideoFrame, n: u32) {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let t = n as usize;
    for y in 0..h {
        for x in 0..w {
            frame.y[y * w + x] = 40 + ((x + y / 2 + t * 3) % 160) as u8;
        }
    }
    let (cw, ch) = (w / 2, h / 2);
    for y in 0..ch {
        for x in 0..cw {
            frame.u[y * cw + x] = 96 + ((x + t) % 64) as u8;
            frame.v[y * cw + x] = 96 + ((y + t / 2) % 64) as u8;
        }
    }
    // A box bouncing across the lower part of the picture.
    let size = (h / 5).max(4);
    let span_x = w.saturating_sub(size).max(1);
    let span_y = h.saturating_sub(size).max(1);
    let bx = bounce(t * 4, span_x);
    let by = bounce(t * 3, span_y);
    for y in by..(by + size).min(h) {
        for x in bx..(bx + size).min(w) {
            frame.y[y * w + x] = 220;
        }
    }
}

fn bounce(pos: usize, span: usize) -> usize {
    let p = pos % (2 * span);
    if p < span { p } else { 2 * span - p }
}

fn bits_of(mark: VideoMark) -> [bool; BITS] {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&mark.counter.to_be_bytes());
    bytes[4..10].copy_from_slice(&mark.capture_ms.to_be_bytes()[2..]);
    let crc = crc16(&bytes[..10]) ^ CRC_XOR;
    bytes[10..].copy_from_slice(&crc.to_be_bytes());
    let mut bits = [false; BITS];
    for (i, bit) in bits.iter_mut().enumerate() {
        *bit = bytes[i / 8] & (0x80 >> (i % 8)) != 0;
    }
    bits
}

fn draw_mark(frame: &mut VideoFrame, mark: VideoMark) {
    let Some((cell, left, band)) = layout(frame.width, frame.height) else {
        return;
    };
    let w = frame.width as usize;
    for row in frame.y.chunks_exact_mut(w).take(band) {
        row.fill(GREY);
    }
    let cw = w / 2;
    for row in frame.u.chunks_exact_mut(cw).take(band / 2) {
        row.fill(128);
    }
    for row in frame.v.chunks_exact_mut(cw).take(band / 2) {
        row.fill(128);
    }
    for (i, bit) in bits_of(mark).into_iter().enumerate() {
        let (r, c) = (i / COLS as usize, i % COLS as usize);
        let value = if bit { WHITE } else { BLACK };
        for y in r * cell..(r + 1) * cell {
            let start = y * w + left + c * cell;
            frame.y[start..start + cell].fill(value);
        }
    }
}

/// Reads the mark drawn by [`PatternSource`]; None if absent or its checksum fails.
pub fn read_mark(frame: &VideoFrame) -> Option<VideoMark> {
    frame.validate().ok()?;
    let (cell, left, _) = layout(frame.width, frame.height)?;
    let w = frame.width as usize;
    let inner = (cell / 4, cell - cell / 4);
    let mut bytes = [0u8; 12];
    for i in 0..BITS {
        let (r, c) = (i / COLS as usize, i % COLS as usize);
        let (x0, y0) = (left + c * cell, r * cell);
        let mut sum = 0u32;
        let mut count = 0u32;
        for y in y0 + inner.0..y0 + inner.1 {
            for x in x0 + inner.0..x0 + inner.1 {
                sum += u32::from(frame.y[y * w + x]);
                count += 1;
            }
        }
        if sum > 128 * count {
            bytes[i / 8] |= 0x80 >> (i % 8);
        }
    }
    let crc = u16::from_be_bytes([bytes[10], bytes[11]]);
    if crc16(&bytes[..10]) ^ CRC_XOR != crc {
        return None;
    }
    let counter = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let mut ms = [0u8; 8];
    ms[2..].copy_from_slice(&bytes[4..10]);
    Some(VideoMark {
        counter,
        capture_ms: u64::from_be_bytes(ms),
    })
}

/// CRC-16/CCITT-FALSE.
fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0xFFFFu16;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_round_trips_uncompressed_at_all_sizes() {
        for (w, h) in [(160, 90), (320, 180), (640, 360), (1280, 720), (1920, 1080)] {
            let mut source = PatternSource::new(w, h, 30);
            for k in 0..3u64 {
                let capture_us = 1_700_000_000_123_456 + k * 33_333;
                let frame = source.next_frame(capture_us).expect("pattern never ends");
                assert_eq!(
                    read_mark(&frame),
                    Some(VideoMark {
                        counter: k as u32,
                        capture_ms: capture_us / 1000
                    }),
                    "{w}x{h}"
                );
            }
        }
    }

    #[test]
    fn no_mark_on_black_white_or_noise() {
        assert_eq!(read_mark(&VideoFrame::black(320, 180)), None);
        let mut white = VideoFrame::black(320, 180);
        white.y.fill(235);
        assert_eq!(read_mark(&white), None);
        let mut noise = VideoFrame::black(640, 360);
        let mut x = 0x1234_5678u32;
        for p in &mut noise.y {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *p = x as u8;
        }
        assert_eq!(read_mark(&noise), None);
        let mut broken = VideoFrame::black(320, 180);
        broken.y.truncate(10);
        assert_eq!(read_mark(&broken), None);
    }
}
