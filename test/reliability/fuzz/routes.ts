import { createTestApp } from '../../helpers.js';

/** A JSON Schema as the OpenAPI document carries it (TypeBox output): only what the generators read. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
  $ref?: string;
}

export type RouteAuth = 'public' | 'admin' | 'ingest' | 'metrics';

/** One method on one URL pattern of the service, with its schemas when the OpenAPI document has them. */
export interface Route {
  method: string;
  /** Fastify's pattern: `/ingest/tokens/:id`, `/docs/*`. */
  url: string;
  auth: RouteAuth;
  params: Record<string, JsonSchema>;
  query: Record<string, JsonSchema>;
  body?: JsonSchema;
}

/**
 * Fastify's printRoutes() tree, flattened: one entry per method and full URL. The tree is the
 * router's own listing, so it includes what the OpenAPI document leaves out (HEAD routes, /docs
 * assets, the CORS preflight route).
 */
export function parseRouteTree(tree: string): { method: string; url: string }[] {
  const routes: { method: string; url: string }[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match =
      /^((?:[│ ] {3})*)[├└]── (.*) \(([A-Z, ]+)\)$/.exec(line) ?? /^((?:[│ ] {3})*)[├└]── (.*)$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(match[2] ?? '');
    for (const method of (match[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean)) {
      routes.push({ method, url: stack.join('') });
    }
  }
  return routes;
}

function withRecords(body: JsonSchema, record: JsonSchema): JsonSchema {
  const records = body.properties?.records ?? {};
  return { ...body, properties: { ...body.properties, records: { ...records, items: record } } };
}

interface OpenApiOperation {
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string; schema: JsonSchema }[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}

function authOf(operation: OpenApiOperation | undefined): RouteAuth {
  const schemes = (operation?.security ?? []).flatMap((s) => Object.keys(s));
  if (schemes.includes('metricsToken')) return 'metrics';
  if (schemes.includes('adminKey')) return 'admin';
  if (schemes.includes('ingestKey')) return 'ingest';
  return 'public';
}

/**
 * Every route of the app as it is built in production mode with CORS on: the router's table for
 * the list, the OpenAPI document for schemas and auth. Throws if the two disagree on a documented
 * route (the tree format changed, or a route escaped the document), so the fuzzer can never
 * silently skip one.
 */
export async function loadRoutes(env: Record<string, string>): Promise<Route[]> {
  const ctx = await createTestApp(env);
  try {
    const tree = ctx.app.printRoutes({ commonPrefix: false });
    const doc = (await ctx.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, OpenApiOperation>>;
    };
    const listed = parseRouteTree(tree);
    const routes: Route[] = listed.map(({ method, url }) => {
      const documented = doc.paths[url.replace(/:([A-Za-z_]+)/g, '{$1}')]?.[method.toLowerCase()];
      const parameters = documented?.parameters ?? [];
      const pick = (where: string) =>
        Object.fromEntries(parameters.filter((p) => p.in === where).map((p) => [p.name, p.schema]));
      const body = documented?.requestBody?.content['application/json']?.schema;
      return {
        method,
        url,
        auth: authOf(documented),
        params: pick('path'),
        query: pick('query'),
        ...(body ? { body } : {}),
      };
    });
    // The batch schema leaves its records open (each is validated on its own, so that one bad
    // record does not refuse the batch): generate them from the single-record schema.
    const record = routes.find((r) => r.method === 'POST' && r.url === '/ingest')?.body;
    for (const route of routes) {
      const items = route.body?.properties?.records?.items;
      if (record && items && !items.properties) route.body = withRecords(route.body ?? {}, record);
    }
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations)) {
        const url = path.replace(/\{([A-Za-z_]+)\}/g, ':$1');
        if (!routes.some((r) => r.url === url && r.method === method.toUpperCase())) {
          throw new Error(
            `${method.toUpperCase()} ${path} is in the OpenAPI document but not in the parsed route table`,
          );
        }
      }
    }
    return routes;
  } finally {
    await ctx.close();
  }
}
