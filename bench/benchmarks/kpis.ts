import type { Benchmark } from '../lib/bench.js';
import { notBuilt } from '../lib/report.js';

/**
 * KPI report over a month of tickets, grouped by channel and by day (issue target: under
 * 1 second at 1,000,000 tickets). The report is not built yet; when it is, seed with
 * lib/seed.ts, time the report route against the same aggregation run directly through pg.
 */
export const kpis: Benchmark = {
  name: 'kpis',
  description: 'KPI report over a month of tickets, by channel and by day',
  sizeUnit: 'tickets',
  sizes: { quick: 50_000, full: 1_000_000 },

  async run(context) {
    return [
      notBuilt({
        benchmark: 'kpis',
        metric: 'month report by channel x day',
        unit: 'ms',
        target: { kind: 'below', value: 1000, unit: 'ms' },
        note: `KPI report over ${context.size.toLocaleString('en-US')} tickets`,
      }),
    ];
  },
};
