import { asc, gt, sql } from 'drizzle-orm';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from '../../db/client.js';
import { STREAM_CHANNEL } from './sla.repository.js';
import { slaStreamEvents } from './sla.table.js';

export interface StreamEvent {
  id: number;
  type: string;
  data: Record<string, unknown>;
  createdAt: Date;
}

type Subscriber = (event: StreamEvent) => void;

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
export function createStreamHub(deps: { databaseUrl: string; db: Database; logger: Logger }) {
  const subscribers = new Set<Subscriber>();
  let listener: pg.Client | null = null;
  let starting: Promise<void> | null = null;
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
      for (const s of subscribers) s(row);
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
    if (missingSince.size > 0 && !recheck) {
      recheck = setTimeout(() => {
        recheck = null;
        schedule();
      }, GAP_RECHECK_MS);
      recheck.unref();
    }
  }

  const schedule = () => {
    draining = draining.then(drain).catch((error) => deps.logger.warn({ err: error }, 'stream drain failed'));
  };

  async function start() {
    const [row] = await deps.db.select({ max: sql<number>`coalesce(max(${slaStreamEvents.id}), 0)::bigint` }).from(slaStreamEvents);
    lowWatermark = Number(row?.max ?? 0);
    const client = new pg.Client({ connectionString: deps.databaseUrl });
    client.on('error', (error) => {
      deps.logger.warn({ err: error.message }, 'stream listener lost its connection');
      listener = null;
      starting = null;
    });
    client.on('notification', schedule);
    await client.connect();
    await client.query(`listen ${STREAM_CHANNEL}`);
    listener = client;
  }

  return {
    async subscribe(subscriber: Subscriber): Promise<() => void> {
      if (!listener) await (starting ??= start());
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },

    /** Events after `afterId`, for a client that reconnects with Last-Event-ID. */
    async replay(afterId: number, limit = 1000): Promise<StreamEvent[]> {
      return deps.db.select().from(slaStreamEvents).where(gt(slaStreamEvents.id, afterId)).orderBy(asc(slaStreamEvents.id)).limit(limit);
    },

    async close() {
      if (recheck) clearTimeout(recheck);
      subscribers.clear();
      await listener?.end().catch(() => undefined);
      listener = null;
    },
  };
}

export type StreamHub = ReturnType<typeof createStreamHub>;
