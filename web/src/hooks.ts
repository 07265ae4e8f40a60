import { useEffect, useRef, useState } from 'preact/hooks';
import { onRateLimited, rateLimitedUntil } from './api.js';

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
}

/**
 * Loads `load()` whenever `key` changes; a newer load aborts the one in flight. The previous data
 * stays on screen while the next loads, so a live refresh never flashes an empty table.
 */
export function useResource<T>(key: string, load: (signal: AbortSignal) => Promise<T>): Resource<T> {
  const [state, setState] = useState<Resource<T>>({ data: undefined, error: undefined, loading: true });
  const loader = useRef(load);
  loader.current = load;
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    loader.current(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, error: undefined, loading: false });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState((s) => ({ data: s.data, error, loading: false }));
      },
    );
    return () => controller.abort();
  }, [key]);
  return state;
}

/**
 * Live refreshes are at most this frequent, however busy ingest is. The overview re-reads seven
 * analytics requests per refresh (42 a minute, plus the model and tag lists once a minute, and
 * /metrics once a minute while records are refused), well inside a signed-in session's own
 * rate-limit bucket (src/http/hooks/rate-limit.ts).
 */
export const LIVE_REFRESH_MIN_MS = 10_000;

/**
 * New usage without reload: one EventSource on /events (the server sends at most one small event
 * a second) and a `tick` that bumps at most every LIVE_REFRESH_MIN_MS, and not while the tab is
 * hidden (a pending change is applied when it becomes visible again). `onRefused` is called on
 * each `refused` event (ingest records refused; at most one a second) and must only schedule work.
 */
export function useLiveTick(
  enabled: boolean,
  onRefused: () => void = () => {},
): { tick: number; connected: boolean } {
  const [tick, setTick] = useState(0);
  const [connected, setConnected] = useState(false);
  const refused = useRef(onRefused);
  refused.current = onRefused;
  useEffect(() => {
    if (!enabled || typeof EventSource === 'undefined') return;
    let last = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let pending = false;
    const bump = () => {
      timer = undefined;
      if (document.hidden) {
        pending = true;
        return;
      }
      pending = false;
      last = Date.now();
      setTick((t) => t + 1);
    };
    const schedule = () => {
      if (timer) return;
      timer = setTimeout(bump, Math.max(0, last + LIVE_REFRESH_MIN_MS - Date.now()));
    };
    const onVisible = () => {
      if (!document.hidden && pending) schedule();
    };
    const source = new EventSource('/events');
    source.addEventListener('open', () => setConnected(true));
    source.addEventListener('error', () => setConnected(source.readyState === EventSource.OPEN));
    source.addEventListener('usage', schedule);
    source.addEventListener('refused', () => refused.current());
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      source.close();
      if (timer) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
      setConnected(false);
    };
  }, [enabled]);
  return { tick, connected };
}

type Notice = { id: number; text: string; kind: 'info' | 'error' };
const noticeListeners = new Set<(notices: Notice[]) => void>();
let notices: Notice[] = [];
let nextNotice = 1;

/** A short status message, announced to screen readers through the live region. */
export function notify(text: string, kind: Notice['kind'] = 'info'): void {
  const notice = { id: nextNotice++, text, kind };
  notices = [...notices.slice(-2), notice];
  for (const listener of noticeListeners) listener(notices);
  setTimeout(
    () => {
      notices = notices.filter((n) => n.id !== notice.id);
      for (const listener of noticeListeners) listener(notices);
    },
    kind === 'error' ? 10_000 : 5000,
  );
}

export function useNotices(): Notice[] {
  const [list, setList] = useState(notices);
  useEffect(() => {
    noticeListeners.add(setList);
    return () => {
      noticeListeners.delete(setList);
    };
  }, []);
  return list;
}

/** Copies text; falls back to a hidden textarea where the Clipboard API is unavailable (plain http). */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the fallback
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  return ok;
}

/** Seconds until rate-limited requests are retried (api.ts waits them out), or null when none waits. */
export function useRateLimitCountdown(): number | null {
  const [untilMs, setUntilMs] = useState(rateLimitedUntil());
  const [nowMs, setNowMs] = useState(Date.now());
  useEffect(() => onRateLimited(setUntilMs), []);
  useEffect(() => {
    setNowMs(Date.now());
    if (untilMs <= Date.now()) return;
    const timer = setInterval(() => {
      const now = Date.now();
      setNowMs(now);
      if (now >= untilMs) clearInterval(timer);
    }, 250);
    return () => clearInterval(timer);
  }, [untilMs]);
  const seconds = Math.ceil((untilMs - nowMs) / 1000);
  return seconds > 0 ? seconds : null;
}
