import type { AlertMonitor } from '../budgets/alert-monitor.js';
import type { BudgetService } from '../budgets/budget-service.js';
import type { Config } from '../config.js';
import type { IngestService } from '../ingest/ingest-service.js';
import type { Clock, Timers } from '../lib/clock.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Pricer } from '../pricing/types.js';
import type { BucketStore } from '../ratelimit/bucket-store.js';
import type { ReportSync } from '../reports/report-sync.js';
import type { PriceBook } from '../repricing/price-book.js';
import type { RepriceService } from '../repricing/reprice-service.js';
import type { Store } from '../storage/store.js';
import type { Authenticator } from './hooks/auth.js';

/** What route modules get: everything is passed in, nothing is a module singleton. */
export interface HttpDeps {
  config: Config;
  store: Store;
  clock: Clock;
  /** Schedules on the clock's time line (tests pass a manual clock as both). */
  timers: Timers;
  pricer: Pricer;
  buckets: BucketStore;
  metrics: Metrics;
  ingest: IngestService;
  /** Key and session checks; the sign-in route uses it to count wrong keys like X-API-Key does. */
  authenticate: Authenticator;
  prices: PriceBook;
  reprice: RepriceService;
  budgets: BudgetService;
  /** The alert rules and the outbox sender; started by the server (server.ts), not by buildApp. */
  alerts: AlertMonitor;
  /** Provider usage and cost report pulls (started by server.ts, not by buildApp). */
  reports: ReportSync;
}
