import { ApiError, api, errorText, withQuery } from '../api.js';
import { bucketFor, filterQuery, kpiRanges, rangeOf, TIME_ZONE } from '../dates.js';
import { formatChange, formatInt, formatUsd } from '../format.js';
import { useResource } from '../hooks.js';
import { navigate, type Route } from '../route.js';
import type { Summary, Timeseries, Top } from '../types.js';
import { type ChartSeries, CostChart, OTHER_COLOR, PALETTE } from './chart.js';

const MAX_SERIES = 8;
const OTHER_KEY = '__other__';

interface OverviewData {
  kpis: { label: string; summary: Summary }[];
  range: Summary;
  timeseries: Timeseries;
  topTokens: Top;
  topModels: Top;
}

async function loadOverview(route: Route, signal: AbortSignal): Promise<OverviewData> {
  const range = rangeOf(route);
  const filter = filterQuery(route, range);
  const get = <T,>(path: string, query: Record<string, string | number>) =>
    api<T>('GET', withQuery(path, { ...filter, ...query }), { signal });
  const kpis = kpiRanges();
  const [k0, k1, k2, summary, timeseries, topTokens, topModels] = await Promise.all([
    ...kpis.map((k) =>
      get<Summary>('/usage/summary', { start: k.range.start.toISOString(), end: k.range.end.toISOString() }),
    ),
    get<Summary>('/usage/summary', {}),
    get<Timeseries>('/usage/timeseries', {
      bucket: bucketFor(range),
      group_by: route.group,
      limit: MAX_SERIES,
    }),
    get<Top>('/usage/top', { by: 'token', limit: 10 }),
    get<Top>('/usage/top', { by: 'model', limit: 10 }),
  ]);
  return {
    kpis: [k0, k1, k2].map((summary, i) => ({ label: kpis[i]?.label ?? '', summary: summary as Summary })),
    range: summary as Summary,
    timeseries: timeseries as Timeseries,
    topTokens: topTokens as Top,
    topModels: topModels as Top,
  };
}

/**
 * The biggest series by cost get a colour each; the server sums the rest into one "__other__"
 * series, drawn grey and last (and anything beyond MAX_SERIES is summed here, should it come).
 */
function chartSeries(timeseries: Timeseries): { times: number[]; series: ChartSeries[] } {
  const times = (timeseries.series[0]?.points ?? []).map((p) => Date.parse(p.t) / 1000);
  const other = timeseries.series.find((s) => s.key === OTHER_KEY);
  const ranked = timeseries.series
    .filter((s) => s.key !== OTHER_KEY)
    .map((s) => ({ s, total: s.points.reduce((sum, p) => sum + p.cost_usd, 0) }))
    .sort((a, b) => b.total - a.total);
  const series: ChartSeries[] = ranked.slice(0, MAX_SERIES).map(({ s }, i) => ({
    label: s.label,
    color: PALETTE[i % PALETTE.length] ?? OTHER_COLOR,
    values: s.points.map((p) => p.cost_usd),
  }));
  const rest = ranked.slice(MAX_SERIES).map(({ s }) => s);
  if (other) rest.push(other);
  if (rest.length > 0) {
    series.push({
      label: other ? other.label || 'Other' : `Other (${rest.length})`,
      color: OTHER_COLOR,
      values: times.map((_, j) => rest.reduce((sum, s) => sum + (s.points[j]?.cost_usd ?? 0), 0)),
    });
  }
  return { times, series };
}

function Kpi(props: { label: string; summary: Summary }) {
  const { current, previous } = props.summary;
  const change = formatChange(current.cost_usd, previous.cost_usd);
  return (
    <section class="card kpi" aria-label={`Spend ${props.label.toLowerCase()}`}>
      <h2 class="kpi-label">{props.label}</h2>
      <p class="kpi-value">{formatUsd(current.cost_usd)}</p>
      <p class="kpi-sub">
        {change ? (
          <span class={`change change-${change.direction}`}>
            <span aria-hidden="true">
              {change.direction === 'up' ? '▲' : change.direction === 'down' ? '▼' : '■'}
            </span>{' '}
            {change.text}
          </span>
        ) : (
          <span class="muted">no spend before</span>
        )}{' '}
        <span class="muted">vs previous period ({formatUsd(previous.cost_usd)})</span>
      </p>
      <p class="kpi-sub muted">{formatInt(current.requests)} requests</p>
      {current.unpriced_requests > 0 ? (
        <p class="badge warn">{formatInt(current.unpriced_requests)} unpriced, not in the total</p>
      ) : null}
    </section>
  );
}

function TopTable(props: { title: string; top: Top; keyLabel: string }) {
  return (
    <section class="card">
      <h2>{props.title}</h2>
      {props.top.items.length === 0 ? (
        <p class="muted">No usage in this range.</p>
      ) : (
        <table class="top-table">
          <thead>
            <tr>
              <th scope="col">{props.keyLabel}</th>
              <th scope="col" class="num">
                Requests
              </th>
              <th scope="col" class="num">
                Spend
              </th>
            </tr>
          </thead>
          <tbody>
            {props.top.items.map((item) => (
              <tr key={item.key}>
                <td class="label-cell">
                  {item.label}
                  {item.unpriced_requests > 0 ? (
                    <span class="badge warn" title="Requests whose model has no known price">
                      {formatInt(item.unpriced_requests)} unpriced
                    </span>
                  ) : null}
                </td>
                <td class="num">{formatInt(item.requests)}</td>
                <td class="num">{formatUsd(item.cost_usd)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function Overview(props: { route: Route; tick: number; theme: string }) {
  const { route } = props;
  const key = JSON.stringify([filterQuery(route), route.group, props.tick]);
  const { data, error, loading } = useResource(key, (signal) => loadOverview(route, signal));
  if (!data) {
    return error ? (
      <p role="alert" class="card error-text">
        {error instanceof ApiError && error.status === 404
          ? 'This server has no analytics API (GET /usage/summary), so the overview cannot be shown. The usage table and tokens work.'
          : `Could not load the overview: ${errorText(error)}`}
      </p>
    ) : (
      <p class="card muted" aria-busy="true">
        Loading the overview…
      </p>
    );
  }
  const { times, series } = chartSeries(data.timeseries);
  const unpriced = data.range.current.unpriced_requests;
  return (
    <div class="overview" aria-busy={loading ? 'true' : 'false'}>
      {error ? (
        <p role="alert" class="error-text">
          Refresh failed: {errorText(error)}
        </p>
      ) : null}
      <div class="kpis">
        {data.kpis.map((k) => (
          <Kpi key={k.label} label={k.label} summary={k.summary} />
        ))}
      </div>
      {unpriced > 0 ? (
        <p class="banner warn" role="status">
          {formatInt(unpriced)} request{unpriced === 1 ? '' : 's'} in this range used a model with no known
          price. Their cost is not in these totals.
        </p>
      ) : null}
      <section class="card">
        <div class="card-head">
          <h2>
            Cost over time <span class="muted">{formatUsd(data.range.current.cost_usd)} in range</span>
          </h2>
          <fieldset class="segmented">
            <legend class="visually-hidden">Stack by</legend>
            {(['model', 'token'] as const).map((g) => (
              <label key={g} class={route.group === g ? 'active' : ''}>
                <input
                  type="radio"
                  name="group"
                  value={g}
                  checked={route.group === g}
                  onChange={() => navigate({ group: g })}
                />
                By {g}
              </label>
            ))}
          </fieldset>
        </div>
        {series.length === 0 || times.length === 0 ? (
          <p class="muted">No usage in this range.</p>
        ) : (
          <CostChart
            times={times}
            series={series}
            theme={props.theme}
            ariaLabel={`Cost per ${data.timeseries.bucket} by ${route.group}, ${TIME_ZONE}: ${formatUsd(
              data.range.current.cost_usd,
            )} in total`}
          />
        )}
      </section>
      <div class="two-col">
        <TopTable title="Top tokens" top={data.topTokens} keyLabel="Token" />
        <TopTable title="Top models" top={data.topModels} keyLabel="Model" />
      </div>
    </div>
  );
}
