import { asc, eq, gt } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { uniqueOrConflict } from '../../db/unique.js';
import { cursorKeys, decodeCursor, toPage } from '../../http/pagination.js';
import type { Clock } from '../../shared/clock.js';
import { notFound } from '../../shared/errors.js';
import { requireAgent } from '../agents/agents.repository.js';
import { teams } from './teams.table.js';

export interface TeamInput {
  name: string;
  leadAgentId?: string | null | undefined;
}

export function createTeamService(deps: { db: Database; clock: Clock }) {
  const { db, clock } = deps;
  const nameTaken = (name: string | undefined) => `A team named "${name}" exists`;

  return {
    async create(input: TeamInput) {
      if (input.leadAgentId) await requireAgent(db, input.leadAgentId, 'body.leadAgentId');
      const now = clock.now();
      return uniqueOrConflict(async () => (await db.insert(teams).values({ name: input.name, leadAgentId: input.leadAgentId ?? null, createdAt: now, updatedAt: now }).returning())[0]!, nameTaken(input.name));
    },
    async list(query: { limit: number; cursor?: string | undefined }) {
      const cursor = decodeCursor(query.cursor, cursorKeys.uuid);
      const rows = await db.select().from(teams).where(cursor ? gt(teams.id, cursor.id) : undefined).orderBy(asc(teams.id)).limit(query.limit + 1);
      return toPage(rows, query.limit, (r) => ({ v: r.id, id: r.id }), (r) => r);
    },
    async get(id: string) {
      const [row] = await db.select().from(teams).where(eq(teams.id, id));
      if (!row) throw notFound('Team', id);
      return row;
    },
    async update(id: string, input: Partial<TeamInput>) {
      if (input.leadAgentId) await requireAgent(db, input.leadAgentId, 'body.leadAgentId');
      return uniqueOrConflict(async () => {
        const [row] = await db.update(teams).set({ ...input, updatedAt: clock.now() }).where(eq(teams.id, id)).returning();
        if (!row) throw notFound('Team', id);
        return row;
      }, nameTaken(input.name));
    },
    /** Its tickets and agents keep working, unassigned from it. */
    async delete(id: string): Promise<void> {
      const [row] = await db.delete(teams).where(eq(teams.id, id)).returning({ id: teams.id });
      if (!row) throw notFound('Team', id);
    },
  };
}

export type TeamService = ReturnType<typeof createTeamService>;
