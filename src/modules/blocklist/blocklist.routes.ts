import { z } from 'zod';
import type { Guard } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { MANAGERS } from '../auth/api-keys.models.js';
import { blocklistEntryBody, blocklistEntryView, blocklistIdParams, blocklistPage, blocklistQuery } from './blocklist.schemas.js';
import { createBlocklistService } from './blocklist.service.js';
import type { Database } from '../../db/client.js';
import type { Clock } from '../../shared/clock.js';

const tags = ['blocklist'];

/** Supervisors and admins decide who is blocked; agents see the effect on intake outcomes. */
export function registerBlocklistRoutes(app: App, deps: { db: Database; clock: Clock; defaultPhoneRegion: string; guard: Guard }): void {
  const { guard } = deps;
  const blocklist = createBlocklistService(deps);

  app.get('/v1/blocklist', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Blocked senders and domains, newest first, with how many messages each refused', security: bearerSecurity, querystring: blocklistQuery, response: { 200: blocklistPage, ...problemResponses() } },
    handler: async (request) => blocklist.list(request.query),
  });

  app.post('/v1/blocklist', {
    onRequest: guard(MANAGERS),
    schema: {
      tags,
      summary: 'Block a sender identity, an e-mail domain or a phone number',
      description: 'Messages from a blocked sender are kept as raw payloads (outcome "blocked") but open no ticket, get no auto-reply and no survey.',
      security: bearerSecurity,
      body: blocklistEntryBody,
      response: { 201: blocklistEntryView, ...problemResponses(409) },
    },
    handler: async (request, reply) => reply.status(201).send(await blocklist.create(request.body)),
  });

  app.delete('/v1/blocklist/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Unblock: later messages are taken in as usual', security: bearerSecurity, params: blocklistIdParams, response: { 204: z.null(), ...problemResponses(404) } },
    handler: async (request, reply) => {
      await blocklist.remove(request.params.id);
      return reply.status(204).send(null);
    },
  });
}
