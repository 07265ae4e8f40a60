import type Database from 'better-sqlite3';

/**
 * Ids of pricing_rate_sets rows (migration 007) by their JSON text, for writers: each distinct rate
 * set is stored once and usage rows point at it. Call only inside a write transaction (a new set is
 * inserted in it), and call clear() when that transaction rolls back, since the ids it handed out
 * for new sets are then gone.
 */
export class RateSetIds {
  private readonly ids = new Map<string, number>();
  private readonly find: Database.Statement;
  private readonly insert: Database.Statement;

  constructor(db: Database.Database) {
    this.find = db.prepare('SELECT id FROM pricing_rate_sets WHERE rates = ?').pluck();
    this.insert = db.prepare('INSERT INTO pricing_rate_sets (rates) VALUES (?) RETURNING id').pluck();
  }

  idFor(rates: string | null): number | null {
    if (rates === null) return null;
    let id = this.ids.get(rates);
    if (id === undefined) {
      id = ((this.find.get(rates) as number | undefined) ?? this.insert.get(rates)) as number;
      // A handful of rate sets exist (one per price card and tier); the bound is a guard only.
      if (this.ids.size >= 10_000) this.ids.clear();
      this.ids.set(rates, id);
    }
    return id;
  }

  clear(): void {
    this.ids.clear();
  }
}

/**
 * The rates of a usage row as SQL: rows written before migration 007 keep their own text, later
 * ones point at a set. `table` is the name or alias usage_log has in the query.
 */
export function storedRatesSql(table: string): string {
  return `COALESCE(${table}.pricing_rates, (SELECT rates FROM pricing_rate_sets WHERE id = ${table}.pricing_rates_id))`;
}
