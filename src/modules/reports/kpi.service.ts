import type pg from 'pg';
import type { Database } from '../../db/client.js';
import { queryKpisFromRollups } from './kpi-rollup.report.js';
import { DAY_MS } from './kpi-rollup.refresh.js';
import { queryKpis, type KpiQuery, type KpiReport } from './kpi.queries.js';

export type KpiSource = 'rollups' | 'exact';

/**
 * The KPI report: from the rollups for ranges of a day or more (a month in well under a
 * second at a million tickets), from the exact statement for shorter ranges and whenever the
 * rollups cannot serve the query (kpi-rollup.report.ts says when).
 */
export async function kpiReport(db: Database, q: KpiQuery): Promise<{ report: KpiReport; source: KpiSource }> {
  if (q.to.getTime() - q.from.getTime() >= DAY_MS) {
    const report = await queryKpisFromRollups(poolOf(db), q);
    if (report) return { report, source: 'rollups' };
  }
  return { report: await queryKpis(db, q), source: 'exact' };
}

/** The pool under the drizzle handle (drizzle keeps it as $client; our Database type omits it). */
export const poolOf = (db: Database): pg.Pool => (db as Database & { $client: pg.Pool }).$client;
