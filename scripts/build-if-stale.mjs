// Builds dist/ (npm run build) when it is missing or older than its sources, and does nothing
// otherwise: bin/cost-guardian.mjs (`npm start`, `npx cost-guardian`) runs it first, so a fresh
// checkout builds once and every later start takes milliseconds. Run directly, it does the same:
//   node scripts/build-if-stale.mjs
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the build reads. Directories are walked (test files and node_modules left out). */
const INPUTS = [
  'src',
  'web',
  'scripts/copy-assets.mjs',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
];
/** What the build writes last or always rewrites: if one is older than an input, build again. */
const OUTPUTS = ['dist/main.js', 'dist/cli.js', 'dist/storage/sqlite/migrations', 'dist/web/index.html'];

function newestMtimeMs(file) {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return /\.test\.tsx?$/.test(file) ? 0 : stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(file)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    newest = Math.max(newest, newestMtimeMs(path.join(file, entry)));
  }
  return newest;
}

/** Why dist/ needs building, or undefined when it is up to date. */
export function staleReason(root) {
  let oldestOutput = Number.POSITIVE_INFINITY;
  for (const output of OUTPUTS) {
    const stat = statSync(path.join(root, output), { throwIfNoEntry: false });
    if (!stat) return `${output} is missing`;
    oldestOutput = Math.min(oldestOutput, stat.mtimeMs);
  }
  for (const input of INPUTS) {
    if (newestMtimeMs(path.join(root, input)) > oldestOutput) return `${input} changed since the last build`;
  }
  return undefined;
}

/**
 * Builds when stale, writing the build's output to stderr (stdout stays clean for a command's
 * data). Returns false if the build failed.
 */
export function buildIfStale(root) {
  const reason = staleReason(root);
  if (reason === undefined) return true;
  if (!existsSync(path.join(root, 'node_modules'))) {
    process.stderr.write('cost-guardian: not installed yet: run `npm install` first, then try again\n');
    return false;
  }
  process.stderr.write(`cost-guardian: building (${reason}); this happens once after a change\n`);
  const build = spawnSync('npm', ['run', 'build'], {
    cwd: root,
    stdio: ['ignore', process.stderr, process.stderr],
    shell: process.platform === 'win32',
  });
  if (build.status === 0) return true;
  process.stderr.write(
    'cost-guardian: the build failed (above); fix it, or run `npm run build` to see why\n',
  );
  return false;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = buildIfStale(fileURLToPath(new URL('..', import.meta.url))) ? 0 : 1;
}
