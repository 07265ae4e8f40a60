#!/usr/bin/env node
// The `cost-guardian` command (package.json `bin`) and `npm start`. Before the CLI (dist/cli.js):
// - reads ./.env when there is one, as docker compose's `env_file` does, so that one file
//   configures both; a variable already set in the environment wins over the file;
// - in a checkout (src/ beside dist/), builds dist/ when it is missing or older than the sources
//   (scripts/build-if-stale.mjs), so the first start builds and later ones start at once.
// The container runs dist/cli.js directly: compose passes .env as the environment.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const envFile = path.resolve('.env');
if (existsSync(envFile)) {
  if (typeof process.loadEnvFile !== 'function') {
    process.stderr.write(
      `cost-guardian: ${envFile} exists, but Node.js ${process.version} cannot read it (20.12 or later can): ` +
        'upgrade Node.js, or set its variables in the environment and move the file away\n',
    );
    process.exit(3);
  }
  process.loadEnvFile(envFile);
}

const root = fileURLToPath(new URL('..', import.meta.url));
if (existsSync(path.join(root, 'src'))) {
  const { buildIfStale } = await import('../scripts/build-if-stale.mjs');
  if (!buildIfStale(root)) process.exit(1);
}
await import('../dist/cli.js');
