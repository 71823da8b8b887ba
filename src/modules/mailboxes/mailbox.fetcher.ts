import dns from 'node:dns';
import { ImapFlow, type FetchMessageObject } from 'imapflow';
import ipaddr from 'ipaddr.js';
import { and, eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import { InvalidPayloadError } from '../../channels/channel.errors.js';
import { parseEmail } from '../../channels/email/email.parser.js';
import type { Database } from '../../db/client.js';
import { reconnectDelay } from '../../domain/mail/backoff.js';
import type { Clock } from '../../shared/clock.js';
import { forbiddenAddressReason, OutboundUrlError, type OutboundPolicy } from '../../shared/outbound-url.js';
import type { IntakeService } from '../intake/intake.service.js';
import { acquireLease, advanceProgress, LeaseLostError, recordFailure, releaseLease, renewLease, resetProgress, writeStatus } from './mailbox.lease.js';
import { refreshAccessToken, type AccessToken } from './mailbox.oauth.js';
import { isLegacySeal, mailboxKey, openSecret, sealSecret } from './mailbox.secrets.js';
import { mailboxes, type MailboxRow } from './mailboxes.table.js';

export interface FetcherSettings {
  pollIntervalMs: number;
  leaseSec: number;
  retryMinMs: number;
  retryMaxMs: number;
  bodyLimitBytes: number;
  secretKey: string;
  /** OUTBOUND_ALLOW_PRIVATE: the IMAP host and token endpoint may be private/loopback (local test servers only). */
  allowPrivate: boolean;
  /** OUTBOUND_ALLOW_HTTP: the token endpoint may be plain http. */
  allowHttp: boolean;
}

export interface FetcherDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  intake: IntakeService;
  settings: FetcherSettings;
  /** This process's name in the lease (host, pid, a random part). */
  owner: string;
}

/** Messages fetched (with their bytes) per round trip: a bound on memory, ~ this many bytes. */
const BATCH_BYTES = 8 * 1024 * 1024;
const BATCH_MAX = 100;

/**
 * The fetch loop of one mailbox in one worker process. It runs only while this process holds the
 * mailbox's lease; it connects, reads every message above the stored progress, takes each one in
 * through intake (the progress commits with it), flags or moves it on the server, then waits in
 * IDLE (or polls) for more. Any failure ends the session: the status says why, and the next
 * attempt waits out an exponential backoff with jitter; nothing is thrown at the caller.
 */
export class MailboxFetcher {
  private stopped = false;
  private client: ImapFlow | null = null;
  private wake: (() => void) | null = null;
  private token: AccessToken | null = null;
  private loop: Promise<void> | null = null;
  private failures = 0;

  constructor(
    readonly mailboxId: string,
    /** The row's updated_at when started: a change of settings restarts the fetcher. */
    readonly version: number,
    private readonly deps: FetcherDeps,
  ) {}

  start(): void {
    this.loop ??= this.run().catch((error) => this.deps.logger.error({ err: error, mailboxId: this.mailboxId }, 'mailbox fetcher stopped unexpectedly'));
  }

  /** Ends the session (logs out), releases the lease; waits for the loop to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.client?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { db, settings, owner } = this.deps;
    while (!this.stopped) {
      const [row] = await db
        .select()
        .from(mailboxes)
        .where(eq(mailboxes.id, this.mailboxId))
        .catch(() => [] as MailboxRow[]);
      if (!row || !row.active) {
        if (!row) return;
        await this.pause(settings.pollIntervalMs);
        continue;
      }
      const due = row.nextAttemptAt ? row.nextAttemptAt.getTime() - Date.now() : 0;
      if (due > 0) {
        await this.pause(Math.min(due, settings.pollIntervalMs));
        continue;
      }
      const leased = await acquireLease(db, this.mailboxId, owner, settings.leaseSec).catch(() => null);
      if (!leased) {
        // Another process fetches it (or Postgres is away): look again within a lease period.
        await this.pause((settings.leaseSec * 1000) / 2);
        continue;
      }
      try {
        await this.session(leased);
      } catch (error) {
        if (this.stopped) break;
        await this.failed(error);
      }
    }
    await releaseLease(db, this.mailboxId, owner).catch(() => undefined);
  }

  /**
   * The failure count lives in the row, not in this process: a mailbox another worker takes over
   * keeps its backoff, and the status shows every attempt whoever made it.
   */
  private async failed(error: unknown): Promise<void> {
    const { settings, logger, db } = this.deps;
    const message = describe(error);
    const failures = await recordFailure(db, this.mailboxId, message, this.deps.clock.now()).catch(() => null);
    this.failures = failures ?? this.failures + 1;
    const delay = reconnectDelay(this.failures, settings.retryMinMs, settings.retryMaxMs);
    logger.warn({ mailboxId: this.mailboxId, failures: this.failures, retryInMs: delay, error: message }, 'mailbox fetch failed; retrying with backoff');
    await writeStatus(db, this.mailboxId, { nextAttemptAt: new Date(Date.now() + delay) }).catch(() => undefined);
    await this.pause(delay);
  }

  /** Waits up to ms, or until stop() or new mail wakes it. */
  private pause(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      this.wake = done;
    });
  }

  private async credentials(row: MailboxRow): Promise<{ user: string; pass?: string; accessToken?: string }> {
    const key = mailboxKey(this.deps.settings.secretKey);
    const secret = openSecret(key, row.id, row.host, row.secret);
    if (isLegacySeal(row.secret)) {
      // Sealed before the host was bound into it: sealed again so it opens for this host only.
      // Only where the secret is still the one read (a concurrent PATCH wins).
      await this.deps.db
        .update(mailboxes)
        .set({ secret: sealSecret(key, row.id, row.host, secret) })
        .where(and(eq(mailboxes.id, row.id), eq(mailboxes.secret, row.secret), eq(mailboxes.host, row.host)));
    }
    if (secret.kind === 'password') return { user: row.username, pass: secret.password };
    if (!this.token || this.token.expiresAt - 60_000 < Date.now()) {
      const policy = { allowPrivate: this.deps.settings.allowPrivate, allowHttp: this.deps.settings.allowHttp };
      this.token = await refreshAccessToken({ tokenUrl: row.oauthTokenUrl!, clientId: row.oauthClientId!, clientSecret: secret.clientSecret, refreshToken: secret.refreshToken, scope: row.oauthScope }, policy);
      if (this.token.refreshToken) {
        // A rotated refresh token replaces the stored one (the old one may be revoked soon).
        await this.deps.db
          .update(mailboxes)
          .set({ secret: sealSecret(key, row.id, row.host, { ...secret, refreshToken: this.token.refreshToken }) })
          .where(and(eq(mailboxes.id, row.id), eq(mailboxes.host, row.host)));
      }
    }
    return { user: row.username, accessToken: this.token.accessToken };
  }

  private async session(row: MailboxRow): Promise<void> {
    const { db, settings, owner, logger } = this.deps;
    const auth = await this.credentials(row);
    const address = await connectAddress(row.host, { allowPrivate: settings.allowPrivate, allowHttp: settings.allowHttp });
    const client = new ImapFlow({
      // The checked address itself, so a second DNS answer (rebinding) cannot swap in another;
      // the name still goes into SNI and the certificate check.
      host: address,
      ...(ipaddr.isValid(row.host) ? {} : { servername: row.host }),
      port: row.port,
      secure: row.tls === 'implicit',
      doSTARTTLS: row.tls === 'starttls' ? true : row.tls === 'none' ? false : undefined,
      auth,
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: 20_000,
      greetingTimeout: 15_000,
      socketTimeout: Math.max(settings.pollIntervalMs * 2, 60_000),
      maxIdleTime: settings.pollIntervalMs,
    });
    this.client = client;
    // imapflow reports a dropped socket as an 'error' event: without a listener it would crash the process.
    client.on('error', (error: Error) => logger.debug({ mailboxId: row.id, err: error.message }, 'imap connection error'));
    let lost = false;
    const renew = setInterval(() => {
      renewLease(db, row.id, owner, settings.leaseSec)
        .then((held) => {
          if (!held) {
            lost = true;
            client.close();
          }
        })
        .catch(() => undefined);
    }, (settings.leaseSec * 1000) / 3);
    renew.unref?.();
    try {
      await client.connect();
      if (this.stopped) return;
      if (row.afterIngest === 'move' && row.moveTo) await client.mailboxCreate(row.moveTo).catch(() => undefined);
      const lock = await client.getMailboxLock(row.folder);
      try {
        await writeStatus(db, row.id, { connected: true });
        let uidValidity = BigInt(client.mailbox ? client.mailbox.uidValidity : 0);
        let lastUid = row.lastUid;
        if (row.uidValidity === null || row.uidValidity !== uidValidity) {
          if (row.uidValidity !== null) logger.warn({ mailboxId: row.id, was: row.uidValidity.toString(), now: uidValidity.toString() }, 'UIDVALIDITY changed: reading the folder again (duplicates are recognised)');
          await resetProgress(db, row.id, owner, uidValidity);
          lastUid = 0;
        } else {
          await this.finishAfterIngest(client, row, lastUid);
        }
        while (!this.stopped && !lost) {
          lastUid = await this.drain(client, row, uidValidity, lastUid);
          this.failures = 0;
          await writeStatus(db, row.id, { connected: true, lastFetchedAt: this.deps.clock.now(), lastError: null, consecutiveFailures: 0, nextAttemptAt: null, backlog: 0 });
          await this.waitForMail(client);
          if (!client.usable) throw new Error('connection closed by the server');
          const now = BigInt(client.mailbox ? client.mailbox.uidValidity : 0);
          if (now !== uidValidity) {
            await resetProgress(db, row.id, owner, now);
            uidValidity = now;
            lastUid = 0;
          }
        }
        if (lost) throw new LeaseLostError();
      } finally {
        lock.release();
      }
    } finally {
      clearInterval(renew);
      this.client = null;
      await writeStatus(db, row.id, { connected: false }).catch(() => undefined);
      if (client.usable) await client.logout().catch(() => client.close());
      else client.close();
    }
  }

  /**
   * Mail taken in before a crash but not yet flagged or moved (the server step runs after the
   * commit): done now, so "processed" on the server always catches up with Postgres.
   */
  private async finishAfterIngest(client: ImapFlow, row: MailboxRow, lastUid: number): Promise<void> {
    if (lastUid <= 0) return;
    const range = `1:${lastUid}`;
    if (row.afterIngest === 'move' && row.moveTo) {
      const left = await client.search({ uid: range }, { uid: true });
      const uids = (left || []).filter((u) => u <= lastUid);
      if (uids.length) await client.messageMove(uids, row.moveTo, { uid: true });
    } else {
      const unseen = await client.search({ uid: range, seen: false }, { uid: true });
      const uids = (unseen || []).filter((u) => u <= lastUid);
      if (uids.length) await client.messageFlagsAdd(uids, ['\\Seen'], { uid: true });
    }
  }

  /** Takes in every message above lastUid, in UID order, batch by batch; returns the new lastUid. */
  private async drain(client: ImapFlow, row: MailboxRow, uidValidity: bigint, lastUid: number): Promise<number> {
    const { db } = this.deps;
    for (;;) {
      if (this.stopped) return lastUid;
      // "n:*" always includes the highest UID, even below n: filter.
      const found = await client.search({ uid: `${lastUid + 1}:*` }, { uid: true });
      const pending = (found || []).filter((u) => u > lastUid).sort((a, b) => a - b);
      await writeStatus(db, row.id, { backlog: pending.length });
      if (pending.length === 0) return lastUid;
      const sizes = new Map<number, number>();
      for await (const m of client.fetch(pending.slice(0, 1_000), { uid: true, size: true }, { uid: true })) sizes.set(m.uid, m.size ?? 0);
      let batch: number[] = [];
      let bytes = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        lastUid = await this.takeIn(client, row, uidValidity, batch, lastUid);
        batch = [];
        bytes = 0;
      };
      for (const uid of pending.slice(0, 1_000)) {
        if (this.stopped) return lastUid;
        const size = sizes.get(uid) ?? 0;
        if (batch.length >= BATCH_MAX || (batch.length > 0 && bytes + size > BATCH_BYTES)) await flush();
        batch.push(uid);
        bytes += size;
      }
      await flush();
    }
  }

  /** One batch: fetched in one round trip, taken in one by one, then flagged or moved together. */
  private async takeIn(client: ImapFlow, row: MailboxRow, uidValidity: bigint, uids: number[], lastUid: number): Promise<number> {
    const fetched: FetchMessageObject[] = [];
    for await (const m of client.fetch(uids, { uid: true, source: true }, { uid: true })) fetched.push(m);
    fetched.sort((a, b) => a.uid - b.uid);
    const done: number[] = [];
    for (const message of fetched) {
      if (this.stopped) break;
      await this.ingestOne(row, uidValidity, message.uid, message.source ?? Buffer.alloc(0));
      done.push(message.uid);
      lastUid = Math.max(lastUid, message.uid);
    }
    if (done.length) {
      if (row.afterIngest === 'move' && row.moveTo) await client.messageMove(done, row.moveTo, { uid: true });
      else await client.messageFlagsAdd(done, ['\\Seen'], { uid: true });
    }
    return lastUid;
  }

  /**
   * Through the webhooks' intake path: one transaction with the progress. Mail that can never
   * be taken in (too large, unreadable, refused by the database) is kept as a dead letter and the
   * progress moves past it: one bad message never stalls its mailbox.
   */
  private async ingestOne(row: MailboxRow, uidValidity: bigint, uid: number, source: Buffer): Promise<void> {
    const { intake, settings, owner, db, clock } = this.deps;
    const raw = { channel: 'email', body: source, contentType: 'message/rfc822' };
    const deadLetter = async (reason: string, field: string | null) => {
      await intake.deadLetter(raw, `mailbox ${row.name}, UID ${uid}: ${reason}`, field);
      await db.transaction((tx) => advanceProgress(tx, row.id, owner, uidValidity, uid, 'dead-lettered'));
    };
    if (source.length > settings.bodyLimitBytes) return deadLetter(`message of ${source.length} bytes is over EMAIL_BODY_LIMIT_BYTES (${settings.bodyLimitBytes})`, 'size');
    let parsed;
    try {
      parsed = await parseEmail(source, { receivedAt: clock.now() });
    } catch (error) {
      if (error instanceof InvalidPayloadError) return deadLetter(error.message, error.field);
      return deadLetter(`parser failed: ${describe(error)}`, null);
    }
    try {
      await intake.ingest(raw, { messages: [parsed], skipped: [] }, {
        trustReceived: true,
        ticketDefaults: { teamId: row.teamId, priority: row.defaultPriority },
        withinTransaction: (tx) => advanceProgress(tx, row.id, owner, uidValidity, uid, 'ingested'),
      });
    } catch (error) {
      if (!isDataException(error)) throw error;
      await deadLetter(`refused by the database: ${describe(error)}`, null);
    }
  }

  /** IDLE until the server reports new mail, the poll interval passes, or stop(); polling without IDLE. */
  private async waitForMail(client: ImapFlow): Promise<void> {
    if (this.stopped) return;
    const { pollIntervalMs } = this.deps.settings;
    if (!client.capabilities.has('IDLE')) {
      await this.pause(pollIntervalMs);
      if (client.usable) await client.noop();
      return;
    }
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        client.off('exists', finish);
        client.off('close', finish);
        if (this.wake === finish) this.wake = null;
        resolve();
      };
      const timer = setTimeout(finish, pollIntervalMs);
      timer.unref?.();
      client.on('exists', finish);
      client.on('close', finish);
      this.wake = finish;
      // Resolves when the next command breaks the IDLE; errors surface on that command.
      client.idle().catch(() => finish());
    });
  }
}

/**
 * The address the IMAP connection goes to, resolved and judged by the webhook SSRF guard: every
 * address the name has must be public unless OUTBOUND_ALLOW_PRIVATE (local test servers).
 */
async function connectAddress(host: string, policy: OutboundPolicy): Promise<string> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const addresses = ipaddr.isValid(bare) ? [{ address: bare }] : await dns.promises.lookup(bare, { all: true, verbatim: true });
  if (!policy.allowPrivate) {
    for (const { address } of addresses) {
      const reason = forbiddenAddressReason(address);
      if (reason) throw new OutboundUrlError(`${host} resolves to a private or internal address (${reason}); refused`);
    }
  }
  const first = addresses[0];
  if (!first) throw new OutboundUrlError(`${host} has no address`);
  return first.address;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const extra = error as Error & { responseText?: string; code?: string; authenticationFailed?: boolean };
    if (extra.authenticationFailed) return `authentication failed: ${extra.responseText ?? error.message}`.slice(0, 500);
    const detail = extra.responseText ?? extra.code;
    return (detail ? `${error.message}: ${detail}` : error.message).slice(0, 500);
  }
  return String(error).slice(0, 500);
}

function isDataException(error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /^22[0-9A-Z]{3}$/.test(e.code)) return true;
  }
  return false;
}
