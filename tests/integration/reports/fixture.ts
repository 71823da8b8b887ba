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

/** The fixed data set of kpis.test.ts (its header comment tabulates every row), written into `db`. */
export async function writeFixedDataSet(db: Database) {
  const w = fixtureWriter(db);
  const teamA = await w.team('Alpha');
  const teamB = await w.team('Beta');
  const ada = await w.agent('Ada', teamA.id);
  const ben = await w.agent('Ben', teamA.id);
  const cy = await w.agent('Cy', teamB.id);
  const A = teamA.id;
  const B = teamB.id;

  const T0 = await w.ticket({ channel: 'email', status: 'open', teamId: A, assigneeId: ada.id, language: 'pl', createdAt: at('2026-02-28T10:00Z'), firstResponseAt: at('2026-02-28T11:00Z') });
  const T1 = await w.ticket({ channel: 'email', status: 'solved', teamId: A, assigneeId: ada.id, language: 'pl', createdAt: at('D1 08:00'), firstResponseAt: at('D1 09:00'), solvedAt: at('D1 12:00'), fcrState: 'yes' });
  const T2 = await w.ticket({ channel: 'email', status: 'solved', priority: 'high', teamId: A, assigneeId: ben.id, language: 'he', createdAt: at('D1 09:00'), firstResponseAt: at('D1 09:30'), solvedAt: at('D2 09:00'), reopenCount: 1, handoffCount: 1, fcrState: 'no' });
  const T3 = await w.ticket({ channel: 'phone', status: 'solved', teamId: A, assigneeId: ada.id, language: 'pl', createdAt: at('D1 10:00'), firstResponseAt: at('D1 10:10'), solvedAt: at('D1 11:00'), fcrState: 'yes' });
  const T4 = await w.ticket({ channel: 'phone', status: 'open', priority: 'urgent', teamId: B, assigneeId: cy.id, language: 'en', createdAt: at('D1 14:00'), firstResponseAt: at('D1 16:00') });
  const T5 = await w.ticket({ channel: 'facebook', status: 'solved', teamId: B, assigneeId: cy.id, language: 'ar', createdAt: at('D2 08:00'), firstResponseAt: at('D2 08:20'), solvedAt: at('D2 10:00'), handoffCount: 2 });
  const T6 = await w.ticket({ channel: 'twitter', status: 'new', priority: 'low', teamId: B, language: 'ru', createdAt: at('D2 09:00') });
  const T7 = await w.ticket({ channel: 'email', status: 'closed', teamId: A, assigneeId: ben.id, language: 'en', createdAt: at('D1 20:00'), firstResponseAt: at('D2 07:00'), solvedAt: at('D2 11:00'), closedAt: at('D2 11:30'), fcrState: 'no' });
  await w.ticket({ channel: 'email', status: 'new', createdAt: at('D2 11:00') }); // T8
  const T9 = await w.ticket({ channel: 'phone', status: 'solved', priority: 'high', teamId: B, assigneeId: cy.id, language: 'en', createdAt: at('2026-02-27T10:00Z'), firstResponseAt: at('2026-02-27T11:00Z'), solvedAt: at('D1 15:00'), fcrState: 'yes' });
  await w.ticket({ channel: 'email', status: 'closed', priority: 'low', teamId: A, assigneeId: ada.id, language: 'pl', createdAt: at('2026-02-26T09:00Z'), closedAt: at('2026-02-26T12:00Z') }); // T10
  await w.ticket({ channel: 'email', status: 'open', teamId: A, assigneeId: ada.id, language: 'pl', createdAt: at('2026-02-25T09:00Z'), firstResponseAt: at('2026-02-25T10:00Z'), reopenCount: 1, fcrState: 'no' }); // T11
  const T12 = await w.ticket({ channel: 'email', status: 'solved', teamId: A, assigneeId: ada.id, language: 'pl', createdAt: at('2026-02-25T09:00Z'), firstResponseAt: at('2026-02-25T10:00Z'), solvedAt: at('2026-02-25T12:00Z'), fcrState: 'yes' });

  const stopped = (state: string, usedSec: number, startedAt: Date, stoppedAt: Date) => ({ state, values: { usedSec, startedAt, stoppedAt, breachedAt: state === 'breached' ? startedAt : null } });
  const clocks: [string, string, ReturnType<typeof stopped>][] = [
    [T0.id, 'first_response', stopped('met', 3600, T0.createdAt, at('2026-02-28T11:00Z'))],
    [T1.id, 'first_response', stopped('met', 3600, T1.createdAt, at('D1 09:00'))],
    [T2.id, 'first_response', stopped('met', 1800, T2.createdAt, at('D1 09:30'))],
    [T3.id, 'first_response', stopped('met', 600, T3.createdAt, at('D1 10:10'))],
    [T4.id, 'first_response', stopped('breached', 3600, T4.createdAt, at('D1 16:00'))],
    [T7.id, 'first_response', stopped('breached', 7200, T7.createdAt, at('D2 07:00'))],
    [T1.id, 'resolution', stopped('met', 14400, T1.createdAt, at('D1 12:00'))],
    [T2.id, 'resolution', stopped('breached', 28800, T2.createdAt, at('D2 09:00'))],
    [T3.id, 'resolution', stopped('met', 3600, T3.createdAt, at('D1 11:00'))],
    [T7.id, 'resolution', stopped('met', 14400, T7.createdAt, at('D2 11:00'))],
    [T9.id, 'resolution', stopped('met', 57600, T9.createdAt, at('D1 15:00'))],
    [T2.id, 'next_response', stopped('met', 900, at('D2 07:45'), at('D2 08:00'))],
    [T7.id, 'next_response', stopped('breached', 5000, at('D2 08:00'), at('D2 10:00'))],
    [T3.id, 'periodic_update', stopped('met', 3000, T3.createdAt, at('D1 11:00'))],
  ];
  for (const [ticketId, metric, { state, values }] of clocks) await w.clock(ticketId, metric, state, values);
  // Not stopped: never counted in compliance or business times.
  await w.clock(T6.id, 'first_response', 'breached', { usedSec: 3600, startedAt: T6.createdAt, breachedAt: at('D2 10:00') });
  await w.clock(T4.id, 'resolution', 'running', { usedSec: 0, startedAt: T4.createdAt });

  await w.breach(T9.id, 'resolution', 'phone', B, at('2026-02-28T10:00Z'));
  await w.breach(T4.id, 'first_response', 'phone', A, at('D1 15:00')); // T4 was in team A when it breached
  await w.breach(T7.id, 'first_response', 'email', A, at('D2 01:00'));
  await w.breach(T2.id, 'resolution', 'email', A, at('D2 05:00'));
  await w.breach(T6.id, 'first_response', 'twitter', B, at('D2 10:00'));
  await w.breach(T7.id, 'next_response', 'email', A, at('D2 09:00'));
  await w.breach(T0.id, 'commitment', 'email', A, at('D2 06:00'));

  await w.survey(T12.id, { agentId: ada.id, teamId: A, channel: 'email', language: 'pl', offeredAt: at('2026-02-25T12:00Z'), score: 1 });
  await w.survey(T1.id, { agentId: ada.id, teamId: A, channel: 'email', language: 'pl', offeredAt: at('D1 12:00'), score: 5 });
  await w.survey(T3.id, { agentId: ada.id, teamId: A, channel: 'phone', language: 'pl', offeredAt: at('D1 11:00'), score: 4 });
  await w.survey(T9.id, { agentId: cy.id, teamId: B, channel: 'phone', language: 'en', offeredAt: at('D1 15:00') });
  await w.survey(T2.id, { agentId: ben.id, teamId: A, channel: 'email', language: 'he', offeredAt: at('D2 09:00'), score: 2 });
  await w.survey(T5.id, { agentId: cy.id, teamId: B, channel: 'facebook', language: 'ar', offeredAt: at('D2 10:00') });
  await w.survey(T7.id, { agentId: ada.id, teamId: A, channel: 'email', language: 'en', offeredAt: at('D2 11:00'), score: 3 }); // Ada solved it; Ben has it now

  await w.commitment(T1.id, 'kept', at('D1 18:00'));
  await w.commitment(T2.id, 'broken', at('D2 06:00'));
  await w.commitment(T0.id, 'open', at('D2 05:00'));
  await w.commitment(T4.id, 'open', at('D2 18:00'));
  await w.commitment(T9.id, 'kept', at('D1 12:00'));
  await w.commitment(T3.id, 'kept', at('2026-03-05T12:00Z'));
  return { teamA: teamA.id, teamB: teamB.id, ada: ada.id, ben: ben.id, cy: cy.id, tickets: { T0, T1, T2, T3, T4, T5, T6, T7, T9, T12 } };
}
