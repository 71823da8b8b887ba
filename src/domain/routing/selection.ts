import type { Channel } from '../../channels/channel.types.js';
import type { Capacity, Presence, RoutingReason, RoutingSettings } from './routing.types.js';

/** A ticket waiting for an agent, as routing sees it. */
export interface WaitingTicket {
  id: string;
  /** null: the default queue. */
  teamId: string | null;
  channel: Channel;
  language: string | null;
  /** The agent of the customer's previous ticket, and when that ticket was opened. */
  previousAgent: { agentId: string; at: Date } | null;
  /** Seconds since the ticket started waiting. */
  waitedSec: number;
  /** Whether one of its running SLA clocks has reached its warning threshold. */
  slaWarningReached: boolean;
}

export interface CandidateAgent {
  id: string;
  presence: Presence;
  /** The teams it works in (its team and its extra teams). */
  teamIds: readonly string[];
  languages: readonly string[];
  /** Its tickets in status new or open, per channel. */
  load: Partial<Record<Channel, number>>;
  capacity: Capacity;
  lastAssignedAt: Date | null;
}

export type Selection =
  | { kind: 'assign'; agentId: string; reason: RoutingReason; languageMatched: boolean }
  /** no_agent: nobody online with the skills and a free slot; language: waiting for a speaker. */
  | { kind: 'wait'; why: 'no_agent' | 'language' };

/**
 * The default queue (a ticket with no team) is served by every agent: a desk without teams
 * still routes, and a team's agents pick up what nobody filed.
 */
export function servesTeam(agent: Pick<CandidateAgent, 'teamIds'>, teamId: string | null): boolean {
  return teamId === null || agent.teamIds.includes(teamId);
}

export function freeSlots(agent: Pick<CandidateAgent, 'load' | 'capacity'>, channel: Channel): number {
  return agent.capacity[channel] - (agent.load[channel] ?? 0);
}

export function speaks(agent: Pick<CandidateAgent, 'languages'>, language: string | null): boolean {
  return language === null || agent.languages.includes(language);
}

/** Online, in the ticket's team, and a free slot on its channel (capacity 0: not a skill). */
export function eligible(agent: CandidateAgent, ticket: Pick<WaitingTicket, 'teamId' | 'channel'>): boolean {
  return agent.presence === 'online' && servesTeam(agent, ticket.teamId) && freeSlots(agent, ticket.channel) > 0;
}

const totalLoad = (agent: CandidateAgent) => Object.values(agent.load).reduce((sum, n) => sum + (n ?? 0), 0);
const assignedAt = (agent: CandidateAgent) => agent.lastAssignedAt?.getTime() ?? Number.NEGATIVE_INFINITY;

/** Ties go to whoever was assigned longest ago, then to the lower id (a total order). */
function byLongestIdle(a: CandidateAgent, b: CandidateAgent): number {
  return assignedAt(a) - assignedAt(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function pick(pool: CandidateAgent[], ticket: WaitingTicket, method: RoutingSettings['method']): CandidateAgent {
  const sorted = [...pool].sort((a, b) => {
    if (method === 'least_loaded') {
      const byChannel = (a.load[ticket.channel] ?? 0) - (b.load[ticket.channel] ?? 0);
      if (byChannel !== 0) return byChannel;
      const byTotal = totalLoad(a) - totalLoad(b);
      if (byTotal !== 0) return byTotal;
    }
    return byLongestIdle(a, b);
  });
  return sorted[0]!;
}

/**
 * Chooses the agent for one waiting ticket, or says why it waits.
 *
 * 1. Only online agents of the ticket's team with a free slot on its channel are candidates.
 * 2. Sticky: the customer's previous agent (within stickyDays) gets it if a candidate who
 *    speaks the language (or once the language fallback applies).
 * 3. Language: candidates who speak it; if none, the ticket waits until languageFallbackSec
 *    or its first SLA warning, whichever comes first, then any candidate (languageMatched false).
 * 4. least_loaded (lowest load on the channel, then overall, then longest since an assignment)
 *    or round_robin (longest since an assignment).
 */
export function selectAgent(ticket: WaitingTicket, agents: readonly CandidateAgent[], settings: RoutingSettings, now: Date): Selection {
  const candidates = agents.filter((a) => eligible(a, ticket));
  if (candidates.length === 0) return { kind: 'wait', why: 'no_agent' };
  const speakers = candidates.filter((a) => speaks(a, ticket.language));
  const fallback = speakers.length === 0;
  if (fallback && ticket.waitedSec < settings.languageFallbackSec && !ticket.slaWarningReached) return { kind: 'wait', why: 'language' };
  const pool = fallback ? candidates : speakers;
  const previous = ticket.previousAgent;
  if (previous && now.getTime() - previous.at.getTime() <= settings.stickyDays * 86_400_000) {
    const sticky = pool.find((a) => a.id === previous.agentId);
    if (sticky) return { kind: 'assign', agentId: sticky.id, reason: 'sticky', languageMatched: !fallback };
  }
  const chosen = pick(pool, ticket, settings.method);
  return { kind: 'assign', agentId: chosen.id, reason: fallback ? 'language_fallback' : settings.method, languageMatched: !fallback };
}

export interface PlannedTicket {
  ticket: WaitingTicket;
  selection: Selection;
  /** When routing counts the assignment made (for round robin's "longest since"): see planAssignments. */
  at: Date;
}

/**
 * A batch: the waiting tickets of one queue, in its order, against the same agents, each seeing
 * the loads (and the "assigned longest ago") the tickets before it left. The k-th assignment
 * of the batch counts as made k ms after `now`, so round robin goes round within a batch as it
 * would over k separate assignments. The agents passed in are left unchanged.
 */
export function planAssignments(queue: readonly WaitingTicket[], agents: readonly CandidateAgent[], settings: RoutingSettings, now: Date): PlannedTicket[] {
  const pool = agents.map((a) => ({ ...a, load: { ...a.load } }));
  const byId = new Map(pool.map((a) => [a.id, a]));
  let made = 0;
  return queue.map((ticket) => {
    const selection = selectAgent(ticket, pool, settings, now);
    const at = new Date(now.getTime() + made);
    if (selection.kind === 'assign') {
      const agent = byId.get(selection.agentId)!;
      agent.load[ticket.channel] = (agent.load[ticket.channel] ?? 0) + 1;
      agent.lastAssignedAt = at;
      made++;
    }
    return { ticket, selection, at };
  });
}
