import type Database from 'better-sqlite3';
import type {
  AlertChannel,
  AlertChannelKind,
  AlertEvent,
  AlertKind,
  AlertStore,
  DeliveryLogEntry,
  DeliveryStatus,
  DueDelivery,
  HourlyCost,
  NewAlertChannel,
  NewAlertEvent,
} from '../store.js';
import { ROLLUP_TABLES } from './rollup-writer.js';
import type { WriteQueue } from './write-queue.js';

/**
 * The SQLite side of alerts: channels, the outbox (alert_events + alert_deliveries) and the reads
 * the alert rules need from the rollups. OutboxWriter is also used by the budget ledger, which
 * records threshold alerts inside the transaction of the usage that crossed them.
 */

/** Writes an alert and its deliveries; call inside a write transaction. */
export class OutboxWriter {
  private readonly insertEvent: Database.Statement;
  private readonly insertDeliveries: Database.Statement;

  constructor(db: Database.Database) {
    this.insertEvent = db.prepare(
      `INSERT INTO alert_events (kind, dedupe_key, budget_id, created_at, payload)
       VALUES (@kind, @dedupeKey, @budgetId, @createdAt, @payload)
       ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
    );
    this.insertDeliveries = db.prepare(
      `INSERT INTO alert_deliveries (event_id, channel_id, status, attempts, next_attempt_at, created_at)
       SELECT @eventId, c.id, 'pending', 0, @createdAt, @createdAt FROM alert_channels c
        WHERE c.enabled = 1 AND (@channels IS NULL OR c.id IN (SELECT value FROM json_each(@channels)))
        ORDER BY c.id RETURNING id`,
    );
  }

  /** Undefined when an alert with this dedupe key exists already. */
  record(
    event: NewAlertEvent,
    channelIds: readonly number[] | null,
  ): { eventId: number; deliveryIds: number[] } | undefined {
    const row = this.insertEvent.get(event) as { id: number } | undefined;
    if (!row) return undefined;
    const deliveries = this.insertDeliveries.all({
      eventId: row.id,
      createdAt: event.createdAt,
      channels: channelIds === null ? null : JSON.stringify(channelIds),
    }) as { id: number }[];
    return { eventId: row.id, deliveryIds: deliveries.map((d) => d.id) };
  }
}

const CHANNEL_COLUMNS = 'id, name, kind, url, secret, enabled, created_at AS createdAt';
type ChannelRow = Omit<AlertChannel, 'enabled'> & { enabled: number };
const toChannel = (row: ChannelRow): AlertChannel => ({ ...row, enabled: row.enabled === 1 });

const EVENT_COLUMNS = `e.id AS eventId, e.kind AS eventKind, e.dedupe_key AS dedupeKey, e.budget_id AS budgetId,
  e.created_at AS eventCreatedAt, e.payload`;
const DELIVERY_COLUMNS = `d.id, d.event_id AS eventId, d.channel_id AS channelId, d.status, d.attempts,
  d.next_attempt_at AS nextAttemptAt, d.last_attempt_at AS lastAttemptAt,
  d.last_status_code AS lastStatusCode, d.last_error AS lastError, d.delivered_at AS deliveredAt,
  d.created_at AS createdAt`;

interface DeliveryRow {
  id: number;
  eventId: number;
  channelId: number;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: number | null;
  createdAt: number;
  eventKind: AlertKind;
  dedupeKey: string;
  budgetId: number | null;
  eventCreatedAt: number;
  payload: string;
}

function splitDelivery(row: DeliveryRow) {
  const { eventKind, dedupeKey, budgetId, eventCreatedAt, payload, ...delivery } = row;
  const event: AlertEvent = {
    id: row.eventId,
    kind: eventKind,
    dedupeKey,
    budgetId,
    createdAt: eventCreatedAt,
    payload,
  };
  return { delivery, event };
}

export function createAlertStore(
  db: Database.Database,
  writes: WriteQueue,
  outbox: OutboxWriter,
): AlertStore {
  const listChannels = db.prepare(`SELECT ${CHANNEL_COLUMNS} FROM alert_channels ORDER BY id`);
  const getChannel = db.prepare(`SELECT ${CHANNEL_COLUMNS} FROM alert_channels WHERE id = ?`);
  const insertChannel = db.prepare(
    `INSERT INTO alert_channels (name, kind, url, secret, enabled, created_at)
     VALUES (@name, @kind, @url, @secret, @enabled, @createdAt) RETURNING ${CHANNEL_COLUMNS}`,
  );
  const updateChannel = db.prepare(
    `UPDATE alert_channels SET name = @name, kind = @kind, url = @url, secret = @secret, enabled = @enabled
      WHERE id = @id RETURNING ${CHANNEL_COLUMNS}`,
  );
  const deleteChannel = db.prepare('DELETE FROM alert_channels WHERE id = ?');
  const failPending = db.prepare(
    `UPDATE alert_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = 'channel deleted',
       last_attempt_at = ? WHERE channel_id = ? AND status = 'pending'`,
  );
  const due = db.prepare(
    `SELECT ${DELIVERY_COLUMNS}, ${EVENT_COLUMNS}
       FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id
      WHERE d.status = 'pending' AND d.next_attempt_at <= ?
      ORDER BY d.next_attempt_at, d.id LIMIT ?`,
  );
  const logColumns = `${DELIVERY_COLUMNS}, ${EVENT_COLUMNS}, c.name AS channelName, c.kind AS channelKind`;
  const logFrom = `alert_deliveries d JOIN alert_events e ON e.id = d.event_id
    LEFT JOIN alert_channels c ON c.id = d.channel_id`;
  const getDelivery = db.prepare(`SELECT ${logColumns} FROM ${logFrom} WHERE d.id = ?`);
  const listDeliveries = db.prepare(
    `SELECT ${logColumns} FROM ${logFrom} WHERE d.id < ? ORDER BY d.id DESC LIMIT ?`,
  );
  const recordAttempt = db.prepare(
    `UPDATE alert_deliveries
        SET attempts = attempts + 1, last_attempt_at = @at, last_status_code = @statusCode,
            last_error = @error,
            status = CASE WHEN @ok = 1 THEN 'delivered' WHEN @next IS NULL THEN 'failed' ELSE 'pending' END,
            delivered_at = CASE WHEN @ok = 1 THEN @at ELSE NULL END,
            next_attempt_at = CASE WHEN @ok = 1 THEN NULL ELSE @next END
      WHERE id = @id AND status = 'pending'`,
  );
  const listEvents = db.prepare(
    `SELECT id, kind, dedupe_key AS dedupeKey, budget_id AS budgetId, created_at AS createdAt, payload
       FROM alert_events WHERE id < ? ORDER BY id DESC LIMIT ?`,
  );
  const readSettings = db.prepare('SELECT document FROM alert_settings WHERE id = 1').pluck();
  const saveSettings = db.prepare(
    `INSERT INTO alert_settings (id, document, updated_at) VALUES (1, ?, ?)
     ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
  );
  const hourly = ROLLUP_TABLES.hour;
  const tokenCosts = db.prepare(
    `SELECT 'token:' || r.ingest_token_id AS subject, COALESCE(t.label, 'token ' || r.ingest_token_id) AS label,
            r.bucket_start AS hourStart, r.cost_nanousd AS costNanoUsd
       FROM ${hourly} r LEFT JOIN ingest_tokens t ON t.id = r.ingest_token_id
      WHERE r.dim = '' AND r.detail = 'token' AND r.bucket_start >= ? AND r.bucket_start < ?
        AND r.ingest_token_id <> 0 AND r.cost_nanousd <> 0`,
  );
  const modelCosts = db.prepare(
    `SELECT 'model:' || r.provider || '/' || r.model AS subject, r.model AS label,
            r.bucket_start AS hourStart, r.cost_nanousd AS costNanoUsd
       FROM ${hourly} r
      WHERE r.dim = '' AND r.detail = 'model' AND r.bucket_start >= ? AND r.bucket_start < ?
        AND r.cost_nanousd <> 0`,
  );
  const unpriced = db.prepare(
    `SELECT r.provider, r.model, SUM(r.unpriced_requests) AS requests
       FROM ${hourly} r
      WHERE r.dim = '' AND r.detail = 'model' AND r.bucket_start >= ? AND r.bucket_start < ?
      GROUP BY r.provider, r.model HAVING SUM(r.unpriced_requests) > 0 ORDER BY r.provider, r.model`,
  );

  const channelParams = (input: NewAlertChannel) => ({
    name: input.name,
    kind: input.kind,
    url: input.url,
    secret: input.secret,
    enabled: input.enabled ? 1 : 0,
  });
  const toLogEntry = (
    row: DeliveryRow & { channelName: string | null; channelKind: AlertChannelKind | null },
  ) => {
    const { channelName, channelKind, ...rest } = row;
    const { delivery, event } = splitDelivery(rest);
    return { ...delivery, event, channelName, channelKind } satisfies DeliveryLogEntry;
  };

  return {
    async listChannels() {
      return (listChannels.all() as ChannelRow[]).map(toChannel);
    },
    async getChannel(id) {
      const row = getChannel.get(id) as ChannelRow | undefined;
      return row ? toChannel(row) : undefined;
    },
    createChannel(input, nowMs) {
      return writes.enqueue(() =>
        toChannel(insertChannel.get({ ...channelParams(input), createdAt: nowMs }) as ChannelRow),
      );
    },
    updateChannel(id, input) {
      return writes.enqueue(() => {
        const row = updateChannel.get({ ...channelParams(input), id }) as ChannelRow | undefined;
        return row ? toChannel(row) : undefined;
      });
    },
    deleteChannel(id, nowMs) {
      return writes.enqueue(() => {
        failPending.run(nowMs, id);
        return deleteChannel.run(id).changes === 1;
      });
    },
    recordEvent(event, channelIds) {
      return writes.enqueue(() => outbox.record(event, channelIds));
    },
    async dueDeliveries(nowMs, limit) {
      const rows = due.all(nowMs, limit) as DeliveryRow[];
      const channels = new Map<number, AlertChannel | undefined>();
      const result: DueDelivery[] = [];
      for (const row of rows) {
        if (!channels.has(row.channelId)) {
          const channel = getChannel.get(row.channelId) as ChannelRow | undefined;
          channels.set(row.channelId, channel ? toChannel(channel) : undefined);
        }
        const channel = channels.get(row.channelId);
        if (!channel) continue;
        const { delivery, event } = splitDelivery(row);
        result.push({ ...delivery, event, channel });
      }
      return result;
    },
    async getDelivery(id) {
      const row = getDelivery.get(id) as Parameters<typeof toLogEntry>[0] | undefined;
      return row ? toLogEntry(row) : undefined;
    },
    recordAttempt(deliveryId, attempt) {
      return writes.enqueue(() => {
        recordAttempt.run({
          id: deliveryId,
          at: attempt.at,
          ok: attempt.ok ? 1 : 0,
          statusCode: attempt.statusCode,
          error: attempt.error,
          next: attempt.nextAttemptAt,
        });
      });
    },
    async listDeliveries(limit, beforeId) {
      const rows = listDeliveries.all(beforeId ?? Number.MAX_SAFE_INTEGER, limit) as Parameters<
        typeof toLogEntry
      >[0][];
      return rows.map(toLogEntry);
    },
    async listEvents(limit, beforeId) {
      return listEvents.all(beforeId ?? Number.MAX_SAFE_INTEGER, limit) as AlertEvent[];
    },
    async readSettings() {
      return readSettings.get() as string | undefined;
    },
    saveSettings(document, nowMs) {
      return writes.enqueue(() => {
        saveSettings.run(document, nowMs);
      });
    },
    async hourlyCosts(by, startMs, endMs) {
      return (by === 'token' ? tokenCosts : modelCosts).all(startMs, endMs) as HourlyCost[];
    },
    async unpricedModels(startMs, endMs) {
      return unpriced.all(startMs, endMs) as { provider: string; model: string; requests: number }[];
    },
  };
}
