import { localDate, rangeOf } from '../dates.js';
import { navigate, type Preset, type Route } from '../route.js';
import type { TagKeys, Token } from '../types.js';

const PRESET_LABELS: Record<Preset, string> = {
  today: 'Today',
  '7d': 'Last 7 days',
  '30d': 'Last 30 days',
  month: 'This month',
  'last-month': 'Last month',
  custom: 'Custom range',
};

/**
 * The filter bar shared by the overview and the usage table; every change goes to the URL. Tags
 * are offered from stored usage (GET /usage/tags), grouped by key; a tag in the URL that is not
 * among them (a rare value, a shared link) is kept as an option of its own.
 */
export function Filters(props: { route: Route; models: string[]; tokens: Token[]; tags: TagKeys }) {
  const { route } = props;
  const offered = props.tags.some((key) =>
    key.values.some((value) => `${key.key}:${value.value}` === route.tag),
  );
  const range = rangeOf(route);
  const customStart = route.preset === 'custom' ? route.start : localDate(range.start);
  const customEnd = route.preset === 'custom' ? route.end : localDate(range.end);

  return (
    <form class="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
      <div class="field">
        <label for="f-range">Date range</label>
        <select
          id="f-range"
          value={route.preset}
          onChange={(e) => {
            const preset = (e.target as HTMLSelectElement).value as Preset;
            navigate(preset === 'custom' ? { preset, start: customStart, end: customEnd } : { preset });
          }}
        >
          {(Object.keys(PRESET_LABELS) as Preset[]).map((p) => (
            <option value={p} key={p}>
              {PRESET_LABELS[p]}
            </option>
          ))}
        </select>
      </div>
      {route.preset === 'custom' ? (
        <>
          <div class="field">
            <label for="f-start">From</label>
            <input
              id="f-start"
              type="date"
              value={route.start}
              max={route.end}
              onChange={(e) => {
                const value = (e.target as HTMLInputElement).value;
                if (value) navigate({ start: value });
              }}
            />
          </div>
          <div class="field">
            <label for="f-end">To</label>
            <input
              id="f-end"
              type="date"
              value={route.end}
              min={route.start}
              onChange={(e) => {
                const value = (e.target as HTMLInputElement).value;
                if (value) navigate({ end: value });
              }}
            />
          </div>
        </>
      ) : null}
      <div class="field">
        <label for="f-model">Model</label>
        <select
          id="f-model"
          value={route.model}
          onChange={(e) => navigate({ model: (e.target as HTMLSelectElement).value })}
        >
          <option value="">All models</option>
          {route.model && !props.models.includes(route.model) ? (
            <option value={route.model}>{route.model}</option>
          ) : null}
          {props.models.map((m) => (
            <option value={m} key={m}>
              {m}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="f-token">Tracking token</label>
        <select
          id="f-token"
          value={route.token}
          onChange={(e) => navigate({ token: (e.target as HTMLSelectElement).value })}
        >
          <option value="">All tokens</option>
          {props.tokens.map((t) => (
            <option value={String(t.id)} key={t.id}>
              {t.label}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="f-tag">Tag</label>
        <select
          id="f-tag"
          value={route.tag}
          onChange={(e) => navigate({ tag: (e.target as HTMLSelectElement).value })}
        >
          <option value="">All tags</option>
          {route.tag && !offered ? <option value={route.tag}>{route.tag.replace(':', ': ')}</option> : null}
          {props.tags.map((key) => (
            <optgroup key={key.key} label={key.key}>
              {key.values.map((value) => (
                <option key={value.value} value={`${key.key}:${value.value}`}>
                  {key.key}: {value.value}
                </option>
              ))}
            </optgroup>
          ))}
        </select>
      </div>
    </form>
  );
}
