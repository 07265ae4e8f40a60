import { useState } from 'preact/hooks';
import { api, errorText, withQuery } from '../api.js';
import { TIME_ZONE } from '../dates.js';
import { formatCompactDateTime, formatDateTime, formatInt, formatUsd } from '../format.js';
import { copyText, notify, useResource } from '../hooks.js';
import type { AlertChannel, Budget, BudgetDetail, Delivery, Token } from '../types.js';
import { BudgetChart } from './budget-chart.js';
import { Modal } from './modal.js';

/**
 * Budgets: each budget's spend in its current window against its limit, with the forecast; a
 * chart of the selected one (spend so far, projection and band, the limit); create and edit in a
 * dialog; alert channels with "send test"; and the delivery log.
 */

const VERDICT_LABEL: Record<Budget['current']['verdict'], string> = {
  ok: 'OK',
  warn: 'Warning',
  exceeded: 'Exceeded',
};
const VERDICT_CLASS: Record<Budget['current']['verdict'], string> = {
  ok: 'ok',
  warn: 'warn',
  exceeded: 'danger',
};

function initialSelection(): number | null {
  const id = Number(new URLSearchParams(window.location.search).get('budget'));
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

export function BudgetsView(props: { tick: number; theme: string; tokens: Token[] }) {
  const [version, setVersion] = useState(0);
  const [selected, setSelected] = useState<number | null>(initialSelection);
  const [editing, setEditing] = useState<Budget | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Budget | null>(null);
  const reload = () => setVersion((v) => v + 1);
  const budgets = useResource(`budgets:${version}:${props.tick}`, (signal) =>
    api<{ budgets: Budget[] }>('GET', '/budgets', { signal }).then((r) => r.budgets),
  );
  const channels = useResource(`channels:${version}`, (signal) =>
    api<{ channels: AlertChannel[] }>('GET', '/budgets/channels', { signal }).then((r) => r.channels),
  );
  const shown = selected ?? budgets.data?.[0]?.id ?? null;
  const detail = useResource(`budget:${shown}:${version}:${props.tick}`, (signal) =>
    shown === null ? Promise.resolve(null) : api<BudgetDetail>('GET', `/budgets/${shown}`, { signal }),
  );

  const remove = async (budget: Budget) => {
    try {
      await api('DELETE', `/budgets/${budget.id}`);
      notify(`Deleted budget “${budget.name}”. Its alerts stay in the log.`);
      setDeleting(null);
      if (selected === budget.id) setSelected(null);
      reload();
    } catch (error) {
      notify(`Could not delete “${budget.name}”: ${errorText(error)}`, 'error');
    }
  };

  return (
    <>
      <section class="card">
        <div class="card-head">
          <h2>Budgets</h2>
          <button type="button" class="primary" onClick={() => setEditing('new')}>
            New budget
          </button>
        </div>
        {budgets.error ? (
          <p role="alert" class="error-text">
            Could not load budgets: {errorText(budgets.error)}
          </p>
        ) : null}
        {budgets.data === undefined ? (
          <p class="muted">Loading budgets…</p>
        ) : budgets.data.length === 0 ? (
          <p class="muted">
            No budgets yet. A budget sets a limit on spend per day, week, month or rolling window, for
            everything or for a token, model, provider, user or tag; alerts go to your channels below.
          </p>
        ) : (
          <ul class="budget-list">
            {budgets.data.map((budget) => (
              <BudgetItem
                key={budget.id}
                budget={budget}
                shown={budget.id === shown}
                onShow={() => setSelected(budget.id)}
                onEdit={() => setEditing(budget)}
                onDelete={() => setDeleting(budget)}
              />
            ))}
          </ul>
        )}
      </section>
      {detail.data ? (
        <section class="card" aria-labelledby="budget-chart-title">
          <div class="card-head">
            <h2 id="budget-chart-title">{detail.data.name}: this window</h2>
            <span class="muted small">
              {formatDateTime(detail.data.current.start)} to {formatDateTime(detail.data.current.end)}
            </span>
          </div>
          <BudgetChart detail={detail.data} theme={props.theme} />
          <ForecastText budget={detail.data} />
        </section>
      ) : null}
      <ChannelsCard channels={channels.data} error={channels.error} reload={reload} />
      <DeliveryLog tick={props.tick} version={version} />
      <Modal
        open={editing !== null}
        title={editing === 'new' ? 'New budget' : `Edit budget “${editing?.name ?? ''}”`}
        onClose={() => setEditing(null)}
      >
        {editing !== null ? (
          <BudgetForm
            budget={editing === 'new' ? null : editing}
            tokens={props.tokens}
            onSaved={(saved) => {
              setEditing(null);
              setSelected(saved.id);
              notify(`Saved budget “${saved.name}”.`);
              reload();
            }}
            onCancel={() => setEditing(null)}
          />
        ) : null}
      </Modal>
      <Modal open={deleting !== null} title="Delete budget?" onClose={() => setDeleting(null)}>
        {deleting ? (
          <>
            <p>
              Delete <strong class="label-cell">{deleting.name}</strong>? Its alerts stay in the delivery log.
            </p>
            <div class="modal-actions">
              <button type="button" onClick={() => setDeleting(null)}>
                Cancel
              </button>
              <button type="button" class="danger" onClick={() => remove(deleting)}>
                Delete budget
              </button>
            </div>
          </>
        ) : null}
      </Modal>
    </>
  );
}

function BudgetItem(props: {
  budget: Budget;
  shown: boolean;
  onShow: () => void;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const { budget } = props;
  const { current, forecast } = budget;
  return (
    <li class={`budget-item${props.shown ? ' shown' : ''}`} data-budget-id={budget.id}>
      <div class="budget-head">
        <h3 class="label-cell">{budget.name}</h3>
        {budget.counted ? (
          <span class={`badge ${VERDICT_CLASS[current.verdict]}`}>{VERDICT_LABEL[current.verdict]}</span>
        ) : (
          <span class="badge off">Counting…</span>
        )}
      </div>
      <p class="muted small">
        {budget.window_label} · <span class="label-cell">{budget.scope_label}</span>
      </p>
      <p class="budget-spend">
        <strong>{formatUsd(current.spent_usd)}</strong> of {formatUsd(budget.limit_usd)}{' '}
        <span class="muted">({current.percent_used}%)</span>
        {current.unpriced_requests > 0 ? (
          <span class="badge warn" title="Requests whose model has no price: not in the spend, and not free">
            + {formatInt(current.unpriced_requests)} unpriced
          </span>
        ) : null}
      </p>
      <progress
        class={`budget-bar ${VERDICT_CLASS[current.verdict]}`}
        max={100}
        value={Math.min(100, current.percent_used)}
        aria-label={`${budget.name}: ${current.percent_used}% of the limit spent`}
      />
      {forecast ? (
        <p class="small">
          Forecast {formatUsd(forecast.projected_usd)}{' '}
          <span class="muted">
            ({formatUsd(forecast.low_usd)}–{formatUsd(forecast.high_usd)})
          </span>
          {forecast.limit_reached_at ? (
            <>
              {' '}
              · limit {Date.parse(forecast.limit_reached_at) <= Date.now() ? 'reached' : 'reached around'}{' '}
              {formatCompactDateTime(forecast.limit_reached_at)}
            </>
          ) : null}
        </p>
      ) : null}
      <div class="row-actions">
        <button type="button" aria-pressed={props.shown} onClick={props.onShow}>
          Chart<span class="visually-hidden"> of {budget.name}</span>
        </button>
        <button type="button" onClick={props.onEdit} aria-label={`Edit ${budget.name}`}>
          Edit
        </button>
        <button type="button" class="danger" onClick={props.onDelete} aria-label={`Delete ${budget.name}`}>
          Delete
        </button>
      </div>
    </li>
  );
}

function ForecastText(props: { budget: BudgetDetail }) {
  const { forecast, current } = props.budget;
  if (!forecast) return <p class="muted small">The forecast appears once the window is counted.</p>;
  const seasons: Record<string, string> = {
    'hour-of-week': 'the hours of the week',
    'hour-of-day': 'the hours of the day',
    none: 'no season yet (too little history)',
  };
  return (
    <p class="small">
      At {formatUsd(forecast.hourly_rate_usd)} an average hour, following{' '}
      {seasons[forecast.season] ?? forecast.season}, the window ends near{' '}
      <strong>{formatUsd(forecast.projected_usd)}</strong> (90 % range {formatUsd(forecast.low_usd)}–
      {formatUsd(forecast.high_usd)}) on {formatDateTime(forecast.at)}.{' '}
      {forecast.limit_reached_at
        ? `The limit is reached ${Date.parse(forecast.limit_reached_at) <= Date.now() ? 'since' : 'around'} ${formatDateTime(forecast.limit_reached_at)}.`
        : 'The limit is not reached in this window.'}
      {current.unpriced_requests > 0
        ? ` ${formatInt(current.unpriced_requests)} requests have no price and are not in these figures.`
        : ''}
    </p>
  );
}

interface FormState {
  name: string;
  limit: string;
  kind: 'day' | 'week' | 'month' | 'rolling';
  tz: string;
  length: string;
  unit: 'hours' | 'days';
  tokenId: string;
  model: string;
  provider: string;
  user: string;
  tags: string;
  thresholds: string;
  forecastAlert: boolean;
}

function formFrom(budget: Budget | null): FormState {
  if (!budget) {
    return {
      name: '',
      limit: '',
      kind: 'month',
      tz: TIME_ZONE,
      length: '7',
      unit: 'days',
      tokenId: '',
      model: '',
      provider: '',
      user: '',
      tags: '',
      thresholds: '50, 80, 100',
      forecastAlert: false,
    };
  }
  const hours = budget.window.hours ?? 0;
  return {
    name: budget.name,
    limit: String(budget.limit_usd),
    kind: budget.window.kind as FormState['kind'],
    tz: budget.window.tz ?? TIME_ZONE,
    length: hours % 24 === 0 && hours > 0 ? String(hours / 24) : String(hours || 7),
    unit: hours % 24 === 0 ? 'days' : 'hours',
    tokenId: budget.scope.token_id ? String(budget.scope.token_id) : '',
    model: budget.scope.model ?? '',
    provider: budget.scope.provider ?? '',
    user: budget.scope.user ?? '',
    tags: Object.entries(budget.scope.tags ?? {})
      .map(([key, value]) => `${key}:${value}`)
      .join(', '),
    thresholds: budget.thresholds.join(', '),
    forecastAlert: budget.forecast_alert,
  };
}

function bodyFrom(form: FormState): Record<string, unknown> {
  const tags: Record<string, string> = {};
  for (const part of form.tags
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)) {
    const colon = part.indexOf(':');
    tags[colon < 0 ? part : part.slice(0, colon)] = colon < 0 ? '' : part.slice(colon + 1);
  }
  const scope: Record<string, unknown> = {};
  if (form.tokenId) scope.token_id = Number(form.tokenId);
  if (form.model.trim()) scope.model = form.model.trim();
  if (form.provider.trim()) scope.provider = form.provider.trim();
  if (form.user.trim()) scope.user = form.user.trim();
  if (Object.keys(tags).length > 0) scope.tags = tags;
  return {
    name: form.name.trim(),
    limit_usd: Number(form.limit),
    window:
      form.kind === 'rolling'
        ? { kind: 'rolling', [form.unit]: Number(form.length) }
        : { kind: form.kind, tz: form.tz.trim() || 'UTC' },
    scope,
    thresholds: form.thresholds
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean)
      .map(Number),
    forecast_alert: form.forecastAlert,
  };
}

function BudgetForm(props: {
  budget: Budget | null;
  tokens: Token[];
  onSaved: (budget: Budget) => void;
  onCancel: () => void;
}) {
  const [form, setForm] = useState<FormState>(() => formFrom(props.budget));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const set = <K extends keyof FormState>(key: K, value: FormState[K]) =>
    setForm((f) => ({ ...f, [key]: value }));
  const text = (key: keyof FormState) => (event: Event) =>
    set(key, (event.target as HTMLInputElement).value as never);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = bodyFrom(form);
      const saved = props.budget
        ? await api<Budget>('PATCH', `/budgets/${props.budget.id}`, { body })
        : await api<Budget>('POST', '/budgets', { body });
      props.onSaved(saved);
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} class="budget-form" aria-describedby={error ? 'budget-form-error' : undefined}>
      <div class="form-grid">
        <div class="field-stack">
          <label for="budget-name">Name</label>
          <input id="budget-name" required maxLength={100} value={form.name} onInput={text('name')} />
        </div>
        <div class="field-stack">
          <label for="budget-limit-usd">Limit (USD)</label>
          <input
            id="budget-limit-usd"
            required
            inputMode="decimal"
            value={form.limit}
            onInput={text('limit')}
            placeholder="100"
          />
        </div>
        <div class="field-stack">
          <label for="budget-window">Window</label>
          <select id="budget-window" value={form.kind} onChange={text('kind')}>
            <option value="day">Calendar day</option>
            <option value="week">ISO week (from Monday)</option>
            <option value="month">Calendar month</option>
            <option value="rolling">Rolling window</option>
          </select>
        </div>
        {form.kind === 'rolling' ? (
          <fieldset class="inline-fields">
            <legend>Length</legend>
            <input aria-label="Length" inputMode="numeric" value={form.length} onInput={text('length')} />
            <select aria-label="Unit" value={form.unit} onChange={text('unit')}>
              <option value="hours">hours</option>
              <option value="days">days</option>
            </select>
          </fieldset>
        ) : (
          <div class="field-stack">
            <label for="budget-time-zone">Time zone</label>
            <input id="budget-time-zone" value={form.tz} onInput={text('tz')} placeholder="Europe/Paris" />
          </div>
        )}
      </div>
      <fieldset>
        <legend>Scope (leave empty to count everything)</legend>
        <div class="form-grid">
          <div class="field-stack">
            <label for="budget-tracking-token">Tracking token</label>
            <select id="budget-tracking-token" value={form.tokenId} onChange={text('tokenId')}>
              <option value="">Any token</option>
              {props.tokens.map((token) => (
                <option key={token.id} value={String(token.id)}>
                  {token.label}
                </option>
              ))}
            </select>
          </div>
          <div class="field-stack">
            <label for="budget-model">Model</label>
            <input
              id="budget-model"
              value={form.model}
              onInput={text('model')}
              placeholder="gpt-4o, or gpt-4o* for a prefix"
            />
          </div>
          <div class="field-stack">
            <label for="budget-provider">Provider</label>
            <input
              id="budget-provider"
              value={form.provider}
              onInput={text('provider')}
              placeholder="openai"
            />
          </div>
          <div class="field-stack">
            <label for="budget-end-user">End user</label>
            <input id="budget-end-user" value={form.user} onInput={text('user')} />
          </div>
          <div class="field-stack">
            <label for="budget-tags">Tags</label>
            <input
              id="budget-tags"
              value={form.tags}
              onInput={text('tags')}
              placeholder="team:search, env:prod"
            />
          </div>
        </div>
      </fieldset>
      <div class="form-grid">
        <div class="field-stack">
          <label for="budget-thresholds">Alert thresholds (% of the limit)</label>
          <input id="budget-thresholds" value={form.thresholds} onInput={text('thresholds')} />
        </div>
        <label class="check">
          <input
            type="checkbox"
            checked={form.forecastAlert}
            onChange={(e) => set('forecastAlert', (e.target as HTMLInputElement).checked)}
          />
          Also alert when the forecast ends the window over the limit
        </label>
      </div>
      {error ? (
        <p id="budget-form-error" role="alert" class="error-text">
          {error}
        </p>
      ) : null}
      <div class="modal-actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={busy}>
          {props.budget ? 'Save budget' : 'Create budget'}
        </button>
      </div>
    </form>
  );
}

function ChannelsCard(props: { channels: AlertChannel[] | undefined; error: unknown; reload: () => void }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'webhook' | 'slack'>('webhook');
  const [url, setUrl] = useState('');
  const [error, setError] = useState<string | null>(null);

  const add = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      await api('POST', '/budgets/channels', { body: { name: name.trim(), kind, url: url.trim() } });
      notify(`Added channel “${name.trim()}”.`);
      setName('');
      setUrl('');
      props.reload();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  const test = async (channel: AlertChannel) => {
    try {
      const delivery = await api<Delivery>('POST', `/budgets/channels/${channel.id}/test`, { body: {} });
      notify(
        delivery.status === 'delivered'
          ? `Test alert delivered to “${channel.name}”.`
          : `Test alert to “${channel.name}” failed: ${delivery.last_error ?? 'no answer'}; it will be retried.`,
        delivery.status === 'delivered' ? 'info' : 'error',
      );
      props.reload();
    } catch (failure) {
      notify(`Could not send a test to “${channel.name}”: ${errorText(failure)}`, 'error');
    }
  };
  const toggle = async (channel: AlertChannel) => {
    await api('PATCH', `/budgets/channels/${channel.id}`, { body: { enabled: !channel.enabled } }).catch(
      (failure: unknown) => notify(errorText(failure), 'error'),
    );
    props.reload();
  };
  const remove = async (channel: AlertChannel) => {
    await api('DELETE', `/budgets/channels/${channel.id}`).catch((failure: unknown) =>
      notify(errorText(failure), 'error'),
    );
    notify(`Deleted channel “${channel.name}”.`);
    props.reload();
  };

  return (
    <section class="card" aria-labelledby="channels-title">
      <h2 id="channels-title">Alert channels</h2>
      <p class="muted small">
        Webhooks get signed JSON (HMAC-SHA256, see docs/budgets.md); Slack channels get a readable message.
        Every alert goes to every enabled channel unless its budget names some.
      </p>
      {props.error ? (
        <p role="alert" class="error-text">
          Could not load channels: {errorText(props.error)}
        </p>
      ) : null}
      {props.channels && props.channels.length > 0 ? (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">URL</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {props.channels.map((channel) => (
                <tr key={channel.id} data-channel-id={channel.id}>
                  <th scope="row" class="label-cell">
                    {channel.name}
                  </th>
                  <td data-label="Kind">{channel.kind === 'slack' ? 'Slack' : 'Webhook'}</td>
                  <td data-label="URL" class="label-cell">
                    <code>{channel.url}</code>
                  </td>
                  <td data-label="Status">
                    <span class={`badge ${channel.enabled ? 'ok' : 'off'}`}>
                      {channel.enabled ? 'Enabled' : 'Disabled'}
                    </span>
                  </td>
                  <td class="actions-cell">
                    <div class="row-actions">
                      <button
                        type="button"
                        onClick={() => test(channel)}
                        aria-label={`Send test to ${channel.name}`}
                      >
                        Send test
                      </button>
                      {channel.secret ? (
                        <button
                          type="button"
                          onClick={async () =>
                            notify(
                              (await copyText(channel.secret ?? ''))
                                ? 'Signing secret copied.'
                                : 'Copy failed.',
                            )
                          }
                          aria-label={`Copy secret of ${channel.name}`}
                        >
                          Copy secret
                        </button>
                      ) : null}
                      <button type="button" onClick={() => toggle(channel)}>
                        {channel.enabled ? 'Disable' : 'Enable'}
                        <span class="visually-hidden"> {channel.name}</span>
                      </button>
                      <button
                        type="button"
                        class="danger"
                        onClick={() => remove(channel)}
                        aria-label={`Delete channel ${channel.name}`}
                      >
                        Delete
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : props.channels ? (
        <p class="muted">No channels yet: alerts are recorded in the log below but not sent.</p>
      ) : null}
      <form class="inline-form channel-form" onSubmit={add}>
        <label for="channel-name">Channel name</label>
        <input
          id="channel-name"
          required
          maxLength={100}
          value={name}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
        <label for="channel-kind">Kind</label>
        <select
          id="channel-kind"
          value={kind}
          onChange={(e) => setKind((e.target as HTMLSelectElement).value as 'webhook' | 'slack')}
        >
          <option value="webhook">Signed webhook</option>
          <option value="slack">Slack webhook</option>
        </select>
        <label for="channel-url">URL</label>
        <input
          id="channel-url"
          required
          type="url"
          placeholder="https://hooks.example.com/cost-guardian"
          value={url}
          onInput={(e) => setUrl((e.target as HTMLInputElement).value)}
        />
        <button type="submit" class="primary">
          Add channel
        </button>
      </form>
      {error ? (
        <p role="alert" class="error-text">
          {error}
        </p>
      ) : null}
    </section>
  );
}

const STATUS_CLASS: Record<Delivery['status'], string> = {
  delivered: 'ok',
  pending: 'warn',
  failed: 'danger',
};

function DeliveryLog(props: { tick: number; version: number }) {
  const deliveries = useResource(`deliveries:${props.tick}:${props.version}`, (signal) =>
    api<{ deliveries: Delivery[] }>('GET', withQuery('/budgets/deliveries', { limit: 25 }), { signal }).then(
      (r) => r.deliveries,
    ),
  );
  return (
    <section class="card" aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Delivery log</h2>
      {deliveries.error ? (
        <p role="alert" class="error-text">
          Could not load the delivery log: {errorText(deliveries.error)}
        </p>
      ) : null}
      {deliveries.data === undefined ? (
        <p class="muted">Loading…</p>
      ) : deliveries.data.length === 0 ? (
        <p class="muted">No alerts sent yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="delivery-table">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Alert</th>
                <th scope="col">Channel</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Attempts
                </th>
              </tr>
            </thead>
            <tbody>
              {deliveries.data.map((delivery) => (
                <tr key={delivery.id} data-delivery-id={delivery.id}>
                  <td data-label="When" class="nowrap">
                    {formatCompactDateTime(delivery.created_at)}
                  </td>
                  <td data-label="Alert" class="label-cell">
                    <span class="badge off">{delivery.alert.kind}</span> {delivery.alert.text}
                  </td>
                  <td data-label="Channel" class="label-cell">
                    {delivery.channel.name ?? `(deleted channel ${delivery.channel.id})`}
                  </td>
                  <td data-label="Status">
                    <span class={`badge ${STATUS_CLASS[delivery.status]}`}>{delivery.status}</span>
                    {delivery.last_error ? <div class="small error-text">{delivery.last_error}</div> : null}
                    {delivery.status === 'pending' && delivery.next_attempt_at ? (
                      <div class="small muted">
                        next try {formatCompactDateTime(delivery.next_attempt_at)}
                      </div>
                    ) : null}
                  </td>
                  <td data-label="Attempts" class="num">
                    {delivery.attempts}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
