/**
 * CSV cells (RFC 4180). Text that a spreadsheet would run as a formula (= + - @, tab, CR) is
 * prefixed with a single quote; numbers are written as numbers (0 stays 0, never an empty cell).
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvText(value: string | null | undefined): string {
  if (value === null || value === undefined) return '';
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return '';
  return String(value);
}

export function csvRow(cells: readonly string[]): string {
  return `${cells.join(',')}\r\n`;
}

/** Byte-order mark: makes spreadsheet programs read the file as UTF-8. */
export const UTF8_BOM = '\uFEFF';
