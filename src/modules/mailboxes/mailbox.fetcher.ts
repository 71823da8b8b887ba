import dns from 'node:dns';
import type { ImapFlow } from 'imapflow';
import ipaddr from 'ipaddr.js';
import { and, eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import { InvalidPayloadError } from '../../channels/channel.errors.js';
import { parseEmail } from '../../channels/email/email.parser.js';
import type { Database } from '../../db/client.js';
import { reconnectDelay } from '../../domain/mail/backoff.js';
import type { Clock } from '../../shared/clock.js';
import { forbiddenAddressReason, OutboundUrlError, type OutboundPolicy } from '../../shared/outbound-url.js';
import type { Delivery, IntakeService } from '../intake/intake.service.js';
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
  /** Messages per chunk (default CHUNK_MAX); tests make it small to cross chunk boundaries. */
  chunkMessages?: number | undefined;
}

export interface FetcherDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  intake: IntakeService;
  settings: FetcherSettings;
  /** This process's name in the lease (host, pid, a random part). */
  owner: string;
  /** Shared by the process's fetchers; absent: no waiting. */
  turns?: ChunkTurns | undefined;
}

/** A chunk: at most this many messages, fetched with their bytes in one FETCH (~ this many bytes: a bound on memory). */
const CHUNK_MAX = 100;
const CHUNK_BYTES = 8 * 1024 * 1024;
/** UIDs whose sizes one FETCH reads to cut chunks. */
const SIZE_WINDOW = 2_000;
/** Messages of a chunk parsed and authenticated (DNS) at once. */
const PREPARE_CONCURRENCY = 8;
/** Messages sharing one transaction: bounds how long a transaction holds its locks and connection. */
const TRANSACTION_MAX = 50;

/**
 * Turns at committing a chunk, shared by the fetchers of one process (first come, first served):
 * a mailbox with a huge backlog waits behind the chunks of others between its own.
 */
export interface ChunkTurns {
  /** Resolves with the release once it is this caller's turn. */
  take(): Promise<() => void>;
}

const noTurn = Promise.resolve(() => undefined);

/** Turns for at most `slots` chunks at once, handed out in the order they were asked for. */
export function createChunkTurns(slots: number): ChunkTurns {
  let free = slots;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  return {
    take() {
      if (free > 0) {
        free--;
        return Promise.resolve(once(release));
      }
      return new Promise((resolve) => waiting.push(() => resolve(once(release))));
    },
  };
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

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
    // Loaded with the first mailbox session, not with every process that never fetches mail.
    const { ImapFlow } = await import('imapflow');
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

  /**
   * Takes in every message above lastUid, in UID order, chunk by chunk; returns the new lastUid.
   * Each chunk waits for its turn (see ChunkTurns): a folder with a huge backlog takes one chunk,
   * then every other mailbox with mail waiting takes one, so none of them stalls behind it.
   */
  private async drain(client: ImapFlow, row: MailboxRow, uidValidity: bigint, lastUid: number): Promise<number> {
    const { db, settings } = this.deps;
    const chunkMax = settings.chunkMessages ?? CHUNK_MAX;
    for (;;) {
      if (this.stopped) return lastUid;
      // "n:*" always includes the highest UID, even below n: filter.
      const found = await client.search({ uid: `${lastUid + 1}:*` }, { uid: true });
      const pending = (found || []).filter((u) => u > lastUid).sort((a, b) => a - b);
      await writeStatus(db, row.id, { backlog: pending.length });
      if (pending.length === 0) return lastUid;
      // Sizes first (one FETCH for a window of UIDs): a chunk holds at most CHUNK_BYTES of mail.
      const window = pending.slice(0, SIZE_WINDOW);
      const sizes = new Map<number, number>();
      for await (const m of client.fetch(window, { uid: true, size: true }, { uid: true })) sizes.set(m.uid, m.size ?? 0);
      for (let i = 0; i < window.length; ) {
        if (this.stopped) return lastUid;
        const chunk: number[] = [];
        let bytes = 0;
        for (; i < window.length && chunk.length < chunkMax; i++) {
          const size = sizes.get(window[i]!) ?? 0;
          if (chunk.length > 0 && bytes + size > CHUNK_BYTES) break;
          chunk.push(window[i]!);
          bytes += size;
        }
        const release = await (this.deps.turns?.take() ?? noTurn);
        try {
          lastUid = await this.takeChunk(client, row, uidValidity, chunk, lastUid);
        } finally {
          release();
        }
      }
    }
  }

  /**
   * One chunk: its sources in one FETCH; parsed and authenticated (DNS) concurrently outside any
   * transaction; committed through intake's group transaction, many messages to a transaction, with
   * the progress in each transaction (a message that fails is retried alone and kept as a dead
   * letter); then flagged or moved on the server as one UID set. Returns the new lastUid.
   */
  private async takeChunk(client: ImapFlow, row: MailboxRow, uidValidity: bigint, uids: number[], lastUid: number): Promise<number> {
    const { intake, settings, owner, db, clock } = this.deps;
    const timing = { fetch: 0, prepare: 0, commit: 0, server: 0 };
    let mark = performance.now();
    const lap = (phase: keyof typeof timing) => {
      const now = performance.now();
      timing[phase] += now - mark;
      mark = now;
    };
    const sources = new Map<number, Buffer>();
    for await (const m of client.fetch(uids, { uid: true, source: true }, { uid: true })) sources.set(m.uid, m.source ?? Buffer.alloc(0));
    lap('fetch');
    const rawOf = (uid: number) => ({ channel: 'email', body: sources.get(uid)!, contentType: 'message/rfc822' });
    const letter = (uid: number, reason: string) => `mailbox ${row.name}, UID ${uid}: ${reason}`;

    // A UID the server no longer has (expunged since the SEARCH) is settled as nothing.
    const present = uids.filter((u) => sources.has(u));
    type Prepared = { uid: number; delivery: Delivery } | { uid: number; reason: string; field: string | null };
    const prepared = await mapLimit(present, PREPARE_CONCURRENCY, async (uid): Promise<Prepared> => {
      const source = sources.get(uid)!;
      if (source.length > settings.bodyLimitBytes) return { uid, reason: `message of ${source.length} bytes is over EMAIL_BODY_LIMIT_BYTES (${settings.bodyLimitBytes})`, field: 'size' };
      try {
        const parsed = await parseEmail(source, { receivedAt: clock.now() });
        const delivery = await intake.prepare(rawOf(uid), { messages: [parsed], skipped: [] }, { trustReceived: true, ticketDefaults: { teamId: row.teamId, priority: row.defaultPriority } });
        return { uid, delivery };
      } catch (error) {
        if (error instanceof InvalidPayloadError) return { uid, reason: error.message, field: error.field };
        return { uid, reason: `parser failed: ${describe(error)}`, field: null };
      }
    });
    lap('prepare');

    // Progress: the highest UID below which every message of the chunk is settled (committed or
    // kept as a dead letter). Dead letters are written first, in their own transactions, and
    // counted by the progress that passes them; a crash before that writes them again (the same
    // dead letter, one more delivery), never a ticket twice.
    const settled = new Set<number>(uids.filter((u) => !sources.has(u)));
    const dead = new Set<number>();
    let covered = lastUid;
    const advanceTo = (extra: number[]) => {
      const would = new Set([...settled, ...extra]);
      let upTo = covered;
      let deadLettered = 0;
      for (const uid of uids) {
        if (uid <= covered) continue;
        if (!would.has(uid)) break;
        upTo = uid;
        if (dead.has(uid)) deadLettered++;
      }
      return { upTo, deadLettered };
    };
    for (const p of prepared) {
      if ('reason' in p) {
        await intake.deadLetter(rawOf(p.uid), letter(p.uid, p.reason), p.field);
        settled.add(p.uid);
        dead.add(p.uid);
      }
    }
    const runs = prepared.filter((p): p is { uid: number; delivery: Delivery } => 'delivery' in p);
    for (let from = 0; from < runs.length; from += TRANSACTION_MAX) {
      const run = runs.slice(from, from + TRANSACTION_MAX);
      await intake.commitInOrder(
        run.map((r) => r.delivery),
        {
          progress: async (tx, indexes) => {
            const { upTo, deadLettered } = advanceTo(indexes.map((i) => run[i]!.uid));
            await advanceProgress(tx, row.id, owner, uidValidity, upTo, { ingested: indexes.length, deadLettered });
          },
          committed: (indexes) => {
            for (const i of indexes) settled.add(run[i]!.uid);
            covered = advanceTo([]).upTo;
          },
          failed: async (index, error) => {
            // Refused by the database for what it holds: kept as a dead letter, the rest goes on.
            if (!isMessageError(error)) throw error;
            const uid = run[index]!.uid;
            await intake.deadLetter(rawOf(uid), letter(uid, `refused by the database: ${describe(error)}`), null);
            settled.add(uid);
            dead.add(uid);
          },
          fatal: (error) => error instanceof LeaseLostError || !isMessageError(error),
        },
      );
    }
    // Dead letters at the end of the chunk (or a chunk of dead letters only): their own progress.
    const tail = advanceTo([]);
    if (tail.upTo > covered) {
      await db.transaction((tx) => advanceProgress(tx, row.id, owner, uidValidity, tail.upTo, { ingested: 0, deadLettered: tail.deadLettered }));
      covered = tail.upTo;
    }
    lap('commit');

    const done = present.filter((u) => settled.has(u) && u <= covered);
    if (done.length) {
      if (row.afterIngest === 'move' && row.moveTo) await client.messageMove(done, row.moveTo, { uid: true });
      else await client.messageFlagsAdd(done, ['\\Seen'], { uid: true });
    }
    lap('server');
    this.deps.logger.debug({ mailboxId: row.id, messages: uids.length, deadLettered: dead.size, ms: mapValues(timing, Math.round) }, 'mailbox chunk taken in');
    return covered;
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

/**
 * A Postgres error about the message itself: data (class 22, e.g. a value out of range),
 * integrity (23) or a program limit (54, e.g. an index row too large). Retrying cannot help, so
 * the message is kept as a dead letter; anything else (a lost connection, a deadlock) ends the
 * session and is retried.
 */
function isMessageError(error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(e.code)) return true;
  }
  return false;
}

/** fn over items, at most `limit` at once; results in the items' order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function mapValues<K extends string>(record: Record<K, number>, fn: (value: number) => number): Record<K, number> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fn(v as number)])) as Record<K, number>;
}
