/**
 * Provider amounts to integer nano-dollars without float arithmetic on the digits: OpenAI reports
 * costs in dollars (a JSON number, sometimes a string), Anthropic in cents as a decimal string
 * ("123.78912" is $1.2378912). Digits past the nano-dollar are rounded half to even.
 */

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/** `unit` is how many nano-dollars one reported unit is: 1e9 for dollars, 1e7 for cents. */
export function decimalToNano(value: unknown, unit: 1_000_000_000 | 10_000_000): number | null {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    text = value.toFixed(12);
  } else if (typeof value === 'string') text = value.trim();
  else return null;
  const match = DECIMAL.exec(text);
  if (!match) return null;
  const [, sign, whole = '0', fraction = ''] = match;
  const places = unit === 1_000_000_000 ? 9 : 7;
  const kept = fraction.slice(0, places).padEnd(places, '0');
  let nano = BigInt(whole) * 10n ** BigInt(places) + BigInt(kept);
  const rest = fraction.slice(places);
  if (rest !== '' && /[1-9]/.test(rest)) {
    const half = rest[0] === '5' && !/[1-9]/.test(rest.slice(1));
    if (rest[0] !== undefined && (rest[0] > '5' || (half ? nano % 2n === 1n : rest[0] === '5'))) nano += 1n;
  }
  const result = Number(sign === '-' ? -nano : nano);
  return Number.isSafeInteger(result) ? result : null;
}
