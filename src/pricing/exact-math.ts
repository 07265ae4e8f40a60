/**
 * Exact arithmetic for prices. Rates arrive as JS numbers (USD per million tokens, e.g. 0.075) and
 * multipliers as decimal or fraction text ("0.5", "1.75", "5/3"). Both become integers before any
 * multiplication, so a cost is computed exactly and rounded once, half to even, in divideHalfEven.
 */

/** Rates are held as integers of 1e-12 USD per million tokens: every published rate is exact at this scale. */
export const RATE_SCALE = 1_000_000_000_000n;
/** sum(tokens x scaledRate) / NANO_DIVISOR = nano-dollars (tokens x USD/M x 1e3 = nano-USD). */
export const NANO_DIVISOR = 1_000_000_000n;

const DECIMAL = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i;

/** A non-negative decimal number as an exact fraction digits / 10^scale. */
function toDecimalParts(value: number): { digits: bigint; scale: number } {
  if (!Number.isFinite(value) || value < 0)
    throw new RangeError(`not a non-negative finite number: ${value}`);
  // String() gives the shortest text that round-trips, so 0.075 is read as 75/1000, not its binary neighbour.
  const match = DECIMAL.exec(String(value));
  if (!match) throw new RangeError(`cannot read ${value} as a decimal`);
  const fraction = match[2] ?? '';
  const exponent = Number(match[3] ?? 0);
  return { digits: BigInt(`${match[1]}${fraction}`), scale: fraction.length - exponent };
}

/**
 * USD per million units as an integer count of 1e-12 USD per million. A rate with more than 12
 * decimals (none exists) is rounded half to even at the 12th.
 */
export function scaleRate(usdPerMillion: number): bigint {
  const { digits, scale } = toDecimalParts(usdPerMillion);
  if (scale <= 12) return digits * 10n ** BigInt(12 - scale);
  return divideHalfEven(digits, 10n ** BigInt(scale - 12));
}

/** An exact non-negative ratio. */
export interface Ratio {
  readonly num: bigint;
  readonly den: bigint;
}

export const ONE: Ratio = { num: 1n, den: 1n };

const RATIO_TEXT = /^(\d+(?:\.\d+)?)(?:\/(\d+))?$/;

/** "0.5", "2", "1.75" or "5/3" as an exact ratio; throws on anything else (including a zero denominator). */
export function parseRatio(text: string): Ratio {
  const match = RATIO_TEXT.exec(text.trim());
  if (!match) throw new RangeError(`not a multiplier: "${text}" (write 0.5, 2, 1.75 or 5/3)`);
  const [whole = '0', fraction = ''] = (match[1] ?? '0').split('.');
  const num = BigInt(`${whole}${fraction}`);
  let den = 10n ** BigInt(fraction.length);
  if (match[2] !== undefined) {
    const divisor = BigInt(match[2]);
    if (divisor === 0n) throw new RangeError(`not a multiplier: "${text}" (zero denominator)`);
    den *= divisor;
  }
  return reduce({ num, den });
}

export function multiplyRatios(a: Ratio, b: Ratio): Ratio {
  return reduce({ num: a.num * b.num, den: a.den * b.den });
}

/** The ratio as short text: "1/2", "7/10", "2", "5/3". */
export function formatRatio(ratio: Ratio): string {
  return ratio.den === 1n ? String(ratio.num) : `${ratio.num}/${ratio.den}`;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a;
  let y = b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

function reduce(ratio: Ratio): Ratio {
  const divisor = gcd(ratio.num, ratio.den);
  return divisor <= 1n ? ratio : { num: ratio.num / divisor, den: ratio.den / divisor };
}

/** numerator / denominator rounded to the nearest integer, exact halves to the even neighbour. */
export function divideHalfEven(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new RangeError('denominator must be positive');
  if (numerator < 0n) return -divideHalfEven(-numerator, denominator);
  const quotient = numerator / denominator;
  const twice = (numerator % denominator) * 2n;
  if (twice > denominator || (twice === denominator && quotient % 2n === 1n)) return quotient + 1n;
  return quotient;
}
