import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ExportFormat } from '../src/lib/usage-export.js';
import type { NewUsage, UsageFilter } from '../src/storage/store.js';
import { ADMIN_KEY, createTestApp, type TestContext } from './helpers.js';
import { usage } from './usage-fixture.js';

let ctx: TestContext;
let tokenId: number;
let token: string;

beforeAll(async () => {
  ctx = await createTestApp();
  ({ id: tokenId, token } = await ctx.createToken('main'));
});
afterAll(async () => {
  await ctx.close();
});

const get = (url: string) => ctx.admin('GET', url);

describe('GET /data filters', () => {
  beforeAll(async () => {
    const post = (model: string, timestamp: string, extra: Record<string, unknown> = {}) =>
      ctx.ingest({
        tracking_token: token,
        model,
        timestamp,
        prompt_tokens: 10,
        completion_tokens: 5,
        ...extra,
      });
    await post('gpt-4o-mini', '2026-10-31T23:59:59.999Z');
    await post('gpt-4o-mini', '2026-11-01T00:00:00+00:00');
    await post('gpt-4o', '2026-11-01T00:00:00.500Z');
    await post('gpt-4o', '2026-11-15T12:00:00Z');
    await post('gpt-4o-mini', '2026-11-27T19:00:00-05:00'); // 2026-11-28T00:00Z: the next day in UTC
    const other = await ctx.createToken('other');
    await ctx.ingest({ tracking_token: other.token, model: 'gpt-4o', timestamp: '2026-11-20T00:00:00Z' });
  });

  const timestamps = async (query: string) =>
    (await get(`/data?${query}`)).json().data.map((r: { timestamp: string }) => r.timestamp);

  test('a date-only range covers whole UTC days, comparing instants, not strings', async () => {
    expect(await timestamps('start=2026-11-01&end=2026-11-27')).toEqual([
      '2026-11-20T00:00:00Z',
      '2026-11-15T12:00:00Z',
      '2026-11-01T00:00:00.500Z',
      '2026-11-01T00:00:00Z',
    ]);
  });

  test('ISO bounds with offsets are compared as instants', async () => {
    expect(await timestamps(`start=${encodeURIComponent('2026-11-27T18:00:00-05:00')}`)).toEqual([
      '2026-11-28T00:00:00Z',
    ]);
  });

  test('model and ingest_token_id filter exactly', async () => {
    expect(await timestamps(`model=gpt-4o&ingest_token_id=${tokenId}`)).toEqual([
      '2026-11-15T12:00:00Z',
      '2026-11-01T00:00:00.500Z',
    ]);
  });

  test('rows are newest first and carry the original camelCase fields plus attribution', async () => {
    const [row] = (await get(`/data?model=gpt-4o&ingest_token_id=${tokenId}`)).json().data;
    expect(row).toMatchObject({
      timestamp: '2026-11-15T12:00:00Z',
      model: 'gpt-4o',
      promptTokens: 10,
      completionTokens: 5,
      totalTokens: 15,
      estimatedCostUSD: 0.000075,
      ingestTokenId: tokenId,
      tokenLabel: 'main',
      source: 'ingest',
    });
  });

  test('bad filters are 400s with the original messages', async () => {
    const cases: [string, string][] = [
      ['start=yesterday', 'Invalid start date format: yesterday. Use YYYY-MM-DD or ISO-8601.'],
      ['end=2026-13-01', 'Invalid end date format: 2026-13-01. Use YYYY-MM-DD or ISO-8601.'],
      ['start=2026-11-30&end=2026-11-01', 'Start date cannot be after end date.'],
      ['ingest_token_id=abc', 'ingest_token_id must be integer'],
      ['ingest_token_id=0', 'ingest_token_id must be >= 1'],
      ['limit=0', 'limit must be >= 1'],
      ['limit=10001', 'limit must be <= 10000'],
      ['format=xml', 'format must be one of: json, csv, jsonl'],
      ['cursor=not-a-cursor', 'cursor is not valid; pass next_cursor from the previous page'],
    ];
    for (const [query, message] of cases) {
      const response = await get(`/data?${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(response.json(), query).toMatchObject({ status: 'error', code: 'invalid_request', message });
    }
  });

  test('/data needs the admin key', async () => {
    expect((await ctx.app.inject({ method: 'GET', url: '/data' })).statusCode).toBe(401);
  });
});

describe('GET /data pagination', () => {
  let pager: TestContext;
  beforeAll(async () => {
    pager = await createTestApp();
    const { id } = await pager.createToken('p');
    // 2,503 rows, many sharing a timestamp so that the cursor must break ties by id.
    const rows: NewUsage[] = Array.from({ length: 2503 }, (_, i) =>
      usage({ ingestTokenId: id, ts: Date.UTC(2026, 0, 1) + Math.floor(i / 7) * 1000 }),
    );
    await pager.store.insertUsage(rows);
  });
  afterAll(async () => {
    await pager.close();
  });

  test('walking next_cursor visits every row once, newest first, and the last page says null', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/data?limit=1000${cursor ? `&cursor=${cursor}` : ''}`;
      const body = (await pager.admin('GET', url)).json();
      seen.push(...body.data.map((r: { id: number }) => r.id));
      cursor = body.next_cursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(2503);
    expect(new Set(seen).size).toBe(2503);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
  });

  test('without limit a page holds 1,000 rows and says there is more (never a silent cap)', async () => {
    const body = (await pager.admin('GET', '/data')).json();
    expect(body.data).toHaveLength(1000);
    expect(typeof body.next_cursor).toBe('string');
  });

  test('a page that ends exactly at the last row says next_cursor null', async () => {
    const body = (await pager.admin('GET', '/data?limit=10000')).json();
    expect(body.data).toHaveLength(2503);
    expect(body.next_cursor).toBeNull();
  });
});

describe('GET /data?format=csv', () => {
  test('has the original header first, formula-safe text, 0 as 0 and exact decimal costs', async () => {
    const csvCtx = await createTestApp();
    try {
      const { token: t } = await csvCtx.createToken('=HYPERLINK("x")');
      await csvCtx.ingest({
        tracking_token: t,
        model: '=cmd|calc',
        prompt_tokens: 0,
        completion_tokens: 0,
        event_id: '@evt,"q"',
      });
      await csvCtx.ingest({
        tracking_token: t,
        model: 'gpt-4o-mini',
        prompt_tokens: 1000,
        completion_tokens: 500,
        timestamp: '2026-11-01T00:00:00Z',
      });
      const response = await csvCtx.admin('GET', '/data?format=csv');
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(response.headers['content-disposition']).toMatch(
        /^attachment; filename="cost-guardian-2026-11-28-120000\.csv"$/,
      );
      const lines = response.body.split('\r\n');
      expect(lines[0]).toBe(
        '\uFEFFid,timestamp,model,promptTokens,completionTokens,totalTokens,estimatedCostUSD,provider,ingestTokenId,tokenLabel,eventId,source,cachedTokens,cacheWriteTokens,reasoningTokens,inputAudioTokens,outputAudioTokens,serviceTier,batch,pricingStatus,clientCostUSD,user,tags',
      );
      expect(lines[1]).toBe(
        `1,2026-11-28T12:00:00Z,'=cmd|calc,0,0,0,,openai,1,"'=HYPERLINK(""x"")","'@evt,""q""",ingest,0,0,0,0,0,,false,unpriced,,,`,
      );
      expect(lines[2]).toBe(
        `2,2026-11-01T00:00:00Z,gpt-4o-mini,1000,500,1500,0.00045,openai,1,"'=HYPERLINK(""x"")",,ingest,0,0,0,0,0,,false,priced,,,`,
      );
      expect(lines[3]).toBe('');
    } finally {
      await csvCtx.close();
    }
  });

  test('streams 100,000 rows without buffering them: the export is pulled as the client reads', async () => {
    const big = await createTestApp();
    try {
      const { id } = await big.createToken('bulk');
      for (let start = 0; start < 100_000; start += 10_000) {
        await big.store.insertUsage(
          Array.from({ length: 10_000 }, (_, i) =>
            usage({ ingestTokenId: id, ts: Date.UTC(2026, 0, 1) + start + i, model: 'gpt-4o-mini' }),
          ),
        );
      }
      // Count the chunks the server pulls from the store while the client is not reading.
      let chunksPulled = 0;
      const exportUsage = big.store.exportUsage.bind(big.store);
      big.store.exportUsage = (filter: UsageFilter, format: ExportFormat) => {
        const source = exportUsage(filter, format);
        return (async function* (): AsyncGenerator<string> {
          for await (const chunk of source) {
            chunksPulled += 1;
            yield chunk;
          }
        })();
      };
      const address = await big.app.listen({ port: 0, host: '127.0.0.1' });
      const { lines, pulledWhilePaused } = await new Promise<{ lines: number; pulledWhilePaused: number }>(
        (resolve, reject) => {
          const req = httpRequest(
            `${address}/data?format=csv`,
            { headers: { 'x-api-key': ADMIN_KEY } },
            (res) => {
              let text = '';
              let paused = false;
              let pulledWhilePaused = 0;
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => {
                text += chunk;
                // Pause once real rows arrive, wait until the server stops pulling (it is blocked by
                // backpressure), note how far it got, then read the rest.
                if (!paused && chunksPulled > 0) {
                  paused = true;
                  res.pause();
                  let last = -1;
                  const settle = setInterval(() => {
                    if (chunksPulled === last) {
                      clearInterval(settle);
                      pulledWhilePaused = chunksPulled;
                      res.resume();
                    }
                    last = chunksPulled;
                  }, 250);
                }
              });
              res.on('end', () => resolve({ lines: text.split('\r\n').length - 2, pulledWhilePaused }));
              res.on('error', reject);
            },
          );
          req.on('error', reject);
          req.end();
        },
      );
      expect(lines).toBe(100_000);
      // 100,000 rows are 200 chunks of 500 (the preamble travels with the first); a paused client
      // holds the export to what fits in the socket's buffers, well under half of it.
      expect(pulledWhilePaused).toBeGreaterThan(0);
      expect(pulledWhilePaused).toBeLessThan(100);
      expect(chunksPulled).toBe(200);
    } finally {
      await big.close();
    }
  });

  test('format=jsonl streams one /data row per line', async () => {
    const jsonl = await createTestApp();
    try {
      const { token: t } = await jsonl.createToken('j');
      await jsonl.ingest({
        tracking_token: t,
        model: '<b>gpt</b>',
        prompt_tokens: 1000,
        completion_tokens: 500,
      });
      await jsonl.ingest({ tracking_token: t, model: 'gpt-4o-mini', prompt_tokens: 0 });
      const response = await jsonl.admin('GET', '/data?format=jsonl');
      expect(response.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
      const lines = response.body.split('\n');
      expect(lines).toHaveLength(3);
      expect(JSON.parse(lines[1] ?? '')).toMatchObject({
        id: 1,
        model: '<b>gpt</b>',
        estimatedCostUSD: null,
        tokenLabel: 'j',
      });
      expect(JSON.parse(lines[0] ?? '')).toEqual((await jsonl.admin('GET', '/data')).json().data[0]);
    } finally {
      await jsonl.close();
    }
  });
});
