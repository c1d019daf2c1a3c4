/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Tauri loads `ui/dist` (frontendDist) in release and http://localhost:5173 (devUrl) in dev.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  // Component tests need Svelte's browser build (mount), not the server one.
  resolve: (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.VITEST
    ? { conditions: ['browser'] }
    : undefined,
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['src/test/setup.ts'],
    include: ['src/**/*.test.ts'],
  },
});
