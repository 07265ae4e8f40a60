import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Provisions a Docker engine for the container test, the way the test setup provides Chromium:
 * as root it installs Debian's engine (docker.io, debootstrap, docker-compose) when missing and
 * starts dockerd; elsewhere it throws an error that says what is missing. There is no image
 * registry here, so each base image the Dockerfile names (`FROM node:20-bookworm-slim`) is made
 * locally when absent: a Debian bookworm minbase made by debootstrap (its tarball cached in
 * CACHE_DIR across runs), with this machine's Node installation copied in (binary, npm, headers:
 * native addons build without downloading anything) and the user `node` (uid 1000) that the
 * official image has. A real image of that name, if present, is used as it is.
 *
 * Idempotent and cached: within a process the work is done once; across runs the engine keeps the
 * stand-in images, which are rebuilt only when their inputs (Node version, CA file, recipe) change.
 */

export const CACHE_DIR = process.env.CG_TEST_CACHE_DIR ?? '/var/cache/cost-guardian-test';
const DOCKERD_LOG = path.join(CACHE_DIR, 'dockerd.log');
/** Bump when the stand-in recipe below changes, so cached images are rebuilt. */
const RECIPE = 'stand-in-2';
const STAND_IN_LABEL = 'org.cost-guardian.test-stand-in';
const MINBASE_TAR = path.join(CACHE_DIR, 'bookworm-minbase.tar');
const DEBIAN_MIRROR = 'http://deb.debian.org/debian';

export interface DockerTools {
  /** The compose command: `docker-compose` (1.29, Debian's) or the `docker compose` plugin. */
  compose: string[];
  /** The registry this machine's npm uses, to pass to the image build; undefined if npm has none. */
  npmRegistry: string | undefined;
}

/** What the container test cannot run without; the message says what to install or start. */
export class DockerMissing extends Error {}

const exec = promisify(execFile);

/** Runs a command, resolving its stdout; a failure names the command and carries its stderr. */
export async function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<string> {
  try {
    const { stdout } = await exec(command, args, {
      maxBuffer: 256 * 1024 * 1024,
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    return stdout.trim();
  } catch (error) {
    const failed = error as { stderr?: string; stdout?: string; code?: number | string; message: string };
    const output = `${failed.stdout ?? ''}\n${failed.stderr ?? ''}`.trim().slice(-4000);
    throw new Error(`${command} ${args.join(' ')} failed (${failed.code ?? failed.message}):\n${output}`);
  }
}

async function succeeds(command: string, args: string[]): Promise<boolean> {
  try {
    await exec(command, args, { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

const isRoot = () => process.getuid?.() === 0;

let provisioned: Promise<DockerTools> | undefined;

/** The engine, compose and the Dockerfile's base images, ready; at most once per process. */
export function provisionDocker(dockerfile: string): Promise<DockerTools> {
  provisioned ??= provision(dockerfile);
  return provisioned;
}

async function provision(dockerfile: string): Promise<DockerTools> {
  await ensureEngine();
  const compose = await ensureCompose();
  for (const image of baseImages(dockerfile)) await ensureBaseImage(image);
  return { compose, npmRegistry: await npmConfig('registry') };
}

async function npmConfig(key: string): Promise<string | undefined> {
  const value = await run('npm', ['config', 'get', key]).catch(() => '');
  return value === '' || value === 'undefined' || value === 'null' ? undefined : value;
}

async function aptInstall(packages: string[]): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env });
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env });
}

async function ensureEngine(): Promise<void> {
  if (await succeeds('docker', ['info', '--format', '{{.ServerVersion}}'])) return;
  if (!isRoot()) {
    const client = (await succeeds('docker', ['--version']))
      ? 'the docker client is installed, but'
      : 'no docker client, and';
    throw new DockerMissing(
      `The container test needs a Docker engine: ${client} no engine answers (docker info) and this ` +
        'process is not root, so it cannot install or start one. Install Docker (Debian: apt-get ' +
        'install docker.io debootstrap docker-compose), start dockerd, and give this user access to ' +
        'its socket, or run the tests as root (SKIP_CONTAINER_TEST=1 skips this test).',
    );
  }
  if (!(await succeeds('sh', ['-c', 'command -v dockerd']))) {
    await aptInstall(['docker.io', 'debootstrap', 'docker-compose']);
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  const log = openSync(DOCKERD_LOG, 'a');
  // Detached: the engine outlives this test run, so later runs find it (and its image cache) up.
  const dockerd = spawn('dockerd', [], { detached: true, stdio: ['ignore', log, log] });
  let exited = false;
  dockerd.once('exit', () => {
    exited = true;
  });
  dockerd.unref();
  const deadline = Date.now() + 120_000;
  while (!(await succeeds('docker', ['info', '--format', '{{.ServerVersion}}']))) {
    if (exited || Date.now() > deadline) {
      const tail = readFileSync(DOCKERD_LOG, 'utf8').slice(-3000);
      throw new DockerMissing(`dockerd did not start (log ${DOCKERD_LOG}):\n${tail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function ensureCompose(): Promise<string[]> {
  if (await succeeds('docker-compose', ['version'])) return ['docker-compose'];
  if (await succeeds('docker', ['compose', 'version'])) return ['docker', 'compose'];
  if (!isRoot()) {
    throw new DockerMissing(
      'The container test needs Docker Compose (docker-compose, or the docker compose plugin) and ' +
        'this process is not root, so it cannot install it (Debian: apt-get install docker-compose).',
    );
  }
  await aptInstall(['docker-compose']);
  return ['docker-compose'];
}

/** The images the Dockerfile's FROM lines name (not its own stages). */
export function baseImages(dockerfile: string): string[] {
  const stages = new Set<string>();
  const images = new Set<string>();
  for (const match of dockerfile.matchAll(/^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/gim)) {
    const [, image = '', stage] = match;
    if (!stages.has(image)) images.add(image);
    if (stage) stages.add(stage);
  }
  return [...images];
}

async function imageLabel(image: string): Promise<string | null | undefined> {
  try {
    const labels = await run('docker', ['image', 'inspect', '--format', '{{json .Config.Labels}}', image]);
    const parsed = JSON.parse(labels) as Record<string, string> | null;
    return parsed?.[STAND_IN_LABEL] ?? null;
  } catch {
    return undefined;
  }
}

async function ensureBaseImage(image: string): Promise<void> {
  const label = await imageLabel(image);
  // A real image (no stand-in label) is used as it is.
  if (label === null) return;
  const node = /^node:(\d+)-bookworm(?:-slim)?$/.exec(image);
  const debian = /^debian:bookworm(?:-slim)?$/.test(image);
  if (!node && !debian) {
    if (label === undefined)
      throw new DockerMissing(`No image ${image} here and no local stand-in for it: pull or build it first.`);
    return;
  }
  if (node && node[1] !== process.versions.node.split('.')[0]) {
    throw new DockerMissing(
      `The Dockerfile uses ${image}; the stand-in copies this machine's Node ${process.version} into it, ` +
        'which is another major version. Pull the real image, or run the tests with that Node.',
    );
  }
  const minbase = await ensureMinbaseImage();
  if (debian) {
    await run('docker', ['tag', minbase, image]);
    return;
  }
  const key = await standInKey();
  if (label === key) return;
  await buildNodeStandIn(image, minbase, key);
}

/** Inputs of the Node stand-in: recipe, Node and npm versions, the CA file npm is told to use. */
async function standInKey(): Promise<string> {
  const hash = createHash('sha256').update(RECIPE).update(process.version).update(process.execPath);
  hash.update(await run('npm', ['--version']));
  const cafile = await npmConfig('cafile');
  if (cafile && existsSync(cafile)) hash.update(readFileSync(cafile));
  hash.update(minbaseIdentity());
  return hash.digest('hex').slice(0, 16);
}

function minbaseIdentity(): string {
  const stat = statSync(MINBASE_TAR);
  return `${stat.size}-${stat.mtimeMs}`;
}

/** Debian bookworm minbase as an image, imported from the cached debootstrap tarball. */
async function ensureMinbaseImage(): Promise<string> {
  if (!existsSync(MINBASE_TAR)) await makeMinbaseTarball();
  const tag = `cost-guardian-test/bookworm-minbase:${createHash('sha256').update(RECIPE).update(minbaseIdentity()).digest('hex').slice(0, 16)}`;
  if ((await imageLabel(tag)) !== undefined) return tag;
  await run('docker', [
    'import',
    '--change',
    `LABEL ${STAND_IN_LABEL}=minbase`,
    '--change',
    'CMD ["bash"]',
    MINBASE_TAR,
    tag,
  ]);
  return tag;
}

/**
 * debootstrap --variant=minbase bookworm, trimmed like Debian's -slim images (no docs, man pages,
 * locales, apt lists or caches), and told to stay that way when packages are installed later.
 */
async function makeMinbaseTarball(): Promise<void> {
  if (!isRoot()) throw new DockerMissing('Making the Debian base image needs root (debootstrap).');
  if (!(await succeeds('sh', ['-c', 'command -v debootstrap']))) await aptInstall(['debootstrap']);
  mkdirSync(CACHE_DIR, { recursive: true });
  const work = mkdtempSync(path.join(CACHE_DIR, 'debootstrap-'));
  const rootfs = path.join(work, 'rootfs');
  try {
    await run('debootstrap', ['--variant=minbase', 'bookworm', rootfs, DEBIAN_MIRROR]);
    for (const dir of [
      'usr/share/doc',
      'usr/share/man',
      'usr/share/info',
      'usr/share/locale',
      'var/lib/apt/lists',
      'var/cache/apt',
      'var/cache/debconf',
      'var/log',
      'dev',
    ]) {
      rmSync(path.join(rootfs, dir), { recursive: true, force: true });
      mkdirSync(path.join(rootfs, dir), { recursive: true });
    }
    mkdirSync(path.join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });
    writeFileSync(
      path.join(rootfs, 'etc/dpkg/dpkg.cfg.d/docker-slim'),
      [
        'path-exclude /usr/share/doc/*',
        'path-exclude /usr/share/man/*',
        'path-exclude /usr/share/info/*',
        'path-exclude /usr/share/locale/*',
        'path-exclude /usr/share/lintian/*',
        '',
      ].join('\n'),
    );
    writeFileSync(
      path.join(rootfs, 'etc/apt/apt.conf.d/docker-clean'),
      [
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };',
        'Dir::Cache::pkgcache "";',
        'Dir::Cache::srcpkgcache "";',
        '',
      ].join('\n'),
    );
    const partial = `${MINBASE_TAR}.partial`;
    await run('tar', ['--numeric-owner', '-C', rootfs, '-cf', partial, '.']);
    renameSync(partial, MINBASE_TAR);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * node:<major>-bookworm-slim as far as the Dockerfile can tell: Node, npm and Node's headers in
 * /usr/local (npm told to build native addons against them, as on this machine), the user node
 * with uid 1000, and the CA file npm uses here (npm's registry may be reached through a proxy
 * whose certificate only this machine's trust store has).
 */
async function buildNodeStandIn(image: string, minbase: string, key: string): Promise<void> {
  const context = mkdtempSync(path.join(CACHE_DIR, 'node-stand-in-'));
  try {
    const local = path.join(context, 'usr-local');
    const prefix = path.resolve(path.dirname(process.execPath), '..');
    const npmRoot = await run('npm', ['root', '-g']);
    const nodedir = (await npmConfig('nodedir')) ?? prefix;
    const headers = [path.join(nodedir, 'include/node'), path.join(prefix, 'include/node')].find((dir) =>
      existsSync(path.join(dir, 'node_api.h')),
    );
    if (!headers)
      throw new DockerMissing(
        `Node's headers are not in ${nodedir}/include/node: native addons could not build.`,
      );
    mkdirSync(path.join(local, 'bin'), { recursive: true });
    cpSync(process.execPath, path.join(local, 'bin/node'));
    cpSync(path.join(npmRoot, 'npm'), path.join(local, 'lib/node_modules/npm'), { recursive: true });
    cpSync(headers, path.join(local, 'include/node'), { recursive: true, dereference: true });
    const npmrc = ['nodedir=/usr/local'];
    const cafile = await npmConfig('cafile');
    const copyCa = cafile !== undefined && existsSync(cafile);
    if (copyCa) {
      cpSync(cafile, path.join(context, 'ca.crt'));
      npmrc.push('cafile=/etc/ssl/certs/ca-certificates.crt');
    }
    mkdirSync(path.join(local, 'etc'), { recursive: true });
    writeFileSync(path.join(local, 'etc/npmrc'), `${npmrc.join('\n')}\n`);
    writeFileSync(
      path.join(context, 'Dockerfile'),
      [
        `FROM ${minbase}`,
        'COPY usr-local/ /usr/local/',
        ...(copyCa ? ['COPY ca.crt /etc/ssl/certs/ca-certificates.crt'] : []),
        'RUN groupadd --gid 1000 node \\',
        ' && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\',
        ' && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\',
        ' && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\',
        ' && node --version && npm --version',
        `LABEL ${STAND_IN_LABEL}=${key}`,
        'CMD ["node"]',
        '',
      ].join('\n'),
    );
    await run('docker', ['build', '-q', '-t', image, context], {
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
