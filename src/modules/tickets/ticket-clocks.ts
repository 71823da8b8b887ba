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
 * A list page's JSON from tickets Postgres rendered as JSON text (tickets.repository.ts
 * listTicketPage): each ticket's `sla` is spliced in before its closing brace, so the page is
 * never parsed or serialized as objects. The same JSON withClocks + JSON.stringify writes.
 */
export async function pageJsonWithClocks(page: { rows: { id: string; json: string }[]; nextCursor: string | null }, clocksOf: ClocksOf): Promise<string> {
  const sla = await clocksOf(page.rows.map((row) => row.id));
  let body = '{"items":[';
  for (let i = 0; i < page.rows.length; i++) {
    const { id, json } = page.rows[i]!;
    body += `${i > 0 ? ',' : ''}${json.slice(0, -1)},"sla":${JSON.stringify(sla.get(id) ?? [])}}`;
  }
  return `${body}],"nextCursor":${JSON.stringify(page.nextCursor)}}`;
}
