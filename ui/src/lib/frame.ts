/**
 * Video frames as they arrive from the Rust side (set_view channel): a 16-byte little-endian
 * header `u32 width, u32 height, u64 timestamp_us`, then the I420 planes Y (w×h), U and V
 * (⌈w/2⌉×⌈h/2⌉ each). The UI asks for even sizes, but odd ones are accepted (chroma rounds up).
 */

export const FRAME_HEADER_BYTES = 16;

export interface I420Frame {
  width: number;
  height: number;
  timestampUs: number;
  y: Uint8Array;
  u: Uint8Array;
  v: Uint8Array;
}

export const chromaWidth = (w: number): number => (w + 1) >> 1;
export const chromaHeight = (h: number): number => (h + 1) >> 1;

export function i420Size(width: number, height: number): number {
  return width * height + 2 * chromaWidth(width) * chromaHeight(height);
}

/** Why a buffer was refused; null for a good frame. */
export class FrameError extends Error {}

/** Parses a frame without copying the planes (they are views on `buf`). Throws FrameError. */
export function parseFrame(buf: ArrayBuffer): I420Frame {
  if (buf.byteLength < FRAME_HEADER_BYTES) {
    throw new FrameError(`frame too short for its header: ${buf.byteLength} bytes`);
  }
  const dv = new DataView(buf);
  const width = dv.getUint32(0, true);
  const height = dv.getUint32(4, true);
  // u64 split in two so that this works without BigInt and stays exact up to 2^53 µs.
  const tsLo = dv.getUint32(8, true);
  const tsHi = dv.getUint32(12, true);
  const timestampUs = tsHi * 2 ** 32 + tsLo;
  if (width === 0 || height === 0 || width > 16384 || height > 16384) {
    throw new FrameError(`bad frame size ${width}x${height}`);
  }
  const ySize = width * height;
  const cSize = chromaWidth(width) * chromaHeight(height);
  const need = FRAME_HEADER_BYTES + ySize + 2 * cSize;
  if (buf.byteLength < need) {
    throw new FrameError(`frame ${width}x${height} needs ${need} bytes, got ${buf.byteLength}`);
  }
  let off = FRAME_HEADER_BYTES;
  const y = new Uint8Array(buf, off, ySize);
  off += ySize;
  const u = new Uint8Array(buf, off, cSize);
  off += cSize;
  const v = new Uint8Array(buf, off, cSize);
  return { width, height, timestampUs, y, u, v };
}

/** Builds a frame buffer (header + planes). Used by MockBackend and tests. */
export function buildFrame(
  width: number,
  height: number,
  timestampUs: number,
  fill: (y: Uint8Array, u: Uint8Array, v: Uint8Array) => void,
): ArrayBuffer {
  const buf = new ArrayBuffer(FRAME_HEADER_BYTES + i420Size(width, height));
  const dv = new DataView(buf);
  dv.setUint32(0, width, true);
  dv.setUint32(4, height, true);
  dv.setUint32(8, timestampUs % 2 ** 32, true);
  dv.setUint32(12, Math.floor(timestampUs / 2 ** 32), true);
  const f = parseFrame(buf);
  fill(f.y, f.u, f.v);
  return buf;
}

/**
 * A moving diagonal gradient (deterministic in `t`), with a hue that depends on `seed` so that
 * fake participants are told apart. Limited range: Y 16..235, U/V 16..240.
 */
export function gradientFrame(width: number, height: number, t: number, seed = 0): ArrayBuffer {
  return buildFrame(width, height, Math.round(t * 1000), (y, u, v) => {
    const shift = Math.floor(t / 20);
    for (let row = 0; row < height; row++) {
      for (let col = 0; col < width; col++) {
        y[row * width + col] = 16 + ((col + row + shift) % 220);
      }
    }
    const cw = chromaWidth(width);
    const ch = chromaHeight(height);
    const hu = 16 + ((seed * 53) % 224);
    const hv = 16 + ((seed * 97 + 80) % 224);
    for (let row = 0; row < ch; row++) {
      for (let col = 0; col < cw; col++) {
        u[row * cw + col] = (hu + ((col * 224) / cw) / 2) | 0;
        v[row * cw + col] = (hv + ((row * 224) / ch) / 2) | 0;
      }
    }
  });
}
