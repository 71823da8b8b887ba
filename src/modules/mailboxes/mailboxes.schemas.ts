import { z } from 'zod';
import { PRIORITIES } from '../../domain/ticket-lifecycle.js';

export const MAILBOX_TLS = ['implicit', 'starttls', 'none'] as const;
export const AFTER_INGEST = ['seen', 'move'] as const;

const folderName = z.string().trim().min(1).max(500).refine((v) => !/[\r\n\0]/.test(v), 'no line breaks or NUL');

export const mailboxAuthBody = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('password'),
    password: z.string().min(1).max(1_000).describe('stored encrypted (MAILBOX_SECRET_KEY), never returned'),
  }),
  z.object({
    kind: z.literal('oauth2').describe('XOAUTH2: an access token obtained from the refresh token at tokenUrl (Microsoft 365, Google Workspace)'),
    tokenUrl: z.url().max(2_000).describe('the OAuth2 token endpoint (https)'),
    clientId: z.string().min(1).max(500),
    clientSecret: z.string().min(1).max(2_000).optional().describe('stored encrypted, never returned'),
    refreshToken: z.string().min(1).max(8_000).describe('stored encrypted, never returned; replaced when the token endpoint rotates it'),
    scope: z.string().max(2_000).optional(),
  }),
]);

export const createMailboxBody = z.object({
  name: z.string().trim().min(1).max(200),
  host: z.string().trim().min(1).max(255).regex(/^[A-Za-z0-9.\-:[\]]+$/, 'a host name or IP address'),
  port: z.number().int().min(1).max(65535).optional().describe('default 993 (implicit TLS) or 143 (starttls, none)'),
  tls: z.enum(MAILBOX_TLS).default('implicit').describe('implicit: TLS from the first byte; starttls: upgrade before login (required); none: plain, loopback hosts only'),
  username: z.string().min(1).max(500),
  auth: mailboxAuthBody,
  folder: folderName.default('INBOX'),
  afterIngest: z.enum(AFTER_INGEST).default('seen').describe('seen: flag \\Seen once ingested; move: move to moveTo'),
  moveTo: folderName.nullable().optional(),
  teamId: z.uuid().nullable().optional().describe('team of the tickets this mailbox opens'),
  defaultPriority: z.enum(PRIORITIES).default('normal'),
  active: z.boolean().default(true),
});
export type CreateMailboxInput = z.infer<typeof createMailboxBody>;

export const updateMailboxBody = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  host: createMailboxBody.shape.host.optional(),
  port: z.number().int().min(1).max(65535).optional(),
  tls: z.enum(MAILBOX_TLS).optional(),
  username: z.string().min(1).max(500).optional(),
  auth: mailboxAuthBody.optional().describe('replaces the stored credentials'),
  folder: folderName.optional(),
  afterIngest: z.enum(AFTER_INGEST).optional(),
  moveTo: folderName.nullable().optional(),
  teamId: z.uuid().nullable().optional(),
  defaultPriority: z.enum(PRIORITIES).optional(),
  active: z.boolean().optional(),
});
export type UpdateMailboxInput = z.infer<typeof updateMailboxBody>;

export const mailboxView = z
  .object({
    id: z.uuid(),
    name: z.string(),
    host: z.string(),
    port: z.number().int(),
    tls: z.enum(MAILBOX_TLS),
    username: z.string(),
    auth: z.object({
      kind: z.enum(['password', 'oauth2']),
      tokenUrl: z.string().nullable(),
      clientId: z.string().nullable(),
      scope: z.string().nullable(),
    }),
    folder: z.string(),
    afterIngest: z.enum(AFTER_INGEST),
    moveTo: z.string().nullable(),
    teamId: z.uuid().nullable(),
    defaultPriority: z.enum(PRIORITIES),
    active: z.boolean(),
    status: z.object({
      connected: z.boolean().describe('a fetcher holds a live IMAP session'),
      fetcher: z.string().nullable().describe('the worker process holding the mailbox (lease), if any'),
      leaseExpiresAt: z.date().nullable(),
      lastFetchedAt: z.date().nullable().describe('the last time the folder was read to the end'),
      lastError: z.string().nullable(),
      lastErrorAt: z.date().nullable(),
      consecutiveFailures: z.number().int(),
      nextAttemptAt: z.date().nullable().describe('when the next connection attempt is due after a failure (backoff)'),
      backlog: z.number().int().describe('messages in the folder not ingested yet, as of the last look'),
      ingested: z.number().int(),
      deadLettered: z.number().int(),
      uidValidity: z.string().nullable(),
      lastUid: z.number().int(),
    }),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .meta({ id: 'Mailbox' });
export type MailboxView = z.infer<typeof mailboxView>;

export const mailboxPage = z.object({ items: z.array(mailboxView), nextCursor: z.string().nullable() });
