import { z } from 'zod';

/**
 * The catalog of domain events an integration can subscribe to (webhooks) or follow live (the
 * event stream). Each type has a version and a zod schema of its `data`; a change that would
 * break a consumer gets a new version, never an edit in place.
 *
 * Events carry ids and codes, not a customer's personal data (no names, addresses, subjects or
 * message text): a subscriber reads those through the API, so an erased customer's data never
 * lingers in the outbox or in a subscriber's delivery log.
 */

// Lenient about the uuid variant: ids come from Postgres, and a check here must never fail a ticket change.
const uuid = z.guid();
const instant = z.iso.datetime({ offset: true });
const ticketRef = { ticketId: uuid, ticketNumber: z.number().int() };

const ticketStatus = z.enum(['new', 'open', 'pending', 'on_hold', 'solved', 'closed']);

export const eventDataSchemas = {
  'ticket.created': z.object({
    ...ticketRef,
    channel: z.string(),
    priority: z.string(),
    status: ticketStatus,
    customerId: uuid.nullable(),
    teamId: uuid.nullable(),
    assigneeId: uuid.nullable(),
    source: z.string().describe('api, or the channel the first message came in on'),
  }),
  'ticket.updated': z.object({
    ...ticketRef,
    changes: z
      .record(z.string(), z.object({ from: z.unknown().optional(), to: z.unknown().optional() }))
      .describe('The changed fields, each with its old and new value; a personal field (subject) is named without its values'),
  }),
  'ticket.assigned': z.object({ ...ticketRef, from: uuid.nullable(), to: uuid.nullable(), teamId: uuid.nullable(), reason: z.string().optional() }),
  'ticket.status_changed': z.object({ ...ticketRef, from: ticketStatus, to: ticketStatus, reason: z.string().optional() }),
  'ticket.merged': z.object({ ...ticketRef, targetTicketId: uuid, targetTicketNumber: z.number().int() }),
  'message.created': z.object({
    ...ticketRef,
    messageId: uuid,
    kind: z.enum(['customer', 'agent', 'note']),
    channel: z.string().nullable(),
  }),
  'sla.warning': z.object({ ...ticketRef, metric: z.string(), dueAt: instant.nullable() }),
  'sla.breached': z.object({ ...ticketRef, metric: z.string(), dueAt: instant.nullable(), breachId: uuid }),
  'sla.escalated': z.object({ ...ticketRef, breachId: uuid, level: z.number().int(), metric: z.string() }),
  'commitment.due': z.object({ ...ticketRef, commitmentId: uuid, dueAt: instant, breachId: uuid }),
  'commitment.broken': z.object({ ...ticketRef, commitmentId: uuid, dueAt: instant }),
  'csat.responded': z.object({ ...ticketRef, surveyId: uuid, score: z.number().int() }),
  'alarm.raised': z.object({
    alarmId: z.string(),
    source: z.enum(['kpi_target', 'webhook_subscription']),
    targetId: uuid.nullable(),
    detail: z.string(),
    value: z.number().nullable(),
  }),
  'alarm.cleared': z.object({ alarmId: z.string(), source: z.enum(['kpi_target', 'webhook_subscription']), targetId: uuid.nullable(), value: z.number().nullable() }),
  'customer.merged': z.object({ customerId: uuid, mergedIntoId: uuid, ticketIds: z.array(uuid) }),
  'customer.erased': z.object({ customerId: uuid, reason: z.string().optional() }),
} as const;

export type EventType = keyof typeof eventDataSchemas;
export type EventData<T extends EventType> = z.infer<(typeof eventDataSchemas)[T]>;

export const EVENT_TYPES = Object.keys(eventDataSchemas) as EventType[];

/** The current version of each type's `data` schema. */
export const EVENT_VERSIONS: Record<EventType, number> = Object.fromEntries(EVENT_TYPES.map((t) => [t, 1])) as Record<EventType, number>;

export const EVENT_DESCRIPTIONS: Record<EventType, string> = {
  'ticket.created': 'A ticket was opened (by a customer message on a channel, or through the API).',
  'ticket.updated': 'Fields of a ticket other than status and assignee changed (priority, team, tags, subject); `changes` names them.',
  'ticket.assigned': 'The assignee changed (to null: unassigned).',
  'ticket.status_changed': 'The status moved (new, open, pending, on_hold, solved, closed).',
  'ticket.merged': 'The ticket was merged into another; it is closed and its messages moved.',
  'message.created': 'A message was added: from the customer, a public agent reply, or an internal note.',
  'sla.warning': 'An SLA clock passed its warning threshold.',
  'sla.breached': 'An SLA clock passed its target.',
  'sla.escalated': 'An escalation level of a breach ran.',
  'commitment.due': 'A promise made to the customer came due unkept (a breach is on the operations queue).',
  'commitment.broken': 'An agent marked a promise made to the customer as broken.',
  'csat.responded': 'The customer answered the satisfaction survey.',
  'alarm.raised': 'An alarm was raised (a KPI target missed, a webhook subscription disabled after failing).',
  'alarm.cleared': 'An alarm cleared.',
  'customer.merged': 'A customer was merged into another; identities and tickets moved.',
  'customer.erased': "A customer's personal data was erased (GDPR); the tickets remain as anonymous shells.",
};

export interface EventResource {
  type: 'ticket' | 'customer' | 'alarm' | 'commitment';
  id: string;
}

/** What a writer records: the envelope's id, time and version are filled in by the outbox. */
export interface NewDomainEvent<T extends EventType = EventType> {
  type: T;
  resource: EventResource;
  data: EventData<T>;
}

/** The envelope every consumer receives (webhook body, stream event data). */
export interface DomainEventEnvelope {
  id: string;
  type: EventType;
  version: number;
  occurredAt: string;
  resource: EventResource;
  data: Record<string, unknown>;
}

export const resourceSchema = z.object({ type: z.enum(['ticket', 'customer', 'alarm', 'commitment']), id: z.string() });

/** The envelope's schema for one type (published as an OpenAPI component). */
export function envelopeSchema(type: EventType) {
  return z
    .object({
      id: z.string().describe('Unique per event, stable across redeliveries (also the webhook-id header, prefixed msg_)'),
      type: z.literal(type),
      version: z.literal(EVENT_VERSIONS[type]),
      occurredAt: instant,
      resource: resourceSchema,
      data: eventDataSchemas[type],
    })
    .describe(EVENT_DESCRIPTIONS[type]);
}

export const isEventType = (value: string): value is EventType => Object.hasOwn(eventDataSchemas, value);

/** Whether a subscription's filter (null: every type) takes an event type. */
export const matchesTypes = (filter: readonly string[] | null, type: string): boolean => filter === null || filter.length === 0 || filter.includes(type);

/** Validates an event before it is written: a writer's mistake fails its transaction, not a subscriber. */
export function checkEvent(event: NewDomainEvent): NewDomainEvent {
  if (!isEventType(event.type)) throw new Error(`unknown event type ${event.type}`);
  // Dates become ISO strings here, as they will in the JSON the outbox stores.
  const plain: unknown = JSON.parse(JSON.stringify(event.data));
  const data = eventDataSchemas[event.type].parse(plain) as EventData<EventType>;
  return { ...event, data };
}
