import { useState } from 'preact/hooks';
import type { Static } from 'typebox';
import type { ReconciliationBody, ReportStatusBody, SpendBody } from '../../../src/http/reports.js';
import { api, errorText, withQuery } from '../api.js';
import { formatDateTime, formatInt, formatUsd } from '../format.js';
import { notify, useResource } from '../hooks.js';

/**
 * Provider reports: spend per day, model, project and API key from the providers' own usage and
 * cost reports (nothing needs to be instrumented), and the reconciliation of those reports with
 * the usage pushed to Cost Guardian, with the drift that passes the alert thresholds marked.
 */

type Status = Static<typeof ReportStatusBody>;
type Spend = Static<typeof SpendBody>;
type Reconciliation = Static<typeof ReconciliationBody>;
type SpendGroup = 'day' | 'model' | 'project' | 'api_key';

const RANGES = [7, 30, 90] as const;
const GROUPS: { id: SpendGroup; label: string }[] = [
  { id: 'day', label: 'Day' },
  { id: 'model', label: 'Model' },
  { id: 'project', label: 'Project' },
  { id: 'api_key', label: 'API key' },
];
const PROVIDER_NAMES: Record<string, string> = { openai: 'OpenAI', anthropic: 'Anthropic' };

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function percent(value: number | null): string {
  return value === null ? '—' : `${value > 0 ? '+' : ''}${value}%`;
}

export function ReportsView(props: { tick: number }) {
  const [days, setDays] = useState<(typeof RANGES)[number]>(30);
  const [group, setGroup] = useState<SpendGroup>('day');
  const [onlyAlerts, setOnlyAlerts] = useState(false);
  const [version, setVersion] = useState(0);
  const [pulling, setPulling] = useState(false);
  const end = isoDay(Date.now());
  const start = isoDay(Date.now() - (days - 1) * 86_400_000);
  const range = { start, end };

  const status = useResource(`status:${version}`, (signal) =>
    api<Status>('GET', '/reports/status', { signal }),
  );
  const configured = status.data?.providers.some((p) => p.configured) ?? false;
  const spend = useResource(`spend:${start}:${group}:${version}`, (signal) =>
    api<Spend>('GET', withQuery('/reports/spend', { ...range, group }), { signal }),
  );
  const reconciliation = useResource(`rec:${start}:${version}:${props.tick}`, (signal) =>
    api<Reconciliation>('GET', withQuery('/reports/reconciliation', range), { signal }),
  );

  const pull = async () => {
    setPulling(true);
    try {
      const result = await api<{ jobs: { error: string | null }[]; drift_alerts: number }>(
        'POST',
        '/reports/sync',
        {
          body: {},
        },
      );
      const failed = result.jobs.filter((job) => job.error !== null).length;
      notify(
        failed > 0 ? `Pulled, ${failed} report(s) failed: see the status` : 'Provider reports pulled',
        failed > 0 ? 'error' : 'info',
      );
    } catch (error) {
      notify(`Pull failed: ${errorText(error)}`, 'error');
    } finally {
      setPulling(false);
      setVersion((v) => v + 1);
    }
  };

  const recRows = (reconciliation.data?.rows ?? []).filter((row) => !onlyAlerts || row.alert);

  return (
    <>
      <section class="card" aria-busy={status.loading ? 'true' : 'false'}>
        <div class="card-head">
          <h2>Provider reports</h2>
          <div class="actions">
            <label>
              Period{' '}
              <select
                value={String(days)}
                onChange={(e) =>
                  setDays(Number((e.target as HTMLSelectElement).value) as (typeof RANGES)[number])
                }
              >
                {RANGES.map((n) => (
                  <option key={n} value={String(n)}>
                    Last {n} days
                  </option>
                ))}
              </select>
            </label>
            <button type="button" class="primary" onClick={pull} disabled={!configured || pulling}>
              {pulling ? 'Pulling…' : 'Pull now'}
            </button>
          </div>
        </div>
        {status.error ? (
          <p role="alert" class="error-text">
            Could not load the report status: {errorText(status.error)}
          </p>
        ) : null}
        {status.data && !configured ? (
          <p class="muted">
            No provider admin key is set. Set <code>OPENAI_ADMIN_KEY</code> or{' '}
            <code>ANTHROPIC_ADMIN_KEY</code> and restart: Cost Guardian then pulls the providers' usage and
            cost reports every {status.data.sync_interval_minutes} minutes and shows your spend here, with
            nothing instrumented.
          </p>
        ) : null}
        {status.data && configured ? (
          <ul class="report-status">
            {status.data.reports.map((report) => (
              <li key={`${report.provider}/${report.report}`}>
                <strong>{PROVIDER_NAMES[report.provider] ?? report.provider}</strong> {report.report}:{' '}
                {report.last_error ? (
                  <span class="badge warn" title={report.last_error}>
                    failed: {report.last_error}
                  </span>
                ) : (
                  <span class="muted">pulled {formatDateTime(report.last_success_at)}</span>
                )}
              </li>
            ))}
            {status.data.reports.length === 0 ? <li class="muted">Not pulled yet.</li> : null}
          </ul>
        ) : null}
      </section>

      <section class="card" aria-busy={spend.loading ? 'true' : 'false'}>
        <div class="card-head">
          <h2>Spend reported by the providers</h2>
          <fieldset class="segmented">
            <legend class="visually-hidden">Group by</legend>
            {GROUPS.map((g) => (
              <label key={g.id} class={group === g.id ? 'active' : undefined}>
                <input
                  type="radio"
                  name="report-group"
                  value={g.id}
                  checked={group === g.id}
                  onChange={() => setGroup(g.id)}
                />
                {g.label}
              </label>
            ))}
          </fieldset>
        </div>
        {spend.error ? (
          <p role="alert" class="error-text">
            Could not load spend: {errorText(spend.error)}
          </p>
        ) : null}
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Spend per {group} from the provider reports</caption>
            <thead>
              <tr>
                <th scope="col">{GROUPS.find((g) => g.id === group)?.label}</th>
                <th scope="col">Provider</th>
                <th scope="col" class="num">
                  Requests
                </th>
                <th scope="col" class="num">
                  Input
                </th>
                <th scope="col" class="num">
                  Output
                </th>
                <th scope="col" class="num">
                  Billed
                </th>
                <th scope="col" class="num">
                  At our prices
                </th>
              </tr>
            </thead>
            <tbody>
              {(spend.data?.rows ?? []).length === 0 && !spend.loading ? (
                <tr>
                  <td colSpan={7} class="muted empty">
                    No provider-reported usage in this period.
                  </td>
                </tr>
              ) : null}
              {(spend.data?.rows ?? []).map((row) => (
                <tr key={`${row.provider}/${row.key}`}>
                  <td class="label-cell" data-label={GROUPS.find((g) => g.id === group)?.label}>
                    {row.key === '' ? <span class="muted">(not named)</span> : row.key}
                  </td>
                  <td data-label="Provider">{PROVIDER_NAMES[row.provider] ?? row.provider}</td>
                  <td class="num" data-label="Requests">
                    {row.requests > 0 ? formatInt(row.requests) : '—'}
                  </td>
                  <td class="num" data-label="Input">
                    {formatInt(row.prompt_tokens)}
                  </td>
                  <td class="num" data-label="Output">
                    {formatInt(row.completion_tokens)}
                  </td>
                  <td class="num" data-label="Billed">
                    {formatUsd(row.reported_cost_usd)}
                  </td>
                  <td class="num" data-label="At our prices">
                    {formatUsd(row.estimated_cost_usd)}
                    {row.unpriced_buckets > 0 ? <span class="badge warn">unpriced</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section class="card" aria-busy={reconciliation.loading ? 'true' : 'false'}>
        <div class="card-head">
          <h2>Reconciliation: tracked vs. billed</h2>
          <label>
            <input type="checkbox" checked={onlyAlerts} onChange={() => setOnlyAlerts(!onlyAlerts)} /> Only
            drift past the alert threshold
          </label>
        </div>
        {reconciliation.data ? (
          <p class="muted">
            Drift is billed minus tracked; it is marked when past {reconciliation.data.drift_alert_percent}%
            and {formatUsd(reconciliation.data.drift_alert_min_usd)}. Positive: usage nobody tracks; negative:
            a wrong price or a call counted twice.
          </p>
        ) : null}
        {reconciliation.error ? (
          <p role="alert" class="error-text">
            Could not load the reconciliation: {errorText(reconciliation.error)}
          </p>
        ) : null}
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Tracked and provider-reported usage per day and model</caption>
            <thead>
              <tr>
                <th scope="col">Day</th>
                <th scope="col">Model</th>
                <th scope="col">Project</th>
                <th scope="col" class="num">
                  Tokens tracked
                </th>
                <th scope="col" class="num">
                  Tokens billed
                </th>
                <th scope="col" class="num">
                  Cost tracked
                </th>
                <th scope="col" class="num">
                  Cost billed
                </th>
                <th scope="col" class="num">
                  Drift
                </th>
              </tr>
            </thead>
            <tbody>
              {recRows.length === 0 && !reconciliation.loading ? (
                <tr>
                  <td colSpan={8} class="muted empty">
                    {onlyAlerts ? 'No drift past the threshold.' : 'Nothing to compare in this period.'}
                  </td>
                </tr>
              ) : null}
              {recRows.map((row) => (
                <tr key={`${row.day}/${row.provider}/${row.project_id ?? ''}/${row.model}`}>
                  <td data-label="Day" class="nowrap">
                    {row.day}
                  </td>
                  <td class="label-cell" data-label="Model">
                    {row.model}
                  </td>
                  <td class="label-cell" data-label="Project">
                    {row.project_id ?? <span class="muted">all</span>}
                  </td>
                  <td class="num" data-label="Tokens tracked">
                    {formatInt(row.pushed.prompt_tokens + row.pushed.completion_tokens)}
                  </td>
                  <td class="num" data-label="Tokens billed">
                    {formatInt(row.reported.prompt_tokens + row.reported.completion_tokens)}{' '}
                    <span class="muted">{percent(row.drift_tokens_percent)}</span>
                  </td>
                  <td class="num" data-label="Cost tracked">
                    {formatUsd(row.pushed.cost_usd)}
                  </td>
                  <td class="num" data-label="Cost billed">
                    {row.reported.cost_source === 'none' ? '—' : formatUsd(row.reported.cost_usd)}
                    {row.reported.cost_source === 'estimated' ? (
                      <span
                        class="muted"
                        title="No cost line for this model yet: the usage report at our prices"
                      >
                        {' '}
                        (est.)
                      </span>
                    ) : null}
                  </td>
                  <td class="num" data-label="Drift">
                    {row.alert ? <span class="badge warn">drift</span> : null} {formatUsd(row.drift_usd)}{' '}
                    <span class="muted">{percent(row.drift_percent)}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}
