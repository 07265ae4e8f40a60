import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { ensurePythonEnv } from './python-env.js';

/**
 * The real venv and pip are the outside world here: fake interpreters (shell scripts) record how
 * they were called, so the test checks when the setup creates and installs, in milliseconds.
 */
let dir: string;
let venvDir: string;
let requirementsFile: string;
let callLog: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cg-venv-'));
  venvDir = path.join(dir, '.venv');
  requirementsFile = path.join(dir, 'requirements.txt');
  callLog = path.join(dir, 'calls.log');
  writeFileSync(requirementsFile, 'openai>=1.0\n');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function script(file: string, body: string) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
}

/** A `python3` whose `-m venv DIR` makes DIR/bin/python, itself a fake that logs its arguments. */
function fakePython3(): string {
  const file = path.join(dir, 'python3');
  const venvPython = `#!/bin/sh\necho "venv-python $*" >> ${callLog}\n`;
  script(
    file,
    `echo "python3 $*" >> ${callLog}\nmkdir -p "$3/bin" && printf '%s' '${venvPython}' > "$3/bin/python" && chmod +x "$3/bin/python"`,
  );
  return file;
}

const calls = () => (existsSync(callLog) ? readFileSync(callLog, 'utf8').trim().split('\n') : []);
const options = () => ({ venvDir, requirementsFile, python: fakePython3(), log: () => {} });

test('a missing venv is created and the requirements installed with pip --retries 0', async () => {
  expect(await ensurePythonEnv(options())).toBe(path.join(venvDir, 'bin', 'python'));
  expect(calls()).toEqual([
    `python3 -m venv ${venvDir}`,
    `venv-python -m pip install --quiet --disable-pip-version-check --retries 0 -r ${requirementsFile}`,
  ]);
});

test('an installed venv is reused until the requirements file changes', async () => {
  await ensurePythonEnv(options());
  await ensurePythonEnv(options());
  expect(calls()).toHaveLength(2);
  writeFileSync(requirementsFile, 'openai>=1.0\nrequests>=2.28\n');
  await ensurePythonEnv(options());
  expect(calls()).toHaveLength(3);
  expect(calls()[2]).toMatch(/^venv-python -m pip install/);
});

test('a failed install leaves no stamp, so the next run installs again', async () => {
  script(
    path.join(venvDir, 'bin', 'python'),
    `echo "venv-python $*" >> ${callLog}\necho 'no such package' >&2\nexit 1`,
  );
  await expect(ensurePythonEnv(options())).rejects.toThrow(/pip install -r .* failed[\s\S]*no such package/);
  await expect(ensurePythonEnv(options())).rejects.toThrow(/failed/);
  expect(calls()).toHaveLength(2);
});

test('without a working python3 -m venv the error says what to install', async () => {
  const broken = path.join(dir, 'python3-broken');
  script(broken, "echo 'No module named venv' >&2\nexit 1");
  await expect(ensurePythonEnv({ ...options(), python: broken })).rejects.toThrow(
    /python3-venv[\s\S]*No module named venv/,
  );
});
