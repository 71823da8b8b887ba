import { z } from 'zod';
import type { Database } from '../../db/client.js';
import type { Guard } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { requireAgent } from '../agents/agents.repository.js';
import { ADMINS, ROLES } from './api-keys.models.js';
import type { ApiKeyService } from './api-keys.service.js';

const tags = ['api-keys'];
const keyView = z.object({
  id: z.uuid(),
  name: z.string(),
  role: z.enum(ROLES),
  prefix: z.string(),
  agentId: z.uuid().nullable(),
  createdAt: z.date(),
  lastUsedAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
});

export function registerApiKeyRoutes(app: App, deps: { db: Database; apiKeys: ApiKeyService; guard: Guard }): void {
  const { db, apiKeys, guard } = deps;

  app.post('/v1/api-keys', {
    onRequest: guard(ADMINS),
    config: { answerHoldsSecret: true },
    schema: {
      tags,
      summary: 'Create an API key; the token is shown in this answer only',
      security: bearerSecurity,
      body: z.object({ name: z.string().trim().min(1).max(200), role: z.enum(ROLES), agentId: z.uuid().optional() }),
      response: { 201: keyView.extend({ token: z.string() }), ...problemResponses() },
    },
    handler: async (request, reply) => {
      if (request.body.agentId) await requireAgent(db, request.body.agentId, 'body.agentId');
      return reply.status(201).send(await apiKeys.create(request.body));
    },
  });

  app.get('/v1/api-keys', {
    onRequest: guard(ADMINS),
    schema: { tags, summary: 'List API keys (never their secrets)', security: bearerSecurity, response: { 200: z.object({ items: z.array(keyView), nextCursor: z.null() }), ...problemResponses() } },
    handler: async () => ({ items: await apiKeys.list(), nextCursor: null }),
  });

  app.delete('/v1/api-keys/:id', {
    onRequest: guard(ADMINS),
    schema: { tags, summary: 'Revoke an API key', security: bearerSecurity, params: z.object({ id: z.uuid() }), response: { 200: keyView, ...problemResponses(404) } },
    handler: async (request) => apiKeys.revoke(request.params.id),
  });
}
