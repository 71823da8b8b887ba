import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database, Executor } from '../../db/client.js';
import { retentionCutoffs, type RetentionSettings } from '../../domain/privacy/retention.js';
import type { Clock } from '../../shared/clock.js';
import { MONTHLY_TABLES, parseBound, planPartitions, type MonthlyTable, type MonthRange } from './partitions.plan.js';

/*
 * The month partitions of ticket_events, sla_stream_events and inbound_payloads (issue 18),
 * kept by the maintenance worker: at start and daily it creates the current month and the
 * next `monthsAhead` where missing, and drops the partitions wholly older than the table's
 * retention (inbound_payloads: rawPayloadDays; the others have no deleting rule and keep
 * everything). Idempotent, and safe with several worker processes: each table's changes run
 * under a transaction-scoped advisory lock and re-read the catalog inside it.
 *
 * A partition is created as a plain table and then ATTACHed: that takes SHARE UPDATE EXCLUSIVE
 * on the parent (reads and writes go on) where CREATE … PARTITION OF would take ACCESS
 * EXCLUSIVE. Rows the default partition caught for that month (a clock far ahead, a job that
 * did not run) move into the new partition in the same transaction, since ATTACH refuses to
 * leave them there. Dropping takes ACCESS EXCLUSIVE on the parent, briefly, in its own
 * transaction. Both wait at most `lockTimeoutMs` for their locks and otherwise give up until
 * the next run, so a long transaction elsewhere never queues every reader behind them.
 */

/** Advisory lock space of this job (the second key is the table's hash). */
const LOCK_SPACE = 726345018;

export interface PartitionTableRun {
  table: string;
  created: string[];
  dropped: string[];
  /** Rows moved out of the default partition into a partition created for their month. */
  movedFromDefault: number;
  /** Why this table's changes were put off (a lock not granted in time), if they were. */
  error?: string;
}

export interface PartitionRun {
  tables: PartitionTableRun[];
  /** Dedupe claims of raw payloads older than the raw-payload retention, deleted. */
  payloadKeysDeleted: number;
  ms: number;
}

export interface PartitionDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  /** The retention rules as set now (PUT /v1/retention). */
  retention: () => Promise<RetentionSettings>;
  /** Months after the current one that must have a partition. */
  monthsAhead: number;
  lockTimeoutMs: number;
  /** Rows per delete of expired dedupe claims, and batches per run. */
  batchSize: number;
  maxBatches: number;
  /** Counts each partition created or dropped (complaint_desk_partitions_total). */
  onChange?: (table: string, action: 'created' | 'dropped', count: number) => void;
}

const ident = (name: string) => sql.raw(`"${name.replaceAll('"', '""')}"`);
// Bounds come from Dates this module computed, never from input.
const literal = (at: Date) => sql.raw(`'${at.toISOString()}'`);

async function partitionsOf(tx: Executor, table: string) {
  // Bounds print in the session's TimeZone: UTC for parseBound.
  await tx.execute(sql`set local timezone = 'UTC'`);
  const result = await tx.execute<{ name: string; bound: string | null }>(sql`
    select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bound
      from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
      join pg_class p on p.oid = i.inhparent
     where p.relname = ${table} and p.relnamespace = 'public'::regnamespace`);
  // pg_get_expr answers null for a partition dropped since this statement's snapshot: gone.
  return result.rows.flatMap((r) => (r.bound === null ? [] : [parseBound(r.name, r.bound)]));
}

async function lockTable(tx: Executor, table: string, lockTimeoutMs: number) {
  await tx.execute(sql`select pg_advisory_xact_lock(${LOCK_SPACE}, hashtext(${table}))`);
  await tx.execute(sql.raw(`set local lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`));
}

async function createMonth(tx: Executor, spec: MonthlyTable, range: MonthRange): Promise<number> {
  const parent = ident(spec.table);
  const part = ident(range.name);
  const col = ident(spec.column);
  await tx.execute(sql`create table ${part} (like ${parent} including defaults)`);
  // A move is not a deletion: the payload claims' release trigger (migration 0031) leaves them.
  await tx.execute(sql`set local cd.moving_partition_rows = 'on'`);
  const moved = await tx.execute(sql`
    with moved as (delete from ${ident(`${spec.table}_default`)} where ${col} >= ${literal(range.from)} and ${col} < ${literal(range.to)} returning *)
    insert into ${part} select * from moved`);
  await tx.execute(sql`alter table ${parent} attach partition ${part} for values from (${literal(range.from)}) to (${literal(range.to)})`);
  return moved.rowCount ?? 0;
}

export function createPartitionMaintenance(deps: PartitionDeps) {
  const { db, clock, logger } = deps;

  async function maintainTable(spec: MonthlyTable, dropBefore: Date | null): Promise<PartitionTableRun> {
    const run: PartitionTableRun = { table: spec.table, created: [], dropped: [], movedFromDefault: 0 };
    try {
      // One month per transaction, so the default partition's lock (taken by ATTACH) is held
      // for one month's work at a time; counted once committed (a failed one leaves nothing).
      for (let i = 0; i <= deps.monthsAhead; i++) {
        const made = await db.transaction(async (tx) => {
          await lockTable(tx, spec.table, deps.lockTimeoutMs);
          const [range] = planPartitions(spec.table, await partitionsOf(tx, spec.table), clock.now(), deps.monthsAhead, null).create;
          return range ? { name: range.name, moved: await createMonth(tx, spec, range) } : null;
        });
        if (!made) break;
        run.created.push(made.name);
        run.movedFromDefault += made.moved;
      }
      if (dropBefore) {
        run.dropped = await db.transaction(async (tx) => {
          await lockTable(tx, spec.table, deps.lockTimeoutMs);
          const plan = planPartitions(spec.table, await partitionsOf(tx, spec.table), clock.now(), 0, dropBefore);
          for (const name of plan.drop) await tx.execute(sql`drop table ${ident(name)}`);
          return plan.drop;
        });
      }
    } catch (error) {
      // A lock not granted in time (55P03), or anything else: the next run tries again; the
      // default partition meanwhile takes any row whose month has no partition yet.
      // Logged by SQLSTATE and the server's message (drizzle's own message repeats the query).
      const cause = ((error as { cause?: unknown }).cause ?? error) as { code?: string; message?: string };
      run.error = cause.code === '55P03' ? 'lock not granted within the timeout' : `${cause.code ?? 'error'}: ${cause.message ?? String(error)}`;
    }
    if (run.created.length > 0) deps.onChange?.(spec.table, 'created', run.created.length);
    if (run.dropped.length > 0) deps.onChange?.(spec.table, 'dropped', run.dropped.length);
    return run;
  }

  async function deleteExpiredKeys(before: Date): Promise<number> {
    let total = 0;
    for (let i = 0; i < deps.maxBatches; i++) {
      const result = await db.execute(sql`
        delete from inbound_payload_keys where ctid = any(array(
          select ctid from inbound_payload_keys where received_at < ${before} limit ${deps.batchSize}))`);
      const n = result.rowCount ?? 0;
      total += n;
      if (n < deps.batchSize) break;
    }
    return total;
  }

  return {
    async run(): Promise<PartitionRun> {
      const started = Date.now();
      const cutoffs = retentionCutoffs(await deps.retention(), clock.now());
      const tables: PartitionTableRun[] = [];
      for (const spec of MONTHLY_TABLES) tables.push(await maintainTable(spec, spec.retention === 'raw-payloads' ? cutoffs.rawPayloadsBefore : null));
      const payloadKeysDeleted = await deleteExpiredKeys(cutoffs.rawPayloadsBefore);
      const run: PartitionRun = { tables, payloadKeysDeleted, ms: Date.now() - started };
      const failed = tables.filter((t) => t.error);
      if (failed.length > 0) logger.warn({ partitions: run }, 'partition maintenance put off for some tables; the next run retries');
      else if (tables.some((t) => t.created.length + t.dropped.length > 0) || payloadKeysDeleted > 0) logger.info({ partitions: run }, 'partitions maintained');
      return run;
    },
  };
}

export type PartitionMaintenance = ReturnType<typeof createPartitionMaintenance>;
