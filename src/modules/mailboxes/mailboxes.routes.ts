import { z } from 'zod';
import type { Guard } from '../../http/auth.js';
import { limitSchema } from '../../http/pagination.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { ADMINS } from '../auth/api-keys.models.js';
import { createMailboxBody, mailboxPage, mailboxView, updateMailboxBody } from './mailboxes.schemas.js';
import type { MailboxService } from './mailboxes.service.js';

const tags = ['mailboxes'];
const idParams = z.object({ id: z.uuid().describe('the mailbox id') });

/** IMAP mailboxes we fetch complaints from (issue 19); admin only: they hold credentials. */
export function registerMailboxRoutes(app: App, deps: { guard: Guard; mailboxes: MailboxService }): void {
  const { guard, mailboxes } = deps;

  app.post('/v1/mailboxes', {
    onRequest: guard(ADMINS),
    schema: {
      tags,
      summary: 'Connect an IMAP mailbox',
      description: 'Password or OAuth2 (XOAUTH2) credentials are encrypted with MAILBOX_SECRET_KEY and never returned; 503 while that setting is unset. A worker process starts fetching within MAILBOX_SCAN_INTERVAL_MS.',
      security: bearerSecurity,
      body: createMailboxBody,
      response: { 201: mailboxView, ...problemResponses(409, 503) },
    },
    handler: async (request, reply) => reply.status(201).send(await mailboxes.create(request.body)),
  });

  app.get('/v1/mailboxes', {
    onRequest: guard(ADMINS),
    schema: {
      tags,
      summary: 'List mailboxes with their fetch status',
      security: bearerSecurity,
      querystring: z.object({ limit: limitSchema, cursor: z.string().max(500).optional() }),
      response: { 200: mailboxPage, ...problemResponses() },
    },
    handler: async (request) => mailboxes.list(request.query),
  });

  app.get('/v1/mailboxes/:id', {
    onRequest: guard(ADMINS),
    schema: {
      tags,
      summary: 'Read a mailbox and its fetch status',
      description: 'status: whether a fetcher is connected, when the folder was last read to the end, the last error and the next attempt (backoff), the backlog, and the progress (UIDVALIDITY, last UID).',
      security: bearerSecurity,
      params: idParams,
      response: { 200: mailboxView, ...problemResponses(404) },
    },
    handler: async (request) => mailboxes.get(request.params.id),
  });

  app.patch('/v1/mailboxes/:id', {
    onRequest: guard(ADMINS),
    schema: {
      tags,
      summary: 'Change a mailbox',
      description:
        'The fetcher reconnects with the new settings; another host, user or folder starts the progress over (messages already taken in are not taken again). A change of host, port or tls needs `auth` in the same request (422 otherwise): stored credentials never follow the mailbox to another server.',
      security: bearerSecurity,
      params: idParams,
      body: updateMailboxBody,
      response: { 200: mailboxView, ...problemResponses(404, 409, 422, 503) },
    },
    handler: async (request) => mailboxes.update(request.params.id, request.body),
  });

  app.delete('/v1/mailboxes/:id', {
    onRequest: guard(ADMINS),
    schema: {
      tags,
      summary: 'Disconnect a mailbox (its tickets stay)',
      security: bearerSecurity,
      params: idParams,
      response: { 204: z.null(), ...problemResponses(404) },
    },
    handler: async (request, reply) => {
      await mailboxes.delete(request.params.id);
      return reply.status(204).send(null);
    },
  });
}
