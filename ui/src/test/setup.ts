// jsdom has no canvas: make getContext quietly return null (instead of logging "Not implemented"),
// which is what a webview without WebGL does; the renderer then falls back / no-ops.
HTMLCanvasElement.prototype.getContext = function getContext() {
  return null;
} as typeof HTMLCanvasElement.prototype.getContext;

if (!('ResizeObserver' in globalThis)) {
  class RO {
    constructor(private cb: ResizeObserverCallback) {}
    observe(): void {}
    unobserve(): void {}
    disconnect(): void {}
  }
  (globalThis as unknown as { ResizeObserver: unknown }).ResizeObserver = RO;
}

// Tests read English unless they pick another language, whatever the machine's locale is.
import { beforeEach } from 'vitest';
import { setLanguage } from '../lib/i18n';
beforeEach(() => setLanguage('en'));
