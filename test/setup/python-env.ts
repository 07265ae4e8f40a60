import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The project-local virtualenv the tests run Python from (gitignored). */
export const VENV_DIR = path.join(ROOT, '.venv');
/** Tests run Python snippets with this interpreter, never the system's `python3`. */
export const VENV_PYTHON = path.join(VENV_DIR, 'bin', 'python');
export const REQUIREMENTS_FILE = path.join(ROOT, 'test', 'requirements.txt');
/** Holds the SHA-256 of the requirements file the venv was last installed from. */
const STAMP_FILE = 'requirements.sha256';

export interface PythonEnvOptions {
  venvDir?: string;
  requirementsFile?: string;
  /** The interpreter that creates the venv. */
  python?: string;
  log?: (line: string) => void;
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

async function runOrExplain(command: string, args: string[], what: string): Promise<void> {
  try {
    // From the repository's root: test/requirements.txt installs the Python client by its path there.
    await run(command, args, { maxBuffer: 16 * 1024 * 1024, cwd: ROOT });
  } catch (error) {
    const {
      stdout = '',
      stderr = '',
      message,
    } = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${what} failed: ${message}\n${stdout}${stderr}`.trim());
  }
}

/**
 * Makes `<venv>/bin/python` exist with test/requirements.txt installed, doing nothing when the venv
 * was already installed from the same requirements (the file's hash is stored in the venv). pip runs
 * with `--retries 0`: where the default index is unreachable but a configured mirror or local wheel
 * directory answers (pip config), each retry of the unreachable index costs seconds to minutes.
 * Returns the interpreter's path.
 */
export async function ensurePythonEnv(options: PythonEnvOptions = {}): Promise<string> {
  const venvDir = options.venvDir ?? VENV_DIR;
  const requirementsFile = options.requirementsFile ?? REQUIREMENTS_FILE;
  const log = options.log ?? ((line: string) => console.log(line));
  const python = path.join(venvDir, 'bin', 'python');
  const stampFile = path.join(venvDir, STAMP_FILE);
  const wanted = sha256(requirementsFile);
  const installed = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : undefined;
  if (existsSync(python) && installed === wanted) return python;

  if (!existsSync(python)) {
    log(`test setup: creating the Python virtualenv ${venvDir}`);
    rmSync(venvDir, { recursive: true, force: true });
    const creator = options.python ?? 'python3';
    try {
      await runOrExplain(creator, ['-m', 'venv', venvDir], `${creator} -m venv`);
    } catch (error) {
      throw new Error(
        `The Python snippet tests need Python 3 with the venv module (Debian: apt-get install python3 python3-venv).\n${(error as Error).message}`,
      );
    }
  }
  log(`test setup: installing ${path.relative(ROOT, requirementsFile)} into ${venvDir}`);
  rmSync(stampFile, { force: true });
  await runOrExplain(
    python,
    [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      '--retries',
      '0',
      '-r',
      requirementsFile,
    ],
    `pip install -r ${requirementsFile}`,
  );
  writeFileSync(stampFile, `${wanted}\n`);
  return python;
}

/** Vitest global setup of the `process` project. */
export default async function setup(): Promise<void> {
  await ensurePythonEnv();
}
