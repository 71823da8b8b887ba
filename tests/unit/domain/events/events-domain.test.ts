import { describe, expect, it } from 'vitest';
import { checkEvent, EVENT_TYPES, EVENT_VERSIONS, envelopeSchema, isEventType, matchesTypes } from '../../../../src/domain/events/catalog.js';
import { afterAttempt, backoffMs, expiryOf, MAX_BACKOFF_MS, shouldDisable } from '../../../../src/domain/events/delivery-policy.js';
import { eventsFromTimeline, type TicketFacts } from '../../../../src/domain/events/from-timeline.js';

const ticket: TicketFacts = {
  id: '11111111-1111-4111-8111-111111111111',
  number: 7,
  status: 'open',
  priority: 'high',
  channel: 'email',
  customerId: '22222222-2222-4222-8222-222222222222',
  teamId: null,
  assigneeId: '33333333-3333-4333-8333-333333333333',
};
const messageId = '44444444-4444-4444-8444-444444444444';

describe('the event catalog', () => {
  it('names the issue types, each versioned', () => {
    expect(EVENT_TYPES).toEqual([
      'ticket.created', 'ticket.updated', 'ticket.assigned', 'ticket.status_changed', 'ticket.merged', 'message.created',
      'sla.warning', 'sla.breached', 'sla.escalated', 'commitment.due', 'commitment.broken', 'csat.responded',
      'alarm.raised', 'alarm.cleared', 'customer.merged', 'customer.erased',
    ]);
    expect(EVENT_TYPES.every((t) => EVENT_VERSIONS[t] === 1)).toBe(true);
    expect(isEventType('ticket.exploded')).toBe(false);
  });

  it('checks data against the schema, turning dates into ISO strings', () => {
    const at = new Date('2026-01-05T09:00:00Z');
    const checked = checkEvent({ type: 'sla.warning', resource: { type: 'ticket', id: ticket.id }, data: { ticketId: ticket.id, ticketNumber: 7, metric: 'first_response', dueAt: at as unknown as string } });
    expect(checked.data).toMatchObject({ dueAt: '2026-01-05T09:00:00.000Z' });
    expect(() => checkEvent({ type: 'customer.erased', resource: { type: 'customer', id: 'x' }, data: { customerId: 'not-a-uuid' } })).toThrow();
  });

  it('publishes an envelope schema per type', () => {
    const schema = envelopeSchema('ticket.assigned');
    expect(schema.safeParse({ id: '1', type: 'ticket.assigned', version: 1, occurredAt: '2026-01-05T09:00:00.000Z', resource: { type: 'ticket', id: ticket.id }, data: { ticketId: ticket.id, ticketNumber: 7, from: null, to: ticket.assigneeId, teamId: null } }).success).toBe(true);
  });

  it('filters subscriptions by type (null or empty: all)', () => {
    expect(matchesTypes(null, 'ticket.created')).toBe(true);
    expect(matchesTypes(['sla.breached'], 'ticket.created')).toBe(false);
  });
});

describe('events from a ticket change', () => {
  it('maps a creation with its first message and assignment', () => {
    const events = eventsFromTimeline(ticket, [
      { type: 'created', data: { channel: 'email', source: 'webhook' } },
      { type: 'customer_message', data: { messageId } },
      { type: 'assigned', data: { from: null, to: ticket.assigneeId, handoff: false } },
    ]);
    expect(events.map((e) => e.type)).toEqual(['ticket.created', 'message.created', 'ticket.assigned']);
    expect(events[0]!.data).toMatchObject({ ticketNumber: 7, source: 'webhook', status: 'new' });
    expect(events[1]!.data).toMatchObject({ kind: 'customer', channel: 'email', messageId });
  });

  it('folds field changes into one ticket.updated, naming a personal field without its values', () => {
    const events = eventsFromTimeline(ticket, [
      { type: 'priority_changed', data: { from: 'normal', to: 'high' } },
      { type: 'subject_changed', data: { from: 'Jane Doe kettle', to: 'Kettle' } },
      { type: 'status_changed', data: { from: 'new', to: 'open' } },
    ]);
    expect(events.map((e) => e.type)).toEqual(['ticket.updated', 'ticket.status_changed']);
    expect(events[0]!.data).toEqual({ ticketId: ticket.id, ticketNumber: 7, changes: { priority: { from: 'normal', to: 'high' }, subject: {} } });
    expect(JSON.stringify(events)).not.toContain('Jane');
  });

  it('maps notes, replies, merges and escalations; ignores bookkeeping entries', () => {
    const events = eventsFromTimeline(ticket, [
      { type: 'note_added', data: { messageId } },
      { type: 'agent_reply', data: { messageId } },
      { type: 'first_response', data: {} },
      { type: 'merged_into', data: { targetId: ticket.customerId, targetNumber: 8 } },
      { type: 'escalated', data: { breachId: messageId, level: 2, metric: 'resolution' } },
      { type: 'fcr_settled', data: {} },
    ]);
    expect(events.map((e) => [e.type, (e.data as { kind?: string }).kind])).toEqual([
      ['message.created', 'note'],
      ['message.created', 'agent'],
      ['ticket.merged', undefined],
      ['sla.escalated', undefined],
    ]);
    for (const e of events) expect(() => checkEvent(e)).not.toThrow();
  });
});

describe('delivery retries', () => {
  const settings = { backoffMs: 5_000, retryHours: 24 };
  it('backs off exponentially with jitter, capped at an hour', () => {
    expect(backoffMs(1, 5_000, 0.5)).toBe(5_000);
    expect(backoffMs(3, 5_000, 0.5)).toBe(20_000);
    expect(backoffMs(2, 5_000, 0)).toBe(8_000);
    expect(backoffMs(2, 5_000, 1)).toBe(12_000);
    expect(backoffMs(40, 5_000, 0.5)).toBe(MAX_BACKOFF_MS);
  });

  it('succeeds on a 2xx, retries until the expiry, then fails', () => {
    const created = new Date('2026-01-05T09:00:00Z');
    const expiresAt = expiryOf(created, settings);
    expect(expiresAt.toISOString()).toBe('2026-01-06T09:00:00.000Z');
    expect(afterAttempt({ ok: true, attempts: 1, now: created, expiresAt, random: 0.5 }, settings)).toEqual({ state: 'succeeded' });
    expect(afterAttempt({ ok: false, attempts: 1, now: created, expiresAt, random: 0.5 }, settings)).toEqual({ state: 'pending', nextAttemptAt: new Date(created.getTime() + 5_000) });
    const late = new Date(expiresAt.getTime() - 1_000);
    expect(afterAttempt({ ok: false, attempts: 30, now: late, expiresAt, random: 0.5 }, settings)).toEqual({ state: 'pending', nextAttemptAt: expiresAt });
    expect(afterAttempt({ ok: false, attempts: 31, now: expiresAt, expiresAt, random: 0.5 }, settings)).toEqual({ state: 'failed' });
  });

  it('disables after the configured failures in a row', () => {
    expect(shouldDisable(2, 3)).toBe(false);
    expect(shouldDisable(3, 3)).toBe(true);
  });
});
