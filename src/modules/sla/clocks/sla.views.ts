import { poolOf, type Database } from '../../../db/client.js';
import { clockView, type SlaClockView } from '../../../domain/sla/sla-clocks.js';
import type { ClockStateName, SlaMetric } from '../../../domain/sla/sla.types.js';
import type { Clock } from '../../../shared/clock.js';
import type { ClocksOf } from '../../tickets/ticket-clocks.js';
import type { PolicyCache } from '../policies/policy.cache.js';

/**
 * The clocks of a page of tickets: one named prepared statement (parsed and planned once per
 * connection) with the ids as one array parameter, and only the columns a view needs, in array
 * rows. Every list page runs it, so it skips drizzle's query building and row mapping and the
 * binding of one parameter per ticket.
 */
const PAGE_CLOCKS = {
  name: 'sla_views_page_clocks_v1',
  text: `select ticket_id, policy_id, metric, state, target_sec, started_at, resumed_at, used_sec, due_at, warn_due_at,
                paused_at, warned_at, breached_at, stopped_at, generation
           from sla_clocks where ticket_id = any($1::uuid[])`,
  rowMode: 'array' as const,
};

type PageClockRow = [string, string | null, string, string, number, Date, Date | null, number, Date | null, Date | null, Date | null, Date | null, Date | null, Date | null, number];

/** The `sla` array of ticket JSON, for many tickets in one query: the tickets module's ClocksOf. */
export function createSlaViews(deps: { db: Database; clock: Clock; policies: PolicyCache }): ClocksOf {
  return async function slaOf(ticketIds: string[]): Promise<Map<string, SlaClockView[]>> {
    const result = new Map<string, SlaClockView[]>(ticketIds.map((id) => [id, []]));
    if (ticketIds.length === 0) return result;
    const [{ rows }, { byId }] = await Promise.all([poolOf(deps.db).query<PageClockRow>({ ...PAGE_CLOCKS, values: [ticketIds] }), deps.policies.get()]);
    const now = deps.clock.now();
    for (const [ticketId, policyId, metric, state, targetSec, startedAt, resumedAt, usedSec, dueAt, warnDueAt, pausedAt, warnedAt, breachedAt, stoppedAt, generation] of rows) {
      const calendar = policyId ? (byId.get(policyId)?.calendar ?? null) : null;
      const clock = { metric: metric as SlaMetric, state: state as ClockStateName, targetSec, startedAt, resumedAt, usedSec, dueAt, warnDueAt, pausedAt, warnedAt, breachedAt, stoppedAt, generation };
      result.get(ticketId)?.push(clockView(clock, now, calendar));
    }
    return result;
  };
}
