import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from '../../../src/db/migrate.js';
import { cursorAt, FEED_START, readFeed, type FeedCursor } from '../../../src/modules/events/commit-order.js';
import { createPartitionMaintenance } from '../../../src/modules/maintenance/partitions.service.js';
import { monthStart, parseBound, partitionName } from '../../../src/modules/maintenance/partitions.plan.js';
import { publishStreamEvent } from '../../../src/modules/sla/breaches/stream-events.repository.js';
import type { RetentionSettings } from '../../../src/domain/privacy/retention.js';
import { client, manualClock, unique } from '../../helpers/api.js';
import { createIsolatedEnvironment, createTestContext, type TestContext } from '../../helpers/context.js';
import { until } from '../../helpers/sla.js';
import { CHANNEL_ENV, count, facebookPayload, messengerEvent, postFacebook, query, webhookResult } from '../../helpers/webhooks.js';

/**
 * Month partitions (issue 18) on a real Postgres: ticket_events, sla_stream_events and
 * inbound_payloads. The months used here start after the legacy partition the migration made
 * (it covers everything up to the month after the migration ran), so the test does not depend
 * on today's date.
 */
let ctx: TestContext;
/** The first month with no range partition in the freshly migrated template (legacy, then three months made by migration 0032). */
let base: Date;

const TABLES = ['ticket_events', 'sla_stream_events', 'inbound_payloads'] as const;
const retention = (rawPayloadDays: number) => async (): Promise<RetentionSettings> => ({ rawPayloadDays, closedTicketMonths: null, auditYears: 5 });

function maintenance(rawPayloadDays = 90, monthsAhead = 3) {
  return createPartitionMaintenance({
    db: ctx.deps.db,
    clock: ctx.clock,
    logger: ctx.deps.logger,
    retention: retention(rawPayloadDays),
    monthsAhead,
    lockTimeoutMs: 5_000,
    batchSize: 1_000,
    maxBatches: 10,
  });
}

async function partitions(table: string) {
  await query(ctx, "set timezone = 'UTC'");
  const rows = await query<{ name: string; bound: string | null }>(
    ctx,
    `select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bound
       from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
      where p.relname = $1 order by c.relname`,
    [table],
  );
  // A partition the workers drop while this reads has no bound any more (pg_get_expr: null).
  return rows.flatMap((r) => (r.bound === null ? [] : [parseBound(r.name, r.bound)]));
}

const names = async (table: string) => (await partitions(table)).map((p) => p.name);
/** The partition a row landed in. */
const home = async (table: string, where: string, params: unknown[]) => (await query<{ part: string }>(ctx, `select tableoid::regclass::text as part from ${table} where ${where}`, params))[0]?.part;

beforeAll(async () => {
  ctx = await createTestContext({ env: { ...CHANNEL_ENV } });
  const legacy = (await partitions('ticket_events')).find((p) => p.name === 'ticket_events_legacy');
  base = monthStart(legacy!.to!, 3);
});
afterAll(async () => ctx?.close());

describe('the migration', () => {
  it('leaves each table partitioned by month: legacy, the three months after it, and a default partition', async () => {
    for (const table of TABLES) {
      const parts = await partitions(table);
      const legacy = parts.find((p) => p.name.endsWith('_legacy'))!;
      expect(legacy.from).toBeNull();
      expect(legacy.to!.getUTCDate()).toBe(1);
      const months = [0, 1, 2].map((i) => partitionName(table, monthStart(legacy.to!, i)));
      expect(parts.map((p) => p.name).sort()).toEqual([`${table}_default`, `${table}_legacy`, ...months].sort());
    }
    // messages stays a plain table (see README, Capacity).
    expect(await count(ctx, "pg_partitioned_table pt join pg_class c on c.oid = pt.partrelid where c.relname = 'messages'")).toBe(0);
  });

  it('converts a populated database: rows, ids and the dedupe claims carry over', async () => {
    const env = await createIsolatedEnvironment();
    const admin = new pg.Client({ connectionString: env.databaseUrl });
    await admin.connect();
    // A fresh database, migrated up to the migration before the partitioning one.
    const scratch = mkdtempSync(join(tmpdir(), 'cd-partitions-'));
    const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
    try {
      await admin.query('drop schema public cascade; create schema public; drop schema if exists drizzle cascade');
      cpSync(MIGRATIONS_DIR, scratch, { recursive: true });
      const journalPath = join(scratch, 'meta', '_journal.json');
      const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] };
      const at = journal.entries.findIndex((e) => e.tag.endsWith('_month_partitions'));
      expect(at).toBeGreaterThan(0);
      writeFileSync(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, at) }));
      await migrate(drizzle(pool), { migrationsFolder: scratch });

      await admin.query(`insert into customers (name) values ('c')`);
      await admin.query(
        `insert into tickets (status, priority, channel, subject, customer_id, created_at)
         select 'open', 'normal', 'email', 's', id, now() - interval '40 days' from customers`,
      );
      await admin.query(`insert into ticket_events (ticket_id, type, actor_kind, created_at) select id, 'created', 'customer', created_at from tickets, generate_series(1, 5)`);
      await admin.query(`insert into sla_stream_events (type, data, created_at) select 'x', '{}'::jsonb, now() - make_interval(days => g) from generate_series(1, 5) g`);
      await admin.query(`insert into inbound_payloads (channel, sha256, body, received_at) select 'email', md5(g::text), 'b'::bytea, now() - make_interval(days => g) from generate_series(1, 5) g`);
      const before = (await admin.query<{ m: string }>('select max(id)::text as m from ticket_events')).rows[0]!.m;

      await migrate(drizzle(pool), { migrationsFolder: MIGRATIONS_DIR });

      for (const table of TABLES) {
        const rows = await admin.query<{ part: string; n: number }>(`select tableoid::regclass::text as part, count(*)::int as n from ${table} group by 1`);
        expect(rows.rows).toEqual([{ part: `${table}_legacy`, n: 5 }]);
      }
      expect((await admin.query('select count(*)::int as n from inbound_payload_keys')).rows[0]).toEqual({ n: 5 });
      // The identity goes on after the old ids.
      const next = await admin.query<{ id: string }>(`insert into ticket_events (ticket_id, type, actor_kind) select id, 't', 'c' from tickets returning id::text`);
      expect(BigInt(next.rows[0]!.id)).toBeGreaterThan(BigInt(before));
    } finally {
      await pool.end();
      await admin.end();
      rmSync(scratch, { recursive: true, force: true });
      await env.drop();
    }
  });
});

describe('the maintenance job', () => {
  it('creates the current month and the months ahead, once', async () => {
    manualClock(ctx).set(new Date(base.getTime() + 9 * 86_400_000));
    // A retention long enough that nothing is dropped yet (the drop test below does).
    const run = await maintenance(3650, 3).run();
    for (const table of TABLES) {
      const expected = [0, 1, 2, 3].map((i) => partitionName(table, monthStart(base, i)));
      expect(run.tables.find((t) => t.table === table)).toMatchObject({ created: expected, dropped: [] });
      expect(await names(table)).toEqual(expect.arrayContaining(expected));
    }
    const again = await maintenance(3650, 3).run();
    for (const t of again.tables) expect(t).toMatchObject({ created: [], dropped: [], movedFromDefault: 0 });
  });

  it('lands a row whose month has no partition in the default one, and moves it when its month is made', async () => {
    const far = monthStart(base, 8);
    manualClock(ctx).set(new Date(far.getTime() + 3_600_000));
    const mid = unique('m_far');
    const body = JSON.stringify(facebookPayload(messengerEvent({ psid: '7066489083999001', mid, text: 'From a month with no partition' })));
    const result = webhookResult(await postFacebook(ctx, body), { created: 1 });
    const ticketId = result.tickets[0]!.ticketId;
    expect(await home('ticket_events', 'ticket_id = $1 limit 1', [ticketId])).toBe('ticket_events_default');
    expect(await home('inbound_payloads', "convert_from(body, 'UTF8') like $1", [`%${mid}%`])).toBe('inbound_payloads_default');
    const events = await query<{ id: number }>(ctx, 'select id from ticket_events where ticket_id = $1 order by id', [ticketId]);

    // A retention long enough that nothing is dropped here (the next test drops).
    const run = await maintenance(3650, 0).run();
    expect(run.tables.find((t) => t.table === 'ticket_events')).toMatchObject({ created: [partitionName('ticket_events', far)], movedFromDefault: events.length });
    expect(await home('ticket_events', 'ticket_id = $1 limit 1', [ticketId])).toBe(partitionName('ticket_events', far));
    expect(await home('inbound_payloads', "convert_from(body, 'UTF8') like $1", [`%${mid}%`])).toBe(partitionName('inbound_payloads', far));
    // Same rows, same ids: the timeline reads as before.
    expect(await query(ctx, 'select id from ticket_events where ticket_id = $1 order by id', [ticketId])).toEqual(events);
    const timeline = await client(ctx).get(`/v1/tickets/${ticketId}/events`);
    expect(timeline.statusCode, timeline.body).toBe(200);
    // The moved payload keeps its dedupe claim: a redelivery is still a duplicate.
    webhookResult(await postFacebook(ctx, body), { created: 0, duplicatePayload: true });
    expect(await count(ctx, 'inbound_payloads where body = $1', [Buffer.from(body)])).toBe(1);
  });

  it('drops the inbound_payloads months wholly past the raw-payload retention, keeps the rest and every timeline month', async () => {
    // Now: the 20th of base+3; 30 days back is in base+2. base and base+1 (and the legacy
    // partition) ended before that; base+2 did not.
    manualClock(ctx).set(new Date(monthStart(base, 3).getTime() + 19 * 86_400_000));
    await query(ctx, `insert into inbound_payloads (channel, sha256, body, received_at) values ('email', 'old-one', 'x', $1), ('email', 'recent-one', 'x', $2)`, [
      new Date(base.getTime() + 86_400_000),
      new Date(monthStart(base, 2).getTime() + 25 * 86_400_000),
    ]);
    await query(ctx, `insert into inbound_payload_keys (channel, sha256, received_at) values ('email', 'old-one', $1), ('email', 'recent-one', $2)`, [
      new Date(base.getTime() + 86_400_000),
      new Date(monthStart(base, 2).getTime() + 25 * 86_400_000),
    ]);
    const run = await maintenance(30, 3).run();
    const payloads = run.tables.find((t) => t.table === 'inbound_payloads')!;
    expect(payloads.error).toBeUndefined();
    expect(payloads.dropped).toEqual(expect.arrayContaining(['inbound_payloads_legacy', partitionName('inbound_payloads', base), partitionName('inbound_payloads', monthStart(base, 1))]));
    expect(payloads.dropped).not.toContain(partitionName('inbound_payloads', monthStart(base, 2)));
    expect(await names('inbound_payloads')).toEqual(expect.arrayContaining([partitionName('inbound_payloads', monthStart(base, 2)), partitionName('inbound_payloads', monthStart(base, 3)), 'inbound_payloads_default']));
    expect(await count(ctx, "inbound_payloads where sha256 = 'old-one'")).toBe(0);
    expect(await count(ctx, "inbound_payloads where sha256 = 'recent-one'")).toBe(1);
    expect(await count(ctx, "inbound_payload_keys where sha256 = 'old-one'")).toBe(0);
    expect(await count(ctx, "inbound_payload_keys where sha256 = 'recent-one'")).toBe(1);
    expect(run.payloadKeysDeleted).toBeGreaterThanOrEqual(1);
    for (const table of ['ticket_events', 'sla_stream_events']) {
      expect(run.tables.find((t) => t.table === table)!.dropped).toEqual([]);
      expect(await names(table)).toEqual(expect.arrayContaining([`${table}_legacy`, partitionName(table, base)]));
    }
  });
});

describe('guarantees across months', () => {
  it('stores a payload redelivered across a month boundary once, and a concurrent copy once', async () => {
    const boundary = monthStart(base, 4);
    manualClock(ctx).set(new Date(boundary.getTime() - 50));
    // No message in it: only the payload claim keeps it from being stored twice.
    const body = JSON.stringify({ object: 'page', entry: [{ id: '105320418834911', time: 1_767_600_000_123, messaging: [{ sender: { id: '1' }, recipient: { id: '2' }, timestamp: 1, read: { watermark: 1 } }] }] });
    const first = await postFacebook(ctx, body);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json<{ duplicatePayload: boolean }>().duplicatePayload).toBe(false);
    manualClock(ctx).set(new Date(boundary.getTime() + 50));
    const again = await Promise.all([postFacebook(ctx, body), postFacebook(ctx, body), postFacebook(ctx, body)]);
    for (const res of again) {
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<{ duplicatePayload: boolean }>().duplicatePayload).toBe(true);
    }
    expect(await count(ctx, 'inbound_payloads where body = $1', [Buffer.from(body)])).toBe(1);

    // A new payload right after the boundary, sent four times at once: stored once, in the new month.
    const fresh = body.replace('1767600000123', '1767600000124');
    const racing = await Promise.all([1, 2, 3, 4].map(() => postFacebook(ctx, fresh)));
    expect(racing.filter((r) => r.json<{ duplicatePayload: boolean }>().duplicatePayload === false)).toHaveLength(1);
    expect(await count(ctx, 'inbound_payloads where body = $1', [Buffer.from(fresh)])).toBe(1);
  });

  it('releases a payload’s claim when the payload is deleted (retention, erasure): the same bytes are stored again', async () => {
    manualClock(ctx).set(new Date(monthStart(base, 4).getTime() + 86_400_000));
    const body = JSON.stringify({ object: 'page', entry: [{ id: '105320418834911', time: 1_767_600_000_777, messaging: [{ sender: { id: '1' }, recipient: { id: '2' }, timestamp: 1, read: { watermark: 2 } }] }] });
    expect((await postFacebook(ctx, body)).json<{ duplicatePayload: boolean }>().duplicatePayload).toBe(false);
    await query(ctx, 'delete from inbound_payloads where body = $1', [Buffer.from(body)]);
    expect(await count(ctx, "inbound_payload_keys where sha256 = encode(sha256($1::bytea), 'hex')", [Buffer.from(body)])).toBe(0);
    expect((await postFacebook(ctx, body)).json<{ duplicatePayload: boolean }>().duplicatePayload).toBe(false);
    expect(await count(ctx, 'inbound_payloads where body = $1', [Buffer.from(body)])).toBe(1);
  });

  it('keeps one message per provider id across a month boundary', async () => {
    const boundary = monthStart(base, 5);
    const mid = unique('m_boundary');
    manualClock(ctx).set(new Date(boundary.getTime() - 10));
    webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: '7066489083999002', mid, text: 'Just before midnight' }))), { created: 1 });
    manualClock(ctx).set(new Date(boundary.getTime() + 10));
    // Another envelope (other bytes), same message.
    const other = { ...facebookPayload(messengerEvent({ psid: '7066489083999002', mid, text: 'Just before midnight' })) };
    other.entry[0]!.time += 1;
    webhookResult(await postFacebook(ctx, other), { created: 0, duplicates: 1, duplicatePayload: false });
    expect(await count(ctx, "messages where channel = 'facebook' and provider_message_id = $1", [mid])).toBe(1);
  });

  it('reads the SLA stream in order across partitions, and resumes at a Last-Event-ID in an older month', async () => {
    const months = [monthStart(base, 1), monthStart(base, 2), monthStart(base, 3)];
    const ids: number[] = [];
    for (const at of months) {
      await ctx.deps.db.transaction((tx) => publishStreamEvent(tx, 'test_event', { at: at.toISOString() }, at));
      const [row] = await query<{ id: string }>(ctx, "select id::text from sla_stream_events where type = 'test_event' order by id desc limit 1");
      ids.push(Number(row!.id));
    }
    const homes = await query<{ part: string }>(ctx, "select tableoid::regclass::text as part from sla_stream_events where type = 'test_event' order by id");
    expect(homes.map((h) => h.part)).toEqual(months.map((m) => partitionName('sla_stream_events', m)));
    // A row is read once every older transaction in the cluster has ended (commit-order.ts):
    // other databases' transactions on a shared server may hold it back for a moment.
    const read = async (from: FeedCursor) => {
      const feed = await readFeed<{ type: string }>(ctx.deps.db, 'sla_stream_events', 'type', from, 10_000);
      const seen = feed.rows.filter((r) => r.type === 'test_event').map((r) => r.id);
      return seen.length === ids.filter((id) => id > from.id || from === FEED_START).length ? seen : undefined;
    };
    expect(await until(() => read(FEED_START), { what: 'the stream rows' })).toEqual(ids);
    const resumed = await cursorAt(ctx.deps.db, 'sla_stream_events', ids[0]!);
    expect(await until(() => read(resumed), { what: 'the rows after the first' })).toEqual(ids.slice(1));
  });
});

describe('through the maintenance queue', () => {
  it('runs when the workers start, creating the months ahead', async () => {
    const later = monthStart(base, 14);
    manualClock(ctx).set(new Date(later.getTime() + 86_400_000));
    await ctx.startWorkers();
    const last = monthStart(later, ctx.config.PARTITION_MONTHS_AHEAD);
    for (const table of TABLES) {
      const wanted = partitionName(table, last);
      await until(async () => ((await names(table)).includes(wanted) ? true : undefined), { timeoutMs: 30_000, what: `partition ${wanted}` });
      expect(await names(table)).toContain(partitionName(table, later));
    }
  });
});
