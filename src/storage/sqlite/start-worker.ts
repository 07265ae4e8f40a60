import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { type ResourceLimits, Worker } from 'node:worker_threads';

/**
 * Starts one of this directory's worker threads. Built code loads `<name>.js`; under the
 * TypeScript test runner this file is .ts and so is the worker, which then starts from a small ESM
 * bootstrap that registers tsx's loader before importing it.
 */
const isTypeScript = import.meta.url.endsWith('.ts');

function workerUrl(name: string): URL {
  return new URL(`./${name}${isTypeScript ? '.ts' : '.js'}`, import.meta.url);
}

/**
 * What to pass to `new Worker` for a module: the module itself, or for a .ts file a bootstrap that
 * registers tsx's loader first (workers do not inherit it).
 */
export function workerEntry(target: URL): URL {
  return target.pathname.endsWith('.ts') ? typeScriptBootstrap(target) : target;
}

function typeScriptBootstrap(target: URL): URL {
  const tsxApi = pathToFileURL(
    createRequire(import.meta.url)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  );
  const code = `import { register } from ${JSON.stringify(tsxApi.href)}; register(); await import(${JSON.stringify(target.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

export function startWorker(
  name: 'read-worker',
  workerData: unknown,
  resourceLimits: ResourceLimits = {},
): Worker {
  return new Worker(workerEntry(workerUrl(name)), { workerData, resourceLimits });
}
