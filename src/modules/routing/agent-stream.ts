import type { FastifyReply, FastifyRequest } from 'fastify';
import { serveEventStream } from '../sla/breaches/event-stream.js';
import type { StreamHub } from '../sla/breaches/sla.stream.js';

/** The stream's event types for one agent, as its SSE clients see them. */
const AGENT_EVENTS: Record<string, string> = { agent_assigned: 'assigned', agent_unassigned: 'unassigned' };

/**
 * GET /v1/me/stream: the operations stream (the same hub, Postgres LISTEN/NOTIFY) filtered to
 * one agent's assignments, so an agent desk need not poll. Resumes after Last-Event-ID; the
 * hub's replay is every event, so pages of it are read until the agent's are all sent.
 */
export async function streamAgentEvents(hub: StreamHub, agentId: string, resumeFrom: number | undefined, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await serveEventStream(hub, request, reply, {
    resumeFrom,
    nameOf: (event) => (event.data['agentId'] === agentId ? AGENT_EVENTS[event.type] : undefined),
    replayPages: 20,
  });
}
