import { expect, test } from 'vitest';
import { divideHalfEven, formatRatio, multiplyRatios, parseRatio, scaleRate } from './exact-math.js';

test('a published rate becomes an exact integer of 1e-12 USD per million, whatever its binary neighbour', () => {
  expect(scaleRate(0.075)).toBe(75_000_000_000n);
  expect(scaleRate(0.15)).toBe(150_000_000_000n);
  expect(scaleRate(1.875)).toBe(1_875_000_000_000n);
  expect(scaleRate(600)).toBe(600_000_000_000_000n);
  expect(scaleRate(0)).toBe(0n);
  expect(scaleRate(1e-7)).toBe(100_000n);
  expect(scaleRate(2.5e21)).toBe(25n * 10n ** 32n);
});

test('a rate finer than 1e-12 is rounded half to even at the twelfth decimal', () => {
  expect(scaleRate(1.5e-12)).toBe(2n);
  expect(scaleRate(2.5e-12)).toBe(2n);
  expect(scaleRate(1.25e-13)).toBe(0n);
});

test('a negative, infinite or NaN rate is refused', () => {
  expect(() => scaleRate(-1)).toThrow(/non-negative/);
  expect(() => scaleRate(Number.POSITIVE_INFINITY)).toThrow();
  expect(() => scaleRate(Number.NaN)).toThrow();
});

test('multipliers are read exactly from decimal or fraction text and reduced', () => {
  expect(parseRatio('0.5')).toEqual({ num: 1n, den: 2n });
  expect(parseRatio('1.75')).toEqual({ num: 7n, den: 4n });
  expect(parseRatio('5/3')).toEqual({ num: 5n, den: 3n });
  expect(parseRatio(' 2 ')).toEqual({ num: 2n, den: 1n });
  expect(parseRatio('0.6/2')).toEqual({ num: 3n, den: 10n });
  expect(formatRatio(parseRatio('0.70'))).toBe('7/10');
  expect(formatRatio(multiplyRatios(parseRatio('0.5'), parseRatio('2')))).toBe('1');
});

test('a multiplier that is not a number or has a zero denominator is refused', () => {
  expect(() => parseRatio('abc')).toThrow(/not a multiplier/);
  expect(() => parseRatio('-1')).toThrow(/not a multiplier/);
  expect(() => parseRatio('1/0')).toThrow(/zero denominator/);
});

test('division rounds to nearest and exact halves to the even neighbour, for either sign', () => {
  expect(divideHalfEven(5n, 2n)).toBe(2n);
  expect(divideHalfEven(7n, 2n)).toBe(4n);
  expect(divideHalfEven(6n, 4n)).toBe(2n);
  expect(divideHalfEven(26n, 10n)).toBe(3n);
  expect(divideHalfEven(24n, 10n)).toBe(2n);
  expect(divideHalfEven(-5n, 2n)).toBe(-2n);
  expect(divideHalfEven(-7n, 2n)).toBe(-4n);
  expect(divideHalfEven(0n, 3n)).toBe(0n);
  expect(() => divideHalfEven(1n, 0n)).toThrow(/positive/);
});
