import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseEnv } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CONFIG_VARS, ConfigError, loadConfig } from '../src/config.js';
import { createTestApp, type TestContext } from './helpers.js';

/**
 * No Docker engine runs where the tests run, so this checks what can be checked without one: the
 * files parse, and the Dockerfile, docker-compose.yml, the config module and the README agree.
 */

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions, with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[][] {
  const KEYWORDS = new Set([
    'FROM',
    'RUN',
    'CMD',
    'LABEL',
    'EXPOSE',
    'ENV',
    'ADD',
    'COPY',
    'ENTRYPOINT',
    'VOLUME',
    'USER',
    'WORKDIR',
    'ARG',
    'ONBUILD',
    'STOPSIGNAL',
    'HEALTHCHECK',
    'SHELL',
  ]);
  const logical: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (line.trim().startsWith('#') || (current === '' && line.trim() === '')) continue;
    current += line.endsWith('\\') ? `${line.slice(0, -1)} ` : line;
    if (!line.endsWith('\\')) {
      logical.push(current.trim());
      current = '';
    }
  }
  expect(current, 'a continuation line ends the Dockerfile').toBe('');
  const stages: Instruction[][] = [];
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    expect(KEYWORDS.has(keyword.toUpperCase()), `unknown instruction: ${line}`).toBe(true);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    if (instruction.keyword === 'FROM') stages.push([]);
    stages[stages.length - 1]?.push(instruction);
  }
  return stages;
}

/** The exec form (a JSON array), which every command here must use so that signals reach node. */
function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  expect(Array.isArray(parsed) && parsed.every((part) => typeof part === 'string'), args).toBe(true);
  return parsed as string[];
}

const configDefault = (name: string) => CONFIG_VARS.find((v) => v.name === name)?.default;
const stages = parseDockerfile(read('Dockerfile'));
const runtime = stages[stages.length - 1] ?? [];
const all = (keyword: string) => runtime.filter((i) => i.keyword === keyword);
const one = (keyword: string) => {
  const found = all(keyword);
  expect(found, keyword).toHaveLength(1);
  return found[0]?.args ?? '';
};
const imageEnv = Object.fromEntries(
  all('ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])),
);
const compose = parseYaml(read('docker-compose.yml')) as {
  services: Record<string, Record<string, unknown>>;
};
const service = compose.services.api as {
  ports: string[];
  env_file: string;
  environment: Record<string, string>;
  volumes: string[];
  healthcheck: { test: string[] };
};
const port = configDefault('SERVER_PORT') ?? '';

describe('the Dockerfile', () => {
  test('builds in one stage and runs from a small one as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]?.[0]?.args).toMatch(/ AS build$/);
    const copies = all('COPY').map((i) => i.args);
    expect(copies.every((args) => args.startsWith('--from=build '))).toBe(true);
    expect(copies.some((args) => / \/app\/dist /.test(args))).toBe(true);
    expect(stages[0]?.some((i) => i.keyword === 'RUN' && i.args.includes('npm prune --omit=dev'))).toBe(true);
    const user = one('USER');
    expect(user).not.toMatch(/^(root|0)(:|$)/);
  });

  test('keeps the database in a volume at the data directory the service uses', () => {
    expect(imageEnv.DATA_DIR).toBe('/app/data');
    expect(execForm(one('VOLUME'))).toEqual([imageEnv.DATA_DIR]);
    expect(imageEnv.SERVER_PORT).toBe(port);
    expect(one('EXPOSE')).toBe(port);
    expect(imageEnv.ENV).toBe('production');
    expect(imageEnv.HOST).toBe('0.0.0.0');
  });

  test('starts under tini with the command the README gives', () => {
    const entrypoint = execForm(one('ENTRYPOINT'));
    expect(entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(runtime.some((i) => i.keyword === 'RUN' && /apt-get install .*\btini\b/.test(i.args))).toBe(true);
    const command = [...entrypoint.slice(2), ...execForm(one('CMD'))].join(' ');
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('## Running in a container'));
    const documented = /The image runs[^\n]*\n+```bash\n([^\n]+)\n```/.exec(section)?.[1];
    expect(documented).toBe(command);
    expect(command).toBe('node dist/cli.js serve');
  });

  test('checks /health, and its check is the one compose runs', () => {
    const healthcheck = one('HEALTHCHECK');
    const cmd = /CMD (\[.*\])$/.exec(healthcheck)?.[1] ?? '';
    const command = execForm(cmd);
    expect(command.join(' ')).toContain('/health');
    expect(service.healthcheck.test).toEqual(['CMD', ...command]);
  });
});

describe('docker-compose.yml', () => {
  test('has the single service of the original: port 5001, ./data, env_file .env', () => {
    expect(Object.keys(compose.services)).toEqual(['api']);
    expect(service.ports).toEqual([`${port}:${port}`]);
    expect(service.env_file).toBe('.env');
    expect(service.volumes).toEqual([`./data:${imageEnv.DATA_DIR}`]);
    expect(service.environment).toEqual({ HOST: '0.0.0.0', SERVER_PORT: port, DATA_DIR: imageEnv.DATA_DIR });
  });

  test('keeps secrets and local data out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['.env', 'data/', 'node_modules/', '.git/']) expect(ignored).toContain(entry);
  });
});

describe('the health check command', () => {
  let ctx: TestContext;
  let address: string;
  beforeAll(async () => {
    ctx = await createTestApp();
    address = await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await ctx.close();
  });

  // The server answers from this process, so the check must run without blocking it.
  const runCheck = (serverPort: string) => {
    const [, node, ...args] = service.healthcheck.test;
    expect(node).toBe('node');
    const child = spawn(process.execPath, args, { env: { SERVER_PORT: serverPort }, timeout: 10_000 });
    return new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  };

  test('passes against a running service and fails when nothing answers', async () => {
    expect(await runCheck(new URL(address).port)).toBe(0);
    expect(await runCheck('1')).toBe(1);
  });
});

/**
 * Issue 17.7: `cp .env.example .env` used to set ENV=development over the image's production mode;
 * without API_KEY the service then exited with advice to change HOST (which compose fixes), and
 * `restart: unless-stopped` restarted it in a loop.
 */
describe('a new .env copied from .env.example', () => {
  // What the service sees in the container: the image's ENV, then env_file, then `environment`.
  const containerEnv = (dotEnv: Record<string, string>) => ({
    ...imageEnv,
    ...dotEnv,
    ...service.environment,
  });
  const example = parseEnv(read('.env.example')) as Record<string, string>;

  test('keeps the image in production mode, and the only thing to add is the two keys', () => {
    const config = loadConfig(
      containerEnv({ ...example, API_KEY: 'a'.repeat(32), INGEST_KEY: 'b'.repeat(32) }),
      '/app',
    );
    expect(config).toMatchObject({ mode: 'production', host: '0.0.0.0', port: Number(port) });
  });

  test('unchanged, is refused with advice about .env, never about HOST', () => {
    let error: unknown;
    try {
      loadConfig(containerEnv(example), '/app');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, container } = error as ConfigError;
    expect(problems).toEqual([
      expect.stringContaining('API_KEY is required'),
      expect.stringContaining('INGEST_KEY is required'),
      expect.stringContaining('in the container: set variables in .env beside docker-compose.yml'),
    ]);
    expect(container).toEqual({ host: '0.0.0.0', port: Number(port) });
    const development = (() => {
      try {
        loadConfig(containerEnv({ ...example, ENV: 'development' }), '/app');
      } catch (caught) {
        return (caught as ConfigError).problems.join('\n');
      }
    })();
    expect(development).toContain('remove ENV from .env');
    expect(development).not.toMatch(/bind HOST|HOST=/);
  });
});

describe('serve with a configuration error in the container', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const TSX = pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href;

  const freePort = () =>
    new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port: free } = server.address() as { port: number };
        server.close(() => resolve(free));
      });
    });

  test('stays up answering 503 (no restart loop), says what to set once, and exits 3 on SIGTERM', async () => {
    const serverPort = await freePort();
    const child = spawn(process.execPath, ['--import', TSX, path.join(root, 'src/cli.ts'), 'serve'], {
      env: {
        PATH: process.env.PATH ?? '',
        ...imageEnv,
        HOST: '127.0.0.1',
        SERVER_PORT: String(serverPort),
        DATA_DIR: path.join(root, 'data-never-created'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('answering 503')) resolve();
      });
      child.once('exit', () => reject(new Error(`serve exited:\n${stderr}`)));
    });
    try {
      expect(stderr).toContain('API_KEY is required');
      expect(stderr).toContain('set variables in .env');
      const health = await fetch(`http://127.0.0.1:${serverPort}/health`);
      expect(health.status).toBe(503);
      expect(health.headers.get('retry-after')).toBe('60');
      const body = (await health.json()) as { message: string };
      expect(body).toMatchObject({ status: 'error', code: 'unavailable', requestId: expect.any(String) });
      expect(body.message).toContain('not configured');
      // The problems (which can name values) stay in the log.
      expect(body.message).not.toContain('API_KEY');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(3);
  });
});
