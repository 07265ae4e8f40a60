import { useState } from 'preact/hooks';
import { api, errorText, withQuery } from '../api.js';
import { filterQuery } from '../dates.js';
import { formatInt, formatUsdExact, plural } from '../format.js';
import { notify, useResource } from '../hooks.js';
import type { Route } from '../route.js';
import type { Overrides, Reprice, Top } from '../types.js';
import { Modal } from './modal.js';

/**
 * Adds a price for a model with usage but no price, then reprices its stored rows, all in the
 * page (issue 17.8). The price becomes an entry of the API's override document (PUT
 * /prices/overrides, a new version), which prices new usage at once; the stored rows change only
 * when the admin applies the reprice after seeing its dry run.
 */
export function PriceDialog(props: {
  model: string | null;
  route: Route;
  onClose: () => void;
  onRepriced: () => void;
}) {
  return (
    <Modal open={props.model !== null} title="Add a price" onClose={props.onClose}>
      {props.model !== null ? (
        <PriceSteps
          key={props.model}
          model={props.model}
          route={props.route}
          onClose={props.onClose}
          onRepriced={props.onRepriced}
        />
      ) : null}
    </Modal>
  );
}

type OverrideEntry = Record<string, unknown> & { id?: unknown };

interface Rates {
  input: string;
  cached: string;
  output: string;
}

/** USD per million tokens, as the override document wants them; empty optional fields are left out. */
function pricesOf(rates: Rates): Record<string, number> {
  const prices: Record<string, number> = {
    input_mtok: Number(rates.input),
    output_mtok: Number(rates.output),
  };
  if (rates.cached.trim() !== '') prices.cache_read_mtok = Number(rates.cached);
  return prices;
}

async function savePrice(model: string, provider: string, rates: Rates): Promise<number> {
  const current = await api<Overrides>('GET', '/prices/overrides');
  const document = structuredClone(current.db?.overrides ?? {}) as Record<string, OverrideEntry[]>;
  const entries = (document[provider] ?? []).filter((entry) => entry.id !== model);
  entries.push({ id: model, prices: pricesOf(rates), note: 'Added from the dashboard' });
  document[provider] = entries;
  const saved = await api<{ version: number }>('PUT', '/prices/overrides', {
    body: {
      overrides: document,
      note: `Price for ${model} (${provider}) from the dashboard`,
      actor: 'dashboard',
    },
  });
  return saved.version;
}

function PriceSteps(props: { model: string; route: Route; onClose: () => void; onRepriced: () => void }) {
  const { model } = props;
  const [rates, setRates] = useState<Rates>({ input: '', cached: '', output: '' });
  const [chosenProvider, setProvider] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<{ version: number; preview: Reprice } | null>(null);
  // The providers this model's usage was stored under: the override must be filed under one.
  const range = filterQuery(props.route);
  const providers = useResource(`providers:${model}`, (signal) =>
    api<Top>(
      'GET',
      withQuery('/usage/top', {
        start: range.start,
        end: range.end,
        tz: range.tz,
        model,
        by: 'provider',
        limit: 20,
      }),
      { signal },
    ).then((top) => top.items),
  );
  const providerIds = (providers.data ?? []).map((item) => item.key).filter((key) => key !== '');
  const provider =
    chosenProvider ??
    (providers.data ?? []).find((item) => item.unpriced_requests > 0)?.key ??
    providerIds[0] ??
    'openai';

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const version = await savePrice(model, provider, rates);
      const preview = await api<Reprice>('POST', '/prices/reprice', {
        body: { model, dry_run: true, actor: 'dashboard' },
      });
      setSaved({ version, preview });
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const apply = async () => {
    setBusy(true);
    setError(null);
    try {
      const result = await api<Reprice>('POST', '/prices/reprice', {
        body: { model, dry_run: false, actor: 'dashboard' },
      });
      notify(`Repriced ${plural(result.changed, 'row')} of ${model}.`);
      props.onRepriced();
      props.onClose();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  if (saved) {
    const { preview } = saved;
    return (
      <div class="price-preview">
        <p>
          Saved as price overrides version {saved.version}: new usage of{' '}
          <strong class="label-cell">{model}</strong> is priced from now on. Stored rows keep their old
          pricing until you reprice them.
        </p>
        <table class="preview-table">
          <caption>Repricing preview (dry run: nothing changed yet)</caption>
          <thead>
            <tr>
              <th scope="col">Provider</th>
              <th scope="col" class="num">
                Rows
              </th>
              <th scope="col" class="num">
                Would change
              </th>
              <th scope="col" class="num">
                Unpriced now → after
              </th>
              <th scope="col" class="num">
                Cost now → after
              </th>
            </tr>
          </thead>
          <tbody>
            {preview.by_model.map((entry) => (
              <tr key={`${entry.provider}/${entry.model}`}>
                <td>{entry.provider}</td>
                <td class="num">{formatInt(entry.rows)}</td>
                <td class="num">{formatInt(entry.changed)}</td>
                <td class="num">
                  {formatInt(entry.unpriced_before)} → {formatInt(entry.unpriced_after)}
                </td>
                <td class="num">
                  {entry.unpriced_before === entry.rows ? 'unpriced' : formatUsdExact(entry.old_total_usd)} →{' '}
                  {entry.unpriced_after === entry.rows ? 'unpriced' : formatUsdExact(entry.new_total_usd)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {error ? (
          <p role="alert" class="error-text">
            {error}
          </p>
        ) : null}
        <div class="modal-actions">
          <button type="button" onClick={props.onClose}>
            {preview.changed === 0 ? 'Close' : 'Not now'}
          </button>
          {preview.changed > 0 ? (
            <button type="button" class="primary" disabled={busy} onClick={apply}>
              Reprice {plural(preview.changed, 'row')}
            </button>
          ) : null}
        </div>
      </div>
    );
  }

  const field = (name: keyof Rates) => ({
    value: rates[name],
    onInput: (e: Event) => setRates({ ...rates, [name]: (e.target as HTMLInputElement).value }),
  });
  return (
    <form onSubmit={submit} aria-describedby="price-help">
      <p id="price-help">
        USD per million tokens for <strong class="label-cell">{model}</strong>, as on the provider's price
        page. It applies to new usage at once; you then see what repricing the stored rows would change before
        anything changes.
      </p>
      <label for="price-provider">Provider</label>
      <select
        id="price-provider"
        value={provider}
        onChange={(e) => setProvider((e.target as HTMLSelectElement).value)}
      >
        {(providerIds.includes(provider) ? providerIds : [provider, ...providerIds]).map((id) => (
          <option key={id} value={id}>
            {id}
          </option>
        ))}
      </select>
      <div class="price-fields">
        <div class="field">
          <label for="price-input">Input, $ per 1M tokens</label>
          <input
            id="price-input"
            type="number"
            min="0"
            step="any"
            required
            inputMode="decimal"
            {...field('input')}
          />
        </div>
        <div class="field">
          <label for="price-cached">Cached input (optional)</label>
          <input
            id="price-cached"
            type="number"
            min="0"
            step="any"
            inputMode="decimal"
            {...field('cached')}
          />
        </div>
        <div class="field">
          <label for="price-output">Output, $ per 1M tokens</label>
          <input
            id="price-output"
            type="number"
            min="0"
            step="any"
            required
            inputMode="decimal"
            {...field('output')}
          />
        </div>
      </div>
      {error ? (
        <p role="alert" class="error-text">
          {error}
        </p>
      ) : null}
      <div class="modal-actions">
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={busy || rates.input === '' || rates.output === ''}>
          Save price and preview
        </button>
      </div>
    </form>
  );
}
