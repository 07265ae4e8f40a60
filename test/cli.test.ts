import { writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import { createCliSandbox } from './cli-helpers.js';
import { createTestApp } from './helpers.js';

let box: ReturnType<typeof createCliSandbox>;
beforeEach(() => {
  box = createCliSandbox();
});
afterEach(() => {
  box.remove();
});

describe('help and usage errors', () => {
  const commands = [
    ['serve'],
    ['migrate'],
    ['tokens'],
    ['tokens', 'list'],
    ['tokens', 'create'],
    ['tokens', 'deactivate'],
    ['export'],
    ['backup'],
    ['import-original'],
    ['reprice'],
  ];
  test.each(commands)('`%s --help` describes the command and exits 0', async (...words) => {
    const run = await box.cli([...words, '--help']);
    expect(run.code).toBe(EXIT.ok);
    expect(run.stdout).toContain(`Usage: cost-guardian ${words.join(' ')}`);
  });

  test('the top-level help lists every command and the exit statuses', async () => {
    const run = await box.cli(['--help']);
    expect(run.code).toBe(EXIT.ok);
    for (const name of ['serve', 'migrate', 'tokens', 'export', 'backup', 'import-original', 'reprice'])
      expect(run.stdout).toContain(name);
    expect(run.stdout).toContain('Exit status:');
  });

  test('an unknown command, an unknown option and a missing argument exit 2', async () => {
    expect((await box.cli(['frobnicate'])).code).toBe(EXIT.usage);
    expect((await box.cli(['tokens', 'list', '--colour'])).code).toBe(EXIT.usage);
    const missing = await box.cli(['tokens', 'create']);
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toContain("missing required argument 'label'");
  });

  test('no command at all prints the help and exits 2', async () => {
    const run = await box.cli([]);
    expect(run.code).toBe(EXIT.usage);
    expect(run.stderr).toContain('Usage: cost-guardian');
  });
});

test('an invalid environment exits 3 and names every problem', async () => {
  const run = await box.cli(['tokens', 'list'], { ENV: 'production', SERVER_PORT: 'eighty' });
  expect(run.code).toBe(EXIT.config);
  expect(run.stderr).toContain('API_KEY is required');
  expect(run.stderr).toContain('SERVER_PORT must be a whole number');
});

describe('tokens', () => {
  test('create prints the token, list shows it masked, --json shows it whole', async () => {
    const created = await box.cli(['tokens', 'create', 'Production App']);
    expect(created.code).toBe(EXIT.ok);
    const token = created.stdout.trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const list = await box.cli(['tokens', 'list']);
    expect(list.code).toBe(EXIT.ok);
    expect(list.stdout).toContain('Production App');
    expect(list.stdout).toContain(` ${token.slice(0, 4)}…${token.slice(-4)}`);
    expect(list.stdout).not.toContain(token);
    const json = JSON.parse((await box.cli(['tokens', 'list', '--json'])).stdout);
    expect(json).toMatchObject([{ id: 1, label: 'Production App', token, active: 1, usage_count: 0 }]);
  });

  test('list --json prints the entries of GET /ingest/tokens (snake_case, as the API)', async () => {
    await box.cli(['tokens', 'create', 'one']);
    await box.cli(['tokens', 'create', 'two']);
    await box.cli(['tokens', 'deactivate', '1']);
    const cli = JSON.parse((await box.cli(['tokens', 'list', '--json'])).stdout);
    const app = await createTestApp({ DB_PATH: box.dbPath });
    try {
      expect(cli).toEqual((await app.admin('GET', '/ingest/tokens')).json().tokens);
    } finally {
      await app.close();
    }
  });

  test('deactivate turns a token off; an unknown id exits 6 and a malformed id exits 2', async () => {
    await box.cli(['tokens', 'create', 'one']);
    const off = await box.cli(['tokens', 'deactivate', '1']);
    expect(off.code).toBe(EXIT.ok);
    const [token] = JSON.parse((await box.cli(['tokens', 'list', '--json'])).stdout);
    expect(token.active).toBe(0);
    expect((await box.cli(['tokens', 'deactivate', '99'])).code).toBe(EXIT.refused);
    expect((await box.cli(['tokens', 'deactivate', 'x1'])).code).toBe(EXIT.usage);
  });

  test('a taken label exits 6 and an empty label exits 2', async () => {
    await box.cli(['tokens', 'create', 'dup']);
    const again = await box.cli(['tokens', 'create', 'dup']);
    expect(again.code).toBe(EXIT.refused);
    expect(again.stderr).toContain("Label 'dup' already exists");
    expect((await box.cli(['tokens', 'create', '   '])).code).toBe(EXIT.usage);
  });

  test('--db points a command at another database file', async () => {
    const other = `${box.dir}/other.sqlite`;
    await box.cli(['--db', other, 'tokens', 'create', 'elsewhere']);
    expect((await box.cli(['tokens', 'list', '--json'])).stdout.trim()).toBe('[]');
    expect((await box.cli(['tokens', 'list', '--db', other])).stdout).toContain('elsewhere');
  });
});

describe('migrate', () => {
  test('creates and migrates a new database, then reports it is up to date', async () => {
    const dry = await box.cli(['migrate', '--dry-run']);
    expect(dry.stdout).toContain('does not exist');
    const first = await box.cli(['migrate']);
    expect(first.code).toBe(EXIT.ok);
    expect(first.stdout).toContain('applied 001_initial');
    const second = await box.cli(['migrate']);
    expect(second.stdout).toContain('is up to date');
    expect((await box.cli(['migrate', '--dry-run'])).stdout).toContain('up to date');
  });

  test('refuses a database of the original Flask version with exit 4 and points to import-original', async () => {
    const db = new Database(box.dbPath);
    db.exec('CREATE TABLE usage_log (id INTEGER PRIMARY KEY, timestamp TEXT)');
    db.close();
    for (const args of [['migrate'], ['migrate', '--dry-run'], ['tokens', 'list']]) {
      const run = await box.cli(args);
      expect(run.code).toBe(EXIT.database);
      expect(run.stderr).toContain('import-original');
    }
  });

  test('a database directory that cannot be created exits 4', async () => {
    writeFileSync(`${box.dir}/a-file`, 'not a directory');
    const run = await box.cli(['migrate'], { DB_PATH: `${box.dir}/a-file/usage.sqlite` });
    expect(run.code).toBe(EXIT.database);
    expect(run.stderr).toContain('cannot open the database');
  });
});
