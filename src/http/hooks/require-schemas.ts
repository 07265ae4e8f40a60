import type { FastifyInstance, RouteOptions } from 'fastify';

const TAKES_BODY = new Set(['POST', 'PUT', 'PATCH']);

/**
 * What a route is missing for a complete OpenAPI document: a success response schema always, a
 * body schema for methods that take one, a params schema for a path with parameters. Routes hidden
 * from the document (the /docs page's own assets) are exempt. Empty when the route is complete.
 */
export function missingRouteSchemas(route: Pick<RouteOptions, 'method' | 'url' | 'schema'>): string[] {
  const schema = route.schema as
    | { hide?: boolean; response?: Record<string, unknown>; body?: unknown; params?: unknown }
    | undefined;
  if (schema?.hide === true) return [];
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const problems: string[] = [];
  const successes = Object.keys(schema?.response ?? {}).filter((status) => /^2(\d\d|xx)$/.test(status));
  if (successes.length === 0) problems.push('no success (2xx) response schema');
  if (methods.some((method) => TAKES_BODY.has(method)) && schema?.body === undefined)
    problems.push('no body schema');
  if (/[:*]/.test(route.url) && schema?.params === undefined) problems.push('no params schema');
  return problems;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered, one entry per method (HEAD included), in registration order. */
    registeredRoutes: readonly { method: string; url: string }[];
  }
}

/**
 * Refuses, at registration, any route without the schemas the OpenAPI document needs; so a route
 * added without them fails every test that builds the app, not just a review.
 */
export function requireRouteSchemas(app: FastifyInstance, options: { hiddenUnder: string }): void {
  const registered: { method: string; url: string }[] = [];
  app.decorate('registeredRoutes', registered);
  app.addHook('onRoute', (route) => {
    for (const method of Array.isArray(route.method) ? route.method : [route.method])
      registered.push({ method, url: route.url });
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true;
    if (hidden && !route.url.startsWith(options.hiddenUnder)) {
      throw new Error(`route ${String(route.method)} ${route.url} is hidden from the OpenAPI document`);
    }
    const problems = missingRouteSchemas(route);
    if (problems.length > 0) {
      throw new Error(`route ${String(route.method)} ${route.url} has ${problems.join(', ')}`);
    }
  });
}
