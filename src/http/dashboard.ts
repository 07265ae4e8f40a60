import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../errors.js';
import type { HttpDeps } from './deps.js';
import { responses } from './schemas.js';

/** Where `npm run build` puts the web app: <package root>/dist/web, from src/http and dist/http alike. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/**
 * The page may load only its own files and talk only to its own origin: no inline script, no
 * eval, no third-party anything, not framable. A second line of defence behind rendering every
 * client-supplied string as text.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_BUILT = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Cost Guardian</title></head>
<body>
<main>
<h1>Cost Guardian</h1>
<p>The dashboard has not been built. Run <code>npm run build</code>, then restart the service.
The admin API is available meanwhile: see <code>GET /data</code>, <code>GET /ingest/tokens</code>
and <code>GET /metrics</code>.</p>
</main>
</body>
</html>`;

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Asset {
  type: string;
  identity: Buffer;
  br: Buffer | undefined;
  gzip: Buffer | undefined;
}

/** The built assets, read once: a few files of tens of KB, each with its .br and .gz (see web/vite.config.ts). */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(dir)) return assets;
  for (const file of readdirSync(dir)) {
    const type = CONTENT_TYPES[path.extname(file)];
    if (!type) continue;
    const read = (name: string) =>
      existsSync(path.join(dir, name)) ? readFileSync(path.join(dir, name)) : undefined;
    assets.set(file, {
      type,
      identity: readFileSync(path.join(dir, file)),
      br: read(`${file}.br`),
      gzip: read(`${file}.gz`),
    });
  }
  return assets;
}

function acceptedEncodings(header: string | undefined): Set<string> {
  const accepted = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (name && !params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p))) accepted.add(name);
  }
  return accepted;
}

/**
 * GET /dashboard serves the built single-page app; /dashboard/assets/:file are its content-hashed
 * files, precompressed, cached for a year. The page itself is never cached, so a new build is
 * picked up at once.
 */
export function dashboardRoutes(
  _deps: HttpDeps,
  webRoot: string = DEFAULT_WEB_ROOT,
): FastifyPluginAsyncTypebox {
  return async (app) => {
    const indexFile = path.join(webRoot, 'index.html');
    const built = existsSync(indexFile);
    const page = built ? readFileSync(indexFile, 'utf8') : NOT_BUILT;
    if (!built) app.log.warn(`dashboard not built: ${indexFile} is missing; run npm run build`);
    const assets = loadAssets(path.join(webRoot, 'assets'));

    const sendPage = async (_request: unknown, reply: FastifyReply) =>
      securityHeaders(reply).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page);
    const schema = {
      summary: 'Web dashboard',
      tags: ['dashboard'],
      response: responses({ 200: Type.String() }),
    };
    app.get('/dashboard', { config: { auth: 'public' }, schema }, sendPage);
    app.get('/dashboard/', { config: { auth: 'public' }, schema }, sendPage);

    app.get(
      '/dashboard/assets/:file',
      {
        config: { auth: 'public' },
        schema: {
          summary: "The dashboard's built JS and CSS (content-hashed names)",
          tags: ['dashboard'],
          params: Type.Object({ file: Type.String({ maxLength: 200 }) }),
          response: responses({
            200: Type.String({ description: 'JavaScript or CSS, br/gzip when accepted.' }),
          }),
        },
      },
      async (request, reply) => {
        const asset = assets.get(request.params.file);
        if (!asset) throw new AppError('not_found', `No dashboard asset ${request.params.file}`);
        const accepted = acceptedEncodings(request.headers['accept-encoding']);
        reply
          .type(asset.type)
          .header('cache-control', 'public, max-age=31536000, immutable')
          .header('vary', 'accept-encoding')
          .header('x-content-type-options', 'nosniff');
        if (asset.br && accepted.has('br')) return reply.header('content-encoding', 'br').send(asset.br);
        if (asset.gzip && accepted.has('gzip'))
          return reply.header('content-encoding', 'gzip').send(asset.gzip);
        return reply.send(asset.identity);
      },
    );
  };
}
