/**
 * Slow request bodies (issue 16.3): many connections with a valid ingest key each send most of a
 * large body and then stall. Prints the service's RSS and GET /ping latency before, during and
 * after, and what the attacking connections were answered.
 *
 *   npx tsx bench/slow-bodies.ts                           # 1,500 x 900 KiB of 1 MiB, 40 s
 *   npx tsx bench/slow-bodies.ts --connections 500 --seconds 20
 *   npx tsx bench/slow-bodies.ts --root /tmp/other-checkout # the same attack on another build
 *   npx tsx bench/slow-bodies.ts --env REQUEST_TIMEOUT_MS=10000
 *   npx tsx bench/slow-bodies.ts --cpu-prof                 # the service writes a .cpuprofile here
 *
 * The service runs from the TypeScript sources (tsx), in production mode, as its own process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 && args[index + 1] ? (args[index + 1] as string) : fallback;
};
const root = path.resolve(option('root', here));
const connections = Number(option('connections', '1500'));
const bodyBytes = Number(option('body-kib', '1024')) * 1024;
const sentBytes = Number(option('sent-kib', '900')) * 1024;
const seconds = Number(option('seconds', '40'));
const extraEnv = Object.fromEntries(
  args.flatMap((arg, i) => (args[i - 1] === '--env' ? [arg.split('=', 2) as [string, string]] : [])),
);

const INGEST_KEY = 'bench-ingest-key-0123456789abcdef';
const API_KEY = 'bench-admin-key-0123456789abcdef';

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

async function startService(dbPath: string): Promise<{ child: ChildProcess; baseUrl: string }> {
  const tsx = pathToFileURL(path.join(here, 'node_modules/tsx/dist/loader.mjs')).href;
  const profile = args.includes('--cpu-prof') ? ['--cpu-prof', '--cpu-prof-dir', process.cwd()] : [];
  const child = spawn(process.execPath, [...profile, '--import', tsx, path.join(root, 'src/main.ts')], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      ENV: 'production',
      API_KEY,
      INGEST_KEY,
      DB_PATH: dbPath,
      HOST: '127.0.0.1',
      SERVER_PORT: '0',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const started = Date.now();
  while (Date.now() - started < 30_000) {
    if (child.exitCode !== null) throw new Error(`service exited:\n${output}`);
    const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(output);
    if (match?.[1]) {
      // Keep draining its output, which is otherwise never read again.
      output = '';
      child.stdout?.removeAllListeners('data');
      child.stdout?.resume();
      return { child, baseUrl: match[1] };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`service did not start:\n${output}`);
}

/** The service's own event-loop delay since the previous call (each scrape resets it), in ms. */
async function eventLoopLag(baseUrl: string): Promise<{ maxMs: number; p99Ms: number }> {
  const text = await (
    await fetch(`${baseUrl}/metrics/prometheus`, { headers: { 'x-api-key': API_KEY } })
  ).text();
  const read = (name: string) =>
    Number(new RegExp(`^cg_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)?.[1]) * 1000;
  return { maxMs: Math.round(read('max')), p99Ms: Math.round(read('p99')) };
}

async function pingMs(baseUrl: string): Promise<number> {
  const started = performance.now();
  try {
    await (await fetch(`${baseUrl}/ping`, { signal: AbortSignal.timeout(60_000) })).text();
  } catch {
    return Number.NaN;
  }
  return performance.now() - started;
}

interface Attacker {
  status?: number;
  closed: boolean;
}

/**
 * The attacking connections, in a process of their own: writing 1.3 GB from the process that
 * times /ping would measure the client's own event loop.
 */
function attack(input: {
  port: number;
  token: string;
  connections: number;
  bodyBytes: number;
  sentBytes: number;
}): void {
  const prefix = `{"tracking_token":"${input.token}","model":"gpt-4o-mini","prompt_tokens":1,"meta":{"pad":"`;
  const body = Buffer.alloc(input.sentBytes, 'a');
  body.write(prefix, 0);
  const head = Buffer.from(
    `POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Ingest-Key: ${INGEST_KEY}\r\nContent-Length: ${input.bodyBytes}\r\n\r\n`,
  );
  const attackers: Attacker[] = [];
  const sockets: net.Socket[] = [];
  for (let i = 0; i < input.connections; i += 1) {
    const attacker: Attacker = { closed: false };
    attackers.push(attacker);
    const socket = net.connect(input.port, '127.0.0.1', () => {
      socket.write(head);
      socket.write(body);
    });
    socket.once('data', (chunk) => {
      attacker.status = Number(chunk.toString('latin1').split(' ')[1]);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      attacker.closed = true;
    });
    sockets.push(socket);
  }
  const report = setInterval(() => process.send?.(attackers), 250);
  process.on('message', () => {
    clearInterval(report);
    for (const socket of sockets) socket.destroy();
    setTimeout(() => {
      process.send?.(attackers);
      process.exit(0);
    }, 500);
  });
}

function summary(attackers: Attacker[]): string {
  const count = (test: (a: Attacker) => boolean) => attackers.filter(test).length;
  return `open ${count((a) => !a.closed)}, answered 503 ${count((a) => a.status === 503)}, 408 ${count((a) => a.status === 408)}, other ${count((a) => a.status !== undefined && a.status !== 503 && a.status !== 408)}`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-slow-bodies-'));
  const { child, baseUrl } = await startService(path.join(dir, 'usage.sqlite'));
  const pid = child.pid ?? 0;
  try {
    const created = await fetch(`${baseUrl}/ingest/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ label: 'bench' }),
    });
    const { token } = (await created.json()) as { token: string };
    const pings: number[] = [];
    for (let i = 0; i < 5; i += 1) pings.push(await pingMs(baseUrl));
    console.log(
      `root ${root}; ${connections} connections x ${sentBytes / 1024} KiB of ${bodyBytes / 1024} KiB`,
    );
    console.log(`before: RSS ${rssMb(pid)} MB, /ping ${Math.round(Math.min(...pings))} ms`);

    await eventLoopLag(baseUrl);
    let attackers: Attacker[] = [];
    const attackInput = { port: Number(new URL(baseUrl).port), token, connections, bodyBytes, sentBytes };
    const attacker = spawn(
      process.execPath,
      [
        '--import',
        pathToFileURL(path.join(here, 'node_modules/tsx/dist/loader.mjs')).href,
        fileURLToPath(import.meta.url),
        '--attacker',
        JSON.stringify(attackInput),
      ],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    attacker.on('message', (latest: Attacker[]) => {
      attackers = latest;
    });
    const attackerDone = new Promise((resolve) => attacker.once('exit', resolve));
    const started = Date.now();
    let peakRss = 0;
    let worstPing = 0;
    while (Date.now() - started < seconds * 1000) {
      const ms = await pingMs(baseUrl);
      const rss = rssMb(pid);
      peakRss = Math.max(peakRss, rss);
      worstPing = Math.max(worstPing, Number.isNaN(ms) ? 60_000 : ms);
      console.log(
        `t=${String(Math.round((Date.now() - started) / 1000)).padStart(3)} s  RSS ${String(rss).padStart(5)} MB  /ping ${String(Math.round(ms)).padStart(5)} ms  attackers: ${summary(attackers)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const lag = await eventLoopLag(baseUrl);
    console.log(
      `during: peak RSS ${peakRss} MB, worst /ping ${Math.round(worstPing)} ms (seen by this client); the service's event-loop delay: max ${lag.maxMs} ms, p99 ${lag.p99Ms} ms`,
    );
    attacker.send('stop');
    await attackerDone;
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const after: number[] = [];
    for (let i = 0; i < 5; i += 1) after.push(await pingMs(baseUrl));
    console.log(
      `after (attackers gone 10 s): RSS ${rssMb(pid)} MB, /ping ${Math.round(Math.min(...after))} ms; attackers: ${summary(attackers)}`,
    );
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(force);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (args[0] === '--attacker') attack(JSON.parse(args[1] ?? '{}'));
else await main();
