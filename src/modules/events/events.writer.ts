import { clientOf, type Executor } from '../../db/client.js';
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
  // One round trip: the locks and the insert are one statement, a named prepared one (parsed and
  // planned once per connection; no query builder per call). The locks still come first: the
  // insert reads its rows through a filter on the lock CTE's count (an InitPlan, run before the
  // first row reaches the insert, so before any id is allocated), and a volatile target list is
  // evaluated after the ORDER BY, so the locks are taken in key order (no deadlock between two
  // writers). It was two statements, two of the ~10 round trips of an intake group commit.
  await clientOf(tx).query({
    name: 'domain_events_record_v1',
    text: `with l as (
        select pg_advisory_xact_lock(hashtextextended('domain_events:' || k, 0)) from jsonb_array_elements_text($1::jsonb) as k order by k
      ), v as (
        select * from jsonb_to_recordset($2::jsonb) as v("type" text, "version" int, "resourceType" text, "resourceId" text, "data" jsonb, "occurredAt" timestamptz, "teamId" uuid, "assigneeId" uuid, "ord" int)
      ), i as (
        insert into domain_events (type, version, resource_type, resource_id, data, occurred_at, team_id, assignee_id)
        select "type", "version", "resourceType", "resourceId", "data", "occurredAt", "teamId", "assigneeId" from v
         where (select count(*) from l) >= 0
         order by ord
        returning id
      )
      select pg_notify($3, max(id)::text) from i`,
    values: [JSON.stringify(keys), JSON.stringify(rows), EVENTS_CHANNEL],
  });
}

/** One event; see recordEvents. */
export function recordEvent(tx: Executor, event: RecordedEvent): Promise<void> {
  return recordEvents(tx, [event]);
}
