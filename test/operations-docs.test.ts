import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import { METRIC } from '../src/metrics/prometheus.js';

const doc = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');

/** The cells of every markdown table row, trimmed. */
const rows = doc
  .split('\n')
  .filter((line) => line.startsWith('|') && !/^\|[-\s|]+\|$/.test(line))
  .map((line) =>
    line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim()),
  );

test('docs/operations.md lists every CLI exit status with its name', () => {
  const documented = Object.fromEntries(
    rows
      .filter((cells) => /^\d+$/.test(cells[0] ?? ''))
      .map((cells) => [cells[1]?.replace(/`/g, ''), Number(cells[0])]),
  );
  expect(documented).toEqual(EXIT);
});

test('docs/operations.md lists every Prometheus series, and only those', () => {
  const documented = rows.map((cells) => /^`(cg_[a-z_]+)`$/.exec(cells[0] ?? '')?.[1]).filter(Boolean);
  expect(documented.sort()).toEqual(Object.values(METRIC).sort());
});
