import { z } from 'zod';
import type { Guard } from '../../http/auth.js';
import { limitSchema } from '../../http/pagination.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { STAFF } from '../auth/api-keys.models.js';
import type { DeliveryService } from './delivery.service.js';
import { OUTBOX_STATES } from './delivery.table.js';
import type { TemplateService } from './templates.service.js';

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

export function registerDeliveryRoutes(app: App, deps: { guard: Guard; delivery: DeliveryService; templates: TemplateService }): void {
  const { guard, delivery, templates } = deps;
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
    handler: async (request) => delivery.list(request.query),
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
    handler: async (request, reply) => reply.status(201).send(await templates.create(request.body)),
  });
  app.get('/v1/templates', {
    onRequest: guard(STAFF),
    schema: { tags: ['delivery'], summary: 'List templates', security: bearerSecurity, querystring: z.object({ name: z.string().optional(), language: languageCode.optional() }), response: { 200: z.object({ items: z.array(templateView), nextCursor: z.null() }), ...problemResponses() } },
    handler: async (request) => ({ items: await templates.list(request.query), nextCursor: null }),
  });
  app.get('/v1/templates/:id', {
    onRequest: guard(STAFF),
    schema: { tags: ['delivery'], summary: 'Read a template', security: bearerSecurity, params: idParams, response: { 200: templateView, ...problemResponses(404) } },
    handler: async (request) => templates.get(request.params.id),
  });
  app.patch('/v1/templates/:id', {
    onRequest: guard(STAFF),
    schema: { tags: ['delivery'], summary: 'Change a template', security: bearerSecurity, params: idParams, body: templateBody.partial(), response: { 200: templateView, ...problemResponses(404, 409) } },
    handler: async (request) => templates.update(request.params.id, request.body),
  });
  app.delete('/v1/templates/:id', {
    onRequest: guard(STAFF),
    schema: { tags: ['delivery'], summary: 'Delete a template', security: bearerSecurity, params: idParams, response: { 204: z.null(), ...problemResponses(404) } },
    handler: async (request, reply) => {
      await templates.delete(request.params.id);
      return reply.status(204).send(null);
    },
  });
}
