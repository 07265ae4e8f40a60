import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { CONFIG_VARS } from '../src/config.js';
import { ERROR_STATUS } from '../src/errors.js';

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

test('docs/config.md documents every configuration variable with its default', () => {
  const doc = read('docs/config.md');
  for (const variable of CONFIG_VARS) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${variable.name}\` |`));
    expect(row, `${variable.name} is missing from docs/config.md`).toBeDefined();
    const shownDefault = variable.default === '' ? '(unset)' : `\`${variable.default}\``;
    expect(row).toContain(`| ${shownDefault} |`);
  }
  const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
  expect(documented.sort()).toEqual(CONFIG_VARS.map((v) => v.name).sort());
});

test('.env.example lists every configuration variable with its default and nothing else', () => {
  const lines = read('.env.example')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line));
  const entries = Object.fromEntries(
    lines.map((line) => [line.split('=')[0], line.slice(line.indexOf('=') + 1)]),
  );
  expect(Object.keys(entries).sort()).toEqual(CONFIG_VARS.map((v) => v.name).sort());
  for (const variable of CONFIG_VARS) expect(entries[variable.name]).toBe(variable.default);
});

test('docs/errors.md lists every error code with its HTTP status', () => {
  const doc = read('docs/errors.md');
  for (const [code, status] of Object.entries(ERROR_STATUS)) {
    expect(doc).toContain(`| \`${code}\` | ${status} |`);
  }
  const documented = [...doc.matchAll(/^\| `([a-z_]+)` \| \d{3} \|/gm)].map((m) => m[1]);
  expect(documented.sort()).toEqual(Object.keys(ERROR_STATUS).sort());
});
