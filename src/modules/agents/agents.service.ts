import { and, asc, eq, gt } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { uniqueOrConflict } from '../../db/unique.js';
import { cursorKeys, decodeCursor, toPage } from '../../http/pagination.js';
import type { Clock } from '../../shared/clock.js';
import { notFound } from '../../shared/errors.js';
import { requireTeam } from './agents.repository.js';
import { agents } from './agents.table.js';

export interface AgentInput {
  name: string;
  email: string;
  teamId?: string | null | undefined;
  languages?: string[] | undefined;
  active?: boolean | undefined;
}

/** Agents are deactivated, never deleted: tickets and messages name them. */
export function createAgentService(deps: { db: Database; clock: Clock }) {
  const { db, clock } = deps;
  const emailTaken = (email: string | undefined) => `An agent with e-mail ${email} exists`;

  return {
    async create(input: AgentInput) {
      if (input.teamId) await requireTeam(db, input.teamId, 'body.teamId');
      const now = clock.now();
      return uniqueOrConflict(async () => (await db.insert(agents).values({ ...input, teamId: input.teamId ?? null, createdAt: now, updatedAt: now }).returning())[0]!, emailTaken(input.email));
    },
    async list(query: { teamId?: string | undefined; active?: 'true' | 'false' | undefined; limit: number; cursor?: string | undefined }) {
      const cursor = decodeCursor(query.cursor, cursorKeys.uuid);
      const rows = await db
        .select()
        .from(agents)
        .where(and(query.teamId ? eq(agents.teamId, query.teamId) : undefined, query.active ? eq(agents.active, query.active === 'true') : undefined, cursor ? gt(agents.id, cursor.id) : undefined))
        .orderBy(asc(agents.id))
        .limit(query.limit + 1);
      return toPage(rows, query.limit, (r) => ({ v: r.id, id: r.id }), (r) => r);
    },
    async get(id: string) {
      const [row] = await db.select().from(agents).where(eq(agents.id, id));
      if (!row) throw notFound('Agent', id);
      return row;
    },
    async update(id: string, input: Partial<AgentInput>) {
      if (input.teamId) await requireTeam(db, input.teamId, 'body.teamId');
      return uniqueOrConflict(async () => {
        const [row] = await db.update(agents).set({ ...input, updatedAt: clock.now() }).where(eq(agents.id, id)).returning();
        if (!row) throw notFound('Agent', id);
        return row;
      }, emailTaken(input.email));
    },
    async deactivate(id: string) {
      const [row] = await db.update(agents).set({ active: false, updatedAt: clock.now() }).where(eq(agents.id, id)).returning();
      if (!row) throw notFound('Agent', id);
      return row;
    },
  };
}

export type AgentService = ReturnType<typeof createAgentService>;
