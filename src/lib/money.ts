/**
 * Money is integer nano-dollars (1 USD = 1e9 nano-USD) everywhere inside the service. These helpers
 * convert at the edges only.
 */
export const NANO_PER_USD = 1_000_000_000;

/** Dollars (a JSON number) to integer nano-dollars, rounding half to even. */
export function usdToNano(usd: number): number {
  return roundHalfEven(usd * NANO_PER_USD);
}

/** Integer nano-dollars to a JSON number of dollars, for API responses. */
export function nanoToUsd(nano: number): number {
  return nano / NANO_PER_USD;
}

/**
 * Integer nano-dollars to an exact decimal string ("0.00045", "12", "-0.5"), with no float
 * arithmetic, so exports show exactly what is stored.
 */
export function formatNanoUsd(nano: number): string {
  if (!Number.isSafeInteger(nano)) throw new RangeError(`not an integer nano-dollar amount: ${nano}`);
  const negative = nano < 0;
  const digits = String(Math.abs(nano)).padStart(10, '0');
  const whole = digits.slice(0, -9);
  const fraction = digits.slice(-9).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** Round to the nearest integer; exact halves go to the even neighbour (banker's rounding). */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  // Float noise around .5 (e.g. 0.49999999999) is treated as a half only when it is really close.
  if (Math.abs(diff - 0.5) < 1e-9) return floor % 2 === 0 ? floor : floor + 1;
  return Math.round(value);
}

/**
 * The spend of a group of usage rows: null when the group has usage and none of it is priced, so
 * unpriced usage never reads as $0. A group with no usage costs 0; a mixed group's cost covers its
 * priced rows only, and its unpriced count is beside it.
 */
export function groupCostUsd(costNanoUsd: number, requests: number, unpricedRequests: number): number | null {
  return requests > 0 && unpricedRequests >= requests ? null : nanoToUsd(costNanoUsd);
}
