import type { Executor } from '../../db/client.js';
import type { NewEvent, TicketRow } from './tickets.repository.js';

/**
 * How other capabilities (SLA clocks, FCR, delivery) follow what happens to a ticket without
 * the ticket service knowing them. `inTransaction` runs inside the ticket's transaction (so a
 * clock starts or stops atomically with the change); `afterCommit` runs once it is durable
 * (to schedule timers; if it fails, the reconciler catches up).
 */
export interface TicketChange {
  ticket: TicketRow;
  /**
   * The timeline events this change recorded, in order. A hook that records events of its
   * own (a survey offered on solve) appends them here for the hooks registered after it.
   */
  events: NewEvent[];
  now: Date;
}

export interface TicketHook {
  inTransaction?(tx: Executor, change: TicketChange): Promise<void>;
  /**
   * Several changes of one transaction at once (a routing batch, intake's new tickets of a
   * group): a hook that can write them in one statement implements this; without it,
   * inTransaction runs for each change.
   */
  inTransactionBatch?(tx: Executor, changes: readonly TicketChange[]): Promise<void>;
  /**
   * The hook only writes (it reads nothing a later change of the transaction depends on), so a
   * transaction of many changes (intake's group commit) may run it once, at its end, over all of
   * them (inTransactionBatch): see inTransactionNow and inTransactionDeferred.
   */
  deferrable?: boolean;
  afterCommit?(change: TicketChange): Promise<void>;
  /**
   * After commit, every change of a transaction at once (intake's group commit, a routing
   * batch): a hook whose after-commit work collapses (one trigger per queue, one addBulk of
   * timers) implements this instead of afterCommit; without it, afterCommit runs for each
   * change. See TicketHooks.afterCommit.
   */
  afterCommitBatch?(changes: readonly TicketChange[]): Promise<void>;
}

export class TicketHooks {
  readonly #hooks: TicketHook[] = [];

  register(hook: TicketHook): void {
    this.#hooks.push(hook);
  }

  async inTransaction(tx: Executor, change: TicketChange): Promise<void> {
    for (const hook of this.#hooks) await hook.inTransaction?.(tx, change);
  }

  /**
   * The changes of one transaction (distinct tickets), hook by hook: each hook sees every change
   * after the hooks registered before it, as with inTransaction one change at a time.
   */
  async inTransactionBatch(tx: Executor, changes: readonly TicketChange[]): Promise<void> {
    await this.#batch(tx, changes, () => true);
  }

  /**
   * A change of a transaction that holds many (intake's group commit): every hook but the
   * deferrable ones, now. The deferrable ones run once at the end of the transaction over all
   * its changes, in order (inTransactionDeferred): one statement per group instead of per change.
   */
  async inTransactionNow(tx: Executor, change: TicketChange): Promise<void> {
    for (const hook of this.#hooks) if (!hook.deferrable) await hook.inTransaction?.(tx, change);
  }

  /**
   * inTransactionNow over several changes at once (intake's set-based write of a group's new
   * tickets, distinct ones), hook by hook: a hook that batches (the SLA clocks: one insert for
   * every new ticket) runs once for all of them, the others once per change, in order.
   */
  async inTransactionNowBatch(tx: Executor, changes: readonly TicketChange[]): Promise<void> {
    await this.#batch(tx, changes, (hook) => !hook.deferrable);
  }

  /** The deferrable hooks over every change inTransactionNow saw, last in the transaction. */
  async inTransactionDeferred(tx: Executor, changes: readonly TicketChange[]): Promise<void> {
    await this.#batch(tx, changes, (hook) => hook.deferrable === true);
  }

  /** The chosen hooks over the changes, hook by hook, each in one call when it can batch. */
  async #batch(tx: Executor, changes: readonly TicketChange[], chosen: (hook: TicketHook) => boolean): Promise<void> {
    if (changes.length === 0) return;
    for (const hook of this.#hooks) {
      if (!chosen(hook)) continue;
      if (hook.inTransactionBatch) await hook.inTransactionBatch(tx, changes);
      else if (hook.inTransaction) for (const change of changes) await hook.inTransaction(tx, change);
    }
  }

  /**
   * The changes of one committed transaction, hook by hook: a hook that batches runs once for
   * all of them (afterCommitBatch: intake's group commit, a routing batch), the others once per
   * change, in order. A failure is reported and everything else still runs.
   */
  async afterCommit(changes: readonly TicketChange[], onError: (error: unknown) => void): Promise<void> {
    if (changes.length === 0) return;
    const attempt = async (work: () => Promise<void>) => {
      try {
        await work();
      } catch (error) {
        onError(error);
      }
    };
    for (const hook of this.#hooks) {
      if (hook.afterCommitBatch) await attempt(() => hook.afterCommitBatch!(changes));
      else if (hook.afterCommit) for (const change of changes) await attempt(() => hook.afterCommit!(change));
    }
  }
}
