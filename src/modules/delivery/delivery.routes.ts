import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import type { Guard } from '../../http/auth.js';

import { cursorKeys, decodeCursor, limitSchema, toPage } from '../../http/pagination.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import type { Clock } from '../../shared/clock.js';
import { notFound } from '../../shared/errors.js';
import { STAFF } from '../auth/api-keys.models.js';
import { uniqueOrConflict } from '../../db/unique.js';
import type { TicketHooks } from '../tickets/tickets.hooks.js';
import type { DeliveryService } from './delivery.service.js';
import { OUTBOX_STATES, outbox, templates } from './delivery.table.js';

const outboxView = z
  .object({
    id: z.uuid(),
    messageId: z.uuid(),
    ticketId: z.uuid(),
    channel: z.string(),
    state: z.enum(OUTBOX_STATES),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    providerMessageId: z.string().nullable(),
    sentAt: z.date().nullable(),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .meta({ id: 'OutboxEntry' });
const outboxColumns = {
  id: outbox.id,
  messageId: outbox.messageId,
  ticketId: outbox.ticketId,
  channel: outbox.channel,
  state: outbox.state,
  attempts: outbox.attempts,
  lastError: outbox.lastError,
  providerMessageId: outbox.providerMessageId,
  sentAt: outbox.sentAt,
  createdAt: outbox.createdAt,
  updatedAt: outbox.updatedAt,
};

const languageCode = z.string().regex(/^[a-z]{2,3}$/, 'an ISO 639 language code such as "he"');
const templateBody = z.object({
  name: z.string().trim().min(1).max(200),
  language: languageCode,
  subject: z.string().trim().max(500).optional(),
  body: z.string().trim().min(1).max(20_000),
});
const templateView = z
  .object({ id: z.uuid(), name: z.string(), language: z.string(), subject: z.string().nullable(), body: z.string(), createdAt: z.date(), updatedAt: z.date() })
  .meta({ id: 'Template' });

export function registerDeliveryRoutes(app: App, deps: { db: Database; clock: Clock; guard: Guard; delivery: DeliveryService; hooks: TicketHooks }): void {
  const { db, clock, guard, delivery } = deps;
  const idParams = z.object({ id: z.uuid() });

  app.get('/v1/outbox', {
    onRequest: guard(STAFF),
    schema: {
      tags: ['delivery'],
      summary: 'Replies by delivery state, for operations (failed and dead ones to look at and replay)',
      security: bearerSecurity,
      querystring: z.object({
        state: z.string().transform((raw) => raw.split(',').map((v) => v.trim())).pipe(z.array(z.enum(OUTBOX_STATES)).min(1)).default(['failed', 'dead']),
        ticketId: z.uuid().optional(),
        limit: limitSchema,
        cursor: z.string().max(500).optional(),
      }),
      response: { 200: z.object({ items: z.array(outboxView), nextCursor: z.string().nullable() }), ...problemResponses() },
    },
    handler: async (request) => {
      const q = request.query;
      const cursor = decodeCursor(q.cursor, cursorKeys.instant);
      const at = cursor ? new Date(cursor.v) : null;
      const rows = await db
        .select(outboxColumns)
        .from(outbox)
        .where(and(inArray(outbox.state, q.state), q.ticketId ? eq(outbox.ticketId, q.ticketId) : undefined, cursor ? sql`(${outbox.updatedAt}, ${outbox.id}) < (${at}, ${cursor.id}::uuid)` : undefined))
        .orderBy(desc(outbox.updatedAt), desc(outbox.id))
        .limit(q.limit + 1);
      return toPage(rows, q.limit, (r) => ({ v: r.updatedAt.toISOString(), id: r.id }), (r) => r);
    },
  });

  app.post('/v1/outbox/:id/retry', {
    onRequest: guard(STAFF),
    schema: { tags: ['delivery'], summary: 'Replay a failed or dead reply', security: bearerSecurity, params: idParams, response: { 202: outboxView, ...problemResponses(404, 409) } },
    handler: async (request, reply) => {
      const row = await delivery.retry(request.params.id);
      const { payload: _p, generation: _g, ...view } = row;
      return reply.status(202).send(view);
    },
  });

  // ---- templates ----
  app.post('/v1/templates', {
    onRequest: guard(STAFF),
    schema: { tags: ['delivery'], summary: 'Create a canned reply (one row per language); variables {{customer.name}}, {{ticket.number}}, {{ticket.subject}}, {{agent.name}}', security: bearerSecurity, body: templateBody, response: { 201: templateView, ...problemResponses(409) } },
    handler: async (request, reply) => {
      const now = clock.now();
      return uniqueOrConflict(async () => {
        const [row] = await db.insert(templates).values({ ...request.body, subject: request.body.subject ?? null, createdAt: now, updatedAt: now }).returning();
        return reply.status(201).send(row!);
      }, `Template "${request.body.name}" exists in ${request.body.language}`);
    },
  });
  app.get('/v1/templates', {
    onRequest: guard(STAFF),
    schema: { tags: ['delivery'], summary: 'List templates', security: bearerSecurity, querystring: z.object({ name: z.string().optional(), language: languageCode.optional() }), response: { 200: z.object({ items: z.array(templateView), nextCursor: z.null() }), ...problemResponses() } },
    handler: async (request) => ({
      items: await db
        .select()
        .from(templates)
        .where(and(request.query.name ? eq(templates.name, request.query.name) : undefined, request.query.language ? eq(templates.language, request.query.language) : undefined))
        .orderBy(asc(templates.name), asc(templates.language)),
      nextCursor: null,
    }),
  });
  app.get('/v1/templates/:id', {
    onRequest: guard(STAFF),
    schema: { tags: ['delivery'], summary: 'Read a template', security: bearerSecurity, params: idParams, response: { 200: templateView, ...problemResponses(404) } },
    handler: async (request) => {
      const [row] = await db.select().from(templates).where(eq(templates.id, request.params.id));
      if (!row) throw notFound('Template', request.params.id);
      return row;
    },
  });
  app.patch('/v1/templates/:id', {
    onRequest: guard(STAFF),
    schema: { tags: ['delivery'], summary: 'Change a template', security: bearerSecurity, params: idParams, body: templateBody.partial(), response: { 200: templateView, ...problemResponses(404, 409) } },
    handler: async (request) => {
      return uniqueOrConflict(async () => {
        const [row] = await db.update(templates).set({ ...request.body, updatedAt: clock.now() }).where(eq(templates.id, request.params.id)).returning();
        if (!row) throw notFound('Template', request.params.id);
        return row;
      }, 'A template with that name and language exists');
    },
  });
  app.delete('/v1/templates/:id', {
    onRequest: guard(STAFF),
    schema: { tags: ['delivery'], summary: 'Delete a template', security: bearerSecurity, params: idParams, response: { 204: z.null(), ...problemResponses(404) } },
    handler: async (request, reply) => {
      const [row] = await db.delete(templates).where(eq(templates.id, request.params.id)).returning({ id: templates.id });
      if (!row) throw notFound('Template', request.params.id);
      return reply.status(204).send(null);
    },
  });

}
