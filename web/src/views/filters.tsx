import { useEffect, useState } from 'preact/hooks';
import { localDate, rangeOf } from '../dates.js';
import { navigate, type Preset, type Route } from '../route.js';
import type { Token } from '../types.js';

const PRESET_LABELS: Record<Preset, string> = {
  today: 'Today',
  '7d': 'Last 7 days',
  '30d': 'Last 30 days',
  month: 'This month',
  'last-month': 'Last month',
  custom: 'Custom range',
};

/** The filter bar shared by the overview and the usage table; every change goes to the URL. */
export function Filters(props: { route: Route; models: string[]; tokens: Token[] }) {
  const { route } = props;
  const [tag, setTag] = useState(route.tag);
  useEffect(() => setTag(route.tag), [route.tag]);
  const range = rangeOf(route);
  const customStart = route.preset === 'custom' ? route.start : localDate(range.start);
  const customEnd = route.preset === 'custom' ? route.end : localDate(range.end);

  return (
    <form
      class="filters"
      aria-label="Filters"
      onSubmit={(e) => {
        e.preventDefault();
        navigate({ tag: tag.trim() });
      }}
    >
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
        <input
          id="f-tag"
          type="search"
          placeholder="key:value"
          value={tag}
          pattern="[^:]+:.*"
          title="A tag as key:value, e.g. env:prod"
          onInput={(e) => setTag((e.target as HTMLInputElement).value)}
          onBlur={() => {
            if (tag.trim() !== route.tag && (tag.trim() === '' || tag.includes(':')))
              navigate({ tag: tag.trim() });
          }}
        />
      </div>
      <button type="submit" class="visually-hidden">
        Apply filters
      </button>
    </form>
  );
}
