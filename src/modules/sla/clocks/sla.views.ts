import { inArray } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { clockView, type SlaClockView } from '../../../domain/sla/sla-clocks.js';
import type { Clock } from '../../../shared/clock.js';
import type { ClocksOf } from '../../tickets/ticket-clocks.js';
import { toDomainClock } from './clocks.repository.js';
import type { PolicyCache } from '../policies/policy.cache.js';
import { slaClocks } from '../sla.table.js';

/** The `sla` array of ticket JSON, for many tickets in one query: the tickets module's ClocksOf. */
export function createSlaViews(deps: { db: Database; clock: Clock; policies: PolicyCache }): ClocksOf {
  return async function slaOf(ticketIds: string[]): Promise<Map<string, SlaClockView[]>> {
    const result = new Map<string, SlaClockView[]>(ticketIds.map((id) => [id, []]));
    if (ticketIds.length === 0) return result;
    const [rows, { byId }] = await Promise.all([deps.db.select().from(slaClocks).where(inArray(slaClocks.ticketId, ticketIds)), deps.policies.get()]);
    const now = deps.clock.now();
    for (const row of rows) {
      const calendar = row.policyId ? (byId.get(row.policyId)?.calendar ?? null) : null;
      result.get(row.ticketId)?.push(clockView(toDomainClock(row), now, calendar));
    }
    return result;
  };
}

