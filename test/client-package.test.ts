import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

/** @cost-guardian/client as an app gets it: the built package (test/build-client.ts), ESM with types. */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACKAGE = path.join(ROOT, 'packages/client');
const manifest = JSON.parse(readFileSync(path.join(PACKAGE, 'package.json'), 'utf8'));

const API = [
  'CostGuardian',
  'costGuardian',
  'flush',
  'track',
  'withAttribution',
  'wrapAnthropic',
  'wrapOpenAI',
];

test('every entry the package exports exists, and it has no runtime dependency', () => {
  expect(manifest.type).toBe('module');
  expect(manifest.dependencies ?? {}).toEqual({});
  for (const target of Object.values(manifest.exports['.'] as Record<string, string>)) {
    expect(existsSync(path.join(PACKAGE, target)), target).toBe(true);
  }
});

test('under Node the package name resolves to the Node entry with the whole API', async () => {
  const { stdout } = await run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import('@cost-guardian/client'); console.log(JSON.stringify(Object.keys(m).sort()));`,
    ],
    { cwd: ROOT },
  );
  expect(JSON.parse(stdout)).toEqual(API);
});

test('the default (edge) entry imports no node: module, anywhere in its module graph', () => {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(path.join(PACKAGE, 'dist', file), 'utf8');
    for (const [, specifier] of source.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      expect(specifier, `${file} imports ${specifier}`).not.toMatch(/^node:|^(fs|path|crypto|async_hooks)$/);
      if (specifier?.startsWith('./')) visit(specifier.slice(2));
    }
  };
  visit('index.js');
  expect(seen.size).toBeGreaterThan(3);
});

test('its types let a TypeScript app wrap an OpenAI client and keep the OpenAI type', async () => {
  mkdirSync(path.join(ROOT, 'node_modules/.cache'), { recursive: true });
  const dir = mkdtempSync(path.join(ROOT, 'node_modules/.cache/client-types-'));
  try {
    writeFileSync(
      path.join(dir, 'app.ts'),
      `import OpenAI from 'openai';
import { CostGuardian, flush, track, withAttribution, wrapOpenAI } from '@cost-guardian/client';
const options = { trackingToken: 't', endpoint: 'http://127.0.0.1:5001', ingestKey: 'k' };
const openai: OpenAI = wrapOpenAI(new OpenAI({ apiKey: 'x' }), { ...options, tags: { team: 'search' } });
const client = new CostGuardian({ ...options, maxQueue: 100 });
const ok: boolean = track({}, { client, user: 'u' });
export async function main(): Promise<number> {
  await withAttribution({ user: 'u1' }, () => openai.models.list());
  const { pending } = await flush(1000);
  return pending + client.stats().dropped + client.lastBudgets().length + (ok ? 1 : 0);
}
`,
    );
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['app.ts'],
      }),
    );
    const result = await run(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', dir], { cwd: dir }).catch(
      (error: { stdout: string }) => ({ stdout: error.stdout, failed: true }),
    );
    expect(result.stdout).toBe('');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
