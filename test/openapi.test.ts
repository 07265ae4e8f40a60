import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import Fastify from 'fastify';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { missingRouteSchemas, requireRouteSchemas } from '../src/http/hooks/require-schemas.js';
import { DOCS_LOGO_SVG } from '../src/http/openapi.js';
import { ADMIN_KEY, createTestApp, INGEST_KEY, type TestContext } from './helpers.js';

let ctx: TestContext;
let doc: {
  openapi: string;
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { schemas: Record<string, unknown> };
};
beforeAll(async () => {
  ctx = await createTestApp();
  const response = await ctx.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(response.statusCode).toBe(200);
  doc = response.json();
});
afterAll(async () => {
  await ctx.close();
});

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
  );

describe('the OpenAPI document', () => {
  test('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  test('describes every route the app serves, except the /docs page itself', () => {
    const routes = ctx.app.registeredRoutes
      .filter((route) => !route.url.startsWith('/docs') && !['HEAD', 'OPTIONS'].includes(route.method))
      .map((route) => `${route.method.toLowerCase()} ${route.url.replace(/:(\w+)/g, '{$1}')}`);
    const documented = operations().map(({ path, method }) => `${method} ${path}`);
    expect(routes.length).toBeGreaterThan(10);
    expect(documented.sort()).toEqual(routes.sort());
  });

  test('every operation has a success response with a schema and the shared error body', () => {
    for (const { path, method, operation } of operations()) {
      const responses = operation.responses as Record<
        string,
        { content?: Record<string, { schema?: unknown }> }
      >;
      const success = Object.entries(responses).filter(([status]) => status.startsWith('2'));
      expect(success.length, `${method} ${path}`).toBeGreaterThan(0);
      for (const [, response] of success) {
        const schemas = Object.values(response.content ?? {}).map((media) => media.schema);
        expect(schemas.length, `${method} ${path}`).toBeGreaterThan(0);
      }
      if (path !== '/dashboard') {
        expect(responses['400']?.content?.['application/json']?.schema, `${method} ${path}`).toEqual({
          $ref: '#/components/schemas/ErrorBody',
        });
      }
    }
    expect(doc.components.schemas.ErrorBody).toMatchObject({
      required: ['status', 'code', 'message', 'requestId'],
    });
  });

  test('every operation that takes input describes it', () => {
    for (const { path, method, operation } of operations()) {
      if (['post', 'put', 'patch'].includes(method)) {
        expect(operation.requestBody, `${method} ${path}`).toBeDefined();
      }
      for (const name of path.match(/\{(\w+)\}/g) ?? []) {
        const parameters = (operation.parameters ?? []) as { in: string; name: string }[];
        expect(
          parameters.some((p) => p.in === 'path' && `{${p.name}}` === name),
          `${method} ${path} ${name}`,
        ).toBe(true);
      }
    }
    const data = doc.paths['/data']?.get?.parameters as { in: string; name: string }[];
    expect(data.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(
      expect.arrayContaining(['start', 'end', 'model', 'ingest_token_id', 'limit', 'cursor', 'format']),
    );
  });

  test('operations name the credential they need', () => {
    expect(doc.paths['/ingest']?.post?.security).toEqual([{ ingestKey: [] }]);
    expect(doc.paths['/data']?.get?.security).toEqual([{ adminKey: [] }]);
    expect(doc.paths['/metrics/prometheus']?.get?.security).toEqual([{ adminKey: [] }, { metricsToken: [] }]);
    expect(doc.paths['/health']?.get?.security).toEqual([]);
  });
});

describe('routes without schemas', () => {
  test('are named with what they lack', () => {
    expect(missingRouteSchemas({ method: 'GET', url: '/x', schema: {} })).toEqual([
      'no success (2xx) response schema',
    ]);
    expect(
      missingRouteSchemas({ method: 'POST', url: '/x/:id', schema: { response: { 201: Type.Object({}) } } }),
    ).toEqual(['no body schema', 'no params schema']);
    expect(missingRouteSchemas({ method: 'GET', url: '/docs/static/*', schema: { hide: true } })).toEqual([]);
  });

  test('cannot be registered, so the app fails to build', async () => {
    const app = Fastify();
    requireRouteSchemas(app, { hiddenUnder: '/docs' });
    expect(() => app.get('/naked', async () => ({}))).toThrow(
      'route GET /naked has no success (2xx) response schema',
    );
    expect(() => app.get('/secret', { schema: { hide: true } }, async () => ({}))).toThrow('hidden');
    await app.close();
  });
});

describe('the /docs page', () => {
  test('loads only assets this server serves (it works offline)', async () => {
    const page = await ctx.app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(assets.length).toBeGreaterThan(3);
    for (const asset of assets) {
      expect(asset).not.toMatch(/^(https?:)?\/\//);
      const response = await ctx.app.inject({
        method: 'GET',
        url: new URL(asset, 'http://x/docs/').pathname,
      });
      expect(response.statusCode, asset).toBe(200);
    }
    const initializer = await ctx.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    expect(initializer.body).toContain('/openapi.json');
    const code = initializer.body
      .split('\n')
      .filter((line) => !line.trim().startsWith('//'))
      .join('\n');
    expect(code).not.toMatch(/https?:\/\//);
  });
});

test("the /docs page shows our logo and favicon, not Fastify's (issue 17.12)", async () => {
  const initializer = await ctx.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
  const logo = Buffer.from(DOCS_LOGO_SVG).toString('base64');
  expect(initializer.body).toContain(`data:image/svg+xml;base64,${logo}`);
  expect(Buffer.from(logo, 'base64').toString()).toContain('Cost Guardian');
  const page = await ctx.app.inject({ method: 'GET', url: '/docs/' });
  expect(page.body).toContain('./static/theme/favicon.svg');
  expect(page.body).not.toContain('favicon-32x32.png');
});

describe('request examples', () => {
  const bodies = () =>
    operations()
      .filter(({ operation }) => operation.requestBody !== undefined)
      .map(({ path, method, operation }) => {
        const media = (operation.requestBody as { content: Record<string, MediaType> }).content[
          'application/json'
        ];
        const examples = [
          ...(media?.example === undefined ? [] : [media.example]),
          ...Object.values(media?.examples ?? {}).map((e) => e.value),
        ];
        return { path, method, schema: media?.schema, examples };
      });
  type MediaType = { schema?: object; example?: unknown; examples?: Record<string, { value: unknown }> };

  // Issue 17.12: /docs offered {"model": "string"} as the example body of POST /ingest, a 400.
  test('every operation with a body documents an example that validates against its own schema', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    expect(bodies().length).toBeGreaterThanOrEqual(9);
    for (const { path, method, schema, examples } of bodies()) {
      expect(examples.length, `${method} ${path} has no example`).toBeGreaterThan(0);
      const validate = ajv.compile(schema ?? {});
      for (const example of examples) {
        expect(validate(example), `${method} ${path}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      }
    }
  });

  test('the app accepts every documented example body (none is a 400)', async () => {
    for (const { path, method, examples } of bodies()) {
      for (const example of examples) {
        const response = await ctx.app.inject({
          method: method.toUpperCase() as 'POST',
          url: path.replace('{provider}', 'openai').replace(/\{\w+\}/g, '1'),
          headers: { 'x-api-key': ADMIN_KEY, 'x-ingest-key': INGEST_KEY },
          payload: example as object,
        });
        expect(response.statusCode, `${method} ${path}: ${response.body}`).not.toBe(400);
        if (path === '/ingest/batch') {
          const reasons = response.json().results.map((r: { reason?: string }) => r.reason);
          expect(reasons, response.body).not.toContain('validation_error');
        }
      }
    }
  });
});
