import { randomBytes } from 'node:crypto';
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { TicketChange, TicketHook } from '../tickets/tickets.hooks.js';
import { messages } from '../tickets/messages.table.js';
import { appendEvents, type NewEvent } from '../tickets/tickets.repository.js';
import { surveyKindFor } from '../surveys/survey-settings.service.js';
import { surveyOfferText } from '../surveys/survey-texts.js';
import { hashToken } from './csat.service.js';
import { csatSurveys } from './csat.table.js';

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
      // Issue 16: CSAT, CES or NPS per the survey settings (or none: off, or NPS asked within 90 days).
      const kind = await surveyKindFor(tx, ticket, now);
      if (kind === 'off') return;
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
          kind,
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
            bodyText: kind === 'csat' ? offerText(ticket.language, ticket.number, url) : surveyOfferText(kind, ticket.language, ticket.number, url),
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
