/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

function env(name: string): string | undefined {
  return (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env[name];
}

// Tauri loads `ui/dist` (frontendDist) in release and http://localhost:5173 (devUrl) in dev.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  // `npm run dev` in a plain browser uses the browser backend: its signaling goes to a local
  // `roomcast serve` (ROOMCAST_SERVER, default http://127.0.0.1:7880) through this proxy.
  server: {
    port: 5173,
    strictPort: true,
    proxy: { '/ws': { target: env('ROOMCAST_SERVER') ?? 'http://127.0.0.1:7880', ws: true } },
  },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  // Component tests need Svelte's browser build (mount), not the server one.
  resolve: env('VITEST') ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['src/test/setup.ts'],
    include: ['src/**/*.test.ts'],
  },
});
