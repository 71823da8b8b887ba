import { z } from 'zod';
import type { Guard } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { MANAGERS, STAFF } from '../auth/api-keys.models.js';
import type { ReasonService } from './reasons.service.js';

const tags = ['reasons'];
const idParams = z.object({ id: z.uuid() });
const code = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, dash or underscore, e.g. DELIVERY.DAMAGED')
  .describe('A stable code for reports and integrations, unique (case-insensitive)');
const translations = z
  .record(z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/, 'an ISO 639 language code'), z.string().trim().min(1).max(200))
  .describe('The name per language, e.g. {"he": "חבילה פגומה"}');
const listQuery = z.object({
  language: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/, 'an ISO 639 language code').optional().describe('Fill `label` with the name in this language where there is one'),
  includeInactive: z.enum(['true', 'false']).default('false').transform((v) => v === 'true').describe('Also list deactivated entries'),
});

const reasonBody = z.strictObject({
  code,
  name: z.string().trim().min(1).max(200),
  parentId: z.uuid().nullable().optional().describe('A top-level reason: this one is its child (the tree has two levels)'),
  translations: translations.optional(),
  active: z.boolean().optional(),
});
const reasonView = z
  .object({
    id: z.uuid(),
    parentId: z.uuid().nullable(),
    code: z.string(),
    name: z.string(),
    label: z.string().describe('The name in the requested language, or the name'),
    translations: z.record(z.string(), z.string()),
    active: z.boolean(),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .meta({ id: 'Reason' });
const reasonNode = reasonView.extend({ children: z.array(reasonView) }).meta({ id: 'ReasonNode' });

const rootCauseBody = z.strictObject({ code, name: z.string().trim().min(1).max(200), translations: translations.optional(), active: z.boolean().optional() });
const rootCauseView = z
  .object({
    id: z.uuid(),
    code: z.string(),
    name: z.string(),
    label: z.string(),
    translations: z.record(z.string(), z.string()),
    active: z.boolean(),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .meta({ id: 'RootCause' });

/** Complaint reasons (a two-level tree) and root causes (issue 16): managers edit, staff read. */
export function registerReasonRoutes(app: App, deps: { guard: Guard; reasons: ReasonService }): void {
  const { guard, reasons } = deps;

  app.post('/v1/reasons', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Create a complaint reason', description: 'Top-level, or a child of a top-level reason (two levels).', security: bearerSecurity, body: reasonBody, response: { 201: reasonView, ...problemResponses(409) } },
    handler: async (request, reply) => reply.status(201).send(await reasons.createReason(request.body)),
  });
  app.get('/v1/reasons', {
    onRequest: guard(STAFF),
    schema: { tags, summary: 'The complaint-reason tree', description: 'Top-level reasons ordered by code, each with its children.', security: bearerSecurity, querystring: listQuery, response: { 200: z.object({ items: z.array(reasonNode) }), ...problemResponses() } },
    handler: async (request) => reasons.tree(request.query),
  });
  app.get('/v1/reasons/:id', {
    onRequest: guard(STAFF),
    schema: { tags, summary: 'Read a complaint reason', description: 'One reason of the tree.', security: bearerSecurity, params: idParams, querystring: listQuery.pick({ language: true }), response: { 200: reasonView, ...problemResponses(404) } },
    handler: async (request) => reasons.getReason(request.params.id, request.query.language),
  });
  app.patch('/v1/reasons/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Change a complaint reason', description: 'Rename, translate, move under another top-level reason, or deactivate (active: false) a reason.', security: bearerSecurity, params: idParams, body: reasonBody.partial(), response: { 200: reasonView, ...problemResponses(404, 409) } },
    handler: async (request) => reasons.updateReason(request.params.id, request.body),
  });
  app.delete('/v1/reasons/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Delete an unused complaint reason', description: 'A reason with children or classifying tickets is a 409: deactivate it instead.', security: bearerSecurity, params: idParams, response: { 204: z.null(), ...problemResponses(404, 409) } },
    handler: async (request, reply) => {
      await reasons.deleteReason(request.params.id);
      return reply.status(204).send(null);
    },
  });

  app.post('/v1/root-causes', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Create a root cause', description: 'Why complaints happen on our side, for wrap-up and reports.', security: bearerSecurity, body: rootCauseBody, response: { 201: rootCauseView, ...problemResponses(409) } },
    handler: async (request, reply) => reply.status(201).send(await reasons.createRootCause(request.body)),
  });
  app.get('/v1/root-causes', {
    onRequest: guard(STAFF),
    schema: { tags, summary: 'List root causes', description: 'Ordered by code.', security: bearerSecurity, querystring: listQuery, response: { 200: z.object({ items: z.array(rootCauseView) }), ...problemResponses() } },
    handler: async (request) => reasons.listRootCauses(request.query),
  });
  app.get('/v1/root-causes/:id', {
    onRequest: guard(STAFF),
    schema: { tags, summary: 'Read a root cause', description: 'One root cause.', security: bearerSecurity, params: idParams, querystring: listQuery.pick({ language: true }), response: { 200: rootCauseView, ...problemResponses(404) } },
    handler: async (request) => reasons.getRootCause(request.params.id, request.query.language),
  });
  app.patch('/v1/root-causes/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Change a root cause', description: 'Rename, translate or deactivate a root cause.', security: bearerSecurity, params: idParams, body: rootCauseBody.partial(), response: { 200: rootCauseView, ...problemResponses(404, 409) } },
    handler: async (request) => reasons.updateRootCause(request.params.id, request.body),
  });
  app.delete('/v1/root-causes/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Delete an unused root cause', description: 'A root cause classifying tickets is a 409: deactivate it instead.', security: bearerSecurity, params: idParams, response: { 204: z.null(), ...problemResponses(404, 409) } },
    handler: async (request, reply) => {
      await reasons.deleteRootCause(request.params.id);
      return reply.status(204).send(null);
    },
  });
}
