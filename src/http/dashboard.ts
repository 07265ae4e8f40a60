import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { HttpDeps } from './deps.js';

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

/**
 * GET /dashboard serves the built single-page app; /dashboard/assets/* are its content-hashed
 * files, cached for a year. The page itself is never cached, so a new build is picked up at once.
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

    const sendPage = async (_request: unknown, reply: FastifyReply) =>
      securityHeaders(reply).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page);
    const schema = { summary: 'Web dashboard', tags: ['dashboard'], response: { 200: Type.String() } };
    app.get('/dashboard', { config: { auth: 'public' }, schema }, sendPage);
    app.get('/dashboard/', { config: { auth: 'public' }, schema: { ...schema, hide: true } }, sendPage);

    if (built) {
      await app.register(fastifyStatic, {
        root: path.join(webRoot, 'assets'),
        prefix: '/dashboard/assets/',
        decorateReply: false,
        index: false,
        preCompressed: true,
        immutable: true,
        maxAge: '365d',
      });
    }
  };
}
