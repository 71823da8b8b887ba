import { z } from 'zod';
import type { Guard } from '../../http/auth.js';
import { principalOf } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { ADMINS } from '../auth/api-keys.models.js';
import type { ErasureService } from './erasure.service.js';
import type { ExportService } from './export.service.js';
import type { RetentionService } from './retention.service.js';

const tags = ['privacy'];
// eslint-disable-next-line no-control-regex -- a NUL cannot be stored in Postgres text
const NO_NUL = /^[^\x00]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const customerParams = z.object({ id: z.uuid().describe('The id of the customer') });
const attachmentParams = customerParams.extend({ attachmentId: z.uuid().describe('The id of the attachment (from the export)') });

const erasureView = z
  .object({
    customerId: z.uuid().describe('the live customer the erasure applied to (after following merges)'),
    erasedAt: z.date(),
    reason: z.string(),
    alreadyErased: z.boolean().describe('true when the customer had been erased before: nothing was done again'),
    removed: z.record(z.string(), z.number().int()).describe('rows (and files, Redis jobs) changed or removed, by place'),
  })
  .meta({ id: 'Erasure' });

const retentionBody = z.object({
  rawPayloadDays: z.number().int().min(1).max(3650).describe('days raw inbound payloads and dead letters are kept'),
  closedTicketMonths: z.number().int().min(1).max(1200).nullable().describe('months after closing when a ticket is anonymized; null: never'),
  auditYears: z.number().int().min(1).max(100).describe('years audit rows are kept'),
});
const retentionView = retentionBody
  .extend({
    updatedAt: z.date().nullable().describe('null: the defaults, never set'),
    lastRunAt: z.date().nullable(),
    lastRun: z.record(z.string(), z.unknown()).nullable().describe('what the last maintenance run removed (rawPayloadsDeleted, deadLettersDeleted, ticketsAnonymized, auditRowsDeleted, webhookDeliveriesDeleted, eventsDeleted, more, ms)'),
  })
  .meta({ id: 'Retention' });

export function registerPrivacyRoutes(app: App, deps: { guard: Guard; erasure: ErasureService; exports: ExportService; retention: RetentionService }): void {
  const { guard, erasure, exports, retention } = deps;

  app.get('/v1/customers/:id/export', {
    onRequest: guard(ADMINS),
    schema: {
      tags,
      summary: "Everything held about a customer, as one JSON document (a subject-access request)",
      description:
        'Streamed: the customer and everyone merged into them, identities, tickets with their messages, timeline, surveys (CSAT answers) and commitments, attachments as metadata with a download link, and the audit rows about them.',
      security: bearerSecurity,
      params: customerParams,
      response: { 200: z.unknown().describe('the export document (JSON: exportedAt, customers, erasure, identities, tickets with messages, events, surveys, commitments; audit)'), ...problemResponses(404) },
    },
    handler: async (request, reply) => {
      const stream = await exports.open(request.params.id, `/v1/customers/${request.params.id}/export`);
      void reply.header('content-disposition', `attachment; filename="customer-${request.params.id}.json"`);
      return reply.type('application/json').send(stream);
    },
  });

  app.get('/v1/customers/:id/export/attachments/:attachmentId', {
    onRequest: guard(ADMINS),
    schema: {
      tags,
      summary: "One attachment of a customer's export, as its bytes",
      security: bearerSecurity,
      params: attachmentParams,
      response: { 200: z.unknown().describe('the attachment bytes, with their content type'), ...problemResponses(404) },
    },
    handler: async (request, reply) => {
      const file = await exports.attachment(request.params.id, request.params.attachmentId);
      void reply.header('content-disposition', 'attachment');
      return reply.type(file.contentType).send(file.body);
    },
  });

  app.post('/v1/customers/:id/erase', {
    onRequest: guard(ADMINS),
    schema: {
      tags,
      summary: "Erase a customer's personal data everywhere (GDPR right to erasure)",
      description:
        'Removes the name, identities, message bodies and subjects, attachments (rows and files), raw inbound payloads and dead letters naming them, outbox destinations, survey comments, search vectors, notification payloads and the Redis jobs carrying any of it, for the customer and everyone merged into them. Tickets stay as anonymous shells, so every KPI keeps its value; a later message from the same address creates a new customer. Emits customer.erased. Idempotent: a second call answers the first erasure with alreadyErased true.',
      security: bearerSecurity,
      params: customerParams,
      body: z.object({ reason: z.string().trim().min(1).max(500).regex(NO_NUL, 'must not contain NUL characters').describe('why (e.g. the request reference); kept with the erasure record, so no personal data') }),
      response: { 200: erasureView, ...problemResponses(404) },
    },
    handler: async (request) => {
      const principal = principalOf(request);
      return erasure.erase(request.params.id, request.body.reason, UUID.test(principal.keyId) ? principal.keyId : null);
    },
  });

  app.get('/v1/retention', {
    onRequest: guard(ADMINS),
    schema: { tags, summary: 'The retention rules and what their last run did', security: bearerSecurity, response: { 200: retentionView, ...problemResponses() } },
    handler: async () => retention.read(),
  });

  app.put('/v1/retention', {
    onRequest: guard(ADMINS),
    schema: {
      tags,
      summary: 'Set the retention rules',
      description: 'Applied by the maintenance worker every RETENTION_INTERVAL_MS, in batches: payloads and dead letters older than rawPayloadDays are deleted, tickets closed more than closedTicketMonths ago are anonymized (null: never), audit rows older than auditYears are deleted.',
      security: bearerSecurity,
      body: retentionBody,
      response: { 200: retentionView, ...problemResponses() },
    },
    handler: async (request) => retention.replace(request.body),
  });
}
