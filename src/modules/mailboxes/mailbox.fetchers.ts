import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../../db/client.js';
import type { Clock } from '../../shared/clock.js';
import type { IntakeService } from '../intake/intake.service.js';
import { createChunkTurns, MailboxFetcher, type FetcherSettings } from './mailbox.fetcher.js';
import { mailboxes } from './mailboxes.table.js';

const CHUNKS_AT_ONCE = 2;

export interface MailboxFetchersDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  intake: IntakeService;
  settings: FetcherSettings & { scanIntervalMs: number };
  /** Tests: a name of their own for this "process". */
  owner?: string | undefined;
}

export interface RunningFetchers {
  owner: string;
  /** Looks for added, changed and deleted mailboxes now (the scan timer does it every scanIntervalMs). */
  scan(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Runs in every worker process: one MailboxFetcher per active mailbox, each of which fetches only
 * while this process holds that mailbox's lease (so across processes there is one fetcher per
 * mailbox, and another takes over within MAILBOX_LEASE_SEC when a process dies). A change of a
 * mailbox's settings (updated_at) restarts its fetcher; a deleted or deactivated one is stopped.
 */
export function startMailboxFetchers(deps: MailboxFetchersDeps): RunningFetchers {
  const owner = deps.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const running = new Map<string, MailboxFetcher>();
  // Two chunks commit at once in this process, whatever the number of mailboxes: a backlog
  // cannot take every pool connection, and mailboxes with mail take turns chunk by chunk.
  const turns = createChunkTurns(CHUNKS_AT_ONCE);
  let closed = false;
  let scanning: Promise<void> | null = null;

  async function scanOnce(): Promise<void> {
    const rows = await deps.db.select({ id: mailboxes.id, updatedAt: mailboxes.updatedAt }).from(mailboxes).where(eq(mailboxes.active, true));
    const wanted = new Map(rows.map((r) => [r.id, r.updatedAt.getTime()]));
    const stopping: Promise<void>[] = [];
    for (const [id, fetcher] of running) {
      if (wanted.get(id) !== fetcher.version) {
        running.delete(id);
        stopping.push(fetcher.stop());
      }
    }
    await Promise.all(stopping);
    if (closed) return;
    for (const [id, version] of wanted) {
      if (running.has(id)) continue;
      const fetcher = new MailboxFetcher(id, version, { db: deps.db, clock: deps.clock, logger: deps.logger, intake: deps.intake, settings: deps.settings, owner, turns });
      running.set(id, fetcher);
      fetcher.start();
    }
  }

  const scan = (): Promise<void> => {
    scanning ??= scanOnce()
      .catch((error) => deps.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'mailbox scan failed; retrying at the next interval'))
      .finally(() => (scanning = null));
    return scanning;
  };

  void scan();
  const timer = setInterval(() => void scan(), deps.settings.scanIntervalMs);
  timer.unref?.();
  deps.logger.info({ owner }, 'mailbox fetchers started');

  return {
    owner,
    scan,
    async close() {
      closed = true;
      clearInterval(timer);
      await scanning;
      await Promise.all([...running.values()].map((f) => f.stop()));
      running.clear();
    },
  };
}
