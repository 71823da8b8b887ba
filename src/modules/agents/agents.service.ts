import { and, asc, eq, gt, inArray } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { uniqueOrConflict } from '../../db/unique.js';
import { cursorKeys, decodeCursor, toPage } from '../../http/pagination.js';
import type { Clock } from '../../shared/clock.js';
import { badRequest, notFound } from '../../shared/errors.js';
import type { CapacityOverride, Presence } from '../../domain/routing/routing.types.js';
import { agentViews } from '../routing/routing.repository.js';
import { teams } from '../teams/teams.table.js';
import { requireTeam } from './agents.repository.js';
import { agents } from './agents.table.js';

export interface AgentInput {
  name: string;
  email: string;
  teamId?: string | null | undefined;
  languages?: string[] | undefined;
  active?: boolean | undefined;
  capacity?: CapacityOverride | null | undefined;
  teamIds?: string[] | undefined;
}

/** Refuses extra teams that do not exist, naming the first unknown one. */
async function requireTeams(db: Database, ids: string[] | undefined): Promise<void> {
  if (!ids?.length) return;
  const found = new Set((await db.select({ id: teams.id }).from(teams).where(inArray(teams.id, ids))).map((t) => t.id));
  const index = ids.findIndex((id) => !found.has(id.toLowerCase()));
  if (index >= 0) throw badRequest(`body.teamIds.${index}`, `no team with id ${ids[index]}`);
}

/** Agents are deactivated, never deleted: tickets and messages name them. */
export function createAgentService(deps: { db: Database; clock: Clock; routing?: { agentChanged(agentId: string): Promise<void> } | undefined }) {
  const { db, clock } = deps;
  const one = async (row: typeof agents.$inferSelect) => (await agentViews(db, [row]))[0]!;
  const emailTaken = (email: string | undefined) => `An agent with e-mail ${email} exists`;

  return {
    async create(input: AgentInput) {
      if (input.teamId) await requireTeam(db, input.teamId, 'body.teamId');
      await requireTeams(db, input.teamIds);
      const now = clock.now();
      return one(await uniqueOrConflict(async () => (await db.insert(agents).values({ ...input, teamIds: input.teamIds?.map((id) => id.toLowerCase()), teamId: input.teamId ?? null, createdAt: now, updatedAt: now }).returning())[0]!, emailTaken(input.email)));
    },
    async list(query: { teamId?: string | undefined; presence?: Presence | undefined; active?: 'true' | 'false' | undefined; limit: number; cursor?: string | undefined }) {
      const cursor = decodeCursor(query.cursor, cursorKeys.uuid);
      const rows = await db
        .select()
        .from(agents)
        .where(and(query.teamId ? eq(agents.teamId, query.teamId) : undefined, query.active ? eq(agents.active, query.active === 'true') : undefined, query.presence ? eq(agents.presence, query.presence) : undefined, cursor ? gt(agents.id, cursor.id) : undefined))
        .orderBy(asc(agents.id))
        .limit(query.limit + 1);
      const page = toPage(rows, query.limit, (r) => ({ v: r.id, id: r.id }), (r) => r);
      return { items: await agentViews(db, page.items), nextCursor: page.nextCursor };
    },
    async get(id: string) {
      const [row] = await db.select().from(agents).where(eq(agents.id, id));
      if (!row) throw notFound('Agent', id);
      return one(row);
    },
    async update(id: string, input: Partial<AgentInput>) {
      if (input.teamId) await requireTeam(db, input.teamId, 'body.teamId');
      await requireTeams(db, input.teamIds);
      const row = await uniqueOrConflict(async () => {
        const [row] = await db
          .update(agents)
          .set({ ...input, teamIds: input.teamIds?.map((t) => t.toLowerCase()), updatedAt: clock.now() })
          .where(eq(agents.id, id))
          .returning();
        if (!row) throw notFound('Agent', id);
        return row;
      }, emailTaken(input.email));
      // Capacity or skills changed: waiting tickets may fit now.
      await deps.routing?.agentChanged(row.id);
      return one(row);
    },
    async deactivate(id: string) {
      const [row] = await db.update(agents).set({ active: false, updatedAt: clock.now() }).where(eq(agents.id, id)).returning();
      if (!row) throw notFound('Agent', id);
      return one(row);
    },
  };
}

export type AgentService = ReturnType<typeof createAgentService>;
