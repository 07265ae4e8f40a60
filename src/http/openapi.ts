import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { VERSION } from '../version.js';
import type { HttpDeps } from './deps.js';
import type { RouteAuth } from './hooks/auth.js';
import { requireRouteSchemas } from './hooks/require-schemas.js';
import { responses } from './schemas.js';

/** Where the interactive reference lives; its assets are served from the package, so it works offline. */
export const DOCS_PREFIX = '/docs';
/** The OpenAPI document the docs page loads. */
export const OPENAPI_PATH = '/openapi.json';

/** Our mark (the dashboard's favicon) and name, for the docs page's top bar instead of Fastify's logo. */
export const DOCS_LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="230" height="40" viewBox="0 0 230 40" role="img" aria-label="Cost Guardian"><circle cx="20" cy="20" r="15" fill="#2563eb"/><text x="44" y="27" font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="21" font-weight="700" fill="#ffffff">Cost Guardian</text></svg>`;
const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#2563eb"/></svg>`;

const SECURITY: Record<RouteAuth, Record<string, string[]>[]> = {
  public: [],
  admin: [{ adminKey: [] }],
  ingest: [{ ingestKey: [] }],
  metrics: [{ adminKey: [] }, { metricsToken: [] }],
};

/**
 * Collects every route's schemas into an OpenAPI 3.1 document, and refuses routes without them.
 * Must be registered before the routes (both listen to onRoute). Each operation's `security`
 * comes from the route's `config.auth`.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  requireRouteSchemas(app, { hiddenUnder: DOCS_PREFIX });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Cost Guardian',
        version: VERSION,
        description:
          'Self-hosted cost tracking for LLM API calls. Apps push usage records to POST /ingest; the admin API reads them. Every error has the ErrorBody shape; docs/errors.md lists the codes.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      tags: [
        { name: 'ingest', description: 'Usage records from your apps (X-Ingest-Key).' },
        { name: 'usage', description: 'Reading and deleting usage (X-API-Key).' },
        { name: 'tokens', description: 'Tracking tokens (X-API-Key).' },
        { name: 'budgets', description: 'Budgets, forecasts and alerts (X-API-Key).' },
        { name: 'operations', description: 'Metrics and this document.' },
        { name: 'health', description: 'Liveness and readiness.' },
        { name: 'dashboard', description: 'The web dashboard.' },
        { name: 'deprecated', description: "The original's endpoints kept for old clients." },
        { name: 'reports', description: 'Provider usage and cost reports, reconciliation (X-API-Key).' },
      ],
      components: {
        securitySchemes: {
          adminKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'API_KEY.' },
          ingestKey: { type: 'apiKey', in: 'header', name: 'X-Ingest-Key', description: 'INGEST_KEY.' },
          metricsToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'METRICS_TOKEN (GET /metrics/prometheus only).',
          },
        },
      },
    },
    // Shared schemas ($id, e.g. ErrorBody) keep their names under components/schemas.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transform: ({ schema, url, route }) => {
      const auth = (route.config as { auth?: RouteAuth } | undefined)?.auth ?? 'public';
      return { schema: { ...schema, security: SECURITY[auth] } as typeof schema, url };
    },
  });
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: {
      url: OPENAPI_PATH,
      docExpansion: 'list',
      deepLinking: true,
      tryItOutEnabled: false,
      // The online validator badge would call validator.swagger.io: the page makes no outside requests.
      validatorUrl: null,
    },
    logo: { type: 'image/svg+xml', content: Buffer.from(DOCS_LOGO_SVG), href: '/dashboard' },
    theme: {
      title: 'Cost Guardian API',
      favicon: [
        {
          filename: 'favicon.svg',
          rel: 'icon',
          sizes: 'any',
          type: 'image/svg+xml',
          content: Buffer.from(FAVICON_SVG),
        },
      ],
    },
    // Everything comes from this server. No upgrade-insecure-requests: a plain-http deployment on a
    // LAN must still load the page's own assets.
    staticCSP:
      "default-src 'self'; base-uri 'self'; connect-src 'self'; img-src 'self' data:; font-src 'self' data:; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
  });
}

export function openApiRoutes(_deps: HttpDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      OPENAPI_PATH,
      {
        config: { auth: 'public' },
        schema: {
          summary: 'This API as an OpenAPI 3.1 document',
          description: `Generated from the route schemas. ${DOCS_PREFIX} renders it.`,
          tags: ['operations'],
          response: responses({
            200: Type.Object({ openapi: Type.String() }, { additionalProperties: true }),
          }),
        },
      },
      async () => app.swagger() as { openapi: string },
    );
  };
}
