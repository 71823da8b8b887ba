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

/**
 * Fans operations events out to SSE clients. Workers NOTIFY at commit (so a client never sees
 * an event that rolled back); each API process LISTENs once and reads new rows by id, so a
 * burst of notifications costs one query and every client sees every event in order.
 */
export function createStreamHub(deps: { databaseUrl: string; db: Database; logger: Logger }) {
  const subscribers = new Set<Subscriber>();
  let listener: pg.Client | null = null;
  let starting: Promise<void> | null = null;
  let lastId = 0;
  let draining: Promise<void> = Promise.resolve();

  async function drain() {
    const rows = await deps.db.select().from(slaStreamEvents).where(gt(slaStreamEvents.id, lastId)).orderBy(asc(slaStreamEvents.id)).limit(1000);
    for (const row of rows) {
      lastId = row.id;
      for (const s of subscribers) s(row);
    }
  }

  async function start() {
    const [row] = await deps.db.select({ max: sql<number>`coalesce(max(${slaStreamEvents.id}), 0)::bigint` }).from(slaStreamEvents);
    lastId = Number(row?.max ?? 0);
    const client = new pg.Client({ connectionString: deps.databaseUrl });
    client.on('error', (error) => {
      deps.logger.warn({ err: error.message }, 'stream listener lost its connection');
      listener = null;
      starting = null;
    });
    client.on('notification', () => {
      draining = draining.then(drain).catch((error) => deps.logger.warn({ err: error }, 'stream drain failed'));
    });
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
      subscribers.clear();
      await listener?.end().catch(() => undefined);
      listener = null;
    },
  };
}

export type StreamHub = ReturnType<typeof createStreamHub>;
