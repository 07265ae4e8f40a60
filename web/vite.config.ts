import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

/**
 * The dashboard is built into dist/web and served by the service at /dashboard/ (src/http/dashboard.ts).
 * No inline script or style is emitted, so the page can run under a strict Content-Security-Policy.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/dashboard/',
  plugins: [preact()],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: 'es2022',
    reportCompressedSize: false,
  },
  server: {
    proxy: Object.fromEntries(
      ['/auth', '/data', '/events', '/ingest', '/models', '/usage', '/reset', '/metrics'].map((p) => [
        p,
        'http://127.0.0.1:5001',
      ]),
    ),
  },
});
