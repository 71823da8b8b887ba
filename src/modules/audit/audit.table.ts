import { bigint, index, integer, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { instant } from '../../db/columns.js';
import type { FieldChange } from '../../domain/privacy/personal-fields.js';

/**
 * The audit trail: one row per write by a staff key (issue 15). Append-only: a trigger (migration
 * `audit_append_only`) refuses every UPDATE and TRUNCATE, and every DELETE of a row still inside
 * its retention period, whoever asks, the service's own role included. Rows never hold a
 * customer's personal data in clear (changed personal fields carry no values, see
 * domain/privacy/personal-fields.ts), so an erasure never needs to touch them.
 */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    occurredAt: instant('occurred_at').notNull().defaultNow(),
    /** The API key that made the request, its agent and its role when it was used. */
    actorKeyId: uuid('actor_key_id'),
    actorAgentId: uuid('actor_agent_id'),
    actorRole: text('actor_role').notNull(),
    requestId: text('request_id').notNull(),
    ip: text('ip'),
    /** "tickets.update", "customers.erase" (domain/privacy/personal-fields.ts auditAction). */
    action: text('action').notNull(),
    /** The method and route pattern: "PATCH /v1/tickets/:id". */
    route: text('route').notNull(),
    /** What was written, as a path: "tickets/<id>", "tickets/<id>/commitments/<id>", "routing/settings". */
    resource: text('resource').notNull(),
    /** The customer the resource belongs to, when it belongs to one: their export lists these rows. */
    customerId: uuid('customer_id'),
    status: integer('status').notNull(),
    /** Changed fields only: { field: { before, after } } or { field: { changed: true, redacted } }. */
    changes: jsonb('changes').$type<Record<string, FieldChange>>().notNull().default({}),
  },
  (t) => [
    index('audit_log_occurred_idx').on(t.occurredAt, t.id),
    index('audit_log_resource_idx').using('btree', t.resource.op('text_pattern_ops'), t.id),
    index('audit_log_actor_key_idx').on(t.actorKeyId, t.id),
    index('audit_log_actor_agent_idx').on(t.actorAgentId, t.id),
    index('audit_log_customer_idx').on(t.customerId, t.id),
  ],
);

export type AuditRow = typeof auditLog.$inferSelect;
