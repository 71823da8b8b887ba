import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Channel } from '../../channels/channel.types.js';
import type { Executor } from '../../db/client.js';
import { effectiveCapacity, effectiveRouting, type Capacity, type CapacityOverride, type Presence, type RoutingSettings } from '../../domain/routing/routing.types.js';
import { badRequest } from '../../shared/errors.js';
import { agents } from '../agents/agents.table.js';
import { calendars } from '../sla/sla.table.js';
import { teams } from '../teams/teams.table.js';
import { tickets } from '../tickets/tickets.table.js';
import { routingQueues } from './routing.table.js';

export const DEFAULT_QUEUE = 'default';
export type AgentRow = typeof agents.$inferSelect;
export type Load = Partial<Record<Channel, number>>;

/** Statuses that hold a slot: pending, on_hold, solved and closed free it. */
export const SLOT_STATUSES = ['new', 'open'] as const;

/** Each agent's tickets in status new or open, per channel (served by tickets_routing_load_idx). */
export async function loadsOf(tx: Executor, agentIds: string[]): Promise<Map<string, Load>> {
  const result = new Map<string, Load>(agentIds.map((id) => [id, {}]));
  if (agentIds.length === 0) return result;
  const rows = await tx
    .select({ agentId: tickets.assigneeId, channel: tickets.channel, n: sql<number>`count(*)::int` })
    .from(tickets)
    .where(and(inArray(tickets.assigneeId, agentIds), inArray(tickets.status, [...SLOT_STATUSES])))
    .groupBy(tickets.assigneeId, tickets.channel);
  for (const row of rows) result.get(row.agentId!)![row.channel as Channel] = row.n;
  return result;
}

export async function defaultQueue(tx: Executor): Promise<{ routing: RoutingSettings; capacity: CapacityOverride | null }> {
  const [row] = await tx.select().from(routingQueues).where(eq(routingQueues.key, DEFAULT_QUEUE));
  return { routing: effectiveRouting(row?.routing), capacity: row?.capacity ?? null };
}

/** Team defaults (the agent's own team), under the agent's overrides, over the default queue's and the built-in defaults. */
export async function capacitiesOf(tx: Executor, rows: Pick<AgentRow, 'id' | 'teamId' | 'capacity'>[]): Promise<Map<string, Capacity>> {
  const queue = await defaultQueue(tx);
  const teamIds = [...new Set(rows.map((r) => r.teamId).filter((id): id is string => id !== null))];
  const teamRows = teamIds.length ? await tx.select({ id: teams.id, capacity: teams.capacity }).from(teams).where(inArray(teams.id, teamIds)) : [];
  const byTeam = new Map(teamRows.map((t) => [t.id, t.capacity]));
  return new Map(rows.map((r) => [r.id, effectiveCapacity(queue.capacity, r.teamId ? byTeam.get(r.teamId) : null, r.capacity)]));
}

export async function routingOfTeam(tx: Executor, teamId: string | null): Promise<RoutingSettings | null> {
  if (teamId === null) return (await defaultQueue(tx)).routing;
  const [row] = await tx.select({ routing: teams.routing }).from(teams).where(eq(teams.id, teamId));
  return row ? effectiveRouting(row.routing) : null;
}

/** A shift calendar named in routing settings must exist (400 naming the field). */
export async function requireCalendar(tx: Executor, id: string, field: string): Promise<void> {
  const [row] = await tx.select({ id: calendars.id }).from(calendars).where(eq(calendars.id, id));
  if (!row) throw badRequest(field, `no calendar with id ${id}`);
}

/** The agent row, locked: routers serialize on it while they count its load and assign. */
export async function lockAgent(tx: Executor, agentId: string): Promise<AgentRow | undefined> {
  const [row] = await tx.select().from(agents).where(eq(agents.id, agentId)).for('no key update');
  return row;
}

export interface AgentRoutingView {
  id: string;
  name: string;
  email: string;
  teamId: string | null;
  teamIds: string[];
  languages: string[];
  active: boolean;
  presence: Presence;
  presenceChangedAt: Date | null;
  lastActivityAt: Date | null;
  capacity: Capacity;
  capacityOverride: CapacityOverride | null;
  load: Capacity;
  createdAt: Date;
  updatedAt: Date;
}

/** Agents as the API shows them: presence, effective capacity and load per channel. */
export async function agentViews(tx: Executor, rows: AgentRow[]): Promise<AgentRoutingView[]> {
  const [loads, capacities] = await Promise.all([loadsOf(tx, rows.map((r) => r.id)), capacitiesOf(tx, rows)]);
  return rows.map((r) => {
    const load = loads.get(r.id) ?? {};
    return {
      id: r.id,
      name: r.name,
      email: r.email,
      teamId: r.teamId,
      teamIds: r.teamIds,
      languages: r.languages,
      active: r.active,
      presence: r.presence as Presence,
      presenceChangedAt: r.presenceChangedAt,
      lastActivityAt: r.lastActivityAt,
      capacity: capacities.get(r.id)!,
      capacityOverride: r.capacity ?? null,
      load: { email: load.email ?? 0, phone: load.phone ?? 0, facebook: load.facebook ?? 0, twitter: load.twitter ?? 0 },
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
    };
  });
}
