import { z } from 'zod';
import { problemResponses, type App } from '../../http/types.js';
import type { CsatService } from './csat.service.js';

const tokenParams = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{20,64}$/, 'a survey token') });

/** The customer's side of a survey: no API key, the token in the link is the credential. */
export function registerCsatRoutes(app: App, deps: { csat: CsatService }): void {
  app.get('/v1/csat/:token', {
    schema: {
      tags: ['csat'],
      summary: 'Read a satisfaction survey (the token is the credential)',
      params: tokenParams,
      response: {
        200: z.object({ ticketNumber: z.number().int(), expiresAt: z.date(), answered: z.boolean(), expired: z.boolean(), scale: z.object({ min: z.number(), max: z.number() }) }),
        ...problemResponses(404),
      },
    },
    handler: async (request) => deps.csat.read(request.params.token),
  });

  app.post('/v1/csat/:token', {
    schema: {
      tags: ['csat'],
      summary: 'Answer a satisfaction survey: a score from 1 to 5 and an optional comment; single use',
      params: tokenParams,
      body: z.object({ score: z.number().int().min(1).max(5), comment: z.string().trim().max(5000).optional() }),
      response: { 201: z.object({ score: z.number().int(), respondedAt: z.date() }), ...problemResponses(404, 409, 410) },
    },
    handler: async (request, reply) => reply.status(201).send(await deps.csat.answer(request.params.token, request.body)),
  });
}
