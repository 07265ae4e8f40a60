import { expect, test } from 'vitest';
import { csvNumber, csvRow, csvText } from './csv.js';

test('text that a spreadsheet would run as a formula is neutralised', () => {
  for (const value of ['=1+1', '+SUM(A1)', '-2+3', '@cmd', '\tx', '\rx']) {
    expect(csvText(value).replace(/^"/, '').startsWith("'"), value).toBe(true);
  }
  expect(csvText('gpt-4o')).toBe('gpt-4o');
});

test('commas, quotes and newlines are quoted with quotes doubled', () => {
  expect(csvText('a,b')).toBe('"a,b"');
  expect(csvText('say "hi"')).toBe('"say ""hi"""');
  expect(csvText('two\nlines')).toBe('"two\nlines"');
});

test('numbers stay numbers: 0 is "0", null is empty', () => {
  expect(csvNumber(0)).toBe('0');
  expect(csvNumber(-3)).toBe('-3');
  expect(csvNumber(null)).toBe('');
  expect(csvRow(['a', '0', ''])).toBe('a,0,\r\n');
});
