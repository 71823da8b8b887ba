import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createTicket, expectProblem } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { WARSAW_WEEKDAYS } from '../../helpers/sla.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

const auth = () => ({ authorization: `Bearer ${ctx.adminToken}` });
const put = (url: string, payload: object, headers: Record<string, string> = {}) => ctx.app.inject({ method: 'PUT', url, payload, headers: { ...auth(), ...headers } });
const del = (url: string, headers: Record<string, string> = {}) => ctx.app.inject({ method: 'DELETE', url, headers: { ...auth(), ...headers } });
const policyBody = (name: string, firstResponse = 60) => ({ name, position: 1000, match: { teamIds: ['00000000-0000-4000-8000-000000000001'] }, targets: { firstResponse } });

describe('If-None-Match on a ticket', () => {
  it('answers 304 without a body while the ETag matches, 200 once the ticket changed', async () => {
    const ticket = await createTicket(ctx);
    const first = await client(ctx).get(`/v1/tickets/${ticket.id}`);
    const etag = String(first.headers.etag);
    const fresh = await client(ctx).get(`/v1/tickets/${ticket.id}`, { 'if-none-match': etag });
    expect(fresh.statusCode).toBe(304);
    expect(fresh.body).toBe('');
    expect(fresh.headers.etag).toBe(etag);
    // A list and a weak tag match too (RFC 9110 §13.1.2 uses the weak comparison).
    expect((await client(ctx).get(`/v1/tickets/${ticket.id}`, { 'if-none-match': `"nope", W/${etag}` })).statusCode).toBe(304);
    expect((await client(ctx).get(`/v1/tickets/${ticket.id}`, { 'if-none-match': '"999"' })).statusCode).toBe(200);
    const changed = await client(ctx).patch(`/v1/tickets/${ticket.id}`, { priority: 'high' }, { 'if-match': etag });
    expect(changed.statusCode, changed.body).toBe(200);
    const stale = await client(ctx).get(`/v1/tickets/${ticket.id}`, { 'if-none-match': etag });
    expect(stale.statusCode).toBe(200);
    expect(stale.json()).toMatchObject({ id: ticket.id, priority: 'high' });
    expect(stale.headers.etag).not.toBe(etag);
  });

  it('still answers 404 for an unknown ticket and 401 without a key', async () => {
    expectProblem(await client(ctx).get('/v1/tickets/00000000-0000-4000-8000-000000000000', { 'if-none-match': '*' }), 404);
    expect((await ctx.app.inject({ method: 'GET', url: '/v1/tickets/00000000-0000-4000-8000-000000000000', headers: { 'if-none-match': '"1"' } })).statusCode).toBe(401);
  });
});

describe('ETag and If-Match on SLA policies', () => {
  it('carries the ETag on create, read and replace; refuses a stale If-Match with 412 and changes nothing', async () => {
    const created = await client(ctx).post('/v1/sla/policies', policyBody('etag-policy'));
    expect(created.statusCode, created.body).toBe(201);
    const policy = created.json<{ id: string }>();
    const etag = String(created.headers.etag);
    expect(etag).toMatch(/^"[\w-]+"$/);
    const read = await client(ctx).get(`/v1/sla/policies/${policy.id}`);
    expect(read.headers.etag).toBe(etag);

    const replaced = await put(`/v1/sla/policies/${policy.id}`, policyBody('etag-policy', 120), { 'if-match': etag });
    expect(replaced.statusCode, replaced.body).toBe(200);
    const newEtag = String(replaced.headers.etag);
    expect(newEtag).not.toBe(etag);
    expect((await client(ctx).get(`/v1/sla/policies/${policy.id}`)).headers.etag).toBe(newEtag);

    const stale = await put(`/v1/sla/policies/${policy.id}`, policyBody('etag-policy', 999), { 'if-match': etag });
    expect(expectProblem(stale, 412, { field: 'header.if-match' }).currentETag).toBe(newEtag);
    expect((await client(ctx).get(`/v1/sla/policies/${policy.id}`)).json()).toMatchObject({ targets: { firstResponse: 120 } });

    expectProblem(await del(`/v1/sla/policies/${policy.id}`, { 'if-match': etag }), 412);
    expect((await client(ctx).get(`/v1/sla/policies/${policy.id}`)).statusCode).toBe(200);
    expect((await del(`/v1/sla/policies/${policy.id}`, { 'if-match': newEtag })).statusCode).toBe(204);
    expectProblem(await del(`/v1/sla/policies/${policy.id}`, { 'if-match': newEtag }), 404);
  });

  it('without If-Match a change applies as before (last writer wins)', async () => {
    const created = (await client(ctx).post('/v1/sla/policies', policyBody('no-precondition'))).json<{ id: string }>();
    expect((await put(`/v1/sla/policies/${created.id}`, policyBody('no-precondition', 90))).statusCode).toBe(200);
    expect((await del(`/v1/sla/policies/${created.id}`)).statusCode).toBe(204);
  });
});

describe('ETag and If-Match on calendars', () => {
  it('carries the ETag; a stale If-Match on replace or delete is a 412 problem and nothing is written', async () => {
    const created = await client(ctx).post('/v1/calendars', { name: 'etag-calendar', definition: WARSAW_WEEKDAYS });
    expect(created.statusCode, created.body).toBe(201);
    const calendar = created.json<{ id: string }>();
    const etag = String(created.headers.etag);
    expect((await client(ctx).get(`/v1/calendars/${calendar.id}`)).headers.etag).toBe(etag);

    const replaced = await put(`/v1/calendars/${calendar.id}`, { name: 'etag-calendar-2', definition: WARSAW_WEEKDAYS }, { 'if-match': etag });
    expect(replaced.statusCode, replaced.body).toBe(200);
    const newEtag = String(replaced.headers.etag);
    expect(newEtag).not.toBe(etag);

    expectProblem(await put(`/v1/calendars/${calendar.id}`, { name: 'lost update', definition: WARSAW_WEEKDAYS }, { 'if-match': etag }), 412, { field: 'header.if-match' });
    expect((await client(ctx).get(`/v1/calendars/${calendar.id}`)).json()).toMatchObject({ name: 'etag-calendar-2' });
    expectProblem(await del(`/v1/calendars/${calendar.id}`, { 'if-match': etag }), 412);
    expect((await del(`/v1/calendars/${calendar.id}`, { 'if-match': newEtag })).statusCode).toBe(204);
  });
});

describe('the OpenAPI document', () => {
  it('documents 304 with ETag on reading a ticket, and ETag, If-Match and 412 on policies and calendars', () => {
    const doc = ctx.app.swagger() as unknown as { paths: Record<string, Record<string, { parameters?: { name: string }[]; responses: Record<string, { headers?: Record<string, unknown>; content?: unknown }> }>> };
    const read = doc.paths['/v1/tickets/{id}']!.get!;
    expect(read.responses['304']?.headers).toHaveProperty('ETag');
    expect(read.responses['304']?.content).toBeUndefined();
    expect(read.parameters?.map((p) => p.name)).toContain('if-none-match');
    for (const path of ['/v1/sla/policies/{id}', '/v1/calendars/{id}']) {
      expect(doc.paths[path]!.get!.responses['200']?.headers).toHaveProperty('ETag');
      expect(doc.paths[path]!.put!.responses['200']?.headers).toHaveProperty('ETag');
      expect(doc.paths[path]!.put!.responses).toHaveProperty('412');
      expect(doc.paths[path]!.delete!.responses).toHaveProperty('412');
      expect(doc.paths[path]!.put!.parameters?.map((p) => p.name)).toContain('if-match');
    }
  });
});
