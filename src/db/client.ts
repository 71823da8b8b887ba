import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import * as schema from './schema.js';

export type Database = NodePgDatabase<typeof schema>;
/** A database handle or an open transaction: repositories accept either. */
export type Executor = Database | Parameters<Parameters<Database['transaction']>[0]>[0];

// Postgres bigint (int8) comes back as a string by default; our bigints (ticket numbers,
// event ids) stay far below 2^53, so numbers are safe and far friendlier in JSON.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/** pg-pool's message when no client became free within connectionTimeoutMillis. */
const POOL_BUSY = /timeout exceeded when trying to connect/;

export interface PoolEvents {
  /** A pooled client's connection failed (terminated backend, Postgres restart, network cut). */
  onConnectionError?(error: Error): void;
  /** A new connection was opened: Postgres answers again. */
  onConnect?(): void;
}

/**
 * Settings every connection of the service starts with. No JIT compilation: Postgres compiles a
 * statement whose estimated cost passes jit_above_cost, and the KPI statements (many UNION
 * branches) pass it even over an hour of facts. Measured at 1,000,000 tickets: compiling took
 * 0.5-1.4 s of a live hour's 1.2-2.3 s, 2.7-3.5 s of a day's rollup aggregation (5.9-7.8 s
 * without JIT, 8.2-9.4 s with), and the exact report over a day ran in 2.6 s without JIT against
 * 5.3-5.6 s with it. Only the exact report over a month gained (~20%), and the rollups answer
 * that one. Everything else the service runs is far below the threshold.
 */
export const CONNECTION_OPTIONS = '-c jit=off';

export function createPool(url: string, max: number, timeouts: { acquireMs?: number; idleInTransactionMs?: number } = {}, events: PoolEvents = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    idleTimeoutMillis: 30_000,
    // Waiting forever for a connection turns pool exhaustion into a silent hang; an error is
    // answered, logged and retried by the provider.
    connectionTimeoutMillis: timeouts.acquireMs ?? 10_000,
    options: CONNECTION_OPTIONS,
    ...(timeouts.idleInTransactionMs ? { idle_in_transaction_session_timeout: timeouts.idleInTransactionMs } : {}),
  });
  const onError = (error: Error) => events.onConnectionError?.(error);
  // pg-pool listens for errors only on idle clients. A client checked out (a transaction)
  // whose backend is terminated emits 'error' with no listener, which ends the process: every
  // client gets a listener of its own for its whole life. The failed query rejects on its
  // own, and pg-pool drops the dead client at release (it is no longer queryable); the next
  // checkout opens a fresh connection.
  pool.on('connect', (client) => {
    client.on('error', onError);
    events.onConnect?.();
  });
  pool.on('error', onError);
  // A connection that cannot be opened (Postgres down, restarting) is an outage too; a wait
  // for a free client that timed out is not (the pool is busy, Postgres answers).
  const connectFailed = (error: Error) => {
    if (!POOL_BUSY.test(error.message)) onError(error);
  };
  const connect = pool.connect.bind(pool);
  pool.connect = ((callback?: (error: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void) => {
    if (callback) {
      connect((error, client, done) => {
        if (error) connectFailed(error);
        callback(error, client, done);
      });
      return undefined;
    }
    return connect().then(releasedOnFailure, (error: Error) => {
      connectFailed(error);
      throw error;
    });
  }) as pg.Pool['connect'];
  return pool;
}

/**
 * A checked-out client whose connection fails goes back to the pool at once, to be discarded,
 * and a later release() of it does nothing. drizzle's transaction() sends BEGIN before its
 * try/finally: a backend terminated between checkout and BEGIN leaked the client for good, and
 * a few cuts exhausted the pool (every request then timed out waiting for a connection).
 */
function releasedOnFailure(client: pg.PoolClient): pg.PoolClient {
  const release = client.release.bind(client);
  let released = false;
  const releaseOnce = (error?: Error | boolean) => {
    if (released) return;
    released = true;
    client.off('error', onError);
    release(error);
  };
  const onError = (error: Error) => releaseOnce(error);
  client.on('error', onError);
  client.release = releaseOnce;
  return client;
}

export function createDatabase(pool: pg.Pool): Database {
  return drizzle(pool, { schema });
}

/**
 * For the rest of the transaction, plans made afresh for each statement (`plan_cache_mode =
 * force_custom_plan`, set locally). Postgres gives a statement it caches per connection (the
 * foreign-key checks of every insert, trigger functions' statements, named statements) a
 * generic plan after five runs, planned for the tables' sizes at that moment, and keeps it until
 * an ANALYZE of one of them. On a young database filling fast that goes stale within seconds:
 * the foreign-key check of each clock, message and event, first planned while `tickets` had a
 * page or two, stayed a sequential scan of all tickets. On the ingest benchmark (30,000 new
 * tickets into an empty database) Postgres' CPU per message tripled during the run and
 * throughput fell from ~480 to ~130 msg/s (297 over the run, p99 684 ms); with fresh plans it
 * held at ~430 (p99 216 ms). For the transactions that insert in bulk (intake's groups), not
 * for every connection: set for every connection, the per-row trigger statements of the timers,
 * routing and the webhook pump were planned on every run, and the webhooks' commit-to-delivery
 * p99 was 409 ms in that full benchmark run against 99-103 ms in the runs before and after it.
 */
export async function planAfresh(tx: Executor): Promise<void> {
  await clientOf(tx).query({ name: 'plan_afresh_v1', text: "select set_config('plan_cache_mode', 'force_custom_plan', true)" });
}

/** The pg client of a drizzle transaction (its session's client). */
export function clientOf(tx: Executor): pg.ClientBase {
  const client = (tx as unknown as { session?: { client?: pg.ClientBase } }).session?.client;
  if (!client || typeof client.query !== 'function') throw new Error('a pg client is needed under the transaction');
  return client;
}

/** The pool under the drizzle handle (drizzle keeps it as $client; our Database type omits it). */
export const poolOf = (db: Database): pg.Pool => (db as Database & { $client: pg.Pool }).$client;
