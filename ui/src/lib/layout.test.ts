import { describe, expect, test } from 'vitest';
import { gridLayout, viewSize } from './layout';

const shape = (n: number, w = 1600, h = 900) => {
  const l = gridLayout(n, w, h);
  return [l.cols, l.rows];
};

describe('gridLayout', () => {
  test('no tiles or no room gives an empty grid', () => {
    expect(gridLayout(0, 800, 600)).toEqual({ cols: 0, rows: 0, tileWidth: 0, tileHeight: 0 });
    expect(gridLayout(3, 0, 600).cols).toBe(0);
  });

  test('16:9 landscape container: 1, 2, 3-4, 5-6, 7-9', () => {
    expect(shape(1)).toEqual([1, 1]);
    expect(shape(2)).toEqual([2, 1]);
    expect(shape(3)).toEqual([2, 2]);
    expect(shape(4)).toEqual([2, 2]);
    expect(shape(5)).toEqual([3, 2]);
    expect(shape(6)).toEqual([3, 2]);
    expect(shape(7)).toEqual([3, 3]);
    expect(shape(9)).toEqual([3, 3]);
    expect(shape(10)).toEqual([4, 3]);
    expect(shape(16)).toEqual([4, 4]);
  });

  test('a tall container stacks tiles vertically', () => {
    expect(shape(2, 400, 900)).toEqual([1, 2]);
    expect(shape(3, 400, 1200)).toEqual([1, 3]);
  });

  test('a very wide container puts tiles in one row', () => {
    expect(shape(3, 3000, 400)).toEqual([3, 1]);
  });

  test('tiles keep the aspect ratio and fit the container, gaps included', () => {
    for (let n = 1; n <= 25; n++) {
      const l = gridLayout(n, 1280, 720, 16 / 9, 8);
      expect(l.cols * l.rows).toBeGreaterThanOrEqual(n);
      expect(l.tileWidth * l.cols + 8 * (l.cols - 1)).toBeLessThanOrEqual(1280 + 1e-6);
      expect(l.tileHeight * l.rows + 8 * (l.rows - 1)).toBeLessThanOrEqual(720 + 1e-6);
      expect(l.tileWidth / l.tileHeight).toBeCloseTo(16 / 9);
    }
  });

  test('the chosen layout is the largest tile among all column counts', () => {
    const n = 7;
    const l = gridLayout(n, 1000, 1000);
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const w = Math.min(1000 / cols, (1000 / rows) * (16 / 9));
      expect(l.tileWidth).toBeGreaterThanOrEqual(w - 1e-9);
    }
  });
});

describe('viewSize', () => {
  test('scales by devicePixelRatio and rounds to even', () => {
    expect(viewSize(320, 180, 1)).toEqual({ width: 320, height: 180 });
    expect(viewSize(321, 181, 1.5)).toEqual({ width: 482, height: 272 });
    expect(viewSize(0, 0, 2)).toEqual({ width: 2, height: 2 });
  });
});
