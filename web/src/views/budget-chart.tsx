import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatUsd } from '../format.js';
import type { BudgetDetail } from '../types.js';

const COLORS = {
  spent: '#2563eb',
  projected: '#f59e0b',
  band: 'rgba(245, 158, 11, 0.18)',
  limit: '#dc2626',
};

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** x (seconds) and the five series of the chart, null where a series has no value. */
export function chartData(detail: BudgetDetail, nowMs: number) {
  const xs: number[] = [];
  const spent: (number | null)[] = [];
  const projected: (number | null)[] = [];
  const low: (number | null)[] = [];
  const high: (number | null)[] = [];
  const push = (t: number, s: number | null, p: number | null, l: number | null, h: number | null) => {
    xs.push(t / 1000);
    spent.push(s);
    projected.push(p);
    low.push(l);
    high.push(h);
  };
  push(Date.parse(detail.current.start), 0, null, null, null);
  let running = 0;
  for (const hour of detail.hours) {
    running += hour.cost_usd;
    const end = Math.min(Date.parse(hour.t) + 3_600_000, nowMs);
    if (end <= (xs[xs.length - 1] ?? 0) * 1000) continue;
    push(end, running, null, null, null);
  }
  // The projection starts where the spend is now.
  const last = xs.length - 1;
  projected[last] = detail.current.spent_usd;
  low[last] = detail.current.spent_usd;
  high[last] = detail.current.spent_usd;
  spent[last] = detail.current.spent_usd;
  for (const point of detail.projection) {
    const t = Date.parse(point.t);
    if (t <= (xs[xs.length - 1] ?? 0) * 1000) continue;
    push(t, null, point.projected_usd, point.low_usd, point.high_usd);
  }
  const limit = xs.map(() => detail.limit_usd);
  return { xs, spent, projected, low, high, limit };
}

/**
 * A budget's window on one chart (uPlot, canvas): the spend so far, the forecast and its 90 %
 * band, and the limit. The legend is ours, in the page, like the cost chart's.
 */
export function BudgetChart(props: { detail: BudgetDetail; theme: string }) {
  const container = useRef<HTMLDivElement>(null);
  const { detail } = props;
  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const data = chartData(detail, Date.now());
    const top = Math.max(detail.limit_usd, ...data.high.map((v) => v ?? 0), ...data.spent.map((v) => v ?? 0));
    const axis = {
      stroke: cssVar('--muted'),
      grid: { stroke: cssVar('--grid'), width: 1 },
      ticks: { show: false },
    };
    const plot = new uPlot(
      {
        width: element.clientWidth || 600,
        height: 260,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: () => [0, top > 0 ? top * 1.1 : 1] } },
        axes: [axis, { ...axis, size: 70, values: (_u, ticks) => ticks.map((t) => formatUsd(t)) }],
        series: [
          {},
          { label: 'spent', stroke: COLORS.spent, width: 2, points: { show: false } },
          { label: 'forecast', stroke: COLORS.projected, width: 2, dash: [6, 4], points: { show: false } },
          { label: 'low', stroke: COLORS.band, width: 0, points: { show: false } },
          { label: 'high', stroke: COLORS.band, width: 0, points: { show: false } },
          { label: 'limit', stroke: COLORS.limit, width: 1.5, dash: [2, 3], points: { show: false } },
        ],
        bands: [{ series: [4, 3], fill: COLORS.band }],
      },
      [data.xs, data.spent, data.projected, data.low, data.high, data.limit],
      element,
    );
    const observer = new ResizeObserver(() => plot.setSize({ width: element.clientWidth, height: 260 }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [detail, props.theme]);

  const forecast = detail.forecast;
  const label =
    `Spend of ${detail.name} in the current window: ${formatUsd(detail.current.spent_usd)} of ` +
    `${formatUsd(detail.limit_usd)}` +
    (forecast
      ? `; forecast ${formatUsd(forecast.projected_usd)} (${formatUsd(forecast.low_usd)} to ${formatUsd(forecast.high_usd)})`
      : '');
  return (
    <figure class="chart budget-chart">
      <div ref={container} role="img" aria-label={label} class="chart-canvas" />
      <figcaption>
        <ul class="legend">
          <li>
            <span class="swatch" style={{ background: COLORS.spent }} aria-hidden="true" />
            Spent so far <span class="muted">{formatUsd(detail.current.spent_usd)}</span>
          </li>
          {forecast ? (
            <li>
              <span class="swatch" style={{ background: COLORS.projected }} aria-hidden="true" />
              Forecast <span class="muted">{formatUsd(forecast.projected_usd)}</span>
            </li>
          ) : null}
          {forecast ? (
            <li>
              <span class="swatch band-swatch" aria-hidden="true" />
              90 % range{' '}
              <span class="muted">
                {formatUsd(forecast.low_usd)}–{formatUsd(forecast.high_usd)}
              </span>
            </li>
          ) : null}
          <li>
            <span class="swatch" style={{ background: COLORS.limit }} aria-hidden="true" />
            Limit <span class="muted">{formatUsd(detail.limit_usd)}</span>
          </li>
        </ul>
      </figcaption>
    </figure>
  );
}
