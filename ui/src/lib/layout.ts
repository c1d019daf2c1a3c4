/**
 * Video grid layout: for n tiles of a fixed aspect ratio in a W×H container, pick the number
 * of columns that makes the tiles largest (ties go to fewer empty cells, then to the shape of
 * the container). Pure, so it is tested
 * on its own and the component just applies the result.
 */
export interface GridLayout {
  cols: number;
  rows: number;
  /** Tile size in the container's units (CSS px), gaps excluded. */
  tileWidth: number;
  tileHeight: number;
}

export function gridLayout(
  n: number,
  width: number,
  height: number,
  aspect = 16 / 9,
  gap = 0,
): GridLayout {
  if (n <= 0 || width <= 0 || height <= 0) return { cols: 0, rows: 0, tileWidth: 0, tileHeight: 0 };
  let best: GridLayout | null = null;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    // Skip layouts with an entirely empty last row or column: they are never better.
    if ((cols - 1) * rows >= n) continue;
    const cellW = (width - gap * (cols - 1)) / cols;
    const cellH = (height - gap * (rows - 1)) / rows;
    if (cellW <= 0 || cellH <= 0) continue;
    const tileWidth = Math.min(cellW, cellH * aspect);
    const tileHeight = tileWidth / aspect;
    const cand = { cols, rows, tileWidth, tileHeight };
    if (
      !best ||
      tileWidth > best.tileWidth + 1e-9 ||
      (Math.abs(tileWidth - best.tileWidth) <= 1e-9 &&
        (cols * rows < best.cols * best.rows ||
          // Same size and cells: side by side in a landscape container, stacked in a portrait one.
          (cols * rows === best.cols * best.rows && width >= height)))
    ) {
      best = cand;
    }
  }
  return best ?? { cols: 1, rows: n, tileWidth: 0, tileHeight: 0 };
}

/** Device-pixel size to ask set_view for: CSS size × DPR, rounded to even, at least 2. */
export function viewSize(cssWidth: number, cssHeight: number, dpr: number): { width: number; height: number } {
  const even = (x: number): number => Math.max(2, 2 * Math.round((x * dpr) / 2));
  return { width: even(cssWidth), height: even(cssHeight) };
}
