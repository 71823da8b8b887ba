import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHANNELS } from '../../../../src/channels/channel.types.js';
import { compareQueued, type QueuedTicket } from '../../../../src/domain/routing/queue-order.js';
import { DEFAULT_CAPACITY, DEFAULT_ROUTING, effectiveCapacity, isIso639, type RoutingSettings } from '../../../../src/domain/routing/routing.types.js';
import { freeSlots, planAssignments, selectAgent, speaks, type CandidateAgent, type WaitingTicket } from '../../../../src/domain/routing/selection.js';

const NOW = new Date('2026-03-01T10:00:00Z');
const TEAM = 'team-a';

function agent(id: string, over: Partial<CandidateAgent> = {}): CandidateAgent {
  return { id, presence: 'online', teamIds: [TEAM], languages: ['en', 'he'], load: {}, capacity: { ...DEFAULT_CAPACITY }, lastAssignedAt: null, ...over };
}
function ticket(over: Partial<WaitingTicket> = {}): WaitingTicket {
  return { id: 't1', teamId: TEAM, channel: 'email', language: 'en', previousAgent: null, waitedSec: 0, slaWarningReached: false, ...over };
}
const settings = (over: Partial<RoutingSettings> = {}): RoutingSettings => ({ ...DEFAULT_ROUTING, ...over });

describe('selectAgent', () => {
  it('gives the ticket to the least loaded online agent of its team', () => {
    const agents = [agent('a', { load: { email: 3 } }), agent('b', { load: { email: 1 } }), agent('c', { load: { email: 0 }, presence: 'away' })];
    expect(selectAgent(ticket(), agents, settings(), NOW)).toEqual({ kind: 'assign', agentId: 'b', reason: 'least_loaded', languageMatched: true });
  });

  it('breaks a load tie by the longest time since an assignment', () => {
    const agents = [agent('a', { lastAssignedAt: new Date('2026-03-01T09:00:00Z') }), agent('b', { lastAssignedAt: new Date('2026-03-01T08:00:00Z') })];
    expect(selectAgent(ticket(), agents, settings(), NOW)).toMatchObject({ agentId: 'b' });
  });

  it('round robin ignores load and takes whoever waited longest for work', () => {
    const agents = [agent('a', { load: { email: 0 }, lastAssignedAt: new Date('2026-03-01T09:59:00Z') }), agent('b', { load: { email: 5 }, lastAssignedAt: new Date('2026-03-01T09:00:00Z') })];
    expect(selectAgent(ticket(), agents, settings({ method: 'round_robin' }), NOW)).toEqual({ kind: 'assign', agentId: 'b', reason: 'round_robin', languageMatched: true });
  });

  it('never picks an offline or away agent, nor one of another team', () => {
    const agents = [agent('a', { presence: 'offline' }), agent('b', { presence: 'away' }), agent('c', { teamIds: ['other'] })];
    expect(selectAgent(ticket(), agents, settings(), NOW)).toEqual({ kind: 'wait', why: 'no_agent' });
  });

  it('respects capacity per channel; capacity 0 means the agent does not take that channel', () => {
    const full = agent('a', { load: { phone: 1 } });
    const noPhone = agent('b', { capacity: { ...DEFAULT_CAPACITY, phone: 0 } });
    expect(selectAgent(ticket({ channel: 'phone' }), [full, noPhone], settings(), NOW)).toEqual({ kind: 'wait', why: 'no_agent' });
    expect(selectAgent(ticket({ channel: 'email' }), [full, noPhone], settings(), NOW)).toMatchObject({ kind: 'assign' });
  });

  it('serves the default queue (no team) with any agent', () => {
    expect(selectAgent(ticket({ teamId: null }), [agent('a', { teamIds: [] })], settings(), NOW)).toMatchObject({ agentId: 'a' });
  });

  it('sends a returning customer back to their agent within stickyDays', () => {
    const agents = [agent('a', { load: { email: 0 } }), agent('b', { load: { email: 4 } })];
    const back = ticket({ previousAgent: { agentId: 'b', at: new Date('2026-02-20T10:00:00Z') } });
    expect(selectAgent(back, agents, settings(), NOW)).toEqual({ kind: 'assign', agentId: 'b', reason: 'sticky', languageMatched: true });
    const stale = ticket({ previousAgent: { agentId: 'b', at: new Date('2026-01-01T10:00:00Z') } });
    expect(selectAgent(stale, agents, settings(), NOW)).toMatchObject({ agentId: 'a', reason: 'least_loaded' });
  });

  it('does not stick to a previous agent who is away or full', () => {
    const agents = [agent('a'), agent('b', { load: { email: 10 } })];
    const back = ticket({ previousAgent: { agentId: 'b', at: NOW } });
    expect(selectAgent(back, agents, settings(), NOW)).toMatchObject({ agentId: 'a', reason: 'least_loaded' });
  });

  it('holds a ticket for a speaker of its language until the fallback, then takes anyone', () => {
    const agents = [agent('a', { languages: ['en'] })];
    expect(selectAgent(ticket({ language: 'he', waitedSec: 299 }), agents, settings(), NOW)).toEqual({ kind: 'wait', why: 'language' });
    expect(selectAgent(ticket({ language: 'he', waitedSec: 300 }), agents, settings(), NOW)).toEqual({ kind: 'assign', agentId: 'a', reason: 'language_fallback', languageMatched: false });
    expect(selectAgent(ticket({ language: 'he', waitedSec: 10, slaWarningReached: true }), agents, settings(), NOW)).toMatchObject({ reason: 'language_fallback' });
  });

  it('prefers a speaker over a less loaded agent who does not speak the language', () => {
    const agents = [agent('a', { languages: ['en'], load: {} }), agent('b', { languages: ['he'], load: { email: 5 } })];
    expect(selectAgent(ticket({ language: 'he' }), agents, settings(), NOW)).toEqual({ kind: 'assign', agentId: 'b', reason: 'least_loaded', languageMatched: true });
  });
});

describe('planAssignments (a batch)', () => {
  const tickets = (n: number, over: Partial<WaitingTicket> = {}) => Array.from({ length: n }, (_, i) => ticket({ id: `t${i}`, ...over }));
  const agentsOf = (plan: ReturnType<typeof planAssignments>) => plan.map((p) => (p.selection.kind === 'assign' ? p.selection.agentId : p.selection.why));

  it('each ticket sees the loads the tickets before it left, and nobody goes over capacity', () => {
    const agents = [agent('a', { capacity: { ...DEFAULT_CAPACITY, email: 2 } }), agent('b', { load: { email: 1 }, capacity: { ...DEFAULT_CAPACITY, email: 2 } })];
    expect(agentsOf(planAssignments(tickets(4), agents, settings(), NOW))).toEqual(['a', 'b', 'a', 'no_agent']);
    // The agents passed in are not changed.
    expect(agents[0]!.load).toEqual({});
  });

  it('round robin goes round within a batch', () => {
    const agents = [agent('a'), agent('b'), agent('c')];
    const plan = planAssignments(tickets(6), agents, settings({ method: 'round_robin' }), NOW);
    expect(agentsOf(plan)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect(plan.map((p) => p.at.getTime() - NOW.getTime())).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('a ticket that waits for its language does not stop the ones behind it', () => {
    const agents = [agent('a', { languages: ['en'] })];
    const queue = [ticket({ id: 'he', language: 'he' }), ticket({ id: 'en' })];
    expect(agentsOf(planAssignments(queue, agents, settings(), NOW))).toEqual(['language', 'a']);
  });
});

describe('compareQueued', () => {
  const q = (id: string, over: Partial<QueuedTicket>): QueuedTicket => ({ id, priority: 'normal', createdAt: new Date('2026-03-01T08:00:00Z'), slaDueAt: null, ...over });
  const a = q('a', { createdAt: new Date('2026-03-01T07:00:00Z'), priority: 'low', slaDueAt: new Date('2026-03-01T12:00:00Z') });
  const b = q('b', { priority: 'urgent', slaDueAt: new Date('2026-03-01T11:00:00Z') });
  const c = q('c', { priority: 'high', createdAt: new Date('2026-03-01T06:00:00Z') });
  const ids = (order: 'sla' | 'priority' | 'fifo') => [c, a, b].sort(compareQueued(order)).map((t) => t.id);
  it('sla: soonest due running clock, then priority, then age', () => expect(ids('sla')).toEqual(['b', 'a', 'c']));
  it('priority: then age', () => expect(ids('priority')).toEqual(['b', 'c', 'a']));
  it('fifo: oldest first', () => expect(ids('fifo')).toEqual(['c', 'a', 'b']));
});

describe('routing types', () => {
  it('layers capacity channel by channel over the defaults', () => {
    expect(effectiveCapacity({ email: 3 }, { phone: 0 })).toEqual({ email: 3, phone: 0, facebook: 5, twitter: 5 });
  });
  it('knows ISO 639 codes', () => {
    expect(['he', 'en', 'heb', 'pl'].every(isIso639)).toBe(true);
    expect(['xx', 'qq', 'EN', 'english', ''].some(isIso639)).toBe(false);
  });
});

describe('selectAgent (properties)', () => {
  const channel = fc.constantFrom(...CHANNELS);
  const language = fc.constantFrom('en', 'he', 'pl', null);
  const agentArb = fc.record({
    id: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
    presence: fc.constantFrom('online', 'away', 'offline'),
    teamIds: fc.subarray([TEAM, 'other']),
    languages: fc.subarray(['en', 'he', 'pl']),
    load: fc.record({ email: fc.nat(12), phone: fc.nat(2), facebook: fc.nat(6), twitter: fc.nat(6) }),
    capacity: fc.record({ email: fc.nat(10), phone: fc.nat(1), facebook: fc.nat(5), twitter: fc.nat(5) }),
    lastAssignedAt: fc.option(fc.date({ min: new Date('2026-01-01'), max: NOW, noInvalidDate: true })),
  }) as fc.Arbitrary<CandidateAgent>;
  const agentsArb = fc.uniqueArray(agentArb, { selector: (a) => a.id, maxLength: 5 });
  const ticketArb = fc.record({
    id: fc.constant('t'),
    teamId: fc.constantFrom(TEAM, null),
    channel,
    language,
    previousAgent: fc.option(fc.record({ agentId: fc.constantFrom('a', 'b', 'c'), at: fc.date({ min: new Date('2026-01-01'), max: NOW, noInvalidDate: true }) })),
    waitedSec: fc.nat(1000),
    slaWarningReached: fc.boolean(),
  }) as fc.Arbitrary<WaitingTicket>;
  const settingsArb = fc.record({ enabled: fc.constant(true), order: fc.constant('sla'), method: fc.constantFrom('least_loaded', 'round_robin'), languageFallbackSec: fc.constant(300), stickyDays: fc.constant(30) }) as fc.Arbitrary<RoutingSettings>;

  it('never chooses an agent who is not online, of another team, or without a free slot', () => {
    fc.assert(
      fc.property(ticketArb, agentsArb, settingsArb, (t, agents, s) => {
        const result = selectAgent(t, agents, s, NOW);
        if (result.kind === 'wait') return;
        const chosen = agents.find((a) => a.id === result.agentId)!;
        expect(chosen.presence).toBe('online');
        expect(freeSlots(chosen, t.channel)).toBeGreaterThan(0);
        if (t.teamId) expect(chosen.teamIds).toContain(t.teamId);
      }),
    );
  });

  it('sticky wins whenever the previous agent is eligible and speaks the language', () => {
    fc.assert(
      fc.property(ticketArb, agentsArb, settingsArb, fc.integer({ min: 0, max: 30 * 86_400 }), (t, others, s, agoSec) => {
        // The customer's previous agent, made eligible: online, in the team, a free slot, a speaker.
        const previous = agent('p', { teamIds: t.teamId ? [t.teamId] : [], languages: t.language ? [t.language] : [], load: { [t.channel]: 0 }, capacity: { ...DEFAULT_CAPACITY, [t.channel]: 1 } });
        const back = { ...t, previousAgent: { agentId: 'p', at: new Date(NOW.getTime() - agoSec * 1000) } };
        expect(selectAgent(back, [...others, previous], s, NOW)).toMatchObject({ kind: 'assign', agentId: 'p', reason: 'sticky', languageMatched: true });
      }),
    );
  });

  it('does not give up on the language before the fallback or the SLA warning', () => {
    fc.assert(
      fc.property(ticketArb, agentsArb, settingsArb, (t, agents, s) => {
        const result = selectAgent(t, agents, s, NOW);
        if (result.kind === 'assign' && !result.languageMatched) expect(t.waitedSec >= s.languageFallbackSec || t.slaWarningReached).toBe(true);
        if (result.kind === 'assign' && result.languageMatched) expect(speaks(agents.find((a) => a.id === result.agentId)!, t.language)).toBe(true);
      }),
    );
  });
});
