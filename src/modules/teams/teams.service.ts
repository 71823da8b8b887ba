import { asc, eq, gt, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { uniqueOrConflict } from '../../db/unique.js';
import { cursorKeys, decodeCursor, toPage } from '../../http/pagination.js';
import type { Clock } from '../../shared/clock.js';
import { notFound } from '../../shared/errors.js';
import { effectiveCapacity, effectiveRouting, type CapacityOverride, type RoutingSettings } from '../../domain/routing/routing.types.js';
import { requireAgent } from '../agents/agents.repository.js';
import { agents } from '../agents/agents.table.js';
import { tickets } from '../tickets/tickets.table.js';
import { requireCalendar } from '../routing/routing.repository.js';
import { teams } from './teams.table.js';

export interface TeamInput {
  name: string;
  leadAgentId?: string | null | undefined;
  capacity?: CapacityOverride | null | undefined;
  routing?: Partial<RoutingSettings> | undefined;
  /** Issue 16: a solve needs a complaint reason. */
  requireReasonOnSolve?: boolean | undefined;
}

type TeamRow = typeof teams.$inferSelect;
/** The settings routing applies: stored values over the defaults. */
const view = (row: TeamRow) => ({ ...row, capacity: effectiveCapacity(row.capacity), routing: effectiveRouting(row.routing) });

export function createTeamService(deps: { db: Database; clock: Clock; routing?: { teamChanged(teamId: string | null): Promise<void> } | undefined }) {
  const { db, clock } = deps;
  const nameTaken = (name: string | undefined) => `A team named "${name}" exists`;

  return {
    async create(input: TeamInput) {
      if (input.leadAgentId) await requireAgent(db, input.leadAgentId, 'body.leadAgentId');
      if (input.routing?.shiftCalendarId) await requireCalendar(db, input.routing.shiftCalendarId, 'body.routing.shiftCalendarId');
      const now = clock.now();
      return view(
        await uniqueOrConflict(
          async () => (await db.insert(teams).values({ name: input.name, leadAgentId: input.leadAgentId ?? null, capacity: input.capacity ?? null, routing: input.routing ?? null, requireReasonOnSolve: input.requireReasonOnSolve ?? false, createdAt: now, updatedAt: now }).returning())[0]!,
          nameTaken(input.name),
        ),
      );
    },
    async list(query: { limit: number; cursor?: string | undefined }) {
      const cursor = decodeCursor(query.cursor, cursorKeys.uuid);
      const rows = await db.select().from(teams).where(cursor ? gt(teams.id, cursor.id) : undefined).orderBy(asc(teams.id)).limit(query.limit + 1);
      return toPage(rows, query.limit, (r) => ({ v: r.id, id: r.id }), view);
    },
    async get(id: string) {
      const [row] = await db.select().from(teams).where(eq(teams.id, id));
      if (!row) throw notFound('Team', id);
      return view(row);
    },
    async update(id: string, input: Partial<TeamInput>) {
      if (input.leadAgentId) await requireAgent(db, input.leadAgentId, 'body.leadAgentId');
      if (input.routing?.shiftCalendarId) await requireCalendar(db, input.routing.shiftCalendarId, 'body.routing.shiftCalendarId');
      const row = await uniqueOrConflict(async () => {
        // Routing keys left out keep their stored values (jsonb ||), so a PATCH of one key is one key.
        const routing = input.routing ? sql`coalesce(${teams.routing}, '{}'::jsonb) || ${JSON.stringify(input.routing)}::jsonb` : undefined;
        const [row] = await db.update(teams).set({ ...input, routing, updatedAt: clock.now() }).where(eq(teams.id, id)).returning();
        if (!row) throw notFound('Team', id);
        return row;
      }, nameTaken(input.name));
      if (input.capacity !== undefined || input.routing !== undefined) await deps.routing?.teamChanged(row.id);
      return view(row);
    },
    /**
     * Its tickets and agents keep working, unassigned from it: in one transaction the row (and
     * with it its routing settings and capacity defaults) goes, its tickets and members lose it
     * (foreign keys, set null), and agents who served it as an extra team drop it from teamIds.
     * Its waiting tickets are now the default queue's, routed there.
     *
     * Locks in the order routers and the SLA engine take them, before the foreign keys' own
     * updates would take them in theirs (agents first, which deadlocked with a router holding
     * its batch of tickets and waiting for the agents): the team row (no ticket can join it
     * meanwhile), its tickets in id order, then its members and helpers in id order.
     */
    async delete(id: string): Promise<void> {
      await db.transaction(async (tx) => {
        const [found] = await tx.select({ id: teams.id }).from(teams).where(eq(teams.id, id)).for('update');
        if (!found) throw notFound('Team', id);
        await tx.select({ id: tickets.id }).from(tickets).where(eq(tickets.teamId, id)).orderBy(asc(tickets.id)).for('no key update');
        await tx
          .select({ id: agents.id })
          .from(agents)
          .where(or(eq(agents.teamId, id), sql`${id}::uuid = any(${agents.teamIds})`))
          .orderBy(asc(agents.id))
          .for('no key update');
        const [row] = await tx.delete(teams).where(eq(teams.id, id)).returning({ id: teams.id });
        if (!row) throw notFound('Team', id);
        await tx
          .update(agents)
          .set({ teamIds: sql`array_remove(${agents.teamIds}, ${id}::uuid)`, updatedAt: clock.now() })
          .where(sql`${id}::uuid = any(${agents.teamIds})`);
      });
      await deps.routing?.teamChanged(null);
    },
  };
}

export type TeamService = ReturnType<typeof createTeamService>;
