/**
 * How good is the budget forecast? Projects the end-of-window spend of many windows, at a quarter,
 * half and three quarters of each window, with the service's method (src/budgets/forecast.ts) and
 * with two simpler ones, on synthetic series with known structure and on hourly series replayed
 * from the benchmark database (bench/generate.ts; per tracking token, from the rollups), and
 * prints the error of each and the coverage of the 90 % range. The figures are in docs/budgets.md.
 *
 *   npx tsx bench/forecast.ts                                  # synthetic only
 *   npx tsx bench/forecast.ts --db /tmp/cg-bench-10m.sqlite    # and replayed series
 *
 * Methods: run-rate (spend so far / time so far x window length), trailing 24 h (the last 24
 * hours' spend per hour for every hour left), and the seasonal trailing rate with 24, 72 (the
 * service's default) and 168 trailing hours.
 */
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { forecast } from '../src/budgets/forecast.js';
import { HOUR_MS, windowAt } from '../src/budgets/window.js';
import type { BudgetWindowSpec } from '../src/storage/store.js';

const { values } = parseArgs({
  options: { db: { type: 'string' }, seed: { type: 'string', default: '7' } },
});

let seed = Number(values.seed) >>> 0;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
}
/** exp(N(0, sigma)): multiplicative noise with median 1. */
function noise(sigma: number): number {
  const u = Math.max(1e-12, random());
  const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.exp(sigma * normal);
}

interface Series {
  name: string;
  startMs: number;
  hourly: Float64Array;
}

const START = Date.UTC(2026, 5, 1);
const WEEKS = 26;

/** Working hours and weekdays carry most of the spend, as for an app used by people. */
function season(at: number): number {
  const date = new Date(at);
  const hour = date.getUTCHours();
  const day = date.getUTCDay();
  const daily = hour >= 8 && hour < 19 ? 1.6 : hour >= 6 && hour < 22 ? 0.8 : 0.25;
  const weekly = day === 0 || day === 6 ? 0.35 : 1;
  return daily * weekly;
}

function synthetic(name: string, rate: (at: number, i: number) => number): Series {
  const hours = WEEKS * 168;
  const hourly = new Float64Array(hours);
  for (let i = 0; i < hours; i += 1) hourly[i] = Math.max(0, rate(START + i * HOUR_MS, i));
  return { name, startMs: START, hourly };
}

function syntheticSeries(): Series[] {
  const base = 1_000_000; // $0.001 an average hour, in nano-dollars
  // Every week, from a random hour on, a runaway loop triples the spend until the week ends.
  const starts: number[] = [];
  return [
    synthetic('steady, daily + weekly season', (at) => base * season(at) * noise(0.3)),
    synthetic('growing 5 % a week', (at, i) => base * season(at) * noise(0.3) * 1.05 ** (i / 168)),
    synthetic('a x3 runaway from a random hour of each week', (at, i) => {
      if (i % 168 === 0) starts.push(Math.floor(random() * 168));
      return base * season(at) * noise(0.3) * (i % 168 >= (starts[starts.length - 1] ?? 168) ? 3 : 1);
    }),
    synthetic('flat, very noisy (sigma 0.8)', () => base * noise(0.8)),
    synthetic('nightly batch jobs + light use', (at) => {
      const hour = new Date(at).getUTCHours();
      return base * (hour === 2 ? 12 * noise(0.2) : 0.2 * noise(0.5));
    }),
  ];
}

function replayedSeries(file: string): Series[] {
  const db = new Database(file, { readonly: true });
  const endMs =
    (db
      .prepare("SELECT MAX(bucket_start) FROM usage_rollup_hour WHERE dim = '' AND detail = 'none'")
      .pluck()
      .get() as number) + HOUR_MS;
  const startMs = endMs - WEEKS * 168 * HOUR_MS;
  const tokens = db
    .prepare(
      `SELECT ingest_token_id AS id, SUM(cost_nanousd) AS cost FROM usage_rollup_month
        WHERE dim = '' AND detail = 'full' GROUP BY ingest_token_id ORDER BY cost DESC LIMIT 12`,
    )
    .all() as { id: number }[];
  const rows = db.prepare(
    `SELECT bucket_start AS at, cost_nanousd AS cost FROM usage_rollup_hour
      WHERE dim = '' AND detail = 'token' AND ingest_token_id = ? AND bucket_start >= ? AND bucket_start < ?`,
  );
  const series: Series[] = [];
  for (const { id } of tokens) {
    const hourly = new Float64Array(WEEKS * 168);
    for (const row of rows.all(id, startMs, endMs) as { at: number; cost: number }[]) {
      hourly[Math.floor((row.at - startMs) / HOUR_MS)] = row.cost;
    }
    series.push({ name: `token ${id}`, startMs, hourly });
  }
  db.close();
  return series;
}

const SEASONAL = [
  ['seasonal, 24 h', { trailingHours: 24 }],
  ['seasonal, 72 h (default)', { trailingHours: 72 }],
  ['seasonal, 168 h', { trailingHours: 168 }],
  ['seasonal, half-life 12 h', { halfLifeHours: 12 }],
  ['seasonal, half-life 24 h', { halfLifeHours: 24 }],
  ['seasonal, half-life 48 h', { halfLifeHours: 48 }],
] as const;
type Method = 'run-rate' | 'trailing 24 h' | (typeof SEASONAL)[number][0];
const METHODS: Method[] = ['run-rate', 'trailing 24 h', ...SEASONAL.map(([name]) => name)];

interface Score {
  errors: number[];
  inside: number;
  widths: number[];
}

function evaluate(series: Series[], spec: BudgetWindowSpec, scores: Map<Method, Score>): number {
  let windows = 0;
  const first = series[0];
  if (!first) return 0;
  const end = first.startMs + first.hourly.length * HOUR_MS;
  // Windows that start after four weeks of history and end inside the series.
  let window = windowAt(spec, first.startMs + 28 * 24 * HOUR_MS);
  window = windowAt(spec, window.endMs);
  for (; window.endMs <= end; window = windowAt(spec, window.endMs)) {
    for (const s of series) {
      const index = (ms: number) => Math.floor((ms - s.startMs) / HOUR_MS);
      let actual = 0;
      for (let i = index(window.startMs); i < index(window.endMs); i += 1) actual += s.hourly[i] ?? 0;
      if (actual <= 0) continue;
      windows += 1;
      for (const fraction of [0.25, 0.5, 0.75]) {
        const nowMs =
          window.startMs + Math.round(((window.endMs - window.startMs) * fraction) / HOUR_MS) * HOUR_MS;
        const now = index(nowMs);
        let spent = 0;
        for (let i = index(window.startMs); i < now; i += 1) spent += s.hourly[i] ?? 0;
        const historyStart = Math.max(0, now - 28 * 24 - 24);
        const history = s.hourly.subarray(historyStart, now + 1).slice();
        history[history.length - 1] = 0; // the current hour has not started yet
        const remainingHours = (window.endMs - nowMs) / HOUR_MS;
        let last24 = 0;
        for (let i = now - 24; i < now; i += 1) last24 += s.hourly[i] ?? 0;
        const elapsedHours = (nowMs - window.startMs) / HOUR_MS;
        const projections: Partial<Record<Method, { value: number; low?: number; high?: number }>> = {
          'run-rate': { value: (spent / elapsedHours) * (elapsedHours + remainingHours) },
          'trailing 24 h': { value: spent + (last24 / 24) * remainingHours },
        };
        for (const [method, options] of SEASONAL) {
          const result = forecast({
            window: spec,
            windowStartMs: window.startMs,
            windowEndMs: window.endMs,
            nowMs,
            spentNanoUsd: spent,
            limitNanoUsd: Number.MAX_SAFE_INTEGER,
            hourlyStartMs: s.startMs + historyStart * HOUR_MS,
            hourly: history,
            ...options,
          });
          projections[method] = {
            value: result.projectedNanoUsd,
            low: result.lowNanoUsd,
            high: result.highNanoUsd,
          };
        }
        for (const method of METHODS) {
          const projection = projections[method];
          if (!projection) continue;
          const score = scores.get(method) ?? { errors: [], inside: 0, widths: [] };
          score.errors.push(Math.abs(projection.value - actual) / actual);
          if (projection.low !== undefined && projection.high !== undefined) {
            if (actual >= projection.low && actual <= projection.high) score.inside += 1;
            score.widths.push((projection.high - projection.low) / actual);
          }
          scores.set(method, score);
        }
      }
    }
  }
  return windows;
}

const percent = (x: number) => `${(x * 100).toFixed(1)}%`;
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

function report(title: string, series: Series[]) {
  console.log(`\n### ${title}\n`);
  console.log(
    '| window | method | mean abs. error | median | 90 % range holds the actual | mean range width |',
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: |');
  for (const spec of [
    { kind: 'day', timeZone: 'UTC' },
    { kind: 'week', timeZone: 'UTC' },
    { kind: 'month', timeZone: 'UTC' },
  ] as BudgetWindowSpec[]) {
    const scores = new Map<Method, Score>();
    const windows = evaluate(series, spec, scores);
    for (const method of METHODS) {
      const score = scores.get(method);
      if (!score) continue;
      const mean = score.errors.reduce((a, b) => a + b, 0) / score.errors.length;
      const coverage = score.widths.length > 0 ? percent(score.inside / score.widths.length) : '-';
      const width =
        score.widths.length > 0
          ? percent(score.widths.reduce((a, b) => a + b, 0) / score.widths.length)
          : '-';
      console.log(
        `| ${spec.kind} (${windows} windows x 3 points) | ${method} | ${percent(mean)} | ${percent(median(score.errors))} | ${coverage} | ${width} |`,
      );
    }
  }
}

const synthetic_ = syntheticSeries();
for (const s of synthetic_) report(`Synthetic: ${s.name}`, [s]);
report('Synthetic: all five together', synthetic_);
if (values.db)
  report(`Replayed: the 12 largest tokens of ${values.db}, last ${WEEKS} weeks`, replayedSeries(values.db));
