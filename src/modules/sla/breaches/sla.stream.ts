import { asc, gt, sql } from 'drizzle-orm';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from '../../../db/client.js';
import { STREAM_CHANNEL } from './stream-events.repository.js';
import { slaStreamEvents } from '../sla.table.js';
import { describeError } from '../../../shared/error-description.js';
import { reconnectDelay, type LinkState } from '../../../shared/link-state.js';

export interface StreamEvent {
  id: number;
  type: string;
  data: Record<string, unknown>;
  createdAt: Date;
}

type Subscriber = (event: StreamEvent) => void;

/** How the LISTEN connection shows in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = 'complaint-desk sla-stream';

/** An id still missing this long belongs to a transaction that rolled back: stop waiting for it. */
const GAP_ABANDON_MS = 60_000;
const GAP_RECHECK_MS = 1_000;

/**
 * Fans operations events out to SSE clients. Workers NOTIFY at commit (so a client never sees
 * an event that rolled back); each API process LISTENs once and reads new rows, so a burst
 * of notifications costs one query.
 *
 * Ids are assigned at INSERT but rows appear at COMMIT, so a lower id can appear after a
 * higher one (two workers breaching at once). The hub therefore reads from a low watermark
 * (every id at or below it is delivered or abandoned), delivers in commit order, and
 * remembers which ids above the watermark it has sent; a missing id is waited for until it
 * appears or GAP_ABANDON_MS passes (its transaction rolled back).
 */
export function createStreamHub(deps: { databaseUrl: string; db: Database; logger: Logger; link?: LinkState }) {
  const subscribers = new Map<Subscriber, (() => void) | undefined>();
  let listener: pg.Client | null = null;
  let started: Promise<void> | null = null;
  let closed = false;
  let reconnect: NodeJS.Timeout | null = null;
  let attempts = 0;
  let lowWatermark = 0;
  const delivered = new Set<number>();
  const missingSince = new Map<number, number>();
  let draining: Promise<void> = Promise.resolve();
  let recheck: NodeJS.Timeout | null = null;

  async function drain() {
    const rows = await deps.db.select().from(slaStreamEvents).where(gt(slaStreamEvents.id, lowWatermark)).orderBy(asc(slaStreamEvents.id)).limit(2000);
    let highest = lowWatermark;
    for (const row of rows) {
      highest = Math.max(highest, row.id);
      if (delivered.has(row.id)) continue;
      delivered.add(row.id);
      missingSince.delete(row.id);
      for (const s of subscribers.keys()) s(row);
    }
    // Advance the watermark over delivered ids and over gaps old enough to be rollbacks.
    const now = Date.now();
    for (let id = lowWatermark + 1; id <= highest; id++) {
      if (delivered.delete(id)) {
        lowWatermark = id;
        continue;
      }
      const since = missingSince.get(id) ?? now;
      missingSince.set(id, since);
      if (now - since < GAP_ABANDON_MS) break;
      missingSince.delete(id);
      lowWatermark = id;
    }
    // A full page means more rows wait: read on rather than wait for the next notification.
    if (rows.length === 2000) schedule();
    if (missingSince.size > 0 && !recheck) {
      recheck = setTimeout(() => {
        recheck = null;
        schedule();
      }, GAP_RECHECK_MS);
      recheck.unref();
    }
  }

  const schedule = () => {
    draining = draining.then(drain).catch((error: unknown) => {
      deps.logger.warn({ err: describeError(error) }, 'stream drain failed; retrying on the next notification or reconnection');
    });
  };

  /**
   * One attempt to open the LISTEN connection. On success, everything committed while the hub
   * was not listening is read from the watermark on (the notifications for it went nowhere),
   * so connected clients miss nothing across a cut.
   */
  async function listen(): Promise<void> {
    const client = new pg.Client({ connectionString: deps.databaseUrl, application_name: LISTENER_APPLICATION_NAME, keepAlive: true });
    client.on('error', (error) => {
      // A terminated backend, a Postgres restart, a network cut: reconnect by ourselves,
      // whether or not a new subscriber arrives.
      deps.link?.lost(error);
      if (listener === client) listener = null;
      client.end().catch(() => undefined);
      retryLater();
    });
    client.on('notification', schedule);
    try {
      await client.connect();
      await client.query(`listen ${STREAM_CHANNEL}`);
    } catch (error) {
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw error;
    }
    if (closed) {
      await client.end().catch(() => undefined);
      return;
    }
    listener = client;
    attempts = 0;
    deps.link?.restored();
    schedule();
  }

  function retryLater() {
    if (closed || reconnect) return;
    attempts += 1;
    reconnect = setTimeout(() => {
      reconnect = null;
      if (closed || listener) return;
      listen().catch((error: unknown) => {
        deps.link?.lost(error);
        retryLater();
      });
    }, reconnectDelay(attempts));
    reconnect.unref();
  }

  async function start() {
    const [row] = await deps.db.select({ max: sql<number>`coalesce(max(${slaStreamEvents.id}), 0)::bigint` }).from(slaStreamEvents);
    lowWatermark = Number(row?.max ?? 0);
    // The first connection is awaited (a subscriber then sees every event committed after it
    // subscribed); if it fails, the hub keeps trying in the background and catches up.
    await listen().catch((error: unknown) => {
      deps.link?.lost(error);
      retryLater();
    });
  }

  return {
    /**
     * Adds a subscriber. `onShutdown` is called once if the hub closes first (the process is
     * shutting down): the subscriber tells its client to reconnect and ends its response.
     */
    async subscribe(subscriber: Subscriber, onShutdown?: () => void): Promise<() => void> {
      if (!closed) {
        started ??= start().catch((error: unknown) => {
          started = null;
          throw error;
        });
        await started;
      }
      // Shutting down (possibly since this subscriber began to wait): it is ended at once
      // rather than added to a hub nobody will close again.
      if (closed) {
        onShutdown?.();
        return () => undefined;
      }
      subscribers.set(subscriber, onShutdown);
      return () => subscribers.delete(subscriber);
    },

    /** Events after `afterId`, for a client that reconnects with Last-Event-ID. */
    async replay(afterId: number, limit = 1000): Promise<StreamEvent[]> {
      return deps.db.select().from(slaStreamEvents).where(gt(slaStreamEvents.id, afterId)).orderBy(asc(slaStreamEvents.id)).limit(limit);
    },

    /** Whether the LISTEN connection is open (false while it reconnects). */
    get listening(): boolean {
      return listener !== null;
    },

    /**
     * Ends every subscription (each subscriber's onShutdown tells its client to come back
     * elsewhere) and the LISTEN connection. Called when the server starts closing, so open
     * streams do not hold the shutdown until its grace period runs out.
     */
    async close() {
      closed = true;
      if (recheck) clearTimeout(recheck);
      if (reconnect) clearTimeout(reconnect);
      for (const onShutdown of subscribers.values()) {
        try {
          onShutdown?.();
        } catch (error) {
          deps.logger.warn({ err: describeError(error) }, 'could not end a stream subscription');
        }
      }
      subscribers.clear();
      const client = listener;
      listener = null;
      await client?.end().catch(() => undefined);
    },
  };
}

export type StreamHub = ReturnType<typeof createStreamHub>;
