import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CONFIG_VARS } from '../src/config.js';
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
