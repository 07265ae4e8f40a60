import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import preact from '@preact/preset-vite';
import { defineConfig, type Plugin } from 'vite';

/**
 * Writes .br and .gz beside every built asset; the service sends them to browsers that accept
 * them (@fastify/static preCompressed), so no compression happens per request.
 */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'cost-guardian-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir, 'assets');
    },
    closeBundle() {
      for (const file of readdirSync(outDir)) {
        if (!/\.(js|css|svg)$/.test(file)) continue;
        const content = readFileSync(path.join(outDir, file));
        writeFileSync(path.join(outDir, `${file}.gz`), gzipSync(content, { level: 9 }));
        writeFileSync(
          path.join(outDir, `${file}.br`),
          brotliCompressSync(content, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        );
      }
    },
  };
}

/**
 * The dashboard is built into dist/web and served by the service at /dashboard/ (src/http/dashboard.ts).
 * No inline script or style is emitted, so the page can run under a strict Content-Security-Policy.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/dashboard/',
  plugins: [preact(), precompress()],
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
