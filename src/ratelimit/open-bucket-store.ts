import type { Config } from '../config.js';
import type { BucketStore } from './bucket-store.js';
import { MemoryBucketStore } from './memory-bucket-store.js';
import { RedisBucketStore, type RedisStatus } from './redis-bucket-store.js';

/** The bucket store the configuration names: Redis when REDIS_URL is set, else this process's memory. */
export async function openBucketStore(config: Config): Promise<BucketStore> {
  if (!config.redis) return new MemoryBucketStore();
  return RedisBucketStore.connect({
    url: config.redis.url,
    keyPrefix: config.redis.keyPrefix,
    commandTimeoutMs: config.redis.timeoutMs,
    failureMode: config.redis.failureMode,
  });
}

interface StatusLog {
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
}

/**
 * Logs and counts a shared store's outages: one warning when it stops answering, one line when
 * it answers again (never one per request). A memory store has no outages.
 */
export function watchBucketStore(
  store: BucketStore,
  log: StatusLog,
  onChange: (up: boolean) => void,
  failureMode: string,
): void {
  if (!(store instanceof RedisBucketStore)) return;
  store.watch((status: RedisStatus) => {
    onChange(status.up);
    if (status.up) {
      log.info({ downForMs: status.downForMs }, 'rate limits: Redis answers again; buckets are shared again');
    } else {
      log.warn(
        { err: status.error, fallback: failureMode },
        failureMode === 'open'
          ? 'rate limits: Redis is unreachable; allowing requests without a limit until it answers (failed-key lockouts stay per instance)'
          : 'rate limits: Redis is unreachable; using per-instance buckets until it answers (with N instances up to N times the limit gets through)',
      );
    }
  });
}
