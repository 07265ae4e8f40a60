import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { CliIo } from '../src/cli/context.js';
import { runCli } from '../src/cli/program.js';

/** A stream that keeps what is written to it. */
export class Capture extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A temp directory with a database path; `cli(...args)` runs the CLI in-process against it. */
export function createCliSandbox(env: Record<string, string> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-cli-'));
  const dbPath = path.join(dir, 'usage.sqlite');
  const baseEnv = { DB_PATH: dbPath, LOG_LEVEL: 'silent', ...env };
  return {
    dir,
    dbPath,
    async cli(args: string[], extraEnv: Record<string, string> = {}): Promise<CliRun> {
      const stdout = new Capture();
      const stderr = new Capture();
      const io: CliIo = { env: { ...baseEnv, ...extraEnv }, cwd: dir, stdout, stderr };
      const code = await runCli(['node', 'cost-guardian', ...args], io);
      return { code, stdout: stdout.text, stderr: stderr.text };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
