import { useEffect, useState } from 'preact/hooks';

/**
 * The view and its filters live in the URL, so reload keeps the view, a link shares it and the
 * back button undoes a filter change. Changing a filter pushes a history entry; paging replaces
 * nothing and pushes too, so back returns to the previous page.
 */
export type View = 'overview' | 'usage' | 'tokens' | 'budgets' | 'reports';
export type Preset = 'today' | '7d' | '30d' | 'month' | 'last-month' | 'custom';
/** How the chart stacks: any group the timeseries API knows (docs/analytics.md). */
export type GroupBy = 'model' | 'token' | 'provider' | 'user' | `tag:${string}`;
export const PLAIN_GROUPS = ['model', 'token', 'provider', 'user'] as const;
const TAG_KEY = /^[A-Za-z0-9_.-]{1,64}$/;

function parseGroup(text: string | null): GroupBy {
  if (text !== null && (PLAIN_GROUPS as readonly string[]).includes(text)) return text as GroupBy;
  if (text?.startsWith('tag:') && TAG_KEY.test(text.slice(4))) return text as GroupBy;
  return DEFAULT_ROUTE.group;
}

export interface Route {
  view: View;
  preset: Preset;
  /** YYYY-MM-DD, local dates; only with preset=custom. */
  start: string;
  end: string;
  model: string;
  token: string;
  tag: string;
  group: GroupBy;
  /** Opaque /data cursor of the current page ('' = first page), and that page's number. */
  cursor: string;
  page: number;
}

const VIEWS: readonly View[] = ['overview', 'usage', 'tokens', 'budgets', 'reports'];
const PRESETS: readonly Preset[] = ['today', '7d', '30d', 'month', 'last-month', 'custom'];
export const DEFAULT_ROUTE: Route = {
  view: 'overview',
  preset: '30d',
  start: '',
  end: '',
  model: '',
  token: '',
  tag: '',
  group: 'model',
  cursor: '',
  page: 1,
};

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function parseRoute(search: string): Route {
  const q = new URLSearchParams(search);
  const pick = <T extends string>(value: string | null, allowed: readonly T[], fallback: T): T =>
    value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
  const start = q.get('start') ?? '';
  const end = q.get('end') ?? '';
  const preset = pick(q.get('preset'), PRESETS, DEFAULT_ROUTE.preset);
  const page = Number(q.get('page') ?? '1');
  return {
    view: pick(q.get('view'), VIEWS, DEFAULT_ROUTE.view),
    preset: preset === 'custom' && !(DATE.test(start) && DATE.test(end)) ? DEFAULT_ROUTE.preset : preset,
    start: DATE.test(start) ? start : '',
    end: DATE.test(end) ? end : '',
    model: q.get('model') ?? '',
    token: /^\d+$/.test(q.get('token') ?? '') ? (q.get('token') ?? '') : '',
    tag: q.get('tag') ?? '',
    group: parseGroup(q.get('group')),
    cursor: q.get('cursor') ?? '',
    page: Number.isInteger(page) && page > 0 && q.get('cursor') ? page : 1,
  };
}

export function formatRoute(route: Route): string {
  const q = new URLSearchParams();
  for (const key of Object.keys(DEFAULT_ROUTE) as (keyof Route)[]) {
    const value = route[key];
    if (value === DEFAULT_ROUTE[key]) continue;
    if ((key === 'start' || key === 'end') && route.preset !== 'custom') continue;
    q.set(key, String(value));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

const listeners = new Set<(route: Route) => void>();
let current = parseRoute(window.location.search);

window.addEventListener('popstate', () => {
  current = parseRoute(window.location.search);
  for (const listener of listeners) listener(current);
});

/** Changes the route; a filter change starts again at the first page. */
export function navigate(patch: Partial<Route>, options: { replace?: boolean } = {}): void {
  const filterChanged = (['preset', 'start', 'end', 'model', 'token', 'tag'] as const).some(
    (key) => key in patch && patch[key] !== current[key],
  );
  const next: Route = { ...current, ...patch, ...(filterChanged ? { cursor: '', page: 1 } : {}) };
  const url = `${window.location.pathname}${formatRoute(next)}`;
  if (url === `${window.location.pathname}${window.location.search}`) return;
  if (options.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  current = next;
  for (const listener of listeners) listener(current);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    listeners.add(setRoute);
    setRoute(current);
    return () => {
      listeners.delete(setRoute);
    };
  }, []);
  return route;
}
