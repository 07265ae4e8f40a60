/**
 * The analytics API (issue 4) as its contract describes it. Temporary: it is being built on another
 * branch; once its schemas are on main these types come from them like the others in types.ts.
 */
export interface Totals {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  input_audio_tokens: number;
  output_audio_tokens: number;
  cost_usd: number;
  unpriced_requests: number;
}
export interface Summary {
  range: { start: string; end: string };
  previous_range: { start: string; end: string };
  current: Totals;
  previous: Totals;
}
export interface Timeseries {
  bucket: string;
  tz: string;
  group_by: string | null;
  series: {
    key: string;
    label: string;
    points: {
      t: string;
      requests: number;
      cost_usd: number;
      prompt_tokens: number;
      completion_tokens: number;
      total_tokens: number;
      unpriced_requests: number;
    }[];
  }[];
}
export interface Top {
  by: string;
  items: {
    key: string;
    label: string;
    requests: number;
    cost_usd: number;
    total_tokens: number;
    unpriced_requests: number;
  }[];
}
