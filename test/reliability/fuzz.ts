/**
 * The long fuzz run: `npm run fuzz -- --count 100000 [--seed N] [--fault write-lock|disk-full]`.
 * Attacks the real service (production mode, every key set) through every route of its route
 * table, then prints what it sent, how the service answered, and every distinct defect with the
 * smallest request fast-check shrank it to. Exits 1 when there is a finding. docs/reliability.md
 * describes the generators and the checks; test/reliability/fuzz.test.ts is the short variant.
 */
import { parseArgs } from 'node:util';
import { Campaign, explore, type Fault } from './fuzz/campaign.js';
import { loadRoutes } from './fuzz/routes.js';
import { FuzzTarget } from './fuzz/target.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000_000) },
    fault: { type: 'string' },
    'timeout-ms': { type: 'string', default: '20000' },
    'rss-limit-mib': { type: 'string', default: '512' },
  },
});
const count = Number(values.count);
const seed = Number(values.seed);
const fault = values.fault as Fault | undefined;
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(seed)) {
  console.error('usage: npm run fuzz -- [--count N] [--seed N] [--fault write-lock|disk-full]');
  process.exit(2);
}
if (fault && fault !== 'write-lock' && fault !== 'disk-full') {
  console.error(`--fault must be write-lock or disk-full (got ${fault})`);
  process.exit(2);
}
if (fault === 'disk-full' && process.getuid?.() !== 0) {
  console.error('--fault disk-full mounts a small tmpfs for the database: run it as root');
  process.exit(2);
}

const target = await FuzzTarget.start({ smallDisk: fault === 'disk-full' });
const started = Date.now();
let exitCode = 0;
try {
  const routes = await loadRoutes({ ENV: 'production', ALLOWED_ORIGINS: target.keys.origin });
  console.log(
    `fuzzing ${routes.length} routes with ${count} requests, seed ${seed}${fault ? `, under ${fault}` : ''}`,
  );
  const campaign = new Campaign(target, {
    timeoutMs: Number(values['timeout-ms']),
    rssLimitBytes: Number(values['rss-limit-mib']) * 2 ** 20,
    ...(fault ? { fault } : {}),
  });
  await explore(campaign, routes, {
    count,
    seed,
    onProgress: (sent) => {
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `  ${sent} requests, ${Math.round(sent / seconds)}/s, findings so far: ${campaign.findings.size}`,
      );
    },
    onFinding: (finding) => console.log(`  found: ${finding.problem.split('\n')[0]} (shrinking)`),
  });
  const ping = await target.send({ method: 'GET', path: '/ping', headers: {} });
  console.log('');
  console.log(campaign.summary());
  console.log('');
  console.log(
    `seed ${seed}; ${((Date.now() - started) / 1000).toFixed(0)} s; /ping at the end: ${ping.answered ? ping.status : ping.error}`,
  );
  if (campaign.findings.size > 0 || !ping.answered || ping.status !== 200) exitCode = 1;
} finally {
  await target.stop();
}
process.exit(exitCode);
