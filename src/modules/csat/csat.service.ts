import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { Clock } from '../../shared/clock.js';
import { AppError, conflict, notFound } from '../../shared/errors.js';
import type { TicketChange, TicketHook } from '../tickets/tickets.hooks.js';
import { messages } from '../tickets/messages.table.js';
import { appendEvents, type NewEvent } from '../tickets/tickets.repository.js';
import { tickets } from '../tickets/tickets.table.js';
import { csatSurveys } from './csat.table.js';

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** The survey line in the customer's language; English where we have no translation. */
const OFFER_TEXT: Record<string, (n: number, url: string) => string> = {
  en: (n, url) => `Your ticket #${n} is solved. How did we do? Rate us from 1 to 5: ${url}`,
  he: (n, url) => `הפנייה שלך #${n} טופלה. איך היה השירות? דרגו אותנו מ-1 עד 5: ${url}`,
  pl: (n, url) => `Twoje zgłoszenie #${n} zostało rozwiązane. Jak nam poszło? Oceń nas w skali od 1 do 5: ${url}`,
  ar: (n, url) => `تم حل طلبك رقم #${n}. كيف كانت خدمتنا؟ قيّمنا من 1 إلى 5: ${url}`,
  ru: (n, url) => `Ваше обращение #${n} решено. Оцените нас от 1 до 5: ${url}`,
};

export function offerText(language: string | null, ticketNumber: number, url: string): string {
  return (OFFER_TEXT[language ?? 'en'] ?? OFFER_TEXT.en!)(ticketNumber, url);
}

/**
 * On a solve, a survey with a fresh single-use token; when offering is on, a message on the
 * customer's channel that goes out through the outbox like any reply (the hook adds a
 * `survey_offered` event that the delivery hook, registered after this one, picks up).
 */
export function createCsatHook(deps: { publicBaseUrl: string; ttlMs: number; offer: boolean }): TicketHook {
  return {
    async inTransaction(tx, change: TicketChange) {
      if (!change.events.some((e) => e.type === 'status_changed' && e.data?.to === 'solved')) return;
      const { ticket, now } = change;
      const [open] = await tx
        .select({ id: csatSurveys.id })
        .from(csatSurveys)
        .where(and(eq(csatSurveys.ticketId, ticket.id), isNull(csatSurveys.respondedAt), gt(csatSurveys.expiresAt, now)));
      if (open) return;
      const token = randomBytes(24).toString('base64url');
      const [survey] = await tx
        .insert(csatSurveys)
        .values({
          ticketId: ticket.id,
          tokenHash: hashToken(token),
          agentId: ticket.assigneeId,
          teamId: ticket.teamId,
          channel: ticket.channel,
          language: ticket.language,
          offeredAt: now,
          expiresAt: new Date(now.getTime() + deps.ttlMs),
          createdAt: now,
        })
        .returning({ id: csatSurveys.id });
      const url = `${deps.publicBaseUrl.replace(/\/$/, '')}/v1/csat/${token}`;
      const events: NewEvent[] = [{ type: 'csat_survey_created', data: { surveyId: survey!.id, expiresAt: new Date(now.getTime() + deps.ttlMs) } }];
      if (deps.offer) {
        const [message] = await tx
          .insert(messages)
          .values({
            ticketId: ticket.id,
            direction: 'outbound',
            kind: 'survey',
            public: true,
            authorKind: 'system',
            channel: ticket.channel,
            bodyText: offerText(ticket.language, ticket.number, url),
            deliveryState: 'queued',
            createdAt: now,
          })
          .returning({ id: messages.id });
        events.push({ type: 'survey_offered', data: { surveyId: survey!.id, messageId: message!.id } });
      }
      await appendEvents(tx, ticket.id, { kind: 'system', id: 'csat' }, events, now);
      change.events.push(...events);
    },
  };
}

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
      return { ticketNumber, expiresAt: survey.expiresAt, answered: survey.respondedAt !== null, expired: survey.expiresAt <= clock.now(), scale: { min: 1, max: 5 } };
    },

    /** Single use: the first answer counts; a second is 409, an expired token 410. */
    async answer(token: string, input: { score: number; comment?: string | undefined }) {
      const now = clock.now();
      return db.transaction(async (tx) => {
        const [survey] = await tx.select().from(csatSurveys).where(eq(csatSurveys.tokenHash, hashToken(token))).for('update');
        if (!survey) throw notFound('Survey');
        if (survey.respondedAt) throw conflict('survey-answered', 'This survey has already been answered');
        if (survey.expiresAt <= now) throw new AppError(410, 'survey-expired', 'Gone', 'This survey has expired');
        await tx.update(csatSurveys).set({ score: input.score, comment: input.comment ?? null, respondedAt: now }).where(eq(csatSurveys.id, survey.id));
        await appendEvents(tx, survey.ticketId, { kind: 'customer', id: null }, [{ type: 'csat', data: { surveyId: survey.id, score: input.score, comment: input.comment ?? null } }], now);
        return { score: input.score, respondedAt: now };
      });
    },
  };
}

export type CsatService = ReturnType<typeof createCsatService>;
