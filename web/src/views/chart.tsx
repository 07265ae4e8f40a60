import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatUsd } from '../format.js';
import { Cost } from './cost.js';

export interface ChartSeries {
  label: string;
  color: string;
  /** Priced cost per bucket (an all-unpriced bucket is drawn as nothing). */
  values: number[];
  /** Over the range, for the legend: null when every request of the series is unpriced. */
  costUsd: number | null;
  unpriced: number;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/**
 * Cost over time as stacked bars (uPlot: 50 KB, canvas). Labels come from ingest clients, so they are
 * never given to uPlot's DOM legend: the legend is ours, rendered as text by Preact. Stacking is
 * done here: each series is drawn at its cumulative height, the tallest first.
 */
export function CostChart(props: {
  times: number[];
  series: ChartSeries[];
  theme: string;
  ariaLabel: string;
}) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const cumulative: number[][] = [];
    props.series.forEach((s, i) => {
      cumulative.push(s.values.map((v, j) => v + (i > 0 ? (cumulative[i - 1]?.[j] ?? 0) : 0)));
    });
    const order = props.series.map((_, i) => i).reverse();
    const bars = uPlot.paths.bars?.({ size: [0.7, 48] });
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
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        axes: [axis, { ...axis, size: 70, values: (_u, ticks) => ticks.map((t) => formatUsd(t)) }],
        series: [
          {},
          ...order.map((i) => ({
            label: `series ${i}`,
            fill: props.series[i]?.color ?? '#888',
            stroke: props.series[i]?.color ?? '#888',
            width: 0,
            ...(bars ? { paths: bars } : {}),
            points: { show: false },
          })),
        ],
      },
      [props.times, ...order.map((i) => cumulative[i] ?? [])],
      element,
    );
    const observer = new ResizeObserver(() => plot.setSize({ width: element.clientWidth, height: 260 }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [props.times, props.series, props.theme]);

  return (
    <figure class="chart">
      <div ref={container} role="img" aria-label={props.ariaLabel} class="chart-canvas" />
      <figcaption>
        <ul class="legend">
          {props.series.map((s) => (
            <li key={s.label}>
              <span class="swatch" style={{ background: s.color }} aria-hidden="true" />
              <span class="legend-label">{s.label}</span>{' '}
              <span class="muted">
                <Cost usd={s.costUsd} unpriced={s.unpriced} />
              </span>
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}

/** Eight colours that stay apart for common colour-vision deficiencies, and a grey for "Other". */
export const PALETTE = [
  '#2563eb',
  '#f59e0b',
  '#10b981',
  '#ef4444',
  '#8b5cf6',
  '#06b6d4',
  '#ec4899',
  '#84cc16',
];
export const OTHER_COLOR = '#9ca3af';
