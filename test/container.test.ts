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
 * The container's configuration, checked without an engine: what the service does with the
 * environment the image and compose give it. test/container/image.test.ts builds and runs the
 * image itself.
 */

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

/** The runtime stage's ENV: what the service sees in the image before .env and compose add theirs. */
function imageEnvironment(dockerfile: string): Record<string, string> {
  const runtime = dockerfile.slice(dockerfile.search(/^FROM .* AS runtime$/m));
  const instructions = runtime.replace(/\\\n/g, ' ').split('\n');
  return Object.fromEntries(
    instructions
      .filter((line) => line.startsWith('ENV '))
      .flatMap((line) => [...line.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])),
  );
}

const imageEnv = imageEnvironment(read('Dockerfile'));
const compose = parseYaml(read('docker-compose.yml')) as {
  services: Record<string, Record<string, unknown>>;
};
const service = compose.services.api as {
  environment: Record<string, string>;
  healthcheck: { test: string[] };
};
const port = CONFIG_VARS.find((v) => v.name === 'SERVER_PORT')?.default ?? '';

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
