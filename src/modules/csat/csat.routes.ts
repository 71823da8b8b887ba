import { z } from 'zod';
import { SURVEY_KINDS } from '../../domain/figures/surveys.js';
import { problemResponses, type App } from '../../http/types.js';
import type { CsatService } from './csat.service.js';
import { wantsHtml, type CsatPage } from './csat-page.js';

const tokenParams = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{20,64}$/, 'a survey token') });

/** The customer's side of a survey: no API key, the token in the link is the credential. */
export function registerCsatRoutes(app: App, deps: { csat: CsatService; page?: CsatPage }): void {
  app.get('/v1/csat/:token', {
    // A malformed link is still a page for a browser (the handler decides; JSON clients get the 400).
    attachValidation: true,
    schema: {
      tags: ['csat'],
      summary: 'Read a satisfaction survey (the token is the credential)',
      description:
        "Read a satisfaction survey (the token is the credential). A browser (Accept: text/html) gets the survey page instead, in the customer's language, or a friendly page when the link is used, expired or unknown.",
      params: tokenParams,
      response: {
        200: z.object({ ticketNumber: z.number().int(), kind: z.enum(SURVEY_KINDS).describe('csat (1-5), ces (1-7) or nps (0-10): the scale to show'), expiresAt: z.date(), answered: z.boolean(), expired: z.boolean(), scale: z.object({ min: z.number(), max: z.number() }) }),
        ...problemResponses(404),
      },
    },
    handler: async (request, reply) => {
      if (deps.page && wantsHtml(request)) return deps.page.reply(request, reply, request.validationError ? null : request.params.token);
      if (request.validationError) throw request.validationError;
      return deps.csat.read(request.params.token);
    },
  });

  app.post('/v1/csat/:token', {
    schema: {
      tags: ['csat'],
      summary: 'Answer a survey (CSAT 1-5, CES 1-7 or NPS 0-10, as the token says) with an optional comment; single use',
      params: tokenParams,
      body: z.object({ score: z.number().int().min(0).max(10).describe('CSAT 1-5, CES 1-7, NPS 0-10 (the survey kind decides)'), comment: z.string().trim().max(5000).optional() }),
      response: { 201: z.object({ score: z.number().int(), respondedAt: z.date() }), ...problemResponses(404, 409, 410) },
    },
    handler: async (request, reply) => reply.status(201).send(await deps.csat.answer(request.params.token, request.body)),
  });
}
