import type { TSchema } from 'typebox';

/**
 * Example request bodies, one per route that takes a body. They are what /docs puts in "Try it
 * out", so each must be a body the route accepts: test/openapi.test.ts validates every one against
 * its schema and sends it to the app. Without them the page offers {"model": "string"}, a 400.
 */
export function withExamples<T extends TSchema>(schema: T, examples: readonly unknown[]): T {
  return { ...schema, examples: [...examples] };
}

const RECORD = {
  tracking_token: 'q8N0rT2vXk9LmP4sWz7yBc',
  event_id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
  model: 'gpt-4o-mini-2024-07-18',
  prompt_tokens: 1200,
  completion_tokens: 350,
  total_tokens: 1550,
  cached_tokens: 1024,
  user: 'user-4711',
  tags: { team: 'search', env: 'prod' },
};

export const EXAMPLES = {
  ingest: [RECORD],
  ingestBatch: [
    {
      records: [
        RECORD,
        {
          tracking_token: 'q8N0rT2vXk9LmP4sWz7yBc',
          event_id: 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452e3a6',
          model: 'gpt-4o',
          timestamp: '2026-11-20T10:00:00Z',
          prompt_tokens: 2000,
          completion_tokens: 800,
          reasoning_tokens: 0,
        },
      ],
    },
  ],
  signIn: [{ key: 'your-api-key', remember: false }],
  createToken: [{ label: 'checkout-service' }],
  setTokenActive: [{ active: false }],
  legacyLog: [{ model: 'gpt-4o-mini', promptTokens: 1200, completionTokens: 350, totalTokens: 1550 }],
  putOverrides: [
    {
      overrides: {
        openai: [
          {
            id: 'ft:gpt-4o-mini:acme',
            match: { starts_with: 'ft:gpt-4o-mini:acme' },
            prices: { input_mtok: 0.3, cache_read_mtok: 0.15, output_mtok: 1.2 },
            note: 'negotiated',
          },
        ],
      },
      note: 'Price our fine-tune',
      actor: 'alice',
    },
  ],
  reprice: [
    {
      model: 'ft:gpt-4o-mini:acme',
      start: '2026-11-01',
      end: '2026-11-30',
      dry_run: true,
      infer_provider: true,
    },
  ],
  undoReprice: [{ actor: 'alice' }],
  createBudget: [
    {
      name: 'Search team, monthly',
      limit_usd: 500,
      window: { kind: 'month', tz: 'Europe/Paris' },
      scope: { model: 'gpt-4o*', tags: { team: 'search' } },
      thresholds: [50, 80, 100],
      forecast_alert: true,
    },
  ],
  patchBudget: [{ limit_usd: 750, thresholds: [80, 100] }],
  createChannel: [{ name: 'Ops webhook', kind: 'webhook', url: 'https://hooks.example.com/cost-guardian' }],
  patchChannel: [{ enabled: false }],
  testChannel: [{}],
  syncReports: [{}],
  otlpTraces: [
    {
      resourceSpans: [
        {
          resource: {
            attributes: [
              { key: 'service.name', value: { stringValue: 'support-bot' } },
              { key: 'cost_guardian.tracking_token', value: { stringValue: 'q8N0xd3Kx0kz3p9vZ7wz1Q' } },
            ],
          },
          scopeSpans: [
            {
              scope: { name: 'opentelemetry.instrumentation.openai' },
              spans: [
                {
                  traceId: '5b8efff798038103d269b633813fc60c',
                  spanId: 'eee19b7ec3c1b174',
                  name: 'chat gpt-4o-mini',
                  kind: 3,
                  startTimeUnixNano: '1764979200000000000',
                  endTimeUnixNano: '1764979201250000000',
                  attributes: [
                    { key: 'gen_ai.system', value: { stringValue: 'openai' } },
                    { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o-mini' } },
                    { key: 'gen_ai.response.model', value: { stringValue: 'gpt-4o-mini-2024-07-18' } },
                    {
                      key: 'gen_ai.response.id',
                      value: { stringValue: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG' },
                    },
                    { key: 'gen_ai.usage.input_tokens', value: { intValue: '1200' } },
                    { key: 'gen_ai.usage.output_tokens', value: { intValue: '300' } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    },
  ],
  mapReportProject: [{ ingest_token_id: 3 }, { ingest_token_id: null }],
  patchAlertSettings: [{ anomaly: { enabled: true, sensitivity: 6 }, unpriced: { enabled: true } }],
} as const;
