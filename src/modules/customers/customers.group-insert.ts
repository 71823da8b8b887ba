/**
 * Set-based writes of new customers for intake's group commit (issue 18): many customers and
 * their one verified identity each, as part of the named prepared statement that also writes
 * their tickets (tickets.group-insert.ts), with the rows as arrays expanded by unnest (parsed and
 * planned once per connection). Hand-written SQL, not drizzle's query builder: on this path the
 * builder cost as much CPU as the round trip. The SQL stays here, with the tables it writes.
 */

export interface NewCustomerRow {
  id: string;
  name: string | null;
  language: string | null;
  now: Date;
  identity: { kind: string; address: string; displayName: string | null; handle: string | null };
}

/**
 * New customers and their one verified identity each, as part of a larger statement (intake's
 * new tickets and their new customers in one round trip, see tickets.group-insert.ts): two CTEs, `new_identities` (the identities
 * stored, as `customer_id`) and `new_customers`, with their parameters numbered from `first`.
 * The identities go first and a customer is inserted only if its identity was: one whose
 * identity a concurrent transaction stored meanwhile is then never written, so nothing is
 * deleted again (the foreign key of the identity is checked at the statement's end).
 */
export function newCustomersCtes(first: number): { text: string; values(rows: readonly NewCustomerRow[]): unknown[] } {
  const $ = (n: number) => `$${first + n}`;
  return {
    text: `new_identities as (
        insert into customer_identities (customer_id, kind, address, display_name, handle, created_at)
        select id, kind, address, display_name, handle, at
          from unnest(${$(0)}::uuid[], ${$(4)}::text[], ${$(5)}::text[], ${$(6)}::text[], ${$(7)}::text[], ${$(3)}::timestamptz[]) as v(id, kind, address, display_name, handle, at)
        on conflict do nothing
        returning customer_id),
      new_customers as (
        insert into customers (id, name, language, created_at, updated_at)
        select v.id, v.name, v.language, v.at, v.at
          from unnest(${$(0)}::uuid[], ${$(1)}::text[], ${$(2)}::text[], ${$(3)}::timestamptz[]) as v(id, name, language, at)
         where v.id in (select customer_id from new_identities)
        returning id)`,
    values: (rows) => [
      rows.map((r) => r.id),
      rows.map((r) => r.name),
      rows.map((r) => r.language),
      rows.map((r) => r.now),
      rows.map((r) => r.identity.kind),
      rows.map((r) => r.identity.address),
      rows.map((r) => r.identity.displayName),
      rows.map((r) => r.identity.handle),
    ],
  };
}
