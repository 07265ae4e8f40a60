/**
 * API types, taken from the server's TypeBox schemas (type-only imports: no server code reaches the
 * bundle). A change to a response schema breaks this build instead of the page.
 */
import type { Static } from 'typebox';
import type { MetricsBody } from '../../src/http/admin.js';
import type { SessionState } from '../../src/http/auth-session.js';
import type {
  AlertSettingsSchema,
  BudgetBody,
  BudgetDetailBody,
  ChannelBody,
  DeliveryBody,
} from '../../src/http/budgets.js';
import type { UsageRowBody } from '../../src/http/data.js';
import type { OverridesBody, RepriceBody } from '../../src/http/prices.js';
import type { TokenBody } from '../../src/http/tokens.js';
import type { SummaryBody, TagsBody, TimeseriesBody, TopBody } from '../../src/http/usage.js';

export type Session = Static<typeof SessionState>;
export type Token = Static<typeof TokenBody>;
export type UsageRow = Static<typeof UsageRowBody>;
export interface UsagePage {
  data: UsageRow[];
  next_cursor: string | null;
}
export type Summary = Static<typeof SummaryBody>;
export type Totals = Summary['current'];
export type Timeseries = Static<typeof TimeseriesBody>;
export type Top = Static<typeof TopBody>;
export type TagKeys = Static<typeof TagsBody>['keys'];
export type Overrides = Static<typeof OverridesBody>;
export type Reprice = Static<typeof RepriceBody>;
export type Metrics = Static<typeof MetricsBody>;

export type Budget = Static<typeof BudgetBody>;
export type BudgetDetail = Static<typeof BudgetDetailBody>;
export type AlertChannel = Static<typeof ChannelBody>;
export type Delivery = Static<typeof DeliveryBody>;
export type AlertSettings = Static<typeof AlertSettingsSchema>;
