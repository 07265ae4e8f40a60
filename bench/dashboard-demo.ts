import type { Served } from '../test/e2e/harness.js';
import { INGEST_KEY } from '../test/helpers.js';

/**
 * Realistic demo usage for screenshots and the page benchmark: four services over the last 30 days,
 * busier on weekdays and in office hours, a handful of models, and one fine-tune without a price.
 * Deterministic (seeded), so screenshots are comparable between runs.
 */
const SERVICES = [
  { label: 'checkout-service', weight: 5, models: ['gpt-4o-mini', 'gpt-4.1-mini'] },
  { label: 'search-api', weight: 4, models: ['gpt-4.1-nano', 'gpt-4o-mini'] },
  { label: 'support-bot', weight: 3, models: ['gpt-4o', 'gpt-5-mini', 'ft:gpt-4o-mini:acme:support:9xK2'] },
  { label: 'nightly-reports', weight: 1, models: ['gpt-5', 'o3'] },
];

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

export async function seedDemo(server: Served, rows = 3000): Promise<void> {
  const next = random(42);
  const tokens = [];
  for (const service of SERVICES) tokens.push({ ...service, ...(await server.createToken(service.label)) });
  const totalWeight = SERVICES.reduce((sum, s) => sum + s.weight, 0);
  const now = Date.now();
  const records = [];
  for (let i = 0; i < rows; i += 1) {
    const pick = next() * totalWeight;
    let cumulative = 0;
    const token =
      tokens.find((t) => {
        cumulative += t.weight;
        return pick < cumulative;
      }) ?? tokens[0];
    if (!token) throw new Error('no token');
    const model = token.models[Math.floor(next() * token.models.length)] ?? 'gpt-4o-mini';
    // Older days are quieter: spend grows over the month.
    const ageMs = Math.floor(next() ** 1.4 * 30 * 86_400_000);
    const prompt = Math.floor(200 + next() * (model.startsWith('gpt-5') || model === 'o3' ? 12_000 : 3000));
    const completion = Math.floor(50 + next() * 900);
    records.push({
      tracking_token: token.token,
      event_id: `chatcmpl-demo-${i}`,
      model,
      timestamp: new Date(now - ageMs).toISOString(),
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: { cached_tokens: next() < 0.3 ? Math.floor(prompt / 2) : 0 },
      },
      tags: { env: next() < 0.85 ? 'prod' : 'staging', team: token.label.split('-')[0] ?? 'core' },
    });
  }
  for (let i = 0; i < records.length; i += 500) {
    const response = await server.app.inject({
      method: 'POST',
      url: '/ingest/batch',
      headers: { 'x-ingest-key': INGEST_KEY },
      payload: { records: records.slice(i, i + 500) },
    });
    if (response.statusCode !== 200) throw new Error(`seeding failed: ${response.body}`);
  }
}
