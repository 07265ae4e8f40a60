import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { CONFIG_VARS } from '../src/config.js';
import { ERROR_STATUS } from '../src/errors.js';

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

/** The cells of every markdown table row, trimmed. */
function tableRows(doc: string): string[][] {
  return doc
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|[-\s|]+\|$/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
}

test('docs/config.md documents every configuration variable with its default', () => {
  const rows = tableRows(read('docs/config.md')).filter((cells) => /^`[A-Z_]+`$/.test(cells[0] ?? ''));
  for (const variable of CONFIG_VARS) {
    const row = rows.find((cells) => cells[0] === `\`${variable.name}\``);
    expect(row, `${variable.name} is missing from docs/config.md`).toBeDefined();
    expect(row?.[1]).toBe(variable.default === '' ? '(unset)' : `\`${variable.default}\``);
  }
  expect(rows.map((cells) => cells[0]).sort()).toEqual(CONFIG_VARS.map((v) => `\`${v.name}\``).sort());
});

test('.env.example lists every configuration variable with its default and nothing else', () => {
  // Commented out ("# NAME=default") or blank: a copy used as is must not override the image's
  // production mode (issue 17.7).
  const lines = read('.env.example')
    .split('\n')
    .filter((line) => /^(# )?[A-Z_]+=/.test(line));
  for (const line of lines) expect(line, 'a value set in .env.example').toMatch(/^(# [A-Z_]+=.*|[A-Z_]+=)$/);
  const entries = Object.fromEntries(
    lines
      .map((line) => line.replace(/^# /, ''))
      .map((line) => [line.split('=')[0], line.slice(line.indexOf('=') + 1)]),
  );
  expect(Object.keys(entries).sort()).toEqual(CONFIG_VARS.map((v) => v.name).sort());
  for (const variable of CONFIG_VARS) expect(entries[variable.name]).toBe(variable.default);
});

test('docs/errors.md lists every error code with its HTTP status', () => {
  const rows = tableRows(read('docs/errors.md')).filter((cells) => /^\d{3}$/.test(cells[1] ?? ''));
  const documented = Object.fromEntries(rows.map((cells) => [cells[0]?.replace(/`/g, ''), Number(cells[1])]));
  expect(documented).toEqual(ERROR_STATUS);
});
