import type { Database, Executor } from '../../db/client.js';
import type { Clock } from '../../shared/clock.js';
import type { Principal } from '../auth/api-keys.service.js';
import { withClocks, type ClocksOf } from '../tickets/ticket-clocks.js';
import { actorOf } from '../tickets/tickets.service.js';
import { uniqueOrConflict } from '../../db/unique.js';
import { badRequest, conflict, notFound } from '../../shared/errors.js';
import { appendEvents, latestTicketsOfCustomer, toTicketView, type Actor } from '../tickets/tickets.repository.js';
import { moveTicketsToCustomer } from '../tickets/tickets.writer.js';
import { recordEvent } from '../events/events.writer.js';
import { deleteIdentity, getCustomer, getIdentity, listIdentities, lockCustomers, markCustomerMerged, markIdentityVerified, moveIdentities, resolveMerged, verifiedHolder } from './customers.repository.js';

/**
 * Merges one customer into another: identities and tickets move to the target (each moved
 * ticket's timeline records it), and the source keeps a link so old references resolve.
 * Ids are compared in lower case: Postgres answers them so, and "ABC…" is "abc…".
 */
export async function mergeCustomers(tx: Executor, input: { sourceId: string; targetId: string; actor: Actor; now: Date }): Promise<void> {
  const { sourceId, targetId, actor, now } = input;
  if (sourceId === targetId) throw badRequest('body.targetCustomerId', 'a customer cannot be merged into itself');
  // Both rows locked in id order (lockCustomers): A→B racing B→A, or racing a confirmation
  // between the same two customers, waits instead of deadlocking, then sees "already merged".
  const locked = await lockCustomers(tx, [sourceId, targetId]);
  const source = locked.get(sourceId);
  if (!source) throw notFound('Customer', sourceId);
  const target = locked.get(targetId);
  if (!target) throw badRequest('body.targetCustomerId', `no customer with id ${targetId}`);
  if (source.mergedIntoId) throw conflict('already-merged', `Customer ${sourceId} was already merged into ${source.mergedIntoId}`);
  if (target.mergedIntoId) throw conflict('already-merged', `Customer ${targetId} was merged into ${target.mergedIntoId}; merge into that one`);
  await moveCustomer(tx, sourceId, targetId, actor, now);
}

async function moveCustomer(tx: Executor, sourceId: string, targetId: string, actor: Actor, now: Date): Promise<void> {
  await moveIdentities(tx, sourceId, targetId);
  const moved = await moveTicketsToCustomer(tx, sourceId, targetId, now);
  for (const t of moved) {
    await appendEvents(tx, t.id, actor, [{ type: 'customer_merged', data: { from: sourceId, to: targetId } }], now);
  }
  await markCustomerMerged(tx, sourceId, targetId, now);
  await recordEvent(tx, { type: 'customer.merged', resource: { type: 'customer', id: sourceId }, data: { customerId: sourceId, mergedIntoId: targetId, ticketIds: moved.map((t) => t.id) }, occurredAt: now });
}

/**
 * An agent vouches that a suggested identity (an address this customer typed or claimed)
 * really is theirs. What intake used to do on its own, now on a person's word:
 * - nobody holds the address verified: it becomes this customer's verified identity;
 * - another customer holds it: that customer is merged into this one (its identities and
 *   tickets move here, as with POST /v1/customers/:id/merge).
 * Confirming a verified identity changes nothing (a retried click is harmless).
 */
export async function confirmIdentity(tx: Executor, input: { customerId: string; identityId: string; actor: Actor; now: Date }): Promise<void> {
  const { customerId, identityId, actor, now } = input;
  // Who holds the address is read first, unlocked, so that both customers can then be locked
  // in id order, as a merge locks them. Locking the claimer and then the holder deadlocked
  // with a merge of the same two customers taking them the other way round (answered 500).
  const claim = await getIdentity(tx, customerId, identityId, { lock: false });
  const seenHolder = claim?.status === 'suggested' ? await verifiedHolder(tx, claim, { lock: false }) : undefined;
  const seenHolderId = seenHolder ? await resolveMerged(tx, seenHolder.customerId) : null;
  const locked = await lockCustomers(tx, seenHolderId ? [customerId, seenHolderId] : [customerId]);

  const customer = locked.get(customerId);
  if (!customer) throw notFound('Customer', customerId);
  if (customer.mergedIntoId) throw conflict('already-merged', `Customer ${customerId} was merged into ${customer.mergedIntoId}; confirm on that one`);
  const identity = await getIdentity(tx, customerId, identityId);
  if (!identity) throw notFound('Identity', identityId);
  if (identity.status === 'verified') return;
  const holder = await verifiedHolder(tx, identity);
  const holderId = holder ? await resolveMerged(tx, holder.customerId) : null;
  if (holderId !== seenHolderId) {
    // The address changed hands between our first look and our locks: nothing was changed yet.
    throw conflict('identity-changed', `${identity.kind} ${identity.address} changed hands while confirming; confirm again`);
  }
  if (!holderId) {
    // A first message from that address committing this instant wins the unique index: 409, retry.
    await uniqueOrConflict(() => markIdentityVerified(tx, identity.id), `${identity.kind} ${identity.address} was just verified on another customer; confirm again`);
    return;
  }
  if (holderId === customerId) {
    // Unreachable while one customer holds an address once; kept so a surprise is not a merge.
    throw conflict('identity-conflict', `Customer ${customerId} already holds ${identity.kind} ${identity.address}`);
  }
  await moveCustomer(tx, holderId, customerId, actor, now);
}

/**
 * An agent rejects a suggested identity (the customer never owned that address). Verified
 * identities are not removed this way: they decide where messages land and replies go.
 */
export async function dismissIdentity(tx: Executor, input: { customerId: string; identityId: string }): Promise<void> {
  const identity = await getIdentity(tx, input.customerId, input.identityId);
  if (!identity) throw notFound('Identity', input.identityId);
  if (identity.status !== 'suggested') throw conflict('identity-verified', `Identity ${input.identityId} is verified; only a suggested identity can be dismissed`);
  await deleteIdentity(tx, identity.id);
}

// The customer page shows the newest tickets; the full history is GET /v1/tickets?customerId=.
const TICKETS_ON_CUSTOMER = 50;

/**
 * What the customer routes call: each change in its own transaction, then the customer page
 * (identities and newest tickets with their clocks). Ids are taken in lower case: Postgres
 * answers them so, and "ABC…" and "abc…" are one customer.
 */
export function createCustomerService(deps: { db: Database; clock: Clock; clocksOf: ClocksOf }) {
  const { db, clock } = deps;

  async function page(id: string) {
    const customer = await getCustomer(db, id);
    if (!customer) throw notFound('Customer', id);
    const [identities, rows] = await Promise.all([listIdentities(db, id), latestTicketsOfCustomer(db, id, TICKETS_ON_CUSTOMER)]);
    return {
      id: customer.id,
      name: customer.name,
      language: customer.language,
      mergedIntoId: customer.mergedIntoId,
      createdAt: customer.createdAt,
      updatedAt: customer.updatedAt,
      identities: identities.map(({ customerId: _c, ...rest }) => rest),
      tickets: await withClocks(rows.map(toTicketView), deps.clocksOf),
    };
  }

  return {
    page: (id: string) => page(id.toLowerCase()),
    async merge(sourceId: string, targetId: string, principal: Principal) {
      const input = { sourceId: sourceId.toLowerCase(), targetId: targetId.toLowerCase(), actor: actorOf(principal), now: clock.now() };
      await db.transaction((tx) => mergeCustomers(tx, input));
      return page(input.targetId);
    },
    async confirmIdentity(customerId: string, identityId: string, principal: Principal) {
      const input = { customerId: customerId.toLowerCase(), identityId: identityId.toLowerCase(), actor: actorOf(principal), now: clock.now() };
      await db.transaction((tx) => confirmIdentity(tx, input));
      return page(input.customerId);
    },
    async dismissIdentity(customerId: string, identityId: string) {
      const input = { customerId: customerId.toLowerCase(), identityId: identityId.toLowerCase() };
      await db.transaction((tx) => dismissIdentity(tx, input));
      return page(input.customerId);
    },
  };
}

export type CustomerService = ReturnType<typeof createCustomerService>;
