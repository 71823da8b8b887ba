import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, expectProblem, tokenFor, unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

/** /v1/blocklist (issue 11): supervisors and admins block senders; bad input is a 4xx naming the field. */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { DEFAULT_PHONE_REGION: 'PL' } });
});
afterAll(async () => ctx?.close());

interface EntryJson {
  id: string;
  kind: string;
  value: string;
  reason: string | null;
  blockedCount: number;
  lastBlockedAt: string | null;
  createdAt: string;
}
const post = (body: unknown, token?: string) => client(ctx, token).post('/v1/blocklist', body);

describe('POST /v1/blocklist', () => {
  it('stores each kind normalized, as intake compares senders', async () => {
    const cases: [string, string, string][] = [
      ['email', ' Jan.Kowalski@Example.PL ', 'jan.kowalski@example.pl'],
      ['domain', '@Spam.Example.COM.', 'spam.example.com'],
      ['phone', '601 234 567', '+48601234567'],
      ['facebook', '105320418834911:7066489083426785', '105320418834911:7066489083426785'],
      ['twitter', '1205290247124217856', '1205290247124217856'],
    ];
    for (const [kind, value, stored] of cases) {
      const res = await post({ kind, value });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json<EntryJson>()).toMatchObject({ kind, value: stored, reason: null, blockedCount: 0, lastBlockedAt: null });
    }
  });

  it('answers 409 for an entry that exists, however it is spelled', async () => {
    const address = `${unique('dup')}@example.com`;
    expect((await post({ kind: 'email', value: address, reason: 'threats' })).statusCode).toBe(201);
    expectProblem(await post({ kind: 'email', value: address.toUpperCase() }), 409, { code: 'duplicate' });
  });

  it('answers 400 naming the field for a value that is not of its kind, an unknown kind or extra fields', async () => {
    expectProblem(await post({ kind: 'email', value: 'not an address' }), 400, { field: 'body.value' });
    expectProblem(await post({ kind: 'domain', value: 'com' }), 400, { field: 'body.value' });
    expectProblem(await post({ kind: 'phone', value: '4471' }), 400, { field: 'body.value' });
    expectProblem(await post({ kind: 'facebook', value: 'someone' }), 400, { field: 'body.value' });
    expectProblem(await post({ kind: 'twitter', value: '@handle' }), 400, { field: 'body.value' });
    expectProblem(await post({ kind: 'ip', value: '10.0.0.1' }), 400, { field: 'body.kind' });
    expectProblem(await post({ kind: 'email', value: '' }), 400, { field: 'body.value' });
    expectProblem(await post({ kind: 'email', value: 'a@example.com', extra: 1 }), 400);
    expectProblem(await post({ kind: 'email', value: 'x'.repeat(10_000) }), 400, { field: 'body.value' });
    expectProblem(await post({ kind: 'email', value: 'nul@example.com', reason: 'a\u0000b' }), 400, { field: 'body.reason' });
    expectProblem(await post({ kind: 'email', value: 'nul\u0000@example.com' }), 400, { field: 'body.value' });
  });

  it('is for supervisors and admins only', async () => {
    expectProblem(await post({ kind: 'email', value: `${unique('a')}@example.com` }, await tokenFor(ctx, 'agent')), 403);
    expectProblem(await post({ kind: 'email', value: `${unique('i')}@example.com` }, await tokenFor(ctx, 'integration')), 403);
    expect((await post({ kind: 'email', value: `${unique('s')}@example.com` }, await tokenFor(ctx, 'supervisor'))).statusCode).toBe(201);
    expectProblem(await client(ctx, await tokenFor(ctx, 'agent')).get('/v1/blocklist'), 403);
  });
});

describe('GET /v1/blocklist', () => {
  it('pages newest first with a cursor, and refuses a forged cursor with 400', async () => {
    for (let i = 0; i < 5; i++) expect((await post({ kind: 'email', value: `${unique('page')}@example.com` })).statusCode).toBe(201);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await client(ctx).get(`/v1/blocklist?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      const page = res.json<{ items: EntryJson[]; nextCursor: string | null }>();
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    const all = (await client(ctx).get('/v1/blocklist?limit=200')).json<{ items: EntryJson[] }>().items;
    expect(seen).toEqual(all.map((e) => e.id));
    const created = all.map((e) => e.createdAt);
    expect([...created].sort().reverse()).toEqual(created);
    expectProblem(await client(ctx).get('/v1/blocklist?cursor=bm9wZQ'), 400, { field: 'query.cursor' });
    expectProblem(await client(ctx).get('/v1/blocklist?limit=0'), 400, { field: 'query.limit' });
  });
});

describe('DELETE /v1/blocklist/:id', () => {
  it('removes an entry once; then 404', async () => {
    const created = (await post({ kind: 'email', value: `${unique('del')}@example.com` })).json<EntryJson>();
    expect((await client(ctx).delete(`/v1/blocklist/${created.id}`)).statusCode).toBe(204);
    expectProblem(await client(ctx).delete(`/v1/blocklist/${created.id}`), 404);
    expectProblem(await client(ctx).delete('/v1/blocklist/nope'), 400);
  });
});
