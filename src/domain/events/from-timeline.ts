import type { NewDomainEvent } from './catalog.js';

/** The ticket as a change left it (the columns events name). */
export interface TicketFacts {
  id: string;
  number: number;
  status: string;
  priority: string;
  channel: string;
  customerId: string | null;
  teamId: string | null;
  assigneeId: string | null;
}

export interface TimelineEntry {
  type: string;
  data?: Record<string, unknown> | undefined;
}

/** Fields of ticket.updated whose values are a customer's personal data: named, never valued. */
const PERSONAL_FIELDS = new Set(['subject']);
const UPDATE_FIELDS: Record<string, string> = { team_changed: 'teamId', priority_changed: 'priority', subject_changed: 'subject', tags_changed: 'tags' };
const MESSAGE_KINDS: Record<string, 'customer' | 'agent' | 'note'> = {
  customer_message: 'customer',
  automated_message: 'customer',
  agent_reply: 'agent',
  call_logged: 'agent',
  note_added: 'note',
};

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/**
 * The catalog events one ticket change stands for, from the timeline entries it recorded (in
 * their order). Pure: the events hook calls it inside the change's transaction. Several field
 * changes in one change are one ticket.updated naming them all.
 */
export function eventsFromTimeline(ticket: TicketFacts, entries: readonly TimelineEntry[]): NewDomainEvent[] {
  const resource = { type: 'ticket' as const, id: ticket.id };
  const ref = { ticketId: ticket.id, ticketNumber: ticket.number };
  const out: NewDomainEvent[] = [];
  const changes: Record<string, { from?: unknown; to?: unknown }> = {};
  let updatedAt = -1;
  for (const entry of entries) {
    const data = entry.data ?? {};
    const field = UPDATE_FIELDS[entry.type];
    if (field) {
      changes[field] = PERSONAL_FIELDS.has(field) ? {} : { from: data.from ?? null, to: data.to ?? null };
      if (updatedAt < 0) updatedAt = out.length;
      continue;
    }
    const kind = MESSAGE_KINDS[entry.type];
    if (kind && str(data.messageId)) {
      out.push({ type: 'message.created', resource, data: { ...ref, messageId: str(data.messageId)!, kind, channel: entry.type === 'call_logged' ? 'phone' : (str(data.channel) ?? (kind === 'note' ? null : ticket.channel)) } });
      continue;
    }
    switch (entry.type) {
      case 'created':
        out.push({
          type: 'ticket.created',
          resource,
          data: { ...ref, channel: ticket.channel, priority: ticket.priority, status: 'new', customerId: ticket.customerId, teamId: ticket.teamId, assigneeId: ticket.assigneeId, source: str(data.source) ?? 'api' },
        });
        break;
      case 'assigned':
        out.push({ type: 'ticket.assigned', resource, data: { ...ref, from: str(data.from), to: str(data.to), teamId: ticket.teamId, ...(str(data.reason) ? { reason: str(data.reason)! } : {}) } });
        break;
      case 'status_changed':
        out.push({ type: 'ticket.status_changed', resource, data: { ...ref, from: data.from, to: data.to, ...(str(data.reason) ? { reason: str(data.reason)! } : {}) } as never });
        break;
      case 'merged_into':
        out.push({ type: 'ticket.merged', resource, data: { ...ref, targetTicketId: str(data.targetId)!, targetTicketNumber: Number(data.targetNumber) } });
        break;
      case 'escalated':
        out.push({ type: 'sla.escalated', resource, data: { ...ref, breachId: str(data.breachId)!, level: Number(data.level), metric: String(data.metric) } });
        break;
      default:
        break;
    }
  }
  if (updatedAt >= 0) out.splice(updatedAt, 0, { type: 'ticket.updated', resource, data: { ...ref, changes } });
  return out;
}
