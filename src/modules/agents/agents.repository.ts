import { eq } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { badRequest } from '../../shared/errors.js';
import { teams } from '../teams/teams.table.js';
import { agents } from './agents.table.js';

export type AgentRow = typeof agents.$inferSelect;

/** Refuses a reference to an agent that does not exist, naming the field, instead of a FK 500. */
export async function requireAgent(tx: Executor, id: string, field: string): Promise<AgentRow> {
  const [row] = await tx.select().from(agents).where(eq(agents.id, id));
  if (!row) throw badRequest(field, `no agent with id ${id}`);
  if (!row.active) throw badRequest(field, `agent ${id} is deactivated`);
  return row;
}

export async function requireTeam(tx: Executor, id: string, field: string): Promise<void> {
  const [row] = await tx.select({ id: teams.id }).from(teams).where(eq(teams.id, id));
  if (!row) throw badRequest(field, `no team with id ${id}`);
}
