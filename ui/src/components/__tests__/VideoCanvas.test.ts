import { render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import { buildFrame } from '../../lib/frame';
import { MockBackend } from '../../lib/mockBackend';
import VideoCanvas from '../VideoCanvas.svelte';

const original = HTMLCanvasElement.prototype.getContext;
afterEach(() => {
  HTMLCanvasElement.prototype.getContext = original;
});

describe('VideoCanvas', () => {
  test('draws frames from set_view and counts them in data-frames (2D fallback)', async () => {
    let puts = 0;
    HTMLCanvasElement.prototype.getContext = function (kind: string) {
      if (kind !== '2d') return null;
      return {
        createImageData: (w: number, h: number) => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4) }),
        putImageData: () => void puts++,
      };
    } as unknown as typeof original;
    const backend = new MockBackend();
    render(VideoCanvas, { props: { backend, viewId: 'bob', active: true, testid: 'cv' } });
    await waitFor(() => expect(backend.views.has('bob/main')).toBe(true));
    const canvas = screen.getByTestId('cv') as HTMLCanvasElement;
    expect(canvas.dataset.frames).toBe('0');
    for (let i = 0; i < 3; i++) {
      backend.pushFrames();
      await waitFor(() => expect(canvas.dataset.frames).toBe(String(i + 1)));
    }
    expect(puts).toBe(3);
    expect(canvas.width).toBe(320);
    // A malformed frame is dropped, not drawn, and does not throw.
    backend.views.get('bob/main')!.sink(new ArrayBuffer(10));
    backend.views.get('bob/main')!.sink(buildFrame(4, 4, 1, () => {}));
    await waitFor(() => expect(canvas.dataset.frames).toBe('4'));
  });

  test('inactive: no view is requested; becoming inactive stops it', async () => {
    const backend = new MockBackend();
    const r = render(VideoCanvas, { props: { backend, viewId: 'x', active: false } });
    await Promise.resolve();
    expect(backend.callsOf('set_view')).toHaveLength(0);
    await r.rerender({ active: true });
    await waitFor(() => expect(backend.callsOf('set_view')).toHaveLength(1));
    await r.rerender({ active: false });
    await waitFor(() => expect(backend.callsOf('stop_view')).toEqual([{ userId: 'x', stream: 'main' }]));
  });

  test('re-rendering with the same stream asks nothing new (no stop/start churn)', async () => {
    const backend = new MockBackend();
    const r = render(VideoCanvas, { props: { backend, viewId: 'x', active: true } });
    await waitFor(() => expect(backend.callsOf('set_view')).toHaveLength(1));
    for (let i = 0; i < 5; i++) await r.rerender({ viewId: 'x', active: true, mirror: i % 2 === 0 });
    await new Promise((res) => setTimeout(res, 300));
    expect(backend.callsOf('set_view')).toHaveLength(1);
    expect(backend.callsOf('stop_view')).toHaveLength(0);
    await r.rerender({ viewId: 'y', active: true });
    await waitFor(() => expect(backend.callsOf('stop_view')).toEqual([{ userId: 'x', stream: 'main' }]));
    expect(backend.callsOf('set_view').map((c) => (c as { userId: string }).userId)).toEqual(['x', 'y']);
    r.unmount();
    expect(backend.callsOf('stop_view')).toHaveLength(2);
  });
});
