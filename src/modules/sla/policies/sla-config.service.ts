import { asc, eq } from 'drizzle-orm';
import type { Database, Executor } from '../../../db/client.js';
import { uniqueOrConflict } from '../../../db/unique.js';
import type { CalendarDefinition } from '../../../domain/calendar.js';
import type { SlaPolicyData } from '../../../domain/sla/sla-policy.js';
import type { Clock } from '../../../shared/clock.js';
import { badRequest, conflict, notFound, preconditionFailed } from '../../../shared/errors.js';
import type { OutboundPolicy } from '../../../shared/outbound-url.js';
import { assertEscalationWebhooksAllowed } from '../../notifications/webhook-targets.js';
import { entityTagOf, ifMatchHolds } from '../../../http/entity-tag.js';
import type { PolicyCache } from './policy.cache.js';
import type { SlaRecompute } from '../clocks/sla.recompute.js';
import { calendars, slaPolicies } from '../sla.table.js';

export interface CalendarInput {
  name: string;
  definition: CalendarDefinition;
}

/**
 * Business-hours calendars and SLA policies. A change that moves due times (a policy replaced
 * or deleted, a calendar replaced) records its recompute request in its own transaction and
 * queues the recompute after commit: the job never runs before the change is visible, and a
 * job Redis could not take is queued by the reconciler later (sla.recompute.ts).
 */
export function createSlaConfigService(deps: { db: Database; clock: Clock; policies: PolicyCache; recompute: SlaRecompute; outbound: OutboundPolicy }) {
  const { db, clock } = deps;

  async function changePolicies<T>(work: (tx: Executor) => Promise<{ result: T; policyIds: string[] }>): Promise<T> {
    const { result, requests } = await db.transaction(async (tx) => {
      const { result, policyIds } = await work(tx);
      return { result, requests: await deps.recompute.request(tx, policyIds) };
    });
    deps.policies.invalidate();
    await deps.recompute.enqueue(requests);
    return result;
  }

  async function checkPolicyInput(input: SlaPolicyData): Promise<void> {
    if (input.calendarId) {
      const [row] = await db.select({ id: calendars.id }).from(calendars).where(eq(calendars.id, input.calendarId));
      if (!row) throw badRequest('body.calendarId', `no calendar with id ${input.calendarId}`);
    }
    await assertEscalationWebhooksAllowed(input.escalation, deps.outbound);
  }

  /** Locks the row for the change and refuses a stale If-Match (412), so two editors cannot overwrite each other. */
  async function lockCurrent(tx: Executor, table: typeof calendars | typeof slaPolicies, id: string, what: string, ifMatch: string | undefined): Promise<void> {
    const [row] = await tx.select().from(table).where(eq(table.id, id)).for('update');
    if (!row) throw notFound(what, id);
    const current = entityTagOf(row);
    if (!ifMatchHolds(ifMatch, current)) throw preconditionFailed(`The ${what} changed since you read it: its ETag is now ${current}`, { currentETag: current });
  }

  const policyColumns = (input: SlaPolicyData) => ({ ...input, calendarId: input.calendarId ?? null });

  return {
    async createCalendar(input: CalendarInput) {
      const now = clock.now();
      return uniqueOrConflict(async () => (await db.insert(calendars).values({ ...input, createdAt: now, updatedAt: now }).returning())[0]!, `A calendar named "${input.name}" exists`);
    },
    listCalendars: () => db.select().from(calendars).orderBy(asc(calendars.name)),
    async getCalendar(id: string) {
      const [row] = await db.select().from(calendars).where(eq(calendars.id, id));
      if (!row) throw notFound('Calendar', id);
      return row;
    },
    /** Tickets on the policies using the calendar recompute their due times. */
    replaceCalendar: (id: string, input: CalendarInput, ifMatch?: string) =>
      changePolicies(async (tx) => {
        await lockCurrent(tx, calendars, id, 'Calendar', ifMatch);
        const [row] = await tx.update(calendars).set({ ...input, updatedAt: clock.now() }).where(eq(calendars.id, id)).returning();
        if (!row) throw notFound('Calendar', id);
        const users = await tx.select({ id: slaPolicies.id }).from(slaPolicies).where(eq(slaPolicies.calendarId, row.id));
        return { result: row, policyIds: users.map((p) => p.id) };
      }),
    async deleteCalendar(id: string, ifMatch?: string): Promise<void> {
      await db.transaction(async (tx) => {
        await lockCurrent(tx, calendars, id, 'Calendar', ifMatch);
        const users = await tx.select({ id: slaPolicies.id }).from(slaPolicies).where(eq(slaPolicies.calendarId, id));
        if (users.length) throw conflict('in-use', `${users.length} SLA policies use this calendar`);
        await tx.delete(calendars).where(eq(calendars.id, id));
      });
    },

    async createPolicy(input: SlaPolicyData) {
      await checkPolicyInput(input);
      const now = clock.now();
      return uniqueOrConflict(async () => {
        const [row] = await db.insert(slaPolicies).values({ ...policyColumns(input), createdAt: now, updatedAt: now }).returning();
        deps.policies.invalidate();
        return row!;
      }, `A policy named "${input.name}" exists`);
    },
    listPolicies: () => db.select().from(slaPolicies).orderBy(asc(slaPolicies.position), asc(slaPolicies.createdAt)),
    async getPolicy(id: string) {
      const [row] = await db.select().from(slaPolicies).where(eq(slaPolicies.id, id));
      if (!row) throw notFound('SLA policy', id);
      return row;
    },
    /** Running clocks under the policy are recomputed. */
    async replacePolicy(id: string, input: SlaPolicyData, ifMatch?: string) {
      await checkPolicyInput(input);
      return uniqueOrConflict(
        () =>
          changePolicies(async (tx) => {
            await lockCurrent(tx, slaPolicies, id, 'SLA policy', ifMatch);
            const [row] = await tx.update(slaPolicies).set({ ...policyColumns(input), updatedAt: clock.now() }).where(eq(slaPolicies.id, id)).returning();
            if (!row) throw notFound('SLA policy', id);
            return { result: row, policyIds: [row.id] };
          }),
        `A policy named "${input.name}" exists`,
      );
    },
    /** Its tickets re-match the remaining policies. */
    deletePolicy: (id: string, ifMatch?: string): Promise<void> =>
      changePolicies(async (tx) => {
        await lockCurrent(tx, slaPolicies, id, 'SLA policy', ifMatch);
        const [row] = await tx.delete(slaPolicies).where(eq(slaPolicies.id, id)).returning({ id: slaPolicies.id });
        if (!row) throw notFound('SLA policy', id);
        return { result: undefined, policyIds: [row.id] };
      }),
  };
}

export type SlaConfigService = ReturnType<typeof createSlaConfigService>;
