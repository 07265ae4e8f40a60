import type { ReportProvider } from '../storage/provider-reports.js';

/**
 * A drift alert: for one day and model (and provider project, where one is mapped to a tracking
 * token), the usage Cost Guardian tracked costs notably less or more than the provider reports.
 * Positive drift: the provider billed more than was tracked (a call path nobody instrumented, usage
 * from somewhere nobody tracks). Negative: more was tracked than billed (a wrong price, a call
 * counted twice).
 */
export interface DriftEvent {
  kind: 'provider_drift';
  provider: ReportProvider;
  /** UTC day, YYYY-MM-DD. */
  day: string;
  model: string;
  /** The provider project (OpenAI project, Anthropic workspace) when the row is per project. */
  projectId: string | null;
  ingestTokenId: number | null;
  pushedCostNanoUsd: number;
  reportedCostNanoUsd: number;
  /** 'reported': the provider's cost report; 'estimated': its usage report at our prices. */
  reportedCostSource: 'reported' | 'estimated';
  /** reported - pushed. */
  driftNanoUsd: number;
  /** driftNanoUsd as a percentage of the reported cost; null when the provider reports 0. */
  driftPercent: number | null;
  detectedAt: number;
}

/**
 * Where drift alerts go. The alert channels (budgets' outbox and webhooks) are wired here at merge;
 * until then the service logs and counts them (logDriftAlerts).
 *
 * Contract: emit is called once per new or changed drift (the sync remembers what it raised);
 * it must not throw for a delivery problem (queue it, or log it) and must not block for long:
 * the sync awaits it.
 */
export interface DriftAlertSink {
  emit(event: DriftEvent): void | Promise<void>;
}

export interface DriftLog {
  warn(object: object, message: string): void;
}

/** The default sink: one warning log line and one counter per alert. */
export function logDriftAlerts(log: DriftLog, count: (provider: ReportProvider) => void): DriftAlertSink {
  return {
    emit(event) {
      count(event.provider);
      log.warn(
        { drift: event },
        `Provider drift ${event.provider} ${event.day} ${event.model}${event.projectId ? ` (project ${event.projectId})` : ''}: tracked ${(event.pushedCostNanoUsd / 1e9).toFixed(2)} USD, provider ${(event.reportedCostNanoUsd / 1e9).toFixed(2)} USD (${event.reportedCostSource})`,
      );
    },
  };
}
