import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Executor } from '../../../src/db/client.js';
import { publishStreamEvent } from '../../../src/modules/sla/breaches/stream-events.repository.js';
import { systemClock } from '../../../src/shared/clock.js';
import { client, createTicket, unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { closeListening, listen } from '../../helpers/listen.js';
import { breachRows, createPolicy, openSse, until, type SseEvent } from '../../helpers/sla.js';

/** GET /v1/sla/stream over a real socket, read with fetch as a browser's EventSource would. */
let ctx: TestContext;
let base: string;
const streams: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock, env: { SLA_RECONCILE_INTERVAL_MS: '500' } });
  base = await listen(ctx.app);
  await ctx.startWorkers();
  await createPolicy(ctx, { targets: { firstResponse: 1 }, warnAt: 0.5 });
});
afterAll(async () => {
  await Promise.all(streams.map((s) => s.close()));
  await closeListening(ctx?.app.server, async () => ctx?.close());
});

async function open(lastEventId?: number) {
  const stream = await openSse(`${base}/v1/sla/stream`, ctx.adminToken, lastEventId);
  streams.push(stream);
  return stream;
}
const about = (ticketId: string) => (e: SseEvent) => e.data.ticketId === ticketId;

describe('the SLA operations stream (SSE)', () => {
  it('refuses a client without a key', async () => {
    const res = await fetch(`${base}/v1/sla/stream`);
    expect(res.status).toBe(401);
  });

  it('delivers the breach to a connected client, and replays what a reconnecting client missed', async () => {
    const live = await open();
    expect(live.response.status).toBe(200);
    expect(live.response.headers.get('content-type')).toMatch(/^text\/event-stream/);

    const first = await createTicket(ctx);
    const breach = await live.waitFor((e) => e.event === 'breach' && e.data.ticketId === first.id);
    expect(breach.data).toMatchObject({ ticketId: first.id, ticketNumber: first.number, channel: 'email', metric: 'first_response' });
    expect(breach.data.breachId).toBe((await breachRows(ctx, first.id))[0]!.id);
    const warning = live.received.find((e) => e.event === 'warning' && e.data.ticketId === first.id)!;
    expect(warning).toBeDefined();
    expect(warning.id!).toBeLessThan(breach.id!);
    // Ids increase along the stream.
    const ids = live.received.map((e) => e.id!);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    await live.close();

    // While nobody is connected, a second ticket warns and breaches.
    const second = await createTicket(ctx);
    await until(async () => ((await breachRows(ctx, second.id)).length === 1 ? true : undefined), { what: 'the second breach' });

    const resumed = await open(breach.id!);
    const missed = await resumed.waitFor((e) => e.event === 'breach' && e.data.ticketId === second.id);
    expect(resumed.received.filter(about(first.id))).toEqual([]);
    expect(resumed.received.filter(about(second.id)).map((e) => e.event).slice(0, 2)).toEqual(['warning', 'breach']);
    expect(resumed.received.every((e) => e.id! > breach.id!)).toBe(true);

    // From an earlier id, the replay starts right after it: the first ticket's breach comes again.
    const fromWarning = await open(warning.id!);
    await fromWarning.waitFor((e) => e.id === missed.id);
    const replayed = fromWarning.received.map((e) => e.id!);
    expect(replayed[0]).toBeGreaterThan(warning.id!);
    expect(replayed).toContain(breach.id);
    expect(fromWarning.received.find((e) => e.id === breach.id)).toEqual(breach);
    await fromWarning.close();

    // After the replay, the resumed client is live: an acknowledgement arrives as it happens.
    const ack = await client(ctx).post(`/v1/sla/breaches/${String(missed.data.breachId)}/ack`, { note: 'on it' });
    expect(ack.statusCode, ack.body).toBe(200);
    const acknowledged = await resumed.waitFor((e) => e.event === 'acknowledged' && e.data.breachId === missed.data.breachId);
    expect(acknowledged.data).toMatchObject({ ticketId: second.id, acknowledgedBy: 'test admin' });
    expect(acknowledged.id!).toBeGreaterThan(missed.id!);
    await resumed.close();
  });

  // Stream ids are assigned at INSERT but rows appear at COMMIT: when the lower-numbered of
  // two publishing transactions commits second, its event must still reach connected clients,
  // and a client that resumes after the higher id must get it too (issue 15: events are read
  // in (tx_id, id) order below the oldest running transaction; see commit-order.ts).
  it('delivers an event whose transaction commits after a later-numbered one', async () => {
    const live = await open();
    const marker = unique('race');
    const publish = (n: number) => (tx: Executor) => publishStreamEvent(tx, 'test', { marker, n }, new Date());
    let inserted!: () => void;
    let release!: () => void;
    const insertedFirst = new Promise<void>((resolve) => (inserted = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const first = ctx.deps.db.transaction(async (tx) => {
      await publish(1)(tx);
      inserted();
      await released;
    });
    await insertedFirst;
    await ctx.deps.db.transaction(publish(2)); // numbered after the first, committed before it
    // A client that saw 2 before 1 committed and then lost its connection would resume after
    // 2 and never see 1: so 2 is held until 1's transaction ends.
    release();
    await first;
    await ctx.deps.db.transaction(publish(3));
    await live.waitFor((e) => e.data.marker === marker && e.data.n === 3);
    const seen = live.received.filter((e) => e.data.marker === marker);
    expect(seen.map((e) => e.data.n)).toEqual([1, 2, 3]);
    // Resumed after each id it saw, a client gets exactly what followed it.
    for (const [i, event] of seen.slice(0, 2).entries()) {
      const resumed = await open(event.id!);
      await resumed.waitFor((e) => e.data.marker === marker && e.data.n === 3);
      expect(resumed.received.filter((e) => e.data.marker === marker).map((e) => e.data.n)).toEqual([1, 2, 3].slice(i + 1));
      await resumed.close();
    }
  });
});
