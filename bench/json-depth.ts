/**
 * What the nesting-depth checks (issue 16.2) cost per ingest record, against what parsing the same
 * body costs. Both run in this process, interleaved in rounds, so machine load moves them together;
 * the figure to read is the ratio.
 *
 *   npx tsx bench/json-depth.ts [--rounds 7] [--iterations 200000]
 */
import { jsonTextDeeperThan, valueDeeperThan } from '../src/lib/json-depth.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const rounds = option('--rounds', 7);
const iterations = option('--iterations', 200_000);

/** The body bench/ingest.ts sends, and one with a full OpenAI usage object and some meta. */
const plain = JSON.stringify({
  tracking_token: 'q8N0aWm3xLk2vB7pR4tY9c',
  event_id: 'chatcmpl-bench-123456',
  model: 'gpt-4o-mini-2024-07-18',
  prompt_tokens: 1234,
  completion_tokens: 321,
  total_tokens: 1555,
});
const rich = JSON.stringify({
  tracking_token: 'q8N0aWm3xLk2vB7pR4tY9c',
  event_id: 'chatcmpl-bench-123456',
  model: 'gpt-4o-mini-2024-07-18',
  usage: {
    prompt_tokens: 1200,
    completion_tokens: 40,
    total_tokens: 1240,
    prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  },
  meta: { feature: 'chat', request: { route: '/api/chat', region: 'eu-west-1' }, attempt: 1 },
  tags: { team: 'search', env: 'prod' },
});

let sink = 0;
function nsPerOp(work: () => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i += 1) work();
  return Number(process.hrtime.bigint() - start) / iterations;
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

for (const [name, body] of [
  ['bench/ingest.ts record', plain],
  ['record with usage and meta', rich],
] as const) {
  const parsed = JSON.parse(body) as { usage?: unknown; meta?: unknown };
  const parse: number[] = [];
  const text: number[] = [];
  const walk: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    parse.push(nsPerOp(() => (sink += (JSON.parse(body) as object) ? 1 : 0)));
    text.push(nsPerOp(() => (sink += jsonTextDeeperThan(body, 64) ? 1 : 0)));
    walk.push(
      nsPerOp(() => (sink += valueDeeperThan(parsed.usage, 32) || valueDeeperThan(parsed.meta, 32) ? 1 : 0)),
    );
  }
  const p = median(parse);
  const t = median(text);
  const w = median(walk);
  console.log(
    `${name} (${body.length} bytes): JSON.parse ${p.toFixed(0)} ns, text depth check ${t.toFixed(0)} ns (${((100 * t) / p).toFixed(0)}% of the parse), meta/usage walk ${w.toFixed(0)} ns`,
  );
}
if (sink < 0) console.log(sink);
