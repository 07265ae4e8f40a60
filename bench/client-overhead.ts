/**
 * The TypeScript client's cost to the app (issue 18), in three parts:
 * 1. CPU: the CPU a wrapped call adds over an unwrapped one, delivery to the real Cost Guardian
 *    included. The provider is answered in-process (the SDK's `fetch` option returns a canned chat
 *    completion), so the SDK's work per call is a few tens of microseconds and the difference is
 *    not lost in HTTP noise. Alternating rounds, median.
 * 2. Latency: median wall time per call against the fake OpenAI API over real HTTP, wrapped and
 *    unwrapped (its CPU figure is printed too, but on a busy 2-core machine it is noise).
 * 3. Burst: 10,000 wrapped calls (50 at a time), counting the requests that delivered them.
 *
 *   npx tsx bench/client-overhead.ts
 *   npx tsx bench/client-overhead.ts --calls 20000 --http-calls 2000 --rounds 5 --burst 10000
 *
 * The fake OpenAI API (test/fake-openai.ts) and Cost Guardian (`cost-guardian serve` from the
 * sources) run in their own processes, so this process's CPU is the app's: the SDK, the wrapper,
 * the queue and the delivery requests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { CostGuardian } from '../packages/client/src/node.js';
import { chatCompletion } from '../test/fake-openai.js';
import { startServerProcess } from '../test/server-process.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const calls = option('calls', 20_000);
const httpCalls = option('http-calls', 2000);
const rounds = option('rounds', 5);
const burst = option('burst', 10_000);
const INGEST_KEY = 'bench-ingest-key-0123456789';
const API_KEY = 'bench-admin-key-0123456789';

async function startFakeOpenAiProcess(): Promise<{ baseUrl: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      "import('./test/fake-openai.ts').then(async (m) => console.log((await m.startFakeOpenAi()).baseUrl))",
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const baseUrl = await new Promise<string>((resolve) =>
    child.stdout?.on('data', (chunk: Buffer) => resolve(chunk.toString().trim())),
  );
  return { baseUrl, child };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const cpuMicros = () => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};

const dir = mkdtempSync(path.join(tmpdir(), 'cg-bench-client-'));
const server = await startServerProcess({
  API_KEY,
  INGEST_KEY,
  DB_PATH: path.join(dir, 'usage.sqlite'),
  INGEST_RPM: '100000000',
  INGEST_BURST: '100000000',
  RATE_LIMIT_RPM: '100000',
});
const fake = await startFakeOpenAiProcess();
const created = await fetch(`${server.baseUrl}/ingest/tokens`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
  body: JSON.stringify({ label: 'bench' }),
});
const token = ((await created.json()) as { token: string }).token;

let deliveryRequests = 0;
const client = new CostGuardian({
  trackingToken: token,
  endpoint: server.baseUrl,
  ingestKey: INGEST_KEY,
  exitHooks: false,
  maxQueue: 20_000,
  fetch: (input, init) => {
    deliveryRequests += 1;
    return fetch(input, init);
  },
});
const raw = new OpenAI({ baseURL: fake.baseUrl, apiKey: 'sk-bench', maxRetries: 0 });
const wrapped = client.wrapOpenAI(raw);
const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

let sequence = 0;
async function run(openai: OpenAI, count: number, deliver: boolean) {
  const wall: number[] = [];
  const cpuStart = cpuMicros();
  for (let n = 0; n < count; n += 1) {
    const started = performance.now();
    await openai.chat.completions.create(params, { headers: { 'x-fake-id': `bench-${sequence++}` } });
    wall.push(performance.now() - started);
  }
  if (deliver) await client.flush(60_000);
  return { cpuPerCallUs: (cpuMicros() - cpuStart) / count, wallMedianMs: median(wall) };
}

let canned = 0;
const cannedOpenAi = new OpenAI({
  apiKey: 'sk-bench',
  maxRetries: 0,
  fetch: async () =>
    new Response(JSON.stringify(chatCompletion(`chatcmpl-canned-${canned++}`, 'gpt-4o-mini')), {
      status: 200,
      headers: { 'content-type': 'application/json', 'x-request-id': `req_${canned}` },
    }),
});
const cannedWrapped = client.wrapOpenAI(cannedOpenAi);

async function compare(label: string, plainClient: OpenAI, trackedClient: OpenAI, count: number) {
  await run(plainClient, Math.min(count, 1000), false);
  await run(trackedClient, Math.min(count, 1000), true);
  const added: number[] = [];
  const wallAdded: number[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    const plain = await run(plainClient, count, false);
    const tracked = await run(trackedClient, count, true);
    added.push(tracked.cpuPerCallUs - plain.cpuPerCallUs);
    wallAdded.push((tracked.wallMedianMs - plain.wallMedianMs) * 1000);
    console.log(
      `${label} round ${round}: CPU/call unwrapped ${plain.cpuPerCallUs.toFixed(1)} us, wrapped ${tracked.cpuPerCallUs.toFixed(1)} us; ` +
        `median wall ${(plain.wallMedianMs * 1000).toFixed(0)} vs ${(tracked.wallMedianMs * 1000).toFixed(0)} us`,
    );
  }
  console.log(
    `${label}: added CPU per call, median of ${rounds}: ${median(added).toFixed(1)} us; ` +
      `added median wall time per call: ${median(wallAdded).toFixed(1)} us`,
  );
}

await compare('in-process provider', cannedOpenAi, cannedWrapped, calls);
await compare('HTTP provider', raw, wrapped, httpCalls);

const before = { requests: deliveryRequests, delivered: client.stats().delivered };
const started = performance.now();
const pending = new Set<Promise<unknown>>();
for (let n = 0; n < burst; n += 1) {
  const call = wrapped.chat.completions.create(params, { headers: { 'x-fake-id': `burst-${n}` } });
  pending.add(call);
  void call.finally(() => pending.delete(call));
  if (pending.size >= 50) await Promise.race(pending);
}
await Promise.all(pending);
await client.flush(120_000);
const stats = client.stats();
console.log(
  `burst: ${burst} calls (50 at a time) in ${((performance.now() - started) / 1000).toFixed(1)} s, ` +
    `${stats.delivered - before.delivered} records delivered in ${deliveryRequests - before.requests} requests ` +
    `(dropped ${stats.dropped}, retries ${stats.retries})`,
);
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}, Node ${process.version}`);

client.close();
fake.child.kill();
await server.stop();
rmSync(dir, { recursive: true, force: true });
