import { afterEach, beforeEach, expect, test } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import { createCliSandbox } from './cli-helpers.js';

let box: ReturnType<typeof createCliSandbox>;
beforeEach(() => {
  box = createCliSandbox();
});
afterEach(() => {
  box.remove();
});

test('budgets create, list, update, deliveries and delete work on the database', async () => {
  const token = JSON.parse((await box.cli(['tokens', 'create', 'app', '--json'])).stdout);
  const created = await box.cli([
    'budgets',
    'create',
    'Team',
    '--limit-usd',
    '250',
    '--window',
    'week',
    '--tz',
    'Europe/Paris',
    '--token-id',
    String(token.id),
    '--model',
    'gpt-4o*',
    '--tag',
    'team:search',
    '--thresholds',
    '75,100',
  ]);
  expect(created.code, created.stderr).toBe(EXIT.ok);
  expect(created.stdout).toContain('created budget 1 "Team": $250.00 per ISO week in Europe/Paris');

  const table = await box.cli(['budgets', 'list']);
  expect(table.stdout).toMatch(/ID\s+NAME\s+WINDOW\s+SCOPE\s+LIMIT\s+SPENT/);
  expect(table.stdout).toContain(`token ${token.id}, model gpt-4o*, tag team:search`);
  const [listed] = JSON.parse((await box.cli(['budgets', 'list', '--json'])).stdout);
  expect(listed).toMatchObject({ name: 'Team', limit_usd: 250, thresholds: [75, 100], counted: true });

  const updated = await box.cli([
    'budgets',
    'update',
    '1',
    '--limit-usd',
    '300',
    '--window',
    'rolling',
    '--days',
    '7',
    '--json',
  ]);
  expect(JSON.parse(updated.stdout)).toMatchObject({
    limit_usd: 300,
    window: { kind: 'rolling', hours: 168 },
    scope: { token_id: token.id, model: 'gpt-4o*', tags: { team: 'search' } },
  });
  expect((await box.cli(['budgets', 'deliveries'])).stderr).toContain('no alerts delivered yet');
  expect((await box.cli(['budgets', 'delete', '1'])).stdout).toContain('deleted budget 1');
  expect((await box.cli(['budgets', 'delete', '1'])).code).toBe(EXIT.refused);
});

test('bad options are usage errors that name the option', async () => {
  const missing = await box.cli(['budgets', 'create', 'x']);
  expect([missing.code, missing.stderr]).toEqual([EXIT.usage, 'cost-guardian: --limit-usd is required\n']);
  const zone = await box.cli(['budgets', 'create', 'x', '--limit-usd', '5', '--tz', 'Nowhere/Land']);
  expect(zone.code).toBe(EXIT.usage);
  expect(zone.stderr).toContain('window.tz must be an IANA time zone');
  const window = await box.cli(['budgets', 'create', 'x', '--limit-usd', '5', '--window', 'fortnight']);
  expect(window.stderr).toContain('--window must be day, week, month or rolling');
  const tag = await box.cli(['budgets', 'create', 'x', '--limit-usd', '5', '--tag', 'nocolon']);
  expect(tag.stderr).toContain('--tag must look like key:value');
});
