import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { compareCursors, type FeedCursor } from '../../events/commit-order.js';
import type { PositionedEvent, StreamEvent, StreamHub } from './sla.stream.js';

const HEARTBEAT_MS = 15_000;
// What a client told to reconnect at shutdown waits before it does.
const SHUTDOWN_RETRY_MS = 1_000;
/** The hub replays in pages of this many events (its default limit). */
const REPLAY_PAGE = 1_000;

/**
 * A stream event id as a client sends it back (Last-Event-ID or ?lastEventId), for every stream
 * served here: the ids we issue are bigint identities far below 2^53, so anything longer or
 * larger is not one of ours and is refused with a 400 naming the field, rather than reaching the
 * replay query as "Infinity".
 */
export const eventIdSchema = z
  .string()
  .regex(/^\d{1,16}$/, 'an event id: a non-negative integer')
  .transform(Number)
  .pipe(z.number().int().max(Number.MAX_SAFE_INTEGER, 'an event id this stream issued'));

export interface EventStreamOptions {
  /** Resume after this id (Last-Event-ID); undefined: live events only. */
  resumeFrom: number | undefined;
  /** The SSE event name a client sees for this event, or undefined to leave it out. */
  nameOf(event: StreamEvent): string | undefined;
  /** How many replay pages a resume may read. */
  replayPages: number;
  /** The data line of an event (default: its data with `at`). */
  dataOf?(event: StreamEvent): unknown;
}

/**
 * Serves the hub's events as server-sent events on a hijacked reply: subscribed before the
 * headers go out and buffering while the replay runs, so no event falls between replay and live;
 * a heartbeat; and at shutdown a final event with a retry hint, then the connection closed.
 *
 * Exactly once, across reconnections: the connection keeps its position in the feed's
 * (tx_id, id) order (commit-order.ts) and sends only events after it. Replay and live events
 * both come in that order, so an event the replay already sent, or one at or before the
 * client's Last-Event-ID that this process's hub delivers late (the replay read ahead of the
 * hub; or the client comes from another process whose hub was ahead), is not sent again.
 * A client that connects without Last-Event-ID is told its starting position at once (an
 * `id:` field with no data: EventSource keeps it as its last event id without firing an
 * event), so if it drops before its first event it resumes from there instead of from "now",
 * which would skip what the hub delivered while it was away.
 */
export async function serveEventStream(hub: StreamHub, request: FastifyRequest, reply: FastifyReply, options: EventStreamOptions): Promise<void> {
  const out = reply.raw;
  const open = () => {
    if (out.headersSent) return;
    // The headers the hooks set before the hijack (CORS for browser clients, X-Request-Id, rate limits) go out too.
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) out.setHeader(name, value);
    out.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    out.write('retry: 3000\n\n');
  };
  let position: FeedCursor | undefined = undefined;
  const send = (event: PositionedEvent) => {
    if (position === undefined || compareCursors(event.cursor, position) <= 0) return;
    position = event.cursor;
    const name = options.nameOf(event);
    if (name === undefined || out.writableEnded) return;
    const data = options.dataOf ? options.dataOf(event) : { ...event.data, at: event.createdAt };
    out.write(`id: ${event.id}\nevent: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const buffered: PositionedEvent[] = [];
  let replaying = true;
  let heartbeat: NodeJS.Timeout | undefined = undefined;
  // At shutdown the hub ends every stream at once (else each open stream holds the shutdown
  // for its whole grace period): a final event and a retry hint tell the client to reconnect
  // with Last-Event-ID, to another instance or to this one restarted.
  const endForShutdown = () => {
    clearInterval(heartbeat);
    open();
    if (!out.writableEnded) out.end(`retry: ${SHUTDOWN_RETRY_MS}\nevent: shutdown\ndata: ${JSON.stringify({ reason: 'server shutting down; reconnect with Last-Event-ID' })}\n\n`);
    // The connection goes too (after the data): a keep-alive socket kept by the client would
    // otherwise hold the server's close until its keep-alive timeout.
    request.raw.socket.end();
  };
  // Subscribed before the headers go out: a client that has its 200 gets every event committed
  // from then on, and Postgres unreachable here is a 503 problem, not a mute stream.
  const { unsubscribe, from } = await hub.subscribe((event) => (replaying ? buffered.push(event) : send(event)), endForShutdown);
  reply.hijack();
  if (out.writableEnded || request.raw.socket.destroyed) {
    // Ended for shutdown while subscribing, or the client already left.
    unsubscribe();
    return;
  }
  open();
  if (options.resumeFrom !== undefined) {
    position = await hub.cursorAt(options.resumeFrom);
    for (let page = 0; page < options.replayPages; page++) {
      const events = await hub.replayFrom(position, REPLAY_PAGE);
      for (const event of events) send(event);
      if (events.length < REPLAY_PAGE) break;
    }
  } else {
    position = from;
    out.write(`id: ${from.id}\n\n`);
  }
  replaying = false;
  for (const event of buffered) send(event);
  heartbeat = setInterval(() => out.write(': ping\n\n'), HEARTBEAT_MS);
  // The caller's credential is checked again now and then (request.reauthorize, set by the
  // guard): a revoked key, a signed-out session or an expired token ends the stream.
  const credential = request.reauthorize;
  const reauthorize = credential
    ? setInterval(() => {
        void credential.check().then((ok) => {
          if (ok || out.writableEnded) return;
          clearInterval(heartbeat);
          clearInterval(reauthorize);
          unsubscribe();
          // A client that reconnects with the same credential gets the 401 and stops.
          out.end(`event: unauthorized\ndata: ${JSON.stringify({ reason: 'the credential of this stream was revoked or has expired' })}\n\n`);
          request.raw.socket.end();
        });
      }, credential.everyMs)
    : undefined;
  request.raw.on('close', () => {
    clearInterval(heartbeat);
    clearInterval(reauthorize);
    unsubscribe();
  });
}
