import { sql } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';

/**
 * Gap-free reading of an append-only table whose rows carry the writing transaction's id
 * (`tx_id xid8 default pg_current_xact_id()`): domain_events and sla_stream_events.
 *
 * The problem: ids are assigned at INSERT but rows appear at COMMIT, so id 7 can be visible
 * while id 5's transaction still runs. A reader that resumes "after 7" never sees 5.
 *
 * The rule: read in (tx_id, id) order, and only rows whose transaction is older than every
 * transaction of this database still running when the reading statement's snapshot was taken
 * (tx_id < the horizon below). Such a transaction has ended, so its rows are all visible (or
 * rolled back for good); and any transaction that ends later has tx_id >= the horizon, so it
 * sorts after every row already read. A cursor (tx_id, id) therefore never has anything appear
 * behind it. The price: a row waits until older transactions of this database end; normally
 * milliseconds.
 *
 * The horizon. Transaction ids are cluster-wide, so the snapshot's xmin (its oldest running
 * transaction) would let a long transaction in ANOTHER database (a report, a migration, a
 * bench) hold every stream back until it ends. So the horizon is the lowest in-progress xid of
 * the snapshot itself (pg_snapshot_xip: exact at snapshot time) that is not positively known to
 * belong to another database, or the snapshot's xmax if there is none. "Known" means a backend
 * of another database holds that xid when pg_stat_activity is read; the xid -> backend ->
 * database link never changes, so reading it a little later than the snapshot cannot mislabel
 * one of ours as foreign; an xid that ended meanwhile, a prepared transaction, or a session we
 * may not see all count as ours, which only holds rows back until the next read. (Deriving the
 * horizon from pg_stat_activity alone would be unsafe: a transaction of ours that committed
 * between the snapshot and that read is invisible to the snapshot yet absent from the view, so
 * its rows would fall behind the cursor for good.) A standby's snapshot keeps its xids
 * elsewhere: there the xmin is used as before.
 */

export interface FeedCursor {
  /** xid8 as a decimal string. */
  txId: string;
  id: number;
}

export const FEED_START: FeedCursor = { txId: '0', id: 0 };

/** The settled horizon of the statement's snapshot for this database (see above). */
const HORIZON = sql`(select case when pg_is_in_recovery() then pg_snapshot_xmin(pg_current_snapshot()) else coalesce(
  (select min(x) from pg_snapshot_xip(pg_current_snapshot()) as x
    where x::xid not in (select a.backend_xid from pg_stat_activity a
                          where a.backend_xid is not null and a.datid <> (select oid from pg_database where datname = current_database()))),
  pg_snapshot_xmax(pg_current_snapshot())) end)`;

/** Negative, zero or positive as `a` sorts before, with or after `b` in (tx_id, id) order. */
export function compareCursors(a: FeedCursor, b: FeedCursor): number {
  const ta = BigInt(a.txId);
  const tb = BigInt(b.txId);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.id - b.id;
}

export type FeedTable = 'domain_events' | 'sla_stream_events';

export interface FeedRow {
  id: number;
  tx: string;
  settled: boolean;
  [column: string]: unknown;
}

/**
 * Rows after `cursor` in commit-safe order; `columns` is the select list (a trusted constant).
 * The returned rows stop before the first unsettled one; `blocked` says whether such a row
 * exists (committed but behind a still-running older transaction): read again shortly.
 */
export async function readFeed<T>(db: Executor, table: FeedTable, columns: string, cursor: FeedCursor, limit: number): Promise<{ rows: (T & { id: number; tx: string })[]; blocked: boolean }> {
  const result = await db.execute<T & FeedRow>(sql`
    select ${sql.raw(columns)}, id, tx_id::text as tx, tx_id < ${HORIZON} as settled
      from ${sql.identifier(table)}
     where (tx_id, id) > (${cursor.txId}::xid8, ${cursor.id}::bigint)
     order by tx_id, id
     limit ${limit}`);
  const rows: (T & { id: number; tx: string })[] = [];
  for (const row of result.rows) {
    if (!row.settled) return { rows, blocked: true };
    rows.push({ ...(row as T & FeedRow), id: Number(row.id) });
  }
  return { rows, blocked: false };
}

/** The newest settled row: where a reader that wants only what comes next starts. */
export async function feedEnd(db: Executor, table: FeedTable): Promise<FeedCursor> {
  const result = await db.execute<{ id: number; tx: string }>(sql`
    select id, tx_id::text as tx from ${sql.identifier(table)}
     where tx_id < ${HORIZON}
     order by tx_id desc, id desc limit 1`);
  const row = result.rows[0];
  return row ? { txId: row.tx, id: Number(row.id) } : FEED_START;
}

/**
 * The cursor at event `id` (a client's Last-Event-ID). Id 0 is the start of the feed (a stream
 * opened on an empty table announces it). An id no longer stored (retention) or never seen:
 * resume from the first settled row above it in id order, the best left to do.
 */
export async function cursorAt(db: Executor, table: FeedTable, id: number): Promise<FeedCursor> {
  if (id === 0) return FEED_START;
  const result = await db.execute<{ id: number; tx: string }>(sql`
    select id, tx_id::text as tx from ${sql.identifier(table)} where id = ${id}`);
  const row = result.rows[0];
  if (row) return { txId: row.tx, id: Number(row.id) };
  const next = await db.execute<{ id: number; tx: string }>(sql`
    select id, tx_id::text as tx from ${sql.identifier(table)} where id > ${id} order by id limit 1`);
  const after = next.rows[0];
  // Just before the next stored row: (its tx, its id - 1) sorts right before it.
  return after ? { txId: after.tx, id: Number(after.id) - 1 } : feedEnd(db, table);
}
