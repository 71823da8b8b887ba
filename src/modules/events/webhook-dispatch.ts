import { sql } from 'drizzle-orm';
import type { Database, Executor } from '../../db/client.js';
import type { DomainEventEnvelope } from '../../domain/events/catalog.js';
import { envelopeOf } from './events.envelope.js';
import { expiryOf, type RetrySettings } from '../../domain/events/delivery-policy.js';
import { readFeed, type FeedCursor } from './commit-order.js';

/**
 * The parts of webhook delivery that are pure SQL: turning outbox events into deliveries
 * (dispatch), taking the deliveries that may go out now (claim), and moving a chain on once
 * its head is settled (advance).
 *
 * Order per resource: a resource's events get ids in commit order (events.writer.ts), and the
 * deliveries of one (subscription, resource) form a chain (webhook_delivery_chains) whose head,
 * its lowest unfinished event id, is the only one that may go out; and not while an event of
 * the resource with a lower id still waits to be dispatched (it may sort after the cursor: see
 * commit-order.ts). So a subscriber sees ticket.created before that ticket's ticket.assigned,
 * always, while different tickets go out in parallel.
 *
 * Cost: the claim reads the due chains of each subscription through an index, then one index
 * probe per chain for its head; nothing it reads grows with the backlog behind the heads.
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
    // Each new delivery's chain: created due now, or, if it exists, only locked (`where false`
    // still locks), in key order like advanceChains, so a chain that finishes meanwhile sees
    // this delivery before it removes its row. An existing chain keeps its due time: its head
    // (the lowest event id) is found at claim time, whichever delivery it is.
    const inserted = await tx.execute<{ n: number }>(sql`
      with ins as (
        insert into webhook_deliveries (subscription_id, event_id, event_type, resource_key, next_attempt_at, expires_at, created_at)
        select s.id, e.id, e.type, e.resource_type || ':' || e.resource_id, ${now}, ${expiryOf(now, retry)}, ${now}
          from domain_events e
          join webhook_subscriptions s
            on s.active and (s.event_types is null or e.type = any (s.event_types)) and s.created_at <= e.occurred_at
         where (e.tx_id, e.id) >= (${first.tx}::xid8, ${first.id}::bigint) and (e.tx_id, e.id) <= (${last.tx}::xid8, ${last.id}::bigint)
         order by e.tx_id, e.id
        returning subscription_id, resource_key
      ), chains as (
        insert into webhook_delivery_chains as c (subscription_id, resource_key, due_at)
        select distinct subscription_id, resource_key, ${now}::timestamptz from ins order by subscription_id, resource_key
        on conflict (subscription_id, resource_key) do update set due_at = c.due_at where false
      )
      select count(*)::int as n from ins`);
    await tx.execute(sql`update webhook_dispatch_cursor set tx_id = ${last.tx}::xid8, event_id = ${last.id}, updated_at = ${now} where id = 1`);
    return { events: rows.length, deliveries: inserted.rows[0]?.n ?? 0, more: rows.length === limit, blocked };
  });
}

export type ClaimedDelivery = {
  id: string;
  subscription_id: string;
  resource_key: string;
  event_id: number;
  attempts: number;
  expires_at: Date;
  /** The event as sent (null: gone meanwhile). */
  event: DomainEventEnvelope | null;
  /** Where and how to send it (null: the subscription is gone). */
  target: { url: string; secret: string; previousSecret: string | null; previousSecretExpiresAt: Date | null } | null;
};

type ClaimRow = Omit<ClaimedDelivery, 'event' | 'target'> & {
  type: string | null;
  version: number | null;
  occurred_at: Date | string | null;
  resource_type: string | null;
  resource_id: string | null;
  data: Record<string, unknown> | null;
  url: string | null;
  secret: string | null;
  previous_secret: string | null;
  previous_secret_expires_at: Date | string | null;
};

export interface ClaimInput {
  now: Date;
  leaseUntil: Date;
  capacity: number;
  maxInFlight: number;
}

/**
 * Takes up to `capacity` deliveries that may go out now: the heads of due chains, at most
 * `maxInFlight` per subscription delivering at once across processes. Marks each delivering
 * (leased until `leaseUntil`, so a worker that dies mid-request leaves it to another), counts
 * the attempt, and makes its chain due at the lease's end. Chains locked by another claim or
 * a settlement are skipped, never waited for. Answers each delivery with its event and its
 * subscription's URL and secrets, read in the same statement.
 *
 * A due chain whose head may not go out (an earlier event of the resource not dispatched yet)
 * stays due and is looked at again next time; one whose due time is stale (a redelivery made
 * it due early) gets its head's; one with no unfinished delivery left is removed.
 */
export async function claimDeliveries(db: Database, input: ClaimInput): Promise<ClaimedDelivery[]> {
  if (input.capacity <= 0) return [];
  return db.transaction((tx) => claimDeliveriesIn(tx, input));
}

/**
 * The claim inside the caller's transaction (a settlement claims the next deliveries in the
 * transaction that freed their slots). It does not wait for the locks others hold on
 * subscriptions (a try-lock) or chains (`skip locked`); the one row it may wait for is a head
 * whose lease ran out while its first sender is settling it. The subscription locks it takes
 * are held until the caller's transaction ends, like the claimed rows.
 */
export async function claimDeliveriesIn(tx: Executor, input: ClaimInput): Promise<ClaimedDelivery[]> {
  const { now, leaseUntil, capacity, maxInFlight } = input;
  if (capacity <= 0) return [];
  // One claimer per subscription at a time (others skip it this round, never wait): the free
  // slots are counted in the next statement, whose snapshot then sees every earlier claim.
  // Counted in the same statement as a concurrent claim, two workers each filled the limit
  // (the chains test saw 6 requests at once with a limit of 3).
  const locked = await tx.execute<{ id: string }>(sql`
    select id from webhook_subscriptions
     where active and pg_try_advisory_xact_lock(hashtextextended('webhook-claim:' || id::text, 0))`);
  if (locked.rows.length === 0) return [];
  const result = await tx.execute<ClaimRow>(sql`
    with cur as (
      select tx_id, event_id from webhook_dispatch_cursor where id = 1
    ), room as (
      select s.id, ${maxInFlight} - (
               select count(*) from webhook_delivery_chains f
                where f.subscription_id = s.id and f.in_flight and f.due_at > ${now}) as free
        from webhook_subscriptions s
       where s.id in (select jsonb_array_elements_text(${JSON.stringify(locked.rows.map((r) => r.id))}::jsonb)::uuid)
    ), due as (
      select c.subscription_id, c.resource_key
        from room
        cross join lateral (
          select c.subscription_id, c.resource_key
            from webhook_delivery_chains c
           where c.subscription_id = room.id and c.due_at <= ${now}
           order by c.due_at
           limit greatest(room.free, 0)
             for update skip locked
        ) c
       limit ${capacity}
    ), head as (
      select due.subscription_id, due.resource_key, h.id, h.event_id, h.state, h.next_attempt_at, h.lease_until
        from due
        left join lateral (
          select d.id, d.event_id, d.state, d.next_attempt_at, d.lease_until
            from webhook_deliveries d
           where d.subscription_id = due.subscription_id and d.resource_key = due.resource_key and d.state in ('pending', 'delivering')
           order by d.event_id
           limit 1
        ) h on true
    ), ready as (
      select head.* from head
       where ((head.state = 'pending' and head.next_attempt_at <= ${now}) or (head.state = 'delivering' and head.lease_until < ${now}))
         and not exists (
           select 1 from domain_events p, cur
            where p.resource_type = split_part(head.resource_key, ':', 1)
              and p.resource_id = substr(head.resource_key, strpos(head.resource_key, ':') + 1)
              and p.id < head.event_id and (p.tx_id, p.id) > (cur.tx_id, cur.event_id))
    ), stale as (
      update webhook_delivery_chains c
         set due_at = case when head.state = 'pending' then head.next_attempt_at else head.lease_until end,
             in_flight = head.state = 'delivering'
        from head
       where c.subscription_id = head.subscription_id and c.resource_key = head.resource_key
         and ((head.state = 'pending' and head.next_attempt_at > ${now}) or (head.state = 'delivering' and head.lease_until >= ${now}))
    ), empty as (
      delete from webhook_delivery_chains c
       using head
       where c.subscription_id = head.subscription_id and c.resource_key = head.resource_key and head.id is null
    ), leased as (
      update webhook_delivery_chains c
         set due_at = ${leaseUntil}, in_flight = true
        from ready
       where c.subscription_id = ready.subscription_id and c.resource_key = ready.resource_key
    ), taken as (
      update webhook_deliveries d
         set state = 'delivering', lease_until = ${leaseUntil}, attempts = d.attempts + 1, last_attempt_at = ${now}
        from ready
       where d.id = ready.id
      returning d.id, d.subscription_id, d.resource_key, d.event_id, d.attempts, d.expires_at
    )
    select t.*, e.type, e.version, e.occurred_at, e.resource_type, e.resource_id, e.data,
           s.url, s.secret, s.previous_secret, s.previous_secret_expires_at
      from taken t
      left join domain_events e on e.id = t.event_id
      left join webhook_subscriptions s on s.id = t.subscription_id`);
  return result.rows.map(claimedOf);
}

const dateOf = (value: Date | string) => (value instanceof Date ? value : new Date(value));

function claimedOf(r: ClaimRow): ClaimedDelivery {
  const event: DomainEventEnvelope | null =
    r.type === null || r.version === null || r.occurred_at === null || r.resource_type === null || r.resource_id === null || r.data === null
      ? null
      : envelopeOf(r.event_id, { type: r.type, version: r.version, occurred_at: r.occurred_at, resource_type: r.resource_type, resource_id: r.resource_id, data: r.data });
  const target =
    r.url === null || r.secret === null
      ? null
      : { url: r.url, secret: r.secret, previousSecret: r.previous_secret, previousSecretExpiresAt: r.previous_secret_expires_at === null ? null : dateOf(r.previous_secret_expires_at) };
  return { id: r.id, subscription_id: r.subscription_id, resource_key: r.resource_key, event_id: Number(r.event_id), attempts: r.attempts, expires_at: dateOf(r.expires_at), event, target };
}

export interface ChainKey {
  subscriptionId: string;
  resourceKey: string;
}

/**
 * Moves chains on after their heads were settled (in the caller's transaction, after the
 * deliveries' own updates): each chain becomes due when its new head is (a retried head's next
 * attempt, or the next delivery's creation), or its row goes when nothing is left. The rows
 * are locked first, in key order, and read in a later statement: a dispatch that added a
 * delivery to the chain holds that lock until it commits, so its delivery is seen here and the
 * chain is not removed under it.
 */
export async function advanceChains(tx: Executor, keys: ChainKey[]): Promise<void> {
  if (keys.length === 0) return;
  const json = JSON.stringify(keys);
  await tx.execute(sql`
    select 1 from webhook_delivery_chains c
      join jsonb_to_recordset(${json}::jsonb) as k("subscriptionId" uuid, "resourceKey" text)
        on c.subscription_id = k."subscriptionId" and c.resource_key = k."resourceKey"
     order by c.subscription_id, c.resource_key
       for update of c`);
  await tx.execute(sql`
    with k as (
      select distinct * from jsonb_to_recordset(${json}::jsonb) as k("subscriptionId" uuid, "resourceKey" text)
    ), nxt as (
      select k."subscriptionId" as subscription_id, k."resourceKey" as resource_key, h.state, h.next_attempt_at, h.lease_until
        from k
        left join lateral (
          select d.state, d.next_attempt_at, d.lease_until
            from webhook_deliveries d
           where d.subscription_id = k."subscriptionId" and d.resource_key = k."resourceKey" and d.state in ('pending', 'delivering')
           order by d.event_id
           limit 1
        ) h on true
    ), gone as (
      delete from webhook_delivery_chains c
       using nxt
       where c.subscription_id = nxt.subscription_id and c.resource_key = nxt.resource_key and nxt.state is null
    )
    update webhook_delivery_chains c
       set due_at = case when nxt.state = 'delivering' then coalesce(nxt.lease_until, nxt.next_attempt_at) else nxt.next_attempt_at end,
           in_flight = nxt.state = 'delivering'
      from nxt
     where c.subscription_id = nxt.subscription_id and c.resource_key = nxt.resource_key and nxt.state is not null`);
}
