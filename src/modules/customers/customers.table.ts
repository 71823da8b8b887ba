import { index, pgTable, text, uniqueIndex, uuid, type AnyPgColumn } from 'drizzle-orm/pg-core';
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

/**
 * One row per way we know a customer: an e-mail address, a phone number, a Facebook
 * page-scoped id, an X user id. Unique on (kind, address) so one person is one customer per
 * channel, and a second channel's identity links to the same customer.
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
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('customer_identities_kind_address_uq').on(t.kind, t.address),
    index('customer_identities_customer_id_idx').on(t.customerId),
  ],
);
