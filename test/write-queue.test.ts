import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { openDatabase } from '../src/storage/sqlite/open-database.js';
import { createWalSync, type WalSync } from '../src/storage/sqlite/wal-sync.js';
import { WriteQueue } from '../src/storage/sqlite/write-queue.js';
import { StoreFullError, StoreLockedError } from '../src/storage/store.js';

/**
 * The group commit with its durability step off the event loop: a write is answered only after a
 * sync of the WAL that started after its COMMIT. The syncs here are real fdatasyncs; the test only
 * holds each one back (a gate) so it can look at what happened in between.
 */

let dir: string;
let db: Database.Database;
let walSync: WalSync;
let gates: { release: () => void; fail: (error: Error) => void }[];
let syncsStarted: number;
let queue: WriteQueue;

function gatedSync(): Promise<void> {
  syncsStarted += 1;
  const started = walSync.sync();
  return new Promise<void>((resolve, reject) => {
    gates.push({
      release: () => started.then(resolve, reject),
      fail: (error) => started.then(() => reject(error), reject),
    });
  });
}

function insert(value: number): () => number {
  return () => Number(db.prepare('INSERT INTO t (v) VALUES (?)').run(value).lastInsertRowid);
}

function count(): number {
  return (db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n;
}

/** Runs every pending setImmediate and microtask. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cg-write-queue-'));
  const file = path.join(dir, 'db.sqlite');
  db = openDatabase(file, { synchronous: 'normal' });
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0))');
  walSync = createWalSync(db, file);
  gates = [];
  syncsStarted = 0;
  queue = new WriteQueue(db, { sync: gatedSync, maxWeight: 10 });
});

afterEach(() => {
  walSync.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a write is committed at once but answered only when a sync that started after its commit ends', async () => {
  let answered = false;
  const write = queue.enqueue(insert(1)).then((id) => {
    answered = true;
    return id;
  });
  await turn();
  expect(count()).toBe(1);
  expect(syncsStarted).toBe(1);
  expect(answered).toBe(false);
  gates[0]?.release();
  expect(await write).toBe(1);
});

test('writes that arrive during a sync gather into one transaction, committed and synced after it', async () => {
  const commits: number[] = [];
  queue = new WriteQueue(db, { sync: gatedSync, onBatch: (records) => commits.push(records) });
  const first = queue.enqueue(insert(1));
  await turn();
  const later = [2, 3, 4].map((v) => queue.enqueue(insert(v)));
  await turn();
  await turn();
  // Held back while the first sync runs: nothing new committed yet.
  expect(count()).toBe(1);
  gates[0]?.release();
  await first;
  await turn();
  expect(count()).toBe(4);
  expect(commits).toEqual([1, 3]);
  expect(syncsStarted).toBe(2);
  gates[1]?.release();
  expect(await Promise.all(later)).toEqual([2, 3, 4]);
});

test('a full transaction is not held back by a running sync', async () => {
  const first = queue.enqueue(insert(1));
  await turn();
  const many = Array.from({ length: 10 }, (_, i) => queue.enqueue(insert(i + 2)));
  await turn();
  expect(count()).toBe(11);
  gates[0]?.release();
  await first;
  await turn();
  gates[1]?.release();
  expect(await Promise.all(many)).toHaveLength(10);
});

test('a failing write is rejected alone; the others of its transaction commit and are answered after the sync', async () => {
  const writes = Promise.allSettled([
    queue.enqueue(insert(1)),
    queue.enqueue(insert(-1)),
    queue.enqueue(insert(2)),
  ]);
  await turn();
  expect(count()).toBe(2);
  gates[0]?.release();
  const results = await writes;
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
});

test('after a failed sync, the writes it covered and every later write are refused', async () => {
  const covered = queue.enqueue(insert(1));
  covered.catch(() => {});
  await turn();
  const waiting = queue.enqueue(insert(2));
  waiting.catch(() => {});
  await turn();
  gates[0]?.fail(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
  await expect(covered).rejects.toThrow(/could not be synced/);
  await expect(waiting).rejects.toThrow(/could not be synced/);
  await expect(queue.enqueue(insert(3))).rejects.toThrow(/could not be synced/);
  // The waiting write was never committed after the failure.
  expect(count()).toBe(1);
});

test('drainAndClose waits for the last sync', async () => {
  let answered = false;
  void queue.enqueue(insert(1)).then(() => {
    answered = true;
  });
  let drained = false;
  const drain = queue.drainAndClose().then(() => {
    drained = true;
  });
  await turn();
  await turn();
  expect(drained).toBe(false);
  gates[0]?.release();
  await drain;
  expect(answered).toBe(true);
  await expect(queue.enqueue(insert(2))).rejects.toThrow(/closed/);
});

describe('a write lock held by another connection, and a full disk', () => {
  let other: Database.Database;
  beforeEach(() => {
    other = new Database(path.join(dir, 'db.sqlite'));
  });
  afterEach(() => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
  });

  // Regression (issue 16.4): SQLite's busy timeout was waited out on the event loop, 5 s per try.
  test('a write that meets the lock waits without holding the event loop and commits once it is released', async () => {
    queue = new WriteQueue(db, { lockWaitMs: 60_000 });
    other.exec('BEGIN EXCLUSIVE');
    let answered = false;
    const write = queue.enqueue(insert(1)).then(() => {
      answered = true;
    });
    for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(answered).toBe(false);
    expect(queue.size).toBe(1);
    expect(queue.state).toBe('ok'); // held for less than lockWaitMs: not reported
    other.exec('ROLLBACK');
    await write;
    expect(count()).toBe(1);
  });

  test('a write still waiting after lockWaitMs is refused with StoreLockedError, having written nothing', async () => {
    const states: string[] = [];
    queue = new WriteQueue(db, { lockWaitMs: 20, onStateChange: (state) => states.push(state) });
    other.exec('BEGIN EXCLUSIVE');
    await expect(queue.enqueue(insert(1))).rejects.toBeInstanceOf(StoreLockedError);
    expect(queue.state).toBe('locked');
    expect(queue.probeLock()).toBe(false);
    other.exec('ROLLBACK');
    expect(queue.probeLock()).toBe(true);
    expect(queue.state).toBe('ok');
    expect(await queue.enqueue(insert(2))).toBe(1);
    expect(db.prepare('SELECT v FROM t').pluck().all()).toEqual([2]);
    expect(states).toEqual(['locked', 'ok']);
  });

  test('a transaction that finds the disk full is rolled back and refused with StoreFullError; the next one commits', async () => {
    let diskFull = true;
    const states: string[] = [];
    queue = new WriteQueue(db, {
      beforeCommit: () => {
        if (diskFull) throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
      },
      onStateChange: (state) => states.push(state),
    });
    const refused = [queue.enqueue(insert(1)), queue.enqueue(insert(2))];
    for (const write of refused) await expect(write).rejects.toBeInstanceOf(StoreFullError);
    expect(queue.state).toBe('full');
    expect(count()).toBe(0);
    diskFull = false;
    await queue.enqueue(insert(3));
    expect(queue.state).toBe('ok');
    expect(db.prepare('SELECT v FROM t').pluck().all()).toEqual([3]);
    expect(states).toEqual(['full', 'ok']);
  });
});
