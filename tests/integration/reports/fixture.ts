import { randomBytes } from 'node:crypto';
import type { Database } from '../../../src/db/client.js';
import { agents } from '../../../src/modules/agents/agents.table.js';
import { csatSurveys } from '../../../src/modules/csat/csat.table.js';
import { customers } from '../../../src/modules/customers/customers.table.js';
import { breaches, commitments, slaClocks } from '../../../src/modules/sla/sla.table.js';
import { teams } from '../../../src/modules/teams/teams.table.js';
import { tickets } from '../../../src/modules/tickets/tickets.table.js';

/** "D1 08:00" is 2026-03-01T08:00Z (a Sunday), "D2 …" the Monday after; other dates are written out. */
export const at = (when: string): Date => {
  const match = /^D([12]) (\d\d:\d\d)$/.exec(when);
  return new Date(match ? `2026-03-0${match[1]}T${match[2]}:00Z` : when);
};

export type TicketRow = typeof tickets.$inferInsert;

/** Direct inserts: the report reads the tables, so the tests write them as the services would. */
export function fixtureWriter(db: Database) {
  let customerId: string | undefined;
  return {
    async team(name: string) {
      const [row] = await db.insert(teams).values({ name }).returning();
      return row!;
    },
    async agent(name: string, teamId: string) {
      const [row] = await db.insert(agents).values({ name, email: `${name.toLowerCase()}-${randomBytes(3).toString('hex')}@desk.example`, teamId }).returning();
      return row!;
    },
    async ticket(values: Partial<TicketRow> & Pick<TicketRow, 'channel' | 'status' | 'createdAt'>) {
      if (!customerId) customerId = (await db.insert(customers).values({ name: 'Fixture customer' }).returning())[0]!.id;
      const [row] = await db
        .insert(tickets)
        .values({ priority: 'normal', subject: 'Fixture', customerId, updatedAt: values.createdAt, ...values })
        .returning();
      return row!;
    },
    async clock(ticketId: string, metric: string, state: string, values: { usedSec: number; startedAt: Date; stoppedAt?: Date | null; breachedAt?: Date | null }) {
      await db.insert(slaClocks).values({ ticketId, metric, state, targetSec: 3600, stoppedAt: null, breachedAt: null, ...values });
    },
    async breach(ticketId: string, metric: string, channel: string, teamId: string | null, breachedAt: Date) {
      await db.insert(breaches).values({ ticketId, metric, channel, teamId, severity: 1, dueAt: breachedAt, breachedAt });
    },
    async survey(ticketId: string, values: { agentId: string | null; teamId: string | null; channel: string; language: string | null; offeredAt: Date; score?: number }) {
      const { score, ...rest } = values;
      await db.insert(csatSurveys).values({
        ticketId,
        tokenHash: randomBytes(16).toString('hex'),
        expiresAt: new Date(values.offeredAt.getTime() + 14 * 86_400_000),
        ...rest,
        ...(score === undefined ? {} : { score, respondedAt: new Date(values.offeredAt.getTime() + 3_600_000) }),
      });
    },
    async commitment(ticketId: string, state: string, dueAt: Date) {
      await db.insert(commitments).values({ ticketId, description: 'Fixture promise', state, dueAt, closedAt: state === 'open' ? null : dueAt });
    },
  };
}
