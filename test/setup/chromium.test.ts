import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { type CommandRunner, ensureChromium, findExecutable } from './chromium.js';

let bin: string;
beforeEach(() => {
  bin = mkdtempSync(path.join(tmpdir(), 'cg-bin-'));
});
afterEach(() => {
  rmSync(bin, { recursive: true, force: true });
});

function fakeExecutable(name: string): string {
  const file = path.join(bin, name);
  writeFileSync(file, '#!/bin/sh\nexit 0\n');
  chmodSync(file, 0o755);
  return file;
}

test('Chromium on the search path is found by name, and by path', async () => {
  const file = fakeExecutable('chromium');
  expect(await ensureChromium({ command: 'chromium', searchPath: bin, isRoot: false })).toBe(file);
  expect(await ensureChromium({ command: file, searchPath: '', isRoot: false })).toBe(file);
});

test('a missing Chromium, not as root, fails with what to install and no install attempt', async () => {
  const calls: string[][] = [];
  const run: CommandRunner = async (command, args) => {
    calls.push([command, ...args]);
  };
  await expect(
    ensureChromium({ command: 'chromium-absent', searchPath: bin, isRoot: false, run }),
  ).rejects.toThrow(/`chromium-absent` was not found[\s\S]*apt-get install chromium[\s\S]*CHROMIUM_PATH/);
  expect(calls).toEqual([]);
});

test("a missing Chromium, as root with apt-get, installs Debian's chromium and then finds it", async () => {
  fakeExecutable('apt-get');
  const calls: string[][] = [];
  const run: CommandRunner = async (command, args, env) => {
    calls.push([command, ...args]);
    expect(env.DEBIAN_FRONTEND).toBe('noninteractive');
    if (args.includes('install')) fakeExecutable('chromium');
  };
  const found = await ensureChromium({
    command: 'chromium',
    searchPath: bin,
    isRoot: true,
    run,
    log: () => {},
  });
  expect(found).toBe(path.join(bin, 'chromium'));
  expect(calls).toEqual([
    ['apt-get', 'update', '-qq'],
    ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'chromium'],
  ]);
});

test('as root, a failed install or a binary still missing after it says what to install', async () => {
  fakeExecutable('apt-get');
  const failing: CommandRunner = async () => {
    throw new Error('E: Unable to locate package chromium');
  };
  await expect(
    ensureChromium({ command: 'chromium', searchPath: bin, isRoot: true, run: failing, log: () => {} }),
  ).rejects.toThrow(/apt-get install chromium failed: E: Unable to locate package chromium/);
  await expect(
    ensureChromium({
      command: 'chromium-other',
      searchPath: bin,
      isRoot: true,
      run: async () => {},
      log: () => {},
    }),
  ).rejects.toThrow(/`chromium-other` was not found even after apt-get install chromium/);
});

test('without apt-get a root user gets the message, not an install attempt', async () => {
  await expect(ensureChromium({ command: 'chromium', searchPath: bin, isRoot: true })).rejects.toThrow(
    /no apt-get/,
  );
  expect(findExecutable('chromium', bin)).toBeUndefined();
});
