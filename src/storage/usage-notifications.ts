import type { NewUsage, Store, UsageChange } from './store.js';

type Notifiable = Pick<Store, 'insertUsage' | 'resetUsage'> & {
  loadUsage?: (records: readonly NewUsage[]) => Promise<number>;
};

/**
 * Gives a store `onUsageChange` by wrapping, in place, the writes that add or remove usage rows:
 * listeners hear about a write after its promise resolved (the write is durable), with the number
 * of rows it created (duplicates do not count). Any backend can use it; its methods stay as they
 * are. The object is changed in place, not copied, so that its getters keep working.
 */
export function withUsageNotifications<S extends Notifiable>(store: S): S & Pick<Store, 'onUsageChange'> {
  const listeners = new Set<(change: UsageChange) => void>();
  const notify = (change: UsageChange) => {
    for (const listener of listeners) {
      try {
        listener(change);
      } catch {
        // A listener's failure must not turn a committed write into an error.
      }
    }
  };
  const insertUsage = store.insertUsage.bind(store);
  const resetUsage = store.resetUsage.bind(store);
  const loadUsage = store.loadUsage?.bind(store);
  return Object.assign(store, {
    async insertUsage(records: readonly NewUsage[]) {
      const outcomes = await insertUsage(records);
      const created = outcomes.filter((o) => o.status === 'created').length;
      if (created > 0) notify({ kind: 'insert', rows: created });
      return outcomes;
    },
    async resetUsage() {
      const rows = await resetUsage();
      notify({ kind: 'reset', rows });
      return rows;
    },
    ...(loadUsage
      ? {
          async loadUsage(records: readonly NewUsage[]) {
            const rows = await loadUsage(records);
            if (rows > 0) notify({ kind: 'insert', rows });
            return rows;
          },
        }
      : {}),
    onUsageChange(listener: (change: UsageChange) => void) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  });
}
