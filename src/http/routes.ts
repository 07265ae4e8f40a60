import type { FastifyInstance } from 'fastify';
import { adminRoutes } from './admin.js';
import { authSessionRoutes } from './auth-session.js';
import { budgetRoutes } from './budgets.js';
import { dashboardRoutes } from './dashboard.js';
import { dataRoutes } from './data.js';
import type { HttpDeps } from './deps.js';
import { eventRoutes } from './events.js';
import { healthRoutes } from './health.js';
import { ingestRoutes } from './ingest.js';
import { openApiRoutes, registerOpenApi } from './openapi.js';
import { otlpRoutes } from './otlp.js';
import { priceRoutes } from './prices.js';
import { prometheusRoutes } from './prometheus.js';
import { reportRoutes } from './reports.js';
import { tokenRoutes } from './tokens.js';
import { usageRoutes } from './usage.js';

/**
 * The one route table. In URL order:
 *   GET|POST|DELETE /auth/session      public   auth-session.ts (dashboard sign-in)
 *   GET|POST /budgets, GET|PATCH|DELETE /budgets/:id, /budgets/channels[/:id[/test]],
 *   GET /budgets/deliveries, /budgets/alerts, GET|PATCH /budgets/alert-settings        admin   budgets.ts
 *   GET  /dashboard                    public   dashboard.ts
 *   GET  /data                         admin    data.ts
 *   GET  /events                       admin    events.ts (server-sent events for the dashboard)
 *   GET  /health, /ping                public   health.ts
 *   POST /ingest, /ingest/batch        ingest   ingest.ts
 *   GET|POST /ingest/tokens, PATCH /ingest/tokens/:id/active, DELETE /ingest/tokens/:id   admin   tokens.ts
 *   POST /log (deprecated), GET /metrics, GET /models, DELETE /reset                      admin   admin.ts
 *   GET /prices, GET|PUT /prices/overrides, GET|POST /prices/reprice, GET /prices/reprice/:id,
 *   POST /prices/reprice/:id/undo                                                          admin   prices.ts
 *   GET  /metrics/prometheus           admin or METRICS_TOKEN                            prometheus.ts
 *   GET /reports/status, POST /reports/sync, GET /reports/spend, GET /reports/reconciliation,
 *   GET /reports/projects, PUT /reports/projects/:provider/:project_id                  admin   reports.ts
 *   GET  /openapi.json, /docs          public   openapi.ts (registered first: it collects every route)
 *   GET  /usage/summary, /usage/timeseries, /usage/top, /usage/tags                       admin   usage.ts
 *   POST /v1/traces                    ingest   otlp.ts (OpenTelemetry spans in, OTLP/HTTP)
 * Removed v0.2 paths (/keys/*) are not routes: they answer the JSON 404.
 */
export async function registerRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  await registerOpenApi(app);
  await app.register(authSessionRoutes(deps));
  await app.register(budgetRoutes(deps));
  await app.register(dashboardRoutes(deps));
  await app.register(dataRoutes(deps));
  await app.register(eventRoutes(deps));
  await app.register(healthRoutes(deps));
  await app.register(ingestRoutes(deps));
  await app.register(tokenRoutes(deps));
  await app.register(adminRoutes(deps));
  await app.register(priceRoutes(deps));
  await app.register(prometheusRoutes(deps));
  await app.register(reportRoutes(deps));
  await app.register(openApiRoutes(deps));
  await app.register(usageRoutes(deps));
  await app.register(otlpRoutes(deps));
}
