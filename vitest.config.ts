import { defineConfig } from 'vitest/config';

/**
 * Test files that start other processes (the service's entry point, Python and TypeScript
 * snippets, the container health check, a script using the store). Everything else under test/
 * and src/ runs in-process and belongs to the fast `unit` project.
 */
const PROCESS_TESTS = [
  'test/process.test.ts',
  'test/snippets.test.ts',
  'test/python-snippet.test.ts',
  'test/python-client.test.ts',
  'test/streaming-usage.test.ts',
  'test/budget-alerts.test.ts',
  'test/container.test.ts',
  'test/read-worker-lifetime.test.ts',
  'test/logs.test.ts',
  'test/client-process.test.ts',
  'test/client-package.test.ts',
  'test/instance-lock.test.ts',
  'test/npm-start.test.ts',
];
const BROWSER_TESTS = ['test/e2e/**/*.test.ts'];
/** The fuzz harness and fault proofs: seconds to tens of seconds per file. */
const RELIABILITY_TESTS = ['test/reliability/**/*.test.ts'];
/** Tests that need PostgreSQL or Redis; their project starts the servers first. */
const SERVICE_TESTS = ['test/services/**/*.test.ts', 'test/redis-rate-limit.test.ts'];
/** Builds the Dockerfile's image on a real engine (installed and started as root): minutes cold. */
const CONTAINER_TESTS = ['test/container/**/*.test.ts'];

/**
 * `npm test` runs every project; `npm run test:unit` only `unit`. A project's globalSetup runs only
 * when one of its files is queued, so the unit run needs no browser, no Python and no servers.
 */
const shared = {
  testTimeout: 30_000,
  hookTimeout: 30_000,
  pool: 'forks',
  // What is eventually true gets a generous wait: under load the first read from a freshly started
  // worker can take seconds. A failing poll still fails, just later.
  expect: { poll: { timeout: 15_000, interval: 50 } },
} as const;

export default defineConfig({
  test: {
    // Once per run, in the root config that projects do not extend (a project inheriting it would
    // build again, racing on dist/web): the browser tests and test/dashboard.test.ts serve the
    // files `npm run build` ships.
    globalSetup: ['test/setup/build-web.ts', 'test/build-client.ts'],
    // Two files at a time even on 2 cores: browser, process and fsync-bound tests spend much of
    // their time waiting, and the default (cores - 1) ran the suite one file at a time.
    maxWorkers: 2,
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'packages/*/src/**/*.test.ts'],
          // In-process tests share nothing through modules (no singletons, no vi.mock or fake
          // timers), so a worker keeps its imports from one file to the next instead of loading
          // the service again for each; a test that patches a module must restore it.
          isolate: false,
          exclude: [
            ...PROCESS_TESTS,
            ...BROWSER_TESTS,
            ...RELIABILITY_TESTS,
            ...SERVICE_TESTS,
            ...CONTAINER_TESTS,
          ],
        },
      },
      {
        test: {
          ...shared,
          name: 'process',
          include: PROCESS_TESTS,
          globalSetup: ['test/setup/python-env.ts'],
        },
      },
      {
        test: {
          ...shared,
          name: 'browser',
          include: BROWSER_TESTS,
          globalSetup: ['test/setup/chromium.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      { test: { ...shared, name: 'reliability', include: RELIABILITY_TESTS, testTimeout: 120_000 } },
      {
        test: {
          ...shared,
          name: 'services',
          include: SERVICE_TESTS,
          globalSetup: ['test/services/start-services.ts'],
        },
      },
      {
        test: {
          ...shared,
          name: 'container',
          include: CONTAINER_TESTS,
          testTimeout: 900_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
