import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningWorker } from '../../../src/workers/index.js';
import { unique } from '../../helpers/api.js';
import type { TestContext } from '../../helpers/context.js';
import {
  deliveryContext,
  GRAPH_500,
  graphResponder,
  postReply,
  SMTP_451,
  startProviderApi,
  startSmtp,
  until,
  type LocalSmtp,
  type OutboxRow,
  type ProviderApi,
} from '../../helpers/delivery.js';
import { startSecondProcess, wipeRedisPrefix } from '../../helpers/sla.js';
import { facebookPayload, messengerEvent, onlyTicket, postEmail, postFacebook, query, rawEmail, webhookResult } from '../../helpers/webhooks.js';

/**
 * Exactly once under failure (issue 5): 30 replies over e-mail and Messenger while a second
 * worker set shares the database and Redis prefix, the first set is stopped mid-way and
 * restarted, providers fail transiently, and every Redis key of the test is deleted with
 * sends in flight and jobs waiting. The outbox and the reconciler must still get every reply
 * to its provider exactly once.
 */
let ctx: TestContext;
let smtp: LocalSmtp;
let graph: ProviderApi;
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  smtp = await startSmtp();
  graph = await startProviderApi(graphResponder);
  // Enough attempts that the injected failures never exhaust a reply.
  ctx = await deliveryContext({ smtp, graph, workers: false, env: { DELIVERY_MAX_ATTEMPTS: '10' } });
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await ctx?.close();
  await smtp?.close();
  await graph?.close();
});

/** Another worker process on the same database and Redis prefix, with the same senders. */
async function secondWorkerSet() {
  const c = ctx.config;
  const other = await startSecondProcess(ctx, {
    env: {
      SMTP_URL: c.SMTP_URL!,
      EMAIL_FROM: c.EMAIL_FROM,
      EMAIL_MESSAGE_ID_DOMAIN: c.EMAIL_MESSAGE_ID_DOMAIN,
      FACEBOOK_GRAPH_URL: c.FACEBOOK_GRAPH_URL,
      FACEBOOK_PAGE_ACCESS_TOKEN: c.FACEBOOK_PAGE_ACCESS_TOKEN!,
      DELIVERY_MAX_ATTEMPTS: String(c.DELIVERY_MAX_ATTEMPTS),
      DELIVERY_BACKOFF_MS: String(c.DELIVERY_BACKOFF_MS),
    },
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await other.close();
  };
  closers.push(close);
  return { close };
}

const stop = (workers: RunningWorker[]) => Promise.all(workers.map((w) => w.close()));

let nextPsid = 7_066_489_083_800_000;
/** Tickets alternating e-mail and Messenger, each opened by a customer message. */
async function openTickets(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res =
      i % 2 === 0
        ? await postEmail(ctx, rawEmail({ from: `${unique('c')}@example.com`, subject: `Complaint ${i}`, messageId: `<${unique('m')}@example.com>` }))
        : await postFacebook(ctx, facebookPayload(messengerEvent({ psid: String(++nextPsid), text: `Complaint ${i}`, timestamp: Date.now() - 60_000 })));
    ids.push(onlyTicket(webhookResult(res, { created: 1 })).ticketId);
  }
  return ids;
}

const replies: string[] = [];
async function replyAll(ticketIds: string[], label: string) {
  for (const [i, id] of ticketIds.entries()) replies.push(await postReply(ctx, id, `${label} reply ${i}: we are on it.`));
}

const outboxRows = () => query<OutboxRow & { message_id_header: string | null }>(ctx, 'select o.*, m.message_id_header from outbox o join messages m on m.id = o.message_id where o.message_id = any($1::uuid[])', [replies]);
const sentCount = async () => (await outboxRows()).filter((r) => r.state === 'sent').length;
async function jobCounts(): Promise<{ active: number; waiting: number; delayed: number }> {
  const counts = await ctx.deps.queues.delivery.queue.getJobCounts('active', 'waiting', 'delayed');
  return { active: counts.active ?? 0, waiting: counts.waiting ?? 0, delayed: counts.delayed ?? 0 };
}

describe('every reply exactly once', () => {
  it('survives a second worker set, a stopped and restarted worker set, provider failures and a Redis wipe', async () => {
    const tickets = await openTickets(30);
    smtp.faults.delayMs = 15;
    graph.faults.delayMs = 15;

    let setA = await ctx.startWorkers();
    const setB = await secondWorkerSet();

    // Phase 1: both sets deliver; providers fail a few times. Set A is stopped mid-way.
    smtp.faults.failNext(2, SMTP_451);
    graph.faults.failNext(2, GRAPH_500);
    await replyAll(tickets.slice(0, 8), 'phase1');
    await until(async () => ((await sentCount()) >= 2 ? true : undefined), { what: 'phase 1 under way' });
    await stop(setA);

    // Phase 2: set B alone, more failures (their retries cross the restart of set A).
    smtp.faults.failNext(1, SMTP_451);
    graph.faults.failNext(2, GRAPH_500);
    await replyAll(tickets.slice(8, 16), 'phase2');
    await until(async () => ((await sentCount()) >= 10 ? true : undefined), { what: 'phase 2 under way' });
    setA = await ctx.startWorkers();
    await until(async () => ((await sentCount()) === 16 ? true : undefined), { what: 'phases 1 and 2 sent' });
    await setB.close();

    // Phase 3: only set A (concurrency 8) runs and the providers hang: 8 sends in flight,
    // 6 jobs waiting. Then every Redis key of this test goes.
    smtp.faults.hold();
    graph.faults.hold();
    graph.faults.failNext(1, GRAPH_500);
    await replyAll(tickets.slice(16, 30), 'phase3');
    await until(async () => {
      const counts = await jobCounts();
      return counts.active === 8 && counts.waiting + counts.delayed >= 6 ? true : undefined;
    }, { what: '8 deliveries in flight and the rest waiting' });
    expect(await wipeRedisPrefix(ctx.config.REDIS_URL, ctx.config.QUEUE_PREFIX)).toBeGreaterThan(0);
    expect(await jobCounts()).toEqual({ active: 0, waiting: 0, delayed: 0 });
    const setC = await secondWorkerSet();

    // 30 s later, with the 8 sends still hanging, another replica's reconciler finds all 14
    // rows untouched and jobless, and enqueues them again. Set C (set A's slots are all
    // busy) must skip the 8 in flight and send only the 6 nobody has.
    const later = await startSecondProcess(ctx, { workers: false, clock: { now: () => new Date(Date.now() + 31_000) } });
    closers.push(() => later.close());
    expect(await later.deps.delivery.reconcile()).toBe(14);
    await until(async () => {
      const counts = await jobCounts();
      return counts.waiting + counts.delayed === 0 && counts.active <= 6 ? true : undefined;
    }, { timeoutMs: 5_000, what: 'the 8 re-enqueued rows in flight skipped, the other 6 picked up' });
    smtp.faults.release();
    graph.faults.release();

    // The send that failed lost its retry with Redis: its row stays failed until the
    // reconciler. Make the leftovers 30 s old, as time would (a row being sent is locked:
    // the update waits for it), and reconcile.
    await until(async () => ((await outboxRows()).some((r) => r.state === 'failed') ? true : undefined), { what: 'the failed send recorded' });
    await ctx.deps.pool.query("update outbox set updated_at = now() - interval '1 minute' where state in ('queued', 'failed') and message_id = any($1::uuid[])", [replies]);
    expect(await ctx.deps.delivery.reconcile()).toBeGreaterThanOrEqual(1);

    await until(async () => ((await sentCount()) === replies.length ? true : undefined), { timeoutMs: 20_000, what: 'every reply sent' });
    await setC.close();

    // Every reply reached its provider exactly once, and nothing else did.
    const rows = await outboxRows();
    expect(rows).toHaveLength(30);
    for (const row of rows) {
      expect(row.state, row.id).toBe('sent');
      if (row.channel === 'email') {
        expect(smtp.withMessageId(row.message_id_header!), `mail of ${row.id}`).toHaveLength(1);
      } else {
        const accepted = graph.accepted().filter((r) => (r.json?.message as { metadata?: string }).metadata === `outbox:${row.id}`);
        expect(accepted, `Messenger send of ${row.id}`).toHaveLength(1);
      }
    }
    expect(smtp.accepted).toHaveLength(15);
    expect(graph.accepted()).toHaveLength(15);
    const delivered = await query<{ n: number }>(ctx, "select count(*)::int as n from ticket_events where type = 'delivered'");
    expect(delivered[0]!.n).toBe(30);
    const states = await query<{ delivery_state: string; n: number }>(ctx, 'select delivery_state, count(*)::int as n from messages where id = any($1::uuid[]) group by 1', [replies]);
    expect(states).toEqual([{ delivery_state: 'sent', n: 30 }]);
  });
});
