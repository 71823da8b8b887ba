import type { SlaClockView } from '../../domain/sla/sla-clocks.js';

/**
 * How a ticket view gets each ticket's SLA clocks without importing the SLA module (which
 * builds on tickets): SLA provides it (sla/clocks/sla.views.ts), the composition root wires it.
 */
export type ClocksOf = (ticketIds: string[]) => Promise<Map<string, SlaClockView[]>>;

/** Attaches each ticket's clocks to its JSON; one query for a whole page. */
export async function withClocks<T extends { id: string }>(items: T[], clocksOf: ClocksOf): Promise<(T & { sla: SlaClockView[] })[]> {
  const sla = await clocksOf(items.map((t) => t.id));
  return items.map((t) => ({ ...t, sla: sla.get(t.id) ?? [] }));
}

/**
 * How a list page gets its tickets' clocks inside its own statement, again without importing
 * the SLA module: SLA writes the SQL that reads sla_clocks (sla/clocks/sla.views.ts
 * createPageClocks), the page statement (tickets.repository.ts ticketPageSql) joins it per
 * ticket. Asked once per request: "now" and the policies it depends on are the request's.
 */
export type PageClocks = () => Promise<PageClocksSql>;

export interface PageClocksSql {
  /**
   * A subquery (to join laterally) of one row for the ticket whose id is the SQL expression
   * `ticketId`, binding its values through `param`: `sla`, the ticket's `sla` array as json,
   * or null when JS must finish it; then `pending`, what finish() takes to write it.
   */
  lateral(ticketId: string, param: (value: unknown, cast: string) => string): string;
  /** The `sla` array's JSON of a ticket the statement left to JS, from its `pending` value. */
  finish(pending: unknown): string;
}

const PAGE_START = Buffer.from('{"items":[');
const COMMA = Buffer.from(',');

/**
 * A list page's JSON, as the UTF-8 bytes the response sends, from its tickets' finished JSON
 * (tickets.repository.ts listTicketPage). Bytes, not one string: a page with any non-Latin-1
 * text is a two-byte string in V8, and joining it, flattening it for the content-length and
 * encoding it for the socket made three copies of twice the page's size; each item's bytes
 * (small buffers from Node's pool) and one concat make two of its size. Less garbage per
 * request means fewer young-generation GC pauses among the requests (the list p99).
 */
export function pageJson(page: { items: string[]; nextCursor: string | null }): Buffer {
  const parts: Buffer[] = [PAGE_START];
  page.items.forEach((item, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(Buffer.from(item));
  });
  parts.push(Buffer.from(`],"nextCursor":${JSON.stringify(page.nextCursor)}}`));
  return Buffer.concat(parts);
}
