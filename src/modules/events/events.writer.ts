import { sql } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { checkEvent, EVENT_VERSIONS, type EventType, type NewDomainEvent } from '../../domain/events/catalog.js';

/** NOTIFY channel: wakes the webhook dispatcher and every API process's event stream at commit. */
export const EVENTS_CHANNEL = 'domain_events';

export type RecordedEvent = NewDomainEvent & {
  occurredAt?: Date;
  /** For a ticket's event: its team and assignee, whose agents see it on the live stream. */
  audience?: { teamId: string | null; assigneeId: string | null };
};

/**
 * Records domain events in the caller's transaction (the transactional outbox): they become
 * visible, and are delivered, only if that transaction commits. Call it with the change's own
 * `tx`, as late in the transaction as practical (it takes a lock per resource, below).
 *
 * Per-resource order: a transaction-scoped advisory lock per resource is held from here to
 * commit, so two transactions recording events about one ticket allocate their ids in commit
 * order; webhooks deliver a resource's events in id order (see webhook-dispatch.ts).
 */
export async function recordEvents(tx: Executor, events: RecordedEvent[]): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((e, ord) => {
    const checked = checkEvent(e);
    return {
      type: checked.type as EventType,
      version: EVENT_VERSIONS[checked.type],
      resourceType: checked.resource.type,
      resourceId: checked.resource.id.toLowerCase(),
      data: checked.data,
      occurredAt: (e.occurredAt ?? new Date()).toISOString(),
      teamId: e.audience?.teamId ?? null,
      assigneeId: e.audience?.assigneeId ?? null,
      ord,
    };
  });
  const keys = [...new Set(rows.map((r) => `${r.resourceType}:${r.resourceId}`))].sort();
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended('domain_events:' || k, 0)) from jsonb_array_elements_text(${JSON.stringify(keys)}::jsonb) as k order by k`);
  await tx.execute(sql`
    with v as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v("type" text, "version" int, "resourceType" text, "resourceId" text, "data" jsonb, "occurredAt" timestamptz, "teamId" uuid, "assigneeId" uuid, "ord" int)
    ), i as (
      insert into domain_events (type, version, resource_type, resource_id, data, occurred_at, team_id, assignee_id)
      select "type", "version", "resourceType", "resourceId", "data", "occurredAt", "teamId", "assigneeId" from v order by ord
      returning id
    )
    select pg_notify(${EVENTS_CHANNEL}, max(id)::text) from i`);
}

/** One event; see recordEvents. */
export function recordEvent(tx: Executor, event: RecordedEvent): Promise<void> {
  return recordEvents(tx, [event]);
}
