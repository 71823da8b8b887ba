import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryJobId } from '../../../src/modules/delivery/delivery.jobs.js';
import { client, expectProblem, unique } from '../../helpers/api.js';
import type { TestContext } from '../../helpers/context.js';
import { deliveryContext, deliveryEvents, GRAPH_500, graphResponder, messageRow, outboxOf, postReply, settled, startProviderApi, until, type ProviderApi } from '../../helpers/delivery.js';
import { startSecondProcess, wipeRedisPrefix } from '../../helpers/sla.js';
import { facebookPayload, messengerEvent, onlyTicket, postFacebook, postTwitter, twitterDm, webhookResult } from '../../helpers/webhooks.js';

/**
 * Retries, dead replies and replaying them (issue 5), against a local Graph API server that
 * fails on command. DELIVERY_MAX_ATTEMPTS is 3 and the backoff 50 ms (see deliveryContext).
 */
let ctx: TestContext;
let graph: ProviderApi;
beforeAll(async () => {
  graph = await startProviderApi(graphResponder);
  ctx = await deliveryContext({ graph });
});
afterAll(async () => {
  await ctx?.close();
  await graph?.close();
});

interface OutboxJson {
  id: string;
  messageId: string;
  ticketId: string;
  channel: string;
  state: string;
  attempts: number;
  lastError: string | null;
  providerMessageId: string | null;
  sentAt: string | null;
}

let nextPsid = 7_066_489_083_600_000;
async function messengerTicket(text = 'Where is my order?') {
  const psid = String(++nextPsid);
  const ticket = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid, text, timestamp: Date.now() - 60_000 }))), { created: 1 }));
  return { ...ticket, psid };
}
const requestsFor = (outboxId: string) => graph.requests.filter((r) => (r.json?.message as { metadata?: string } | undefined)?.metadata === `outbox:${outboxId}`);

describe('retries', () => {
  it('a provider that fails twice and then succeeds is sent once, on the third attempt', async () => {
    const ticket = await messengerTicket();
    graph.faults.failNext(2, GRAPH_500);
    const replyId = await postReply(ctx, ticket.ticketId, 'Your order ships tomorrow.');
    const row = await settled(ctx, replyId);
    expect(row).toMatchObject({ state: 'sent', attempts: 3, last_error: null });
    expect(requestsFor(row.id).map((r) => r.status)).toEqual([500, 500, 200]);
    expect(requestsFor(row.id).filter((r) => r.accepted)).toHaveLength(1);
    expect(await messageRow(ctx, replyId)).toMatchObject({ delivery_state: 'sent', delivery_attempts: 3, delivery_error: null, provider_message_id: row.provider_message_id });
    const conversation = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}/messages`)).json<{ items: { id: string; deliveryState: string; deliveryAttempts: number; sentAt: string | null }[] }>();
    expect(conversation.items.find((m) => m.id === replyId)).toMatchObject({ deliveryState: 'sent', deliveryAttempts: 3, sentAt: expect.any(String) });
    const events = await deliveryEvents(ctx, ticket.ticketId);
    expect(events.map((e) => e.type)).toEqual(['delivery_failed', 'delivery_failed', 'delivered']);
    expect(events.map((e) => e.data.attempt)).toEqual([1, 2, undefined]);
    expect(String(events[0]!.data.error)).toMatch(/Facebook answered 500/);
  });

  it('a provider that always fails ends dead; the reply is listed, replayed once, and not replayed again', async () => {
    const ticket = await messengerTicket();
    graph.faults.failAlways(GRAPH_500);
    let replyId: string;
    let row;
    try {
      replyId = await postReply(ctx, ticket.ticketId, 'We are looking into it.');
      row = await settled(ctx, replyId);
    } finally {
      graph.faults.succeed();
    }
    expect(row).toMatchObject({ state: 'dead', attempts: 3 });
    expect(row.last_error).toMatch(/Facebook answered 500/);
    expect(requestsFor(row.id).map((r) => r.status)).toEqual([500, 500, 500]);
    expect(await messageRow(ctx, replyId)).toMatchObject({ delivery_state: 'dead', delivery_attempts: 3 });
    expect((await deliveryEvents(ctx, ticket.ticketId)).map((e) => e.type)).toEqual(['delivery_failed', 'delivery_failed', 'delivery_dead']);

    // Operations see it: in the dead list, in the default (failed + dead) list, by ticket.
    for (const url of ['/v1/outbox?state=dead', '/v1/outbox', `/v1/outbox?state=dead&ticketId=${ticket.ticketId}`, '/v1/outbox?state=failed,dead']) {
      const list = await client(ctx).get(url);
      expect(list.statusCode, list.body).toBe(200);
      expect(list.json<{ items: OutboxJson[] }>().items.find((i) => i.id === row.id), url).toMatchObject({
        messageId: replyId,
        ticketId: ticket.ticketId,
        channel: 'facebook',
        state: 'dead',
        attempts: 3,
        lastError: row.last_error,
        providerMessageId: null,
        sentAt: null,
      });
    }
    const sentList = await client(ctx).get(`/v1/outbox?state=sent&ticketId=${ticket.ticketId}`);
    expect(sentList.json<{ items: OutboxJson[] }>().items).toEqual([]);

    // The provider is back; the agent replays the reply.
    const retry = await client(ctx).post(`/v1/outbox/${row.id}/retry`);
    expect(retry.statusCode, retry.body).toBe(202);
    expect(retry.json<OutboxJson>()).toMatchObject({ id: row.id, state: 'queued', attempts: 0, lastError: null });
    expect(retry.json()).not.toHaveProperty('payload');
    const replayed = await settled(ctx, replyId);
    expect(replayed).toMatchObject({ state: 'sent', attempts: 1, generation: 2 });
    expect(requestsFor(row.id).map((r) => r.status)).toEqual([500, 500, 500, 200]);
    expect(await messageRow(ctx, replyId)).toMatchObject({ delivery_state: 'sent', delivery_error: null, provider_message_id: replayed.provider_message_id });
    expect((await deliveryEvents(ctx, ticket.ticketId)).map((e) => e.type)).toEqual(['delivery_failed', 'delivery_failed', 'delivery_dead', 'delivered']);
    const listed = await client(ctx).get(`/v1/outbox?state=sent&ticketId=${ticket.ticketId}`);
    expect(listed.json<{ items: OutboxJson[] }>().items).toEqual([expect.objectContaining({ id: row.id, state: 'sent', sentAt: expect.any(String) })]);

    // A sent reply is not sent again.
    expectProblem(await client(ctx).post(`/v1/outbox/${row.id}/retry`), 409, { code: 'not-retryable' });
    expect(requestsFor(row.id)).toHaveLength(4);
    expect((await outboxOf(ctx, replyId)).state).toBe('sent');
  });

  it('a reply with nowhere to go is dead at once and cannot be replayed', async () => {
    // An agent-opened X ticket for a customer we only know by e-mail: no X identity to answer.
    const res = await client(ctx).post('/v1/tickets', { channel: 'twitter', customer: { email: `${unique('c')}@example.com` }, subject: 'Saw your tweet', body: 'Customer tweeted at us' });
    expect(res.statusCode, res.body).toBe(201);
    const ticketId = res.json<{ id: string }>().id;
    const replyId = await postReply(ctx, ticketId, 'Hello');
    const row = await outboxOf(ctx, replyId);
    expect(row).toMatchObject({ state: 'dead', attempts: 0, payload: null, last_error: 'The customer has no twitter identity to answer on' });
    expect(await messageRow(ctx, replyId)).toMatchObject({ delivery_state: 'dead', delivery_error: row.last_error });
    const list = await client(ctx).get(`/v1/outbox?state=dead&ticketId=${ticketId}`);
    expect(list.json<{ items: OutboxJson[] }>().items.map((i) => i.id)).toEqual([row.id]);
    const problem = expectProblem(await client(ctx).post(`/v1/outbox/${row.id}/retry`), 409, { code: 'not-retryable' });
    expect(problem.detail).toMatch(/no address/);
  });

  it('a channel without credentials ends dead after one attempt, naming the missing sender', async () => {
    // X intake is configured (consumer secret) but no X bearer token: nothing can send.
    const inbound = onlyTicket(webhookResult(await postTwitter(ctx, twitterDm({ senderId: '55512345', text: 'Hi there' })), { created: 1 }));
    const replyId = await postReply(ctx, inbound.ticketId, 'Hello!');
    const row = await settled(ctx, replyId);
    expect(row).toMatchObject({ state: 'dead', attempts: 1, last_error: 'No twitter sender is configured' });
    expect(await deliveryEvents(ctx, inbound.ticketId)).toEqual([{ type: 'delivery_dead', data: expect.objectContaining({ reason: 'not-configured' }) }]);
  });
});

describe('outbox API validation', () => {
  it('answers 400 naming query.state for an unknown state (the item, as for every comma list)', async () => {
    const fields = async (url: string) => expectProblem(await client(ctx).get(url), 400).errors!.map((e) => e.field);
    expect(await fields('/v1/outbox?state=bogus')).toEqual(['query.state.0']);
    expect(await fields('/v1/outbox?state=dead,bogus')).toEqual(['query.state.1']);
    expect((await fields('/v1/outbox?state=')).every((f) => f.startsWith('query.state'))).toBe(true);
    expectProblem(await client(ctx).get('/v1/outbox?ticketId=nope'), 400, { field: 'query.ticketId' });
  });

  it('answers 404 to a retry of an unknown id and 400 to one that is not a uuid', async () => {
    expectProblem(await client(ctx).post('/v1/outbox/3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b/retry'), 404);
    expectProblem(await client(ctx).post('/v1/outbox/not-a-uuid/retry'), 400, { field: 'path.id' });
  });

  it('pages the list with a cursor', async () => {
    const first = await client(ctx).get('/v1/outbox?state=queued,sent,failed,dead&limit=1');
    expect(first.statusCode, first.body).toBe(200);
    const page = first.json<{ items: OutboxJson[]; nextCursor: string | null }>();
    expect(page.items).toHaveLength(1);
    expect(page.nextCursor).toEqual(expect.any(String));
    const next = await client(ctx).get(`/v1/outbox?state=queued,sent,failed,dead&limit=1&cursor=${encodeURIComponent(page.nextCursor!)}`);
    expect(next.statusCode, next.body).toBe(200);
    expect(next.json<{ items: OutboxJson[] }>().items[0]!.id).not.toBe(page.items[0]!.id);
    expectProblem(await client(ctx).get('/v1/outbox?cursor=garbage'), 400, { field: 'query.cursor' });
  });
});

describe('one reply, two deliveries at once', () => {
  /*
   * Two deliveries of one reply racing each other: the outbox row must make the second one a
   * no-op while the first is still talking to the provider. The provider holds its answers
   * (faults.hold) so the first send is reliably in flight when the second job arrives. A
   * context of its own: a backoff long enough for a manual retry to land before the automatic one
   * (attempt 2 comes 1.5-3 s after attempt 1, jittered), even on a loaded machine.
   */
  let slow: TestContext;
  let slowGraph: ProviderApi;
  beforeAll(async () => {
    slowGraph = await startProviderApi(graphResponder);
    slow = await deliveryContext({ graph: slowGraph, env: { DELIVERY_BACKOFF_MS: '3000' } });
  });
  afterAll(async () => {
    await slow?.close();
    await slowGraph?.close();
  });
  async function slowMessengerTicket() {
    const psid = String(++nextPsid);
    return onlyTicket(webhookResult(await postFacebook(slow, facebookPayload(messengerEvent({ psid, text: 'Help, my order is wrong', timestamp: Date.now() - 60_000 }))), { created: 1 }));
  }
  const slowRequestsFor = (outboxId: string) => slowGraph.requests.filter((r) => (r.json?.message as { metadata?: string } | undefined)?.metadata === `outbox:${outboxId}`);
  const jobExists = async (jobId: string) => (await slow.deps.queues.delivery.queue.getJob(jobId)) !== undefined;

  it('a manual retry of a failed reply while its automatic retry is pending sends it once', async () => {
    const ticket = await slowMessengerTicket();
    slowGraph.faults.failNext(1, GRAPH_500);
    const replyId = await postReply(slow, ticket.ticketId, 'Sorry, we will fix the order.');
    const failed = await settled(slow, replyId, ['failed']);
    // Attempt 1 failed; BullMQ holds attempt 2 for 1.5-3 s. The agent replays it now.
    slowGraph.faults.hold();
    try {
      const retry = await client(slow).post(`/v1/outbox/${failed.id}/retry`);
      expect(retry.statusCode, retry.body).toBe(202);
      await until(() => (slowRequestsFor(failed.id).length >= 2 ? true : undefined), { what: 'the replayed send in flight' });
      // The automatic retry comes due while the replay is in flight: it either finds the row
      // busy and finishes without sending, or (the race) sends a second copy.
      const automatic = deliveryJobId(failed.id, 1);
      await until(async () => (!(await jobExists(automatic)) || slowRequestsFor(failed.id).length >= 3 ? true : undefined), { timeoutMs: 10_000, what: 'the automatic retry' });
    } finally {
      slowGraph.faults.release();
    }
    const row = await settled(slow, replyId);
    expect(row.state).toBe('sent');
    expect(slowRequestsFor(failed.id).filter((r) => r.accepted)).toHaveLength(1);
  });

  it('Redis wiped during a send, and the reconciler of another replica 30 s later, still send it once', async () => {
    const ticket = await slowMessengerTicket();
    slowGraph.faults.hold();
    let replyId = '';
    let outboxId = '';
    const other = await startSecondProcess(slow, { workers: false, clock: { now: () => new Date(Date.now() + 31_000) } });
    try {
      replyId = await postReply(slow, ticket.ticketId, 'Your replacement ships today.');
      outboxId = (await outboxOf(slow, replyId)).id;
      await until(() => (slowRequestsFor(outboxId).length >= 1 ? true : undefined), { what: 'the send in flight' });
      // Redis loses everything mid-send; the row still says queued and its job is gone.
      await wipeRedisPrefix(slow.config.REDIS_URL, slow.config.QUEUE_PREFIX);
      // 30 s on (the send still hanging), a reconciler re-enqueues the "stuck" row.
      expect(await other.deps.delivery.reconcile()).toBe(1);
      const requeued = deliveryJobId(outboxId, 1);
      await until(async () => (!(await jobExists(requeued)) || slowRequestsFor(outboxId).length >= 2 ? true : undefined), { timeoutMs: 5_000, what: 'the re-enqueued job' });
    } finally {
      slowGraph.faults.release();
      await other.close();
    }
    expect((await settled(slow, replyId)).state).toBe('sent');
    expect(slowRequestsFor(outboxId).filter((r) => r.accepted)).toHaveLength(1);
  });

  it('a replay asked for while an automatic retry is in flight is refused (409), not queued behind it', async () => {
    const ticket = await slowMessengerTicket();
    slowGraph.faults.failNext(1, GRAPH_500);
    const replyId = await postReply(slow, ticket.ticketId, 'We are on it.');
    const failed = await settled(slow, replyId, ['failed']);
    slowGraph.faults.hold();
    try {
      // BullMQ's own attempt 2 reaches the provider and hangs there; the row is failed but busy.
      await until(() => (slowRequestsFor(failed.id).length >= 2 ? true : undefined), { what: 'attempt 2 in flight' });
      const started = Date.now();
      const problem = expectProblem(await client(slow).post(`/v1/outbox/${failed.id}/retry`), 409, { code: 'not-retryable' });
      expect(problem.detail).toMatch(/being sent/);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      slowGraph.faults.release();
    }
    expect(await settled(slow, replyId)).toMatchObject({ state: 'sent', attempts: 2, generation: 1 });
    expect(slowRequestsFor(failed.id).filter((r) => r.accepted)).toHaveLength(1);
  });
});
