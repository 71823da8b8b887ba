import { z } from 'zod';
import { calendarDefinitionSchema } from '../../../domain/calendar.js';
import { slaPolicyInputSchema } from '../../../domain/sla/sla-policy.js';
import type { Guard } from '../../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../../http/types.js';
import { MANAGERS, STAFF } from '../../auth/api-keys.models.js';
import { entityTagOf } from '../../../http/entity-tag.js';
import type { SlaConfigService } from './sla-config.service.js';

const idParams = z.object({ id: z.uuid() });
const calendarBody = z.object({ name: z.string().trim().min(1).max(200), definition: calendarDefinitionSchema });
const calendarView = z.object({ id: z.uuid(), name: z.string(), definition: z.unknown(), createdAt: z.date(), updatedAt: z.date() }).meta({ id: 'Calendar' });
const policyView = z
  .object({
    id: z.uuid(),
    name: z.string(),
    position: z.number().int(),
    match: z.unknown(),
    calendarId: z.uuid().nullable(),
    targets: z.unknown(),
    warnAt: z.number(),
    escalation: z.unknown(),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .meta({ id: 'SlaPolicy' });
const ifMatchHeaders = z.object({ 'if-match': z.string().min(1).max(200).optional() });
const list = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.null() });

export function registerSlaConfigRoutes(app: App, deps: { guard: Guard; slaConfig: SlaConfigService }): void {
  const { guard, slaConfig } = deps;

  // ---- calendars ----
  app.post('/v1/calendars', {
    onRequest: guard(MANAGERS),
    schema: { tags: ['sla'], summary: 'Create a business-hours calendar', security: bearerSecurity, body: calendarBody, response: { 201: calendarView, ...problemResponses(409) } },
    handler: async (request, reply) => {
      const row = await slaConfig.createCalendar(request.body);
      return reply.status(201).header('etag', entityTagOf(row)).send(row);
    },
  });
  app.get('/v1/calendars', {
    onRequest: guard(STAFF),
    schema: { tags: ['sla'], summary: 'List calendars', security: bearerSecurity, response: { 200: list(calendarView), ...problemResponses() } },
    handler: async () => ({ items: await slaConfig.listCalendars(), nextCursor: null }),
  });
  app.get('/v1/calendars/:id', {
    onRequest: guard(STAFF),
    schema: { tags: ['sla'], summary: 'Read a calendar', security: bearerSecurity, params: idParams, response: { 200: calendarView, ...problemResponses(404) } },
    handler: async (request, reply) => {
      const row = await slaConfig.getCalendar(request.params.id);
      return reply.header('etag', entityTagOf(row)).send(row);
    },
  });
  app.put('/v1/calendars/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags: ['sla'], summary: 'Replace a calendar; tickets on policies using it recompute their due times', security: bearerSecurity, params: idParams, headers: ifMatchHeaders, body: calendarBody, response: { 200: calendarView, ...problemResponses(404, 409, 412) } },
    handler: async (request, reply) => {
      const row = await slaConfig.replaceCalendar(request.params.id, request.body, request.headers['if-match']);
      return reply.header('etag', entityTagOf(row)).send(row);
    },
  });
  app.delete('/v1/calendars/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags: ['sla'], summary: 'Delete a calendar no policy uses', security: bearerSecurity, params: idParams, headers: ifMatchHeaders, response: { 204: z.null(), ...problemResponses(404, 409, 412) } },
    handler: async (request, reply) => {
      await slaConfig.deleteCalendar(request.params.id, request.headers['if-match']);
      return reply.status(204).send(null);
    },
  });

  // ---- policies ----
  app.post('/v1/sla/policies', {
    onRequest: guard(MANAGERS),
    schema: { tags: ['sla'], summary: 'Create an SLA policy (first match by position wins)', security: bearerSecurity, body: slaPolicyInputSchema, response: { 201: policyView, ...problemResponses(409) } },
    handler: async (request, reply) => {
      const row = await slaConfig.createPolicy(request.body);
      return reply.status(201).header('etag', entityTagOf(row)).send(row);
    },
  });
  app.get('/v1/sla/policies', {
    onRequest: guard(STAFF),
    schema: { tags: ['sla'], summary: 'List SLA policies in match order', security: bearerSecurity, response: { 200: list(policyView), ...problemResponses() } },
    handler: async () => ({ items: await slaConfig.listPolicies(), nextCursor: null }),
  });
  app.get('/v1/sla/policies/:id', {
    onRequest: guard(STAFF),
    schema: { tags: ['sla'], summary: 'Read an SLA policy', security: bearerSecurity, params: idParams, response: { 200: policyView, ...problemResponses(404) } },
    handler: async (request, reply) => {
      const row = await slaConfig.getPolicy(request.params.id);
      return reply.header('etag', entityTagOf(row)).send(row);
    },
  });
  app.put('/v1/sla/policies/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags: ['sla'], summary: 'Replace an SLA policy; running clocks under it are recomputed', security: bearerSecurity, params: idParams, headers: ifMatchHeaders, body: slaPolicyInputSchema, response: { 200: policyView, ...problemResponses(404, 409, 412) } },
    handler: async (request, reply) => {
      const row = await slaConfig.replacePolicy(request.params.id, request.body, request.headers['if-match']);
      return reply.header('etag', entityTagOf(row)).send(row);
    },
  });
  app.delete('/v1/sla/policies/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags: ['sla'], summary: 'Delete an SLA policy; its tickets re-match the remaining policies', security: bearerSecurity, params: idParams, headers: ifMatchHeaders, response: { 204: z.null(), ...problemResponses(404, 412) } },
    handler: async (request, reply) => {
      await slaConfig.deletePolicy(request.params.id, request.headers['if-match']);
      return reply.status(204).send(null);
    },
  });
}
