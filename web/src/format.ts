const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const usd = new Intl.NumberFormat(undefined, {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
});
const smallUsd = new Intl.NumberFormat(undefined, {
  style: 'currency',
  currency: 'USD',
  maximumSignificantDigits: 3,
});
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const compactDateTime = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

export function formatInt(value: number): string {
  return integer.format(value);
}

/** Dollars: cents for normal amounts, three significant digits for sub-cent ones (never "$0.00"). */
export function formatUsd(value: number | null): string {
  if (value === null) return '—';
  if (value !== 0 && Math.abs(value) < 0.01) return smallUsd.format(value);
  return usd.format(value);
}

const exactUsd = new Intl.NumberFormat(undefined, {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
  maximumFractionDigits: 9,
});

/**
 * Dollars to the nano-dollar the service stores, trailing zeros dropped: $0.022 and $0.02 never
 * look equal (issue 17.10). For tables, where each figure is read on its own.
 */
export function formatUsdExact(value: number): string {
  return exactUsd.format(value);
}

/** "1 request", "2 requests". */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${formatInt(count)} ${count === 1 ? singular : pluralForm}`;
}

export function formatDateTime(iso: string | null): string {
  return iso === null ? 'Never' : dateTime.format(new Date(iso));
}

/** For table rows: no year, so that a row stays on one line. */
export function formatCompactDateTime(iso: string): string {
  return compactDateTime.format(new Date(iso));
}

export function formatDate(iso: string): string {
  return dateOnly.format(new Date(iso));
}

/** Change against the previous period, e.g. "+12%"; null when there is nothing to compare with. */
export function formatChange(
  current: number,
  previous: number,
): { text: string; direction: 'up' | 'down' | 'flat' } | null {
  if (previous === 0) return current === 0 ? { text: '±0%', direction: 'flat' } : null;
  const change = ((current - previous) / previous) * 100;
  if (Math.abs(change) < 0.5) return { text: '±0%', direction: 'flat' };
  const rounded = Math.abs(change) >= 10 ? Math.round(change) : Math.round(change * 10) / 10;
  return { text: `${rounded > 0 ? '+' : ''}${rounded}%`, direction: rounded > 0 ? 'up' : 'down' };
}
