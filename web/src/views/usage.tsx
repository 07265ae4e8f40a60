import { useState } from 'preact/hooks';
import { ApiError, api, errorText, withQuery } from '../api.js';
import { filterQuery } from '../dates.js';
import { formatCompactDateTime, formatInt, formatUsdExact, plural } from '../format.js';
import { notify, useResource } from '../hooks.js';
import { navigate, type Route } from '../route.js';
import type { Summary, UsagePage } from '../types.js';
import { Cost } from './cost.js';
import { Modal } from './modal.js';

export const PAGE_ROWS = 50;

/** Columns that can be hidden; the choice is kept in localStorage (not a secret). */
const OPTIONAL_COLUMNS = [
  { id: 'provider', label: 'Provider' },
  { id: 'cached', label: 'Cached' },
  { id: 'reasoning', label: 'Reasoning' },
] as const;
type OptionalColumn = (typeof OPTIONAL_COLUMNS)[number]['id'];
type ColumnChoice = Record<OptionalColumn, boolean>;
const COLUMNS_KEY = 'cg_usage_columns';

function storedColumns(): ColumnChoice {
  const choice: ColumnChoice = { provider: true, cached: true, reasoning: true };
  try {
    const stored = JSON.parse(localStorage.getItem(COLUMNS_KEY) ?? '{}') as Record<string, unknown>;
    for (const { id } of OPTIONAL_COLUMNS) if (typeof stored[id] === 'boolean') choice[id] = stored[id];
  } catch {
    // A value from an older page: the defaults.
  }
  return choice;
}

function ColumnPicker(props: { columns: ColumnChoice; onChange: (columns: ColumnChoice) => void }) {
  return (
    <details class="column-picker">
      <summary>Columns</summary>
      <fieldset>
        <legend class="visually-hidden">Optional columns</legend>
        {OPTIONAL_COLUMNS.map(({ id, label }) => (
          <label key={id} class="check">
            <input
              type="checkbox"
              checked={props.columns[id]}
              onChange={(e) =>
                props.onChange({ ...props.columns, [id]: (e.target as HTMLInputElement).checked })
              }
            />
            {label}
          </label>
        ))}
      </fieldset>
    </details>
  );
}

/** Cursors of the pages seen, per filter, so "Previous" works without the server keeping state. */
const pageCursors = new Map<string, string[]>();

interface UsageData {
  page: UsagePage;
  /** Totals over the whole filter; null when the analytics API is not on this server. */
  totals: Summary['current'] | null;
}

async function loadUsage(route: Route, signal: AbortSignal): Promise<UsageData> {
  const filter = filterQuery(route);
  const [page, summary] = await Promise.all([
    api<UsagePage>('GET', withQuery('/data', { ...filter, limit: PAGE_ROWS, cursor: route.cursor }), {
      signal,
    }),
    api<Summary>('GET', withQuery('/usage/summary', filter), { signal }).catch((error: unknown) => {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }),
  ]);
  return { page, totals: summary ? summary.current : null };
}

export function UsageView(props: { route: Route; tick: number }) {
  const { route } = props;
  const filter = filterQuery(route);
  const filterKey = JSON.stringify(filter);
  // Live updates refresh the first page only: a later page would shift under the reader's eyes.
  const liveTick = route.cursor === '' ? props.tick : 0;
  const { data, error, loading } = useResource(
    JSON.stringify([filterKey, route.cursor, liveTick]),
    (signal) => loadUsage(route, signal),
  );
  const [resetOpen, setResetOpen] = useState(false);
  const [columns, setColumnsState] = useState(storedColumns);
  const setColumns = (next: ColumnChoice) => {
    localStorage.setItem(COLUMNS_KEY, JSON.stringify(next));
    setColumnsState(next);
  };
  const width = 8 + OPTIONAL_COLUMNS.filter(({ id }) => columns[id]).length;
  const cursors = pageCursors.get(filterKey) ?? [''];
  pageCursors.set(filterKey, cursors);
  cursors[route.page - 1] = route.cursor;

  const rows = data?.page.data ?? [];
  const first = (route.page - 1) * PAGE_ROWS + 1;
  const csvHref = withQuery('/data', { ...filter, format: 'csv' });

  return (
    <section class="card usage" aria-busy={loading ? 'true' : 'false'}>
      <div class="card-head">
        <h2>Usage</h2>
        <div class="actions">
          <ColumnPicker columns={columns} onChange={setColumns} />
          <a class="button" href={csvHref} download>
            Export CSV
          </a>
          <button type="button" class="danger" onClick={() => setResetOpen(true)}>
            Reset data…
          </button>
        </div>
      </div>
      {error ? (
        <p role="alert" class="error-text">
          Could not load usage: {errorText(error)}
        </p>
      ) : null}
      <div class="table-wrap">
        <table class="usage-table">
          <caption class="visually-hidden">Usage rows, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Model</th>
              {columns.provider ? <th scope="col">Provider</th> : null}
              <th scope="col">Token</th>
              <th scope="col">Tags</th>
              <th scope="col" class="num">
                Input
              </th>
              {columns.cached ? (
                <th scope="col" class="num">
                  Cached
                </th>
              ) : null}
              <th scope="col" class="num">
                Output
              </th>
              {columns.reasoning ? (
                <th scope="col" class="num">
                  Reasoning
                </th>
              ) : null}
              <th scope="col" class="num">
                Total
              </th>
              <th scope="col" class="num">
                Cost
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 && data && !loading ? (
              <tr>
                <td colSpan={width} class="muted empty">
                  No usage for these filters.
                </td>
              </tr>
            ) : null}
            {rows.map((row) => (
              <tr key={row.id}>
                <td data-label="Time" class="nowrap">
                  <time dateTime={row.timestamp} title={row.timestamp}>
                    {formatCompactDateTime(row.timestamp)}
                  </time>
                </td>
                <td class="label-cell clip" data-label="Model" title={row.model}>
                  {row.model}
                </td>
                {columns.provider ? (
                  <td class="clip clip-narrow" data-label="Provider" title={row.provider}>
                    {row.provider}
                  </td>
                ) : null}
                <td
                  class="label-cell clip clip-narrow"
                  data-label="Token"
                  title={row.tokenLabel ?? undefined}
                >
                  {row.tokenLabel ?? <span class="muted">—</span>}
                </td>
                <td
                  class="label-cell clip clip-tags"
                  data-label="Tags"
                  title={attributionText(row.tags, row.user)}
                >
                  <Attribution tags={row.tags} user={row.user} />
                </td>
                <td class="num" data-label="Input">
                  {formatInt(row.promptTokens)}
                </td>
                {columns.cached ? (
                  <td class="num" data-label="Cached">
                    {formatInt(row.cachedTokens)}
                  </td>
                ) : null}
                <td class="num" data-label="Output">
                  {formatInt(row.completionTokens)}
                </td>
                {columns.reasoning ? (
                  <td class="num" data-label="Reasoning">
                    {formatInt(row.reasoningTokens)}
                  </td>
                ) : null}
                <td class="num" data-label="Total tokens">
                  {formatInt(row.totalTokens)}
                </td>
                <td class="num" data-label="Cost">
                  {row.estimatedCostUSD === null ? (
                    <span class="badge warn" title="No known price for this model">
                      unpriced
                    </span>
                  ) : (
                    formatUsdExact(row.estimatedCostUSD)
                  )}
                </td>
              </tr>
            ))}
          </tbody>
          {data?.totals ? (
            <tfoot>
              <tr>
                <th scope="row" colSpan={columns.provider ? 5 : 4}>
                  {data.totals.requests === 1
                    ? 'The 1 request matching the filters'
                    : `All ${formatInt(data.totals.requests)} requests matching the filters`}
                </th>
                <td class="num" data-label="Input">
                  {formatInt(data.totals.prompt_tokens)}
                </td>
                {columns.cached ? (
                  <td class="num" data-label="Cached">
                    {formatInt(data.totals.cached_tokens)}
                  </td>
                ) : null}
                <td class="num" data-label="Output">
                  {formatInt(data.totals.completion_tokens)}
                </td>
                {columns.reasoning ? (
                  <td class="num" data-label="Reasoning">
                    {formatInt(data.totals.reasoning_tokens)}
                  </td>
                ) : null}
                <td class="num" data-label="Total tokens">
                  {formatInt(data.totals.total_tokens)}
                </td>
                <td class="num" data-label="Cost">
                  <Cost usd={data.totals.cost_usd} unpriced={data.totals.unpriced_requests} exact />
                </td>
              </tr>
            </tfoot>
          ) : null}
        </table>
      </div>
      {/* A failed load is never shown as "no usage" (issue 17.4). */}
      {rows.length === 0 && !data ? (
        error ? (
          <p class="empty error-text">Usage could not be loaded.</p>
        ) : (
          <p class="muted empty" aria-busy="true">
            Loading usage…
          </p>
        )
      ) : null}
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={route.page <= 1} onClick={() => navigate({ cursor: '', page: 1 })}>
          First
        </button>
        <button
          type="button"
          disabled={route.page <= 1}
          onClick={() => {
            const previous = cursors[route.page - 2];
            navigate(
              previous === undefined ? { cursor: '', page: 1 } : { cursor: previous, page: route.page - 1 },
            );
          }}
        >
          Previous
        </button>
        <span class="muted" aria-live="polite">
          {rows.length === 0
            ? `Page ${route.page}`
            : `Page ${route.page} · rows ${formatInt(first)}–${formatInt(first + rows.length - 1)}`}
        </span>
        <button
          type="button"
          disabled={!data?.page.next_cursor}
          onClick={() =>
            data?.page.next_cursor && navigate({ cursor: data.page.next_cursor, page: route.page + 1 })
          }
        >
          Next
        </button>
      </nav>
      <ResetDialog open={resetOpen} onClose={() => setResetOpen(false)} />
    </section>
  );
}

function attributionText(tags: Record<string, string> | null, user: string | null): string | undefined {
  const parts = [
    ...(user === null ? [] : [`user: ${user}`]),
    ...Object.entries(tags ?? {}).map(([key, value]) => `${key}: ${value}`),
  ];
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** Tags and the end user of a row; a tag is a button that filters the view by it. */
function Attribution(props: { tags: Record<string, string> | null; user: string | null }) {
  const tags = Object.entries(props.tags ?? {});
  if (tags.length === 0 && props.user === null) return <span class="muted">—</span>;
  return (
    <span class="chips">
      {props.user !== null ? <span class="chip">user: {props.user}</span> : null}
      {tags.map(([key, value]) => (
        <button
          type="button"
          key={key}
          class="chip"
          title={`Show only ${key}: ${value}`}
          onClick={() => navigate({ tag: `${key}:${value}` })}
        >
          {key}: {value}
        </button>
      ))}
    </span>
  );
}

const CONFIRM_WORD = 'RESET';

/** Deleting every usage row is irreversible: it needs the word typed, not one click. */
function ResetDialog(props: { open: boolean; onClose: () => void }) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const close = () => {
    setTyped('');
    props.onClose();
  };
  const confirm = async (event: Event) => {
    event.preventDefault();
    if (typed !== CONFIRM_WORD) return;
    setBusy(true);
    try {
      const result = await api<{ deleted: number }>('DELETE', '/reset');
      notify(`Deleted ${plural(result.deleted, 'usage row')}.`);
      navigate({ cursor: '', page: 1 });
      close();
    } catch (error) {
      notify(`Reset failed: ${errorText(error)}`, 'error');
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal open={props.open} title="Reset all usage data?" onClose={close}>
      <form onSubmit={confirm}>
        <p>
          This permanently deletes <strong>every usage row</strong> from the database. Tracking tokens are
          kept. It cannot be undone; export a CSV first if you may need the data.
        </p>
        <label for="reset-confirm">
          Type <kbd>{CONFIRM_WORD}</kbd> to confirm
        </label>
        <input
          id="reset-confirm"
          autocomplete="off"
          value={typed}
          onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
        />
        <div class="modal-actions">
          <button type="button" onClick={close}>
            Cancel
          </button>
          <button type="submit" class="danger" disabled={typed !== CONFIRM_WORD || busy}>
            Delete all usage
          </button>
        </div>
      </form>
    </Modal>
  );
}
