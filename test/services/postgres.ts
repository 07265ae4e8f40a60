import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Databases of a test file's own on the PostgreSQL server of this machine (127.0.0.1:5432, trust
 * auth, connecting first to the database `test`). The helper drives `psql`, so it does not tie the
 * tests to the driver the PostgreSQL store will use.
 *
 *   const db = await createTestDatabase(import.meta.url, { template });
 *   ... db.url ...
 *   await db.drop();                     // in afterAll
 *
 * A template (e.g. a migrated schema) is made once per content: `ensureTemplate(key, setup)` names
 * it after a hash of `key` (say, the migration files' text), so a changed schema gets a new
 * template and parallel test files never build it twice at once (it is built under a temporary
 * name and renamed into place; the loser of a race drops its copy).
 */

const execFileAsync = promisify(execFile);

export const PG_HOST = '127.0.0.1';
export const PG_PORT = 5432;
export const PG_USER = 'postgres';
/** The database to connect to for CREATE/DROP DATABASE. */
export const PG_ADMIN_DATABASE = 'test';
/** Every database this helper creates starts with one of these; nothing else is ever dropped. */
export const TEST_DATABASE_PREFIX = 'cg_t_';
export const TEMPLATE_PREFIX = 'cg_tpl_';

export function postgresUrl(database: string): string {
  return `postgres://${PG_USER}@${PG_HOST}:${PG_PORT}/${database}`;
}

/** Runs SQL through psql (stops at the first error) and returns its unaligned output lines. */
export async function psql(sql: string, database = PG_ADMIN_DATABASE): Promise<string[]> {
  const { stdout } = await execFileAsync(
    'psql',
    [
      '-h',
      PG_HOST,
      '-p',
      String(PG_PORT),
      '-U',
      PG_USER,
      '-d',
      database,
      '-X',
      '-q',
      '-At',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      sql,
    ],
    { env: { ...process.env, PGCONNECT_TIMEOUT: '10' } },
  );
  return stdout.split('\n').filter((line) => line !== '');
}

const identifier = (name: string) => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a safe database name: ${name}`);
  return `"${name}"`;
};

async function databaseExists(name: string): Promise<boolean> {
  const rows = await psql(`SELECT 1 FROM pg_database WHERE datname = '${name}'`);
  return rows.length > 0;
}

/**
 * The name of a template database holding what `setup` put into a fresh database, built once for
 * each distinct `key`. `setup` gets the temporary database's URL.
 */
export async function ensureTemplate(key: string, setup: (url: string) => Promise<void>): Promise<string> {
  const name = `${TEMPLATE_PREFIX}${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
  if (await databaseExists(name)) return name;
  const building = `${TEMPLATE_PREFIX}build_${process.pid}_${randomBytes(4).toString('hex')}`;
  await psql(`CREATE DATABASE ${identifier(building)}`);
  try {
    await setup(postgresUrl(building));
    await psql(`ALTER DATABASE ${identifier(building)} RENAME TO ${identifier(name)}`);
    await psql(`ALTER DATABASE ${identifier(name)} WITH IS_TEMPLATE true`);
  } catch (error) {
    await psql(`DROP DATABASE IF EXISTS ${identifier(building)} WITH (FORCE)`);
    if (await databaseExists(name)) return name;
    throw error;
  }
  return name;
}

/** Drops a template (one made for a key no test uses any more). */
export async function dropTemplate(name: string): Promise<void> {
  if (!name.startsWith(TEMPLATE_PREFIX)) throw new Error(`not a test template: ${name}`);
  if (!(await databaseExists(name))) return;
  await psql(`ALTER DATABASE ${identifier(name)} WITH IS_TEMPLATE false`);
  await psql(`DROP DATABASE IF EXISTS ${identifier(name)} WITH (FORCE)`);
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database, closing any connection still open to it. */
  drop(): Promise<void>;
}

/**
 * A new, empty (or templated) database for one test file, named after the file and this process
 * (`cg_t_<file>_<pid>_<random>`), so leftovers of a killed run can be told apart and swept
 * (`dropLeftoverDatabases`).
 */
export async function createTestDatabase(
  fileUrl: string,
  options: { template?: string } = {},
): Promise<TestDatabase> {
  const file = path
    .basename(new URL(fileUrl).pathname)
    .replace(/\.test\.ts$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 30);
  const name = `${TEST_DATABASE_PREFIX}${file}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const template = options.template ? ` TEMPLATE ${identifier(options.template)}` : '';
  await psql(`CREATE DATABASE ${identifier(name)}${template}`);
  return {
    name,
    url: postgresUrl(name),
    drop: async () => {
      await psql(`DROP DATABASE IF EXISTS ${identifier(name)} WITH (FORCE)`);
    },
  };
}

/** Drops test databases left by processes that no longer run (a killed test run). */
export async function dropLeftoverDatabases(): Promise<string[]> {
  const names = await psql(`SELECT datname FROM pg_database WHERE datname LIKE '${TEST_DATABASE_PREFIX}%'`);
  const dropped: string[] = [];
  for (const name of names) {
    const pid = Number(/_(\d+)_[0-9a-f]+$/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || isAlive(pid)) continue;
    await psql(`DROP DATABASE IF EXISTS ${identifier(name)} WITH (FORCE)`);
    dropped.push(name);
  }
  return dropped;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
