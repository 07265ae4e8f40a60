import { expect, test } from 'vitest';
import { formatNanoUsd, nanoToUsd, roundHalfEven, usdToNano } from './money.js';

test('dollars convert to integer nano-dollars and back', () => {
  expect(usdToNano(0.00045)).toBe(450_000);
  expect(usdToNano(1.1)).toBe(1_100_000_000);
  expect(nanoToUsd(450_000)).toBe(0.00045);
});

test('exact decimal strings come from integers, with no float noise', () => {
  expect(formatNanoUsd(450_000)).toBe('0.00045');
  expect(formatNanoUsd(0)).toBe('0');
  expect(formatNanoUsd(12_000_000_000)).toBe('12');
  expect(formatNanoUsd(523_200)).toBe('0.0005232');
  expect(formatNanoUsd(-500_000_000)).toBe('-0.5');
  expect(formatNanoUsd(1)).toBe('0.000000001');
});

test('halves round to the even neighbour', () => {
  expect(roundHalfEven(2.5)).toBe(2);
  expect(roundHalfEven(3.5)).toBe(4);
  expect(roundHalfEven(2.4999)).toBe(2);
  expect(roundHalfEven(2.51)).toBe(3);
});
