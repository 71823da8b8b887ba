import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Executor } from '../../../src/db/client.js';
import { recordEvent } from '../../../src/modules/events/events.writer.js';
import { publishStreamEvent } from '../../../src/modules/sla/breaches/stream-events.repository.js';
import { createAgent, createTicket, tokenFor } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { closeListening, listen } from '../../helpers/listen.js';
import { openSse, until, type SseEvent } from '../../helpers/sla.js';

/** GET /v1/events/stream over a real socket, read as a browser's EventSource would. */
let ctx: TestContext;
let base: string;
const streams: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  ctx = await createTestContext();
  base = await listen(ctx.app);
});
afterAll(async () => {
  await Promise.all(streams.map((s) => s.close()));
  await closeListening(ctx?.app.server, async () => ctx?.close());
});

async function open(query = '', lastEventId?: number, token = ctx.adminToken) {
  const stream = await openSse(`${base}/v1/events/stream${query}`, token, lastEventId);
  streams.push(stream);
  return stream;
}

/** A marker event (alarm.cleared with its own alarm id), written by `tx`. */
const mark = (tx: Executor, marker: string, n: number) =>
  recordEvent(tx, { type: 'alarm.cleared', resource: { type: 'alarm', id: `${marker}-${n}` }, data: { alarmId: `${marker}-${n}`, source: 'kpi_target', targetId: null, value: n } });
const markerOf = (e: SseEvent) => String((e.data.data as { alarmId?: string } | undefined)?.alarmId ?? '');
const numbersOf = (events: SseEvent[], marker: string) => events.filter((e) => markerOf(e).startsWith(`${marker}-`)).map((e) => Number(markerOf(e).slice(marker.length + 1)));

/** A transaction that writes its event now and commits when told. */
function heldTransaction(write: (tx: Executor) => Promise<void>) {
  let commit!: () => void;
  let written!: () => void;
  const release = new Promise<void>((resolve) => (commit = resolve));
  const wrote = new Promise<void>((resolve) => (written = resolve));
  const done = ctx.deps.db.transaction(async (tx) => {
    await write(tx);
    written();
    await release;
  });
  return { wrote, done, commit: async () => (commit(), done) };
}

describe('the event stream (SSE)', () => {
  it('a client resumed after a disconnect misses nothing when a lower id commits after a higher one', async () => {
    const marker = randomUUID();
    const first = await open();
    await ctx.deps.db.transaction((tx) => mark(tx, marker, 0));
    const zero = await first.waitFor((e) => markerOf(e) === `${marker}-0`);

    // T1 takes the lower id and stays open; T2 takes a higher id and commits first.
    const t1 = heldTransaction((tx) => mark(tx, marker, 1));
    await t1.wrote;
    await ctx.deps.db.transaction((tx) => mark(tx, marker, 2));
    // The client drops here, having seen what it saw; then T1 and a later T3 commit.
    const seenBeforeDrop = [...first.received];
    await first.close();
    await t1.commit();
    await ctx.deps.db.transaction((tx) => mark(tx, marker, 3));

    const lastSeen = seenBeforeDrop.at(-1)!.id!;
    expect(numbersOf(seenBeforeDrop, marker)).toEqual([0]);
    expect(lastSeen).toBe(zero.id);
    const resumed = await open('', lastSeen);
    await resumed.waitFor((e) => markerOf(e) === `${marker}-3`);
    expect(numbersOf(resumed.received, marker)).toEqual([1, 2, 3]);
    const ids = resumed.received.map((e) => e.id!);
    // Event 1's id is below event 2's, yet it arrives first: the stream follows commit-safe order.
    expect(ids[0]!).toBeLessThan(ids[1]!);
  });

  it('a client that drops before its first event resumes from the position announced on connecting', async () => {
    const marker = randomUUID();
    // An older transaction (an xid, no event) holds the horizon: what commits after it waits.
    const older = heldTransaction(async (tx) => void (await tx.execute(sql`select pg_current_xact_id()`)));
    await older.wrote;
    const client = await open();
    const announced = await until(() => client.lastEventId, { what: 'the starting position' });
    const witness = await open();
    await ctx.deps.db.transaction((tx) => mark(tx, marker, 1));
    // The client leaves having read nothing; the event goes out while it is away.
    await client.close();
    expect(numbersOf(client.received, marker)).toEqual([]);
    await older.commit();
    await witness.waitFor((e) => markerOf(e) === `${marker}-1`);
    // An EventSource sends back the id it was told; "live from now" would have lost the event.
    const back = await open('', announced);
    await back.waitFor((e) => markerOf(e) === `${marker}-1`);
    expect(numbersOf(back.received, marker)).toEqual([1]);
  });

  it('the SLA stream announces its position too: a client that drops before its first event misses nothing', async () => {
    const marker = randomUUID();
    const client = await openSse(`${base}/v1/sla/stream`, ctx.adminToken);
    streams.push(client);
    const announced = await until(() => client.lastEventId, { what: 'the starting position' });
    await client.close();
    await ctx.deps.db.transaction((tx) => publishStreamEvent(tx, 'test_event', { marker }, new Date()));
    const back = await openSse(`${base}/v1/sla/stream`, ctx.adminToken, announced);
    streams.push(back);
    await back.waitFor((e) => e.data.marker === marker);
  });

  it('a transaction in another database of the cluster does not hold the stream back', async () => {
    const marker = randomUUID();
    // A transaction with an xid, older than the event's, in another database (the admin one),
    // open for as long as the test runs: the cluster-wide xmin stays below the event's xid.
    const elsewhere = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
    await elsewhere.connect();
    try {
      await elsewhere.query('begin');
      await elsewhere.query('select pg_current_xact_id()');
      const stream = await open();
      await ctx.deps.db.transaction((tx) => mark(tx, marker, 1));
      await stream.waitFor((e) => markerOf(e) === `${marker}-1`);
    } finally {
      await elsewhere.query('rollback').catch(() => undefined);
      await elsewhere.end();
    }
  });

  // The client drops and reconnects after every third commit, sending back what an EventSource
  // would: the last `id:` it read. Before its first event that is the position the stream
  // announced on connecting; without it a reconnection asked for "live from now" and lost what
  // the server had sent meanwhile (the event of the first commit, whenever any transaction
  // anywhere in the cluster delayed it past the first reconnection).
  it('concurrent interleaved writers and a client that keeps reconnecting: every event exactly once', { timeout: 90_000 }, async () => {
    const marker = randomUUID();
    const total = 24;
    const received: SseEvent[] = [];
    const reconnections: string[] = [];
    let stream = await open();
    await until(() => stream.lastEventId, { what: 'the starting position' });
    // Transactions opened in order (ids ascending) and committed in a shuffled order.
    const held = [];
    for (let n = 0; n < total; n++) {
      const h = heldTransaction((tx) => mark(tx, marker, n));
      await h.wrote;
      held.push(h);
    }
    const order = [...held.keys()].sort((a, b) => ((a * 7919) % total) - ((b * 7919) % total) || a - b);
    for (const [k, index] of order.entries()) {
      await held[index]!.commit();
      if (k % 3 === 2) {
        // What the client has read counts, up to the id it resumes from (both read together).
        received.push(...stream.received);
        const last = stream.lastEventId;
        reconnections.push(`after commit of ${index}: Last-Event-ID ${last}, read ${numbersOf(stream.received, marker).join(',') || 'nothing'}`);
        await stream.close();
        stream = await open('', last);
      }
    }
    // A long write transaction elsewhere in the cluster (another test file, a bench seeding) holds
    // events back until it ends (commit-order.ts): a generous bound, no timing asserted.
    await until(() => (numbersOf([...received, ...stream.received], marker).length >= total ? true : undefined), { what: 'every event', timeoutMs: 60_000 }).catch((error: unknown) => {
      throw new Error(`${String(error)}; read ${numbersOf([...received, ...stream.received], marker).join(',')}; ${reconnections.join('; ')}`);
    });
    received.push(...stream.received);
    const numbers = numbersOf(received, marker);
    expect([...numbers].sort((a, b) => a - b), reconnections.join('\n')).toEqual([...Array(total).keys()]);
    expect(new Set(received.map((e) => e.id)).size).toBe(received.length);
  });

  it('filters by ?types= and shows an agent only its own and its teams\' tickets', async () => {
    const mine = await createAgent(ctx);
    const other = await createAgent(ctx);
    const token = await tokenFor(ctx, 'agent', mine.id);
    const stream = await open('?types=ticket.created', undefined, token);
    const theirs = await createTicket(ctx, { assigneeId: other.id });
    const own = await createTicket(ctx, { assigneeId: mine.id });
    const seen = await stream.waitFor((e) => (e.data.resource as { id: string }).id === own.id);
    expect(seen).toMatchObject({ event: 'ticket.created', data: { type: 'ticket.created', version: 1, resource: { type: 'ticket', id: own.id }, data: { ticketId: own.id, ticketNumber: own.number } } });
    expect(stream.received.every((e) => e.event === 'ticket.created')).toBe(true);
    expect(stream.received.some((e) => (e.data.resource as { id: string }).id === theirs.id)).toBe(false);

    const bad = await fetch(`${base}/v1/events/stream?types=ticket.exploded`, { headers: { authorization: `Bearer ${ctx.adminToken}` } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ errors: [{ field: 'query.types' }] });
    expect((await fetch(`${base}/v1/events/stream`)).status).toBe(401);
  });
});
