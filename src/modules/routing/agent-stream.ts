import type { FastifyReply, FastifyRequest } from 'fastify';
import type { StreamEvent, StreamHub } from '../sla/breaches/sla.stream.js';

const HEARTBEAT_MS = 15_000;
const SHUTDOWN_RETRY_MS = 1_000;
const REPLAY_PAGES = 20;

/** The stream's event types for one agent, as its SSE clients see them. */
const AGENT_EVENTS: Record<string, string> = { agent_assigned: 'assigned', agent_unassigned: 'unassigned' };

/**
 * GET /v1/me/stream: the operations stream (the same hub, Postgres LISTEN/NOTIFY) filtered to
 * one agent's assignments, so an agent desk need not poll. Resumes after Last-Event-ID.
 */
export async function streamAgentEvents(hub: StreamHub, agentId: string, resumeFrom: number | undefined, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const out = reply.raw;
  const mine = (event: StreamEvent) => AGENT_EVENTS[event.type] !== undefined && event.data['agentId'] === agentId;
  const open = () => {
    if (out.headersSent) return;
    out.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    out.write('retry: 3000\n\n');
  };
  const sent = new Set<number>();
  const send = (event: StreamEvent) => {
    if (!mine(event) || sent.has(event.id) || out.writableEnded) return;
    sent.add(event.id);
    if (sent.size > 10_000) for (const id of [...sent].slice(0, 5_000)) sent.delete(id);
    out.write(`id: ${event.id}\nevent: ${AGENT_EVENTS[event.type]}\ndata: ${JSON.stringify({ ...event.data, at: event.createdAt })}\n\n`);
  };
  const buffered: StreamEvent[] = [];
  let replaying = true;
  let heartbeat: NodeJS.Timeout | undefined = undefined;
  const endForShutdown = () => {
    clearInterval(heartbeat);
    open();
    if (!out.writableEnded) out.end(`retry: ${SHUTDOWN_RETRY_MS}\nevent: shutdown\ndata: ${JSON.stringify({ reason: 'server shutting down; reconnect with Last-Event-ID' })}\n\n`);
    request.raw.socket.end();
  };
  // Subscribed before the headers go out, buffering while the replay runs, so no event falls between.
  const unsubscribe = await hub.subscribe((event) => (replaying ? buffered.push(event) : send(event)), endForShutdown);
  reply.hijack();
  if (out.writableEnded || request.raw.socket.destroyed) {
    unsubscribe();
    return;
  }
  open();
  if (resumeFrom !== undefined) {
    // The hub's replay is every event; pages of it are read until the agent's are all sent.
    let after = resumeFrom;
    for (let page = 0; page < REPLAY_PAGES; page++) {
      const events = await hub.replay(after);
      for (const event of events) send(event);
      if (events.length < 1000) break;
      after = events.at(-1)!.id;
    }
  }
  replaying = false;
  for (const event of buffered) send(event);
  heartbeat = setInterval(() => out.write(': ping\n\n'), HEARTBEAT_MS);
  request.raw.on('close', () => {
    clearInterval(heartbeat);
    unsubscribe();
  });
}
