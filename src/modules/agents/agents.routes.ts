import { and, asc, eq, gt } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import type { Guard } from '../../http/auth.js';
import { cursorKeys, decodeCursor, limitSchema, toPage } from '../../http/pagination.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import type { Clock } from '../../shared/clock.js';
import { notFound } from '../../shared/errors.js';
import { MANAGERS, STAFF } from '../auth/api-keys.models.js';
import { uniqueOrConflict } from '../../db/unique.js';
import { requireTeam } from './agents.repository.js';
import { agents } from './agents.table.js';

const tags = ['agents'];
const idParams = z.object({ id: z.uuid() });
const languageCode = z.string().regex(/^[a-z]{2,3}$/, 'an ISO 639 language code such as "he"');
const agentBody = z.object({
  name: z.string().trim().min(1).max(200),
  email: z.email().max(320),
  teamId: z.uuid().nullable().optional(),
  languages: z.array(languageCode).max(20).optional(),
  active: z.boolean().optional(),
});
const agentView = z.object({
  id: z.uuid(),
  name: z.string(),
  email: z.string(),
  teamId: z.uuid().nullable(),
  languages: z.array(z.string()),
  active: z.boolean(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
const agentPage = z.object({ items: z.array(agentView), nextCursor: z.string().nullable() });

export function registerAgentRoutes(app: App, deps: { db: Database; clock: Clock; guard: Guard }): void {
  const { db, clock, guard } = deps;

  app.post('/v1/agents', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Create an agent', security: bearerSecurity, body: agentBody, response: { 201: agentView, ...problemResponses(409) } },
    handler: async (request, reply) => {
      if (request.body.teamId) await requireTeam(db, request.body.teamId, 'body.teamId');
      const now = clock.now();
      return uniqueOrConflict(async () => {
        const [row] = await db.insert(agents).values({ ...request.body, teamId: request.body.teamId ?? null, createdAt: now, updatedAt: now }).returning();
        return reply.status(201).send(row!);
      }, `An agent with e-mail ${request.body.email} exists`);
    },
  });

  app.get('/v1/agents', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: 'List agents',
      security: bearerSecurity,
      querystring: z.object({ teamId: z.uuid().optional(), active: z.enum(['true', 'false']).optional(), limit: limitSchema, cursor: z.string().optional() }),
      response: { 200: agentPage, ...problemResponses() },
    },
    handler: async (request) => {
      const { teamId, active, limit } = request.query;
      const cursor = decodeCursor(request.query.cursor, cursorKeys.uuid);
      const rows = await db
        .select()
        .from(agents)
        .where(and(teamId ? eq(agents.teamId, teamId) : undefined, active ? eq(agents.active, active === 'true') : undefined, cursor ? gt(agents.id, cursor.id) : undefined))
        .orderBy(asc(agents.id))
        .limit(limit + 1);
      return toPage(rows, limit, (r) => ({ v: r.id, id: r.id }), (r) => r);
    },
  });

  app.get('/v1/agents/:id', {
    onRequest: guard(STAFF),
    schema: { tags, summary: 'Read an agent', security: bearerSecurity, params: idParams, response: { 200: agentView, ...problemResponses(404) } },
    handler: async (request) => {
      const [row] = await db.select().from(agents).where(eq(agents.id, request.params.id));
      if (!row) throw notFound('Agent', request.params.id);
      return row;
    },
  });

  app.patch('/v1/agents/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Change an agent', security: bearerSecurity, params: idParams, body: agentBody.partial(), response: { 200: agentView, ...problemResponses(404, 409) } },
    handler: async (request) => {
      if (request.body.teamId) await requireTeam(db, request.body.teamId, 'body.teamId');
      return uniqueOrConflict(async () => {
        const [row] = await db.update(agents).set({ ...request.body, updatedAt: clock.now() }).where(eq(agents.id, request.params.id)).returning();
        if (!row) throw notFound('Agent', request.params.id);
        return row;
      }, `An agent with e-mail ${request.body.email} exists`);
    },
  });

  app.delete('/v1/agents/:id', {
    onRequest: guard(MANAGERS),
    schema: {
      tags,
      summary: 'Deactivate an agent (kept, because tickets and messages name them)',
      security: bearerSecurity,
      params: idParams,
      response: { 200: agentView, ...problemResponses(404) },
    },
    handler: async (request) => {
      const [row] = await db.update(agents).set({ active: false, updatedAt: clock.now() }).where(eq(agents.id, request.params.id)).returning();
      if (!row) throw notFound('Agent', request.params.id);
      return row;
    },
  });
}
