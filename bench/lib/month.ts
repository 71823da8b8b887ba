import pg from 'pg';
import type { BenchContext } from './bench.js';
import { seedTickets, type SeedResult } from './seed.js';
import { seedMonthSla, type MonthSlaSeedResult } from './sla-seed.js';
import { CONNECTION_OPTIONS } from '../../src/db/client.js';
import { refreshKpiRollups, type RefreshResult } from '../../src/modules/reports/kpi-rollup.refresh.js';
import { classifyTickets, seedContactFacts } from '../../scripts/seed-contact-facts.js';

/**
 * A seeded month of complaint traffic (lib/seed.ts) with its SLA clocks, breaches and CSAT
 * surveys (lib/sla-seed.ts), in a database of its own: cd_bench_<id>_month_<tickets>. The
 * queries and kpis benchmarks read the same month, so it is seeded once per run and size (at
 * 1,000,000 tickets the seeding is minutes of the run): the first benchmark that asks seeds
 * it, the next one reuses it. Neither writes to it except what the service itself does in the
 * background (the SLA worker breaching the few running clocks that come due meanwhile).
 */
export interface MonthFixture {
  database: { name: string; url: string };
  /** The seed's "now": tickets are created over the 30 days before it. */
  now: Date;
  tickets: SeedResult;
  sla: MonthSlaSeedResult;
  /** Issue 16's facts over the month (scripts/seed-contact-facts.ts): work intervals, queue calls, CES/NPS, reasons, redress, presence. */
  contact: { seconds: number; counts: Record<string, number> };
  /** The KPI rollups built over the seeded month (the product's own refresh, timed), before any service starts: a service's maintenance worker then has only the last hour or so to add. */
  rollups: RefreshResult;
  /** The benchmark that seeded it. */
  seededBy: string;
}

const fixtures = new Map<string, Promise<MonthFixture>>();

/** Open breaches for a month of `tickets`: 100,000 at the full size (1,000,000), 10,000 at the quick size (50,000). */
export const openBreachesFor = (tickets: number): number => Math.min(100_000, Math.round(tickets / 5));

export function monthFixture(context: BenchContext, by: string): Promise<MonthFixture> {
  const key = `${context.env.id}:${context.size}`;
  let fixture = fixtures.get(key);
  if (!fixture) {
    fixture = seedMonth(context, by);
    fixtures.set(key, fixture);
    // A failed seeding is not cached: the next benchmark tries again (and reports its own error).
    fixture.catch(() => fixtures.delete(key));
  } else {
    context.log(`reusing the month of ${context.size.toLocaleString('en-US')} tickets seeded earlier in this run`);
  }
  return fixture;
}

async function seedMonth(context: BenchContext, by: string): Promise<MonthFixture> {
  const database = await context.env.createDatabase(`month_${context.size}`);
  // With the service's connection settings: the rollup build below is the product's refresh.
  const pool = new pg.Pool({ connectionString: database.url, max: 2, application_name: 'bench seed', options: CONNECTION_OPTIONS });
  pool.on('error', () => undefined);
  try {
    const now = new Date();
    context.log(`seeding ${context.size.toLocaleString('en-US')} tickets`);
    // The tickets' issue 16 columns (reason, root cause, outcome, redress, handle time) are
    // written while the tickets table has no secondary index: one UPDATE of every solved ticket
    // under its twenty-odd indexes is what did not scale to 1,000,000 tickets.
    let classified: Record<string, number> = {};
    const tickets = await seedTickets(pool, {
      tickets: context.size,
      now,
      log: context.log,
      beforeIndexes: async (client) => {
        classified = await classifyTickets(client);
      },
    });
    context.log(`seeded ${tickets.tickets} tickets, ${tickets.messages} messages, ${tickets.events} events in ${tickets.seconds.toFixed(1)} s`);
    const openBreaches = openBreachesFor(context.size);
    const sla = await seedMonthSla(pool, { openBreaches, now, log: context.log });
    context.log(
      `seeded ${sla.clocks} SLA clocks (${sla.runningClocks} running), ${sla.breaches} breaches (${sla.openBreaches} open), ${sla.surveys} CSAT surveys in ${sla.seconds.toFixed(1)} s`,
    );
    // The contact-center facts (issue 16) before the rollups are built, with the rollups'
    // dirty-hour triggers off for this session (session_replication_role): the build that
    // follows aggregates every hour anyway, and marking them row by row took 273 s at 50,000
    // tickets under load.
    const client = await pool.connect();
    let contact;
    try {
      await client.query('set session_replication_role = replica');
      contact = await seedContactFacts(client, { from: new Date(now.getTime() - 31 * 86_400_000), to: now }, { classified: true });
      contact.counts = { ...classified, ...contact.counts };
    } finally {
      await client.query('reset session_replication_role').catch(() => undefined);
      client.release();
    }
    context.log(`seeded the contact-center facts in ${contact.seconds.toFixed(1)} s: ${JSON.stringify(contact.counts)}`);
    const rollups = await refreshKpiRollups(pool);
    context.log(`built the KPI rollups: ${rollups.days} days, ${rollups.rows.toLocaleString('en-US')} rows in ${(rollups.ms / 1000).toFixed(1)} s`);
    return { database, now, tickets, sla, contact, rollups, seededBy: by };
  } finally {
    await pool.end();
  }
}
