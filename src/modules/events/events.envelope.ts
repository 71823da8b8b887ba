import type { DomainEventEnvelope, EventType } from '../../domain/events/catalog.js';

/** The columns of a `domain_events` row as raw SQL answers them (a timestamp may come as text). */
export interface EventRowColumns {
  type: string;
  version: number;
  occurred_at: Date | string;
  resource_type: string;
  resource_id: string;
  data: Record<string, unknown>;
}

/**
 * What every consumer receives for an outbox row, as a webhook's body and on the live event
 * stream alike: one definition of the wire format, so the two cannot drift apart.
 */
export function envelopeOf(id: number | string, row: EventRowColumns): DomainEventEnvelope {
  return {
    id: String(id),
    type: row.type as EventType,
    version: row.version,
    occurredAt: new Date(row.occurred_at).toISOString(),
    resource: { type: row.resource_type as DomainEventEnvelope['resource']['type'], id: row.resource_id },
    data: row.data,
  };
}
