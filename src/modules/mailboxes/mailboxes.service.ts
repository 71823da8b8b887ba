import { randomUUID } from 'node:crypto';
import { asc, eq, gt } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { uniqueOrConflict } from '../../db/unique.js';
import { cursorKeys, decodeCursor, toPage } from '../../http/pagination.js';
import type { Clock } from '../../shared/clock.js';
import { assertOutboundUrl, OutboundUrlError, type OutboundPolicy } from '../../shared/outbound-url.js';
import { AppError, badRequest, notFound, serviceUnavailable } from '../../shared/errors.js';
import type { Priority } from '../../domain/ticket-lifecycle.js';
import { teams } from '../teams/teams.table.js';
import { mailboxKey, sealSecret, type MailboxSecret } from './mailbox.secrets.js';
import { mailboxes, type MailboxRow } from './mailboxes.table.js';
import type { CreateMailboxInput, MailboxView, UpdateMailboxInput } from './mailboxes.schemas.js';

export interface MailboxServiceDeps {
  db: Database;
  clock: Clock;
  secretKey: string | undefined;
  /** OUTBOUND_ALLOW_HTTP: a token endpoint may be plain http (local test servers). */
  allowHttpTokenUrl: boolean;
  /** OUTBOUND_ALLOW_PRIVATE: the IMAP host and token endpoint may be private/loopback (local test servers). */
  allowPrivate: boolean;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i;

export function toMailboxView(row: MailboxRow): MailboxView {
  return {
    id: row.id,
    name: row.name,
    host: row.host,
    port: row.port,
    tls: row.tls as MailboxView['tls'],
    username: row.username,
    auth: { kind: row.authKind as 'password' | 'oauth2', tokenUrl: row.oauthTokenUrl, clientId: row.oauthClientId, scope: row.oauthScope },
    folder: row.folder,
    afterIngest: row.afterIngest as MailboxView['afterIngest'],
    moveTo: row.moveTo,
    teamId: row.teamId,
    defaultPriority: row.defaultPriority as Priority,
    active: row.active,
    status: {
      connected: row.connected,
      fetcher: row.leaseOwner,
      leaseExpiresAt: row.leaseExpiresAt,
      lastFetchedAt: row.lastFetchedAt,
      lastError: row.lastError,
      lastErrorAt: row.lastErrorAt,
      consecutiveFailures: row.consecutiveFailures,
      nextAttemptAt: row.nextAttemptAt,
      backlog: row.backlog,
      ingested: row.ingestedCount,
      deadLettered: row.deadLetteredCount,
      uidValidity: row.uidValidity === null ? null : row.uidValidity.toString(),
      lastUid: row.lastUid,
    },
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** /v1/mailboxes (admin): settings and credentials; the fetchers read the rows (mailbox.fetcher.ts). */
export function createMailboxService(deps: MailboxServiceDeps) {
  const { db, clock } = deps;
  const nameTaken = (name: string | undefined) => `A mailbox named "${name}" exists`;

  function key(): Buffer {
    if (!deps.secretKey) throw serviceUnavailable('mailbox-secret-key-unset', 'Set MAILBOX_SECRET_KEY to store mailbox credentials (they are encrypted with it).');
    return mailboxKey(deps.secretKey);
  }

  const policy: OutboundPolicy = { allowPrivate: deps.allowPrivate, allowHttp: deps.allowHttpTokenUrl };

  /** The webhook SSRF guard (shape and resolved addresses); the fetcher checks again when it connects. */
  async function checkOutbound(field: string, url: string): Promise<void> {
    try {
      await assertOutboundUrl(url, policy);
    } catch (error) {
      if (error instanceof OutboundUrlError) throw badRequest(field, error.message);
      throw error;
    }
  }

  async function checkHost(host: string): Promise<void> {
    // The host judged as a URL's host, so IP spellings are normalised as the webhook guard expects.
    await checkOutbound('body.host', `https://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}/`);
  }

  async function credentials(auth: CreateMailboxInput['auth']): Promise<{ secret: MailboxSecret; columns: Pick<MailboxRow, 'authKind' | 'oauthTokenUrl' | 'oauthClientId' | 'oauthScope'> }> {
    if (auth.kind === 'password') {
      return { secret: { kind: 'password', password: auth.password }, columns: { authKind: 'password', oauthTokenUrl: null, oauthClientId: null, oauthScope: null } };
    }
    await checkOutbound('body.auth.tokenUrl', auth.tokenUrl);
    return {
      secret: { kind: 'oauth2', refreshToken: auth.refreshToken, clientSecret: auth.clientSecret },
      columns: { authKind: 'oauth2', oauthTokenUrl: auth.tokenUrl, oauthClientId: auth.clientId, oauthScope: auth.scope ?? null },
    };
  }

  function checkTransport(host: string, tls: string): void {
    // Plain IMAP sends the password in the clear: only to this machine (a local relay, tests).
    if (tls === 'none' && !LOOPBACK.test(host)) throw badRequest('body.tls', 'none (plain IMAP) is allowed for loopback hosts only; use implicit or starttls');
  }

  function checkAfterIngest(afterIngest: string, moveTo: string | null | undefined, folder: string): void {
    if (afterIngest === 'move' && !moveTo) throw badRequest('body.moveTo', 'is required when afterIngest is move');
    if (afterIngest === 'move' && moveTo === folder) throw badRequest('body.moveTo', 'must differ from folder');
  }

  async function checkTeam(teamId: string | null | undefined): Promise<void> {
    if (!teamId) return;
    const [team] = await db.select({ id: teams.id }).from(teams).where(eq(teams.id, teamId));
    if (!team) throw badRequest('body.teamId', 'no such team');
  }

  async function row(id: string): Promise<MailboxRow> {
    const [found] = await db.select().from(mailboxes).where(eq(mailboxes.id, id));
    if (!found) throw notFound('Mailbox', id);
    return found;
  }

  return {
    async create(input: CreateMailboxInput): Promise<MailboxView> {
      const secretKey = key();
      checkTransport(input.host, input.tls);
      await checkHost(input.host);
      checkAfterIngest(input.afterIngest, input.moveTo, input.folder);
      await checkTeam(input.teamId);
      const { secret, columns } = await credentials(input.auth);
      const id = randomUUID();
      const now = clock.now();
      const [created] = await uniqueOrConflict(
        () =>
          db
            .insert(mailboxes)
            .values({
              id,
              name: input.name,
              host: input.host,
              port: input.port ?? (input.tls === 'implicit' ? 993 : 143),
              tls: input.tls,
              username: input.username,
              secret: sealSecret(secretKey, id, input.host, secret),
              ...columns,
              folder: input.folder,
              afterIngest: input.afterIngest,
              moveTo: input.moveTo ?? null,
              teamId: input.teamId ?? null,
              defaultPriority: input.defaultPriority,
              active: input.active,
              createdAt: now,
              updatedAt: now,
            })
            .returning(),
        nameTaken(input.name),
      );
      return toMailboxView(created!);
    },

    async list(query: { limit: number; cursor?: string | undefined }) {
      const cursor = decodeCursor(query.cursor, cursorKeys.uuid);
      const rows = await db.select().from(mailboxes).where(cursor ? gt(mailboxes.id, cursor.id) : undefined).orderBy(asc(mailboxes.id)).limit(query.limit + 1);
      return toPage(rows, query.limit, (r) => ({ v: r.id, id: r.id }), toMailboxView);
    },

    async get(id: string): Promise<MailboxView> {
      return toMailboxView(await row(id));
    },

    /**
     * A change of where or how to connect, or of the folder, restarts the mailbox's fetcher (it
     * watches updated_at). A different server or folder has other UIDs: progress starts over,
     * and the per-message dedupe keeps what was already taken in from coming back.
     */
    async update(id: string, input: UpdateMailboxInput): Promise<MailboxView> {
      const current = await row(id);
      const host = input.host ?? current.host;
      const tls = input.tls ?? current.tls;
      const folder = input.folder ?? current.folder;
      const serverChanged = host.toLowerCase() !== current.host.toLowerCase() || (input.port !== undefined && input.port !== current.port) || tls !== current.tls;
      // The stored password or refresh token was given for one server: whoever may edit the
      // mailbox must not be able to send it elsewhere (their own IMAP server) without knowing it.
      if (serverChanged && !input.auth) {
        throw new AppError(422, 'credentials-required', 'Credentials required', 'body.auth: give the credentials again when the server changes (host, port or tls)', [
          { field: 'body.auth', message: 'give the credentials again when the server changes' },
        ]);
      }
      checkTransport(host, tls);
      if (input.host !== undefined) await checkHost(host);
      checkAfterIngest(input.afterIngest ?? current.afterIngest, input.moveTo === undefined ? current.moveTo : input.moveTo, folder);
      await checkTeam(input.teamId);
      const auth = input.auth ? await credentials(input.auth) : null;
      // The auth's tokenUrl travels with its refresh token (the schema takes them together), so a
      // new token endpoint always comes with new credentials.
      const sealed = auth ? sealSecret(key(), id, host, auth.secret) : undefined;
      const elsewhere = host !== current.host || folder !== current.folder || (input.username !== undefined && input.username !== current.username);
      const [updated] = await uniqueOrConflict(
        () =>
          db
            .update(mailboxes)
            .set({
              ...(input.name !== undefined ? { name: input.name } : {}),
              host,
              tls,
              folder,
              ...(input.port !== undefined ? { port: input.port } : {}),
              ...(input.username !== undefined ? { username: input.username } : {}),
              ...(auth && sealed ? { secret: sealed, ...auth.columns } : {}),
              ...(input.afterIngest !== undefined ? { afterIngest: input.afterIngest } : {}),
              ...(input.moveTo !== undefined ? { moveTo: input.moveTo } : {}),
              ...(input.teamId !== undefined ? { teamId: input.teamId } : {}),
              ...(input.defaultPriority !== undefined ? { defaultPriority: input.defaultPriority } : {}),
              ...(input.active !== undefined ? { active: input.active } : {}),
              ...(elsewhere ? { uidValidity: null, lastUid: 0 } : {}),
              // New settings deserve a prompt attempt, not the rest of an old backoff.
              consecutiveFailures: 0,
              nextAttemptAt: null,
              updatedAt: clock.now(),
            })
            .where(eq(mailboxes.id, id))
            .returning(),
        nameTaken(input.name),
      );
      if (!updated) throw notFound('Mailbox', id);
      return toMailboxView(updated);
    },

    /** The fetcher notices within MAILBOX_SCAN_INTERVAL_MS and logs out; tickets and messages stay. */
    async delete(id: string): Promise<void> {
      const deleted = await db.delete(mailboxes).where(eq(mailboxes.id, id)).returning({ id: mailboxes.id });
      if (deleted.length === 0) throw notFound('Mailbox', id);
    },
  };
}

export type MailboxService = ReturnType<typeof createMailboxService>;
