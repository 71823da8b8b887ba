import { sql } from 'drizzle-orm';
import { check, index, pgTable, text, uniqueIndex, uuid, type AnyPgColumn } from 'drizzle-orm/pg-core';
import { createdAt, id, updatedAt } from '../../db/columns.js';

export const customers = pgTable(
  'customers',
  {
    id: id(),
    name: text('name'),
    language: text('language'),
    /** Set when this customer was merged into another; the row stays so old links resolve. */
    mergedIntoId: uuid('merged_into_id').references((): AnyPgColumn => customers.id),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('customers_merged_into_id_idx').on(t.mergedIntoId)],
);

export const IDENTITY_STATUSES = ['verified', 'suggested'] as const;
export type IdentityStatus = (typeof IDENTITY_STATUSES)[number];

/**
 * One row per way we know a customer: an e-mail address, a phone number, a Facebook
 * page-scoped id, an X user id.
 *
 * `verified`: the customer wrote from it (the provider vouches for the sender), or an agent
 * entered or confirmed it. Unique on (kind, address) among verified rows, so one person is one
 * customer per channel; only verified rows find a customer at intake or receive a reply.
 * `suggested`: an address the customer merely claimed (typed into a message, a Reply-To). A
 * claim is not proof: anyone can type someone else's address. It links nothing until an agent
 * confirms it (POST /v1/customers/:id/identities/:identityId/confirm). Many customers may
 * claim one address; one customer holds each address once.
 */
export const customerIdentities = pgTable(
  'customer_identities',
  {
    id: id(),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    address: text('address').notNull(),
    displayName: text('display_name'),
    handle: text('handle'),
    status: text('status').$type<IdentityStatus>().notNull().default('verified'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('customer_identities_verified_kind_address_uq').on(t.kind, t.address).where(sql`${t.status} = 'verified'`),
    uniqueIndex('customer_identities_customer_kind_address_uq').on(t.customerId, t.kind, t.address),
    // Who claimed an address (intake's flood control for claimed senders, see claimantsOf).
    index('customer_identities_suggested_kind_address_idx').on(t.kind, t.address).where(sql`${t.status} = 'suggested'`),
    check('customer_identities_status_ck', sql`${t.status} in ('verified', 'suggested')`),
  ],
);
