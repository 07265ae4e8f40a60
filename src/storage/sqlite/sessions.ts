import type Database from 'better-sqlite3';
import type { AdminSession, Store } from '../store.js';
import type { WriteQueue } from './write-queue.js';

interface SessionRow {
  idHash: string;
  createdAt: number;
  expiresAt: number;
  remember: number;
}

/** The session part of the SQLite store: writes go through the group-commit queue. */
export function createSessionMethods(
  db: Database.Database,
  writes: WriteQueue,
): Pick<Store, 'createSession' | 'findSession' | 'deleteSession'> {
  const insert = db.prepare(
    'INSERT INTO admin_sessions (id_hash, created_at, expires_at, remember) VALUES (?, ?, ?, ?)',
  );
  const purge = db.prepare('DELETE FROM admin_sessions WHERE expires_at < ?');
  const find = db.prepare(
    `SELECT id_hash AS idHash, created_at AS createdAt, expires_at AS expiresAt, remember
     FROM admin_sessions WHERE id_hash = ? AND expires_at > ?`,
  );
  const remove = db.prepare('DELETE FROM admin_sessions WHERE id_hash = ?');

  return {
    createSession(session: AdminSession): Promise<void> {
      return writes.enqueue(() => {
        purge.run(session.createdAt);
        insert.run(session.idHash, session.createdAt, session.expiresAt, session.remember ? 1 : 0);
      });
    },
    async findSession(idHash: string, nowMs: number): Promise<AdminSession | undefined> {
      const row = find.get(idHash, nowMs) as SessionRow | undefined;
      return row ? { ...row, remember: row.remember === 1 } : undefined;
    },
    deleteSession(idHash: string): Promise<boolean> {
      return writes.enqueue(() => remove.run(idHash).changes === 1);
    },
  };
}
