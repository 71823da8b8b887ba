import { sql } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { DEFAULT_BUSINESS_CALENDAR, DEFAULT_POLICIES, defaultPolicyInput, slaPolicyInputSchema } from '../../../domain/sla/sla-policy.js';
import { calendars, slaPolicies } from '../sla.table.js';

/**
 * A new install gets the shipped policies (social 1 h around the clock, phone callbacks 1 h,
 * e-mail 8 business hours; resolution per priority). Only when there are no policies at all,
 * so an operator who deleted them is not overruled at the next start.
 */
export async function installDefaultPolicies(db: Database): Promise<boolean> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(726345002)`);
    const [{ count } = { count: 0 }] = await tx.select({ count: sql<number>`count(*)::int` }).from(slaPolicies);
    if (count > 0) return false;
    const now = new Date();
    const [calendar] = await tx
      .insert(calendars)
      .values({ name: DEFAULT_BUSINESS_CALENDAR.name, definition: DEFAULT_BUSINESS_CALENDAR.definition, createdAt: now, updatedAt: now })
      .onConflictDoUpdate({ target: calendars.name, set: { updatedAt: now } })
      .returning({ id: calendars.id });
    const calendarIds = { [DEFAULT_BUSINESS_CALENDAR.name]: calendar!.id };
    for (const policy of DEFAULT_POLICIES) {
      const input = slaPolicyInputSchema.parse(defaultPolicyInput(policy, calendarIds));
      await tx.insert(slaPolicies).values({ ...input, calendarId: input.calendarId ?? null, createdAt: now, updatedAt: now });
    }
    return true;
  });
}
