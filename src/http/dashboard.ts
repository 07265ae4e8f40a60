import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from './deps.js';

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Cost Guardian</title></head>
<body>
<main>
<h1>Cost Guardian</h1>
<p>The dashboard is being rebuilt. The admin API is available: see <code>GET /data</code>,
<code>GET /ingest/tokens</code> and <code>GET /metrics</code>.</p>
</main>
</body>
</html>`;

export function dashboardRoutes(_deps: HttpDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/dashboard',
      {
        config: { auth: 'public' },
        schema: { summary: 'Web dashboard', tags: ['dashboard'], response: { 200: Type.String() } },
      },
      async (_request, reply) =>
        reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(PAGE),
    );
  };
}
