import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from '../../../db/client.js';
import { STREAM_CHANNEL } from './stream-events.repository.js';
import { cursorAt, feedEnd, readFeed, type FeedCursor, type FeedTable } from '../../events/commit-order.js';
import { describeError } from '../../../shared/error-description.js';
import { reconnectDelay, type LinkState } from '../../../shared/link-state.js';

export interface StreamEvent {
  id: number;
  type: string;
  data: Record<string, unknown>;
  createdAt: Date;
}

/** An event as the hub delivers it: with its place in the feed's (tx_id, id) order. */
export type PositionedEvent = StreamEvent & { cursor: FeedCursor };

type Subscriber = (event: PositionedEvent) => void;

/** How the LISTEN connection shows in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = 'complaint-desk sla-stream';

/** Rows committed behind an older transaction still running are read again this soon. */
const BLOCKED_RECHECK_MS = 50;
const DRAIN_PAGE = 2000;

/** What a hub reads: the SLA operations stream (default) or the domain events (issue 15). */
export interface StreamSource {
  table: FeedTable;
  channel: string;
  /** The select list (trusted constant) whose columns toEvent reads. */
  columns: string;
  toEvent(row: Record<string, unknown> & { id: number }): StreamEvent;
}

export const SLA_STREAM_SOURCE: StreamSource = {
  table: 'sla_stream_events',
  channel: STREAM_CHANNEL,
  columns: 'type, data, created_at',
  toEvent: (row) => ({ id: row.id, type: row.type as string, data: row.data as Record<string, unknown>, createdAt: new Date(row.created_at as string) }),
};

/**
 * Fans operations events out to SSE clients. Workers NOTIFY at commit (so a client never sees
 * an event that rolled back); each API process LISTENs once and reads new rows, so a burst
 * of notifications costs one query.
 *
 * Ids are assigned at INSERT but rows appear at COMMIT, so a lower id can appear after a
 * higher one (two workers breaching at once). The hub and the replay of a resuming client
 * therefore read in the commit-safe order of commit-order.ts ((tx_id, id), only rows older
 * than every running transaction): a client that resumes after the last id it saw misses
 * nothing, whichever order the transactions committed in (issue 15).
 */
export function createStreamHub(deps: { databaseUrl: string; db: Database; logger: Logger; link?: LinkState; source?: StreamSource }) {
  const source = deps.source ?? SLA_STREAM_SOURCE;
  const subscribers = new Map<Subscriber, (() => void) | undefined>();
  let listener: pg.Client | null = null;
  let started: Promise<void> | null = null;
  let closed = false;
  let reconnect: NodeJS.Timeout | null = null;
  let attempts = 0;
  let cursor: FeedCursor = { txId: '0', id: 0 };
  let draining: Promise<void> = Promise.resolve();
  let recheck: NodeJS.Timeout | null = null;

  async function drain() {
    const { rows, blocked } = await readFeed<Record<string, unknown>>(deps.db, source.table, source.columns, cursor, DRAIN_PAGE);
    for (const row of rows) {
      cursor = { txId: row.tx, id: row.id };
      const event = { ...source.toEvent(row), cursor };
      for (const s of subscribers.keys()) s(event);
    }
    // A full page means more rows wait: read on rather than wait for the next notification.
    if (rows.length === DRAIN_PAGE) schedule();
    // Committed rows behind an older running transaction: its end sends no notification
    // (it may write no event at all), so look again shortly.
    if (blocked && !recheck) {
      recheck = setTimeout(() => {
        recheck = null;
        schedule();
      }, BLOCKED_RECHECK_MS);
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
      await client.query(`listen ${source.channel}`);
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
    cursor = await feedEnd(deps.db, source.table);
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
     * `from` is the hub's position when the subscriber was added: it gets every event after
     * it, in order (taken in the same tick as the subscription, so no drain falls between).
     */
    async subscribe(subscriber: Subscriber, onShutdown?: () => void): Promise<{ unsubscribe: () => void; from: FeedCursor }> {
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
        return { unsubscribe: () => undefined, from: cursor };
      }
      subscribers.set(subscriber, onShutdown);
      return { unsubscribe: () => subscribers.delete(subscriber), from: cursor };
    },

    /** The feed position of event `id` (a client's Last-Event-ID): see commit-order.ts. */
    cursorAt(id: number): Promise<FeedCursor> {
      return cursorAt(deps.db, source.table, id);
    },

    /**
     * Settled events after `from` in the hub's order, for a resuming client. Rows not yet
     * settled come with the live events (the hub delivers them once they are).
     */
    async replayFrom(from: FeedCursor, limit = 1000): Promise<PositionedEvent[]> {
      const { rows } = await readFeed<Record<string, unknown>>(deps.db, source.table, source.columns, from, limit);
      return rows.map((row) => ({ ...source.toEvent(row), cursor: { txId: row.tx, id: row.id } }));
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
