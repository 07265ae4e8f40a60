import { expect, test } from 'vitest';
import { runCrashTest } from '../../scripts/crash-test.js';

/**
 * The short variant of `npm run crash` (scripts/crash-test.ts): the real service as a child
 * process, clients that resend the same event_id until answered, SIGKILLs at random moments
 * under that load. docs/reliability.md has the figures of a full run (25 kills).
 */
test('SIGKILLs under ingest load lose no acknowledged record and store none twice', async () => {
  const result = await runCrashTest({ kills: 3, clients: 4, seed: 16 });
  expect(result).toMatchObject({
    kills: 3,
    lost: 0,
    duplicated: 0,
    unacknowledgedStored: 0,
    integrity: 'ok',
    rollupsMatch: true,
  });
  expect(result.acknowledged).toBeGreaterThan(0);
  expect(result.stored).toBe(result.acknowledged);
}, 300_000);
