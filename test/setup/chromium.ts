import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * The browser tests drive Debian's Chromium through playwright-core, which downloads no browser.
 * CHROMIUM_PATH (a path or a command name) points them at another build; by default it is the
 * `chromium` command on PATH (Debian installs it as /usr/bin/chromium).
 */
export function chromiumCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHROMIUM_PATH || 'chromium';
}

/** The absolute path of an executable `command` (a path, or a name looked up on `searchPath`). */
export function findExecutable(command: string, searchPath = process.env.PATH ?? ''): string | undefined {
  const candidates = command.includes('/')
    ? [path.resolve(command)]
    : searchPath
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

export type CommandRunner = (command: string, args: string[], env: NodeJS.ProcessEnv) => Promise<void>;

const runCommand: CommandRunner = async (command, args, env) => {
  await promisify(execFile)(command, args, { env, maxBuffer: 64 * 1024 * 1024 });
};

export interface ChromiumOptions {
  /** What to look for; default chromiumCommand(). The seam the missing-browser test uses. */
  command?: string;
  searchPath?: string;
  /** Whether this process may install packages; default: running as root. */
  isRoot?: boolean;
  /** Runs apt-get; default: the real one. */
  run?: CommandRunner;
  log?: (line: string) => void;
}

function missingMessage(command: string, detail = ''): string {
  return [
    `The browser tests need Chromium, and \`${command}\` was not found${detail}.`,
    "Install Debian's package (as root: apt-get install chromium), or set CHROMIUM_PATH to a",
    'Chromium or Chrome binary. `npm run test:unit` runs the tests that need no browser.',
  ].join('\n');
}

/**
 * Returns Chromium's path. When it is missing and this process runs as root on a system with
 * apt-get (a fresh Debian container or CI machine), installs Debian's `chromium` first; otherwise
 * throws a message that says what to install.
 */
export async function ensureChromium(options: ChromiumOptions = {}): Promise<string> {
  const command = options.command ?? chromiumCommand();
  const searchPath = options.searchPath ?? process.env.PATH ?? '';
  const found = findExecutable(command, searchPath);
  if (found) return found;
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  if (!isRoot) throw new Error(missingMessage(command, ' and this user cannot install it'));
  if (!findExecutable('apt-get', searchPath))
    throw new Error(missingMessage(command, ' and there is no apt-get'));
  const log = options.log ?? ((line: string) => console.log(line));
  const run = options.run ?? runCommand;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log("test setup: installing Debian's chromium (apt-get install chromium)");
  try {
    await run('apt-get', ['update', '-qq'], env);
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], env);
  } catch (error) {
    throw new Error(
      missingMessage(command, `; apt-get install chromium failed: ${(error as Error).message}`),
    );
  }
  const installed = findExecutable(command, searchPath);
  if (!installed) throw new Error(missingMessage(command, ' even after apt-get install chromium'));
  return installed;
}

/** Vitest global setup of the `browser` project: fails the run early, with what to install. */
export default async function setup(): Promise<void> {
  await ensureChromium();
}
