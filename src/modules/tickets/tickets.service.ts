import { eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import { normalizeEmail, normalizePhone } from '../../channels/identity.js';
import type { SenderIdentity } from '../../channels/channel.types.js';
import type { Database, Executor } from '../../db/client.js';
import {
  agentPublicReply,
  assign,
  changeStatus,
  merge as mergeLifecycle,
  lifecycleStateOf,
  type LifecycleState,
  type Transition,
} from '../../domain/ticket-lifecycle.js';
import type { Clock } from '../../shared/clock.js';
import { badRequest, conflict, notFound, preconditionFailed, preconditionRequired } from '../../shared/errors.js';
import { requireAgent, requireTeam } from '../agents/agents.repository.js';
import type { Principal } from '../auth/api-keys.service.js';
import { findOrCreateCustomer, getCustomer, lockLiveCustomer } from '../customers/customers.repository.js';
import { resolveReason, resolveRootCause } from '../reasons/reasons.service.js';
import { messages } from './messages.table.js';
import { insertTicket, lockTicketsInOrder, patchTicket, type TicketPatch } from './tickets.writer.js';
import type { TicketChange, TicketHooks } from './tickets.hooks.js';
import {
  appendEvents,
  lockTicket,
  moveEvents,
  toMessageView,
  toTicketView,
  type Actor,
  type NewEvent,
  type TicketRow,
} from './tickets.repository.js';
import type { CreateTicketInput, LogCallInput, MessageView, TicketView, UpdateTicketInput } from './tickets.schemas.js';

export interface TicketServiceDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  hooks: TicketHooks;
  defaultPhoneRegion: string;
}

export function actorOf(principal: Principal): Actor {
  return principal.agentId ? { kind: 'agent', id: principal.agentId } : { kind: 'api_key', id: principal.keyId };
}

/** Folds several transitions (status + assignment + …) into one patch and one event list. */
function combine(...transitions: Transition[]): Transition {
  return transitions.reduce<Transition>(
    (acc, t) => ({ patch: { ...acc.patch, ...t.patch }, events: [...acc.events, ...t.events] }),
    { patch: {}, events: [] },
  );
}

const lowerId = <T extends string | null | undefined>(id: T): T => (typeof id === 'string' ? id.toLowerCase() : id) as T;

export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  return Number(header.replace(/^W\//, '').replaceAll('"', ''));
}

export function createTicketService(deps: TicketServiceDeps) {
  const { db, clock, logger, hooks } = deps;

  /** Runs a ticket change in one transaction, then lets the hooks follow it after commit. */
  async function inTicketTransaction<T>(work: (tx: Executor, changes: TicketChange[]) => Promise<T>): Promise<T> {
    const changes: TicketChange[] = [];
    const result = await db.transaction((tx) => work(tx, changes));
    await hooks.afterCommit(changes, (error) => logger.error({ err: error }, 'ticket hook failed after commit'));
    return result;
  }

  async function record(tx: Executor, changes: TicketChange[], ticket: TicketRow, actor: Actor, events: NewEvent[], now: Date) {
    await appendEvents(tx, ticket.id, actor, events, now);
    const change = { ticket, events, now };
    await hooks.inTransaction(tx, change);
    changes.push(change);
  }

  async function applyPatch(tx: Executor, row: TicketRow, transition: Transition, extra: TicketPatch, now: Date): Promise<TicketRow> {
    const patch = { ...transition.patch, ...extra };
    if (transition.patch.assigneeId && row.firstAssignedAt === null) patch.firstAssignedAt = now;
      return patchTicket(tx, row.id, patch, now);
  }

  return {
    async create(input: CreateTicketInput, principal: Principal): Promise<TicketView> {
      const now = clock.now();
      const actor = actorOf(principal);
      return inTicketTransaction(async (tx, changes) => {
        const customerId = await resolveCustomerForCreate(tx, input, now, deps.defaultPhoneRegion);
        if (input.assigneeId) await requireAgent(tx, input.assigneeId, 'body.assigneeId');
        if (input.teamId) await requireTeam(tx, input.teamId, 'body.teamId');
        const ticket = await insertTicket(tx, {
            status: 'new',
            priority: input.priority,
            channel: input.channel,
            subject: input.subject,
            description: input.body,
            customerId,
            assigneeId: input.assigneeId ?? null,
            firstAssignedAt: input.assigneeId ? now : null,
            teamId: input.teamId ?? null,
            language: input.language ?? null,
            tags: input.tags ?? [],
          createdAt: now,
          updatedAt: now,
        });
        const [message] = await tx
          .insert(messages)
          .values({
            ticketId: ticket.id,
            direction: 'inbound',
            kind: 'message',
            public: true,
            authorKind: 'customer',
            channel: input.channel,
            subject: input.subject,
            bodyText: input.body,
            language: input.language ?? null,
            createdAt: now,
          })
          .returning({ id: messages.id });
        await record(tx, changes, ticket, actor, [
          { type: 'created', data: { channel: input.channel, priority: input.priority, source: 'api' } },
          { type: 'customer_message', data: { messageId: message!.id } },
          ...(input.assigneeId ? [{ type: 'assigned', data: { from: null, to: input.assigneeId, handoff: false } }] : []),
        ], now);
        return toTicketView(ticket);
      });
    },

    async update(id: string, inputAsGiven: UpdateTicketInput, ifMatch: number | undefined, principal: Principal): Promise<TicketView> {
      // Ids compared with stored ones must be in Postgres's (lower) case, or "ABC…" for the
      // current assignee would count as a handoff.
      const input = { ...inputAsGiven, assigneeId: lowerId(inputAsGiven.assigneeId), teamId: lowerId(inputAsGiven.teamId) };
      const expected = ifMatch ?? input.version;
      if (expected === undefined) {
        throw preconditionRequired('Send the version you read, as If-Match: "<version>" or a "version" field, so that no update is lost.');
      }
      const now = clock.now();
      return inTicketTransaction(async (tx, changes) => {
        const row = await lockTicket(tx, id);
        if (!row) throw notFound('Ticket', id);
        if (row.version !== expected) {
          const detail = `The ticket is at version ${row.version}; your change was based on version ${expected}. Re-read it and try again.`;
          if (ifMatch !== undefined) throw preconditionFailed(detail, { currentVersion: row.version });
          throw conflict('stale-version', detail, { currentVersion: row.version });
        }
        const state = lifecycleStateOf(row);
        const steps: Transition[] = [];
        if (input.assigneeId !== undefined) {
          if (input.assigneeId) await requireAgent(tx, input.assigneeId, 'body.assigneeId');
          steps.push(assign(state, input.assigneeId));
        }
        if (input.status !== undefined) steps.push(changeStatus(state, input.status, now));
        const extra: TicketPatch = {};
        const events: NewEvent[] = [];
        if (input.teamId !== undefined && input.teamId !== row.teamId) {
          if (input.teamId) await requireTeam(tx, input.teamId, 'body.teamId');
          extra.teamId = input.teamId;
          events.push({ type: 'team_changed', data: { from: row.teamId, to: input.teamId } });
        }
        if (input.priority !== undefined && input.priority !== row.priority) {
          extra.priority = input.priority;
          events.push({ type: 'priority_changed', data: { from: row.priority, to: input.priority } });
        }
        if (input.subject !== undefined && input.subject !== row.subject) {
          extra.subject = input.subject;
          events.push({ type: 'subject_changed', data: { from: row.subject, to: input.subject } });
        }
        if (input.tags !== undefined) {
          const tags = [...new Set(input.tags)];
          if (tags.join('\0') !== row.tags.join('\0')) {
            extra.tags = tags;
            events.push({ type: 'tags_changed', data: { from: row.tags, to: tags } });
          }
        }
        await classify(tx, row, input, extra, events);
        const transition = combine(...steps);
        const allEvents = [...transition.events, ...events];
        if (allEvents.length === 0) return toTicketView(row);
        const updated = await applyPatch(tx, row, transition, extra, now);
        await record(tx, changes, updated, actorOf(principal), allEvents, now);
        return toTicketView(updated);
      });
    },

    async addMessage(
      id: string,
      input: { body: string; html?: string | undefined; public: boolean; status?: LifecycleState['status'] | undefined; authorAgentId?: string | undefined },
      principal: Principal,
    ): Promise<{ message: MessageView; ticket: TicketView }> {
      const now = clock.now();
      return inTicketTransaction(async (tx, changes) => {
        const row = await lockTicket(tx, id);
        if (!row) throw notFound('Ticket', id);
        const authorAgentId = principal.agentId ?? input.authorAgentId ?? null;
        if (input.authorAgentId && !principal.agentId) await requireAgent(tx, input.authorAgentId, 'body.authorAgentId');
        const state = lifecycleStateOf(row);
        const steps: Transition[] = [];
        if (input.public) steps.push(agentPublicReply(state, now));
        else if (row.status === 'closed') throw conflict('ticket-closed', 'A closed ticket takes no more notes; open a follow-up ticket');
        const afterReply = { ...state, ...steps[0]?.patch } as LifecycleState;
        if (input.status !== undefined) steps.push(changeStatus(afterReply, input.status, now));
        const transition = combine(...steps);
        const [message] = await tx
          .insert(messages)
          .values({
            ticketId: row.id,
            direction: input.public ? 'outbound' : 'internal',
            kind: input.public ? 'message' : 'note',
            public: input.public,
            authorKind: 'agent',
            authorAgentId,
            channel: row.channel,
            bodyText: input.body,
            bodyHtml: input.html ?? null,
            deliveryState: input.public ? 'queued' : null,
            createdAt: now,
          })
          .returning();
        const updated = await applyPatch(tx, row, transition, {}, now);
        const messageEvent: NewEvent = input.public
          ? { type: 'agent_reply', data: { messageId: message!.id } }
          : { type: 'note_added', data: { messageId: message!.id } };
        const actor: Actor = authorAgentId ? { kind: 'agent', id: authorAgentId } : actorOf(principal);
        await record(tx, changes, updated, actor, [messageEvent, ...transition.events], now);
        return { message: toMessageView(message!), ticket: toTicketView(updated) };
      });
    },

    /**
     * A call an agent made or took, logged by hand. An answered call (resolved, follow_up)
     * is a response to the customer, like a public reply; a call nobody answered is not.
     */
    async logCall(id: string, input: LogCallInput, principal: Principal): Promise<{ message: MessageView; ticket: TicketView }> {
      const now = clock.now();
      return inTicketTransaction(async (tx, changes) => {
        const row = await lockTicket(tx, id);
        if (!row) throw notFound('Ticket', id);
        if (row.status === 'closed') throw conflict('ticket-closed', 'A closed ticket takes no more calls; open a follow-up ticket');
        const answered = input.outcome !== 'no_answer';
        const state = lifecycleStateOf(row);
        const steps: Transition[] = answered ? [agentPublicReply(state, now)] : [];
        const afterCall = { ...state, ...steps[0]?.patch } as LifecycleState;
        if (input.status !== undefined) steps.push(changeStatus(afterCall, input.status, now));
        const transition = combine(...steps);
        const summary = `Call ${input.outcome.replace('_', ' ')}${input.durationSec ? ` (${input.durationSec} s)` : ''}`;
        const [message] = await tx
          .insert(messages)
          .values({
            ticketId: row.id,
            direction: 'outbound',
            kind: 'call',
            public: true,
            authorKind: 'agent',
            authorAgentId: principal.agentId,
            channel: 'phone',
            bodyText: input.note ? `${summary}: ${input.note}` : summary,
            createdAt: now,
          })
          .returning();
        const updated = await applyPatch(tx, row, transition, {}, now);
        const callEvent: NewEvent = { type: 'call_logged', data: { messageId: message!.id, outcome: input.outcome, durationSec: input.durationSec } };
        const events: NewEvent[] = [callEvent, ...(answered ? [{ type: 'call_answered', data: { messageId: message!.id, logged: true } }] : []), ...transition.events];
        await record(tx, changes, updated, actorOf(principal), events, now);
        return { message: toMessageView(message!), ticket: toTicketView(updated) };
      });
    },

    /** Moves the source's messages and timeline into the target, then closes the source. */
    async merge(sourceIdAsGiven: string, targetIdAsGiven: string, principal: Principal): Promise<{ source: TicketView; target: TicketView }> {
      // Postgres answers ids in lower case; compare like with like ("ABC…" is the same ticket).
      const sourceId = sourceIdAsGiven.toLowerCase();
      const targetId = targetIdAsGiven.toLowerCase();
      if (sourceId === targetId) throw badRequest('body.targetTicketId', 'a ticket cannot be merged into itself');
      const now = clock.now();
      return inTicketTransaction(async (tx, changes) => {
        // Lock in id order so two opposite merges cannot deadlock.
        const locked = await lockTicketsInOrder(tx, [sourceId, targetId]);
        // Matched by id: when one of them does not exist, the other must not stand in for it.
        const source = locked.get(sourceId);
        const target = locked.get(targetId);
        if (!source) throw notFound('Ticket', sourceId);
        if (!target) throw badRequest('body.targetTicketId', `no ticket with id ${targetId}`);
        if (target.status === 'closed') throw conflict('ticket-closed', `Ticket #${target.number} is closed; merge into an open ticket`);
        const closing = mergeLifecycle(lifecycleStateOf(source), now);
        await tx.update(messages).set({ ticketId: target.id }).where(eq(messages.ticketId, source.id));
        await moveEvents(tx, source.id, target.id);
        const closedSource = await applyPatch(tx, source, closing, { mergedIntoId: target.id }, now);
        const touchedTarget = await patchTicket(tx, target.id, {}, now);
        const actor = actorOf(principal);
        await record(tx, changes, closedSource, actor, [...closing.events, { type: 'merged_into', data: { targetId: target.id, targetNumber: target.number } }], now);
        await record(tx, changes, touchedTarget, actor, [{ type: 'merged_from', data: { sourceId: source.id, sourceNumber: source.number, channel: source.channel } }], now);
        return { source: toTicketView(closedSource), target: toTicketView(touchedTarget) };
      });
    },
  };
}

async function resolveCustomerForCreate(tx: Executor, input: CreateTicketInput, now: Date, defaultRegion: string): Promise<string> {
  if (input.customerId) {
    const customer = await getCustomer(tx, input.customerId);
    if (!customer) throw badRequest('body.customerId', `no customer with id ${input.customerId}`);
    // Locked FOR SHARE with merge links followed, as intake does: a merge committing meanwhile
    // makes us wait and then attach the ticket to the survivor, never to the merged-away row.
    return lockLiveCustomer(tx, customer.id);
  }
  const identities: SenderIdentity[] = [];
  const given = input.customer!;
  if (given.email) {
    const address = normalizeEmail(given.email);
    if (!address) throw badRequest('body.customer.email', 'is not a valid e-mail address');
    identities.push({ kind: 'email', address, displayName: given.name });
  }
  if (given.phone) {
    const phone = normalizePhone(given.phone, defaultRegion);
    if (!phone) throw badRequest('body.customer.phone', `is not a valid phone number (default region ${defaultRegion})`);
    identities.push({ kind: 'phone', address: phone, displayName: given.name });
  }
  const { customerId } = await findOrCreateCustomer(tx, identities, { name: given.name, language: input.language, now });
  return customerId;
}

export type TicketService = ReturnType<typeof createTicketService>;

/**
 * Wrap-up fields of an update (issue 16): the complaint reason and root cause (by id or code;
 * unknown or deactivated ones are a 400 naming the field), the outcome and the redress; one
 * `classified` event lists what changed.
 */
async function classify(tx: Executor, row: TicketRow, input: UpdateTicketInput, extra: TicketPatch, events: NewEvent[]): Promise<void> {
  const changed: Record<string, unknown> = {};
  if (input.reasonId !== undefined || input.reasonCode !== undefined) {
    const reasonId = input.reasonId === null ? null : (await resolveReason(tx, { id: input.reasonId?.toLowerCase(), code: input.reasonCode })).id;
    if (reasonId !== row.reasonId) changed.reasonId = extra.reasonId = reasonId;
  }
  if (input.rootCauseId !== undefined || input.rootCauseCode !== undefined) {
    const rootCauseId = input.rootCauseId === null ? null : (await resolveRootCause(tx, { id: input.rootCauseId?.toLowerCase(), code: input.rootCauseCode })).id;
    if (rootCauseId !== row.rootCauseId) changed.rootCauseId = extra.rootCauseId = rootCauseId;
  }
  if (input.outcome !== undefined && input.outcome !== row.outcome) changed.outcome = extra.outcome = input.outcome;
  if (input.redress !== undefined) {
    const r = input.redress;
    extra.redressKind = r?.kind ?? null;
    extra.redressAmount = r?.amount ?? null;
    extra.redressCurrency = r?.currency ?? null;
    changed.redress = r;
  }
  if (Object.keys(changed).length > 0) events.push({ type: 'classified', data: changed });
}
