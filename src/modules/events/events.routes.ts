import { z } from 'zod';
import type { Database } from '../../db/client.js';
import { EVENT_DESCRIPTIONS, EVENT_TYPES, EVENT_VERSIONS, isEventType } from '../../domain/events/catalog.js';
import { principalOf, type Guard } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { badRequest } from '../../shared/errors.js';
import { STAFF_AND_INTEGRATIONS } from '../auth/api-keys.models.js';
import { envelopeOf, type EventRowColumns } from './events.envelope.js';
import { eventIdSchema, serveEventStream } from '../sla/breaches/event-stream.js';
import type { StreamHub, StreamSource } from '../sla/breaches/sla.stream.js';
import { streamTokenQuery } from '../stream-tokens/stream-tokens.routes.js';
import { eventAudienceOf } from './events.audience.js';
import { EVENTS_CHANNEL } from './events.writer.js';
import { eventComponentName } from './events.openapi.js';

const tags = ['events'];

/** The live event stream's source: the outbox itself, read in commit-safe order. */
export const DOMAIN_EVENTS_SOURCE: StreamSource = {
  table: 'domain_events',
  channel: EVENTS_CHANNEL,
  columns: 'type, version, resource_type, resource_id, data, occurred_at, team_id, assignee_id',
  toEvent: (row) => ({
    id: row.id,
    type: row.type as string,
    createdAt: new Date(row.occurred_at as string),
    data: {
      envelope: envelopeOf(row.id, row as unknown as EventRowColumns),
      teamId: row.team_id ?? null,
      assigneeId: row.assignee_id ?? null,
    },
  }),
};


const eventTypeView = z
  .object({
    type: z.string(),
    version: z.number().int(),
    description: z.string(),
    schema: z.string().describe('The envelope schema in the OpenAPI document (components.schemas)'),
  })
  .meta({ id: 'EventType' });

export function parseTypes(raw: string | undefined): Set<string> | null {
  if (raw === undefined || raw.trim() === '') return null;
  const types = raw
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const type of types) if (!isEventType(type)) throw badRequest('query.types', `unknown event type "${type}" (see GET /v1/events/types)`);
  return new Set(types);
}

export function registerEventRoutes(app: App, deps: { db: Database; guard: Guard; hub: StreamHub }): void {
  const { guard } = deps;

  app.get('/v1/events/types', {
    onRequest: guard(STAFF_AND_INTEGRATIONS),
    schema: {
      tags,
      summary: 'The event catalog: every type with its version and schema (webhooks and the event stream carry these)',
      security: bearerSecurity,
      response: { 200: z.object({ items: z.array(eventTypeView) }), ...problemResponses() },
    },
    handler: async () => ({
      items: EVENT_TYPES.map((type) => ({ type, version: EVENT_VERSIONS[type], description: EVENT_DESCRIPTIONS[type], schema: `#/components/schemas/${eventComponentName(type)}` })),
    }),
  });

  app.get('/v1/events/stream', {
    onRequest: guard(STAFF_AND_INTEGRATIONS, { streamToken: 'events' }),
    schema: {
      tags,
      summary:
        'Server-sent events of the event catalog (event: the type; data: the envelope), filtered by ?types= and, for an agent key, to the tickets of its teams and its own; resumable with Last-Event-ID without gaps',
      security: bearerSecurity,
      querystring: z.object({
        types: z.string().max(2000).optional().describe('Comma-separated event types (default: all)'),
        lastEventId: eventIdSchema.optional(),
        token: streamTokenQuery,
      }),
      headers: z.object({ 'last-event-id': eventIdSchema.optional() }),
    },
    handler: async (request, reply) => {
      const types = parseTypes(request.query.types);
      const visible = await eventAudienceOf(deps.db, principalOf(request));
      await serveEventStream(deps.hub, request, reply, {
        resumeFrom: request.headers['last-event-id'] ?? request.query.lastEventId,
        nameOf: (event) => ((types === null || types.has(event.type)) && visible(event) ? event.type : undefined),
        dataOf: (event) => event.data.envelope,
        replayPages: Number.POSITIVE_INFINITY,
      });
    },
  });
}
