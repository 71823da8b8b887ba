import { createHash, randomUUID } from 'node:crypto';
import { and, count, desc, eq, gte, inArray, notInArray, or, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { DeliveryToken } from '../../channels/channel.adapter.js';
import type { NormalizedInbound, SenderIdentity } from '../../channels/channel.types.js';
import { detectLanguage } from '../../channels/language.js';
import { clientOf, planAfresh, type Database, type Executor } from '../../db/client.js';
import { agentPublicReply, customerMessage, lifecycleStateOf, type DomainEvent, type Transition } from '../../domain/ticket-lifecycle.js';
import type { Clock } from '../../shared/clock.js';
import { createCoalescer } from '../../shared/coalescer.js';
import { blocklistLookup, countBlocked } from '../blocklist/blocklist.repository.js';
import { claimantCustomer, claimantsOf, createCustomer, findOrCreateCustomer, resolveMerged, suggestIdentities, verifiedIdentitiesSelect, VERIFIED } from '../customers/customers.repository.js';
import { customerIdentities } from '../customers/customers.table.js';
import { messages } from '../tickets/messages.table.js';
import { type Actor, type NewEvent, type TicketRow } from '../tickets/tickets.repository.js';
import { ticketEvents } from '../tickets/ticket-events.table.js';
import type { TicketChange, TicketHooks } from '../tickets/tickets.hooks.js';
import { tickets } from '../tickets/tickets.table.js';
import { insertMessageWithTimeline, insertTicket, patchTicket, type NewTicket } from '../tickets/tickets.writer.js';
import type { AttachmentStore } from './attachment-store.js';
import { deadLetters } from './intake.table.js';
import { findThread, threadKeyOf, type ThreadMatch } from './intake.threading.js';
import { type NewCustomerRow } from '../customers/customers.group-insert.js';
import { insertCustomersTicketsWithMessages, type NewEventRow, type NewMessageRow } from '../tickets/tickets.group-insert.js';
import { claimDeliveryToken } from './delivery-tokens.js';
import { escapedText, storable } from './storable.js';
import type { SenderAuthenticator, SmtpEnvelope } from '../../channels/email/sender-auth.js';
import type { SenderAuthentication } from '../../domain/mail/sender-verdict.js';
import type { Metrics } from '../../shared/metrics.js';
import { matchPolicy, slaTicketOf } from '../../domain/sla/sla-policy.js';
import type { PolicyCache } from '../sla/policies/policy.cache.js';

export interface RawPayload {
  channel: string;
  body: Buffer;
  contentType: string | undefined;
}

export type MessageOutcome =
  | { providerMessageId: string; result: 'created'; ticketId: string; ticketNumber: number; newTicket: boolean; threadedBy: ThreadMatch['by'] | null }
  | { providerMessageId: string; result: 'duplicate' }
  | { providerMessageId: string; result: 'stored-unthreaded'; reason: string }
  /** The sender is on the blocklist: no ticket, no auto-reply, no survey; the raw payload is kept. */
  | { providerMessageId: string; result: 'blocked'; blocklistEntryId: string; blockedBy: string };

export interface IngestResult {
  payloadId: string | null;
  duplicatePayload: boolean;
  messages: MessageOutcome[];
  skipped: { reason: string; ref?: string | undefined }[];
}

/**
 * What a caller knows beyond the payload (issue 19): the SMTP session of our own listener,
 * defaults for the tickets a mailbox opens, and work to commit with the messages (a mailbox's
 * fetch progress), so the progress and the ingest are one transaction.
 */
export interface IngestOptions {
  envelope?: SmtpEnvelope | undefined;
  /** Without an envelope: read the client address from the topmost Received header (IMAP, the raw webhook). */
  trustReceived?: boolean | undefined;
  ticketDefaults?: { teamId?: string | null | undefined; priority?: string | undefined } | undefined;
  withinTransaction?: ((tx: Executor) => Promise<void>) | undefined;
}

/** Per message: its authentication, the ticket defaults and its language, decided before the transaction. */
interface IngestExtras {
  authentication?: SenderAuthentication | undefined;
  ticketDefaults?: IngestOptions['ticketDefaults'];
  /** Detected in prepare (null: none); undefined: not yet, ingestOne detects it. */
  language?: string | null;
}

export interface IntakeDeps {
  /** SPF/DKIM/DMARC of inbound e-mail (issue 19); absent: not checked. */
  senderAuth?: SenderAuthenticator | undefined;
  db: Database;
  clock: Clock;
  logger: Logger;
  hooks: TicketHooks;
  attachments: AttachmentStore;
  crossChannelMergeHours: number;
  /** New tickets one customer may have in a rolling hour (any route counts) before intake diverts; 0 turns flood control off. */
  floodMaxPerHour: number;
  metrics?: Pick<Metrics, 'intakeGroupSize'> | undefined;
  /**
   * The SLA policies (the SLA hook's cache): a ticket written set-based gets the policy that
   * matches it in its insert, so the SLA hook, which matches the same one, only inserts its
   * clocks instead of also updating the new row (an update of every index of tickets).
   */
  policies?: Pick<PolicyCache, 'get'> | undefined;
}

/** A verified delivery ready to commit: everything decided outside the transaction. */
export interface Delivery {
  raw: RawPayload;
  list: NormalizedInbound[];
  extras: IngestExtras[];
  skipped: IngestResult['skipped'];
  sha256: string;
  now: Date;
  options: IngestOptions;
}

interface Committed {
  result: IngestResult;
  changes: TicketChange[];
}

/**
 * What a group transaction reads once for all its messages, after taking their locks, instead
 * of once per message (issue 18: the statements per message were the ingest's cost).
 */
interface GroupState {
  /** (channel, provider id) of the group's messages already stored, then of each one this transaction inserts. */
  stored: Set<string>;
  /** Each message's blocklist entry, if any (intake never changes the entries themselves). */
  blocks: Map<NormalizedInbound, ReturnType<ReturnType<typeof blocklistLookup>['pick']>[number]>;
  /** Every change of the transaction, in order, for the hooks deferred to its end (the events outbox). */
  changes: TicketChange[];
  /**
   * Senders no customer held verified when the group began: the first message of one creates
   * its customer without looking it up again; a later one of the same sender looks it up.
   */
  unknownSenders: Set<string>;
  /** Messages (by position in the group's list) that a stored message may continue: a thread key, a Message-ID or a reply-to id that is stored. */
  threaded: Set<number>;
}

const senderKey = (sender: Pick<SenderIdentity, 'kind' | 'address'>) => `${sender.kind}\0${sender.address}`;

const storedKey = (message: Pick<NormalizedInbound, 'channel' | 'providerMessageId'>) => `${message.channel}\u0000${message.providerMessageId}`;

/**
 * Group commit: at most this many deliveries share a transaction, and at most this many group
 * transactions run at once (each holds one pool connection for its whole group). A group of
 * plain messages (new tickets of new senders) costs eight statements whatever its size (begin,
 * locks, read, customers and tickets, their SLA clocks, the events outbox, payloads, commit),
 * and after its commit a few more round trips in other modules (the timers' addBulk, the routing
 * trigger, the webhook pump woken by its NOTIFY); other messages cost a few each. So fewer,
 * larger groups do less work per message: 50 concurrent webhooks over 8 groups in flight make
 * groups of ~6, over 4 ~8, over 2 ~14 (3,000 messages: 366 groups with 4, 221 with 2). Two in
 * flight still overlap one group's round trips with the other's (quick bench, 5 alternating
 * runs each, 2 against 4: Postgres CPU 1.01 against 1.19 ms per message, the service's 2.24
 * against 2.37 ms, p99 291 against 344 ms, throughput ratio 0.44 against 0.41; earlier, 32/4
 * against 16/8: 166 against 150 msg/s). The price: a group that waits (on a lock a redelivery
 * holds) stops half of intake's commits instead of a quarter, until it gets its turn.
 * complaint_desk_intake_group_deliveries on /metrics shows the sizes production sees.
 */
const GROUP_MAX = 32;
const GROUPS_IN_FLIGHT = 2;

const SUBJECT_LENGTH = 120;
/**
 * Characters of subject and text the language detector reads. A few thousand decide the language
 * as well as the whole text, and tinyld is slow on long input (≈1.3 s of blocked event loop for a
 * 100 KB e-mail body, and e-mail bodies may be 25 MB).
 */
const LANGUAGE_SAMPLE = 4_000;
const CUSTOMER: Actor = { kind: 'customer', id: null };

/**
 * The language a message is in. Only what a customer wrote tells it: call records and an
 * untranscribed voicemail carry our own English placeholder ("Missed call from …"); adapters
 * that have the caller's words (a transcript) detect on those themselves.
 */
function languageOf(message: NormalizedInbound): string | undefined {
  return message.language ?? (message.kind === 'message' ? detectLanguage(`${message.subject ?? ''}\n${message.text}`.slice(0, LANGUAGE_SAMPLE)) : undefined);
}

/** A subject for channels that have none: the first line of the complaint, shortened. */
export function subjectFrom(message: NormalizedInbound): string {
  if (message.subject?.trim()) return message.subject.trim().slice(0, 500);
  const firstLine = message.text.trim().split(/\r?\n/)[0]?.trim() ?? '';
  if (!firstLine) return `${message.channel} message from ${message.sender.displayName ?? message.sender.address}`;
  return firstLine.length > SUBJECT_LENGTH ? `${firstLine.slice(0, SUBJECT_LENGTH - 1)}…` : firstLine;
}

/**
 * Takes a verified webhook's normalized messages into tickets. The raw payload, every
 * message, customer, ticket and timeline event commit in ONE transaction before the webhook
 * is answered 2xx: nothing we acknowledged can be lost, and a retry finds everything done.
 */
/** The columns of a customer's inbound message that the one-delivery and the group writes share. */
function inboundMessageRow(
  message: NormalizedInbound,
  row: { id: string; ticketId: string; senderAddress: string | null; language: string | null | undefined; now: Date },
  extras: IngestExtras,
): NewMessageRow {
  return {
    id: row.id,
    ticketId: row.ticketId,
    kind: message.kind === 'message' ? 'message' : message.kind === 'voicemail' ? 'voicemail' : 'call',
    channel: message.channel,
    senderKind: message.sender.kind,
    senderAddress: row.senderAddress,
    providerMessageId: message.providerMessageId,
    threadKey: threadKeyOf(message),
    messageIdHeader: message.messageIdHeader ?? null,
    subject: message.subject ?? null,
    bodyText: message.text,
    bodyHtml: message.html ?? null,
    language: row.language ?? null,
    authentication: extras.authentication ?? null,
    sentAt: message.sentAt,
    createdAt: row.now,
  };
}

export function createIntakeService(deps: IntakeDeps) {
  const { db, clock, logger, hooks } = deps;

  async function ingestOne(tx: Executor, group: GroupState, message: NormalizedInbound, now: Date, changes: TicketChange[], extras: IngestExtras = {}): Promise<MessageOutcome> {
    // The caller holds this message's advisory lock (see lockMessages): a delivery racing
    // this one waits for our commit, then sees the committed row and creates nothing. The
    // group read what was stored after taking the locks, and adds what it inserts.
    if (group.stored.has(storedKey(message))) return { providerMessageId: message.providerMessageId, result: 'duplicate' };

    const block = group.blocks.get(message);
    if (block) return { providerMessageId: message.providerMessageId, result: 'blocked', blocklistEntryId: block.id, blockedBy: `${block.kind}:${block.value}` };

    // Detected before the transaction (prepare), see languageOf.
    const language = extras.language === undefined ? languageOf(message) : (extras.language ?? undefined);
    // Only the sender the provider authenticated finds or creates the customer. Addresses the
    // message merely claims (typed into the text, a Reply-To) become suggestions an agent may
    // confirm: anyone can type someone else's address, and linking on it handed the victim's
    // ticket, and the agent's replies, to whoever typed it.
    // Robots (auto-replies, bounces, bulk mail) are not customers: they may join a ticket the
    // message names, but never create a customer record or suggest identities.
    // A claimed sender (senderVerified false: a later From, a Reply-To, X-Original-Sender) is
    // no better than a typed address: it finds no customer and threads by nothing that needs
    // one ("[#N]", cross-channel). If the message opens a ticket, that ticket gets a customer
    // of its own holding the address as a suggestion only (see claimantCustomer).
    // A From that failed sender authentication (issue 19) is a claim like the others, and a
    // stronger one: anyone may have written it, so it threads by nothing at all, not even a
    // Message-ID it answers, and opens a ticket of its own flagged senderUnverified.
    const unverified = extras.authentication?.verdict === 'fail';
    const claimed = message.senderVerified === false || unverified;
    const customer = claimed
      ? { customerId: null, created: false }
      : message.automated
        ? { customerId: await knownCustomer(tx, [message.sender]), created: false }
        : group.unknownSenders.delete(senderKey(message.sender))
          ? await createCustomer(tx, [message.sender], { name: message.sender.displayName, language, now })
          : await findOrCreateCustomer(tx, [message.sender], { name: message.sender.displayName, language, now });
    let customerId = customer.customerId;
    const crossChannelSince = deps.crossChannelMergeHours > 0 ? new Date(now.getTime() - deps.crossChannelMergeHours * 3_600_000) : null;
    let match = unverified ? null : await findThread(tx, message, customerId, { crossChannelSince, customerIsNew: customer.created });
    let reaction = match && !message.automated ? customerMessage(lifecycleStateOf(match.ticket)) : null;

    // Flood control applies to every ticket a message would open: a new one, and a follow-up
    // of a closed ticket the message names ("Re: [#N]" opened one per message, unlimited).
    const opensTicket = !message.automated && (!reaction || 'followUp' in reaction);
    const floodScope = claimed ? { claimed: message.sender } : customer.created || !customerId ? null : { customerId };
    const flood = opensTicket && floodScope ? await floodTicket(tx, floodScope, now) : null;
    if (flood) {
      match = { ticket: flood.ticket, by: 'flood' };
      reaction = customerMessage(lifecycleStateOf(flood.ticket));
    }

    if (message.automated && !match) {
      // An auto-reply or bounce with no ticket to attach to opens nothing; its raw payload
      // is kept (inbound_payloads) so nothing is lost.
      return { providerMessageId: message.providerMessageId, result: 'stored-unthreaded', reason: message.automated };
    }

    let ticket: TicketRow | undefined;
    /**
     * A ticket to open, inserted by the statement that inserts the message (one statement, not
     * two): only an answered call needs the new ticket's row before that (its reply transition).
     */
    let opening: NewTicket | undefined;
    const open = async (followUpOfId: string | null) => {
      const values = newTicketValues(message, customerId!, language, now, followUpOfId, extras);
      if (message.kind === 'call_completed' && !message.automated) ticket = await insertTicket(tx, values);
      else opening = values;
    };
    let newTicket = false;
    const events: NewEvent[] = [];
    let transition: Transition = { patch: {}, events: [] };
    if (claimed && opensTicket && !flood) {
      const claimant = await claimantCustomer(tx, message.sender, { name: message.sender.displayName, language, now });
      customerId = claimant.customerId;
      events.push(...claimant.suggested.map((i) => ({ type: 'identity_suggested', data: { identityId: i.id, kind: i.kind, address: i.address } })));
    }
    if (match && reaction) {
      if ('followUp' in reaction) {
        await open(match.ticket.id);
        newTicket = true;
        events.push({ type: 'created', data: { channel: message.channel, source: 'webhook', followUpOf: match.ticket.id } });
      } else {
        ticket = match.ticket;
        transition = reaction;
      }
    } else if (match) {
      ticket = match.ticket;
    } else {
      await open(null);
      newTicket = true;
      events.push({ type: 'created', data: { channel: message.channel, source: 'webhook', kind: message.kind } });
      if (unverified) {
        events.push({ type: 'sender_unverified', data: { sender: `${message.sender.kind}:${message.sender.address}`, reason: extras.authentication?.reason ?? null } });
      }
    }

    const messageId = randomUUID();
    if (message.kind === 'call_completed' && !message.automated) {
      // An answered call is an interaction by us: it is the first response if none came yet.
      // It comes on top of the customer having called (a pending ticket wakes up, a solved one
      // reopens), so both transitions apply; replacing the first one lost those.
      const reply = agentPublicReply({ ...lifecycleStateOf(ticket!), ...transition.patch } as ReturnType<typeof lifecycleStateOf>, message.sentAt);
      transition = { patch: { ...transition.patch, ...reply.patch }, events: [...transition.events, ...reply.events] };
    }
    events.push(...messageEvents(message, messageId, match), ...transition.events);
    if (flood) events.push({ type: 'flood', data: { messageId, count: flood.count, sender: `${message.sender.kind}:${message.sender.address}`, maxPerHour: deps.floodMaxPerHour } });
    // A claimed sender's message that joined an existing ticket suggests nothing on its customer.
    if (!message.automated && customerId && (!claimed || newTicket) && message.otherIdentities?.length) {
      const suggested = await suggestIdentities(tx, customerId!, message.otherIdentities, now);
      events.push(...suggested.map((i) => ({ type: 'identity_suggested', data: { identityId: i.id, kind: i.kind, address: i.address } })));
    }

    // The message and its timeline events in one statement (the events as a CTE), and the
    // ticket it opens if any (a CTE too: the foreign keys are checked at the statement's end).
    const ticketId = opening ? opening.id! : ticket!.id;
    const messageValues: typeof messages.$inferInsert = {
      // A reply goes back to sender_address (delivery.destination): never to a claimed address.
      ...inboundMessageRow(message, { id: messageId, ticketId, senderAddress: claimed ? null : message.sender.address, language, now }, extras),
      direction: 'inbound',
      public: true,
      authorKind: message.automated ? 'system' : 'customer',
      automated: message.automated ?? null,
      authentication: extras.authentication ?? null,
    };
    const opened = await insertMessageWithTimeline(tx, opening ?? null, messageValues, { ticketId, actor: CUSTOMER, events, at: now });
    if (opened) ticket = opened;
    group.stored.add(storedKey(message));
    if (message.attachments.length > 0) {
      const saved = await deps.attachments.save(tx, messageId, message.attachments, now);
      await tx.update(messages).set({ attachments: saved }).where(eq(messages.id, messageId));
    }

    // A ticket opened just now already holds everything unless an answered call moved it.
    const unchanged = newTicket && Object.keys(transition.patch).length === 0;
    if (!ticket) throw new Error('the ticket insert returned no row');
    const updated = unchanged
      ? ticket
      : await patchTicket(tx, ticket.id, { ...transition.patch, ...(ticket.language === null && language ? { language } : {}) }, now, { completesCreation: newTicket });
    const change = { ticket: updated, events, now };
    await hooks.inTransactionNow(tx, change);
    group.changes.push(change);
    changes.push(change);
    return {
      providerMessageId: message.providerMessageId,
      result: 'created',
      ticketId: ticket.id,
      ticketNumber: ticket.number,
      newTicket,
      threadedBy: match?.by ?? null,
    };
  }

  /** One delivery's messages, in a group transaction; those written set-based already (ingestPlain) take their outcome from there. */
  async function ingestDelivery(tx: Executor, group: GroupState, delivery: Delivery, plain: Map<NormalizedInbound, Written>): Promise<{ outcomes: MessageOutcome[]; changes: TicketChange[] }> {
    const changes: TicketChange[] = [];
    const outcomes: MessageOutcome[] = [];
    for (const [i, message] of delivery.list.entries()) {
      const written = plain.get(message);
      if (written) {
        outcomes.push(written.outcome);
        changes.push(written.change);
      } else outcomes.push(await ingestOne(tx, group, message, delivery.now, changes, delivery.extras[i]));
    }
    return { outcomes, changes };
  }

  /**
   * The group's plain messages (see plainMessages: a new sender, nothing to thread onto, nothing
   * to suggest, block or attach), written set-based: one statement for their customers,
   * identities, tickets, messages and timelines, instead of three or four per message; then
   * their in-transaction hooks, as ingestOne runs them, but over all the changes at once
   * (inTransactionNowBatch: one statement for their SLA clocks). The outcome of each is what
   * ingestOne gives such a message. A message whose sender's identity a concurrent transaction
   * stored first is not written by that statement, and goes through ingestOne, which finds that
   * customer (as createCustomer does).
   */
  async function ingestPlain(tx: Executor, group: GroupState, plain: readonly PlainMessage[]): Promise<Map<NormalizedInbound, Written>> {
    const written = new Map<NormalizedInbound, Written>();
    if (plain.length === 0) return written;
    const customers: NewCustomerRow[] = plain.map(({ message, language, now }) => ({
      id: randomUUID(),
      name: message.sender.displayName ?? null,
      language: language ?? null,
      now,
      identity: { kind: message.sender.kind, address: message.sender.address, displayName: message.sender.displayName ?? null, handle: message.sender.handle ?? null },
    }));
    const ticketRows: (NewTicket & { id: string; createdAt: Date; updatedAt: Date })[] = [];
    const messageRows: NewMessageRow[] = [];
    const eventRows: NewEventRow[] = [];
    const pending: { message: NormalizedInbound; ticketId: string; events: NewEvent[]; now: Date }[] = [];
    for (const [i, { message, extras, language, now }] of plain.entries()) {
      const customerId = customers[i]!.id;
      const values = { ...newTicketValues(message, customerId, language, now, null, extras), id: randomUUID(), createdAt: now, updatedAt: now };
      const messageId = randomUUID();
      const events: NewEvent[] = [{ type: 'created', data: { channel: message.channel, source: 'webhook', kind: message.kind } }, ...messageEvents(message, messageId, null)];
      if (message.kind === 'call_completed') {
        // An answered call is the first response (see ingestOne): on a ticket it opens, part of its creation.
        const reply = agentPublicReply(lifecycleStateOf({ ...NEW_TICKET_STATE, priority: values.priority, teamId: values.teamId ?? null }), message.sentAt);
        if (Object.keys(reply.patch).some((key) => key !== 'status' && key !== 'firstResponseAt')) throw new Error('an answered call patched more of its new ticket than status and first response');
        Object.assign(values, reply.patch);
        events.push(...reply.events);
      }
      ticketRows.push(values);
      messageRows.push(inboundMessageRow(message, { id: messageId, ticketId: values.id, senderAddress: message.sender.address, language, now }, extras));
      for (const event of events) eventRows.push({ ticketId: values.id, type: event.type, data: event.data ?? {}, createdAt: now });
      pending.push({ message, ticketId: values.id, events, now });
    }
    if (deps.policies && ticketRows.length > 0) {
      const { policies } = await deps.policies.get(tx);
      for (const values of ticketRows) values.slaPolicyId = matchPolicy(policies, slaTicketOf(values))?.id ?? null;
    }
    // Customers, identities, tickets, messages and timelines in one statement. A message whose
    // sender's identity a concurrent transaction stored first gets no row at all there (no
    // ticket comes back for it): it stays out of `written` and goes through ingestOne.
    const rows = await insertCustomersTicketsWithMessages(tx, customers, ticketRows, messageRows, eventRows);
    const changes: TicketChange[] = [];
    for (const { message, ticketId, events, now } of pending) {
      const ticket = rows.get(ticketId);
      if (!ticket) continue;
      group.stored.add(storedKey(message));
      group.unknownSenders.delete(senderKey(message.sender));
      const change = { ticket, events, now };
      changes.push(change);
      group.changes.push(change);
      written.set(message, {
        change,
        outcome: { providerMessageId: message.providerMessageId, result: 'created', ticketId: ticket.id, ticketNumber: ticket.number, newTicket: true, threadedBy: null },
      });
    }
    // Their hooks at once, before any other message of the group (a reply may thread onto one
    // of these tickets and find its clocks): the SLA clocks of every one in one statement.
    await hooks.inTransactionNowBatch(tx, changes);
    return written;
  }

  /**
   * The group's raw payloads, each with what became of its messages, in one statement, last in
   * the transaction that stored the messages. A payload's (channel, hash) is claimed first
   * (inbound_payload_keys, not partitioned): the payload table is partitioned by month (issue
   * 18) and can hold no unique index across months, so the claim is what keeps a redelivery,
   * or a concurrent copy, from being stored twice. A copy waits on the claim of the one in
   * flight, then stores nothing; two copies in one group store the first. The claims are taken
   * in key order, so two groups cannot deadlock on them. Answers each delivery's payload id,
   * or null when its bytes were stored before.
   */
  async function storePayloads(tx: Executor, group: readonly Delivery[], outcomes: readonly MessageOutcome[][]): Promise<(string | null)[]> {
    const values = group.flatMap((delivery, ord) => {
      const { raw, sha256, skipped, now } = delivery;
      const contentType = raw.contentType === undefined ? null : escapedText(raw.contentType);
      return [ord, raw.channel, sha256, contentType, raw.body, JSON.stringify({ messages: outcomes[ord], skipped }), now];
    });
    const stored = await clientOf(tx).query<{ id: string; channel: string; sha256: string }>({ name: `intake_payloads_v1_${group.length}`, text: payloadsStatement(group.length), values });
    const payloadKey = (channel: string, sha256: string) => `${channel}\u0000${sha256}`;
    const ids = new Map(stored.rows.map((r) => [payloadKey(r.channel, r.sha256), r.id]));
    return group.map((delivery) => {
      const key = payloadKey(delivery.raw.channel, delivery.sha256);
      const id = ids.get(key) ?? null;
      ids.delete(key); // a second copy in the group stored nothing
      return id;
    });
  }

  /**
   * Group commit (issue 18): deliveries that arrive together share one transaction, as the SLA
   * timers share batches; one BEGIN/COMMIT and one WAL flush for the group instead of one per
   * webhook. Every advisory lock of the group (its messages and, with flood control, its
   * senders) is taken up front in one statement, in one sorted order, so two groups cannot
   * deadlock on them and a retry racing its original in the same group finds it committed
   * (a duplicate) exactly as in separate transactions. A group that fails is retried in halves
   * down to the delivery at fault (createCoalescer), which then fails alone: one bad message
   * never fails its neighbours. Under light load a delivery runs alone, at once.
   */
  const commitGroup = (group: Delivery[], after?: (tx: Executor) => Promise<void>) =>
    db.transaction(async (tx) => {
      const list = group.flatMap((d) => d.list);
      // A group inserts dozens of rows that reference tickets: their foreign-key checks must not
      // run a plan cached while the tables were small (see planAfresh).
      await planAfresh(tx);
      await lockMessages(tx, list, { senders: deps.floodMaxPerHour > 0 });
      const state = await readGroupState(tx, list);
      const plain = await ingestPlain(tx, state, plainMessages(group, state));
      const ingested: { outcomes: MessageOutcome[]; changes: TicketChange[] }[] = [];
      for (const delivery of group) ingested.push(await ingestDelivery(tx, state, delivery, plain));
      // The hooks that only write (the events outbox) once for the whole group, last.
      await hooks.inTransactionDeferred(tx, state.changes);
      const payloadIds = await storePayloads(
        tx,
        group,
        ingested.map((i) => i.outcomes),
      );
      const committed: Committed[] = [];
      for (const [i, delivery] of group.entries()) {
        const { outcomes, changes } = ingested[i]!;
        const payloadId = payloadIds[i]!;
        // Counted with the payload that keeps them, so a redelivered payload counts nothing twice.
        const blocked = outcomes.flatMap((o) => (o.result === 'blocked' ? [o.blocklistEntryId] : []));
        if (payloadId && blocked.length > 0) await countBlocked(tx, blocked, delivery.now);
        await delivery.options.withinTransaction?.(tx);
        committed.push({ result: { payloadId, duplicatePayload: !payloadId, messages: outcomes, skipped: delivery.skipped }, changes });
      }
      await after?.(tx);
      return committed;
    });
  const groupCommit = createCoalescer<Delivery, Committed>(
    async (group) => {
      deps.metrics?.intakeGroupSize.observe(group.length);
      const committed = await commitGroup(group);
      // Once for the group, before any of its deliveries is answered: a hook whose work
      // collapses (routing's trigger of the queue) runs once, not once per delivery. Never
      // throws: the group is committed, and a throw here would have it retried.
      const failed = (error: unknown) => logger.error({ err: error }, 'intake hook failed after commit');
      await hooks.afterCommit(
        committed.flatMap((c) => c.changes),
        failed,
      ).catch(failed);
      return committed;
    },
    { maxBatch: GROUP_MAX, maxInFlight: GROUPS_IN_FLIGHT },
  );

  /** Sender authentication (DNS, outside any transaction) and everything else decided before the commit. */
  async function prepare(raw: RawPayload, parsed: { messages: NormalizedInbound[]; skipped: IngestResult['skipped'] }, options: IngestOptions = {}): Promise<Delivery> {
    // DNS first, outside the transaction: no row lock waits on a resolver.
    const extras: IngestExtras[] = await Promise.all(
      parsed.messages.map(async (message) => ({
        ticketDefaults: options.ticketDefaults,
        authentication: message.channel === 'email' && deps.senderAuth ? await deps.senderAuth.authenticate(authenticationInput(raw, message, options)) : undefined,
      })),
    );
    const now = clock.now();
    const sha256 = createHash('sha256').update(raw.body).digest('hex');
    const list = parsed.messages.map(storable);
    // The language is detected here, before the group transaction, not while it holds its locks.
    const decided = extras.map((e, i) => ({ ...storable(e), language: languageOf(list[i]!) ?? null }));
    return { raw, list, extras: decided, skipped: storable(parsed.skipped), sha256, now, options };
  }

  return {
    async ingest(raw: RawPayload, parsed: { messages: NormalizedInbound[]; skipped: IngestResult['skipped'] }, options: IngestOptions = {}): Promise<IngestResult> {
      const delivery = await prepare(raw, parsed, options);
      // Committed with the deliveries that arrive at the same moment (group commit, below); the
      // caller answers 2xx only once this resolves, i.e. after the commit.
      const { result } = await groupCommit.request(delivery);
      return result;
    },

    /** The first half of ingest(): sender authentication and the rest decided before any transaction (an IMAP chunk prepares its messages concurrently). */
    prepare,

    /**
     * An ordered run of deliveries (an IMAP chunk, issue 19) committed through the group
     * transaction ingest() uses, many to a transaction, in order: the whole run first, and a run
     * that fails is retried in halves, left half first, down to the delivery at fault, which is
     * handed to `failed` (the caller keeps it as a dead letter, or throws to stop) before anything
     * after it commits. `progress` runs inside each transaction that commits, with the indexes of
     * the deliveries it holds, so the caller's progress commits with exactly those messages. An
     * error `fatal` recognises (a lost lease, a lost connection) is not split, it is thrown.
     */
    async commitInOrder(
      run: readonly Delivery[],
      handlers: {
        progress: (tx: Executor, indexes: number[]) => Promise<void>;
        /** After each transaction commits, with the same indexes `progress` saw. */
        committed: (indexes: number[]) => void;
        failed: (index: number, error: unknown) => Promise<void>;
        fatal?: (error: unknown) => boolean;
      },
    ): Promise<void> {
      const commitPart = async (from: number, to: number): Promise<void> => {
        const indexes = Array.from({ length: to - from }, (_, i) => from + i);
        let committed: Committed[];
        try {
          committed = await commitGroup(run.slice(from, to), (tx) => handlers.progress(tx, indexes));
        } catch (error) {
          if (handlers.fatal?.(error)) throw error;
          if (to - from === 1) return handlers.failed(from, error);
          const half = from + Math.ceil((to - from) / 2);
          await commitPart(from, half);
          await commitPart(half, to);
          return;
        }
        handlers.committed(indexes);
        await hooks.afterCommit(
          committed.flatMap((c) => c.changes),
          (error) => logger.error({ err: error }, 'intake hook failed after commit'),
        );
      };
      if (run.length > 0) await commitPart(0, run.length);
    },

    /** See claimDeliveryToken: false when a signature token comes back with other content. `checkedAt`: the instant the signature's age was checked against. */
    claimDeliveryToken(channel: string, token: DeliveryToken, checkedAt: Date): Promise<boolean> {
      return claimDeliveryToken(db, channel, token, checkedAt);
    },

    /**
     * Keeps a payload we refused as malformed, with the reason, in its own transaction. The body
     * stays raw bytes (bytea); the texts quote provider input, so they are escaped first: a NUL
     * in an error message must not fail the one insert that keeps the payload. The same bytes
     * refused again (a provider's retries, a replay) count on the row that holds them, with the
     * latest reason: the table grows with distinct payloads, not with deliveries.
     */
    async deadLetter(raw: RawPayload, reason: string, field: string | null): Promise<void> {
      const now = clock.now();
      const refusal = { reason: escapedText(reason), field: field === null ? null : escapedText(field) };
      await db
        .insert(deadLetters)
        .values({
          channel: raw.channel,
          sha256: createHash('sha256').update(raw.body).digest('hex'),
          ...refusal,
          contentType: raw.contentType === undefined ? null : escapedText(raw.contentType),
          body: raw.body,
          receivedAt: now,
          lastReceivedAt: now,
        })
        .onConflictDoUpdate({ target: [deadLetters.channel, deadLetters.sha256], set: { ...refusal, deliveries: sql`${deadLetters.deliveries} + 1`, lastReceivedAt: now } });
    },
  };

  /**
   * Flood control. A ticket per message is what a flood costs (SLA clocks, auto-replies, a
   * queue nobody can read), so it is ticket openings that are limited, not messages: once a
   * customer has floodMaxPerHour tickets created in the last hour (by intake or an agent), a
   * message that would open another (a new ticket, or a follow-up of a closed one) joins their
   * most recently updated open ticket instead (threadedBy "flood"), and that ticket's timeline
   * gets a "flood" event whose `count` is how many messages were diverted onto it so far. The
   * message is stored like any other; nothing is dropped. With no open ticket, the message
   * opens one, and the next ones join it. Deliveries from one sender are serialized
   * (lockMessages), so concurrent deliveries cannot each open "the last" ticket.
   * A claimed sender (see ingestOne) gets a new customer per ticket, so its scope is every
   * customer that holds the claimed address only as a suggestion and nothing verified: the
   * same unproven sender, whatever it claims, cannot open more than the limit either.
   */
  async function floodTicket(tx: Executor, scope: { customerId: string } | { claimed: SenderIdentity }, now: Date): Promise<{ ticket: TicketRow; count: number } | null> {
    const limit = deps.floodMaxPerHour;
    if (limit <= 0) return null;
    const since = new Date(now.getTime() - 3_600_000);
    const owned = 'customerId' in scope ? eq(tickets.customerId, scope.customerId) : inArray(tickets.customerId, claimantsOf(tx, scope.claimed));
    const recent = tx.select({ one: sql`1` }).from(tickets).where(and(owned, gte(tickets.createdAt, since))).limit(limit).as('recent');
    const [opened] = await tx.select({ n: count() }).from(recent);
    if ((opened?.n ?? 0) < limit) return null;
    const [open] = await tx
      .select()
      .from(tickets)
      .where(and(owned, notInArray(tickets.status, ['solved', 'closed'])))
      .orderBy(desc(tickets.updatedAt), desc(tickets.number))
      .limit(1);
    if (!open) return null;
    const [diverted] = await tx.select({ n: count() }).from(ticketEvents).where(and(eq(ticketEvents.ticketId, open.id), eq(ticketEvents.type, 'flood')));
    return { ticket: open, count: (diverted?.n ?? 0) + 1 };
  }

  function newTicketValues(message: NormalizedInbound, customerId: string, language: string | undefined, now: Date, followUpOfId: string | null, extras: IngestExtras = {}): NewTicket {
    const unverified = extras.authentication?.verdict === 'fail';
    return {
      id: randomUUID(),
      status: 'new',
      priority: extras.ticketDefaults?.priority ?? 'normal',
      ...(extras.ticketDefaults?.teamId ? { teamId: extras.ticketDefaults.teamId } : {}),
      ...(unverified ? { senderUnverified: true, senderUnverifiedReason: extras.authentication?.reason ?? 'sender authentication failed' } : {}),
      channel: message.channel,
      subject: subjectFrom(message),
      description: message.text.slice(0, 20_000),
      customerId,
      language: language ?? null,
      followUpOfId,
      createdAt: now,
      updatedAt: now,
    };
  }
}

/** A message ingestPlain writes set-based, with what prepare decided for it. */
interface PlainMessage {
  message: NormalizedInbound;
  extras: IngestExtras;
  language: string | undefined;
  now: Date;
}

/** What ingestPlain wrote for a message: its outcome and its ticket change. */
interface Written {
  outcome: MessageOutcome;
  change: TicketChange;
}

/** The lifecycle columns of a ticket just inserted (their defaults), for an answered call's reply transition. */
const NEW_TICKET_STATE = { status: 'new', assigneeId: null, firstResponseAt: null, solvedAt: null, closedAt: null, reopenCount: 0, handoffCount: 0, firstAssignedAt: null } as const;

/**
 * The group's messages whose whole outcome is known from the group's read alone, so that they
 * can be written set-based (ingestPlain), in any order with the rest of the group: a new
 * ticket of a new customer. That is a message not stored yet and not blocked, from a sender
 * the provider vouches for (not claimed, not failing sender authentication, not automated)
 * whom no customer holds and who sends nothing else in the group (so no flood check applies
 * and no other message finds or creates that customer), that no stored message continues and
 * that continues, or is continued by, no other message of the group (thread key, Message-ID,
 * reply-to id), with no attachments and no other identities to suggest. Everything else goes
 * through ingestOne, message by message.
 */
function plainMessages(group: readonly Delivery[], state: GroupState): PlainMessage[] {
  const list = group.flatMap((d) => d.list);
  const tally = (keys: string[]) => {
    const counts = new Map<string, number>();
    for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
    return counts;
  };
  const ids = tally(list.map(storedKey));
  const senders = tally(list.map((m) => senderKey(m.sender)));
  const threadKey = (m: NormalizedInbound) => {
    const key = threadKeyOf(m);
    return key === null ? null : `${m.channel}\u0000${key}`;
  };
  const threads = tally(list.flatMap((m) => threadKey(m) ?? []));
  const headers = new Set(list.flatMap((m) => m.messageIdHeader ?? []));
  const referenced = new Set(list.flatMap((m) => m.thread.referencedMessageIds ?? []));
  const repliedTo = new Set(list.flatMap((m) => (m.thread.inReplyToProviderId ? [storedKey({ channel: m.channel, providerMessageId: m.thread.inReplyToProviderId })] : [])));
  const plain: PlainMessage[] = [];
  let ord = 0;
  for (const delivery of group) {
    for (const [i, message] of delivery.list.entries()) {
      const at = ord++;
      const extras = delivery.extras[i] ?? {};
      const key = storedKey(message);
      const thread = threadKey(message);
      const isPlain =
        ids.get(key) === 1 &&
        !state.stored.has(key) &&
        !state.blocks.get(message) &&
        message.senderVerified !== false &&
        extras.authentication?.verdict !== 'fail' &&
        !message.automated &&
        state.unknownSenders.has(senderKey(message.sender)) &&
        senders.get(senderKey(message.sender)) === 1 &&
        !state.threaded.has(at) &&
        (thread === null || threads.get(thread) === 1) &&
        !(message.thread.referencedMessageIds ?? []).some((ref) => headers.has(ref)) &&
        !(message.messageIdHeader !== undefined && referenced.has(message.messageIdHeader)) &&
        !(message.thread.inReplyToProviderId !== undefined && ids.has(storedKey({ channel: message.channel, providerMessageId: message.thread.inReplyToProviderId }))) &&
        !repliedTo.has(key) &&
        message.attachments.length === 0 &&
        !message.otherIdentities?.length;
      if (!isPlain) continue;
      const language = extras.language === undefined ? languageOf(message) : (extras.language ?? undefined);
      plain.push({ message, extras, language, now: delivery.now });
    }
  }
  return plain;
}

/**
 * What the group reads once, after its locks: which of its messages are stored already (a
 * redelivery), and each message's blocklist entry.
 */
async function readGroupState(tx: Executor, list: NormalizedInbound[]): Promise<GroupState> {
  const senders = list.map((m) => m.sender);
  const blocklist = blocklistLookup(senders);
  // One round trip for the three reads (after the locks: a statement's snapshot is taken when it starts).
  // What a stored message could thread (intake.threading.ts, the steps that need no customer):
  // only whether any exists, so that a message nothing continues can be written set-based.
  // Each as a LATERAL probe with LIMIT 1, not EXISTS: Postgres may turn an EXISTS into a join
  // that reads every message, and did, on a `messages` not analyzed yet (a young database
  // filling fast): a sequential scan and hash of all messages per group, which grew with the table.
  // A LATERAL subquery with a LIMIT cannot be flattened: one index probe per key, whatever the statistics.
  const keyed = list.flatMap((m, ord) => {
    const key = threadKeyOf(m);
    return key === null ? [] : [{ ord, key, channel: m.channel }];
  });
  const references = list.flatMap((m, ord) => (m.thread.referencedMessageIds ?? []).map((ref) => ({ ord, ref })));
  const replies = list.flatMap((m, ord) => (m.thread.inReplyToProviderId ? [{ ord, id: m.thread.inReplyToProviderId, channel: m.channel }] : []));
  const { rows } = await tx.execute<{ what: 'stored' | 'block' | 'identity' | 'threaded'; a: string; b: string; c: string | null }>(sql`
    select 'stored' as what, channel as a, provider_message_id as b, null::text as c from messages
     where (channel, provider_message_id) in (select * from unnest(${sql.param(list.map((m) => m.channel))}::text[], ${sql.param(list.map((m) => m.providerMessageId))}::text[]))
    union all
    select 'block', id::text, kind, value from (${blocklist.select}) as blocked
    union all
    select 'identity', kind, address, null from (${verifiedIdentitiesSelect(senders)}) as known
    union all
    select 'threaded', k.ord::text, null, null from unnest(${sql.param(keyed.map((k) => k.ord))}::int[], ${sql.param(keyed.map((k) => k.key))}::text[], ${sql.param(keyed.map((k) => k.channel))}::text[]) as k(ord, key, channel)
     cross join lateral (select 1 from messages where thread_key = k.key and channel = k.channel limit 1) as m
    union all
    select 'threaded', r.ord::text, null, null from unnest(${sql.param(references.map((r) => r.ord))}::int[], ${sql.param(references.map((r) => r.ref))}::text[]) as r(ord, ref)
     cross join lateral (select 1 from messages where message_id_header = r.ref limit 1) as m
    union all
    select 'threaded', p.ord::text, null, null from unnest(${sql.param(replies.map((r) => r.ord))}::int[], ${sql.param(replies.map((r) => r.id))}::text[], ${sql.param(replies.map((r) => r.channel))}::text[]) as p(ord, id, channel)
     cross join lateral (select 1 from messages where channel = p.channel and provider_message_id = p.id limit 1) as m`);
  const stored = new Set<string>();
  const known = new Set<string>();
  const threaded = new Set<number>();
  const entries: { id: string; kind: string; value: string }[] = [];
  for (const row of rows) {
    if (row.what === 'stored') stored.add(storedKey({ channel: row.a as NormalizedInbound['channel'], providerMessageId: row.b }));
    else if (row.what === 'block') entries.push({ id: row.a, kind: row.b, value: row.c! });
    else if (row.what === 'threaded') threaded.add(Number(row.a));
    else known.add(senderKey({ kind: row.a as SenderIdentity['kind'], address: row.b }));
  }
  const blocks = blocklist.pick(entries);
  const unknownSenders = new Set(senders.map(senderKey).filter((key) => !known.has(key)));
  return { stored, blocks: new Map(list.map((m, i) => [m, blocks[i]])), changes: [], unknownSenders, threaded };
}

/**
 * Serializes deliveries of the same message (a retry racing the original) and, with flood
 * control on, of the same sender (two deliveries must not both see "one ticket left"). All of
 * a payload's locks are taken up front in one canonical order: taken message by message, two
 * deliveries carrying the same messages in different orders (A,B and B,A) deadlock, and one is
 * answered 500.
 */
async function lockMessages(tx: Executor, list: NormalizedInbound[], options: { senders: boolean }): Promise<void> {
  const byKey = new Map<string, [string, string]>();
  for (const m of list) {
    byKey.set(`${m.channel}\u0000${m.providerMessageId}`, [m.channel, m.providerMessageId]);
    if (options.senders) byKey.set(`sender\u0000${m.sender.kind}\u0000${m.sender.address}`, [`sender:${m.sender.kind}`, m.sender.address]);
  }
  const ordered = [...byKey.keys()].sort().map((key) => byKey.get(key)!);
  if (ordered.length === 0) return;
  // One statement takes every lock, in the array's (sorted) order: a volatile target list is
  // evaluated after the ORDER BY. A named prepared statement of fixed text, not a drizzle-built
  // one with two parameters per lock.
  await clientOf(tx).query({
    name: 'intake_locks_v1',
    text: 'select pg_advisory_xact_lock(hashtext(l.space), hashtext(l.key)) from unnest($1::text[], $2::text[]) with ordinality as l(space, key, ord) order by l.ord',
    values: [ordered.map(([space]) => space), ordered.map(([, key]) => key)],
  });
}

/**
 * The statement that stores a group of `size` payloads (see storePayloads), one per size (at most
 * GROUP_MAX of them), so it runs as a named prepared statement: parsed and planned once per
 * connection, with each body a binary parameter of its own (not hex in an array).
 */
const payloadStatements = new Map<number, string>();
function payloadsStatement(size: number): string {
  let text = payloadStatements.get(size);
  if (text === undefined) {
    const rows = Array.from({ length: size }, (_, i) => {
      const $ = (n: number) => `$${i * 7 + n}`;
      return `(${$(1)}::int, ${$(2)}::text, ${$(3)}::text, ${$(4)}::text, ${$(5)}::bytea, ${$(6)}::jsonb, ${$(7)}::timestamptz)`;
    });
    text = `
      with v (ord, channel, sha256, content_type, body, outcome, received_at) as (values ${rows.join(', ')}),
      first as (select distinct on (channel, sha256) * from v order by channel, sha256, ord),
      claim as (
        insert into inbound_payload_keys (channel, sha256, received_at) select channel, sha256, received_at from first order by channel, sha256
        on conflict do nothing returning channel, sha256)
      insert into inbound_payloads (channel, sha256, content_type, body, outcome, received_at)
      select first.channel, first.sha256, first.content_type, first.body, first.outcome, first.received_at from first join claim using (channel, sha256)
      returning id, channel, sha256`;
    payloadStatements.set(size, text);
  }
  return text;
}

/**
 * What sender authentication gets from a payload: the raw message when the payload is one (raw
 * webhook, IMAP, SMTP), else the headers a provider posted (Mailgun's message-headers).
 */
function authenticationInput(raw: RawPayload, message: NormalizedInbound, options: IngestOptions) {
  const mime = raw.contentType === undefined || /^(message\/rfc822|text\/plain)\b/i.test(raw.contentType);
  const providerHeaders = message.providerData?.authHeaders as [string, string][] | undefined;
  return {
    raw: mime ? raw.body : undefined,
    envelope: options.envelope,
    trustReceived: options.trustReceived ?? true,
    providerHeaders,
    fromAddress: message.senderVerified === false ? undefined : message.sender.address,
  };
}

/** The customer these identities already belong to, if any; creates nothing. */
async function knownCustomer(tx: Executor, identities: SenderIdentity[]): Promise<string | null> {
  const [row] = await tx
    .select({ customerId: customerIdentities.customerId })
    .from(customerIdentities)
    .where(and(VERIFIED, or(...identities.map((i) => and(eq(customerIdentities.kind, i.kind), eq(customerIdentities.address, i.address))))))
    .orderBy(customerIdentities.createdAt)
    .limit(1);
  return row ? resolveMerged(tx, row.customerId) : null;
}

/** The timeline entries for one inbound message; the SLA engine reads their types. */
function messageEvents(message: NormalizedInbound, messageId: string, match: ThreadMatch | null): DomainEvent[] {
  const data = {
    messageId,
    channel: message.channel,
    ...(match ? { threadedBy: match.by } : {}),
    // Who the message claims to be from, when no header we trust says it (see senderVerified).
    ...(message.senderVerified === false ? { claimedSender: `${message.sender.kind}:${message.sender.address}` } : {}),
  };
  if (message.automated) return [{ type: 'automated_message', data: { ...data, automated: message.automated } }];
  switch (message.kind) {
    case 'call_completed':
      return [{ type: 'call_answered', data: { ...data, durationSec: message.call?.durationSec ?? null, ...callFacts(message) } }];
    case 'call_missed':
      return [{ type: 'call_missed', data: { ...data, ...callFacts(message) } }, { type: 'customer_message', data }];
    case 'voicemail':
      return [{ type: 'voicemail', data }, { type: 'customer_message', data }];
    default:
      return [{ type: 'customer_message', data }];
  }
}

export type IntakeService = ReturnType<typeof createIntakeService>;

/** Issue 16: the agent the provider named and the queue facts, for handle time and queue figures (work.hook.ts). */
function callFacts(message: NormalizedInbound): Record<string, unknown> {
  return { ...(message.call?.agentRef ? { agentRef: message.call.agentRef } : {}), ...(message.call?.queue ? { queue: message.call.queue } : {}) };
}
