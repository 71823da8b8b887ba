import { z } from 'zod';
import type { Guard } from '../../http/auth.js';
import { limitSchema } from '../../http/pagination.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { ADMINS } from '../auth/api-keys.models.js';
import type { AuditService } from './audit.service.js';

const tags = ['audit'];

// Years 1..9999 only: what Postgres can compare (a forged year 0 would be a SQL error, not a 400).
const instantParam = z.iso
  .datetime({ offset: true })
  .refine((v) => {
    const year = new Date(v).getUTCFullYear();
    return year >= 1 && year <= 9999;
  }, 'must be between years 1 and 9999')
  .transform((v) => new Date(v));
// eslint-disable-next-line no-control-regex -- the point is to refuse control characters
const NO_CONTROL_CHARACTERS = /^[^\x00-\x1f\x7f]*$/;

const auditQuery = z.object({
  resource: z.string().trim().min(1).max(300).regex(NO_CONTROL_CHARACTERS, 'must not contain control characters').optional().describe('A resource path ("tickets", "tickets/<id>", "customers/<id>"): the rows about it and everything under it'),
  actor: z.string().trim().max(64).optional().describe('An API key id or an agent id'),
  from: instantParam.optional().describe('Rows written at or after this instant (ISO 8601 with a zone)'),
  to: instantParam.optional().describe('Rows written before this instant (ISO 8601 with a zone)'),
  limit: limitSchema,
  cursor: z.string().max(512).optional(),
});

const fieldChange = z.union([
  z.object({ changed: z.literal(true), redacted: z.enum(['personal', 'secret']) }).describe('changed; the values are personal data or a secret and are not kept'),
  z.object({ before: z.unknown().optional(), after: z.unknown().optional() }),
]);

export const auditEntryView = z
  .object({
    id: z.number().int(),
    occurredAt: z.date(),
    actor: z.object({ keyId: z.uuid().nullable().describe('null for the key of ADMIN_API_KEY'), agentId: z.uuid().nullable(), role: z.string() }),
    requestId: z.string().describe('the X-Request-Id of the request'),
    ip: z.string().nullable(),
    action: z.string().describe('e.g. tickets.update, customers.merge, customers.erase'),
    route: z.string().describe('method and route pattern, e.g. PATCH /v1/tickets/:id'),
    resource: z.string().describe('the resource written, e.g. tickets/<id>/messages/<id>'),
    customerId: z.uuid().nullable().describe('the customer the resource belongs to, if any'),
    status: z.number().int().describe('the HTTP status answered'),
    changes: z.record(z.string(), fieldChange).describe('changed fields only, by column'),
  })
  .meta({ id: 'AuditEntry', description: 'One write by a staff key' });

export function registerAuditRoutes(app: App, deps: { guard: Guard; audit: AuditService }): void {
  const { guard, audit } = deps;
  app.get('/v1/audit', {
    onRequest: guard(ADMINS),
    schema: {
      tags,
      summary: 'The audit trail: every write by a staff key, newest first',
      description:
        'Each row names the actor (API key, agent, role), the request id, the client address, the action, the resource and the changed fields with their before and after values. Personal data of customers (names, addresses, subjects, message text) and secrets are recorded as changed, without values. Append-only: the database refuses updates and deletes.',
      security: bearerSecurity,
      querystring: auditQuery,
      response: { 200: z.object({ items: z.array(auditEntryView), nextCursor: z.string().nullable() }), ...problemResponses() },
    },
    handler: async (request) => audit.list(request.query),
  });
}
