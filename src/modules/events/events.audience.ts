import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { Principal } from '../auth/api-keys.service.js';
import { agents } from '../agents/agents.table.js';
import type { StreamEvent } from '../sla/breaches/sla.stream.js';

/**
 * Which events of the live stream a caller may see. Staff other than agents and integrations
 * see every event; an agent sees its own tickets and its teams' (as each event recorded them,
 * so a ticket that has since moved to another team is not re-read), and nothing else.
 */
export async function eventAudienceOf(db: Database, principal: Principal): Promise<(event: StreamEvent) => boolean> {
  if (principal.role !== 'agent') return () => true;
  const agentId = principal.agentId;
  const [agent] = agentId ? await db.select({ teamId: agents.teamId, teamIds: agents.teamIds }).from(agents).where(eq(agents.id, agentId)) : [];
  const teams = new Set([agent?.teamId, ...(agent?.teamIds ?? [])].filter((t): t is string => Boolean(t)));
  return (event) => {
    const { teamId, assigneeId } = event.data as { teamId: string | null; assigneeId: string | null };
    return (agentId !== null && assigneeId === agentId) || (teamId !== null && teams.has(teamId));
  };
}
