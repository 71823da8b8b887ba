import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { expiryOf, type RetrySettings } from '../../domain/events/delivery-policy.js';
import { readFeed, type FeedCursor } from './commit-order.js';

/**
 * The two halves of webhook delivery that are pure SQL: turning outbox events into deliveries
 * (dispatch), and taking the deliveries that may go out now (claim).
 *
 * Order per resource: a resource's events get ids in commit order (events.writer.ts), and a
 * delivery is claimed only when it is the lowest unfinished one of its (subscription,
 * resource) chain AND no event of the resource with a lower id is still waiting to be
 * dispatched (it may sort after the cursor: see commit-order.ts). So a subscriber sees
 * ticket.created before that ticket's ticket.assigned, always, while different tickets go out
 * in parallel.
 */

export interface DispatchResult {
  events: number;
  deliveries: number;
  /** A full page: more events wait. */
  more: boolean;
  /** Committed events wait behind an older running transaction: look again shortly. */
  blocked: boolean;
}

/** Moves the dispatch cursor over the next settled events, creating a delivery per matching active subscription. One dispatcher at a time (the cursor row lock). */
export async function dispatchEvents(db: Database, now: Date, retry: RetrySettings, limit = 1000): Promise<DispatchResult> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`insert into webhook_dispatch_cursor (id, tx_id, event_id) values (1, '0'::xid8, 0) on conflict do nothing`);
    const current = await tx.execute<{ tx: string; event_id: number }>(sql`select tx_id::text as tx, event_id from webhook_dispatch_cursor where id = 1 for update`);
    const cursor: FeedCursor = { txId: current.rows[0]!.tx, id: Number(current.rows[0]!.event_id) };
    const { rows, blocked } = await readFeed<{ type: string }>(tx, 'domain_events', 'type', cursor, limit);
    if (rows.length === 0) return { events: 0, deliveries: 0, more: false, blocked };
    const first = rows[0]!;
    const last = rows.at(-1)!;
    // The batch is the settled range (first .. last] in (tx_id, id) order, read again in SQL.
    const inserted = await tx.execute(sql`
      insert into webhook_deliveries (subscription_id, event_id, event_type, resource_key, next_attempt_at, expires_at, created_at)
      select s.id, e.id, e.type, e.resource_type || ':' || e.resource_id, ${now}, ${expiryOf(now, retry)}, ${now}
        from domain_events e
        join webhook_subscriptions s
          on s.active and (s.event_types is null or e.type = any (s.event_types)) and s.created_at <= e.occurred_at
       where (e.tx_id, e.id) >= (${first.tx}::xid8, ${first.id}::bigint) and (e.tx_id, e.id) <= (${last.tx}::xid8, ${last.id}::bigint)
       order by e.tx_id, e.id`);
    await tx.execute(sql`update webhook_dispatch_cursor set tx_id = ${last.tx}::xid8, event_id = ${last.id}, updated_at = ${now} where id = 1`);
    return { events: rows.length, deliveries: inserted.rowCount ?? 0, more: rows.length === limit, blocked };
  });
}

export type ClaimedDelivery = {
  id: string;
  subscription_id: string;
  event_id: number;
  attempts: number;
  expires_at: Date;
};

/**
 * Takes up to `capacity` deliveries that may go out now, marks them delivering (leased until
 * `leaseUntil`, so a worker that dies mid-request leaves them to another) and counts the
 * attempt. At most `maxInFlight` per subscription are delivering at once, across processes.
 */
export async function claimDeliveries(db: Database, input: { now: Date; leaseUntil: Date; capacity: number; maxInFlight: number }): Promise<ClaimedDelivery[]> {
  const { now, leaseUntil, capacity, maxInFlight } = input;
  const result = await db.execute<ClaimedDelivery>(sql`
    with cur as (
      select tx_id, event_id from webhook_dispatch_cursor where id = 1
    ), cand as (
      select d.id, d.subscription_id, d.event_id
        from webhook_deliveries d
        join webhook_subscriptions s on s.id = d.subscription_id and s.active
       where ((d.state = 'pending' and d.next_attempt_at <= ${now}) or (d.state = 'delivering' and d.lease_until < ${now}))
         and not exists (
           select 1 from webhook_deliveries e
            where e.subscription_id = d.subscription_id and e.resource_key = d.resource_key
              and e.state in ('pending', 'delivering') and e.event_id < d.event_id)
         and not exists (
           select 1 from domain_events p, cur
            where p.resource_type = split_part(d.resource_key, ':', 1)
              and p.resource_id = substr(d.resource_key, strpos(d.resource_key, ':') + 1)
              and p.id < d.event_id and (p.tx_id, p.id) > (cur.tx_id, cur.event_id))
       order by d.event_id
       limit ${Math.max(capacity * 4, 100)}
       for update of d skip locked
    ), busy as (
      select subscription_id, count(*)::int as n from webhook_deliveries
       where state = 'delivering' and lease_until >= ${now}
       group by subscription_id
    ), ranked as (
      select c.id, c.event_id, row_number() over (partition by c.subscription_id order by c.event_id) as rn, coalesce(b.n, 0) as busy
        from cand c left join busy b using (subscription_id)
    ), picked as (
      select id from ranked where rn + busy <= ${maxInFlight} order by event_id limit ${capacity}
    )
    update webhook_deliveries d
       set state = 'delivering', lease_until = ${leaseUntil}, attempts = d.attempts + 1, last_attempt_at = ${now}
      from picked
     where d.id = picked.id
    returning d.id, d.subscription_id, d.event_id, d.attempts, d.expires_at`);
  return result.rows.map((r) => ({ ...r, event_id: Number(r.event_id), expires_at: new Date(r.expires_at) }));
}
