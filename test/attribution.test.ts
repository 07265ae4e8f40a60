import { afterEach, beforeEach, expect, test } from 'vitest';
import { createTestApp, INGEST_KEY, type TestContext } from './helpers.js';

let ctx: TestContext;
let token: string;

beforeEach(async () => {
  ctx = await createTestApp();
  token = (await ctx.createToken('support-bot')).token;
});
afterEach(async () => {
  await ctx.close();
});

const call = (extra: Record<string, unknown>) => ({
  tracking_token: token,
  model: 'gpt-4o-mini',
  prompt_tokens: 1000,
  completion_tokens: 500,
  ...extra,
});

test('a record with tags and a user shows them in /data, the CSV and the JSONL export', async () => {
  const created = await ctx.ingest(
    call({ user: 'customer-42', tags: { team: 'support', 'feature.name': 'reply, "draft"' } }),
  );
  expect(created.statusCode).toBe(201);
  const data = (await ctx.admin('GET', '/data')).json();
  expect(data.data[0]).toMatchObject({
    user: 'customer-42',
    tags: { 'feature.name': 'reply, "draft"', team: 'support' },
  });

  const csv = (await ctx.admin('GET', '/data?format=csv')).body.split('\r\n');
  expect(csv[0]?.endsWith(',user,tags')).toBe(true);
  expect(
    csv[1]?.endsWith(',customer-42,"{""feature.name"":""reply, \\""draft\\"""",""team"":""support""}"'),
  ).toBe(true);

  const jsonl = await ctx.admin('GET', '/data?format=jsonl');
  expect(jsonl.headers['content-type']).toContain('application/x-ndjson');
  expect(jsonl.headers['content-disposition']).toMatch(/\.jsonl"$/);
  const lines = jsonl.body.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0] ?? '')).toEqual(data.data[0]);
});

test('records without tags or user store null for both', async () => {
  await ctx.ingest(call({ tags: {}, user: '  ' }));
  expect((await ctx.admin('GET', '/data')).json().data[0]).toMatchObject({ user: null, tags: null });
});

test.each([
  [
    'more than ten tags',
    { tags: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v'])) },
    /tags/,
  ],
  ['a tag key with a space', { tags: { 'my team': 'a' } }, /tags key "my team"/],
  ['a tag key longer than 64 characters', { tags: { ['k'.repeat(65)]: 'a' } }, /tags key/],
  ['a non-string tag value', { tags: { team: 7 } }, /tags\.team/],
  ['an empty tag value', { tags: { team: '' } }, /tags\.team/],
  ['a tag value over 200 characters', { tags: { team: 'x'.repeat(201) } }, /tags\.team/],
  ['tags that are not an object', { tags: ['team'] }, /tags/],
  ['a __proto__ tag key', { tags: JSON.parse('{"__proto__":"x"}') }, /not valid JSON|reserved/],
  ['a user over 256 characters', { user: 'u'.repeat(257) }, /user/],
  ['a user that is not a string', { user: 42 }, /user/],
])('a record with %s is refused with 400', async (_name, extra, message) => {
  const response = await ctx.ingest(call(extra));
  expect(response.statusCode).toBe(400);
  expect(response.json()).toMatchObject({ status: 'error', code: 'invalid_request' });
  expect(response.json().message).toMatch(message);
});

test('a batch record with bad tags is rejected alone', async () => {
  const response = await ctx.app.inject({
    method: 'POST',
    url: '/ingest/batch',
    headers: { 'x-ingest-key': INGEST_KEY },
    payload: { records: [call({ tags: { team: 'a' } }), call({ tags: { 'bad key': 'a' } })] },
  });
  expect(response.json()).toMatchObject({ created: 1, rejected: 1 });
  expect(response.json().results[1]).toMatchObject({ status: 'rejected', code: 'validation_error' });
});

test('/data filters by provider, user and one or several tags', async () => {
  await ctx.ingest(call({ user: 'alice', tags: { team: 'search', env: 'prod' } }));
  await ctx.ingest(call({ user: 'bob', tags: { team: 'search', env: 'staging' } }));
  await ctx.ingest(call({ provider: 'anthropic', model: 'claude-sonnet-4', tags: { team: 'ads' } }));
  const ids = async (query: string) =>
    (await ctx.admin('GET', `/data?${query}`)).json().data.map((row: { id: number }) => row.id);
  expect(await ids('tag=team:search')).toEqual([2, 1]);
  expect(await ids('tag=team:search&tag=env:prod')).toEqual([1]);
  expect(await ids('user=bob')).toEqual([2]);
  expect(await ids('provider=anthropic')).toEqual([3]);
  expect(await ids('provider=anthropic&tag=team:search')).toEqual([]);
  const csv = await ctx.admin('GET', '/data?format=csv&tag=team:ads');
  expect(csv.body.trimEnd().split('\r\n')).toHaveLength(2);
});

test.each(['tag=team', 'tag=:x', 'tag=team:', 'tag=bad%20key:x'])('/data?%s is a 400', async (query) => {
  const response = await ctx.admin('GET', `/data?${query}`);
  expect(response.statusCode).toBe(400);
  expect(response.json().message).toMatch(/tag must look like key:value/);
});
