import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Database, Executor } from '../../db/client.js';
import { mailboxes, type MailboxRow } from './mailboxes.table.js';

/**
 * One fetcher per mailbox across every worker process: the row's lease. Times are Postgres'
 * (now()), so processes with skewed clocks agree on who holds it.
 */
export async function acquireLease(db: Database, mailboxId: string, owner: string, leaseSec: number): Promise<MailboxRow | null> {
  const [row] = await db
    .update(mailboxes)
    .set({ leaseOwner: owner, leaseExpiresAt: sql`now() + make_interval(secs => ${leaseSec})` })
    .where(
      and(
        eq(mailboxes.id, mailboxId),
        eq(mailboxes.active, true),
        or(isNull(mailboxes.leaseOwner), eq(mailboxes.leaseOwner, owner), lt(mailboxes.leaseExpiresAt, sql`now()`)),
      ),
    )
    .returning();
  return row ?? null;
}

/** False when the lease is no longer ours (expired and taken): the session must end. */
export async function renewLease(db: Database, mailboxId: string, owner: string, leaseSec: number): Promise<boolean> {
  const rows = await db
    .update(mailboxes)
    .set({ leaseExpiresAt: sql`now() + make_interval(secs => ${leaseSec})` })
    .where(and(eq(mailboxes.id, mailboxId), eq(mailboxes.leaseOwner, owner), eq(mailboxes.active, true)))
    .returning({ id: mailboxes.id });
  return rows.length > 0;
}

export async function releaseLease(db: Database, mailboxId: string, owner: string): Promise<void> {
  await db
    .update(mailboxes)
    .set({ leaseOwner: null, leaseExpiresAt: null, connected: false })
    .where(and(eq(mailboxes.id, mailboxId), eq(mailboxes.leaseOwner, owner)));
}

export class LeaseLostError extends Error {
  constructor() {
    super('another worker took over this mailbox (lease lost)');
    this.name = 'LeaseLostError';
  }
}

/**
 * Records messages as taken in, in the transaction that took them in: progress and tickets commit
 * together, so a crash can neither skip a message nor make the next fetcher take it twice. `uid`
 * is the new progress (every message up to it is settled); the counts are the messages this
 * transaction settles. Only the lease holder, on the folder generation (UIDVALIDITY) it read,
 * may move the progress.
 */
export async function advanceProgress(tx: Executor, mailboxId: string, owner: string, uidValidity: bigint, uid: number, settled: { ingested: number; deadLettered: number }): Promise<void> {
  const rows = await tx
    .update(mailboxes)
    .set({
      lastUid: sql`greatest(${mailboxes.lastUid}, ${uid})`,
      ingestedCount: sql`${mailboxes.ingestedCount} + ${settled.ingested}`,
      deadLetteredCount: sql`${mailboxes.deadLetteredCount} + ${settled.deadLettered}`,
      backlog: sql`greatest(${mailboxes.backlog} - ${settled.ingested + settled.deadLettered}, 0)`,
    })
    .where(and(eq(mailboxes.id, mailboxId), eq(mailboxes.leaseOwner, owner), eq(mailboxes.uidValidity, uidValidity)))
    .returning({ id: mailboxes.id });
  if (rows.length === 0) throw new LeaseLostError();
}

/** A new folder generation (first fetch, or the server reset UIDVALIDITY): read from UID 1 again. */
export async function resetProgress(db: Database, mailboxId: string, owner: string, uidValidity: bigint): Promise<void> {
  const rows = await db
    .update(mailboxes)
    .set({ uidValidity, lastUid: 0 })
    .where(and(eq(mailboxes.id, mailboxId), eq(mailboxes.leaseOwner, owner)))
    .returning({ id: mailboxes.id });
  if (rows.length === 0) throw new LeaseLostError();
}

export type MailboxStatusPatch = Partial<
  Pick<MailboxRow, 'connected' | 'lastFetchedAt' | 'lastError' | 'lastErrorAt' | 'consecutiveFailures' | 'nextAttemptAt' | 'backlog'>
>;

export async function writeStatus(db: Database, mailboxId: string, patch: MailboxStatusPatch): Promise<void> {
  await db.update(mailboxes).set(patch).where(eq(mailboxes.id, mailboxId));
}

/** One more failed attempt: the count (for the backoff) and the error, in one statement. */
export async function recordFailure(db: Database, mailboxId: string, error: string, at: Date): Promise<number | null> {
  const [row] = await db
    .update(mailboxes)
    .set({ connected: false, lastError: error, lastErrorAt: at, consecutiveFailures: sql`${mailboxes.consecutiveFailures} + 1` })
    .where(eq(mailboxes.id, mailboxId))
    .returning({ failures: mailboxes.consecutiveFailures });
  return row?.failures ?? null;
}
