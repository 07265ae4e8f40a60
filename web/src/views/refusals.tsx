import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { formatInt, plural } from '../format.js';
import { LIVE_REFRESH_MIN_MS } from '../hooks.js';
import type { Metrics } from '../types.js';

/**
 * GET /metrics is read on load, after the live stream says records were refused, and while the
 * warning shows (so its count ages out); never on new usage alone, so an open dashboard with
 * nothing refused spends no request on it (README: request budget). While the warning shows, at
 * most once per this interval; the first refusal is shown as fast as a live refresh
 * (LIVE_REFRESH_MIN_MS after the previous read).
 */
export const REFUSALS_REFRESH_MIN_MS = 60_000;

export type IngestRefusals = Metrics['ingest_refusals'] & { rpm: number; burst: number };

/**
 * The last hour's refused ingest records, and `refresh` to ask again (at most once a minute; called
 * on every live `refused` event). A failed read keeps the last answer: the warning is secondary to
 * the view, which shows its own errors.
 */
export function useIngestRefusals(): { refusals: IngestRefusals | undefined; refresh: () => void } {
  const [refusals, setRefusals] = useState<IngestRefusals>();
  const control = useRef<{
    lastMs: number;
    showing: boolean;
    timer: ReturnType<typeof setTimeout> | undefined;
    pending: boolean;
    run: (() => void) | undefined;
  }>({ lastMs: Number.NEGATIVE_INFINITY, showing: false, timer: undefined, pending: false, run: undefined });
  const showing = refusals !== undefined && refusedTotal(refusals) > 0;
  control.current.showing = showing;

  const refresh = useCallback(() => {
    const c = control.current;
    if (c.timer !== undefined || !c.run) return;
    const intervalMs = c.showing ? REFUSALS_REFRESH_MIN_MS : LIVE_REFRESH_MIN_MS;
    c.timer = setTimeout(c.run, Math.max(0, c.lastMs + intervalMs - Date.now()));
  }, []);

  useEffect(() => {
    const c = control.current;
    const controller = new AbortController();
    c.run = () => {
      c.timer = undefined;
      if (document.hidden) {
        c.pending = true;
        return;
      }
      c.pending = false;
      c.lastMs = Date.now();
      api<Metrics>('GET', '/metrics', { signal: controller.signal }).then(
        (m) => setRefusals({ ...m.ingest_refusals, rpm: m.ingest.rpm, burst: m.ingest.burst }),
        () => {},
      );
    };
    const onVisible = () => {
      if (!document.hidden && c.pending) refresh();
    };
    document.addEventListener('visibilitychange', onVisible);
    refresh();
    return () => {
      controller.abort();
      if (c.timer !== undefined) clearTimeout(c.timer);
      c.timer = undefined;
      c.run = undefined;
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [refresh]);

  useEffect(() => {
    if (!showing) return;
    const interval = setInterval(refresh, REFUSALS_REFRESH_MIN_MS);
    return () => clearInterval(interval);
  }, [showing, refresh]);

  return { refusals, refresh };
}

function refusedTotal(refusals: IngestRefusals): number {
  const by = refusals.refused_last_hour;
  return by.rate_limited + by.validation_error + by.unknown_token + by.inactive_token;
}

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/** "1 record was", "3 more records were". */
function recordsWere(count: number, more: boolean): string {
  return `${formatInt(count)} ${more ? 'more ' : ''}${count === 1 ? 'record was' : 'records were'}`;
}

/**
 * Issue 17.3: a refused record is usage that is lost, so it is never quiet. Shown on every view
 * while the last hour has refusals: the rate limit first (the operator can fix it here), then the
 * other reasons (the client or its token needs fixing). Rendered as text like everything else.
 */
export function IngestRefusalsBanner(props: { refusals: IngestRefusals | undefined }) {
  const { refusals } = props;
  if (!refusals || refusedTotal(refusals) === 0) return null;
  const by = refusals.refused_last_hour;
  const others = [
    { count: by.validation_error, text: 'invalid' },
    { count: by.unknown_token, text: 'with an unknown tracking token' },
    { count: by.inactive_token, text: 'with a deactivated tracking token' },
  ].filter((reason) => reason.count > 0);
  const otherTotal = others.reduce((sum, reason) => sum + reason.count, 0);
  const last = [
    refusals.last_rate_limited_at === null
      ? null
      : `last at ${timeOfDay.format(new Date(refusals.last_rate_limited_at))}`,
    refusals.last_token_label === null ? null : `token “${refusals.last_token_label}”`,
  ].filter((part) => part !== null);
  return (
    <div class="banner warn refusals" role="status" aria-label="Refused usage records">
      {by.rate_limited > 0 ? (
        <p>
          <strong>
            {recordsWere(by.rate_limited, false)} refused by the ingest rate limit in the last hour
            {last.length > 0 ? ` (${last.join(', ')})` : ''}.
          </strong>{' '}
          Those calls are not counted unless the client resends them after the Retry-After it was given. The
          limit is {plural(refusals.rpm, 'record')} a minute per tracking token, in bursts of up to{' '}
          {formatInt(refusals.burst)}: raise <code>INGEST_RPM</code> and <code>INGEST_BURST</code> and restart
          the service (docs/config.md, “Ingest rate limit”), or give each app its own token.
        </p>
      ) : null}
      {otherTotal > 0 ? (
        <p>
          <strong>
            {recordsWere(otherTotal, by.rate_limited > 0)} refused in the last hour:{' '}
            {others.map((reason) => `${formatInt(reason.count)} ${reason.text}`).join(', ')}.
          </strong>{' '}
          Those calls are not counted either. The ingest API's answer names each record's reason: fix the
          client, or activate or replace its token (Tokens).
        </p>
      ) : null}
    </div>
  );
}
