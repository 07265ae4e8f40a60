import { useState } from 'preact/hooks';
import { ApiError, api, errorText, withQuery } from '../api.js';
import { bucketFor, filterQuery, kpiRanges, rangeOf, TIME_ZONE } from '../dates.js';
import { formatChange, formatInt, formatUsd, plural } from '../format.js';
import { useResource } from '../hooks.js';
import { type GroupBy, navigate, type Route } from '../route.js';
import type { Summary, TagKeys, Timeseries, Top } from '../types.js';
import { type ChartSeries, CostChart, OTHER_COLOR, PALETTE } from './chart.js';
import { Cost, costText } from './cost.js';
import { PriceDialog } from './price-dialog.js';

const MAX_SERIES = 8;
const OTHER_KEY = '__other__';
const TOP_ROWS = 10;
/** Models asked for: the top ten are listed, and every unpriced one is named in the banner. */
const MODELS_ASKED = 100;

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
    get<Top>('/usage/top', { by: 'token', limit: TOP_ROWS }),
    get<Top>('/usage/top', { by: 'model', limit: MODELS_ASKED }),
  ]);
  return {
    kpis: [k0, k1, k2].map((summary, i) => ({ label: kpis[i]?.label ?? '', summary: summary as Summary })),
    range: summary as Summary,
    timeseries: timeseries as Timeseries,
    topTokens: topTokens as Top,
    topModels: topModels as Top,
  };
}

/** Sums series (the ones beyond MAX_SERIES) into one: null cost only when all of it is unpriced. */
function sumCosts(series: readonly { cost_usd: number | null; unpriced_requests: number }[]) {
  const priced = series.filter((s) => s.cost_usd !== null);
  return {
    costUsd: priced.length > 0 ? priced.reduce((sum, s) => sum + (s.cost_usd ?? 0), 0) : null,
    unpriced: series.reduce((sum, s) => sum + s.unpriced_requests, 0),
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
    .sort((a, b) => (b.cost_usd ?? 0) - (a.cost_usd ?? 0) || b.requests - a.requests);
  const series: ChartSeries[] = ranked.slice(0, MAX_SERIES).map((s, i) => ({
    label: s.label,
    color: PALETTE[i % PALETTE.length] ?? OTHER_COLOR,
    values: s.points.map((p) => p.cost_usd ?? 0),
    costUsd: s.cost_usd,
    unpriced: s.unpriced_requests,
  }));
  const rest = ranked.slice(MAX_SERIES);
  if (other) rest.push(other);
  if (rest.length > 0) {
    series.push({
      label: other ? other.label || 'Other' : `Other (${rest.length})`,
      color: OTHER_COLOR,
      values: times.map((_, j) => rest.reduce((sum, s) => sum + (s.points[j]?.cost_usd ?? 0), 0)),
      ...sumCosts(rest),
    });
  }
  return { times, series };
}

function Kpi(props: { label: string; summary: Summary }) {
  const { current, previous } = props.summary;
  const change = formatChange(current.cost_usd ?? 0, previous.cost_usd ?? 0);
  return (
    <section class="card kpi" aria-label={`Spend ${props.label.toLowerCase()}`}>
      <h2 class="kpi-label">{props.label}</h2>
      <p class="kpi-value">
        {current.cost_usd === null ? <span class="muted">Unpriced</span> : formatUsd(current.cost_usd)}
      </p>
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
        <span class="muted">
          vs previous period ({costText(previous.cost_usd, previous.unpriced_requests)})
        </span>
      </p>
      <p class="kpi-sub muted">{plural(current.requests, 'request')}</p>
      {current.unpriced_requests > 0 ? (
        <p class="badge warn">{formatInt(current.unpriced_requests)} unpriced, not in the total</p>
      ) : null}
    </section>
  );
}

function TopTable(props: { title: string; top: Top; keyLabel: string }) {
  const items = props.top.items.slice(0, TOP_ROWS);
  return (
    <section class="card">
      <h2>{props.title}</h2>
      {items.length === 0 ? (
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
            {items.map((item) => (
              <tr key={item.key}>
                <td class="label-cell">{item.label}</td>
                <td class="num">{formatInt(item.requests)}</td>
                <td class="num">
                  <Cost usd={item.cost_usd} unpriced={item.unpriced_requests} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

const NAMED_MODELS = 5;

/** Names the models without a price and offers to add one (issue 17.8). */
function UnpricedBanner(props: { unpriced: number; models: Top; onAddPrice: (model: string) => void }) {
  const models = props.models.items.filter((item) => item.unpriced_requests > 0);
  const named = models.slice(0, NAMED_MODELS);
  return (
    <section class="banner warn" aria-label="Unpriced usage">
      <p>
        {plural(props.unpriced, 'request')} in this range used {models.length === 1 ? 'a model' : 'models'}{' '}
        with no known price. Their cost is not in these totals. Add a price, then reprice the stored rows.
      </p>
      {named.length > 0 ? (
        <ul class="unpriced-models">
          {named.map((item) => (
            <li key={item.key}>
              <span class="label-cell">{item.label}</span>{' '}
              <span class="muted">({plural(item.unpriced_requests, 'request')})</span>{' '}
              <button
                type="button"
                onClick={() => props.onAddPrice(item.key)}
                aria-label={`Add a price for ${item.label}`}
              >
                Add a price
              </button>
            </li>
          ))}
          {models.length > named.length ? (
            <li class="muted">and {plural(models.length - named.length, 'other model')}</li>
          ) : null}
        </ul>
      ) : null}
    </section>
  );
}

const GROUP_LABELS: Record<'model' | 'token' | 'provider' | 'user' | 'tag', string> = {
  model: 'By model',
  token: 'By token',
  provider: 'By provider',
  user: 'By user',
  tag: 'By tag',
};

function groupKind(group: GroupBy): keyof typeof GROUP_LABELS {
  return group.startsWith('tag:') ? 'tag' : (group as keyof typeof GROUP_LABELS);
}

/** What the chart stacks by: every group the API has; tag keys come from stored usage. */
function GroupPicker(props: { group: GroupBy; tagKeys: string[] }) {
  const kind = groupKind(props.group);
  const tagKey = kind === 'tag' ? props.group.slice(4) : '';
  const keys = tagKey && !props.tagKeys.includes(tagKey) ? [tagKey, ...props.tagKeys] : props.tagKeys;
  return (
    <div class="group-picker">
      <fieldset class="segmented">
        <legend class="visually-hidden">Stack by</legend>
        {(Object.keys(GROUP_LABELS) as (keyof typeof GROUP_LABELS)[]).map((g) => {
          const disabled = g === 'tag' && keys.length === 0;
          return (
            <label
              key={g}
              class={`${kind === g ? 'active' : ''} ${disabled ? 'disabled' : ''}`}
              title={disabled ? 'No usage carries tags yet' : undefined}
            >
              <input
                type="radio"
                name="group"
                value={g}
                checked={kind === g}
                disabled={disabled}
                onChange={() => navigate({ group: g === 'tag' ? `tag:${keys[0] ?? ''}` : g })}
              />
              {GROUP_LABELS[g]}
            </label>
          );
        })}
      </fieldset>
      {kind === 'tag' ? (
        <>
          <label for="group-tag-key" class="visually-hidden">
            Tag key
          </label>
          <select
            id="group-tag-key"
            value={tagKey}
            onChange={(e) => navigate({ group: `tag:${(e.target as HTMLSelectElement).value}` })}
          >
            {keys.map((key) => (
              <option key={key} value={key}>
                {key}
              </option>
            ))}
          </select>
        </>
      ) : null}
    </div>
  );
}

export function Overview(props: { route: Route; tick: number; theme: string; tagKeys: TagKeys }) {
  const { route } = props;
  const [version, setVersion] = useState(0);
  const [pricing, setPricing] = useState<string | null>(null);
  const key = JSON.stringify([filterQuery(route), route.group, props.tick, version]);
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
  const current = data.range.current;
  const groupName = route.group.startsWith('tag:') ? `tag ${route.group.slice(4)}` : route.group;
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
      {current.unpriced_requests > 0 ? (
        <UnpricedBanner
          unpriced={current.unpriced_requests}
          models={data.topModels}
          onAddPrice={setPricing}
        />
      ) : null}
      <section class="card">
        <div class="card-head">
          <h2>
            Cost over time{' '}
            <span class="muted">
              <Cost usd={current.cost_usd} unpriced={current.unpriced_requests} /> in range
            </span>
          </h2>
          <GroupPicker group={route.group} tagKeys={props.tagKeys.map((k) => k.key)} />
        </div>
        {series.length === 0 || times.length === 0 ? (
          <p class="muted">No usage in this range.</p>
        ) : (
          <CostChart
            times={times}
            series={series}
            theme={props.theme}
            ariaLabel={`Cost per ${data.timeseries.bucket} by ${groupName}, ${TIME_ZONE}: ${costText(
              current.cost_usd,
              current.unpriced_requests,
            )} in total`}
          />
        )}
      </section>
      <div class="two-col">
        <TopTable title="Top tokens" top={data.topTokens} keyLabel="Token" />
        <TopTable title="Top models" top={data.topModels} keyLabel="Model" />
      </div>
      <PriceDialog
        model={pricing}
        route={route}
        onClose={() => setPricing(null)}
        onRepriced={() => setVersion((v) => v + 1)}
      />
    </div>
  );
}
