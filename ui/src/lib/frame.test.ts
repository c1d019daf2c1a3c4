import { describe, expect, test } from 'vitest';
import { buildFrame, FrameError, gradientFrame, i420Size, parseFrame } from './frame';

describe('parseFrame', () => {
  test('reads the little-endian header and slices the planes', () => {
    const buf = buildFrame(4, 2, 2 ** 40 + 12345, (y, u, v) => {
      y.set([1, 2, 3, 4, 5, 6, 7, 8]);
      u.set([9, 10]);
      v.set([11, 12]);
    });
    expect(buf.byteLength).toBe(16 + 8 + 2 + 2);
    const bytes = new Uint8Array(buf);
    expect([...bytes.slice(0, 8)]).toEqual([4, 0, 0, 0, 2, 0, 0, 0]);
    const f = parseFrame(buf);
    expect(f.width).toBe(4);
    expect(f.height).toBe(2);
    expect(f.timestampUs).toBe(2 ** 40 + 12345);
    expect([...f.y]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...f.u]).toEqual([9, 10]);
    expect([...f.v]).toEqual([11, 12]);
  });

  test('odd sizes round chroma up', () => {
    expect(i420Size(3, 3)).toBe(9 + 2 * 4);
    const f = parseFrame(buildFrame(3, 3, 0, () => {}));
    expect(f.u.length).toBe(4);
  });

  test('refuses short or empty frames', () => {
    expect(() => parseFrame(new ArrayBuffer(8))).toThrow(FrameError);
    const buf = buildFrame(4, 4, 0, () => {});
    expect(() => parseFrame(buf.slice(0, buf.byteLength - 1))).toThrow(/needs/);
    const zero = new ArrayBuffer(16);
    expect(() => parseFrame(zero)).toThrow(/bad frame size/);
  });

  test('the synthetic gradient is limited-range and moves with time', () => {
    const a = parseFrame(gradientFrame(32, 18, 0));
    const b = parseFrame(gradientFrame(32, 18, 1000));
    expect(Math.min(...a.y)).toBeGreaterThanOrEqual(16);
    expect(Math.max(...a.y)).toBeLessThanOrEqual(235);
    expect([...a.y]).not.toEqual([...b.y]);
  });
});
