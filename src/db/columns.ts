import { sql } from 'drizzle-orm';
import { customType, timestamp, uuid } from 'drizzle-orm/pg-core';

/** Shared column shapes, so every table spells ids and timestamps the same way. */
export const id = () => uuid('id').primaryKey().default(sql`gen_random_uuid()`);
// Millisecond precision, like a JS Date: a timestamp read back and used in a keyset cursor
// must compare equal to the stored one, which microseconds would break.
export const instant = (name: string) => timestamp(name, { withTimezone: true, mode: 'date', precision: 3 });
export const createdAt = () => instant('created_at').notNull().defaultNow();
export const updatedAt = () => instant('updated_at').notNull().defaultNow();

export const tsvector = customType<{ data: string }>({
  dataType: () => 'tsvector',
});

/** A Postgres xid8 (64-bit transaction id), read as a decimal string (issue 15: commit-safe stream order). */
export const xid8 = customType<{ data: string; driverData: string }>({
  dataType: () => 'xid8',
});
