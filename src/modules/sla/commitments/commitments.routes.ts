import { z } from 'zod';
import type { Guard } from '../../../http/auth.js';
import { principalOf } from '../../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../../http/types.js';
import { STAFF } from '../../auth/api-keys.models.js';
import type { CommitmentService } from './commitments.service.js';

const commitmentView = z
  .object({
    id: z.uuid(),
    ticketId: z.uuid(),
    description: z.string(),
    dueAt: z.date(),
    state: z.enum(['open', 'kept', 'broken']),
    createdByAgentId: z.uuid().nullable(),
    remindedAt: z.date().nullable(),
    overdueAt: z.date().nullable(),
    closedAt: z.date().nullable(),
    createdAt: z.date(),
  })
  .meta({ id: 'Commitment' });

type View = z.infer<typeof commitmentView>;
const view = (row: Record<string, unknown>): View => {
  const { generation: _g, updatedAt: _u, ...rest } = row;
  return rest as View;
};

export function registerCommitmentRoutes(app: App, deps: { commitments: CommitmentService; guard: Guard }): void {
  const { commitments, guard } = deps;
  const ticketParams = z.object({ id: z.uuid() });

  app.post('/v1/tickets/:id/commitments', {
    onRequest: guard(STAFF),
    schema: {
      tags: ['sla'],
      summary: 'Record a promise made to the customer; reminded before due, escalated when overdue',
      security: bearerSecurity,
      params: ticketParams,
      body: z.object({ description: z.string().trim().min(1).max(2000), dueAt: z.iso.datetime({ offset: true }) }),
      response: { 201: commitmentView, ...problemResponses(404, 409) },
    },
    handler: async (request, reply) => reply.status(201).send(view(await commitments.create(request.params.id, request.body, principalOf(request)))),
  });

  app.get('/v1/tickets/:id/commitments', {
    onRequest: guard(STAFF),
    schema: { tags: ['sla'], summary: 'Promises on a ticket, soonest due first', security: bearerSecurity, params: ticketParams, response: { 200: z.object({ items: z.array(commitmentView), nextCursor: z.null() }), ...problemResponses(404) } },
    handler: async (request) => ({ items: (await commitments.listForTicket(request.params.id)).map(view), nextCursor: null }),
  });

  app.patch('/v1/tickets/:id/commitments/:commitmentId', {
    onRequest: guard(STAFF),
    schema: {
      tags: ['sla'],
      summary: 'Mark a promise kept or broken',
      security: bearerSecurity,
      params: z.object({ id: z.uuid(), commitmentId: z.uuid() }),
      body: z.object({ state: z.enum(['kept', 'broken']) }),
      response: { 200: commitmentView, ...problemResponses(404, 409) },
    },
    handler: async (request) => view(await commitments.close(request.params.id, request.params.commitmentId, request.body.state, principalOf(request))),
  });
}
