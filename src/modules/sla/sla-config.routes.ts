import { asc, eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Database, Executor } from '../../db/client.js';
import { calendarDefinitionSchema } from '../../domain/calendar.js';
import { slaPolicyInputSchema } from '../../domain/sla/sla-policy.js';
import type { Guard } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import type { Queues } from '../../queues/queues.js';
import type { OutboundPolicy } from '../../shared/outbound-url.js';
import { assertEscalationWebhooksAllowed } from '../notifications/webhook-targets.js';
import type { Clock } from '../../shared/clock.js';
import { badRequest, conflict, notFound } from '../../shared/errors.js';
import { MANAGERS, STAFF } from '../auth/api-keys.models.js';
import { uniqueOrConflict } from '../../db/unique.js';
import type { PolicyCache } from './sla.repository.js';
import { calendars, slaPolicies } from './sla.table.js';

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
const list = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.null() });

export function registerSlaConfigRoutes(app: App, deps: { db: Database; clock: Clock; logger: Logger; guard: Guard; policies: PolicyCache; queues: Queues; outbound: OutboundPolicy }): void {
  const { db, clock, guard } = deps;

  /**
   * A change to policies (or a calendar they use), after which the tickets under them recompute
   * their running clocks in the background (one sla-recompute job per policy). Nothing else
   * would ever correct those due times if the job were lost — the reconciler trusts the stored
   * ones — so while Redis is unreachable the change is rolled back and answered 503 (with
   * Retry-After), rather than committed without its recompute. Redis is checked before the
   * commit and the jobs are added after it: a job must never run before the change it
   * recomputes is visible.
   */
  async function changePolicies<T>(work: (tx: Executor) => Promise<{ result: T; policyIds: string[] }>): Promise<T> {
    const { result, policyIds } = await db.transaction(async (tx) => {
      const outcome = await work(tx);
      if (outcome.policyIds.length > 0) await deps.queues.maintenance.ready();
      return outcome;
    });
    deps.policies.invalidate();
    for (const policyId of policyIds) {
      await deps.queues.maintenance.add('sla-recompute', { policyId }).catch((error: unknown) => {
        // Redis went away between the check and the add: rare, and worth an operator's look.
        deps.logger.error({ err: error, policyId }, 'policy changed but its recompute job could not be queued; change it again to recompute');
      });
    }
    return result;
  }

  async function requireCalendar(id: string | null | undefined) {
    if (!id) return;
    const [row] = await db.select({ id: calendars.id }).from(calendars).where(eq(calendars.id, id));
    if (!row) throw badRequest('body.calendarId', `no calendar with id ${id}`);
  }

  // ---- calendars ----
  app.post('/v1/calendars', {
    onRequest: guard(MANAGERS),
    schema: { tags: ['sla'], summary: 'Create a business-hours calendar', security: bearerSecurity, body: calendarBody, response: { 201: calendarView, ...problemResponses(409) } },
    handler: async (request, reply) => {
      const now = clock.now();
      return uniqueOrConflict(async () => {
        const [row] = await db.insert(calendars).values({ ...request.body, createdAt: now, updatedAt: now }).returning();
        return reply.status(201).send(row!);
      }, `A calendar named "${request.body.name}" exists`);
    },
  });
  app.get('/v1/calendars', {
    onRequest: guard(STAFF),
    schema: { tags: ['sla'], summary: 'List calendars', security: bearerSecurity, response: { 200: list(calendarView), ...problemResponses() } },
    handler: async () => ({ items: await db.select().from(calendars).orderBy(asc(calendars.name)), nextCursor: null }),
  });
  app.get('/v1/calendars/:id', {
    onRequest: guard(STAFF),
    schema: { tags: ['sla'], summary: 'Read a calendar', security: bearerSecurity, params: idParams, response: { 200: calendarView, ...problemResponses(404) } },
    handler: async (request) => {
      const [row] = await db.select().from(calendars).where(eq(calendars.id, request.params.id));
      if (!row) throw notFound('Calendar', request.params.id);
      return row;
    },
  });
  app.put('/v1/calendars/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags: ['sla'], summary: 'Replace a calendar; tickets on policies using it recompute their due times', security: bearerSecurity, params: idParams, body: calendarBody, response: { 200: calendarView, ...problemResponses(404, 409) } },
    handler: async (request) =>
      changePolicies(async (tx) => {
        const [row] = await tx.update(calendars).set({ ...request.body, updatedAt: clock.now() }).where(eq(calendars.id, request.params.id)).returning();
        if (!row) throw notFound('Calendar', request.params.id);
        const users = await tx.select({ id: slaPolicies.id }).from(slaPolicies).where(eq(slaPolicies.calendarId, row.id));
        return { result: row, policyIds: users.map((p) => p.id) };
      }),
  });
  app.delete('/v1/calendars/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags: ['sla'], summary: 'Delete a calendar no policy uses', security: bearerSecurity, params: idParams, response: { 204: z.null(), ...problemResponses(404, 409) } },
    handler: async (request, reply) => {
      const users = await db.select({ id: slaPolicies.id }).from(slaPolicies).where(eq(slaPolicies.calendarId, request.params.id));
      if (users.length) throw conflict('in-use', `${users.length} SLA policies use this calendar`);
      const [row] = await db.delete(calendars).where(eq(calendars.id, request.params.id)).returning({ id: calendars.id });
      if (!row) throw notFound('Calendar', request.params.id);
      return reply.status(204).send(null);
    },
  });

  // ---- policies ----
  app.post('/v1/sla/policies', {
    onRequest: guard(MANAGERS),
    schema: { tags: ['sla'], summary: 'Create an SLA policy (first match by position wins)', security: bearerSecurity, body: slaPolicyInputSchema, response: { 201: policyView, ...problemResponses(409) } },
    handler: async (request, reply) => {
      await requireCalendar(request.body.calendarId);
      await assertEscalationWebhooksAllowed(request.body.escalation, deps.outbound);
      const now = clock.now();
      return uniqueOrConflict(async () => {
        const [row] = await db.insert(slaPolicies).values({ ...request.body, calendarId: request.body.calendarId ?? null, createdAt: now, updatedAt: now }).returning();
        deps.policies.invalidate();
        return reply.status(201).send(row!);
      }, `A policy named "${request.body.name}" exists`);
    },
  });
  app.get('/v1/sla/policies', {
    onRequest: guard(STAFF),
    schema: { tags: ['sla'], summary: 'List SLA policies in match order', security: bearerSecurity, response: { 200: list(policyView), ...problemResponses() } },
    handler: async () => ({ items: await db.select().from(slaPolicies).orderBy(asc(slaPolicies.position), asc(slaPolicies.createdAt)), nextCursor: null }),
  });
  app.get('/v1/sla/policies/:id', {
    onRequest: guard(STAFF),
    schema: { tags: ['sla'], summary: 'Read an SLA policy', security: bearerSecurity, params: idParams, response: { 200: policyView, ...problemResponses(404) } },
    handler: async (request) => {
      const [row] = await db.select().from(slaPolicies).where(eq(slaPolicies.id, request.params.id));
      if (!row) throw notFound('SLA policy', request.params.id);
      return row;
    },
  });
  app.put('/v1/sla/policies/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags: ['sla'], summary: 'Replace an SLA policy; running clocks under it are recomputed', security: bearerSecurity, params: idParams, body: slaPolicyInputSchema, response: { 200: policyView, ...problemResponses(404, 409) } },
    handler: async (request) => {
      await requireCalendar(request.body.calendarId);
      await assertEscalationWebhooksAllowed(request.body.escalation, deps.outbound);
      return uniqueOrConflict(
        async () =>
          changePolicies(async (tx) => {
            const [row] = await tx
              .update(slaPolicies)
              .set({ ...request.body, calendarId: request.body.calendarId ?? null, updatedAt: clock.now() })
              .where(eq(slaPolicies.id, request.params.id))
              .returning();
            if (!row) throw notFound('SLA policy', request.params.id);
            return { result: row, policyIds: [row.id] };
          }),
        `A policy named "${request.body.name}" exists`,
      );
    },
  });
  app.delete('/v1/sla/policies/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags: ['sla'], summary: 'Delete an SLA policy; its tickets re-match the remaining policies', security: bearerSecurity, params: idParams, response: { 204: z.null(), ...problemResponses(404) } },
    handler: async (request, reply) => {
      await changePolicies(async (tx) => {
        const [row] = await tx.delete(slaPolicies).where(eq(slaPolicies.id, request.params.id)).returning({ id: slaPolicies.id });
        if (!row) throw notFound('SLA policy', request.params.id);
        return { result: row, policyIds: [row.id] };
      });
      return reply.status(204).send(null);
    },
  });
}
