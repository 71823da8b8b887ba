import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createTicket, expectProblem } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

// Tampered cursors and stream positions are the client's mistake: a 400 naming the field,
// never a 500 from a query that received an out-of-range number or date (issue 11, defects 11-12).
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

const forge = (key: unknown) => encodeURIComponent(Buffer.from(JSON.stringify(key)).toString('base64url'));
const id = randomUUID();

describe('forged cursors', () => {
  it('a breach-queue cursor with a severity past any integer is a 400 naming query.cursor', async () => {
    for (const v of ['99999999999999999999|2024-01-01T00:00:00.000Z', '-1|2024-01-01T00:00:00.000Z', '3|-271821-04-20T00:00:00.000Z', '3|not-a-date', '3', '1|2024-01-01T00:00:00.000Z|x']) {
      expectProblem(await client(ctx).get(`/v1/sla/breaches?cursor=${forge({ v, id })}`), 400, { field: 'query.cursor' });
    }
    expectProblem(await client(ctx).get(`/v1/sla/breaches?cursor=${forge({ v: 12, id })}`), 400, { field: 'query.cursor' });
  });

  it('an outbox cursor dated -271821-04-20 (a valid JS date, not a Postgres one) is a 400', async () => {
    for (const v of ['-271821-04-20T00:00:00.000Z', '+275760-09-13T00:00:00.000Z', '0000-01-01T00:00:00.000Z', 'Tue, 01 Jan 2030 00:00:00 GMT', 1e21]) {
      expectProblem(await client(ctx).get(`/v1/outbox?cursor=${forge({ v, id })}`), 400, { field: 'query.cursor' });
    }
  });

  it('every paged listing checks its cursor against the shape it issues', async () => {
    const ticket = await createTicket(ctx);
    const lists = ['/v1/tickets', '/v1/teams', '/v1/agents', '/v1/alarms', `/v1/tickets/${ticket.id}/messages`, `/v1/tickets/${ticket.id}/events`, '/v1/sla/breaches', '/v1/outbox'];
    const forged = [
      forge({ v: '-271821-04-20T00:00:00.000Z', id }),
      forge({ v: 1e300, id: '1' }),
      forge({ v: '99999999999999999999', id: '../../etc/passwd' }),
      forge({ v: 'x', id, extra: true }),
      forge([1, 2]),
      forge('x'.repeat(300)),
      '%00%00',
      'not base64 !',
    ];
    for (const list of lists) {
      const first = await client(ctx).get(list);
      expect(first.statusCode, `${list}: ${first.body}`).toBe(200);
      for (const cursor of forged) {
        const res = await client(ctx).get(`${list}?cursor=${cursor}`);
        expect(res.statusCode, `${list} ${cursor}`).toBe(400);
        expectProblem(res, 400);
      }
    }
  });
});

describe('stream positions', () => {
  it('a 400-digit Last-Event-ID is a 400 naming the header, before the stream opens', async () => {
    for (const lastEventId of ['9'.repeat(400), '99999999999999999', '9007199254740993', '-1', '1e3', '']) {
      const res = await ctx.app.inject({ method: 'GET', url: '/v1/sla/stream', headers: { authorization: `Bearer ${ctx.adminToken}`, 'last-event-id': lastEventId } });
      expectProblem(res, 400, { field: 'header.last-event-id' });
    }
  });

  it('the same bounds hold for ?lastEventId', async () => {
    for (const lastEventId of ['9'.repeat(400), '1e20', '100000000000000000000', '-5', '1.5']) {
      expectProblem(await client(ctx).get(`/v1/sla/stream?lastEventId=${lastEventId}`), 400, { field: 'query.lastEventId' });
    }
  });
});
