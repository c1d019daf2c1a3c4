import { chromaWidth, type I420Frame } from '../frame';

/**
 * BT.601 limited range (Y 16..235, UV 16..240) to RGB. The same coefficients as the WebGL
 * fragment shader in I420Renderer, so both paths show the same colours.
 */
export const BT601 = {
  y: 1.164383,
  rv: 1.596027,
  gu: -0.391762,
  gv: -0.812968,
  bu: 2.017232,
} as const;

const clamp = (x: number): number => (x < 0 ? 0 : x > 255 ? 255 : Math.round(x));

/** Converts an I420 frame to RGBA (for ImageData). `mirror` flips left/right. */
export function i420ToRgba(f: I420Frame, mirror = false, out?: Uint8ClampedArray): Uint8ClampedArray {
  const { width: w, height: h } = f;
  const rgba = out && out.length === w * h * 4 ? out : new Uint8ClampedArray(w * h * 4);
  const cw = chromaWidth(w);
  for (let row = 0; row < h; row++) {
    const crow = (row >> 1) * cw;
    for (let col = 0; col < w; col++) {
      const yy = BT601.y * (f.y[row * w + col] - 16);
      const u = f.u[crow + (col >> 1)] - 128;
      const v = f.v[crow + (col >> 1)] - 128;
      const o = (row * w + (mirror ? w - 1 - col : col)) * 4;
      rgba[o] = clamp(yy + BT601.rv * v);
      rgba[o + 1] = clamp(yy + BT601.gu * u + BT601.gv * v);
      rgba[o + 2] = clamp(yy + BT601.bu * u);
      rgba[o + 3] = 255;
    }
  }
  return rgba;
}
