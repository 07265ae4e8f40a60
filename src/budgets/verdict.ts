import type { BudgetVerdictKind } from '../storage/store.js';

/**
 * Verdicts and thresholds (pure), in integer nano-dollars. A threshold of `bp` basis points is
 * reached when spend >= ceil(limit * bp / 10,000), computed exactly once per budget (BigInt), so
 * the comparison on the write path is one integer comparison.
 */

export const DEFAULT_THRESHOLDS_BP: readonly number[] = [5000, 8000, 10_000];
export const FULL_BP = 10_000;

/** The spend at which `bp` basis points of the limit are reached. */
export function thresholdAmount(limitNanoUsd: number, bp: number): number {
  const product = BigInt(limitNanoUsd) * BigInt(bp);
  return Number((product + BigInt(FULL_BP - 1)) / BigInt(FULL_BP));
}

/**
 * The spend from which the verdict is `warn`: the highest threshold below 100 % (80 % by default);
 * null when every threshold is at or above 100 % (then the verdict goes from ok to exceeded).
 */
export function warnAmount(limitNanoUsd: number, thresholdsBp: readonly number[]): number | null {
  let highest = -1;
  for (const bp of thresholdsBp) if (bp < FULL_BP && bp > highest) highest = bp;
  return highest < 0 ? null : thresholdAmount(limitNanoUsd, highest);
}

/** `exceeded` from the limit itself on (spend = limit leaves nothing), `warn` from warnAt on. */
export function verdictFor(
  spentNanoUsd: number,
  limitNanoUsd: number,
  warnAt: number | null,
): BudgetVerdictKind {
  if (spentNanoUsd >= limitNanoUsd) return 'exceeded';
  if (warnAt !== null && spentNanoUsd >= warnAt) return 'warn';
  return 'ok';
}
