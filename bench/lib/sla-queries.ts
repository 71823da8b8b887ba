import type { Database } from '../../src/db/client.js';
import { atRiskRows, breachQueueRows } from '../../src/modules/sla/breaches/breach-ops.service.js';

/**
 * The SQL of GET /v1/sla/breaches and GET /v1/sla/at-risk, taken from the module the routes
 * call (src/modules/sla/breach-ops.service.ts), never a copy. Run through lib/sql.ts's
 * captureQueries, it gives the statement the baseline replays and EXPLAIN checks; the
 * benchmark compares its rows with the route's answer, so a route that changes its query
 * shows up as a mismatch instead of a silently wrong baseline.
 */
export async function breachQueuePage(db: Database, query: { channel?: string[]; limit?: number }) {
  return breachQueueRows(db, { state: ['open'], channel: query.channel, limit: query.limit ?? 50 });
}

const UNIT_SEC: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export async function atRiskPage(db: Database, query: { within: string; now: Date; limit?: number }) {
  const [, amount, unit] = /^(\d{1,6})(s|m|h|d)$/.exec(query.within)!;
  const until = new Date(query.now.getTime() + Number(amount) * UNIT_SEC[unit!]! * 1000);
  return atRiskRows(db, { now: query.now, until, limit: query.limit ?? 50 });
}
