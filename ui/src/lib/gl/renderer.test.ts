import { describe, expect, test, vi } from 'vitest';
import { buildFrame, parseFrame } from '../frame';
import { FpsCounter, I420Renderer } from './I420Renderer';
import { i420ToRgba } from './yuv';

const tiny = () =>
  parseFrame(
    buildFrame(2, 2, 0, (y, u, v) => {
      y.set([16, 235, 126, 126]); // black, white, two mid greys…
      u.set([128]);
      v.set([128]);
    }),
  );

describe('i420ToRgba (2D fallback)', () => {
  test('BT.601 limited range: 16 is black, 235 is white, neutral chroma is grey', () => {
    const rgba = i420ToRgba(tiny());
    expect([...rgba.slice(0, 4)]).toEqual([0, 0, 0, 255]);
    expect([...rgba.slice(4, 8)]).toEqual([255, 255, 255, 255]);
    expect(rgba[8]).toBe(rgba[9]);
    expect(rgba[9]).toBe(rgba[10]);
  });

  test('red and blue chroma', () => {
    const red = parseFrame(buildFrame(2, 2, 0, (y, u, v) => (y.fill(81), u.fill(90), v.fill(240))));
    const [r, g, b] = i420ToRgba(red);
    expect(r).toBeGreaterThan(250);
    expect(g).toBeLessThan(5);
    expect(b).toBeLessThan(5);
  });

  test('mirror flips columns', () => {
    const rgba = i420ToRgba(tiny(), true);
    expect([...rgba.slice(0, 4)]).toEqual([255, 255, 255, 255]);
    expect([...rgba.slice(4, 8)]).toEqual([0, 0, 0, 255]);
  });

  test('odd width uses the rounded-up chroma stride', () => {
    const f = parseFrame(buildFrame(3, 1, 0, (y, u, v) => (y.fill(126), u.set([128, 240]), v.set([128, 128]))));
    const rgba = i420ToRgba(f);
    expect(rgba[2]).toBe(rgba[0]); // col 0 neutral
    expect(rgba[10]).toBeGreaterThan(rgba[8]); // col 2 uses the 2nd chroma sample (blue)
  });
});

describe('I420Renderer', () => {
  test('without any context (jsdom) it fails soft', () => {
    const canvas = document.createElement('canvas');
    const r = new I420Renderer(canvas);
    expect(r.kind).toBe('none');
    expect(r.draw(tiny())).toBe(false);
    expect(canvas.width).toBe(2);
    r.destroy();
  });

  test('falls back to a 2D context and putImageData when WebGL is missing', () => {
    const canvas = document.createElement('canvas');
    const put = vi.fn();
    const ctx = {
      createImageData: (w: number, h: number) => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4) }),
      putImageData: put,
    };
    canvas.getContext = ((kind: string) => (kind === '2d' ? ctx : null)) as typeof canvas.getContext;
    const r = new I420Renderer(canvas);
    expect(r.kind).toBe('2d');
    expect(r.draw(tiny())).toBe(true);
    const img = put.mock.calls[0][0] as ImageData;
    expect([...img.data.slice(4, 8)]).toEqual([255, 255, 255, 255]);
  });
});

describe('FpsCounter', () => {
  test('counts frames and computes fps over one-second windows', () => {
    const c = new FpsCounter();
    for (let i = 0; i <= 30; i++) c.tick(i * (1000 / 30));
    expect(c.frames).toBe(31);
    expect(c.fps).toBe(30);
  });
});
