/**
 * Who and what a call is for: the end user and tags sent with its usage record. Set per client
 * (wrap options), per scope (withAttribution, carried across awaits by AsyncLocalStorage) and per
 * call (track options); inner scopes add tags to outer ones and override the user.
 */
export interface Attribution {
  user?: string;
  tags?: Record<string, string>;
}

/** The part of AsyncLocalStorage the client uses. */
export interface ContextStorage {
  getStore(): Attribution | undefined;
  run<R>(store: Attribution, fn: () => R): R;
}

let storage: ContextStorage | undefined;
let warnedNoStorage = false;

/** Set by the Node entry (node:async_hooks) or found on globalThis (edge runtimes that provide it). */
export function setContextStorage(value: ContextStorage | undefined): void {
  storage = value;
}

function contextStorage(): ContextStorage | undefined {
  if (storage) return storage;
  const Global = (globalThis as { AsyncLocalStorage?: new () => ContextStorage }).AsyncLocalStorage;
  if (Global) storage = new Global();
  return storage;
}

export function merge(outer: Attribution | undefined, inner: Attribution | undefined): Attribution {
  if (!outer) return inner ?? {};
  if (!inner) return outer;
  const user = inner.user ?? outer.user;
  const tags = outer.tags || inner.tags ? { ...outer.tags, ...inner.tags } : undefined;
  return { ...(user === undefined ? {} : { user }), ...(tags ? { tags } : {}) };
}

/**
 * Runs `fn` so that every call tracked inside it, however deep and across awaits, carries this
 * user and these tags. Without AsyncLocalStorage (some edge runtimes) it warns once and runs `fn`
 * unattributed: pass `user`/`tags` to the wrapper or to track() there instead.
 */
export function withAttribution<R>(attribution: Attribution, fn: () => R): R {
  const store = contextStorage();
  if (!store) {
    if (!warnedNoStorage) {
      warnedNoStorage = true;
      console.warn('cost-guardian: no AsyncLocalStorage in this runtime; withAttribution() is ignored');
    }
    return fn();
  }
  return store.run(merge(store.getStore(), attribution), fn);
}

export function currentAttribution(): Attribution | undefined {
  return storage?.getStore();
}

const TAG_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_TAGS = 10;
const MAX_TAG_VALUE_LENGTH = 200;
const MAX_USER_LENGTH = 256;

/**
 * Keeps the tags the server accepts (src/ingest/record-schema.ts): a record with one bad tag would
 * be refused whole, and losing a cost record to a typo in a tag is worse than losing the tag.
 * Returns the tags to send and what was dropped.
 */
export function cleanAttribution(attribution: Attribution): { clean: Attribution; dropped: string[] } {
  const dropped: string[] = [];
  const clean: Attribution = {};
  if (typeof attribution.user === 'string' && attribution.user.trim() !== '') {
    clean.user = attribution.user.slice(0, MAX_USER_LENGTH);
  }
  if (attribution.tags) {
    const tags: Record<string, string> = {};
    let kept = 0;
    for (const [key, value] of Object.entries(attribution.tags)) {
      const ok =
        TAG_KEY.test(key) &&
        key !== '__proto__' &&
        typeof value === 'string' &&
        value.length >= 1 &&
        value.length <= MAX_TAG_VALUE_LENGTH &&
        kept < MAX_TAGS;
      if (!ok) {
        dropped.push(key);
        continue;
      }
      tags[key] = value;
      kept += 1;
    }
    if (kept > 0) clean.tags = tags;
  }
  return { clean, dropped };
}
