/*
 * Retention rules and what they decide at a given instant. Pure: the maintenance job asks for
 * the cut-offs and deletes or anonymizes what lies before them.
 */

export interface RetentionSettings {
  /** Raw inbound payloads and dead letters are deleted this many days after they were received. */
  rawPayloadDays: number;
  /** Closed tickets are anonymized this many months after closing; null: never. */
  closedTicketMonths: number | null;
  /** Audit rows are deleted this many years after they were written. */
  auditYears: number;
}

export const DEFAULT_RETENTION: RetentionSettings = { rawPayloadDays: 90, closedTicketMonths: null, auditYears: 5 };

export interface RetentionCutoffs {
  /** Payloads and dead letters received before this go. */
  rawPayloadsBefore: Date;
  /** Tickets closed before this are anonymized; null: the rule is off. */
  closedTicketsBefore: Date | null;
  /** Audit rows written before this go. */
  auditBefore: Date;
}

/** Calendar arithmetic in UTC: "3 months ago" on 31 May is 28/29 February, not 3 March. */
function minusMonths(now: Date, months: number): Date {
  const d = new Date(now.getTime());
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() - months);
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, lastDay));
  return d;
}

export function retentionCutoffs(settings: RetentionSettings, now: Date): RetentionCutoffs {
  return {
    rawPayloadsBefore: new Date(now.getTime() - settings.rawPayloadDays * 86_400_000),
    closedTicketsBefore: settings.closedTicketMonths === null ? null : minusMonths(now, settings.closedTicketMonths),
    auditBefore: minusMonths(now, settings.auditYears * 12),
  };
}
