import { z } from 'zod';
import type { Guard } from '../../http/auth.js';
import { principalOf } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { WORK_KINDS } from '../../domain/figures/handle-time.js';
import { STAFF } from '../auth/api-keys.models.js';
import type { WorkService } from './work.service.js';

const tags = ['work'];
const params = z.object({ id: z.uuid().describe('The id of the ticket') });
const instant = (example: string) => z.iso.datetime({ offset: true, error: `an ISO 8601 date-time with a zone, e.g. ${example}` });

const workBody = z.strictObject({
  startedAt: instant('2026-03-10T09:00:00Z'),
  endedAt: instant('2026-03-10T09:12:30Z'),
  kind: z.enum(WORK_KINDS).describe('handling: working the complaint (talking, writing); after_work: wrap-up after it'),
  agentId: z.uuid().optional().describe('Whose work it is: supervisors and admins report on behalf of an agent; an agent key reports its own'),
});

const workView = z
  .object({
    id: z.uuid(),
    ticketId: z.uuid(),
    agentId: z.uuid(),
    kind: z.enum(WORK_KINDS),
    source: z.enum(['api', 'call']).describe('api: reported by a frontend; call: the talk time of a call'),
    startedAt: z.date(),
    endedAt: z.date().describe('after-work is counted at most AFTER_WORK_MAX_SEC of the ticket channel: the end as counted'),
    reportedEndedAt: z.date().describe('the end as reported'),
    createdAt: z.date(),
  })
  .meta({ id: 'WorkInterval' });

/** Work time on a ticket (issue 16): POST reports an interval, GET lists them. */
export function registerWorkRoutes(app: App, deps: { guard: Guard; work: WorkService }): void {
  const { guard, work } = deps;

  app.post('/v1/tickets/:id/work', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: 'Report work on a ticket (handling or after-work)',
      description:
        'An interval of work by the calling agent (or, for a supervisor, by `agentId`). Overlapping intervals of one agent are merged when handle time ' +
        'is computed, never counted twice. The end must not be before the start, in the future, or more than 24 hours after the start.',
      security: bearerSecurity,
      params,
      body: workBody,
      response: { 201: workView, ...problemResponses(404) },
    },
    handler: async (request, reply) => reply.status(201).send(await work.record(request.params.id, request.body, principalOf(request))),
  });

  app.get('/v1/tickets/:id/work', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: "List a ticket's work intervals",
      description: 'Every interval reported or derived from calls, oldest first.',
      security: bearerSecurity,
      params,
      response: { 200: z.object({ items: z.array(workView) }), ...problemResponses(404) },
    },
    handler: async (request) => work.list(request.params.id),
  });
}
