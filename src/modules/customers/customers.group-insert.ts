import { clientOf, type Executor } from '../../db/client.js';

/**
 * Set-based writes of new customers for intake's group commit (issue 18): many customers and
 * their one verified identity each in one statement, as a named prepared statement with its
 * rows as arrays expanded by unnest (parsed and planned once per connection). Hand-written SQL,
 * not drizzle's query builder: on this path the builder cost as much CPU as the round trip.
 */

export interface NewCustomerRow {
  id: string;
  name: string | null;
  language: string | null;
  now: Date;
  identity: { kind: string; address: string; displayName: string | null; handle: string | null };
}

/**
 * The customers and their one verified identity each, in one statement. An identity some other
 * transaction stored meanwhile (a concurrent first message of the same person) is skipped by
 * the unique index; the answer is the ids of the customers whose identity was NOT stored: the
 * caller deletes those customers (deleteCustomers) and takes their messages the long way,
 * which finds the other customer.
 */
export async function insertCustomers(tx: Executor, rows: readonly NewCustomerRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const { rows: linked } = await clientOf(tx).query<{ customer_id: string }>({
    name: 'intake_group_customers_v1',
    text: `with c as (
        insert into customers (id, name, language, created_at, updated_at)
        select id, name, language, at, at from unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) as v(id, name, language, at)
        returning id)
      insert into customer_identities (customer_id, kind, address, display_name, handle, created_at)
      select v.id, v.kind, v.address, v.display_name, v.handle, v.at
        from unnest($1::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $4::timestamptz[]) as v(id, kind, address, display_name, handle, at)
        join c using (id)
      on conflict do nothing
      returning customer_id`,
    values: [
      rows.map((r) => r.id),
      rows.map((r) => r.name),
      rows.map((r) => r.language),
      rows.map((r) => r.now),
      rows.map((r) => r.identity.kind),
      rows.map((r) => r.identity.address),
      rows.map((r) => r.identity.displayName),
      rows.map((r) => r.identity.handle),
    ],
  });
  const stored = new Set(linked.map((r) => r.customer_id));
  return new Set(rows.map((r) => r.id).filter((id) => !stored.has(id)));
}

export async function deleteCustomers(tx: Executor, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await clientOf(tx).query({ name: 'intake_group_customers_drop_v1', text: 'delete from customers where id = any($1::uuid[])', values: [ids] });
}
