import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { Clock } from '../../shared/clock.js';
import { inScale, SCALES, SURVEY_KINDS, type SurveyKind } from '../../domain/figures/surveys.js';
import { AppError, badRequest, conflict, notFound } from '../../shared/errors.js';
import { appendEvents, findTicket } from '../tickets/tickets.repository.js';
import { recordEvent } from '../events/events.writer.js';
import { tickets } from '../tickets/tickets.table.js';
import { csatSurveys } from './csat.table.js';

const surveyKindOf = (kind: string): SurveyKind => ((SURVEY_KINDS as readonly string[]).includes(kind) ? (kind as SurveyKind) : 'csat');

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export function createCsatService(deps: { db: Database; clock: Clock }) {
  const { db, clock } = deps;

  async function find(token: string) {
    const [survey] = await db
      .select({ survey: csatSurveys, ticketNumber: tickets.number })
      .from(csatSurveys)
      .innerJoin(tickets, eq(tickets.id, csatSurveys.ticketId))
      .where(eq(csatSurveys.tokenHash, hashToken(token)));
    if (!survey) throw notFound('Survey');
    return survey;
  }

  return {
    async read(token: string) {
      const { survey, ticketNumber } = await find(token);
      // Issue 16: the token's survey kind decides the scale the page shows (CSAT 1-5, CES 1-7, NPS 0-10).
      const kind = surveyKindOf(survey.kind);
      return { ticketNumber, kind, expiresAt: survey.expiresAt, answered: survey.respondedAt !== null, expired: survey.expiresAt <= clock.now(), scale: SCALES[kind] };
    },

    /** Single use: the first answer counts; a second is 409, an expired token 410. */
    async answer(token: string, input: { score: number; comment?: string | undefined }) {
      const now = clock.now();
      return db.transaction(async (tx) => {
        const [survey] = await tx.select().from(csatSurveys).where(eq(csatSurveys.tokenHash, hashToken(token))).for('update');
        if (!survey) throw notFound('Survey');
        if (survey.respondedAt) throw conflict('survey-answered', 'This survey has already been answered');
        if (survey.expiresAt <= now) throw new AppError(410, 'survey-expired', 'Gone', 'This survey has expired');
        const kind = surveyKindOf(survey.kind);
        if (!inScale(kind, input.score)) throw badRequest('body.score', `this ${kind.toUpperCase()} survey takes a whole number from ${SCALES[kind].min} to ${SCALES[kind].max}`);
        await tx.update(csatSurveys).set({ score: input.score, comment: input.comment ?? null, respondedAt: now }).where(eq(csatSurveys.id, survey.id));
        await appendEvents(tx, survey.ticketId, { kind: 'customer', id: null }, [{ type: 'csat', data: { surveyId: survey.id, score: input.score, comment: input.comment ?? null } }], now);
        // Events (issue 15): the score, never the comment (the customer's own words).
        const ticket = await findTicket(tx, survey.ticketId);
        await recordEvent(tx, { type: 'csat.responded', resource: { type: 'ticket', id: survey.ticketId }, data: { ticketId: survey.ticketId, ticketNumber: ticket?.number ?? 0, surveyId: survey.id, score: input.score }, occurredAt: now, audience: { teamId: ticket?.teamId ?? null, assigneeId: ticket?.assigneeId ?? null } });
        return { score: input.score, respondedAt: now };
      });
    },
  };
}

export type CsatService = ReturnType<typeof createCsatService>;
