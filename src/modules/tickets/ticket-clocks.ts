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
