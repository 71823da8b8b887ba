import { z } from 'zod';
import { CHANNELS } from '../../channels/channel.types.js';
import { PRIORITIES, TICKET_STATUSES } from '../../domain/ticket-lifecycle.js';
import { limitSchema } from '../../http/pagination.js';

const csvOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string()
    .transform((raw) => raw.split(',').map((v) => v.trim()).filter(Boolean))
    .pipe(z.array(z.enum(values)).min(1));

const tag = z.string().trim().min(1).max(64).regex(/^[^\s,]+$/, 'a tag has no spaces or commas');
const languageCode = z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/, 'an ISO 639 language code such as "he" or "pl"');

export const ticketIdParams = z.object({ id: z.uuid() });

export const createTicketBody = z
  .object({
    channel: z.enum(CHANNELS),
    customer: z
      .object({
        name: z.string().trim().min(1).max(200).optional(),
        email: z.email().max(320).optional(),
        phone: z.string().trim().min(3).max(40).optional(),
      })
      .refine((c) => c.email !== undefined || c.phone !== undefined || c.name !== undefined, {
        message: 'give at least one of name, email or phone',
      })
      .optional(),
    customerId: z.uuid().optional(),
    subject: z.string().trim().min(1).max(500),
    body: z.string().trim().min(1).max(100_000),
    priority: z.enum(PRIORITIES).default('normal'),
    language: languageCode.optional(),
    teamId: z.uuid().optional(),
    assigneeId: z.uuid().optional(),
    tags: z.array(tag).max(50).optional(),
  })
  .refine((b) => b.customer !== undefined || b.customerId !== undefined, {
    message: 'give either customer or customerId',
    path: ['customer'],
  });
export type CreateTicketInput = z.infer<typeof createTicketBody>;

export const OUTCOMES = ['upheld', 'partially_upheld', 'rejected', 'withdrawn'] as const;
export const REDRESS_KINDS = ['refund', 'credit', 'replacement', 'goodwill'] as const;
export type RedressKind = (typeof REDRESS_KINDS)[number];
// ISO 4217 codes this runtime knows (ICU's list), e.g. EUR, ILS, PLN.
const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));
export const redressSchema = z
  .strictObject({
    kind: z.enum(REDRESS_KINDS),
    amount: z.number().finite().nonnegative().max(1e12),
    currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 currency code such as EUR').refine((c) => CURRENCIES.has(c), 'an ISO 4217 currency code such as EUR'),
  })
  .meta({ id: 'Redress', description: 'Money or goods given back to the customer' });

export const updateTicketBody = z
  .object({
    status: z.enum(TICKET_STATUSES).optional(),
    priority: z.enum(PRIORITIES).optional(),
    assigneeId: z.uuid().nullable().optional(),
    teamId: z.uuid().nullable().optional(),
    subject: z.string().trim().min(1).max(500).optional(),
    tags: z.array(tag).max(50).optional(),
    // Wrap-up (issue 16): the complaint reason and root cause by id or by code (null clears), the outcome, the redress given.
    reasonId: z.uuid().nullable().optional(),
    reasonCode: z.string().trim().min(1).max(64).optional().describe('The complaint reason by its code, instead of reasonId'),
    rootCauseId: z.uuid().nullable().optional(),
    rootCauseCode: z.string().trim().min(1).max(64).optional().describe('The root cause by its code, instead of rootCauseId'),
    outcome: z.enum(OUTCOMES).nullable().optional(),
    redress: redressSchema.nullable().optional(),
    version: z.number().int().positive().optional(),
  })
  .refine((b) => Object.keys(b).some((k) => k !== 'version'), { message: 'nothing to change' })
  .refine((b) => b.reasonId === undefined || b.reasonCode === undefined, { message: 'give reasonId or reasonCode, not both', path: ['reasonCode'] })
  .refine((b) => b.rootCauseId === undefined || b.rootCauseCode === undefined, { message: 'give rootCauseId or rootCauseCode, not both', path: ['rootCauseCode'] });
export type UpdateTicketInput = z.infer<typeof updateTicketBody>;

export const ifMatchHeaders = z.object({
  'if-match': z
    .string()
    .regex(/^(W\/)?"?\d+"?$/, 'an entity tag such as "3" (the ticket version)')
    .optional(),
});

// Postgres has no year 0 (and JS would send one for "0000-…" or an offset that crosses it).
const instantQuery = z.iso
  .datetime({ offset: true })
  .refine((value) => new Date(value).getUTCFullYear() >= 1, 'an instant in year 1 or later');

export const SORTS = ['createdAt', '-createdAt', 'updatedAt', '-updatedAt'] as const;
export type TicketSort = (typeof SORTS)[number];

export const listTicketsQuery = z.object({
  status: csvOf(TICKET_STATUSES).optional(),
  channel: csvOf(CHANNELS).optional(),
  priority: csvOf(PRIORITIES).optional(),
  assigneeId: z.union([z.uuid(), z.literal('none')]).optional(),
  teamId: z.uuid().optional(),
  customerId: z.uuid().optional(),
  language: languageCode.optional(),
  tag: tag.optional(),
  q: z.string().trim().min(1).max(200).optional(),
  createdFrom: instantQuery.optional(),
  createdTo: instantQuery.optional(),
  updatedFrom: instantQuery.optional(),
  updatedTo: instantQuery.optional(),
  sort: z.enum(SORTS).default('-createdAt'),
  limit: limitSchema,
  cursor: z.string().max(500).optional(),
});
export type ListTicketsQuery = z.infer<typeof listTicketsQuery>;

export const slaClockView = z
  .object({
    metric: z.string(),
    state: z.enum(['running', 'paused', 'met', 'breached']),
    startedAt: z.date(),
    dueAt: z.date().nullable(),
    warnedAt: z.date().nullable(),
    breachedAt: z.date().nullable(),
    remainingSec: z.number().nullable().describe('business seconds left; negative when overdue; null once met'),
  })
  .meta({ id: 'SlaClock' });

export const ticketView = z.object({
  id: z.uuid(),
  number: z.number().int(),
  status: z.enum(TICKET_STATUSES),
  priority: z.enum(PRIORITIES),
  channel: z.enum(CHANNELS),
  subject: z.string(),
  customerId: z.uuid(),
  assigneeId: z.uuid().nullable(),
  teamId: z.uuid().nullable(),
  language: z.string().nullable(),
  tags: z.array(z.string()),
  createdAt: z.date(),
  updatedAt: z.date(),
  firstResponseAt: z.date().nullable(),
  solvedAt: z.date().nullable(),
  closedAt: z.date().nullable(),
  reopenCount: z.number().int(),
  handoffCount: z.number().int(),
  escalationLevel: z.number().int(),
  mergedIntoId: z.uuid().nullable(),
  followUpOfId: z.uuid().nullable(),
  version: z.number().int(),
  slaPolicyId: z.uuid().nullable(),
  fcrState: z.enum(['pending', 'yes', 'no']).describe('first-contact resolution: pending until the reopen window after solving closes'),
  senderUnverified: z.boolean().describe('opened by an e-mail whose From failed sender authentication (DMARC, or SPF and DKIM without DMARC): its own customer, joined to nothing by its From'),
  senderUnverifiedReason: z.string().nullable().describe('why the sender is unverified: the failed SPF/DKIM/DMARC results'),
  reasonId: z.uuid().nullable().describe('the complaint reason (issue 16)'),
  rootCauseId: z.uuid().nullable(),
  outcome: z.enum(OUTCOMES).nullable(),
  redress: redressSchema.nullable(),
  handlingSec: z.number().describe('handle time: merged handling seconds of every agent'),
  afterWorkSec: z.number().describe('handle time: merged after-work (wrap-up) seconds'),
  sla: z.array(slaClockView).optional(),
}).meta({ id: 'Ticket' });
export type TicketView = z.infer<typeof ticketView>;

export const ticketPage = z.object({ items: z.array(ticketView), nextCursor: z.string().nullable() });

export const DIRECTIONS = ['inbound', 'outbound', 'internal'] as const;

export const createMessageBody = z.object({
  body: z.string().trim().min(1).max(100_000).optional(),
  /** Reply with a saved template instead of a body, in the customer's language where one exists. */
  templateId: z.uuid().optional(),
  html: z.string().max(500_000).optional(),
  public: z.boolean(),
  /** Set the ticket's status in the same step, as agents do when they reply and solve. */
  status: z.enum(TICKET_STATUSES).optional(),
  /** For supervisor/admin keys not tied to an agent: who wrote it. */
  authorAgentId: z.uuid().optional(),
}).refine((b) => (b.body === undefined) !== (b.templateId === undefined), { message: 'give exactly one of body and templateId', path: ['body'] });

export const CALL_OUTCOMES = ['resolved', 'no_answer', 'follow_up'] as const;
export const logCallBody = z.object({
  outcome: z.enum(CALL_OUTCOMES),
  durationSec: z.number().int().min(0).max(86_400).default(0),
  note: z.string().trim().max(20_000).optional(),
  status: z.enum(TICKET_STATUSES).optional(),
});
export type LogCallInput = z.infer<typeof logCallBody>;

export const attachmentView = z.object({
  id: z.string(),
  filename: z.string().nullable(),
  contentType: z.string(),
  size: z.number().int(),
  contentId: z.string().optional(),
  inline: z.boolean().optional(),
  url: z.string().optional(),
});

const authResultView = z.enum(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy', 'skipped']);
export const senderAuthenticationView = z
  .object({
    source: z.enum(['local', 'provider', 'none']).describe('local: checked by us; provider: a trusted relay or the provider reported it'),
    authservId: z.string().optional(),
    fromDomain: z.string().nullable(),
    spf: z.object({ result: authResultView, domain: z.string().nullable().optional() }),
    dkim: z.array(z.object({ result: authResultView, domain: z.string(), aligned: z.boolean().optional() })),
    dmarc: z.object({ result: authResultView, policy: z.string().nullable().optional(), domain: z.string().nullable().optional() }).nullable(),
    arc: z.object({ result: authResultView }).nullable(),
    verdict: z.enum(['pass', 'fail', 'unknown']),
    reason: z.string().nullable(),
  })
  .meta({ id: 'SenderAuthentication' });

export const messageView = z.object({
  id: z.uuid(),
  ticketId: z.uuid(),
  direction: z.enum(DIRECTIONS),
  kind: z.string(),
  public: z.boolean(),
  authorKind: z.string(),
  authorAgentId: z.uuid().nullable(),
  channel: z.enum(CHANNELS),
  providerMessageId: z.string().nullable(),
  subject: z.string().nullable(),
  body: z.string(),
  html: z.string().nullable(),
  language: z.string().nullable(),
  attachments: z.array(attachmentView),
  automated: z.string().nullable(),
  authentication: senderAuthenticationView.nullable().describe('inbound e-mail: SPF, DKIM, DMARC and ARC results and the verdict on its From (issue 19)'),
  deliveryState: z.string().nullable(),
  deliveryAttempts: z.number().int(),
  deliveryError: z.string().nullable(),
  sentAt: z.date().nullable(),
  createdAt: z.date(),
}).meta({ id: 'Message' });
export type MessageView = z.infer<typeof messageView>;

export const messagePage = z.object({ items: z.array(messageView), nextCursor: z.string().nullable() });
export const messageCreated = z.object({ message: messageView, ticket: ticketView });

export const eventView = z.object({
  id: z.number().int(),
  ticketId: z.uuid(),
  type: z.string(),
  actorKind: z.string(),
  actorId: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
  createdAt: z.date(),
});
export const eventPage = z.object({ items: z.array(eventView), nextCursor: z.string().nullable() });

export const pageQuery = z.object({ limit: limitSchema, cursor: z.string().max(500).optional() });

export const mergeTicketBody = z.object({ targetTicketId: z.uuid() });
export const mergeResult = z.object({ source: ticketView, target: ticketView });
