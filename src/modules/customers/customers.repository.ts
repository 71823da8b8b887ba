import { randomUUID } from 'node:crypto';
import { and, eq, or, sql, type SQL, type WithSubquery } from 'drizzle-orm';
import type { SenderIdentity } from '../../channels/channel.types.js';
import type { Executor } from '../../db/client.js';
import { customerIdentities, customers } from './customers.table.js';

/** Only verified identities find a customer or receive a reply; suggestions are claims. */
export const VERIFIED = sql`${customerIdentities.status} = 'verified'`;

export type CustomerRow = typeof customers.$inferSelect;
export type IdentityRow = typeof customerIdentities.$inferSelect;

/** Follows merge links to the surviving customer (merges may chain). */
export async function resolveMerged(tx: Executor, customerId: string): Promise<string> {
  let current = customerId;
  for (let hops = 0; hops < 16; hops++) {
    const [row] = await tx.select({ mergedIntoId: customers.mergedIntoId }).from(customers).where(eq(customers.id, current));
    if (!row?.mergedIntoId) return current;
    current = row.mergedIntoId;
  }
  return current;
}

/**
 * The customer that is live now for this id (merge links followed), its row locked FOR SHARE
 * until the transaction ends, for a writer about to attach something to it (a ticket, an
 * identity). FOR SHARE, not FOR KEY SHARE: merge and confirm lock customers FOR NO KEY UPDATE,
 * which conflicts with FOR SHARE but not with FOR KEY SHARE. So a merge in progress makes us
 * wait for its commit; the locking read then returns the merged row (READ COMMITTED re-reads a
 * row it waited for), and we follow its link to the survivor. Concurrent writers share the lock.
 */
export async function lockLiveCustomer(tx: Executor, customerId: string): Promise<string> {
  let current = customerId;
  for (let hops = 0; hops < 16; hops++) {
    const [row] = await tx.select({ mergedIntoId: customers.mergedIntoId }).from(customers).where(eq(customers.id, current)).for('share');
    if (!row?.mergedIntoId) return current;
    current = row.mergedIntoId;
  }
  return current;
}

/**
 * Finds the customer known by any of these identities, or creates one, and links every
 * identity to it, verified. Only for identities we can vouch for: the sender a provider
 * authenticated, or what an agent entered. Addresses a customer merely claims go to
 * suggestIdentities instead.
 *
 * Concurrency: two first messages from the same new person may race. The unique index on
 * (kind, address) makes the loser's identity insert wait for the winner's commit and insert
 * nothing; the loser then drops the customer it made and uses the winner's.
 */
export async function findOrCreateCustomer(
  tx: Executor,
  identities: SenderIdentity[],
  profile: { name?: string | undefined; language?: string | undefined; now: Date },
): Promise<{ customerId: string; created: boolean }> {
  const unique = dedupeIdentities(identities);
  const known = await knownIdentities(tx, unique);
  // Locked (FOR SHARE, see lockLiveCustomer) so that a merge of this customer cannot commit
  // between our read and our ticket insert: that left the new ticket on a merged-away customer.
  const existingId = known[0] ? await lockLiveCustomer(tx, known[0].customerId) : null;
  if (existingId) {
    // A returning customer whose every identity is already linked needs no insert.
    if (known.length < unique.length) await linkIdentities(tx, existingId, unique, profile.now);
    return { customerId: existingId, created: false };
  }
  return createCustomer(tx, unique, profile);
}

/**
 * Of these identities, the ones some customer holds verified (kind, address), as a statement to
 * run inside a larger one (intake's group commit reads a whole group's senders at once).
 */
export function verifiedIdentitiesSelect(identities: readonly Pick<SenderIdentity, 'kind' | 'address'>[]): SQL {
  return sql`select kind, address from customer_identities
    where status = 'verified' and (kind, address) in (select * from unnest(${sql.param(identities.map((i) => i.kind))}::text[], ${sql.param(identities.map((i) => i.address))}::text[]))`;
}

/**
 * findOrCreateCustomer's second half, for identities the caller found unknown in this
 * transaction (verifiedIdentityKeys): the customer and its identities in one statement. A
 * concurrent first message of the same person is handled as in findOrCreateCustomer.
 */
export async function createCustomer(
  tx: Executor,
  identities: SenderIdentity[],
  profile: { name?: string | undefined; language?: string | undefined; now: Date },
): Promise<{ customerId: string; created: boolean }> {
  const unique = dedupeIdentities(identities);
  // The customer and its identities in one statement: the new row's id is chosen here.
  const customerId = randomUUID();
  const newCustomer = tx
    .insert(customers)
    .values({ id: customerId, name: profile.name ?? null, language: profile.language ?? null, createdAt: profile.now, updatedAt: profile.now });
  if (unique.length === 0) {
    await newCustomer;
    return { customerId, created: true };
  }
  const inserted = await linkIdentities(tx, customerId, unique, profile.now, tx.$with('new_customer').as(newCustomer.returning({ id: customers.id })));
  if (inserted === 0) {
    const winner = await findCustomerIdByIdentities(tx, unique);
    if (winner) {
      await tx.delete(customers).where(eq(customers.id, customerId));
      return { customerId: winner, created: false };
    }
  }
  return { customerId, created: true };
}

/** The stored identities among these, oldest first, with their customer's merge link. */
async function knownIdentities(tx: Executor, identities: SenderIdentity[]) {
  if (identities.length === 0) return [];
  return tx
    .select({ customerId: customerIdentities.customerId, mergedIntoId: customers.mergedIntoId })
    .from(customerIdentities)
    .innerJoin(customers, eq(customers.id, customerIdentities.customerId))
    .where(and(VERIFIED, or(...identities.map((i) => and(eq(customerIdentities.kind, i.kind), eq(customerIdentities.address, i.address))))))
    .orderBy(customerIdentities.createdAt);
}

async function findCustomerIdByIdentities(tx: Executor, identities: SenderIdentity[]): Promise<string | null> {
  if (identities.length === 0) return null;
  const rows = await tx
    .select({ customerId: customerIdentities.customerId })
    .from(customerIdentities)
    .where(and(VERIFIED, or(...identities.map((i) => and(eq(customerIdentities.kind, i.kind), eq(customerIdentities.address, i.address))))))
    .orderBy(customerIdentities.createdAt)
    .limit(1);
  const found = rows[0]?.customerId;
  return found ? resolveMerged(tx, found) : null;
}

/** `withCustomer`: the insert of the customer itself, run as a CTE of the same statement. */
async function linkIdentities(tx: Executor, customerId: string, identities: SenderIdentity[], now: Date, withCustomer?: WithSubquery): Promise<number> {
  if (identities.length === 0) return 0;
  const inserted = await (withCustomer ? tx.with(withCustomer) : tx)
    .insert(customerIdentities)
    .values(
      identities.map((i) => ({
        customerId,
        kind: i.kind,
        address: i.address,
        displayName: i.displayName ?? null,
        handle: i.handle ?? null,
        createdAt: now,
      })),
    )
    .onConflictDoNothing()
    .returning({ id: customerIdentities.id });
  return inserted.length;
}

function dedupeIdentities(identities: SenderIdentity[]): SenderIdentity[] {
  const seen = new Set<string>();
  return identities.filter((i) => {
    const key = `${i.kind}\0${i.address}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export async function getCustomer(tx: Executor, id: string): Promise<CustomerRow | undefined> {
  const [row] = await tx.select().from(customers).where(eq(customers.id, id));
  return row;
}

/**
 * Locks customers for a merge or a confirmation, always in id order (lower-case, as Postgres
 * prints uuids): every path that locks two customers takes them in the same order, so two
 * such transactions wait for each other instead of deadlocking. FOR NO KEY UPDATE, not FOR
 * UPDATE: FOR UPDATE also blocks every ticket insert whose foreign-key check takes FOR KEY
 * SHARE on the customer. Absent ids are missing from the map.
 */
export async function lockCustomers(tx: Executor, ids: readonly string[]): Promise<Map<string, CustomerRow>> {
  const locked = new Map<string, CustomerRow>();
  for (const id of [...new Set(ids.map((i) => i.toLowerCase()))].sort()) {
    const [row] = await tx.select().from(customers).where(eq(customers.id, id)).for('no key update');
    if (row) locked.set(id, row);
  }
  return locked;
}

export async function getIdentity(tx: Executor, customerId: string, identityId: string, options: { lock?: boolean } = { lock: true }): Promise<IdentityRow | undefined> {
  const query = tx
    .select()
    .from(customerIdentities)
    .where(and(eq(customerIdentities.id, identityId), eq(customerIdentities.customerId, customerId)));
  const [row] = options.lock ? await query.for('update') : await query;
  return row;
}

export async function deleteIdentity(tx: Executor, identityId: string): Promise<void> {
  await tx.delete(customerIdentities).where(eq(customerIdentities.id, identityId));
}

export async function markIdentityVerified(tx: Executor, identityId: string): Promise<void> {
  await tx.update(customerIdentities).set({ status: 'verified' }).where(eq(customerIdentities.id, identityId));
}

export async function listIdentities(tx: Executor, customerId: string): Promise<IdentityRow[]> {
  return tx.select().from(customerIdentities).where(eq(customerIdentities.customerId, customerId)).orderBy(customerIdentities.createdAt);
}

/**
 * Moves every identity of one customer to another. Where both hold the same address, one row
 * stays: the verified one if either is verified (a suggestion the merge proved true is gone).
 */
export async function moveIdentities(tx: Executor, fromCustomerId: string, toCustomerId: string): Promise<void> {
  const other = sql`(select 1 from ${customerIdentities} as o where o.customer_id = ${fromCustomerId} and o.kind = ${customerIdentities.kind} and o.address = ${customerIdentities.address})`;
  await tx.delete(customerIdentities).where(and(eq(customerIdentities.customerId, toCustomerId), sql`${customerIdentities.status} = 'suggested'`, sql`exists ${other}`));
  const kept = sql`(select 1 from ${customerIdentities} as o where o.customer_id = ${toCustomerId} and o.kind = ${customerIdentities.kind} and o.address = ${customerIdentities.address})`;
  await tx.delete(customerIdentities).where(and(eq(customerIdentities.customerId, fromCustomerId), sql`exists ${kept}`));
  await tx.update(customerIdentities).set({ customerId: toCustomerId }).where(eq(customerIdentities.customerId, fromCustomerId));
}

/**
 * Records addresses a customer claimed (typed into a message, a Reply-To) as suggestions on
 * that customer. Links nothing and changes no reply destination. An address the customer
 * already holds (verified or suggested) is skipped. Returns the suggestions made now.
 */
export async function suggestIdentities(tx: Executor, customerId: string, identities: SenderIdentity[], now: Date): Promise<IdentityRow[]> {
  const unique = dedupeIdentities(identities);
  if (unique.length === 0) return [];
  return tx
    .insert(customerIdentities)
    .values(unique.map((i) => ({ customerId, kind: i.kind, address: i.address, displayName: i.displayName ?? null, handle: i.handle ?? null, status: 'suggested' as const, createdAt: now })))
    .onConflictDoNothing({ target: [customerIdentities.customerId, customerIdentities.kind, customerIdentities.address] })
    .returning();
}

/** The customer holding this address verified, if any; with `lock`, locked until the transaction ends. */
export async function verifiedHolder(tx: Executor, identity: { kind: string; address: string }, options: { lock?: boolean } = { lock: true }): Promise<IdentityRow | undefined> {
  const query = tx
    .select()
    .from(customerIdentities)
    .where(and(VERIFIED, eq(customerIdentities.kind, identity.kind), eq(customerIdentities.address, identity.address)));
  const [row] = options.lock ? await query.for('update') : await query;
  return row;
}

export async function markCustomerMerged(tx: Executor, sourceId: string, targetId: string, now: Date): Promise<void> {
  await tx.update(customers).set({ mergedIntoId: targetId, updatedAt: now }).where(eq(customers.id, sourceId));
  // Anyone already merged into the source now points straight at the target.
  await tx.update(customers).set({ mergedIntoId: targetId }).where(and(eq(customers.mergedIntoId, sourceId), sql`${customers.id} <> ${targetId}`));
}

/**
 * A new customer for a message whose sender is only claimed (a later From header, a Reply-To,
 * X-Original-Sender): it holds that address as a suggestion, never verified, so it matches no
 * existing customer, receives no reply, and merges with the real holder only if an agent
 * confirms the suggestion. Returns the suggestion made.
 */
export async function claimantCustomer(
  tx: Executor,
  claimed: SenderIdentity,
  profile: { name?: string | undefined; language?: string | undefined; now: Date },
): Promise<{ customerId: string; suggested: IdentityRow[] }> {
  const { customerId } = await findOrCreateCustomer(tx, [], profile);
  return { customerId, suggested: await suggestIdentities(tx, customerId, [claimed], profile.now) };
}

/**
 * The customers made for messages that claimed this address (claimantCustomer): they hold it
 * suggested and hold nothing verified. A customer who merely typed the address into a message
 * holds a verified identity of their own and is not one of them.
 */
export function claimantsOf(tx: Executor, identity: Pick<SenderIdentity, 'kind' | 'address'>) {
  const verified = tx
    .select({ one: sql`1` })
    .from(sql`${customerIdentities} as v`)
    .where(sql`v.customer_id = ${customerIdentities.customerId} and v.status = 'verified'`);
  return tx
    .select({ id: customerIdentities.customerId })
    .from(customerIdentities)
    .where(and(eq(customerIdentities.kind, identity.kind), eq(customerIdentities.address, identity.address), sql`${customerIdentities.status} = 'suggested'`, sql`not exists ${verified}`));
}
