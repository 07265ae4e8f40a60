import { randomBytes } from 'node:crypto';
import { parseIsoTime } from '../lib/time.js';
import type { Pricer } from '../pricing/types.js';
import type { ExistingToken, ImportedToken, ImportTarget } from '../storage/sqlite/import-writer.js';
import type { OriginalDatabase, OriginalToken } from '../storage/sqlite/original-database.js';
import type { Store } from '../storage/store.js';
import {
  convertOriginalRow,
  type ImportedUsage,
  type SkipReason,
  sqliteInteger,
  sqliteText,
} from './convert-original-row.js';

/**
 * `cost-guardian import-original`: copies a database of the original (Python/Flask) Cost Guardian
 * into this one. Tracking tokens keep their ids, labels, values, active flags and times; every
 * usage row keeps its attribution and is re-priced, with the original's stored cost kept beside
 * ours. Rows are written through Store.insertUsage like any ingest (so a token's last_seen_at moves
 * forward to its newest row when the original's value was older). Usage rows pointing at a token the original had deleted get a placeholder token (deleted,
 * inactive) with that id, so their attribution survives. Nothing is dropped silently: rows that
 * cannot be represented are listed by id and reason. Running it again adds nothing.
 */

export interface ImportReport {
  dryRun: boolean;
  tokens: {
    inOriginal: number;
    imported: number;
    alreadyPresent: number;
    /** Ids of deleted tokens that usage rows still point at; created as deleted placeholders. */
    placeholders: number[];
    /** Tokens whose created_at or last_seen_at was not a readable time (created_at: import time; last_seen_at: none). */
    unreadableTimes: number[];
  };
  usage: {
    inOriginal: number;
    /** Written now (or, in a dry run, that would be). */
    imported: number;
    alreadyImported: number;
    /** Original ids given the --undated-at time. */
    undated: number[];
    /** Timestamps without a zone, read as UTC. */
    naiveTimestamps: number;
    skipped: Record<SkipReason, number[]>;
    /** Rows whose (token, event_id) another row of this database already has. */
    eventConflicts: { originalId: number; existingId: number }[];
    /** Rows whose estimatedCostUSD was not a number (kept without a client cost). */
    unreadableCosts: number[];
  };
  /** Over every row that could be converted, imported now or before. */
  cost: {
    originalNanoUsd: bigint;
    pricedNanoUsd: bigint;
    unpricedRows: number;
    /** Rows where both costs exist and differ by more than the original's 8-decimal rounding. */
    differingRows: number;
  };
}

export class TokenConflictError extends Error {
  override name = 'TokenConflictError';
  constructor(readonly conflicts: string[]) {
    super(
      `the target database has tracking tokens that conflict with the original's:\n${conflicts.map((c) => `  - ${c}`).join('\n')}`,
    );
  }
}

export interface ImportDeps {
  source: OriginalDatabase;
  /** Undefined in a dry run on a database that does not exist yet. */
  target: ImportTarget | undefined;
  /** Where usage rows are written; undefined in a dry run. */
  store: Store | undefined;
  pricer: Pricer;
  defaultProvider: string;
  nowMs: number;
  undatedAtMs?: number;
  dryRun: boolean;
  chunkRows?: number;
  onProgress?: (done: number, total: number) => void;
}

export const PLACEHOLDER_PREFIX = 'imported-deleted-';

interface TokenPlan {
  toInsert: ImportedToken[];
  alreadyPresent: number;
  placeholders: number[];
  unreadableTimes: number[];
  conflicts: string[];
}

function planTokens(
  originals: OriginalToken[],
  referencedIds: number[],
  existing: ExistingToken[],
  nowMs: number,
): TokenPlan {
  const plan: TokenPlan = {
    toInsert: [],
    alreadyPresent: 0,
    placeholders: [],
    unreadableTimes: [],
    conflicts: [],
  };
  const byId = new Map(existing.map((t) => [t.id, t]));
  const byValue = new Map(existing.map((t) => [t.token, t]));
  const liveByLabel = new Map(existing.filter((t) => t.deletedAt === null).map((t) => [t.label, t]));

  for (const original of originals) {
    const token = sqliteText(original.token);
    const label = sqliteText(original.label) ?? `token ${original.id}`;
    if (token === null) {
      plan.conflicts.push(`original token ${original.id} has no token value`);
      continue;
    }
    const sameId = byId.get(original.id);
    if (sameId) {
      if (sameId.token === token) plan.alreadyPresent += 1;
      else
        plan.conflicts.push(`id ${original.id} is already token "${sameId.label}" here, with another value`);
      continue;
    }
    const sameValue = byValue.get(token);
    if (sameValue) {
      plan.conflicts.push(`the value of original token ${original.id} is already token ${sameValue.id} here`);
      continue;
    }
    const sameLabel = liveByLabel.get(label);
    if (sameLabel) {
      plan.conflicts.push(
        `label "${label}" (original token ${original.id}) is already token ${sameLabel.id} here`,
      );
      continue;
    }
    const createdText = sqliteText(original.createdAt);
    const created = createdText === null ? undefined : parseIsoTime(createdText);
    const seenText = sqliteText(original.lastSeenAt);
    const seen = seenText === null ? undefined : parseIsoTime(seenText);
    if (!created || (seenText !== null && !seen)) plan.unreadableTimes.push(original.id);
    const active = original.active === null ? true : sqliteInteger(original.active) !== 0;
    plan.toInsert.push({
      id: original.id,
      label,
      token,
      active,
      createdAt: created?.ms ?? nowMs,
      lastSeenAt: seen?.ms ?? null,
      deletedAt: null,
    });
  }

  const originalIds = new Set(originals.map((t) => t.id));
  for (const id of referencedIds) {
    if (originalIds.has(id)) continue;
    plan.placeholders.push(id);
    const sameId = byId.get(id);
    if (sameId) {
      if (sameId.token.startsWith(`${PLACEHOLDER_PREFIX}${id}-`)) plan.alreadyPresent += 1;
      else
        plan.conflicts.push(
          `id ${id} (a token the original deleted) is already token "${sameId.label}" here`,
        );
      continue;
    }
    plan.toInsert.push({
      id,
      label: `deleted token ${id} (imported)`,
      token: `${PLACEHOLDER_PREFIX}${id}-${randomBytes(9).toString('base64url')}`,
      active: false,
      createdAt: nowMs,
      lastSeenAt: null,
      deletedAt: nowMs,
    });
  }
  plan.placeholders.sort((a, b) => a - b);
  return plan;
}

export async function importOriginal(deps: ImportDeps): Promise<ImportReport> {
  const { source, target, store, nowMs } = deps;
  if (!deps.dryRun && (!target || !store))
    throw new Error('an import that writes needs a target and a store');
  const chunkRows = deps.chunkRows ?? 1000;
  const referencedIds = source
    .referencedTokenIds()
    .map((id) => sqliteInteger(id))
    .filter((id): id is number => id !== undefined);
  const originals = source.tokens();
  const plan = planTokens(originals, referencedIds, target?.tokens() ?? [], nowMs);
  if (plan.conflicts.length > 0) throw new TokenConflictError(plan.conflicts);
  if (!deps.dryRun && plan.toInsert.length > 0) target?.insertTokens(plan.toInsert);

  const apiKeys = new Map(
    source
      .apiKeys()
      .map((key) => [key.id, { label: sqliteText(key.label), provider: sqliteText(key.provider) }]),
  );
  const report: ImportReport = {
    dryRun: deps.dryRun,
    tokens: {
      inOriginal: originals.length,
      imported: plan.toInsert.filter((t) => t.deletedAt === null).length,
      alreadyPresent: plan.alreadyPresent,
      placeholders: plan.placeholders,
      unreadableTimes: plan.unreadableTimes,
    },
    usage: {
      inOriginal: source.countUsage(),
      imported: 0,
      alreadyImported: 0,
      undated: [],
      naiveTimestamps: 0,
      skipped: {
        missing_timestamp: [],
        unparseable_timestamp: [],
        missing_model: [],
        invalid_token_counts: [],
      },
      eventConflicts: [],
      unreadableCosts: [],
    },
    cost: { originalNanoUsd: 0n, pricedNanoUsd: 0n, unpricedRows: 0, differingRows: 0 },
  };
  const { usage, cost } = report;

  let done = 0;
  deps.onProgress?.(0, usage.inOriginal);
  for (const chunk of source.usage(chunkRows)) {
    const converted: ImportedUsage[] = [];
    for (const row of chunk) {
      const result = convertOriginalRow(row, {
        pricer: deps.pricer,
        defaultProvider: deps.defaultProvider,
        apiKeys,
        ...(deps.undatedAtMs === undefined ? {} : { undatedAtMs: deps.undatedAtMs }),
      });
      if (!result.ok) {
        usage.skipped[result.reason].push(row.id);
        continue;
      }
      converted.push(result.usage);
      if (result.naive) usage.naiveTimestamps += 1;
      if (result.undated) usage.undated.push(row.id);
      if (result.unreadableCost) usage.unreadableCosts.push(row.id);
      const { costNanoUsd: ours, clientCostNanoUsd: theirs } = result.usage;
      if (theirs !== null) cost.originalNanoUsd += BigInt(theirs);
      if (ours === null) cost.unpricedRows += 1;
      else cost.pricedNanoUsd += BigInt(ours);
      // The original rounded to 8 decimals: 10 nano-dollars.
      if (ours !== null && theirs !== null && Math.abs(ours - theirs) > 10) cost.differingRows += 1;
    }
    const already = target?.importedOriginalIds(converted.map((row) => row.originalId)) ?? new Set<number>();
    usage.alreadyImported += already.size;
    const fresh = converted.filter((row) => !already.has(row.originalId));
    if (deps.dryRun || !store || !target) {
      usage.imported += fresh.length;
    } else if (fresh.length > 0) {
      const outcomes = await store.insertUsage(fresh);
      outcomes.forEach((outcome, i) => {
        const row = fresh[i] as ImportedUsage;
        if (outcome.status === 'created') usage.imported += 1;
        // A duplicate is a row with the same (token, event_id): this one from an earlier run
        // (a concurrent import), or a call a client re-sent to this service before the import.
        else if (target.originalIdOf(outcome.id) === row.originalId) usage.alreadyImported += 1;
        else usage.eventConflicts.push({ originalId: row.originalId, existingId: outcome.id });
      });
    }
    done += chunk.length;
    deps.onProgress?.(done, usage.inOriginal);
    // Let the event loop breathe between chunks (signals, progress output).
    await new Promise((resolve) => setImmediate(resolve));
  }
  return report;
}

/** True when every row of the original is in this database (now or from an earlier run). */
export function isComplete(report: ImportReport): boolean {
  return (
    Object.values(report.usage.skipped).every((ids) => ids.length === 0) &&
    report.usage.eventConflicts.length === 0
  );
}
